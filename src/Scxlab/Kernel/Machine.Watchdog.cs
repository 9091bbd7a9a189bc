using Scxlab.Stepping;

namespace Scxlab.Kernel;

/// <summary>The watchdog (scx_watchdog_workfn → check_rq_for_timeouts), driven by a clock-keeping driver.</summary>
public sealed partial class Machine
{
    /// <summary>
    /// Walk every online CPU's runnable tasks (those not running) and raise SCX_EXIT_ERROR_STALL for
    /// the first whose runnable_at is older than the timeout, as check_rq_for_timeouts() does.
    /// Returns true if it raised a stall. Uses <see cref="SchedState.Clock"/> as jiffies.
    /// </summary>
    /// <remarks>The kernel walks runnable_list in list order; the model walks tasks by index within a CPU.
    /// Only which stalled task is named can differ, never whether the scheduler exits.</remarks>
    public bool CheckWatchdog()
    {
        if (World.Sched.ExitKind != ExitKind.None) return false;
        var now = World.Sched.Clock;
        for (var c = 0; c < N; c++)
        {
            if ((World.Cpus[c].Flags & RqFlags.Online) == 0) continue;
            for (var t = 0; t < World.Tasks.Length; t++)
            {
                ref readonly var p = ref World.Tasks[t];
                if (p.Cpu != c || p.RunnableOrder == 0 || p.Class != SchedClass.Ext) continue;
                var waited = now - p.RunnableAt;
                if (waited <= WatchdogTimeoutNs) continue;
                var ms = waited / 1_000_000;
                _cur = _helper;
                ScxExit(ExitKind.ErrorStall, 0, $"{TaskName(t)} failed to run for {ms / 1000}.{ms % 1000:D3}s");
                return true;
            }
        }
        return false;
    }
}
