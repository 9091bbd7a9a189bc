using System.Runtime.InteropServices;
using Scxlab.Bpf;
using Scxlab.Stepping;

namespace Scxlab.Kernel;

/// <summary>
/// The CPU side: __schedule() around balance_one(), the dispatch loop, flush_dispatch_buf(),
/// finish_dispatch(), dispatch_to_local_dsq() with the holding_cpu handshake, consume and moves
/// (ext.c V-B, 7.0/7.1).
/// </summary>
public sealed partial class Machine
{
    private ref Frame Call(ref Frame caller, int returnPc, PathId path)
    {
        caller.Pc = returnPc;
        return ref Push(path);
    }

    private long Ret => Act.Ret;

    private bool IsScx(int t) => t >= 0 && TkR(t).Class == SchedClass.Ext;
    private bool ScxQueued(int t) => t >= 0 && (TkR(t).Flags & TaskFlags.Queued) != 0;

    // ---------------------------------------------------------------- __schedule()

    /// <summary>__schedule()'s locals (Cpu = the scheduling CPU).</summary>
    private struct ScheduleLocals
    {
        /// <summary>rq->curr when the path took the rq lock (prev), or -1 once the fair class put it back.</summary>
        public int Prev;
        /// <summary>The task picked to run (next), -1 for idle.</summary>
        public int Next;
        /// <summary>1 when prev was deactivated for sleep (deactivate_task(DEQUEUE_SLEEP)).</summary>
        public int PrevSlept;
        /// <summary>The stopper (migration_cpu_stop(), a higher class) preempts prev: ext's balance and pick do not run.</summary>
        public int StopperPreempts;
        /// <summary>The CPU whose rq lock migrate_queued returns holding (prev's new CPU).</summary>
        public int MigrateDst;
        /// <summary>kick_sync_wait_bal_cb(): the kicked CPU being waited for.</summary>
        public int KickWaitCpu;
    }

    /// <summary>__schedule()'s resume points.</summary>
    private enum ScheduleAt
    {
        Entry = 0,
        /// <summary>rq_lock(rq) taken: put prev back (fair) or deactivate_task() it for sleep.</summary>
        AfterRqLock = 1,
        /// <summary>prev's sleep accounted: the fair class picks first, else balance_one().</summary>
        AfterDeactivate = 2,
        /// <summary>balance_one() returned (or skipped for the stopper): pick_task_scx().</summary>
        AfterBalance = 3,
        /// <summary>put_prev_task_scx() returned (or was not needed).</summary>
        AfterPutPrev = 4,
        /// <summary>set_next_task_scx() for an ext next that is not prev (the step runs on from AfterPutPrev).</summary>
        SetNext = 40,
        /// <summary>set_next_task_scx() returned (or not needed): rq->curr = next, the context switch.</summary>
        SwitchTo = 5,
        /// <summary>migrate_queued returned holding the destination rq: drop it.</summary>
        AfterMigrate = 6,
        /// <summary>rq lock dropped: run the balance callback queued by an SCX_KICK_WAIT, if any.</summary>
        BalanceCallbacks = 7,
        /// <summary>The idle mask updated for next (a step of its own at fine granularity): rq->curr = next.</summary>
        PublishCurr = 10,
        /// <summary>kick_sync_wait_bal_cb(): find the next kicked CPU still to pass through its scheduling path.</summary>
        KickSyncWait = 8,
        /// <summary>The CPU left the idle task (its built-in idle bit cleared): ops.update_idle(cpu, false), then set_next.</summary>
        IdleExitNotify = 11,
        /// <summary>The built-in idle bit set for a switch to the idle task: ops.update_idle(cpu, true), then rq->curr.</summary>
        IdleEnterNotify = 12,
        /// <summary>The waited-for CPU's kick_sync moved.</summary>
        AfterKickSync = 9,
        /// <summary>finish_task_switch() after the balance callbacks: sched_ext_dead(prev) when prev died (TASK_DEAD).</summary>
        FinishTaskSwitch = 13,
        /// <summary>sched_ext_dead() returned.</summary>
        AfterTaskDead = 14,
    }

