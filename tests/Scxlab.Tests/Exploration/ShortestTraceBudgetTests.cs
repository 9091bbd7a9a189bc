using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// The breadth-first search that shortens a depth-first search's traces (<c>Explorer.Shortest</c>) keeps to the user's
/// budgets. A DFS cut by <c>--max-steps</c> may have found a violation deep in a space far bigger than what it covered;
/// a BFS to that depth, unbounded, ran for minutes and took every byte of a 24 GB machine (found by
/// <see cref="WiderPropertyTests"/>' replay hunt, killed by the OOM killer). Now it stops at the same budget, keeps the
/// DFS's traces and says so.
/// </summary>
public sealed class ShortestTraceBudgetTests
{
    /// <summary>The scenario the hunt found: userspace policy, three CPUs, a task narrowed twice and put to sleep.</summary>
    private static ModelConfig Scenario() => new WiderPropertyTests.Wide(
        Policy: PolicyRegistry.BuiltIn.Select((p, i) => (p, i)).Single(x => x.p.Name == "userspace").i,
        Protocol: (int)Protocol.Upstream,
        Allowed: [5, 6], Cpu: [0, 2], State: [0, 0],
        Acts: [new(0, 0, 6, 2), new(2, 0, 7, 1), new(0, 0, 3, 0)],
        Rounds: [0, 2, 2]).Config();

    [Fact]
    public void Should_KeepTheSearchsTracesAndSaySo_When_ShorteningThemWouldPassTheStepBudget()
    {
        // A guard, not a measurement: without the bound the shortening search runs until memory runs out.
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var r = new Explorer(new Machine(Scenario()), new ExploreOptions { MaxTransitions = 150_000, Cancel = guard.Token }).Run();
        Assert.Equal(Verdict.Violation, r.Verdict);
        Assert.False(r.Complete);
        Assert.Contains(r.Notes, n => n.Contains("not confirmed to be the shortest", StringComparison.Ordinal) && n.Contains("step budget of 150000 transitions", StringComparison.Ordinal));
        // The traces kept are the DFS's: each replays to its finding.
        foreach (var f in r.Violations)
        {
            var run = TraceRunner.Run(Scenario(), f.Trace, []);
            Assert.Null(run.Divergence);
            Assert.Equal(f.Violation.Key, run.Outcome?.Key);
        }
    }

    /// <summary>
    /// A complete search's traces are still shortened, and no note says otherwise — also when it finished within a step
    /// budget that the BFS alone would pass (the reduced search takes fewer transitions than a BFS over the same states):
    /// after a complete search the BFS covers at most the states already stored, so the step budget does not bind it.
    /// </summary>
    [Theory]
    [InlineData("seed-race-r2")]
    [InlineData("central-remote")]
    [InlineData("qseq-revert-vs-dequeue")]
    [InlineData("fallback-drain-vs-release")]
    public void Should_ShortenWithoutANote_When_TheSearchWasComplete(string scenario)
    {
        var cfg = Scenarios.ScenarioLoader.Resolve(scenario).ToConfig();
        var bfs = new Explorer(new Machine(cfg), new ExploreOptions { Strategy = Strategy.Bfs }).Run();
        var unbounded = new Explorer(new Machine(cfg), new ExploreOptions { ShortestTraces = false }).Run();
        var reduced = new Explorer(new Machine(cfg), new ExploreOptions { MaxTransitions = unbounded.Stats.Transitions + 1 }).Run();
        Assert.True(reduced.Complete);
        Assert.Equal(Verdict.Violation, reduced.Verdict);
        Assert.DoesNotContain(reduced.Notes, n => n.Contains("not confirmed to be the shortest", StringComparison.Ordinal));
        Assert.Equal(bfs.Violations.Select(v => (v.Violation.Key, v.Trace.Count)).Order(), reduced.Violations.Select(v => (v.Violation.Key, v.Trace.Count)).Order());
    }

    /// <summary>The step budget binds the shortening BFS only after a search that was cut short.</summary>
    [Fact]
    public void Should_BindTheShorteningSearchByTheStepBudget_Only_When_TheSearchWasCutShort()
    {
        var cfg = Scenarios.ScenarioLoader.Resolve("central-remote").ToConfig();
        var found = new Explorer(new Machine(cfg), new ExploreOptions { Strategy = Strategy.Dfs, ShortestTraces = false }).Run().Violations;
        var shortest = new Explorer(new Machine(cfg), new ExploreOptions { Strategy = Strategy.Bfs }).Run().Violations;
        Assert.NotEmpty(found);
        // A budget far below what the BFS needs to reach the finding.
        var tight = new Explorer(new Machine(cfg), new ExploreOptions { MaxTransitions = 10 });
        var afterComplete = tight.Shortest(found, searchComplete: true, out var noCut);
        Assert.Null(noCut);
        Assert.Equal(shortest.Select(v => v.Trace.Count).Order(), afterComplete.Select(v => v.Trace.Count).Order());
        var afterCut = tight.Shortest(found, searchComplete: false, out var cut);
        Assert.Contains("step budget of 10 transitions", cut);
        Assert.Equal(found.Select(v => v.Trace), afterCut.Select(v => v.Trace));
    }
}
