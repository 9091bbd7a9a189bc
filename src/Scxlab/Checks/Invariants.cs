using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Checks;

/// <summary>
/// A named safety claim checked on every reached state. <see cref="Check"/> returns null when it
/// holds and allocates its message only when it fails, so the explorer's hot path stays
/// allocation-free.
/// </summary>
public abstract class Invariant
{
    public abstract string Name { get; }
    public abstract string Description { get; }
    public abstract string? Check(Machine m);

    /// <summary>
    /// What of the world <see cref="Check"/> reads. A check that reads only tasks, rqs and DSQs holds after a step that
    /// wrote none of them if it held before it (<see cref="StateChecker.CheckStateAfterStep"/>); anything that reads
    /// more (actor frames, the policy's maps, scripts) says <see cref="StateParts.Everything"/>, the default, and is
    /// evaluated on every state.
    /// </summary>
    public virtual StateParts Reads => StateParts.Everything;

    /// <summary>
    /// <see cref="Check"/>, plus a warning-level finding of a state that holds (<see cref="WarningSite.None"/>
    /// when there is none). The site identifies the finding without allocating; <see cref="WarningMessage"/>
    /// words it once, when a caller reports it.
    /// </summary>
    public virtual string? Check(Machine m, out WarningSite warning)
    {
        warning = WarningSite.None;
        return Check(m);
    }

    public virtual string WarningMessage(Machine m, WarningSite site) =>
        throw new System.Diagnostics.UnreachableException($"{Name} raises no warnings");
}

/// <summary>Parts of a world an invariant may read (<see cref="Invariant.Reads"/>).</summary>
[Flags]
public enum StateParts
{
    /// <summary>The tasks' <c>TaskState</c> (including their dsq_list links).</summary>
    Tasks = 1,
    /// <summary>The CPUs' <c>CpuState</c> (rq->curr, …).</summary>
    Rqs = 2,
    /// <summary>The DSQ slots' <c>DsqState</c> (heads, tails, counts).</summary>
    Dsqs = 4,
    Everything = ~0,
}

/// <summary>Where a warning-level finding is: the task, and the script actor and action index that will resolve it.</summary>
public readonly record struct WarningSite(int Task, int Actor, int Action)
{
    public static readonly WarningSite None = new(-1, -1, -1);
    public bool IsNone => Task < 0;
}

/// <summary>The catalogue of named checks (<c>scxlab list invariants</c>).</summary>
public static class InvariantCatalog
{
    public const string KernelAssertions = "KernelAssertions";
    public const string RunnableEventuallyRuns = "RunnableEventuallyRuns";

    public static IReadOnlyList<Invariant> Safety { get; } =
    [
        new TaskHasExactlyOneOwner(),
        new LocalDsqTaskAllowedOnCpu(),
        new NoDoubleDispatch(),
        new OpsStateWellFormed(),
        new DsqOrdering(),
    ];

    /// <summary>Every check: name and explanation, in the order <c>scxlab list invariants</c> prints them.</summary>
    public static IReadOnlyList<(string Name, string Description)> All { get; } =
    [
        .. Safety.Select(i => (i.Name, i.Description)),
        (KernelAssertions, "No kernel BUG()/WARN_ON_ONCE() site modelled in the paths is reached by any step (a protocol variant can make one reachable; it is then reported with its trace)."),
        (RunnableEventuallyRuns, "No task stalls: at every quiescent state (no actor has a step left), a deterministic drain on a copy runs the quiescent continuation — a CPU schedules only when the kernel would (resched pending, kicked, busy, a task on its local DSQ, or a boot-time resched still owed), an idle CPU otherwise sleeps, and each task that gets to run then sleeps so the others can run. A runnable task that nothing will ever run is reported as the watchdog's SCX_EXIT_ERROR_STALL (\"<comm>[<pid>] failed to run for <timeout>s\"); an actor blocked forever is a deadlock. A scheduler exit during the drain makes the check inconclusive for that state (not reported)."),
    ];

