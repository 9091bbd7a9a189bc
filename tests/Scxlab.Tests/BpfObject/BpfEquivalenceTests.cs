using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// The BPF C twin of a built-in policy (examples/bpf, built by clang) and the C# policy give the
/// same verdict and the same violations on every small built-in scenario under every protocol.
/// </summary>
public class BpfEquivalenceTests
{
    // (object in examples/bpf/out, C# policy, rodata)
    public static TheoryData<string, string, string> Pairs() => new()
    {
        { "local_on_pop", "local-on-pop", "" },
        { "local_on_pop_arena", "local-on-pop", "" },
        { "local_on_peek", "local-on-peek", "" },
        { "dequeue_sync", "dequeue-sync", "" },
        { "simple", "simple", "" },
        { "simple", "simple-fifo", "fifo_sched=1" },
        { "central", "central", "" },
        { "insert_recheck_cancel", "insert-recheck-cancel", "" },
    };

    /// <summary>Small scenarios: each explores in well under a second per protocol for every pair.</summary>
    private static readonly string[] Scenarios = ["seed-race-r1", "seed-race-r2", "seed-race-synced", "central-remote"];

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Should_GiveTheSameVerdictAndViolations_When_TheBpfTwinReplacesTheCsharpPolicy(string obj, string policy, string rodata)
    {
        var spec = BpfExamples.Object(obj) + (rodata.Length > 0 ? "@" + rodata : "");
        foreach (var name in Scenarios)
        {
            var scenario = ScenarioLoader.Resolve(name);
            foreach (var protocol in Enum.GetValues<Protocol>())
            {
                var cs = Explore(scenario, policy, protocol);
                var bpf = Explore(scenario, spec, protocol);
                var cell = $"{name} × {ProtocolNames.Name(protocol)} × {obj}";
                Assert.True(bpf.Complete, $"{cell}: {bpf.IncompleteReason}");
                Assert.Equal((cell, cs.Verdict), (cell, bpf.Verdict));
                Assert.Equal((cell, Messages(cs)), (cell, Messages(bpf)));
            }
        }
    }

    private static string Messages(ExploreResult r) => string.Join(" | ", r.Violations.Select(v => v.Violation.ToString()).Order(StringComparer.Ordinal));

    private static ExploreResult Explore(Scenario s, string policy, Protocol protocol)
    {
        var config = s.ToConfig(policy, protocol);
        return new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Reduced, Checks = s.Checks, ShortestTraces = false }).Run();
    }

    [Fact]
    public void Should_ExploreTheSameStates_When_LocalOnPopRunsAsBpf()
    {
        // local_on_pop touches no global data, so its interleaving points are exactly the C# policy's.
        var s = ScenarioLoader.Resolve("seed-race-r1");
        var cs = Explore(s, "local-on-pop", Protocol.Upstream);
        var bpf = Explore(s, BpfExamples.Object("local_on_pop"), Protocol.Upstream);
        Assert.Equal(cs.Stats.States, bpf.Stats.States);
    }
}

/// <summary>
/// Sleep sets prune transitions, never states: with the footprints of a BPF object's steps (its
/// shared-memory loads, stores and atomics among them) the reduced search reaches exactly the
/// states and violations plain DFS does.
/// </summary>
public class BpfReductionTests
{
    public static TheoryData<string, string> Cells() => new()
    {
        { "local_on_peek", "seed-race-r2" },
        { "dequeue_sync", "seed-race-synced" },
        { "insert_recheck_cancel", "seed-race-r1" },
        { "central", "central-remote" },
        { "simple", "seed-race-r2" },
    };

    [Theory]
    [MemberData(nameof(Cells))]
    public void Should_ReachTheSameStatesAsDfs_When_TheReducedSearchExploresABpfObject(string obj, string scenario)
    {
        var s = ScenarioLoader.Resolve(scenario);
        foreach (var protocol in new[] { Protocol.Upstream, Protocol.QseqInvalidate, Protocol.FallbackDsq })
        {
            var config = s.ToConfig(BpfExamples.Object(obj), protocol);
            var dfs = new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Dfs, Checks = s.Checks, ShortestTraces = false }).Run();
            var red = new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Reduced, Checks = s.Checks, ShortestTraces = false }).Run();
            Assert.Equal((protocol, dfs.Verdict, dfs.Stats.States), (protocol, red.Verdict, red.Stats.States));
            Assert.Equal(dfs.Violations.Select(v => v.Violation.Key).Order(), red.Violations.Select(v => v.Violation.Key).Order());
        }
    }
}
