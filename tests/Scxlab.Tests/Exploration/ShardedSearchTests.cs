using CsCheck;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// <c>check --shard K/N</c>: the shards' frontiers are disjoint and cover the frontier layer, and together the
/// shards store exactly the states of the unsharded search and find the same violations.
/// </summary>
public class ShardedSearchTests
{
    private sealed record Run(ExploreResult Result, HashSet<ulong> Stored);

    private static Run Explore(ModelConfig cfg, IReadOnlyList<string> checks, int index = 0, int count = 1, int frontier = 0, long? maxTransitions = null, int jobs = 1)
    {
        var stored = new HashSet<ulong>();
        var r = new Explorer(new Machine(cfg), new ExploreOptions
        {
            Strategy = Strategy.Bfs, Checks = checks, ShardIndex = index, ShardCount = count, ShardFrontierStates = frontier,
            MaxTransitions = maxTransitions, OnStore = fp => stored.Add(fp), Jobs = jobs,
        }).Run();
        return new Run(r, stored);
    }

    /// <summary>A shard on several workers (the layer-parallel BFS) is the same shard: the same frontier, states, work, findings and sketch.</summary>
    private static void AssertSameShard(Run one, Run many)
    {
        var (a, b) = (one.Result, many.Result);
        Assert.True(one.Stored.SetEquals(many.Stored), $"{one.Stored.Count} states on one worker, {many.Stored.Count} on several");
        Assert.Equal((a.Stats.ShardDepth, a.Stats.ShardFrontierStates, a.Stats.ShardOwnStates), (b.Stats.ShardDepth, b.Stats.ShardFrontierStates, b.Stats.ShardOwnStates));
        Assert.Equal((a.Stats.States, a.Stats.Transitions, a.Verdict), (b.Stats.States, b.Stats.Transitions, b.Verdict));
        Assert.Equal(a.Violations.Select(v => (v.Violation.Key, v.Trace.Count)), b.Violations.Select(v => (v.Violation.Key, v.Trace.Count)));
        Assert.Equal(a.Stats.DistinctSketch, b.Stats.DistinctSketch);
    }

    [Theory]
    [InlineData("central-remote", 3)]
    [InlineData("running-narrow-renice", 2)]
    [InlineData("scale-3cpu", 2)]
    public void Should_BeTheSameShard_When_ItRunsOnSeveralWorkers(string name, int count)
    {
        var scenario = ScenarioLoader.Resolve(name);
        for (var k = 0; k < count; k++)
            AssertSameShard(Explore(scenario.ToConfig(), scenario.Checks, k, count), Explore(scenario.ToConfig(), scenario.Checks, k, count, jobs: 2));
    }

    [Fact]
    public void Should_BeTheSameShard_When_RandomScenariosRunOnSeveralWorkers()
    {
        var compared = 0;
        ExplorerPropertyTests.GenSmall.Sample(sc =>
        {
            var one = Explore(sc.Config(), [], 1, 3, 4, maxTransitions: 60_000);
            if (!one.Result.Complete) return;
            compared++;
            AssertSameShard(one, Explore(sc.Config(), [], 1, 3, 4, jobs: 2));
        }, iter: 60, threads: 1, print: s => s.ToString());
        Assert.True(compared >= 40, $"only {compared} scenarios completed within the budget");
    }

    private static void AssertShardsMakeTheWhole(ModelConfig cfg, IReadOnlyList<string> checks, int count, int frontier, Run whole)
    {
        var shards = Enumerable.Range(0, count).Select(k => Explore(cfg, checks, k, count, frontier)).ToList();
        Assert.All(shards, s => Assert.True(s.Result.Complete));
        // The same frontier in every shard, split without overlap.
        Assert.Single(shards.Select(s => (s.Result.Stats.ShardDepth, s.Result.Stats.ShardFrontierStates)).Distinct());
        Assert.Equal(shards[0].Result.Stats.ShardDepth == 0 ? count * shards[0].Result.Stats.ShardOwnStates : shards[0].Result.Stats.ShardFrontierStates,
            shards.Sum(s => s.Result.Stats.ShardOwnStates));
        // Together, the states and the findings of the unsharded search.
        var union = new HashSet<ulong>(shards.SelectMany(s => s.Stored));
        Assert.True(whole.Stored.SetEquals(union), $"{whole.Stored.Count} states unsharded, {union.Count} in the union of {count} shards");
        Assert.Equal(whole.Result.Violations.Select(v => v.Violation.Key).Order(StringComparer.Ordinal),
            shards.SelectMany(s => s.Result.Violations.Select(v => v.Violation.Key)).Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(whole.Result.Verdict, shards.Any(s => s.Result.Verdict == Verdict.Violation) ? Verdict.Violation : Verdict.Holds);
        // The shortest counterexample is the shortest over the shards.
        foreach (var v in whole.Result.Violations)
            Assert.Equal(v.Trace.Count, shards.SelectMany(s => s.Result.Violations).Where(x => x.Violation.Key == v.Violation.Key).Min(x => x.Trace.Count));
    }

    [Theory]
    [InlineData("seed-race-r2", 3)]
    [InlineData("central-remote", 4)]
    [InlineData("scale-3cpu", 2)]
    public void Should_StoreTheStatesOfTheWholeSearch_When_TheShardsAreTakenTogether(string name, int count)
    {
        var scenario = ScenarioLoader.Resolve(name);
        var whole = Explore(scenario.ToConfig(), scenario.Checks);
        AssertShardsMakeTheWhole(scenario.ToConfig(), scenario.Checks, count, 0, whole);
    }

    [Fact]
    public void Should_SplitTheFrontierLayer_When_ItHasEnoughStates()
    {
        // scale-3cpu's first layer with at least 64 states is split four ways by fingerprint.
        var scenario = ScenarioLoader.Resolve("scale-3cpu");
        var shards = Enumerable.Range(0, 4).Select(k => Explore(scenario.ToConfig(), scenario.Checks, k, 4)).ToList();
        Assert.All(shards, s => Assert.True(s.Result.Stats.ShardDepth > 0));
        Assert.All(shards, s => Assert.InRange(s.Result.Stats.ShardOwnStates, 1, s.Result.Stats.ShardFrontierStates - 1));
        Assert.Equal(shards[0].Result.Stats.ShardFrontierStates, shards.Sum(s => s.Result.Stats.ShardOwnStates));
    }

    [Fact]
    public void Should_StoreTheStatesOfTheWholeSearch_When_RandomScenariosAreSharded()
    {
        var compared = 0;
        ExplorerPropertyTests.GenSmall.Sample(sc =>
        {
            var whole = Explore(sc.Config(), [], maxTransitions: 60_000);
            if (!whole.Result.Complete) return;
            compared++;
            // A small frontier, so even small scenarios are split.
            AssertShardsMakeTheWhole(sc.Config(), [], 3, 4, whole);
        }, iter: 150, threads: 1, print: s => s.ToString());
        Assert.True(compared >= 100, $"only {compared} scenarios completed within the budget");
    }
}