    // Requires: nothing. Takes rq(c). Ensures: rq(c) released, rq->curr chosen.
    private void PathSchedule(ref Frame f)
    {
        var c = f.Cpu;
        ref var sc = ref f.Locals<ScheduleLocals>();
        switch ((ScheduleAt)f.Pc)
        {
            case ScheduleAt.Entry:
                LockRq(ref f, c, (int)ScheduleAt.AfterRqLock);
                return;
            case ScheduleAt.AfterRqLock:
            {
                var prev = Rq(c).Curr;
                sc.Prev = prev;
                if (prev >= 0 && TkR(prev).Class == SchedClass.Fair)
                {
                    FairPutPrev(prev);
                    sc.Prev = -1;
                    goto case ScheduleAt.AfterDeactivate;
                }
                if (prev >= 0 && TkR(prev).WantsSleep && TkR(prev).Run == RunState.Runnable)
                {
                    // deactivate_task(rq, prev, DEQUEUE_SLEEP)
                    sc.PrevSlept = 1;
                    CallDequeueTask(ref f, (int)ScheduleAt.AfterDeactivate, prev, c, (long)DeqFlags.Sleep);
                    return;
                }
                goto case ScheduleAt.AfterDeactivate;
            }
            case ScheduleAt.AfterDeactivate:
            {
                var prev = sc.Prev;
                if (sc.PrevSlept == 1)
                {
                    ref var p = ref Tk(prev);
                    p.Run = p.Exiting ? RunState.Dead : RunState.Sleeping;
                    p.WantsSleep = false;
                }
                // The fair class sits above ext: once tasks were handed back to it, it picks first.
                if (prev < 0 || !IsScx(prev))
                {
                    var fair = FairPick(c);
                    if (fair >= 0)
                    {
                        sc.Next = fair;
                        goto case ScheduleAt.SwitchTo;
                    }
                }
                if (SchR().Disabled)
                {
                    sc.Next = -1;
                    goto case ScheduleAt.SwitchTo;
                }
                if (IsScx(prev) && ScxQueued(prev) && !TkR(prev).CpusPtr.Test(c) && FirstAllowedOnline(prev) >= 0)
                {
                    // The affinity change queued migration_cpu_stop(): the stopper class (above ext) preempts
                    // prev here, so ext's balance/pick do not run; put_prev_task_scx() sees a higher-class next.
                    sc.StopperPreempts = 1;
                    goto case ScheduleAt.AfterBalance;
                }
                // do_pick_task_scx(): "see kick_cpus_irq_workfn()": kick_sync moves as picking starts, so a CPU
                // waiting on SCX_KICK_WAIT for this one may leave while balance_one() still runs.
                Rq(c).KickSync++;
                ref var b = ref Call(ref f, (int)ScheduleAt.AfterBalance, PathId.BalanceOne);
                b.Cpu = c;
                b.Task = IsScx(prev) ? prev : -1;
                return;
            }
            case ScheduleAt.AfterBalance:
            {
                // pick_task_scx(): keep prev, or the head of the local DSQ.
                var prev = sc.Prev;
                ref var rq = ref Rq(c);
                int next;
                if (sc.StopperPreempts == 1)
                {
                    next = -1; // the stopper runs; the model shows the CPU idle for this round
                }
                else if ((rq.Flags & RqFlags.BalKeep) != 0 && IsScx(prev) && ScxQueued(prev))
                {
                    next = prev;
                    if (TkR(prev).Slice == 0) RefillTaskSliceDfl(prev);
                }
                else
                {
                    next = DqR(LocalSlot(c)).Head;
                    if (next >= 0 && TkR(next).Slice == 0)
                    {
                        // A printk_deferred(KERN_WARNING), once per scheduler, not a WARN: a trace line only.
                        ref var sch = ref Sch();
                        if (!Bypassing && !sch.WarnedZeroSlice)
                        {
                            Trace?.Note(_cur, $"sched_ext: {TaskName(next)} has zero slice in pick_task_scx()");
                            sch.WarnedZeroSlice = true;
                        }
                        RefillTaskSliceDfl(next);
                    }
                }
                sc.Next = next;
                if (prev < 0 && next >= 0)
                {
                    // put_prev_task_idle(): the CPU leaves the idle task, and __scx_update_idle(rq, false, true)
                    // clears its built-in idle bit here, before set_next_task_scx() runs ops.running for next
                    // (put_prev_set_next_task() order). Kfuncs read the bit without this rq's lock.
                    if (BuiltinIdle)
                    {
                        rq.Idle = false;
                        if (PublishCut(ref f, (int)ScheduleAt.IdleExitNotify)) return;
                    }
                    goto case ScheduleAt.IdleExitNotify;
                }
                if (prev >= 0 && prev != next && IsScx(prev))
                {
                    CallPutPrevTask(ref f, (int)ScheduleAt.AfterPutPrev, prev, c, sc.StopperPreempts == 1 ? PutPrevNextHigherClass : next);
                    return;
                }
                goto case ScheduleAt.AfterPutPrev;
            }
            case ScheduleAt.IdleExitNotify:
                // __scx_update_idle(): after the built-in update, ops.update_idle(cpu, false) (not while bypassing).
                // (Has() first: a policy without the op reads no scheduler state here, so the step's footprint is unchanged.)
                if (Has.Has(ScxCallback.UpdateIdle) && !Bypassing && Invoke(ref f, (int)ScheduleAt.AfterPutPrev, ScxCallback.UpdateIdle, -1, c, 0)) return;
                goto case ScheduleAt.AfterPutPrev;
            case ScheduleAt.AfterPutPrev:
                goto case ScheduleAt.SetNext;
            case ScheduleAt.SetNext:
            {
                var next = sc.Next;
                if (next >= 0 && next != sc.Prev && IsScx(next))
                {
                    CallSetNextTask(ref f, (int)ScheduleAt.SwitchTo, next, c);
                    return;
                }
                goto case ScheduleAt.SwitchTo;
            }
            case ScheduleAt.SwitchTo:
            {
                var next = sc.Next;
                ref var rq = ref Rq(c);
                if (next >= 0 && TkR(next).Class == SchedClass.Fair)
                {
                    ref var p = ref Tk(next);
                    p.FairQueued = false;
                    p.Cpu = c;
                }
                // The idle class's put_prev/set_next update the built-in idle mask during the pick, before
                // __schedule() publishes rq->curr; kfuncs read both without this rq's lock, so fine
                // granularity ends a step between the two stores.
                // (Frozen when ops.update_idle turned built-in idle tracking off.)
                if (BuiltinIdle) rq.Idle = next < 0;
                // rq->next_class becomes the picked task's class (rq_is_open() reads it): the stopper's when it preempted.
                rq.NextClass = sc.StopperPreempts == 1 || (next >= 0 && !IsScx(next)) ? NextClass.AboveExt : next >= 0 ? NextClass.Ext : NextClass.BelowExt;
                // Between the two stores next is off its DSQ and not yet rq->curr: this path carries it
                // (the frame's task names it for the ownership check, and only until PublishCurr).
                f.Task = next;
                if (PublishCut(ref f, (int)ScheduleAt.IdleEnterNotify)) return;
                goto case ScheduleAt.IdleEnterNotify;
            }
            case ScheduleAt.IdleEnterNotify:
                // set_next_task_idle(): a task → idle transition notifies ops.update_idle(cpu, true) after the
                // built-in update (idle → idle is pick_task_idle()'s refresh: no notification). The stopper is a
                // task, not idle, in the kernel.
                if (Has.Has(ScxCallback.UpdateIdle) && sc.Prev >= 0 && sc.Next < 0 && sc.StopperPreempts != 1 && !Bypassing
                    && Invoke(ref f, (int)ScheduleAt.PublishCurr, ScxCallback.UpdateIdle, -1, c, 1)) return;
                goto case ScheduleAt.PublishCurr;
            case ScheduleAt.PublishCurr:
            {
                var next = sc.Next;
                ref var rq = ref Rq(c);
                f.Task = -1;
                // __schedule(): "if (likely(prev != next)) { ... RCU_INIT_POINTER(rq->curr, next); ++*switch_count;"
                // — nvcsw when prev blocked, nivcsw when it was preempted or yielded the CPU.
                if (_countsSwitches && sc.Prev >= 0 && sc.Prev != next)
                {
                    ref var p = ref Tk(sc.Prev);
                    if (sc.PrevSlept == 1) p.Nvcsw++;
                    else p.Nivcsw++;
                }
                rq.Curr = next;
                rq.NeedResched = false;
                rq.Flags &= ~RqFlags.InBalance;
                Trace?.Note(_cur, next >= 0 ? $"runs {TaskName(next)}" : "goes idle");
                // The stopper migrates a task whose CPU left its mask once it has been switched out
                // (rq->curr is already next, so nothing on this CPU charges prev any more).
                var prev = sc.Prev;
                if (prev >= 0 && prev != next && TkR(prev).Run == RunState.Runnable && TkR(prev).Class == SchedClass.Ext
                    && !TkR(prev).CpusPtr.Test(c) && TkR(prev).Cpu == c)
                {
                    // The stopper's arg->dest_cpu, chosen by the affinity change that queued it.
                    var dst = RqR(c).StopperTask == prev ? RqR(c).StopperDest : FirstAllowedOnline(prev);
                    if (dst >= 0 && dst != c && TkR(prev).CpusPtr.Test(dst))
                    {
                        sc.MigrateDst = dst;
                        CallMigrateQueued(ref f, (int)ScheduleAt.AfterMigrate, prev, c, dst, relockSrcRq: false); // returns holding rq(dst)
                        return;
                    }
                }
                UnlockRq(c);
                goto case ScheduleAt.BalanceCallbacks;
            }
            case ScheduleAt.AfterMigrate:
                UnlockRq(sc.MigrateDst);
                goto case ScheduleAt.BalanceCallbacks;
            case ScheduleAt.BalanceCallbacks:
            {
                // do_pick_task_scx(): a SCX_KICK_WAIT issued from here queued kick_sync_wait_bal_cb.
                ref var rq = ref Rq(c);
                if (!rq.KickSyncPending) goto case ScheduleAt.FinishTaskSwitch;
                rq.KickSyncPending = false;
                rq.KickWaiting = true;
                goto case ScheduleAt.KickSyncWait;
            }
            case ScheduleAt.KickSyncWait:
            {
                // kick_sync_wait_bal_cb(): wait until every kicked CPU has passed through its scheduling
                // path. The rq lock is dropped while spinning, and the spinner keeps advancing its own
                // kick_sync, so a cycle of waiters (A→B→C→A) all see movement and leave.
                ref var rq = ref Rq(c);
                for (var t = rq.CpusToSync.Next(0); t >= 0 && t < N; t = rq.CpusToSync.Next(t + 1))
                {
                    var seen = KickSyncR(c, t);
                    if (t == c || RqR(t).KickSync != seen)
                    {
                        rq.CpusToSync.Clear(t);
                        continue;
                    }
                    rq.KickSync++;
                    // The stopper flag is dead from here on; the flag and the waited-for CPU once shared a
                    // register, so clearing it keeps the frame's bytes a function of what is live, and the
                    // explored state space unchanged.
                    sc.StopperPreempts = 0;
                    sc.KickWaitCpu = t;
                    Trace?.Note(_cur, $"kick_sync_wait_bal_cb: wait for CPU{t}");
                    WaitFor(ref f, (int)ScheduleAt.AfterKickSync, WaitKind.KickSync, t, seen);
                    return;
                }
                rq.KickWaiting = false;
                goto case ScheduleAt.FinishTaskSwitch;
            }
            case ScheduleAt.FinishTaskSwitch:
            {
                // finish_task_switch(): "if (unlikely(prev_state == TASK_DEAD))" → sched_ext_dead(prev), on this CPU
                // once it has switched away from prev for the last time and dropped the rq lock. The path exists for a
                // scheduler that has ops.disable or ops.exit_task (without them scx_exit_task() changes nothing the
                // model keeps), and while it is attached.
                var prev = sc.Prev;
                if (sc.PrevSlept == 1 && prev >= 0 && prev != sc.Next && TkR(prev).Run == RunState.Dead
                    && (Has.Has(ScxCallback.Disable) || Has.Has(ScxCallback.ExitTask)) && !SchR().Disabled)
                {
                    ref var d = ref Call(ref f, (int)ScheduleAt.AfterTaskDead, PathId.SchedExtDead);
                    d.Task = prev;
                    return;
                }
                Return();
                return;
            }
            case ScheduleAt.AfterTaskDead:
                Return();
                return;
            case ScheduleAt.AfterKickSync:
                // The target's kick_sync moved (or it is spinning itself, which moves it): done with it.
                Rq(c).CpusToSync.Clear(sc.KickWaitCpu);
                goto case ScheduleAt.KickSyncWait;
            default:
                throw new System.Diagnostics.UnreachableException($"__schedule resume point {f.Pc}");
        }
    }

    /// <summary>sched_ext_dead()'s resume points.</summary>
    private enum SchedExtDeadAt
    {
        Entry = 0,
        /// <summary>p->pi_lock taken: task_rq_lock() locks task_rq(p) (a dead task does not move).</summary>
        AfterPiLock = 1,
        /// <summary>task_rq(p)'s lock taken: scx_exit_task() → scx_disable_task() → ops.disable(p).</summary>
        AfterRqLock = 2,
        /// <summary>ops.disable returned (or is not implemented): ops.exit_task(p, {.cancelled = false}).</summary>
        AfterDisable = 3,
        /// <summary>ops.exit_task returned: SCX_TASK_NONE, task_rq_unlock().</summary>
        AfterExitTask = 4,
    }

