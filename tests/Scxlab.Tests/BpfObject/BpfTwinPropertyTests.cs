using CsCheck;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Tests.Exploration;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// <see cref="BpfEquivalenceTests"/> on random scenarios: the clang-built twin of a built-in policy and the C# policy
/// give the same verdict and the same findings on <see cref="WiderPropertyTests"/>' wider scenarios (three CPUs, up to
/// three tasks and three scripted events, any protocol the policy runs under), and the reduced search over the BPF
/// object stores the states plain DFS does. A kfunc, a helper or an instruction the interpreter gets wrong, or a BPF
/// step whose footprint misses a load or store, shows up as a difference on some scenario the fixed cells never try.
/// </summary>
/// <remarks>
/// Bounded for CI (<see cref="Iterations"/>); <c>SCXLAB_TWIN_ITER=N</c> runs N scenarios instead, for a longer hunt.
/// Both sides are compared only when both searches complete within <see cref="Budget"/> transitions: about two in
/// three do, so the bound asks a quarter of the 40 (twelve samples made it fail one run in twelve).
/// </remarks>
[Trait("Category", "Long")]
public sealed class BpfTwinPropertyTests
{
    private static int Iterations => WiderPropertyTests.HuntIterations("SCXLAB_TWIN_ITER", 40);

    private const long Budget = 60_000;

    /// <summary>(object in examples/bpf/out, its C# twin, rodata): the pairs of <see cref="BpfEquivalenceTests"/>.</summary>
    private static readonly (string Obj, string Policy, string Rodata)[] Pairs =
    [
        ("local_on_pop", "local-on-pop", ""),
        ("local_on_pop_arena", "local-on-pop", ""),
        ("local_on_peek", "local-on-peek", ""),
        ("dequeue_sync", "dequeue-sync", ""),
        ("simple", "simple", ""),
        ("simple", "simple-fifo", "fifo_sched=1"),
        ("central", "central", ""),
        ("insert_recheck_cancel", "insert-recheck-cancel", ""),
    ];

    private static readonly Gen<(int Pair, WiderPropertyTests.Wide Scenario)> GenTwin =
        from pair in Gen.Int[0, Pairs.Length - 1]
        from sc in WiderPropertyTests.Scenarios(Gen.Const(PolicyIndex(Pairs[pair].Policy)))
        select (pair, sc);

    private static int PolicyIndex(string name) => PolicyRegistry.BuiltIn.Select(p => p.Name).ToList().IndexOf(name);

    private static string Spec(int pair) =>
        BpfExamples.Object(Pairs[pair].Obj) + (Pairs[pair].Rodata.Length > 0 ? "@" + Pairs[pair].Rodata : "");

    private static ExploreResult Explore(ModelConfig cfg, Strategy s) =>
        new Explorer(new Machine(cfg), new ExploreOptions { Strategy = s, ShortestTraces = false, MaxTransitions = Budget }).Run();

    private static string Findings(ExploreResult r) =>
        string.Join(" | ", r.Violations.Select(v => v.Violation.ToString()).Order(StringComparer.Ordinal));

    private static string Describe((int Pair, WiderPropertyTests.Wide Scenario) t) => $"{Pairs[t.Pair].Obj} {t.Scenario}";

    [Fact]
    public void Should_GiveTheSameVerdictAndFindings_When_TheBpfTwinRunsARandomScenario()
    {
        int total = 0, compared = 0, violating = 0;
        GenTwin.Sample(t =>
        {
            total++;
            var cs = Explore(t.Scenario.Config(), Strategy.Reduced);
            if (!cs.Complete) return;
            var bpf = Explore(t.Scenario.Config(Spec(t.Pair)), Strategy.Reduced);
            if (!bpf.Complete) return;
            compared++;
            if (cs.Violations.Count > 0) violating++;
            Assert.Equal(cs.Verdict, bpf.Verdict);
            Assert.Equal(Findings(cs), Findings(bpf));
        }, iter: Iterations, threads: 1, print: Describe);
        Assert.True(compared >= total / 4, $"only {compared} of {total} scenarios completed within the budget");
    }

    [Fact]
    public void Should_StoreTheStatesOfPlainDfs_When_TheReducedSearchExploresTheBpfTwinOnARandomScenario()
    {
        int total = 0, compared = 0;
        GenTwin.Sample(t =>
        {
            total++;
            var cfg = t.Scenario.Config(Spec(t.Pair));
            var dfs = Explore(cfg, Strategy.Dfs);
            if (!dfs.Complete) return;
            compared++;
            var red = Explore(cfg, Strategy.Reduced);
            Assert.True(red.Complete, red.IncompleteReason);
            Assert.Equal(dfs.Verdict, red.Verdict);
            Assert.Equal(Findings(dfs), Findings(red));
            Assert.True(dfs.Stats.States == red.Stats.States, $"reduced stored {red.Stats.States} states, plain DFS {dfs.Stats.States}");
        }, iter: Iterations, threads: 1, print: Describe);
        Assert.True(compared >= total / 4, $"only {compared} of {total} scenarios completed within the budget");
    }
}
