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