    public static IEnumerable<string> Names => All.Select(a => a.Name);

    public static bool IsKnown(string name) => All.Any(a => a.Name == name);
}

/// <summary>Read-only queries over the world that several checks share.</summary>
internal static class WorldQueries
{
    /// <summary>Does a kernel path on some actor's stack carry task <paramref name="t"/> (optionally only frames of <paramref name="path"/>)?</summary>
    public static bool PathHoldsTask(World w, int t, PathId path = PathId.None)
    {
        for (var a = 0; a < w.Actors.Length; a++)
        {
            var d = w.Actors[a].Depth;
            for (var i = 0; i < d; i++)
            {
                ref var f = ref w.Frames[a * w.MaxDepth + i];
                if (f.Task == t && f.Path != PathId.Callback && (path == PathId.None || f.Path == path)) return true;
            }
        }
        return false;
    }

    /// <summary>Is task <paramref name="t"/> in a live entry (below the cursor) of some CPU's dispatch buffer?</summary>
    public static bool InDispatchBuffer(World w, int t)
    {
        var per = w.DspBuf.Length / Math.Max(1, w.Cpus.Length);
        for (var c = 0; c < w.Cpus.Length; c++)
            for (var i = 0; i < w.Cpus[c].DspCursor; i++)
                if (w.DspBuf[c * per + i].Task == t) return true;
        return false;
    }

    public static int CurrentOn(World w, int t)
    {
        for (var c = 0; c < w.Cpus.Length; c++)
            if (w.Cpus[c].Curr == t) return c;
        return -1;
    }

    /// <summary>Is slot <paramref name="s"/> a dispatch queue (not one of the private lists that reuse the dsq_list node)?</summary>
    public static bool IsDsq(Machine m, int s) =>
        s == Machine.GlobalSlot || m.IsLocalSlot(s) || m.IsFallbackSlot(s) || m.IsBypassSlot(s) || (m.IsUserSlot(s) && m.World.Dsqs[s].Created);
}

/// <summary>Reference §7 item 10, with the BPF-custody refinement.</summary>
public sealed class TaskHasExactlyOneOwner : Invariant
{
    public override string Name => "TaskHasExactlyOneOwner";

    public override string Description =>
        "Every SCX_TASK_QUEUED task has an owner: it is the current task of a CPU, linked on a DSQ or on " +
        "ddsp_deferred_locals, mid-transfer (holding_cpu ≥ 0, sticky_cpu ≥ 0, migrating, or carried by a kernel path " +
        "that is moving it, e.g. dequeue_task_scx between ops_dequeue and clearing SCX_TASK_QUEUED), or its ops_state is " +
        "QUEUEING/DISPATCHING (the kernel has it) or QUEUED (BPF custody); and never both on a DSQ list and QUEUED. " +
        "A QUEUED task is forgotten when the policy's maps no longer hold it (ScxOps.HoldsTask = false), no live " +
        "dispatch-buffer entry names it, nothing in flight can hand it back (no kernel path carrying it other than a " +
        "sched_setaffinity caller only waiting for the stopper; no ops.dispatch on any CPU, which may hold a reference it " +
        "popped; no callback whose task is this one), and no remaining scripted action re-enqueues it (sched_setaffinity " +
        "or a weight change of this task: dequeue + ops.dequeue + ops.enqueue). When only such an action would rescue " +
        "it, the state is a warning (\"stranded until <action>\"), not a violation.";

    public override string? Check(Machine m) => Check(m, out _);