    /// <summary>
    /// sched_ext_dead(p): p has switched out for the last time (TASK_DEAD). It leaves scx_tasks, and under
    /// task_rq_lock() scx_exit_task() takes it from SCX_TASK_ENABLED to NONE: ops.disable(p) (scx_disable_task()), then
    /// ops.exit_task(p, {.cancelled = false}). Every model task was enabled at load. Task = p, Cpu = the rq held.
    /// </summary>
    private void PathSchedExtDead(ref Frame f)
    {
        var p = f.Task;
        switch ((SchedExtDeadAt)f.Pc)
        {
            case SchedExtDeadAt.Entry:
                Trace?.Note(_cur, $"sched_ext_dead({TaskName(p)})");
                WaitFor(ref f, (int)SchedExtDeadAt.AfterPiLock, WaitKind.PiLock, p);
                return;
            case SchedExtDeadAt.AfterPiLock:
                f.Cpu = TkR(p).Cpu;
                LockRq(ref f, f.Cpu, (int)SchedExtDeadAt.AfterRqLock);
                return;
            case SchedExtDeadAt.AfterRqLock:
                if (Invoke(ref f, (int)SchedExtDeadAt.AfterDisable, ScxCallback.Disable, p, f.Cpu)) return;
                goto case SchedExtDeadAt.AfterDisable;
            case SchedExtDeadAt.AfterDisable:
                if (Invoke(ref f, (int)SchedExtDeadAt.AfterExitTask, ScxCallback.ExitTask, p, f.Cpu)) return;
                goto case SchedExtDeadAt.AfterExitTask;
            case SchedExtDeadAt.AfterExitTask:
                UnlockRq(f.Cpu);
                UnlockPi(p);
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"sched_ext_dead resume point {f.Pc}");
        }
    }

    /// <summary>refill_task_slice_dfl(): sch->slice_dfl is the bypass slice while bypassing (inc_bypass_depth()).</summary>
    private void RefillTaskSliceDfl(int t)
    {
        Tk(t).Slice = Bypassing ? ScxConst.SliceBypass : ScxConst.SliceDfl;
        Event(ScxEvent.RefillSliceDfl);
    }

    private int FirstAllowedOnline(int t)
    {
        for (var c = 0; c < N; c++)
            if (TkR(t).CpusPtr.Test(c)) return c;
        return -1;
    }

    /// <summary>The fair class after a scheduler exit: a FIFO sink any allowed CPU drains, so nothing is lost.</summary>
    private void FairPutPrev(int t)
    {
        ref var p = ref Tk(t);
        if (p.WantsSleep)
        {
            p.Run = p.Exiting ? RunState.Dead : RunState.Sleeping;
            p.WantsSleep = false;
            p.FairQueued = false;
        }
        else if (p.Run == RunState.Runnable)
        {
            p.FairQueued = true;
            KickIdleFairCpu(t);
        }
    }

    /// <summary>
    /// The fair sink's stand-in for select_idle_sibling()/idle balancing: a queued fair task wakes
    /// the first idle CPU it may run on, so the fair class keeps every allowed CPU busy after a
    /// scheduler exit. Returns that CPU, or -1.
    /// </summary>
    private int KickIdleFairCpu(int t)
    {
        ref readonly var p = ref TkR(t);
        for (var c = 0; c < N; c++)
        {
            if (!p.CpusPtr.Test(c) || RqR(c).Curr >= 0) continue;
            Rq(c).NeedResched = true;
            return c;
        }
        return -1;
    }

    private int FairPick(int c)
    {
        for (var t = 0; t < World.Tasks.Length; t++)
        {
            ref readonly var p = ref TkR(t);
            if (p.FairQueued && p.Class == SchedClass.Fair && p.CpusPtr.Test(c))
            {
                // Not already running elsewhere.
                var running = false;
                for (var o = 0; o < N; o++) running |= RqR(o).Curr == t;
                if (!running) return t;
            }
        }
        return -1;
    }

    // ---------------------------------------------------------------- balance_one()

    /// <summary>balance_one()'s locals (Cpu = the balancing CPU, Task = prev if it is an SCX task, else -1).</summary>
    private struct BalanceOneLocals
    {
        /// <summary>Rounds of the ops.dispatch loop so far (bounded by SCX_DSP_MAX_LOOPS).</summary>
        public int Loops;
    }

    /// <summary>balance_one()'s resume points.</summary>
    private enum BalanceOneAt
    {
        Entry = 0,
        /// <summary>fallback-dsq (v2) drained this rq's fallback DSQ (also reached directly): is the local DSQ non-empty?</summary>
        AfterFallbackDrain = 1,
        /// <summary>consume_global_dsq() before the dispatch loop returned.</summary>
        AfterConsumeGlobal = 2,
        /// <summary>The top of the dispatch loop: reset dspc->nr_tasks, call ops.dispatch.</summary>
        DispatchLoop = 3,
        /// <summary>ops.dispatch returned: flush_dispatch_buf().</summary>
        AfterDispatch = 4,
        /// <summary>flush_dispatch_buf() returned: keep prev, a local task, or consume the global DSQ.</summary>
        AfterFlush = 5,
        /// <summary>consume of this CPU's bypass DSQ returned (bypassing).</summary>
        AfterConsumeBypass = 6,
        /// <summary>Nothing found: keep prev if it is still runnable (unless SCX_OPS_ENQ_LAST), else go idle.</summary>
        NothingFound = 7,
        /// <summary>consume_global_dsq() inside the loop returned: loop again while ops.dispatch made progress.</summary>
        AfterConsumeGlobalInLoop = 8,
        /// <summary>
        /// fallback-dsq (v2) with the drain placed before keep-prev drained the fallback DSQ (also reached directly):
        /// keep prev if it still has slice.
        /// </summary>
        AfterEarlyFallbackDrain = 9,
        /// <summary>ops.cpu_acquire returned (the CPU came back from a higher class): charge prev, then as from Entry.</summary>
        AfterCpuAcquire = 10,
        /// <summary>A task to run (local DSQ non-empty, or prev kept): return true.</summary>
        HasTask = 100,
    }

    // Requires: rq(c) held. Returns 1 if there is a task to run.
    private void PathBalanceOne(ref Frame f)
    {
        var c = f.Cpu;
        var prev = f.Task;
        ref var bl = ref f.Locals<BalanceOneLocals>();
        switch ((BalanceOneAt)f.Pc)
        {
            case BalanceOneAt.Entry:
            {
                ref var rq = ref Rq(c);
                rq.Flags |= RqFlags.InBalance;
                rq.Flags &= ~RqFlags.BalKeep;
                // The CPU comes back from a higher class (the stopper took it: ops.cpu_release ran in switch_class()):
                // ops.cpu_acquire(cpu, NULL) tells the scheduler it has the CPU again, and the released state ends.
                if (rq.CpuReleased)
                {
                    rq.CpuReleased = false;
                    if (Invoke(ref f, (int)BalanceOneAt.AfterCpuAcquire, ScxCallback.CpuAcquire, -1, c)) return;
                }
                goto case BalanceOneAt.AfterCpuAcquire;
            }
            case BalanceOneAt.AfterCpuAcquire:
            {
                if (prev >= 0) UpdateCurrScx(c);
                if (Config.Protocol == Protocol.FallbackDsq && Config.FallbackDrain.BeforeKeepPrev && DqR(FallbackSlot(c)).Nr > 0)
                {
                    // fallback-dsq (v2), drain placed before keep-prev (a ModelConfig choice).
                    CallReenqueueLocal(ref f, (int)BalanceOneAt.AfterEarlyFallbackDrain, c, ReenqMode.FallbackDrain); // rq already held
                    return;
                }
                goto case BalanceOneAt.AfterEarlyFallbackDrain;
            }
            case BalanceOneAt.AfterEarlyFallbackDrain:
            {
                if (prev >= 0 && ScxQueued(prev) && TkR(prev).Slice > 0 && !Bypassing)
                {
                    Rq(c).Flags |= RqFlags.BalKeep;
                    goto case BalanceOneAt.HasTask;
                }
                if (Config.Protocol == Protocol.FallbackDsq && !Config.FallbackDrain.BeforeKeepPrev && DqR(FallbackSlot(c)).Nr > 0)
                {
                    // fallback-dsq (v2): drain this rq's fallback DSQ first, re-enqueueing with SCX_ENQ_REENQ.
                    CallReenqueueLocal(ref f, (int)BalanceOneAt.AfterFallbackDrain, c, ReenqMode.FallbackDrain); // rq already held
                    return;
                }
                goto case BalanceOneAt.AfterFallbackDrain;
            }
            case BalanceOneAt.AfterFallbackDrain:
            {
                if (DqR(LocalSlot(c)).Nr > 0) goto case BalanceOneAt.HasTask;
                // scx_dispatch_sched(): consume_global_dsq() first, bypassing or not.
                CallConsumeDispatchQ(ref f, (int)BalanceOneAt.AfterConsumeGlobal, GlobalSlot);
                return;
            }
            case BalanceOneAt.AfterConsumeGlobal:
                if (Ret != 0) goto case BalanceOneAt.HasTask;
                if (Bypassing)
                {
                    // "if @sch is bypassing, only the bypass DSQs are active": its result is the answer.
                    // The kernel also consumes the bypass DSQ after the dispatch loop while bypass
                    // dispatch is enabled but the scheduler is not bypassing — a window of
                    // scx_bypass(false) that the model never opens (docs/ext-c-notes.md).
                    CallConsumeDispatchQ(ref f, (int)BalanceOneAt.AfterConsumeBypass, BypassSlot(c));
                    return;
                }
                if (!Has.Has(ScxCallback.Dispatch)) goto case BalanceOneAt.NothingFound;
                bl.Loops = 0;
                goto case BalanceOneAt.DispatchLoop;
            case BalanceOneAt.DispatchLoop:
                Rq(c).DspNrTasks = 0;
                if (Invoke(ref f, (int)BalanceOneAt.AfterDispatch, ScxCallback.Dispatch, prev, c)) return;
                goto case BalanceOneAt.AfterDispatch;
            case BalanceOneAt.AfterDispatch:
            {
                ref var fl = ref Call(ref f, (int)BalanceOneAt.AfterFlush, PathId.FlushDispatchBuf);
                fl.Cpu = c;
                return;
            }
            case BalanceOneAt.AfterFlush:
                if (prev >= 0 && ScxQueued(prev) && TkR(prev).Slice > 0)
                {
                    Rq(c).Flags |= RqFlags.BalKeep;
                    goto case BalanceOneAt.HasTask;
                }
                if (DqR(LocalSlot(c)).Nr > 0) goto case BalanceOneAt.HasTask;
                CallConsumeDispatchQ(ref f, (int)BalanceOneAt.AfterConsumeGlobalInLoop, GlobalSlot);
                return;
            case BalanceOneAt.AfterConsumeGlobalInLoop:
                if (Ret != 0) goto case BalanceOneAt.HasTask;
                if (++bl.Loops >= ScxConst.DspMaxLoops)
                {
                    // Too many loops: kick self (no flags) and give up for now.
                    ref var rq = ref Rq(c);
                    rq.CpusToKick.Set(c);
                    rq.KickIrqWork = true;
                    goto case BalanceOneAt.NothingFound;
                }
                if (RqR(c).DspNrTasks > 0) goto case BalanceOneAt.DispatchLoop;
                goto case BalanceOneAt.NothingFound;
            case BalanceOneAt.AfterConsumeBypass:
                if (Ret != 0) goto case BalanceOneAt.HasTask;
                goto case BalanceOneAt.NothingFound;
            case BalanceOneAt.NothingFound:
                // Nothing found: keep prev if it is still runnable (unless SCX_OPS_ENQ_LAST).
                if (prev >= 0 && ScxQueued(prev) && ((Ops.Flags & OpsFlags.EnqLast) == 0 || Bypassing))
                {
                    Rq(c).Flags |= RqFlags.BalKeep;
                    Event(ScxEvent.DispatchKeepLast);
                    goto case BalanceOneAt.HasTask;
                }
                Rq(c).Flags &= ~RqFlags.InBalance;
                Return(0);
                return;
            case BalanceOneAt.HasTask:
            {
                // has_tasks: curr's slice may have been extended while rq_is_open() said yes, or a HEAD task went in
                // front of an IMMED one: with more than one task queued, the IMMED ones are re-enqueued after the pick.
                ref var rq = ref Rq(c);
                if (DqR(LocalSlot(c)).Nr > 1 && rq.NrImmed != 0) ScheduleReenqLocal(c, 0);
                rq.Flags &= ~RqFlags.InBalance;
                Return(1);
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"balance_one resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- put_prev_task_scx() / set_next_task_scx()

    /// <summary>
    /// put_prev_task_scx()'s locals (Cpu = the rq's CPU, Task = p, the current task). Explicit layout:
    /// migration_cpu_stop() in Machine.Syscalls.cs still writes Next through the frame's I0 register.
    /// </summary>
    /// <remarks>
    /// The explicit views of this file and Machine.Ghost.cs use Pack = 4: a struct with a long field would
    /// otherwise round its size up to 40 bytes, past the 36-byte register block. The block starts 8-aligned,
    /// so the longs at offsets 0, 8 and 16 stay aligned.
    /// </remarks>
    [StructLayout(LayoutKind.Explicit, Pack = 4)]
    private struct PutPrevTaskLocals
    {
        /// <summary>The task that runs next: -1 for none (SCX_ENQ_LAST applies), <see cref="PutPrevNextHigherClass"/> for a higher-class next.</summary>
        [FieldOffset(24)] public int Next;
    }

    /// <summary>put_prev_task_scx()'s next: a higher-class task (the stopper), which is not SCX_ENQ_LAST.</summary>
    private const int PutPrevNextHigherClass = -2;

    /// <summary>put_prev_task_scx()'s resume points.</summary>
    private enum PutPrevTaskAt
    {
        Entry = 0,
        /// <summary>ops.stopping(p, true) returned: back to the local DSQ head, or do_enqueue_task().</summary>
        AfterStopping = 1,
        /// <summary>The re-enqueue returned.</summary>
        Done = 2,
        /// <summary>kick_sync bumped (its own step when ops.stopping follows): call ops.stopping(p, true).</summary>
        CallStopping = 3,
        /// <summary>A preempted IMMED task's do_enqueue_task(SCX_ENQ_REENQ) returned: clear its reason.</summary>
        AfterPreemptedReenq = 4,
    }

    private void CallPutPrevTask(ref Frame caller, int returnPc, int p, int cpu, int next)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.PutPrevTask);
        callee.Task = p;
        callee.Cpu = cpu;
        callee.Locals<PutPrevTaskLocals>().Next = next;
    }

    // Requires: rq(c) held.
    private void PathPutPrevTask(ref Frame f)
    {
        var p = f.Task;
        var c = f.Cpu;
        ref var pp = ref f.Locals<PutPrevTaskLocals>();
        switch ((PutPrevTaskAt)f.Pc)
        {
            case PutPrevTaskAt.Entry:
                // "see kick_sync_wait_bal_cb()": a CPU waiting on SCX_KICK_WAIT for this one may leave now.
                Rq(c).KickSync++;
                if (RqR(c).Curr == p) UpdateCurrScx(c);
                if (ScxQueued(p) && Has.Has(ScxCallback.Stopping))
                {
                    // The bump is observable (a waiter's guard reads it without this rq's lock), and so is
                    // ops.stopping's first kfunc: two such accesses, so the step ends between them.
                    Yield(ref f, (int)PutPrevTaskAt.CallStopping);
                    return;
                }
                goto case PutPrevTaskAt.CallStopping;
            case PutPrevTaskAt.CallStopping:
                if (ScxQueued(p) && Invoke(ref f, (int)PutPrevTaskAt.AfterStopping, ScxCallback.Stopping, p, c, 1)) return;
                goto case PutPrevTaskAt.AfterStopping;
            case PutPrevTaskAt.AfterStopping:
            {
                if (!ScxQueued(p))
                {
                    Return();
                    return;
                }
                SetTaskRunnable(p);
                ref var t = ref Tk(p);
                if (t.Slice > 0 && !Bypassing)
                {
                    if ((t.Flags & TaskFlags.Immed) != 0)
                    {
                        // 7.1: an IMMED task is never put back silently: ops.enqueue gets it with reason PREEMPTED.
                        t.Flags = (t.Flags & ~TaskFlags.ReenqReasonMask) | TaskFlags.ReenqPreempted;
                        CallDoEnqueueTask(ref f, (int)PutPrevTaskAt.AfterPreemptedReenq, p, c, (long)EnqFlags.Reenq, -1);
                        return;
                    }
                    // Preempted by a higher class: back to the head of the local DSQ.
                    CallDispatchEnqueue(ref f, (int)PutPrevTaskAt.Done, LocalSlot(c), p, (long)EnqFlags.Head);
                    return;
                }
                CallDoEnqueueTask(ref f, (int)PutPrevTaskAt.Done, p, c, pp.Next == -1 && (Ops.Flags & OpsFlags.EnqLast) != 0 ? (long)EnqFlags.Last : 0, -1);
                return;
            }
            case PutPrevTaskAt.AfterPreemptedReenq:
                Tk(p).Flags &= ~TaskFlags.ReenqReasonMask;
                goto case PutPrevTaskAt.Done;
            case PutPrevTaskAt.Done:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"put_prev_task_scx resume point {f.Pc}");
        }
    }

    /// <summary>set_next_task_scx()'s resume points (no locals beyond Task = next and Cpu).</summary>
    private enum SetNextTaskAt
    {
        Entry = 0,
        /// <summary>ops_dequeue(SCX_DEQ_CORE_SCHED_EXEC) returned: dispatch_dequeue().</summary>
        AfterOpsDequeue = 1,
        /// <summary>dispatch_dequeue() returned (or p was not queued): ops.running.</summary>
        AfterDispatchDequeue = 2,
        /// <summary>ops.running returned: clr_task_runnable().</summary>
        AfterRunning = 3,
    }

    private void CallSetNextTask(ref Frame caller, int returnPc, int p, int cpu)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.SetNextTask);
        callee.Task = p;
        callee.Cpu = cpu;
    }

    // Requires: rq(c) held.
    private void PathSetNextTask(ref Frame f)
    {
        var p = f.Task;
        switch ((SetNextTaskAt)f.Pc)
        {
            case SetNextTaskAt.Entry:
            {
                // p->se.exec_start = rq_clock_task(rq). A running task set again after a property change
                // (the model leaves out that path's put_prev_task) is charged first, so no time is lost.
                if (RqR(f.Cpu).Curr == p) UpdateCurrScx(f.Cpu);
                Tk(p).ExecStart = SchR().Clock;
                if (!ScxQueued(p)) goto case SetNextTaskAt.AfterDispatchDequeue;
                // ops_dequeue(rq, p, SCX_DEQ_CORE_SCHED_EXEC): ends any custody left by a remote move.
                CallOpsDequeue(ref f, (int)SetNextTaskAt.AfterOpsDequeue, p, (long)DeqFlags.CoreSchedExec);
                return;
            }
            case SetNextTaskAt.AfterOpsDequeue:
            {
                CallDispatchDequeue(ref f, (int)SetNextTaskAt.AfterDispatchDequeue, p);
                return;
            }
            case SetNextTaskAt.AfterDispatchDequeue:
                if (ScxQueued(p) && Invoke(ref f, (int)SetNextTaskAt.AfterRunning, ScxCallback.Running, p, f.Cpu)) return;
                goto case SetNextTaskAt.AfterRunning;
            case SetNextTaskAt.AfterRunning:
                ClrTaskRunnable(p, true);
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"set_next_task_scx resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- flush_dispatch_buf() / finish_dispatch()

    /// <summary>flush_dispatch_buf()'s locals (Cpu = the dispatching CPU).</summary>
    private struct FlushDispatchBufLocals
    {
        /// <summary>The next dispatch-buffer entry to hand to finish_dispatch().</summary>
        public int NextEntry;
    }

    // Requires: rq(c) held. One finish_dispatch() per buffered entry, then the cursor is reset. The frame
    // keeps the caller's resume point in Pc: it never suspends itself, only its finish_dispatch() calls do.
    private void PathFlushDispatchBuf(ref Frame f)
    {
        var c = f.Cpu;
        ref var fl = ref f.Locals<FlushDispatchBufLocals>();
        ref var rq = ref Rq(c);
        if (fl.NextEntry < rq.DspCursor)
        {
            var i = fl.NextEntry++;
            ref readonly var e = ref DspR(c, i);
            ref var callee = ref Call(ref f, f.Pc, PathId.FinishDispatch);
            callee.Cpu = c;
            callee.Task = e.Task;
            ref var fd = ref callee.Locals<FinishDispatchLocals>();
            fd.QseqAtInsert = e.Qseq;
            fd.DsqId = e.DsqId;
            fd.EnqFlags = e.EnqFlags;
            fd.Entry = i;
            return;
        }
        rq.DspNrTasks += rq.DspCursor;
        rq.DspCursor = 0;
        Return();
    }

    /// <summary>finish_dispatch()'s locals (Cpu = the dispatching CPU, Task = p): the buffer entry's fields.</summary>
    private struct FinishDispatchLocals
    {
        public long QseqAtInsert;
        public ulong DsqId;
        public long EnqFlags;
        /// <summary>Index of the entry in this CPU's dispatch buffer (the protocol variants read its extra fields).</summary>
        public int Entry;
    }

    /// <summary>finish_dispatch()'s resume points.</summary>
    private enum FinishDispatchAt
    {
        Entry = 0,
        /// <summary>The ops_state read + cmpxchg (T4), also where wait_ops_state(QUEUEING) resumes.</summary>
        ClaimOpsState = 1,
        /// <summary>After the dispatch_to_local_dsq() / dispatch_enqueue() call returned.</summary>
        AfterDispatch = 2,
        /// <summary>After T4 (QUEUED → DISPATCHING): find_dsq_for_dispatch() and the insert.</summary>
        AfterClaim = 3,
    }

    // Requires: rq(c) held (the dispatching CPU's).
    // Races with: ops_dequeue() (T5 vs T4), do_enqueue_task() (QUEUEING wait).
    private void PathFinishDispatch(ref Frame f)
    {
        var c = f.Cpu;
        var p = f.Task;
        ref var fd = ref f.Locals<FinishDispatchLocals>();
        switch ((FinishDispatchAt)f.Pc)
        {
            case FinishDispatchAt.Entry:
                // The ops_state read+cmpxchg is an interleaving point of its own.
                Yield(ref f, (int)FinishDispatchAt.ClaimOpsState);
                return;
            case FinishDispatchAt.ClaimOpsState:
            {
                ref var t = ref Tk(p);
                var word = t.OpsState;
                switch (OpsWord.State(word))
                {
                    case OpsState.None:
                    case OpsState.Dispatching:
                        // Someone else already got to it (dequeued, or another dispatcher won T4).
                        Event(ScxEvent.DispatchDroppedState);
                        Trace?.Note(_cur, $"finish_dispatch({TaskName(p)}): {OpsWord.Format(word)}, dropped");
                        Return();
                        return;
                    case OpsState.Queueing:
                        // do_enqueue_task() on another CPU is still handing p to BPF: wait_ops_state().
                        WaitFor(ref f, (int)FinishDispatchAt.ClaimOpsState, WaitKind.OpsStateChange, p, word);
                        return;
                    case OpsState.Queued:
                        if (!EntryStillValid(ref f, word))
                        {
                            Event(ScxEvent.DispatchDroppedQseq);
                            Trace?.Note(_cur, $"finish_dispatch({TaskName(p)}): {OpsWord.Format(word)} ≠ q{fd.QseqAtInsert >> OpsWord.QseqShift} recorded, dropped");
                            Return();
                            return;
                        }
                        t.OpsState = OpsWord.Make(OpsState.Dispatching, 0); // T4
                        Trace?.Note(_cur, $"finish_dispatch({TaskName(p)}): {OpsWord.Format(word)} -cmpxchg-> DISPATCHING");
                        break;
                    default:
                        throw new System.Diagnostics.UnreachableException("ops_state has two bits");
                }
                // T4 is visible at once to ops_dequeue() on p's rq (which holds a lock this CPU does not):
                // it sees DISPATCHING and waits. What dispatch_to_local_dsq() stores next (NONE, or a
                // protocol's revert) is a second unprotected access, so the step ends here.
                Yield(ref f, (int)FinishDispatchAt.AfterClaim);
                return;
            }
            case FinishDispatchAt.AfterClaim:
            {
                if (!ScxQueued(p)) KernelAssert("finish_dispatch: !SCX_TASK_QUEUED", $"{TaskName(p)} won DISPATCHING but is not runnable");
                var slot = FindDsqForDispatch(c, fd.DsqId, p);
                if (IsLocalSlot(slot))
                {
                    CallDispatchToLocalDsq(ref f, (int)FinishDispatchAt.AfterDispatch, p, LocalSlotCpu(slot), fd.EnqFlags);
                    return;
                }
                CallDispatchEnqueue(ref f, (int)FinishDispatchAt.AfterDispatch, slot, p, fd.EnqFlags | (long)EnqFlags.ClearOpss);
                return;
            }
            case FinishDispatchAt.AfterDispatch:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"finish_dispatch resume point {f.Pc}");
        }
    }

    /// <summary>finish_dispatch()'s staleness test; the protocol variants change what is compared.</summary>
    private bool EntryStillValid(ref Frame f, long word)
    {
        ref var fd = ref f.Locals<FinishDispatchLocals>();
        ref readonly var e = ref DspR(f.Cpu, fd.Entry);
        switch (Config.Protocol)
        {
            case Protocol.Cookie when e.Cookie != 0:
                var want = e.Cookie == long.MinValue ? 0 : e.Cookie;
                return OpsWord.Qseq(word) >> OpsWord.QseqShift == want;
            case Protocol.QseqInvalidate:
                return OpsWord.Qseq(word) == fd.QseqAtInsert && TkR(f.Task).AffinityGen == e.AffinityGen;
            case Protocol.Upstream:
            case Protocol.FallbackDsq:
            case Protocol.Ghost:
            case Protocol.Cookie: // an entry inserted without a cookie is checked as upstream does
                return OpsWord.Qseq(word) == fd.QseqAtInsert;
            default:
                throw new System.Diagnostics.UnreachableException($"protocol {Config.Protocol}");
        }
    }

    /// <summary>find_dsq_for_dispatch(): resolve a verdict relative to the rq of <paramref name="cpu"/>.</summary>
    private int FindDsqForDispatch(int cpu, ulong dsqId, int p)
    {
        if (dsqId == DsqId.Local) return LocalSlot(cpu);
        if (DsqId.IsLocalOn(dsqId))
        {
            var target = (long)(dsqId & DsqId.LocalCpuMask);
            if (target >= N)
            {
                ScxError($"invalid CPU {target} in SCX_DSQ_LOCAL_ON dispatch verdict");
                return GlobalSlot;
            }
            return LocalSlot((int)target);
        }
        if (dsqId == DsqId.Global) return GlobalSlot;
        var s = FindUserDsq(dsqId);
        if (s >= 0) return s;
        ScxError($"non-existent DSQ 0x{dsqId:x} for {TaskName(p)}"); // "non-existent DSQ 0x%llx for %s[%d]", p->comm, p->pid
        return GlobalSlot;
    }

    /// <summary>task_can_run_on_remote_rq() (V-B): migration-disabled, cpus_ptr, online — in that order.</summary>
    private bool TaskCanRunOnRemoteRq(int p, int dst, bool enforce)
    {
        ref readonly var t = ref TkR(p);
        if (t.Cpu == dst) KernelAssert("WARN_ON_ONCE(task_cpu(p) == cpu_of(rq))", $"task_can_run_on_remote_rq() for {TaskName(p)} already on CPU{dst}");
        if (t.MigrationDisabled)
        {
            if (enforce) ScxError($"SCX_DSQ_LOCAL[_ON] cannot move migration disabled {TaskName(p)} from CPU {t.Cpu} to {dst}");
            return false;
        }
        if (!t.CpusPtr.Test(dst))
        {
            if (enforce) ScxError($"SCX_DSQ_LOCAL[_ON] target CPU {dst} not allowed for {TaskName(p)}");
            return false;
        }
        if ((RqR(dst).Flags & RqFlags.Online) == 0)
        {
            if (enforce) Event(ScxEvent.DispatchLocalDsqOffline);
            return false;
        }
        return true;
    }

    // ---------------------------------------------------------------- dispatch_to_local_dsq()

    /// <summary>dispatch_to_local_dsq()'s locals (Cpu = the dispatching CPU, Task = p).</summary>
    private struct DispatchToLocalDsqLocals
    {
        public long EnqFlags;
        public int DstCpu;
        /// <summary>task_cpu(p) when the transfer started (src_rq).</summary>
        public int SrcCpu;
        /// <summary>The rq whose lock this path holds now (it switches between this CPU's, src's and dst's).</summary>
        public int HeldRq;
    }

    /// <summary>dispatch_to_local_dsq()'s resume points.</summary>
    private enum DispatchToLocalDsqAt
    {
        Entry = 0,
        /// <summary>src's rq lock taken: is p still ours (holding_cpu) and on src?</summary>
        AfterSrcRqLock = 1,
        /// <summary>p inserted into dst's local DSQ (dst's rq lock held): wake dst if idle.</summary>
        AfterInsert = 2,
        /// <summary>move_remote_task_to_local_dsq() returned, with dst's rq locked.</summary>
        AfterRemoteMove = 3,
        /// <summary>Switch back to the dispatching CPU's rq lock.</summary>
        RelockDispatchRq = 5,
        Done = 9,
        /// <summary>holding_cpu stored (fine granularity ends the step here): release DISPATCHING (T6b).</summary>
        AfterHoldingCpu = 10,
        /// <summary>T6b stored: drop this rq's lock, take src's.</summary>
        AfterReleaseDispatching = 11,
    }

    private void CallDispatchToLocalDsq(ref Frame caller, int returnPc, int p, int dstCpu, long enqFlags)
    {
        var c = caller.Cpu;
        ref var callee = ref Call(ref caller, returnPc, PathId.DispatchToLocalDsq);
        callee.Cpu = c;
        callee.Task = p;
        ref var dl = ref callee.Locals<DispatchToLocalDsqLocals>();
        dl.DstCpu = dstCpu;
        dl.EnqFlags = enqFlags;
    }

    // Requires: rq(c) held, p owned through DISPATCHING (or NONE from the deferred-locals list).
    // Races with: dequeue_task_scx() through holding_cpu (see dispatch_dequeue()).
    private void PathDispatchToLocalDsq(ref Frame f)
    {
        var c = f.Cpu;
        var p = f.Task;
        ref var dl = ref f.Locals<DispatchToLocalDsqLocals>();
        var dst = dl.DstCpu;
        switch ((DispatchToLocalDsqAt)f.Pc)
        {
            case DispatchToLocalDsqAt.Entry:
            {
                var src = TkR(p).Cpu;
                dl.SrcCpu = src;
                if (c == src && src == dst)
                {
                    CallDispatchEnqueue(ref f, (int)DispatchToLocalDsqAt.Done, LocalSlot(dst), p, dl.EnqFlags | (long)EnqFlags.ClearOpss);
                    return;
                }
                // Which outcome a disallowed target gets. v1's revert needs a dispatch to revert: a task
                // that came through finish_dispatch() (DISPATCHING, in BPF custody). A deferred direct
                // dispatch (process_ddsp_deferred_locals) arrives in NONE, outside BPF custody, with no
                // queued instance to return to, so v1 leaves it the kernel's enforcing path (scx_error +
                // the global DSQ), which is what the thread's v1 changes nothing about.
                var outcome = DisallowedOutcome();
                // 7.2+ (docs/eras.md): the kernel's own enforcing check moved after the switch to the task's rq
                // lock (AfterSrcRqLock), where cpus_ptr and migration_disabled are stable. The thread's v1/v2
                // patches were written against 7.1 and keep their check here.
                var checkLater = outcome == DisallowedTarget.ErrorAndGlobal && Config.Kernel.ChecksTargetUnderTaskRqLock();
                if (src != dst && !checkLater && !TaskCanRunOnRemoteRq(p, dst, enforce: outcome == DisallowedTarget.ErrorAndGlobal))
                {
                    switch (outcome)
                    {
                        case DisallowedTarget.RevertToQueued:
                        {
                            // v1: drop the invalid dispatch, DISPATCHING → QUEUED with the same qseq; no new ops.enqueue.
                            ref var t = ref Tk(p);
                            var q = CurrentEntryQseq();
                            t.OpsState = OpsWord.Make(OpsState.Queued, q);
                            Trace?.Note(_cur, $"dispatch_to_local_dsq: CPU{dst} not allowed for {TaskName(p)}: dropped, DISPATCHING -> {OpsWord.Format(t.OpsState)}");
                            // The revert is observable; the dispatch loop may go on into ops.dispatch (another observable access).
                            Yield(ref f, (int)DispatchToLocalDsqAt.Done);
                            return;
                        }
                        case DisallowedTarget.FallbackDsq:
                        {
                            // v2: park p on its rq's fallback DSQ (terminal: state NONE, out of custody).
                            Event(ScxEvent.FallbackDsqUse);
                            // Only balance_one() on p's rq drains that DSQ, so that rq must go through
                            // schedule(): resched it (we hold its lock when it is ours), or kick it through
                            // this CPU's kick irq_work. Without it an idle rq never drains and the watchdog
                            // fires (SoundnessTests, the deferred direct-dispatch case).
                            if (src == c) Rq(src).NeedResched = true;
                            else
                            {
                                ref var self = ref Rq(c);
                                self.CpusToKick.Set(src);
                                self.KickIrqWork = true;
                            }
                            CallDispatchEnqueue(ref f, (int)DispatchToLocalDsqAt.Done, FallbackSlot(src), p, dl.EnqFlags | (long)EnqFlags.ClearOpss);
                            return;
                        }
                        case DisallowedTarget.ErrorAndGlobal:
                        {
                            // scx_error() was raised by the enforcing check; park p on the global DSQ so it is not lost.
                            CallDispatchEnqueue(ref f, (int)DispatchToLocalDsqAt.Done, GlobalSlot, p, dl.EnqFlags | (long)EnqFlags.ClearOpss | (long)EnqFlags.GdsqFallback);
                            return;
                        }
                        default:
                            throw new System.Diagnostics.UnreachableException($"outcome {outcome}");
                    }
                }
                // Mark the transfer with holding_cpu and release DISPATCHING before touching src's rq lock:
                // a dequeuer may hold that lock while waiting on DISPATCHING.
                Tk(p).HoldingCpu = c;
                if (PublishCut(ref f, (int)DispatchToLocalDsqAt.AfterHoldingCpu)) return;
                goto case DispatchToLocalDsqAt.AfterHoldingCpu;
            }
            case DispatchToLocalDsqAt.AfterHoldingCpu:
                Tk(p).OpsState = OpsWord.Make(OpsState.None, 0); // T6b (store-release: holding_cpu is visible first)
                Trace?.Note(_cur, $"dispatch_to_local_dsq: holding_cpu={c}, DISPATCHING -> NONE");
                dl.HeldRq = c;
                if (PublishCut(ref f, (int)DispatchToLocalDsqAt.AfterReleaseDispatching)) return;
                goto case DispatchToLocalDsqAt.AfterReleaseDispatching;
            case DispatchToLocalDsqAt.AfterReleaseDispatching:
                if (SwitchRqLock(ref f, ref dl.HeldRq, dl.SrcCpu, (int)DispatchToLocalDsqAt.AfterSrcRqLock)) return;
                goto case DispatchToLocalDsqAt.AfterSrcRqLock;
            case DispatchToLocalDsqAt.AfterSrcRqLock:
            {
                var src = dl.SrcCpu;
                ref var t = ref Tk(p);
                if (t.HoldingCpu == c && t.Cpu != src) KernelAssert("WARN_ON_ONCE(src_rq != task_rq(p))", $"dispatch_to_local_dsq: {TaskName(p)} held by CPU{c} moved from CPU{src} to CPU{t.Cpu}");
                if (t.HoldingCpu == c && t.Cpu == src)
                {
                    if (src == dst)
                    {
                        t.HoldingCpu = -1;
                        CallDispatchEnqueue(ref f, (int)DispatchToLocalDsqAt.AfterInsert, LocalSlot(dst), p, dl.EnqFlags);
                        return;
                    }
                    if (Config.Kernel.ChecksTargetUnderTaskRqLock() && DisallowedOutcome() == DisallowedTarget.ErrorAndGlobal
                        && !TaskCanRunOnRemoteRq(p, dst, enforce: true))
                    {
                        // 7.2+: scx_error() was raised; reset holding_cpu and park p on the global DSQ through the
                        // task's rq (ops_state is already NONE: no CLEAR_OPSS), without waking dst.
                        t.HoldingCpu = -1;
                        CallDispatchEnqueue(ref f, (int)DispatchToLocalDsqAt.RelockDispatchRq, GlobalSlot, p, dl.EnqFlags | (long)EnqFlags.GdsqFallback);
                        return;
                    }
                    CallMoveRemoteTaskToLocalDsq(ref f, (int)DispatchToLocalDsqAt.AfterRemoteMove, p, src, dst, dl.EnqFlags);
                    return;
                }
                // A dequeue reset holding_cpu: it owns p now; the dispatch is silently lost.
                Trace?.Note(_cur, $"dispatch_to_local_dsq: lost {TaskName(p)} to a dequeue");
                goto case DispatchToLocalDsqAt.RelockDispatchRq;
            }
            case DispatchToLocalDsqAt.AfterRemoteMove:
                dl.HeldRq = dst; // move_remote_task_to_local_dsq() returns with dst's rq locked
                goto case DispatchToLocalDsqAt.AfterInsert;
            case DispatchToLocalDsqAt.AfterInsert:
            {
                // If the destination CPU is idle (or runs a lower class), wake it up.
                if (RqR(dst).Curr < 0) Rq(dst).NeedResched = true;
                goto case DispatchToLocalDsqAt.RelockDispatchRq;
            }
            case DispatchToLocalDsqAt.RelockDispatchRq:
                if (SwitchRqLock(ref f, ref dl.HeldRq, c, (int)DispatchToLocalDsqAt.Done)) return;
                goto case DispatchToLocalDsqAt.Done;
            case DispatchToLocalDsqAt.Done:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"dispatch_to_local_dsq resume point {f.Pc}");
        }
    }

    /// <summary>The outcome a disallowed target gets under this protocol (see the comment at its use in dispatch_to_local_dsq()).</summary>
    private DisallowedTarget DisallowedOutcome() => Config.Protocol switch
    {
        Protocol.QseqInvalidate => HasFinishDispatchFrame() ? DisallowedTarget.RevertToQueued : DisallowedTarget.ErrorAndGlobal,
        Protocol.FallbackDsq => DisallowedTarget.FallbackDsq,
        // ghOSt's family does not patch dispatch_to_local_dsq(): upstream's behaviour.
        Protocol.Upstream or Protocol.Cookie or Protocol.Ghost => DisallowedTarget.ErrorAndGlobal,
        _ => throw new System.Diagnostics.UnreachableException($"protocol {Config.Protocol}"),
    };

    /// <summary>What dispatch_to_local_dsq() does with a target CPU the task may not run on.</summary>
    private enum DisallowedTarget
    {
        /// <summary>Today's kernel: the enforcing task_can_run_on_remote_rq() raised scx_error; park on the global DSQ.</summary>
        ErrorAndGlobal,
        /// <summary>v1 (qseq-invalidate): DISPATCHING → QUEUED with the entry's qseq; no new ops.enqueue.</summary>
        RevertToQueued,
        /// <summary>v2: park on the task's rq's fallback DSQ, drained from balance with SCX_ENQ_REENQ.</summary>
        FallbackDsq,
    }

    /// <summary>The qseq recorded by the buffer entry that led here (qseq-invalidate's revert keeps it).</summary>
    private long CurrentEntryQseq()
    {
        var i = FinishDispatchFrameIndex();
        if (i < 0) throw new InvalidOperationException("qseq-invalidate revert outside finish_dispatch()");
        return FrameAt(_cur, i).Locals<FinishDispatchLocals>().QseqAtInsert;
    }

    /// <summary>Is this dispatch_to_local_dsq() called from finish_dispatch() (rather than from the deferred direct-dispatch list)?</summary>
    private bool HasFinishDispatchFrame() => FinishDispatchFrameIndex() >= 0;

    private int FinishDispatchFrameIndex()
    {
        for (var i = Act.Depth - 2; i >= 0; i--)
            if (FrameAt(_cur, i).Path == PathId.FinishDispatch) return i;
        return -1;
    }

    // ---------------------------------------------------------------- move_remote_task_to_local_dsq()

    /// <summary>move_remote_task_to_local_dsq()'s locals (Task = p; Cpu is not used).</summary>
    private struct MoveRemoteTaskToLocalDsqLocals
    {
        public long EnqFlags;
        /// <summary>src_rq's CPU: held on entry.</summary>
        public int SrcCpu;
        /// <summary>dst_rq's CPU: held on return.</summary>
        public int DstCpu;
    }

    /// <summary>move_remote_task_to_local_dsq()'s resume points.</summary>
    private enum MoveRemoteTaskToLocalDsqAt
    {
        Entry = 0,
        /// <summary>deactivate_task(src_rq) returned: set_task_cpu(), drop src's rq lock, take dst's.</summary>
        AfterDeactivate = 1,
        /// <summary>dst's rq lock taken: activate_task(dst_rq).</summary>
        AfterDstRqLock = 2,
        /// <summary>activate_task() returned: the migration is over.</summary>
        AfterActivate = 3,
    }

    private void CallMoveRemoteTaskToLocalDsq(ref Frame caller, int returnPc, int p, int srcCpu, int dstCpu, long enqFlags)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.MoveRemoteTaskToLocalDsq);
        callee.Task = p;
        ref var mv = ref callee.Locals<MoveRemoteTaskToLocalDsqLocals>();
        mv.SrcCpu = srcCpu;
        mv.DstCpu = dstCpu;
        mv.EnqFlags = enqFlags;
    }

    // Requires: rq(src) held. Ensures: rq(dst) held.
    private void PathMoveRemoteTaskToLocalDsq(ref Frame f)
    {
        var p = f.Task;
        ref var mv = ref f.Locals<MoveRemoteTaskToLocalDsqLocals>();
        switch ((MoveRemoteTaskToLocalDsqAt)f.Pc)
        {
            case MoveRemoteTaskToLocalDsqAt.Entry:
            {
                ref var t = ref Tk(p);
                // sticky_cpu marks an SCX-internal migration: custody callbacks stay silent, enqueue goes local.
                t.StickyCpu = mv.DstCpu;
                t.Migrating = true;
                CallDequeueTask(ref f, (int)MoveRemoteTaskToLocalDsqAt.AfterDeactivate, p, mv.SrcCpu, 0);
                return;
            }
            case MoveRemoteTaskToLocalDsqAt.AfterDeactivate:
                Tk(p).Cpu = mv.DstCpu; // set_task_cpu()
                UnlockRq(mv.SrcCpu);
                LockRq(ref f, mv.DstCpu, (int)MoveRemoteTaskToLocalDsqAt.AfterDstRqLock);
                return;
            case MoveRemoteTaskToLocalDsqAt.AfterDstRqLock:
            {
                if (!TkR(p).CpusPtr.Test(mv.DstCpu))
                    KernelAssert("WARN_ON_ONCE(!cpumask_test_cpu(dst, p->cpus_ptr))", $"move_remote_task_to_local_dsq: CPU{mv.DstCpu} not in {TaskName(p)}'s cpus_ptr {TkR(p).CpusPtr}");
                Tk(p).Run = RunState.Runnable;
                CallEnqueueTask(ref f, (int)MoveRemoteTaskToLocalDsqAt.AfterActivate, p, mv.DstCpu, mv.EnqFlags);
                return;
            }
            case MoveRemoteTaskToLocalDsqAt.AfterActivate:
                Tk(p).Migrating = false;
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"move_remote_task_to_local_dsq resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- consume_dispatch_q() / scx_bpf_dsq_move_to_local()

    /// <summary>
    /// consume_dispatch_q()'s locals (Cpu = the consuming CPU, Dsq = the source slot). Explicit layout:
    /// the kfunc start in Machine.Bpf.cs still writes SrcDsqId and Kfunc through the L0 and I2 registers.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Pack = 4)]
    private struct ConsumeDispatchQLocals
    {
        /// <summary>scx_bpf_dsq_move_to_local()'s dsq_id, resolved by find_user_dsq() after the flush.</summary>
        [FieldOffset(0)] public ulong SrcDsqId;
        /// <summary>consume_dispatch_q()'s enq_flags: ___v2's (vetted), 0 for the kernel's own consumes.</summary>
        [FieldOffset(8)] public long EnqFlags;
        /// <summary>consume_remote_task(): the task being taken from another rq.</summary>
        [FieldOffset(24)] public int RemoteTask;
        /// <summary>consume_remote_task(): that task's rq (src_rq), locked after the unlink.</summary>
        [FieldOffset(28)] public int RemoteTaskRq;
        /// <summary>1 when called as scx_bpf_dsq_move_to_local() (flush first, count dspc->nr_tasks on success).</summary>
        [FieldOffset(32)] public int Kfunc;
    }

    /// <summary>consume_dispatch_q()'s resume points.</summary>
    private enum ConsumeDispatchQAt
    {
        /// <summary>consume_dispatch_q()'s entry and its retry: label (this rq's lock retaken after losing a task to a dequeue).</summary>
        Entry = 0,
        /// <summary>dsq->lock taken: walk the DSQ for a task this CPU can take.</summary>
        AfterDsqLock = 1,
        /// <summary>consume_remote_task(): src_rq's lock taken after the unlink; is p still ours (holding_cpu)?</summary>
        AfterSrcRqLock = 2,
        /// <summary>scx_bpf_dsq_move_to_local()'s entry: flush_dispatch_buf() first.</summary>
        KfuncEntry = 10,
        /// <summary>The kfunc's flush returned: find_user_dsq().</summary>
        AfterKfuncFlush = 11,
        /// <summary>Nothing consumed: return false.</summary>
        NotFound = 20,
        /// <summary>A task reached this CPU's local DSQ (the remote move returned holding this rq): return true.</summary>
        Found = 21,
        /// <summary>move_local_task_to_local_dsq() returned under the source DSQ lock: drop it.</summary>
        AfterLocalMove = 22,
    }

    private void CallConsumeDispatchQ(ref Frame caller, int returnPc, int slot)
    {
        var c = caller.Cpu;
        ref var callee = ref Call(ref caller, returnPc, PathId.ConsumeDispatchQ);
        callee.Cpu = c;
        callee.Dsq = slot;
    }

    /// <summary>
    /// scx_bpf_dsq_move_to_local() as a kernel path of its own (for the deferred-kfunc start in
    /// Machine.Bpf.cs, which writes the same fields through the registers today).
    /// </summary>
    private void PushDsqMoveToLocal(int cpu, ulong dsqId, long enqFlags)
    {
        ref var f = ref Push(PathId.ConsumeDispatchQ);
        f.Cpu = cpu;
        f.Dsq = -1;
        ref var cq = ref f.Locals<ConsumeDispatchQLocals>();
        cq.SrcDsqId = dsqId;
        cq.EnqFlags = enqFlags;
        cq.Kfunc = 1;
        f.Pc = (int)ConsumeDispatchQAt.KfuncEntry;
    }

    // Requires: rq(c) held. Returns 1 if a task was moved to c's local DSQ.
    private void PathConsumeDispatchQ(ref Frame f)
    {
        var c = f.Cpu;
        ref var cq = ref f.Locals<ConsumeDispatchQLocals>();
        switch ((ConsumeDispatchQAt)f.Pc)
        {
            case ConsumeDispatchQAt.KfuncEntry:
            {
                ref var fl = ref Call(ref f, (int)ConsumeDispatchQAt.AfterKfuncFlush, PathId.FlushDispatchBuf);
                fl.Cpu = c;
                return;
            }
            case ConsumeDispatchQAt.AfterKfuncFlush:
            {
                // After the flush: find_user_dsq() knows no built-in DSQ (SCX_DSQ_GLOBAL included).
                var s = FindUserDsq(cq.SrcDsqId);
                if (s < 0)
                {
                    ScxError($"invalid DSQ ID 0x{cq.SrcDsqId:x16}");
                    goto case ConsumeDispatchQAt.NotFound;
                }
                f.Dsq = s;
                goto case ConsumeDispatchQAt.Entry;
            }
            case ConsumeDispatchQAt.Entry:
                if (DqR(f.Dsq).Nr == 0) goto case ConsumeDispatchQAt.NotFound; // lockless emptiness check
                LockDsq(ref f, f.Dsq, (int)ConsumeDispatchQAt.AfterDsqLock);
                return;
            case ConsumeDispatchQAt.AfterDsqLock:
            {
                if (SchR().Aborting && !IsBypassSlot(f.Dsq))
                {
                    UnlockDsq(f.Dsq);
                    goto case ConsumeDispatchQAt.NotFound;
                }
                for (var t = DqR(f.Dsq).Head; t >= 0; t = TkR(t).Next)
                {
                    ref var p = ref Tk(t);
                    if (p.Cpu == c)
                    {
                        // task_unlink_from_dsq() + move_local_task_to_local_dsq() with the source DSQ still
                        // locked (its local_dsq_post_enq() runs ops.dequeue there); unlocked after (AfterLocalMove).
                        Unlink(t);
                        p.Dsq = -1;
                        CallDispatchEnqueue(ref f, (int)ConsumeDispatchQAt.AfterLocalMove, LocalSlot(c), t, cq.EnqFlags);
                        return;
                    }
                    if (TaskCanRunOnRemoteRq(t, c, enforce: false))
                    {
                        // consume_remote_task(): drop this rq, unlink with holding_cpu, take the task's rq.
                        cq.RemoteTask = t;
                        cq.RemoteTaskRq = p.Cpu;
                        UnlockRq(c);
                        if (p.HoldingCpu >= 0) KernelAssert("WARN_ON_ONCE(holding_cpu >= 0)", $"{TaskName(t)} already under transfer");
                        Unlink(t);
                        p.HoldingCpu = c;
                        UnlockDsq(f.Dsq);
                        LockRq(ref f, cq.RemoteTaskRq, (int)ConsumeDispatchQAt.AfterSrcRqLock);
                        return;
                    }
                }
                UnlockDsq(f.Dsq);
                goto case ConsumeDispatchQAt.NotFound;
            }
            case ConsumeDispatchQAt.AfterSrcRqLock:
            {
                var t = cq.RemoteTask;
                var src = cq.RemoteTaskRq;
                // unlink_dsq_and_lock_src_rq(): while we are the holding CPU, task_rq(p) cannot have changed.
                if (TkR(t).HoldingCpu == c && TkR(t).Cpu != src)
                    KernelAssert("WARN_ON_ONCE(src_rq != task_rq(p))", $"unlink_dsq_and_lock_src_rq: {TaskName(t)} held by CPU{c} moved from CPU{src} to CPU{TkR(t).Cpu}");
                if (TkR(t).HoldingCpu == c && TkR(t).Cpu == src)
                {
                    CallMoveRemoteTaskToLocalDsq(ref f, (int)ConsumeDispatchQAt.Found, t, src, c, cq.EnqFlags);
                    return;
                }
                // Lost to a dequeue: back to our rq and start over.
                UnlockRq(src);
                LockRq(ref f, c, (int)ConsumeDispatchQAt.Entry);
                return;
            }
            case ConsumeDispatchQAt.NotFound:
                Return(0);
                return;
            case ConsumeDispatchQAt.AfterLocalMove:
                UnlockDsq(f.Dsq);
                goto case ConsumeDispatchQAt.Found;
            case ConsumeDispatchQAt.Found:
                // scx_bpf_dsq_move_to_local(): a consumed task can still be dequeued before it runs, so
                // dspc->nr_tasks++ makes balance_one() retry on an empty local DSQ.
                if (cq.Kfunc == 1) Rq(c).DspNrTasks++;
                Return(1);
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"consume_dispatch_q resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- scx_bpf_dsq_move()

    /// <summary>
    /// scx_dsq_move()'s locals (Cpu = the dispatching CPU, Task = p, Dsq = the source slot, kit->dsq).
    /// Explicit layout: the kfunc start in Machine.Bpf.cs still writes DstDsqId, EnqFlags and IterSeq
    /// through the L0, L1 and L2 registers.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Pack = 4)]
    private struct DsqMoveLocals
    {
        /// <summary>The destination dsq_id, until find_dsq_for_dispatch() resolved it.</summary>
        [FieldOffset(0)] public ulong DstDsqId;
        /// <summary>
        /// The destination CPU of a remote move, kept across move_remote_task_to_local_dsq() in DstDsqId's
        /// place (the id is dead by then; one register holds either, so the frame's bytes are what they were).
        /// </summary>
        [FieldOffset(0)] public long RemoteDstCpu;
        [FieldOffset(8)] public long EnqFlags;
        /// <summary>The iterator's kit->cursor.priv seq: a task inserted after the iteration began is not moved.</summary>
        [FieldOffset(16)] public long IterSeq;
        /// <summary>task_rq(p) when the move started (src_rq).</summary>
        [FieldOffset(24)] public int SrcCpu;
        /// <summary>The rq whose lock this path holds now (this CPU's, src's, then dst's).</summary>
        [FieldOffset(28)] public int HeldRq;
        /// <summary>
        /// Until the move is decided, the iterator's overrides (bit 0 __SCX_DSQ_ITER_HAS_SLICE, bit 1 HAS_VTIME; the
        /// values wait in the calling callback frame's L2 and WaitWord, which a callback frame does not use); then 1
        /// when p was moved (the kfunc's return value).
        /// </summary>
        [FieldOffset(32)] public int Moved;
    }

    /// <summary>scx_dsq_move()'s resume points.</summary>
    private enum DsqMoveAt
    {
        Entry = 0,
        /// <summary>src_rq's lock held (switched from this rq's, or the same): take the source DSQ's lock.</summary>
        AfterSrcRqLock = 1,
        /// <summary>The source dsq->lock taken: nldsq_cursor_lost_task(), then move_task_between_dsqs().</summary>
        AfterDsqLock = 2,
        /// <summary>move_local_task_to_local_dsq() returned under the source DSQ lock: drop it.</summary>
        AfterLocalMove = 6,
        /// <summary>move_remote_task_to_local_dsq() returned, with dst's rq locked.</summary>
        AfterRemoteMove = 7,
        /// <summary>dispatch_enqueue() into a non-local DSQ returned (also reached when the move ended otherwise): switch back to this CPU's rq lock.</summary>
        RelockDispatchRq = 8,
        /// <summary>Return whether p was moved.</summary>
        Done = 9,
    }

    /// <summary>
    /// scx_bpf_dsq_move() as a kernel path of its own (for the deferred-kfunc start in Machine.Bpf.cs,
    /// which writes the same fields through the registers today).
    /// </summary>
    private void PushDsqMove(int cpu, int p, int srcSlot, ulong dstDsqId, long enqFlags, long iterSeq, int overrides = 0)
    {
        ref var f = ref Push(PathId.DsqMove);
        f.Cpu = cpu;
        f.Task = p;
        ref var dm = ref f.Locals<DsqMoveLocals>();
        dm.DstDsqId = dstDsqId;
        dm.EnqFlags = enqFlags;
        dm.IterSeq = iterSeq;
        dm.Moved = overrides;
        f.Dsq = srcSlot;
    }

    // From ops.dispatch (rq(c) held). Ensures: rq(c) held again.
    private void PathDsqMove(ref Frame f)
    {
        var c = f.Cpu;
        var p = f.Task;
        ref var dm = ref f.Locals<DsqMoveLocals>();
        switch ((DsqMoveAt)f.Pc)
        {
            case DsqMoveAt.Entry:
            {
                var src = TkR(p).Cpu;
                dm.SrcCpu = src;
                dm.HeldRq = c;
                if (SwitchRqLock(ref f, ref dm.HeldRq, src, (int)DsqMoveAt.AfterSrcRqLock)) return;
                goto case DsqMoveAt.AfterSrcRqLock;
            }
            case DsqMoveAt.AfterSrcRqLock:
                LockDsq(ref f, f.Dsq, (int)DsqMoveAt.AfterDsqLock);
                return;
            case DsqMoveAt.AfterDsqLock:
            {
                ref var t = ref Tk(p);
                // nldsq_cursor_lost_task(): p left the DSQ, was re-inserted after the iterator began, or
                // is being consumed by someone else (holding_cpu) — no move.
                if (t.Dsq != f.Dsq || t.DsqSeq > dm.IterSeq || t.HoldingCpu >= 0)
                {
                    UnlockDsq(f.Dsq);
                    dm.Moved = 0;
                    goto case DsqMoveAt.RelockDispatchRq;
                }
                // "if @p has stayed on @dsq, its rq couldn't have changed"
                if (t.Cpu != dm.SrcCpu)
                {
                    KernelAssert("WARN_ON_ONCE(rq != task_rq(p))", $"nldsq_cursor_lost_task: {TaskName(p)} still on {SlotName(f.Dsq)} but on CPU{t.Cpu}, not CPU{dm.SrcCpu}");
                    UnlockDsq(f.Dsq);
                    dm.Moved = 0;
                    goto case DsqMoveAt.RelockDispatchRq;
                }
                // move_task_between_dsqs()
                var src = dm.SrcCpu;
                var dstSlot = FindDsqForDispatch(c, dm.DstDsqId, p);
                // "Apply vtime and slice updates before moving": scx_bpf_dsq_move_set_vtime/slice() on the iterator.
                if (dm.Moved != 0)
                {
                    ref readonly var caller = ref World.Frames[TopFrameIndex - 1];
                    if ((dm.Moved & 2) != 0) t.DsqVtime = caller.WaitWord;
                    if ((dm.Moved & 1) != 0) t.Slice = caller.L2;
                }
                if (IsLocalSlot(dstSlot) && LocalSlotCpu(dstSlot) != src && !TaskCanRunOnRemoteRq(p, LocalSlotCpu(dstSlot), enforce: true))
                {
                    dstSlot = GlobalSlot;
                    dm.EnqFlags |= (long)EnqFlags.GdsqFallback;
                }
                Unlink(p);
                t.Dsq = -1;
                dm.Moved = 1;
                if (IsLocalSlot(dstSlot) && LocalSlotCpu(dstSlot) == src)
                {
                    // move_local_task_to_local_dsq() under the source DSQ lock (ops.dequeue runs there);
                    // the DSQ is unlocked after it (AfterLocalMove).
                    CallDispatchEnqueue(ref f, (int)DsqMoveAt.AfterLocalMove, dstSlot, p, dm.EnqFlags);
                    return;
                }
                UnlockDsq(f.Dsq);
                if (IsLocalSlot(dstSlot))
                {
                    CallMoveRemoteTaskToLocalDsq(ref f, (int)DsqMoveAt.AfterRemoteMove, p, src, LocalSlotCpu(dstSlot), dm.EnqFlags);
                    dm.RemoteDstCpu = LocalSlotCpu(dstSlot);
                    return;
                }
                CallDispatchEnqueue(ref f, (int)DsqMoveAt.RelockDispatchRq, dstSlot, p, dm.EnqFlags);
                return;
            }
            case DsqMoveAt.AfterLocalMove:
                UnlockDsq(f.Dsq);
                goto case DsqMoveAt.RelockDispatchRq;
            case DsqMoveAt.AfterRemoteMove:
                dm.HeldRq = (int)dm.RemoteDstCpu;
                goto case DsqMoveAt.RelockDispatchRq;
            case DsqMoveAt.RelockDispatchRq:
                if (SwitchRqLock(ref f, ref dm.HeldRq, c, (int)DsqMoveAt.Done)) return;
                goto case DsqMoveAt.Done;
            case DsqMoveAt.Done:
            {
                // Unlike scx_bpf_dsq_move_to_local(), scx_dsq_move() does not bump dspc->nr_tasks. The overrides are
                // spent either way (kit->cursor.flags lose HAS_SLICE/HAS_VTIME at out:).
                ref var caller = ref World.Frames[TopFrameIndex - 1];
                caller.L2 = 0;
                caller.WaitWord = 0;
                Return(dm.Moved);
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"scx_bpf_dsq_move resume point {f.Pc}");
        }
    }
}
