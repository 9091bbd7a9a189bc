using BenchmarkDotNet.Attributes;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Benchmarks;

/// <summary>
/// Whole exhaustive searches (plain DFS, 64-bit fingerprints) of seed-race-r2 and the 3-CPU scale
/// scenario. Divide the explorer's own counters (printed once in GlobalSetup) by the mean time for
/// executions/s and distinct states/s; bytes per stored state is the visited set's size / states.
/// </summary>
[MemoryDiagnoser]
public class ExplorationBenchmarks
{
    private ModelConfig _config = null!;

    [Params("seed-race-r2", "scale-3cpu")]
    public string Scenario { get; set; } = "";

    [Params(Strategy.Dfs, Strategy.Reduced)]
    public Strategy Strategy { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _config = ScenarioLoader.Resolve(Scenario).ToConfig();
        var r = Explore();
        Console.WriteLine($"// {Scenario} {Strategy}: {r.Stats.States} states, {r.Stats.Transitions} transitions, {r.Stats.Executions} executions, {r.Stats.BytesPerState:0.0} bytes/state, {r.Stats.Executions / r.Stats.Seconds:0} executions/s, {r.Stats.States / r.Stats.Seconds:0} states/s");
    }

    private ExploreResult Explore() =>
        new Explorer(new Machine(_config), new ExploreOptions { Strategy = Strategy, ShortestTraces = false }).Run();

    [Benchmark]
    public long ExploreAll() => Explore().Stats.States;
}

/// <summary>
/// The layer-parallel BFS (<c>check --jobs N</c>) against the sequential BFS on the same scenario: the
/// speed-up is the ratio of the means (same states and transitions for every N, ParallelSearchTests).
/// </summary>
[MemoryDiagnoser]
public class ParallelExplorationBenchmarks
{
    private ModelConfig _config = null!;

    [Params("scale-3cpu", "qseq-aba-3cpu")]
    public string Scenario { get; set; } = "";

    [Params(1, 2)]
    public int Jobs { get; set; }

    [GlobalSetup]
    public void Setup() => _config = ScenarioLoader.Resolve(Scenario).ToConfig();

    [Benchmark]
    public long ExploreAllBfs() =>
        new Explorer(new Machine(_config), new ExploreOptions { Strategy = Strategy.Bfs, Jobs = Jobs, ShortestTraces = false }).Run().Stats.States;
}
