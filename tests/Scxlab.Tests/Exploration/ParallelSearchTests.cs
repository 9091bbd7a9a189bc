using CsCheck;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// The layer-parallel BFS (<c>--jobs N</c>) against the sequential BFS: the same states, transitions, depth,
/// verdict, findings and shortest traces, for every N.
/// </summary>
public class ParallelSearchTests
{
    private static ExploreResult Explore(ModelConfig cfg, int jobs, IReadOnlyList<string>? checks = null, long? maxTransitions = null) =>
        new Explorer(new Machine(cfg), new ExploreOptions { Strategy = Strategy.Bfs, Jobs = jobs, Checks = checks ?? [], MaxTransitions = maxTransitions }).Run();

    private static void AssertSame(ExploreResult sequential, ExploreResult parallel)
    {
        Assert.Equal(sequential.Complete, parallel.Complete);
        Assert.Equal(sequential.Verdict, parallel.Verdict);
        Assert.Equal(sequential.Stats.States, parallel.Stats.States);
        Assert.Equal(sequential.Stats.Transitions, parallel.Stats.Transitions);
        Assert.Equal(sequential.Stats.MaxDepth, parallel.Stats.MaxDepth);
        Assert.Equal(sequential.Violations.Select(v => (v.Violation.Key, string.Join(",", v.Trace))), parallel.Violations.Select(v => (v.Violation.Key, string.Join(",", v.Trace))));
        Assert.Equal(sequential.Warnings.Select(v => v.Violation.Key).Order(StringComparer.Ordinal), parallel.Warnings.Select(v => v.Violation.Key).Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(GranularityPropertyTests.QuickBuiltIns), MemberType = typeof(GranularityPropertyTests))]
    public void Should_MatchTheSequentialBfs_When_ABuiltInIsExploredWithTwoAndThreeJobs(string name)
    {
        var scenario = ScenarioLoader.Resolve(name);
        var sequential = Explore(scenario.ToConfig(), 1, scenario.Checks);
        AssertSame(sequential, Explore(scenario.ToConfig(), 2, scenario.Checks));
        AssertSame(sequential, Explore(scenario.ToConfig(), 3, scenario.Checks));
    }

    [Fact]
    public void Should_MatchTheSequentialBfs_When_RandomScenariosAreExploredWithTwoJobs()
    {
        var compared = 0;
        ExplorerPropertyTests.GenSmall.Sample(sc =>
        {
            var sequential = Explore(sc.Config(), 1, maxTransitions: 60_000);
            if (!sequential.Complete) return;
            compared++;
            AssertSame(sequential, Explore(sc.Config(), 2));
        }, iter: 250, threads: 1, print: s => s.ToString());
        Assert.True(compared >= 200, $"only {compared} scenarios completed within the budget");
    }

    /// <summary>
    /// Given central-remote (an exit, no invariant violation), when the reduced search runs with two jobs, then it stays
    /// the reduced search (sleep sets shared through the stored states) and visits the sequential one's states.
    /// </summary>
    [Fact]
    public void Should_VisitTheStatesOfTheReducedSearch_When_ItRunsWithTwoJobs()
    {
        var scenario = ScenarioLoader.Resolve("central-remote");
        var reduced = new Explorer(new Machine(scenario.ToConfig()), new ExploreOptions { Strategy = Strategy.Reduced, ShortestTraces = false }).Run();
        var parallel = new Explorer(new Machine(scenario.ToConfig()), new ExploreOptions { Strategy = Strategy.Reduced, Jobs = 2 }).Run();
        Assert.Equal(reduced.Stats.States, parallel.Stats.States);
        Assert.Equal(reduced.Verdict, parallel.Verdict);
        Assert.Equal(reduced.Violations.Select(v => v.Violation.Key).Order(StringComparer.Ordinal), parallel.Violations.Select(v => v.Violation.Key).Order(StringComparer.Ordinal));
        Assert.Equal(Strategy.Reduced, parallel.Strategy);
        Assert.Empty(parallel.Notes);
    }

    [Fact]
    public void Should_SayIncomplete_When_TheStepBudgetRunsOutInParallel()
    {
        var scenario = ScenarioLoader.Resolve("central-remote");
        var r = Explore(scenario.ToConfig(), 2, maxTransitions: 500);
        Assert.False(r.Complete);
        Assert.Equal(500, r.Stats.Transitions);
        Assert.Contains("step budget", r.IncompleteReason, StringComparison.Ordinal);
    }
}