    public override string? Check(Machine m, out WarningSite warning)
    {
        warning = WarningSite.None;
        var w = m.World;
        for (var t = 0; t < w.Tasks.Length; t++)
        {
            ref var p = ref w.Tasks[t];
            if ((p.Flags & TaskFlags.Queued) == 0 || p.Run != RunState.Runnable || p.Class != SchedClass.Ext) continue;
            var st = OpsWord.State(p.OpsState);
            var linked = p.ListOn >= 0;
            if (linked && st == OpsState.Queued)
                return $"{m.TaskName(t)} is linked on {m.SlotName(p.ListOn)} and also {OpsWord.Format(p.OpsState)} (owned by BPF): two owners";
            var owned = linked || st != OpsState.None || p.HoldingCpu >= 0 || p.StickyCpu >= 0 || p.Migrating || WorldQueries.CurrentOn(w, t) >= 0
                || WorldQueries.PathHoldsTask(w, t);
            if (!owned)
                return $"{m.TaskName(t)} is SCX_TASK_QUEUED but has no owner: not current, on no DSQ, not in transfer, ops_state NONE, and no kernel path carries it";
            if (st != OpsState.Queued) continue;
            if (m.PolicyHoldsTask(w, t) != false) continue;
            if (WorldQueries.InDispatchBuffer(w, t) || CanHandBack(w, t)) continue;
            if (PendingRescue(m, t, out var actor, out var action))
            {
                if (warning.IsNone) warning = new WarningSite(t, actor, action);
                continue;
            }
            return $"{m.TaskName(t)} is {OpsWord.Format(p.OpsState)} (BPF custody) but the policy's maps no longer hold it, nothing in flight can hand it back and no remaining scripted action re-enqueues it: forgotten";
        }
        return null;
    }

    public override string WarningMessage(Machine m, WarningSite site)
    {
        var info = m.Actor(site.Actor);
        var action = info.Script!.Actions[site.Action];
        return $"{m.TaskName(site.Task)} is {OpsWord.Format(m.World.Tasks[site.Task].OpsState)} (BPF custody) but the policy's maps no longer hold it and nothing in flight can hand it back: stranded until {info.Name}: {action.Describe(m.Config)}";
    }

    /// <summary>
    /// Can something in flight still hand task <paramref name="t"/> back? A kernel path whose frame carries it
    /// (except a sched_setaffinity caller that only waits for the stopper: the stopper moves a running task,
    /// and one in BPF custody is not running); ops.dispatch on any CPU (it may have popped the task and hold it
    /// in a local until scx_bpf_dsq_insert); a callback whose task is <paramref name="t"/> (ops.enqueue,
    /// ops.select_cpu, ops.dequeue of it). A callback of another task cannot insert <paramref name="t"/>
    /// (scx_bpf_dsq_insert outside ops.dispatch only direct-dispatches the callback's own task).
    /// </summary>
    private static bool CanHandBack(World w, int t)
    {
        for (var a = 0; a < w.Actors.Length; a++)
        {
            var d = w.Actors[a].Depth;
            for (var i = 0; i < d; i++)
            {
                ref var f = ref w.Frames[a * w.MaxDepth + i];
                switch (f.Path)
                {
                    case PathId.None:
                        break;
                    case PathId.Callback:
                        if (f.I0 == (int)ScxCallback.Dispatch || f.Task == t) return true;
                        break;
                    default:
                        if (f.Task == t && f.Wait != WaitKind.StopperDone) return true;
                        break;
                }
            }
        }
        return false;
    }

    /// <summary>
    /// The first not-yet-started scripted action that re-enqueues <paramref name="t"/>: sched_setaffinity or a
    /// weight change of it (the core's dequeue/enqueue "change" pattern runs ops.dequeue and then ops.enqueue).
    /// No other action does: a wakeup of a runnable task is ttwu_runnable(), a kick runs ops.dispatch, which can
    /// insert only what the policy holds, and a sleep or exit takes effect only when the task is switched out.
    /// The model has no timers besides the watchdog, which ends the scheduler instead of re-enqueuing.
    /// </summary>
    private static bool PendingRescue(Machine m, int t, out int actor, out int action)
    {
        for (var a = 0; a < m.ActorCount; a++)
        {
            var info = m.Actor(a);
            if (info.Kind != ActorKind.Script || info.Script is null) continue;
            var actions = info.Script.Actions;
            for (var i = m.World.Actors[a].ScriptPc; i < actions.Count; i++)
            {
                if (actions[i].Task != t || actions[i].Kind is not (ActionKind.SetAffinity or ActionKind.SetWeight)) continue;
                actor = a;
                action = i;
                return true;
            }
        }
        actor = action = -1;
        return false;
    }
}

