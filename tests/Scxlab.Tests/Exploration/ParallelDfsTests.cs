using CsCheck;
using Scxlab.Checks;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// The parallel DFS (<c>--jobs N</c> with dfs or reduced) against the sequential plain DFS: the same states, transitions,
/// executions, verdict, findings and (shortest) traces, for every N, whatever the threads' timing.
/// </summary>
public sealed class ParallelDfsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "scxlab-pdfs-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static ExploreResult Explore(ModelConfig cfg, int jobs, IReadOnlyList<string>? checks = null, long? maxTransitions = null, bool shortest = true, long memory = 6L << 30, string? spill = null, Strategy strategy = Strategy.Dfs) =>
        new Explorer(new Machine(cfg), new ExploreOptions
        {
            Strategy = strategy,
            Jobs = jobs,
            Checks = checks ?? [],
            MaxTransitions = maxTransitions,
            ShortestTraces = shortest,
            MaxMemoryBytes = memory,
            SpillDirectory = spill,
        }).Run();

    private static void AssertSame(ExploreResult sequential, ExploreResult parallel, bool traces = true)
    {
        Assert.Equal(sequential.Complete, parallel.Complete);
        Assert.Equal(sequential.Verdict, parallel.Verdict);
        Assert.Equal(sequential.Stats.States, parallel.Stats.States);
        Assert.Equal(sequential.Stats.Transitions, parallel.Stats.Transitions);
        Assert.Equal(sequential.Stats.Executions, parallel.Stats.Executions);
        Assert.Equal(sequential.Violations.Select(v => v.Violation.Key).Order(StringComparer.Ordinal), parallel.Violations.Select(v => v.Violation.Key).Order(StringComparer.Ordinal));
        if (traces)
            Assert.Equal(sequential.Violations.Select(v => (v.Violation.Key, string.Join(",", v.Trace))), parallel.Violations.Select(v => (v.Violation.Key, string.Join(",", v.Trace))));
        Assert.Equal(sequential.Warnings.Select(v => v.Violation.Key).Distinct().Order(StringComparer.Ordinal), parallel.Warnings.Select(v => v.Violation.Key).Distinct().Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(GranularityPropertyTests.QuickBuiltIns), MemberType = typeof(GranularityPropertyTests))]
    public void Should_MatchTheSequentialDfs_When_ABuiltInIsExploredWithTwoAndThreeJobs(string name)
    {
        var scenario = ScenarioLoader.Resolve(name);
        var sequential = Explore(scenario.ToConfig(), 1, scenario.Checks);
        AssertSame(sequential, Explore(scenario.ToConfig(), 2, scenario.Checks));
        AssertSame(sequential, Explore(scenario.ToConfig(), 3, scenario.Checks));
    }

    [Fact]
    public void Should_MatchTheSequentialDfs_When_RandomScenariosAreExploredWithTwoAndFourJobs()
    {
        var compared = 0;
        ExplorerPropertyTests.GenSmall.Sample(sc =>
        {
            var sequential = Explore(sc.Config(), 1, maxTransitions: 60_000, shortest: false);
            if (!sequential.Complete) return;
            compared++;
            // Without the shortest-trace BFS a parallel run's traces depend on timing: compare the rest.
            AssertSame(sequential, Explore(sc.Config(), 2, shortest: false), traces: false);
            AssertSame(sequential, Explore(sc.Config(), 4, shortest: false), traces: false);
        }, iter: 250, threads: 1, print: s => s.ToString());
        Assert.True(compared >= 200, $"only {compared} scenarios completed within the budget");
    }

    /// <summary>
    /// The parallel reduced search (sleep sets shared through the stored states) against the sequential one: the same
    /// states, verdict and findings; transitions depend on timing (a worker revisiting a state another is still
    /// expanding), but never exceed the plain DFS's. A search that reaches an invariant violation is run again as the
    /// parallel plain DFS, and says so.
    /// </summary>
    private static void AssertSameReduced(ExploreResult sequential, ExploreResult plain, ExploreResult parallel, bool traces)
    {
        Assert.Equal(sequential.Complete, parallel.Complete);
        Assert.Equal(sequential.Verdict, parallel.Verdict);
        Assert.Equal(sequential.Stats.States, parallel.Stats.States);
        Assert.True(parallel.Stats.Transitions <= plain.Stats.Transitions, $"{parallel.Stats.Transitions} transitions, plain DFS {plain.Stats.Transitions}");
        Assert.Equal(sequential.Violations.Select(v => v.Violation.Key).Order(StringComparer.Ordinal), parallel.Violations.Select(v => v.Violation.Key).Order(StringComparer.Ordinal));
        if (traces)
            Assert.Equal(sequential.Violations.Select(v => (v.Violation.Key, string.Join(",", v.Trace))), parallel.Violations.Select(v => (v.Violation.Key, string.Join(",", v.Trace))));
        Assert.Equal(sequential.Warnings.Select(v => v.Violation.Key).Distinct().Order(StringComparer.Ordinal), parallel.Warnings.Select(v => v.Violation.Key).Distinct().Order(StringComparer.Ordinal));
        var invariant = sequential.Violations.Any(v => v.Violation.Kind == ViolationKind.Invariant);
        Assert.Equal(invariant ? Strategy.Dfs : Strategy.Reduced, parallel.Strategy);
        if (invariant)
        {
            Assert.Contains(parallel.Notes, n => n.Contains("searched again as the parallel plain DFS", StringComparison.Ordinal));
            Assert.Equal(plain.Stats.Transitions, parallel.Stats.Transitions);
        }
    }

    [Theory]
    [MemberData(nameof(GranularityPropertyTests.QuickBuiltIns), MemberType = typeof(GranularityPropertyTests))]
    public void Should_MatchTheSequentialReducedSearch_When_ABuiltInIsExploredWithTwoAndThreeJobs(string name)
    {
        var scenario = ScenarioLoader.Resolve(name);
        var sequential = Explore(scenario.ToConfig(), 1, scenario.Checks, strategy: Strategy.Reduced);
        var plain = Explore(scenario.ToConfig(), 1, scenario.Checks);
        AssertSameReduced(sequential, plain, Explore(scenario.ToConfig(), 2, scenario.Checks, strategy: Strategy.Reduced), traces: true);
        AssertSameReduced(sequential, plain, Explore(scenario.ToConfig(), 3, scenario.Checks, strategy: Strategy.Reduced), traces: true);
    }

    [Fact]
    public void Should_MatchTheSequentialReducedSearch_When_RandomScenariosAreExploredWithTwoAndFourJobs()
    {
        var compared = 0;
        var withInvariant = 0;
        ExplorerPropertyTests.GenSmall.Sample(sc =>
        {
            var sequential = Explore(sc.Config(), 1, maxTransitions: 60_000, shortest: false, strategy: Strategy.Reduced);
            var plain = Explore(sc.Config(), 1, maxTransitions: 60_000, shortest: false);
            if (!sequential.Complete || !plain.Complete) return;
            compared++;
            if (sequential.Violations.Any(v => v.Violation.Kind == ViolationKind.Invariant)) withInvariant++;
            AssertSameReduced(sequential, plain, Explore(sc.Config(), 2, shortest: false, strategy: Strategy.Reduced), traces: false);
            AssertSameReduced(sequential, plain, Explore(sc.Config(), 4, shortest: false, strategy: Strategy.Reduced), traces: false);
        }, iter: 250, threads: 1, print: s => s.ToString());
        Assert.True(compared >= 200, $"only {compared} scenarios completed within the budget");
        Assert.True(compared - withInvariant >= 50, $"only {compared - withInvariant} scenarios kept the sleep sets");
    }

    [Fact]
    public void Should_MatchTheSequentialDfs_When_WorkersShareAVisitedSetThatSpills()
    {
        var scenario = ScenarioLoader.Resolve("scale-3cpu");
        var sequential = Explore(scenario.ToConfig(), 1, scenario.Checks);
        var parallel = Explore(scenario.ToConfig(), 2, scenario.Checks, memory: 1 << 20, spill: _dir);
        AssertSame(sequential, parallel);
        Assert.True(parallel.Stats.SpilledStates > 0);
    }

    [Fact]
    public void Should_MatchTheSequentialReducedSearch_When_WorkersShareSleepSetsThatSpill()
    {
        var scenario = ScenarioLoader.Resolve("scale-3cpu");
        var sequential = Explore(scenario.ToConfig(), 1, scenario.Checks, strategy: Strategy.Reduced);
        var plain = Explore(scenario.ToConfig(), 1, scenario.Checks);
        var parallel = Explore(scenario.ToConfig(), 2, scenario.Checks, memory: 1 << 20, spill: _dir, strategy: Strategy.Reduced);
        AssertSameReduced(sequential, plain, parallel, traces: true);
        Assert.True(parallel.Stats.SpilledStates > 0);
    }

    [Fact]
    public void Should_SayIncomplete_When_TheStepBudgetRunsOutInTheParallelDfs()
    {
        var scenario = ScenarioLoader.Resolve("scale-3cpu");
        var r = Explore(scenario.ToConfig(), 2, maxTransitions: 5_000);
        Assert.False(r.Complete);
        Assert.Equal(Verdict.Incomplete, r.Verdict);
        Assert.Contains("step budget", r.IncompleteReason, StringComparison.Ordinal);
    }
}
