using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Reporting;

/// <summary>Where a task is, in kernel terms: the one-line answer to "was it lost?".</summary>
public static class Whereabouts
{
    public static string Of(Machine m, int task)
    {
        var t = m.World.Tasks[task];
        var name = m.TaskName(task);
        var ops = OpsWord.Format(t.OpsState);
        if (t.Run == RunState.Dead) return $"{name}: dead";
        if (t.Class == SchedClass.Fair) return $"{name}: back in the fair class ({(t.Run == RunState.Runnable ? "runnable" : "sleeping")}, cpus_ptr {t.CpusPtr})";
        if (t.Run == RunState.Sleeping) return $"{name}: sleeping (ops_state {ops})";
        for (var c = 0; c < m.N; c++)
            if (m.World.Cpus[c].Curr == task) return $"{name}: running on CPU{c} (cpus_ptr {t.CpusPtr})";
        if (t.Dsq >= 0) return $"{name}: on {m.SlotName(t.Dsq)} (ops_state {ops}, cpus_ptr {t.CpusPtr})";
        if (t.ListOn >= 0) return $"{name}: linked on {m.SlotName(t.ListOn)} (ops_state {ops}, cpus_ptr {t.CpusPtr})";
        if (t.HoldingCpu >= 0) return $"{name}: in transfer, held by CPU{t.HoldingCpu} (ops_state {ops})";
        return OpsWord.State(t.OpsState) switch
        {
            OpsState.Queued or OpsState.Queueing => $"{name}: in BPF custody (ops_state {ops}, cpus_ptr {t.CpusPtr})",
            OpsState.Dispatching => $"{name}: being dispatched (ops_state {ops})",
            // Runnable, in no DSQ, not in BPF custody, not running: the "forgotten task" outcome.
            OpsState.None => $"{name}: runnable but owned by no one (ops_state NONE, cpus_ptr {t.CpusPtr})",
            _ => throw new System.Diagnostics.UnreachableException("ops_state has two bits"),
        };
    }
}