/// <summary>Reference §7 item 3.</summary>
public sealed class LocalDsqTaskAllowedOnCpu : Invariant
{
    public override string Name => "LocalDsqTaskAllowedOnCpu";

    public override string Description =>
        "A task on CPU c's local DSQ has task_cpu == c and c in its cpus_ptr. Exceptions (reference §7 item 3): " +
        "the task is migration-disabled (pinned to c); it is migrating (task_on_rq_migrating); it is exiting; or an " +
        "affinity change of that task is still in flight on some actor (a __set_cpus_allowed_ptr / move_queued_task " +
        "frame carries it: ops.enqueue may insert into SCX_DSQ_LOCAL right after the change, before the core's own " +
        "migration moves it); or it is CPU c's current task and a property change of it (set_cpus_allowed / set_weight " +
        "sched_change frame) is in flight: enqueue_task_scx() with ENQUEUE_RESTORE forces sticky_cpu = c for the current " +
        "task, so it sits on local[c] whatever its mask until set_next_task_scx() in the same frame takes it off. " +
        "Nothing else: a disallowed LOCAL_ON commit must never land here.";

    public override string? Check(Machine m)
    {
        var w = m.World;
        for (var c = 0; c < m.N; c++)
        {
            var slot = m.LocalSlot(c);
            var guard = w.Tasks.Length + 1;
            for (var t = w.Dsqs[slot].Head; t >= 0 && guard-- > 0; t = w.Tasks[t].Next)
            {
                ref var p = ref w.Tasks[t];
                if (p.Cpu != c && !p.Migrating)
                    return $"{m.TaskName(t)} is on local[{c}] but task_cpu is {p.Cpu}";
                if (p.CpusPtr.Test(c) || p.MigrationDisabled || p.Migrating || p.Exiting) continue;
                if (WorldQueries.PathHoldsTask(w, t, PathId.SetCpusAllowed) || WorldQueries.PathHoldsTask(w, t, PathId.MigrateQueued)) continue;
                // ENQUEUE_RESTORE of the current task (enqueue_task_scx: task_current → sticky_cpu = cpu_of(rq)):
                // a renice of a running task whose CPU already left its mask re-inserts it here, legally,
                // and set_next_task_scx() at the end of the same sched_change removes it (the stopper then moves it).
                if (w.Cpus[c].Curr == t && WorldQueries.PathHoldsTask(w, t, PathId.SetWeight)) continue;
                return $"{m.TaskName(t)} is on local[{c}] but cpus_ptr is {p.CpusPtr}";
            }
        }
        return null;
    }
}

/// <summary>Reference §7 items 1 and 15 (the structural half: one list, one CPU).</summary>
public sealed class NoDoubleDispatch : Invariant
{
    public override string Name => "NoDoubleDispatch";

    public override string Description =>
        "A task is linked on at most one list (a DSQ, ddsp_deferred_locals or a private reenqueue list), every " +
        "list's links agree with the tasks' list field, and no task is the current task of two CPUs. (At most one " +
        "T4 success per QUEUED instance follows: a second success would link or run the task twice.)";

    public override StateParts Reads => StateParts.Tasks | StateParts.Rqs | StateParts.Dsqs;

