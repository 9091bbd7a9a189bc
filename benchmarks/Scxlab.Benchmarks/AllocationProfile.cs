using System.Runtime.CompilerServices;
using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project benchmarks/Scxlab.Benchmarks -- alloc</c>: bytes allocated by
/// each step of the R2 replay (after warm-up), with the step's narration from a narrated run, to
/// find which step allocates when the benchmark reports bytes per step.
/// </summary>
public static class AllocationProfile
{
    public static void Run(TextWriter o)
    {
        var narrated = ScriptedRace.R2.Run();
        var schedule = narrated.Steps.Select(s => s.Actor).ToArray();
        var m = new Machine(ScriptedRace.R2.Config(PolicyRegistry.Resolve("local-on-peek"), "local-on-peek", Protocol.Upstream));
        var initial = m.World.Clone();
        var bytes = new long[schedule.Length];
        const int Rounds = 1000;
        for (var r = 0; r < Rounds + 10; r++)
        {
            m.World.CopyFrom(initial);
            for (var i = 0; i < schedule.Length; i++)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                m.Step(schedule[i]);
                var after = GC.GetAllocatedBytesForCurrentThread();
                if (r >= 10) bytes[i] += after - before; // skip warm-up (tiering, lazy statics)
            }
        }
        var total = 0L;
        for (var i = 0; i < schedule.Length; i++)
        {
            var per = bytes[i] / (double)Rounds;
            total += bytes[i];
            o.WriteLine($"{i,3} {narrated.Steps[i].ActorName,-8} {per,8:F1} B  {string.Join(" / ", narrated.Steps[i].Notes)}");
        }
        o.WriteLine($"world state: {initial.StateBytes()} bytes");
        o.WriteLine($"total {total / (double)Rounds:F1} B per replay of {schedule.Length} steps = {total / (double)Rounds / schedule.Length:F1} B/step");
    }
}

/// <summary>
/// <c>dotnet run -c Release --project benchmarks/Scxlab.Benchmarks -- alloc-fuzz [SCENARIO] [RUNS]</c>: bytes
/// allocated per step of <c>scxlab fuzz</c>'s random walks (churn-8cpu, local-on-peek, qseq-invalidate by
/// default). A gen-0 collection stops every worker, so allocation in the walk would cap <c>fuzz --jobs</c>'s
/// speed-up (measured 2026-12-04: 22 B a step, 4 collections in 2 000 walks: not what limits it; benchmarks/RESULTS.md).
/// </summary>
public static class FuzzAllocationProfile
{
    public static void Run(TextWriter o, string scenario, int runs)
    {
        var config = Scxlab.Scenarios.ScenarioLoader.Resolve(scenario).ToConfig("local-on-peek", Protocol.QseqInvalidate);
        var walker = new Scxlab.Fuzzing.Walker(config, []);
        var choices = new List<int>();
        var seen = new Scxlab.Fuzzing.DistinctCounter();
        for (var i = 0; i < 50; i++) walker.Walk(Scxlab.Fuzzing.FuzzStrategy.Random, 1, i, 1, 0, 10_000, choices, seen, null); // warm-up
        var before = GC.GetAllocatedBytesForCurrentThread();
        var gcs = GC.CollectionCount(0);
        long steps = 0;
        for (var i = 0; i < runs; i++) steps += walker.Walk(Scxlab.Fuzzing.FuzzStrategy.Random, 1, i, 1, 0, 10_000, choices, seen, null).Steps;
        var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        o.WriteLine($"{scenario}: {runs} walks, {steps} steps, {bytes / (double)steps:F1} B/step, {GC.CollectionCount(0) - gcs} gen-0 collections");
    }
}

/// <summary>
/// <c>dotnet run -c Release --project benchmarks/Scxlab.Benchmarks -- world [SCENARIO]</c>: the bytes each component of
/// the scenario's initial world contributes to a copy and to a fingerprint (what a transition pays for).
/// </summary>
public static class WorldLayout
{
    public static void Run(TextWriter o, string scenario)
    {
        var config = Scxlab.Scenarios.ScenarioLoader.Resolve(scenario).ToConfig();
        var w = new Machine(config).World;
        void Row<T>(string name, T[] a, string note = "") where T : struct =>
            o.WriteLine($"  {name,-9}{a.Length,4} × {Unsafe.SizeOf<T>(),4} = {a.Length * Unsafe.SizeOf<T>(),6} B{note}");
        o.WriteLine($"{scenario}: policy {config.PolicyName}");
        Row("Tasks", w.Tasks);
        Row("Cpus", w.Cpus);
        Row("Dsqs", w.Dsqs);
        Row("DspBuf", w.DspBuf, " (live entries only)");
        Row("Maps", w.Maps);
        Row("Actors", w.Actors);
        Row("Frames", w.Frames, " (live frames only)");
        Row("Logs", w.Logs, " (live entries only)");
        Row("KickSyncs", w.KickSyncs);
        o.WriteLine($"  Sched           {Unsafe.SizeOf<Scxlab.Stepping.SchedState>(),6} B");
        o.WriteLine($"  hashed in the initial state: {w.StateBytes()} B");
    }
}
