using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Scenarios;
using Scxlab.Stepping;
using Scxlab.Tests.BpfObject;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// World.Fingerprint rehashes only the chunks a step's write footprint names. Two ways to the same value: the
/// incremental fingerprint after every step of random walks, against the fingerprint of a copy whose chunks are all
/// hashed again. A write missing from a footprint (which would merge two different states) makes them differ.
/// </summary>
public class FingerprintTests
{
    /// <summary>Random walks of <paramref name="config"/>; after every step the incremental and the full fingerprint must agree.</summary>
    private static void AssertIncrementalEqualsFull(ModelConfig config, int walks = 4, int maxSteps = 400)
    {
        var m = new Machine(config);
        var initial = m.World.Clone();
        var full = m.World.Clone();
        var rng = new Random(7);
        for (var walk = 0; walk < walks; walk++)
        {
            m.World.CopyFrom(initial);
            Assert.Equal(Full(m.World), m.World.Fingerprint());
            for (var step = 0; step < maxSteps; step++)
            {
                var enabled = Enumerable.Range(0, m.ActorCount).Where(m.IsEnabled).ToList();
                if (enabled.Count == 0) break;
                var a = enabled[rng.Next(enabled.Count)];
                m.Step(a);
                var incremental = m.World.Fingerprint();
                Assert.True(Full(m.World) == incremental,
                    $"{config.PolicyName}: walk {walk}, step {step} by {m.Actor(a).Name}: the incremental fingerprint missed a change");
                if (m.World.Sched.ExitKind != ExitKind.None) break;
            }
        }

        ulong Full(World w)
        {
            full.CopyFrom(w);
            full.InvalidateFingerprint();
            return full.Fingerprint();
        }
    }

    public static TheoryData<string> BuiltIns()
    {
        var d = new TheoryData<string>();
        foreach (var n in ScenarioLoader.BuiltInNames()) d.Add(n);
        return d;
    }

    [Theory]
    [MemberData(nameof(BuiltIns))]
    public void Should_EqualTheFullFingerprint_When_ABuiltInScenarioIsWalked(string scenario)
    {
        var s = ScenarioLoader.Resolve(scenario);
        AssertIncrementalEqualsFull(s.ToConfig(), walks: 3, maxSteps: 300);
    }

    [Theory]
    [InlineData("local-on-pop")]
    [InlineData("local-on-peek")]
    [InlineData("dequeue-sync")]
    [InlineData("insert-recheck-cancel")]
    [InlineData("central")]
    [InlineData("qmap")]
    [InlineData("simple")]
    [InlineData("userspace")]
    public void Should_EqualTheFullFingerprint_When_EveryPolicyIsWalkedUnderEveryProtocol(string policy)
    {
        var s = ScenarioLoader.Resolve("central-remote");
        foreach (var (_, protocol, _) in ProtocolNames.All)
            AssertIncrementalEqualsFull(s.ToConfig(policy, protocol));
    }

    /// <summary>
    /// BPF objects: their globals, map values, spin locks and timers are map words. timer_count's timer sits at byte 8
    /// of its map value, where the timer's expiry used to be given the footprint of no map (MapIdAt named only a map
    /// starting at the word): this walk failed before that was fixed.
    /// </summary>
    [Theory]
    [InlineData("timer_count@mode=2,exit_at=2", "seed-race-r1")]
    [InlineData("local_on_peek", "central-remote")]
    [InlineData("dequeue_sync", "qseq-aba-3cpu")]
    [InlineData("central", "central-remote")]
    [InlineData("simple", "seed-race-r2")]
    public void Should_EqualTheFullFingerprint_When_ABpfObjectIsWalked(string policy, string scenario)
    {
        var at = policy.IndexOf('@');
        var name = at < 0 ? policy : policy[..at];
        var obj = name == "timer_count" ? BpfExamples.CompileProgram("timer_count.bpf.c", "v3") : BpfExamples.Object(name);
        var text = ScenarioLoader.BuiltInText(scenario)! + "\nbounds: { timer_fires: 2 }\n";
        var s = ScenarioLoader.Parse(text, "test");
        AssertIncrementalEqualsFull(s.ToConfig(obj + (at < 0 ? "" : policy[at..])), walks: 6);
    }

    /// <summary>
    /// A machine of more than 64 actors (churn-64cpu: 64 CPUs, then its eight tasksets) keeps its fingerprint incremental
    /// when an actor past the 64th steps: that step used to drop every chunk hash, so each fuzz step at 64–256 CPUs hashed
    /// the whole world again. Random walks check the value against a full hash as above.
    /// </summary>
    [Fact]
    public void Should_StayIncremental_When_AnActorPastTheSixtyFourthSteps()
    {
        var s = ScenarioLoader.Resolve("churn-64cpu");
        var m = new Machine(s.ToConfig());
        Assert.True(m.ActorCount > 64);
        m.World.Fingerprint();
        var before = m.World.FullHashes;
        var rng = new Random(3);
        var late = 0;
        for (var step = 0; step < 300; step++)
        {
            var enabled = Enumerable.Range(0, m.ActorCount).Where(m.IsEnabled).ToList();
            if (enabled.Count == 0) break;
            // Every other step by an actor past the 64th when one is enabled.
            var past = enabled.Where(a => a >= 64).ToList();
            var a = step % 2 == 0 && past.Count > 0 ? past[rng.Next(past.Count)] : enabled[rng.Next(enabled.Count)];
            if (a >= 64) late++;
            m.Step(a);
            m.World.Fingerprint();
        }
        Assert.True(late > 10, $"only {late} steps by actors past the 64th");
        Assert.Equal(before, m.World.FullHashes);
        AssertIncrementalEqualsFull(s.ToConfig(), walks: 3, maxSteps: 600);
    }

    [Fact]
    public void Should_NameTheTimersMap_When_ATimerInsideAMapValueExpires()
    {
        // Given timer_count's timer, at byte 8 of its map's value, armed by ops.init
        var text = ScenarioLoader.BuiltInText("seed-race-r1")! + "\nbounds: { timer_fires: 1 }\n";
        var s = ScenarioLoader.Parse(text, "test");
        var m = new Machine(s.ToConfig(BpfExamples.CompileProgram("timer_count.bpf.c", "v3") + "@mode=2,exit_at=2"));
        var timer = m.Actors.Single(a => a.Kind == ActorKind.Timer).Id;
        Assert.True(m.IsEnabled(timer));

        // When it expires, its step's write footprint names the map that holds it
        m.Step(timer);
        var map = m.MapLayout.Maps.Select((x, id) => (x.Name, id)).Single(x => x.Name == "timers").id;
        Assert.NotEqual(0UL, m.LastFootprint.Writes & m.Bits.Of(Resource.Map, map));
    }
}