    public override string? Check(Machine m)
    {
        var w = m.World;
        var n = w.Tasks.Length;
        Span<byte> seen = n <= 256 ? stackalloc byte[n] : new byte[n];
        seen.Clear();
        for (var s = 0; s < w.Dsqs.Length; s++)
        {
            var guard = n + 1;
            var prev = -1;
            for (var t = w.Dsqs[s].Head; t >= 0; t = w.Tasks[t].Next)
            {
                if (guard-- <= 0) return $"{m.SlotName(s)}: the list has a cycle";
                if (seen[t] != 0) return $"{m.TaskName(t)} is linked on two lists (found again on {m.SlotName(s)})";
                seen[t] = 1;
                if (w.Tasks[t].ListOn != s) return $"{m.TaskName(t)} is reachable from {m.SlotName(s)} but its node says {(w.Tasks[t].ListOn < 0 ? "unlinked" : m.SlotName(w.Tasks[t].ListOn))}";
                if (w.Tasks[t].Prev != prev) return $"{m.TaskName(t)} on {m.SlotName(s)}: prev link is broken";
                prev = t;
            }
            if (w.Dsqs[s].Tail != prev) return $"{m.SlotName(s)}: tail does not match the last linked task";
        }
        // Each task's lowest and second-lowest CPU it is current on, in one pass over the CPUs (a pass per task cost
        // tasks × CPUs reads of rq->curr on every state: most of a fuzz step at 256 CPUs).
        Span<int> first = n <= 256 ? stackalloc int[n] : new int[n];
        Span<int> second = n <= 256 ? stackalloc int[n] : new int[n];
        first.Fill(-1);
        second.Fill(-1);
        for (var c = 0; c < w.Cpus.Length; c++)
        {
            var t = w.Cpus[c].Curr;
            if (t < 0 || t >= n) continue;
            if (first[t] < 0) first[t] = c;
            else if (second[t] < 0) second[t] = c;
        }
        for (var t = 0; t < n; t++)
        {
            if (w.Tasks[t].ListOn >= 0 && seen[t] == 0)
                return $"{m.TaskName(t)} says it is linked on {m.SlotName(w.Tasks[t].ListOn)} but that list does not reach it";
            if (second[t] >= 0) return $"{m.TaskName(t)} is current on CPU{first[t]} and CPU{second[t]}";
        }
        return null;
    }
}

/// <summary>Reference §7 items 4–7.</summary>
public sealed class OpsStateWellFormed : Invariant
{
    public override string Name => "OpsStateWellFormed";

    public override string Description =>
        "ops_state and its neighbours agree (reference §7 items 4–7): QUEUEING/QUEUED/DISPATCHING ⇒ not linked on " +
        "any list (and p->scx.dsq NULL unless a transfer holds it) — except QUEUEING/DISPATCHING while the " +
        "dispatch_enqueue(SCX_ENQ_CLEAR_OPSS) that linked it has yet to release ops_state (V-B drops a non-local DSQ's lock first); QUEUED ⇒ SCX_TASK_QUEUED; QUEUEING ⇒ the task's " +
        "rq lock is held (only do_enqueue_task can see it); DISPATCHING has zero qseq bits; holding_cpu ≥ 0 ⇒ " +
        "unlinked and ops_state NONE or DISPATCHING (or QUEUEING in that same release window). Item 8 (sticky_cpu) is not checked: the model sets sticky_cpu " +
        "and clears it inside single steps, so no state between the two is observable.";

