using Scxlab.Stepping;

namespace Scxlab.Kernel;

/// <summary>The watchdog (ext.c <c>scx_watchdog_workfn()</c> → <c>check_rq_for_timeouts()</c>).</summary>
public sealed partial class Machine
{
    /// <summary>
    /// One watchdog pass at virtual time <see cref="SchedState.Clock"/>: walk every online CPU's
    /// runnable tasks (QUEUED and on the runnable list, i.e. waiting, not running) and end the
    /// scheduler with SCX_EXIT_ERROR_STALL for the first one runnable for longer than the
    /// timeout (<c>ops.timeout_ms</c>, or SCX_WATCHDOG_MAX_TIMEOUT). Returns true if it claimed
    /// the exit. Drivers call it between steps (it is the watchdog work item, not a CPU step);
    /// it takes no lock because no step is in progress when it runs.
    /// </summary>
    public bool CheckWatchdog()
    {
        World.InvalidateFingerprint(); // runs outside a step (the simulator's watchdog timer)
        if (World.Sched.ExitKind != ExitKind.None || World.Sched.Disabled) return false;
        var now = World.Sched.Clock;
        for (var c = 0; c < N; c++)
        {
            if ((World.Cpus[c].Flags & RqFlags.Online) == 0) continue;
            // rq->scx.runnable_list is in enqueue order; the model keeps the order implicit, so take
            // the oldest stamp among this CPU's runnable tasks (the walk stops at the first stall).
            var worst = -1;
            for (var t = 0; t < World.Tasks.Length; t++)
            {
                ref readonly var p = ref World.Tasks[t];
                if (p.Cpu != c || p.RunnableOrder == 0 || p.Class != SchedClass.Ext || (p.Flags & TaskFlags.Queued) == 0) continue;
                if (now - p.RunnableAt <= WatchdogTimeoutNs) continue; // time_after(jiffies, runnable_at + timeout)
                if (worst < 0 || p.RunnableAt < World.Tasks[worst].RunnableAt) worst = t;
            }
            if (worst < 0) continue;
            var durMs = (now - World.Tasks[worst].RunnableAt) / 1_000_000;
            var saveCur = _cur;
            _cur = _helper;
            ScxExit(ExitKind.ErrorStall, 0, $"{TaskName(worst)} failed to run for {(uint)(durMs / 1000)}.{durMs % 1000:D3}s");
            _cur = saveCur;
            return true;
        }
        return false;
    }
}
