using Scxlab.Kernel;
using Scxlab.Scenarios;
using Scxlab.Stepping;
using Scxlab.Tests.BpfObject;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// World.RestoreFrom copies back only what changed: what the child's own steps wrote since it was copied from the
/// parent, and what the parent changed since (its history of versions). Two ways to the same world: a stack of worlds
/// walked as a depth-first search walks it — back to a random depth, the parent re-stepped, a child restored from it
/// and stepped — and after every restore the child must equal the parent, state and fingerprint, as a whole copy
/// would make it. Both sizes of world: a C# policy's (a few KB, copied whole when the parent changed) and a BPF
/// object's with 64 arena pages (over a thousand chunks: restored by history, chunk hashes copied selectively).
/// </summary>
public class WorldRestoreTests
{
    private static void AssertRestoresMatch(ModelConfig config, int iterations = 600, int seed = 11)
    {
        var m = new Machine(config);
        var worlds = new List<World> { m.World.Clone() };
        var rng = new Random(seed);
        var depth = 0;
        for (var i = 0; i < iterations; i++)
        {
            // Back to a random depth at or above the current one; then one level down from there.
            var d = rng.Next(depth + 1);
            var parent = worlds[d];
            if (worlds.Count <= d + 1) worlds.Add(parent.Clone());
            var child = worlds[d + 1];
            child.RestoreFrom(parent);
            Assert.True(child.SameStateAs(parent), $"{config.PolicyName}: iteration {i}, depth {d}: the restore left the child different from its parent");
            Assert.Equal(parent.Fingerprint(), child.Fingerprint());
            Assert.Equal(Full(child), child.Fingerprint());
            m.World = child;
            var enabled = Enumerable.Range(0, m.ActorCount).Where(m.IsEnabled).ToList();
            if (enabled.Count == 0 || child.Sched.ExitKind != ExitKind.None)
            {
                depth = d;
                continue;
            }
            m.Step(enabled[rng.Next(enabled.Count)]);
            depth = d + 1;
            // Now and then a sibling's step on the parent itself: the parent changes under its children.
            if (d > 0 && rng.Next(4) == 0)
            {
                worlds[d].RestoreFrom(worlds[d - 1]);
                m.World = worlds[d];
                var en = Enumerable.Range(0, m.ActorCount).Where(m.IsEnabled).ToList();
                if (en.Count > 0 && worlds[d].Sched.ExitKind == ExitKind.None) m.Step(en[rng.Next(en.Count)]);
                depth = d;
            }
        }

        static ulong Full(World w)
        {
            var copy = w.Clone();
            copy.InvalidateFingerprint();
            return copy.Fingerprint();
        }
    }

    [Theory]
    [InlineData("central-remote", "central")]
    [InlineData("seed-race-r2", "local-on-pop")]
    [InlineData("qseq-aba-3cpu", "dequeue-sync")]
    public void Should_MatchTheParent_When_ASmallWorldIsRestoredAlongADepthFirstWalk(string scenario, string policy) =>
        AssertRestoresMatch(ScenarioLoader.Resolve(scenario).ToConfig(policy));

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    public void Should_MatchTheParent_When_ALargeBpfWorldIsRestoredAlongADepthFirstWalk(int seed)
    {
        // central-remote with local_on_pop_arena and 64 arena page slots: 64 × 513 words, over 1 024 chunks.
        var text = File.ReadAllText(Path.Combine(BpfExamples.Root(), "scenarios", "central-remote.yaml"))
            .Replace("policy: central", "policy: local-on-pop")
            + "bounds: { arena_pages: 64 }\n";
        var s = ScenarioLoader.Parse(text, "central-remote-arena64.yaml");
        var config = s.ToConfig(BpfExamples.Object("local_on_pop_arena"));
        Assert.True(new Machine(config).World.Shape.Count > 1024);
        AssertRestoresMatch(config, iterations: 400, seed: seed);
    }
}