    public override string? Check(Machine m)
    {
        var w = m.World;
        for (var t = 0; t < w.Tasks.Length; t++)
        {
            ref var p = ref w.Tasks[t];
            var st = OpsWord.State(p.OpsState);
            // dispatch_enqueue(…, SCX_ENQ_CLEAR_OPSS) links the task, drops a non-local DSQ's lock and only then
            // releases ops_state (V-B order): while that dispatch_enqueue() still carries the task, QUEUEING (a
            // direct dispatch) or DISPATCHING (a dispatch) on the list is the kernel's own window — and so is a
            // consumer that took the DSQ lock in it and set holding_cpu (it then waits for the task's rq lock, which
            // the enqueuer holds until after the release).
            var releasing = st is OpsState.Dispatching or OpsState.Queueing && WorldQueries.PathHoldsTask(w, t, PathId.DispatchEnqueue);
            if (st != OpsState.None)
            {
                if (p.ListOn >= 0 && !releasing) return $"{m.TaskName(t)} is {OpsWord.Format(p.OpsState)} but linked on {m.SlotName(p.ListOn)}";
                if (p.Dsq >= 0 && p.HoldingCpu < 0 && !releasing) return $"{m.TaskName(t)} is {OpsWord.Format(p.OpsState)} but p->scx.dsq is {m.SlotName(p.Dsq)}";
            }
            switch (st)
            {
                case OpsState.None:
                    break;
                case OpsState.Queued:
                    if ((p.Flags & TaskFlags.Queued) == 0) return $"{m.TaskName(t)} is {OpsWord.Format(p.OpsState)} without SCX_TASK_QUEUED";
                    break;
                case OpsState.Queueing:
                    if (w.Cpus[p.Cpu].RqLock < 0) return $"{m.TaskName(t)} is QUEUEING while CPU{p.Cpu}'s rq lock is free";
                    break;
                case OpsState.Dispatching:
                    if (OpsWord.Qseq(p.OpsState) != 0) return $"{m.TaskName(t)} is DISPATCHING with qseq bits {OpsWord.Qseq(p.OpsState) >> OpsWord.QseqShift}";
                    break;
                default:
                    throw new System.Diagnostics.UnreachableException("ops_state has two bits");
            }
            if (p.HoldingCpu >= 0)
            {
                if (p.ListOn >= 0) return $"{m.TaskName(t)} has holding_cpu {p.HoldingCpu} but is linked on {m.SlotName(p.ListOn)}";
                if (st is OpsState.Queued || (st is OpsState.Queueing && !releasing)) return $"{m.TaskName(t)} has holding_cpu {p.HoldingCpu} but is {OpsWord.Format(p.OpsState)}";
            }
        }
        return null;
    }
}

/// <summary>Reference §7 item 2.</summary>
public sealed class DsqOrdering : Invariant
{
    public override string Name => "DsqOrdering";

    public override string Description =>
        "Every DSQ's nr equals its linked tasks; a DSQ never mixes FIFO and PRIQ (vtime) tasks and its PRIQ count " +
        "matches the tasks flagged SCX_TASK_DSQ_ON_PRIQ; built-in DSQs (local, global, bypass) never hold PRIQ tasks; " +
        "on a PRIQ DSQ dsq_vtime is non-decreasing from head to tail.";

    public override StateParts Reads => StateParts.Tasks | StateParts.Dsqs;

    public override string? Check(Machine m)
    {
        var w = m.World;
        for (var s = 0; s < w.Dsqs.Length; s++)
        {
            ref var d = ref w.Dsqs[s];
            // An empty list with empty counts passes every test below (most slots, on every state checked).
            if (d.Head < 0 && d.Nr == 0 && d.PriqCount == 0) continue;
            if (!WorldQueries.IsDsq(m, s)) continue;
            int count = 0, priq = 0;
            var lastVtime = long.MinValue;
            var guard = w.Tasks.Length + 1;
            for (var t = d.Head; t >= 0 && guard-- > 0; t = w.Tasks[t].Next)
            {
                count++;
                if (w.Tasks[t].OnPriq)
                {
                    priq++;
                    if (w.Tasks[t].DsqVtime < lastVtime) return $"{m.SlotName(s)}: {m.TaskName(t)} has dsq_vtime {w.Tasks[t].DsqVtime} after a task with {lastVtime}";
                    lastVtime = w.Tasks[t].DsqVtime;
                }
            }
            if (count != d.Nr) return $"{m.SlotName(s)}: nr is {d.Nr} but {count} tasks are linked";
            if (priq != d.PriqCount) return $"{m.SlotName(s)}: {priq} linked tasks are ON_PRIQ but the PRIQ count is {d.PriqCount}";
            if (priq != 0 && priq != count) return $"{m.SlotName(s)} mixes {priq} PRIQ and {count - priq} FIFO tasks";
            if (priq != 0 && !m.IsUserSlot(s)) return $"built-in {m.SlotName(s)} holds PRIQ tasks";
        }
        return null;
    }
}
