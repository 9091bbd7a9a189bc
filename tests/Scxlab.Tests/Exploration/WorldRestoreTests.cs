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
    private static void AssertRestoresMatch(ModelConfig config, int iterations = 600, int seed = 11, int maxRun = 1, int maxSiblings = 1)
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
            // Several steps on one world before its next restore (a walk, the simulator): a callback that ends shortens
            // its actor's log, and the next one writes over the words it left.
            for (var k = rng.Next(maxRun); k > 0 && StepAny(m, child, rng); k--) { }
            depth = d + 1;
            // Now and then a sibling's step on the parent itself: the parent changes under its children — several
            // siblings in a row, each restoring the parent from the grandparent first (those that revisit a state).
            if (d > 0 && rng.Next(4) == 0)
            {
                for (var k = 1 + rng.Next(maxSiblings); k > 0; k--)
                {
                    worlds[d].RestoreFrom(worlds[d - 1]);
                    StepAny(m, worlds[d], rng);
                }
                depth = d;
            }
        }

        static bool StepAny(Machine m, World w, Random rng)
        {
            m.World = w;
            var en = Enumerable.Range(0, m.ActorCount).Where(m.IsEnabled).ToList();
            if (en.Count == 0 || w.Sched.ExitKind != ExitKind.None) return false;
            m.Step(en[rng.Next(en.Count)]);
            return true;
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

    /// <summary>
    /// Machines of more than 64 actors, whose actor masks give a bit to every actor index mod 64 (World.ActorBit):
    /// churn-64cpu's world is small (copied whole when the parent changed), churn-256cpu's large (restored by history),
    /// and in both the tasksets are actors past the 64th.
    /// </summary>
    [Theory]
    [InlineData("churn-64cpu", 31)]
    [InlineData("churn-256cpu", 32)]
    public void Should_MatchTheParent_When_AWorldOfMoreThan64ActorsIsRestoredAlongADepthFirstWalk(string scenario, int seed)
    {
        var config = ScenarioLoader.Resolve(scenario).ToConfig();
        Assert.True(new Machine(config).ActorCount > 64);
        AssertRestoresMatch(config, iterations: 400, seed: seed, maxRun: 3, maxSiblings: 2);
    }

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

    [Fact]
    public void Should_RestoreAndHashTheLog_When_ItWasShortenedAndWrittenOverSinceTheCopy()
    {
        // A log is appended to at LogLen and shortened only through SetLogLen; a restore copies an actor's log from the
        // lowest length it reached since the copy, and the fingerprint extends a cached hash of it unless it was
        // shortened below the cache. Shortened, then written over with other calls, then restored: both must see it.
        var m = new Machine(ScenarioLoader.Resolve("central-remote").ToConfig("central"));
        var parent = m.World.Clone();
        Append(parent, 11, 12, 13);
        parent.InvalidateFingerprint(); // written outside a step
        var child = parent.Clone();
        Assert.Equal(parent.Fingerprint(), child.Fingerprint()); // caches the hash of three calls
        child.SetLogLen(0, 2);
        Append(child, 21, 22); // four words again, the last two calls different
        child.NoteStep(0, 0);
        Assert.Equal(Scratch(child), child.Fingerprint());
        Assert.NotEqual(parent.Fingerprint(), child.Fingerprint());
        child.RestoreFrom(parent);
        Assert.True(child.SameStateAs(parent), "the restore did not copy the calls written over");
        Assert.Equal(parent.Fingerprint(), child.Fingerprint());

        static void Append(World w, params long[] results)
        {
            foreach (var r in results)
            {
                var at = w.Actors[0].LogLen;
                w.Logs[at] = 1;
                w.Logs[at + 1] = r;
                w.Actors[0].LogLen = at + 2;
            }
        }

        static ulong Scratch(World w)
        {
            var copy = w.Clone();
            copy.InvalidateFingerprint();
            return copy.Fingerprint();
        }
    }

    [Theory]
    [InlineData("central-remote", 21)]
    [InlineData("running-narrow-renice", 22)]
    [InlineData("examples/selftests/wakeup.yaml", 23)]
    public void Should_MatchTheParent_When_ALargeWorldsLogsAreShortenedAndItsParentRestoredManyTimes(string scenario, int seed)
    {
        // long_log (callbacks of 40-odd calls) with an unused 512 KiB array: a large world whose actors' logs grow,
        // end and start again between restores, and whose parents go through runs of sibling restores (the history's
        // copy markers, World.ChangedSince).
        var source = File.ReadAllText(Path.Combine(BpfExamples.Root(), "tests", "Scxlab.Tests", "BpfObject", "programs", "long_log.bpf.c"));
        var large = BpfExamples.Compile("long_log_large-v3", source + "\nu64 unused_pad[65536];\n");
        var s = ScenarioLoader.Resolve(scenario.Contains('/') ? Path.Combine(BpfExamples.Root(), scenario) : scenario);
        var config = s.ToConfig(large);
        Assert.True(new Machine(config).World.RestoresByHistory);
        AssertRestoresMatch(config, iterations: 500, seed: seed, maxRun: 16, maxSiblings: 6);
    }
}
