using BenchmarkDotNet.Attributes;
using Scxlab.Fuzzing;
using Scxlab.Scenarios;

namespace Scxlab.Benchmarks;

/// <summary>
/// One fuzz schedule (a random walk from the initial state to quiescence or a finding, every state fingerprinted for
/// the distinct count and checked) of the churn scenarios at 8, 64 and 256 CPUs: what `scxlab fuzz` does per schedule
/// on one worker. The same 16 schedule indices every run (seed 1), so the walks are the same from run to run.
/// Reported per schedule; the steps per schedule are printed at setup (schedule time / steps = time per step).
/// </summary>
[MemoryDiagnoser]
public class FuzzWalkBenchmarks
{
    private const int Schedules = 16;

    [Params("churn-8cpu", "churn-64cpu", "churn-256cpu")]
    public string Scenario { get; set; } = "";

    private Walker _walker = null!;
    private readonly List<int> _choices = [];
    private DistinctCounter _seen = null!;

    [GlobalSetup]
    public void Setup()
    {
        var s = ScenarioLoader.Resolve(Scenario);
        _walker = new Walker(s.ToConfig(), s.Checks);
        _seen = new DistinctCounter();
        long steps = 0;
        for (var i = 0; i < Schedules; i++) steps += Run(i);
        Console.WriteLine($"// {Scenario}: {_walker.Machine.ActorCount} actors, {steps / (double)Schedules:0.#} steps per schedule");
    }

    private int Run(long index) =>
        _walker.Walk(FuzzStrategy.Random, 1, index, depth: 3, k: 1000, maxSteps: 100_000, _choices, _seen, null).Steps;

    [Benchmark(OperationsPerInvoke = Schedules)]
    public long Schedule()
    {
        long steps = 0;
        for (var i = 0; i < Schedules; i++) steps += Run(i);
        return steps;
    }
}
