using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Simulation;

namespace Scxlab.Benchmarks;

/// <summary>
/// The kernel's default behaviour with no callbacks (every task to SCX_DSQ_GLOBAL, built-in idle
/// CPU selection): a policy that scales to thousands of tasks, so the benchmark measures the engine
/// and the kernel paths rather than a policy's fixed-size BPF queue.
/// </summary>
public sealed class KernelDefaultOps : ScxOps
{
    public override string Name => "kernel_default";
}

/// <summary>Simulated events per second on <c>mixed</c> (64 CPUs, 2,000 tasks) and allocation as the duration grows.</summary>
[MemoryDiagnoser]
public class SimulationBenchmarks
{
    [Params(250_000_000L, 500_000_000L, 1_000_000_000L)]
    public long DurationNs;

    private Workload _mixed = null!;

    [GlobalSetup]
    public void Setup() => _mixed = Generators.Create("mixed", 64, 2000);

    [Benchmark]
    public long Mixed64x2000()
    {
        var r = new Simulator(_mixed, new SimOptions { Cpus = 64, DurationNs = DurationNs, Seed = 1, Policy = () => new KernelDefaultOps(), PolicyName = "kernel-default" }).Run();
        return r.Steps + r.EngineEvents;
    }
}

/// <summary>
/// <c>dotnet run -c Release --project benchmarks/Scxlab.Benchmarks -- sim-scale [cpus] [tasks] [seconds]</c>:
/// one large run with wall time, events/s, and managed/working-set memory sampled as virtual time grows.
/// </summary>
public static class SimulationScale
{
    public static int Run(string[] args)
    {
        var cpus = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 64;
        var tasks = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5000;
        var seconds = args.Length > 2 ? double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 60;
        var policy = args.Length > 3 ? args[3] : "kernel-default";
        Func<ScxOps> factory = policy == "kernel-default" ? () => new KernelDefaultOps() : Scxlab.Policies.PolicyRegistry.Resolve(policy);
        var wall = Stopwatch.StartNew();
        var lastPct = -1;
        var sim = new Simulator(Generators.Create("mixed", cpus, tasks), new SimOptions
        {
            Cpus = cpus,
            DurationNs = (long)(seconds * 1e9),
            Policy = factory,
            PolicyName = policy,
            Progress = f =>
            {
                var pct = (int)(f * 10);
                if (pct == lastPct) return;
                lastPct = pct;
                Console.WriteLine($"  {f * 100,5:0.0}% virtual  wall {wall.Elapsed.TotalSeconds,6:0.0}s  managed heap {GC.GetTotalMemory(false) / 1048576.0,7:0.0} MiB  working set {Environment.WorkingSet / 1048576.0,7:0.0} MiB");
            },
        });
        var r = sim.Run();
        Console.WriteLine($"mixed {cpus} CPUs x {tasks} tasks x {seconds}s virtual ({policy}): wall {r.WallSeconds:0.00}s, {r.Steps:N0} model steps + {r.EngineEvents:N0} engine events = {r.EventsPerSecond:N0} events/s; wakeups {r.Latency[0].Count:N0}, p99 {Scxlab.Simulation.SimReport.Ns(r.Latency[0].P99)}, util {r.MeanUtilisation:P1}, exits {r.Exits.Count}");
        Console.WriteLine($"allocated total {GC.GetTotalAllocatedBytes() / 1048576.0:0.0} MiB, gen0/1/2 collections {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}");
        return 0;
    }
}
