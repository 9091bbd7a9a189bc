using System.Runtime.InteropServices;
using Scxlab.Bpf;
using Scxlab.Stepping;

namespace Scxlab.Kernel;

/// <summary>
/// External events and deferred work: sched_setaffinity (set_cpus_allowed_scx inside the core's
/// dequeue/enqueue "change" pattern), weight changes, wakeups, core migrations, kicks and their
/// irq_work, deferred direct dispatches, re-enqueues, ticks, and the disable path.
/// </summary>
public sealed partial class Machine
{
    // ---------------------------------------------------------------- __set_cpus_allowed_ptr() → set_cpus_allowed_scx()

    /// <summary>
    /// The sched-change pattern's locals (Task = p) for __set_cpus_allowed_ptr() and
    /// set_user_nice()/sched_setattr(): task_rq_lock(), dequeue, change, enqueue, set_next, unlock.
    /// </summary>
    private struct SchedChangeLocals
    {
        /// <summary>SetCpusAllowed: index of the new mask in the action mask table (<c>_masks</c>).</summary>
        public int MaskIndex;
        /// <summary>SetWeight: the new weight.</summary>
        public int Weight;
        /// <summary>The rq whose lock task_rq_lock() took (after move_queued_task(), the destination's).</summary>
        public int HeldRq;
        /// <summary>The stopper CPU affine_move_task() waits for, when <see cref="WaitsForStopper"/>.</summary>
        public int StopperCpu;
        /// <summary>task_on_rq_queued(p) when the change started (dequeued with DEQUEUE_SAVE, enqueued back).</summary>
        public bool Queued;
        /// <summary>task_current(rq, p) when the change started (set_next_task_scx() after the change).</summary>
        public bool Running;
        /// <summary>p was running on a CPU it may no longer use: migration_cpu_stop is queued there.</summary>
        public bool WaitsForStopper;
        /// <summary>
        /// __set_cpus_allowed_ptr_locked()'s dest_cpu: cpumask_any_and_distribute(cpu_valid_mask, new_mask) on the
        /// calling CPU's rotor, taken before the mask changes; affine_move_task() moves p there (or hands it to the
        /// stopper as arg->dest_cpu) when p's CPU left the mask.
        /// </summary>
        public int DestCpu;
    }

    /// <summary>Resume points of the sched-change pattern (SetCpusAllowed and SetWeight).</summary>
    private enum SchedChangeAt
    {
        Entry = 0,
        /// <summary>p->pi_lock taken: task_rq_lock() reads task_rq(p) and locks it; its retry resumes here too.</summary>
        AfterPiLock = 1,
        /// <summary>task_rq(p)'s lock taken: recheck the rq, then the unchanged-mask exit or the dequeue.</summary>
        AfterRqLock = 2,
        /// <summary>dequeue_task() returned (or p was not queued): set_cpus_allowed_scx() / reweight_task_scx().</summary>
        AfterDequeue = 3,
        /// <summary>ops.set_cpumask / ops.set_weight returned (or was not called): enqueue_task() back.</summary>
        AfterOpsCallback = 4,
        /// <summary>enqueue_task() returned: set_next_task_scx() when p is running.</summary>
        AfterEnqueue = 5,
        /// <summary>set_next_task_scx() returned: affine_move_task() when p's CPU left its mask.</summary>
        AfterSetNextTask = 6,
        /// <summary>task_rq_unlock() (after move_queued_task(), or straight from an unchanged mask).</summary>
        TaskRqUnlock = 7,
        /// <summary>wait_for_completion(&amp;pending->done) returned: the stopper moved p.</summary>
        AfterStopperDone = 8,
    }

    // Task = p; the new mask in SchedChangeLocals.MaskIndex.
    // Races with: finish_dispatch()/dispatch_to_local_dsq() on another CPU (the R1/R2 window).
    private void PathSetCpusAllowed(ref Frame f) => PathSchedChange(ref f, isAffinity: true);

    // Task = p; the new weight in SchedChangeLocals.Weight. Same change pattern; reweight_task_scx() → ops.set_weight.
    private void PathSetWeight(ref Frame f) => PathSchedChange(ref f, isAffinity: false);

    private void PathSchedChange(ref Frame f, bool isAffinity)
    {
        var p = f.Task;
        ref var sc = ref f.Locals<SchedChangeLocals>();
        switch ((SchedChangeAt)f.Pc)
        {
            case SchedChangeAt.Entry:
                WaitFor(ref f, (int)SchedChangeAt.AfterPiLock, WaitKind.PiLock, p);
                return;
            case SchedChangeAt.AfterPiLock:
                // task_rq_lock(): lock task_rq(p), retry if it moved or is migrating.
                sc.HeldRq = TkR(p).Cpu;
                LockRq(ref f, sc.HeldRq, (int)SchedChangeAt.AfterRqLock);
                return;
            case SchedChangeAt.AfterRqLock:
            {
                ref var t = ref Tk(p);
                if (t.Cpu != sc.HeldRq || t.Migrating)
                {
                    UnlockRq(sc.HeldRq);
                    WaitFor(ref f, (int)SchedChangeAt.AfterPiLock, WaitKind.TaskNotMigrating, p);
                    return;
                }
                if (isAffinity && _masks[sc.MaskIndex] == t.CpusPtr)
                {
                    // __set_cpus_allowed_ptr_locked(): cpumask_equal(&p->cpus_mask, new_mask) → goto out,
                    // before any dequeue/enqueue or set_cpus_allowed_scx().
                    Trace?.Note(_cur, $"__set_cpus_allowed_ptr({TaskName(p)}, {t.CpusPtr}): mask unchanged");
                    goto case SchedChangeAt.TaskRqUnlock;
                }
                if (isAffinity) sc.DestCpu = DistributeMask(_masks[sc.MaskIndex]);
                sc.Queued = t.Run == RunState.Runnable && t.Class == SchedClass.Ext;
                sc.Running = RqR(t.Cpu).Curr == p;
                if (sc.Queued)
                {
                    // DEQUEUE_SAVE|DEQUEUE_NOCLOCK: not a sleep → SCX_DEQ_SCHED_CHANGE
                    CallDequeueTask(ref f, (int)SchedChangeAt.AfterDequeue, p, sc.HeldRq, 0);
                    return;
                }
                goto case SchedChangeAt.AfterDequeue;
            }
            case SchedChangeAt.AfterDequeue:
            {
                ref var t = ref Tk(p);
                if (isAffinity)
                {
                    var mask = _masks[sc.MaskIndex];
                    if (Config.Protocol == Protocol.Ghost) t.Barrier++; // TASK_AFFINITY_CHANGED, sent before the mask changes
                    t.CpusPtr = mask;
                    t.AffinityGen++;
                    Trace?.Note(_cur, $"set_cpus_allowed_scx({TaskName(p)}, {mask})");
                    if (t.Class == SchedClass.Ext && Invoke(ref f, (int)SchedChangeAt.AfterOpsCallback, ScxCallback.SetCpumask, p, sc.HeldRq)) return;
                }
                else
                {
                    t.Weight = sc.Weight;
                    if (t.Class == SchedClass.Ext && Invoke(ref f, (int)SchedChangeAt.AfterOpsCallback, ScxCallback.SetWeight, p, sc.HeldRq, sc.Weight)) return;
                }
                goto case SchedChangeAt.AfterOpsCallback;
            }
            case SchedChangeAt.AfterOpsCallback:
                if (sc.Queued)
                {
                    CallEnqueueTask(ref f, (int)SchedChangeAt.AfterEnqueue, p, sc.HeldRq, CoreEnqRestore);
                    return;
                }
                goto case SchedChangeAt.AfterEnqueue;
            case SchedChangeAt.AfterEnqueue:
                if (sc.Running && TkR(p).Class == SchedClass.Ext)
                {
                    CallSetNextTask(ref f, (int)SchedChangeAt.AfterSetNextTask, p, sc.HeldRq);
                    return;
                }
                goto case SchedChangeAt.AfterSetNextTask;
            case SchedChangeAt.AfterSetNextTask:
            {
                ref var t = ref Tk(p);
                if (isAffinity && t.Run == RunState.Runnable && !t.CpusPtr.Test(t.Cpu))
                {
                    var dst = sc.DestCpu;
                    if (sc.Running)
                    {
                        // Running: affine_move_task() queues migration_cpu_stop on its CPU and, after dropping
                        // the locks, waits for it.
                        ref var rq = ref Rq(t.Cpu);
                        rq.StopperPending = true;
                        rq.StopperTask = p;
                        rq.StopperDest = dst; // pending->arg.dest_cpu (a later change of the mask updates it)
                        rq.NeedResched = true;
                        // The stopper's wakeup_preempt() reaches ext's (SCX is next here): IMMED tasks waiting on the
                        // local DSQ cannot run now, so they go back (wakeup_preempt_scx()); the stop class is next now.
                        if (rq.NextClass == NextClass.Ext && rq.NrImmed != 0) ScheduleReenqLocal(t.Cpu, 0);
                        rq.NextClass = NextClass.AboveExt;
                        sc.WaitsForStopper = true;
                        sc.StopperCpu = t.Cpu;
                    }
                    else if (dst >= 0 && t.Class == SchedClass.Ext)
                    {
                        // affine_move_task() → move_queued_task() under the same rq lock.
                        CallMigrateQueued(ref f, (int)SchedChangeAt.TaskRqUnlock, p, sc.HeldRq, dst, relockSrcRq: false);
                        sc.HeldRq = dst;
                        return;
                    }
                    else if (dst >= 0)
                    {
                        t.Cpu = dst;
                    }
                }
                goto case SchedChangeAt.TaskRqUnlock;
            }
            case SchedChangeAt.TaskRqUnlock:
                UnlockRq(sc.HeldRq);
                UnlockPi(p);
                if (sc.WaitsForStopper)
                {
                    // affine_move_task(): wait_for_completion(&pending->done). The caller sleeps (it does not
                    // spin) until migration_cpu_stop has moved p; its next action cannot start before that.
                    Trace?.Note(_cur, $"wait_for_completion(&pending->done): CPU{sc.StopperCpu}'s stopper");
                    WaitFor(ref f, (int)SchedChangeAt.AfterStopperDone, WaitKind.StopperDone, sc.StopperCpu, p);
                    return;
                }
                Return();
                return;
            case SchedChangeAt.AfterStopperDone:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"sched change resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- move_queued_task()

    /// <summary>
    /// move_queued_task()'s locals (Task = p). Explicit layout: callers outside this file still write the
    /// registers (I0 = src, I1 = dst, I2 = 1 to relock src); the fields sit on those bytes.
    /// </summary>
    [StructLayout(LayoutKind.Explicit)]
    private struct MigrateQueuedLocals
    {
        /// <summary>The rq p leaves (its lock is held on entry).</summary>
        [FieldOffset(24)] public int SrcCpu;
        /// <summary>new_cpu: the rq p moves to (its lock is held on return unless <see cref="RelockSrcRq"/>).</summary>
        [FieldOffset(28)] public int DstCpu;
        /// <summary>Drop dst's lock and take src's again before returning (the stopper's caller keeps its own rq).</summary>
        [FieldOffset(32)] public bool RelockSrcRq;
    }

    /// <summary>move_queued_task()'s resume points.</summary>
    private enum MigrateQueuedAt
    {
        Entry = 0,
        /// <summary>deactivate_task() returned: set_task_cpu(), rq_unlock(src), rq_lock(dst).</summary>
        AfterDequeue = 1,
        /// <summary>dst's rq lock taken: activate_task().</summary>
        AfterDstRqLock = 2,
        /// <summary>activate_task() returned: wakeup_preempt(), then src's lock again if asked.</summary>
        AfterEnqueue = 3,
        Done = 4,
    }

    private void CallMigrateQueued(ref Frame caller, int returnPc, int p, int srcCpu, int dstCpu, bool relockSrcRq)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.MigrateQueued);
        callee.Task = p;
        ref var mq = ref callee.Locals<MigrateQueuedLocals>();
        mq.SrcCpu = srcCpu;
        mq.DstCpu = dstCpu;
        mq.RelockSrcRq = relockSrcRq;
    }

    // Requires: rq(SrcCpu) held. Ensures: rq(DstCpu) held, or rq(SrcCpu) again when RelockSrcRq. Task = p.
    private void PathMigrateQueued(ref Frame f)
    {
        var p = f.Task;
        ref var mq = ref f.Locals<MigrateQueuedLocals>();
        switch ((MigrateQueuedAt)f.Pc)
        {
            case MigrateQueuedAt.Entry:
            {
                Tk(p).Migrating = true;
                CallDequeueTask(ref f, (int)MigrateQueuedAt.AfterDequeue, p, mq.SrcCpu, 0);
                return;
            }
            case MigrateQueuedAt.AfterDequeue:
                Tk(p).Cpu = mq.DstCpu;
                UnlockRq(mq.SrcCpu);
                LockRq(ref f, mq.DstCpu, (int)MigrateQueuedAt.AfterDstRqLock);
                return;
            case MigrateQueuedAt.AfterDstRqLock:
            {
                CallEnqueueTask(ref f, (int)MigrateQueuedAt.AfterEnqueue, p, mq.DstCpu, 0);
                return;
            }
            case MigrateQueuedAt.AfterEnqueue:
                Tk(p).Migrating = false;
                if (RqR(mq.DstCpu).Curr < 0) Rq(mq.DstCpu).NeedResched = true;
                // move_queued_task()'s wakeup_preempt(): the task raises the destination's rq->next_class to its class.
                RaiseNextClass(mq.DstCpu, TkR(p).Class);
                if (mq.RelockSrcRq)
                {
                    UnlockRq(mq.DstCpu);
                    LockRq(ref f, mq.SrcCpu, (int)MigrateQueuedAt.Done);
                    return;
                }
                goto case MigrateQueuedAt.Done;
            case MigrateQueuedAt.Done:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"move_queued_task resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- try_to_wake_up() → select_task_rq_scx() + enqueue

    /// <summary>try_to_wake_up()'s locals (Task = p).</summary>
    private struct WakeupLocals
    {
        /// <summary>The CPU p wakes on: task_cpu(p), then select_task_rq()'s answer, then the checked one.</summary>
        public int TargetCpu;
        /// <summary>select_task_rq() ran (WF_RQ_SELECTED → SCX_ENQ_CPU_SELECTED).</summary>
        public bool RqSelected;
    }

    /// <summary>try_to_wake_up()'s resume points.</summary>
    private enum WakeupAt
    {
        Entry = 0,
        /// <summary>p->pi_lock taken: ttwu_runnable(), the on_cpu wait (which resumes here), select_task_rq().</summary>
        AfterPiLock = 1,
        /// <summary>ops.select_cpu returned: p->scx.selected_cpu and ops_cpu_valid().</summary>
        AfterSelectCpu = 2,
        /// <summary>The chosen CPU is checked against p's mask (select_fallback_rq()), set_task_cpu(), rq lock.</summary>
        SetTaskCpu = 3,
        /// <summary>The target rq's lock taken: ttwu_do_activate() → enqueue_task().</summary>
        AfterRqLock = 4,
        /// <summary>enqueue_task() returned: wakeup_preempt(), unlock.</summary>
        AfterEnqueue = 5,
    }

    // Task = p.
    private void PathWakeup(ref Frame f)
    {
        var p = f.Task;
        ref var wk = ref f.Locals<WakeupLocals>();
        switch ((WakeupAt)f.Pc)
        {
            case WakeupAt.Entry:
                WaitFor(ref f, (int)WakeupAt.AfterPiLock, WaitKind.PiLock, p);
                return;
            case WakeupAt.AfterPiLock:
            {
                ref var t = ref Tk(p);
                if (t.Run != RunState.Sleeping)
                {
                    // ttwu_runnable(): the task set itself to sleep but has not been switched out yet;
                    // the wakeup makes it TASK_RUNNING again, so it does not block (an exit still happens).
                    if (t.WantsSleep && !t.Exiting && t.Run == RunState.Runnable) t.WantsSleep = false;
                    UnlockPi(p);
                    Return();
                    return;
                }
                // smp_cond_load_acquire(&p->on_cpu, !VAL): a task that blocked but is still being switched
                // out by its CPU's __schedule() (which may have dropped the rq lock in balance) cannot be
                // placed on a runqueue yet; pi_lock stays held while waiting.
                for (var c = 0; c < N; c++)
                {
                    _fp.Reads |= Bits.Of(Resource.Rq, c);
                    if (RqR(c).Curr != p) continue;
                    Yield(ref f, (int)WakeupAt.AfterPiLock);
                    return;
                }
                var prev = t.Cpu;
                wk.TargetCpu = prev;
                wk.RqSelected = false;
                // select_task_rq() is only called for a task that may run on more than one CPU.
                if (t.Class != SchedClass.Ext || t.CpusPtr.Weight <= 1 || t.MigrationDisabled) goto case WakeupAt.SetTaskCpu;
                wk.RqSelected = true;
                if (Has.Has(ScxCallback.SelectCpu) && !Bypassing)
                {
                    Act.DdspMarker = p + 1;
                    if (Invoke(ref f, (int)WakeupAt.AfterSelectCpu, ScxCallback.SelectCpu, p, prev, (long)WakeFlags.Ttwu)) return;
                    goto case WakeupAt.AfterSelectCpu;
                }
                // Built-in default selection: an idle CPU gets an automatic SCX_DSQ_LOCAL verdict.
                var cpu = SelectCpuDflCore(p, prev, out var idle);
                if (idle)
                {
                    RefillTaskSliceDfl(p); // sch->slice_dfl: the bypass slice while bypassing
                    t.DdspDsqId = DsqId.Local;
                }
                t.SelectedCpu = cpu; // the default branch records its choice too
                if (Bypassing) Event(ScxEvent.BypassDispatch);
                wk.TargetCpu = cpu;
                goto case WakeupAt.SetTaskCpu;
            }
            case WakeupAt.AfterSelectCpu:
            {
                Act.DdspMarker = 0;
                var cpu = (int)Ret;
                // p->scx.selected_cpu takes the op's answer before ops_cpu_valid() looks at it.
                Tk(p).SelectedCpu = cpu;
                if (cpu < 0 || cpu >= N)
                {
                    ScxError($"invalid CPU {cpu} from ops.select_cpu()");
                    cpu = TkR(p).Cpu;
                }
                wk.TargetCpu = cpu;
                goto case WakeupAt.SetTaskCpu;
            }
            case WakeupAt.SetTaskCpu:
            {
                ref var t = ref Tk(p);
                var cpu = wk.TargetCpu;
                if (!t.CpusPtr.Test(cpu) || cpu >= N)
                {
                    var fb = FirstAllowedOnline(p);
                    cpu = fb >= 0 ? fb : t.Cpu;
                }
                t.Cpu = cpu; // set_task_cpu()
                wk.TargetCpu = cpu;
                LockRq(ref f, cpu, (int)WakeupAt.AfterRqLock);
                return;
            }
            case WakeupAt.AfterRqLock:
            {
                ref var t = ref Tk(p);
                t.Run = RunState.Runnable;
                if (t.Class == SchedClass.Fair)
                {
                    t.FairQueued = true;
                    KickIdleFairCpu(p);
                    goto case WakeupAt.AfterEnqueue;
                }
                CallEnqueueTask(ref f, (int)WakeupAt.AfterEnqueue, p, wk.TargetCpu, (long)EnqFlags.Wakeup | (wk.RqSelected ? (long)EnqFlags.CpuSelected : 0));
                return;
            }
            case WakeupAt.AfterEnqueue:
                if (RqR(wk.TargetCpu).Curr < 0) Rq(wk.TargetCpu).NeedResched = true; // wakeup_preempt on an idle CPU
                // wakeup_preempt(): the wakee raises rq->next_class to its class (never lowers it).
                RaiseNextClass(wk.TargetCpu, TkR(p).Class);
                UnlockRq(wk.TargetCpu);
                UnlockPi(p);
                // task_woken_scx() runs the deferred direct dispatch right away on this CPU's behalf.
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"try_to_wake_up resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- kicks

    /// <summary>The external kick's locals (Cpu = the CPU to kick).</summary>
    private struct KickFromUserLocals
    {
        /// <summary>scx_bpf_kick_cpu()'s flags (SCX_KICK_IDLE, SCX_KICK_PREEMPT, SCX_KICK_WAIT).</summary>
        public KickFlags Flags;
    }

    /// <summary>The external kick's resume point: it is one step.</summary>
    private enum KickFromUserAt
    {
        Entry = 0,
    }

    private void PathKickFromUser(ref Frame f)
    {
        switch ((KickFromUserAt)f.Pc)
        {
            case KickFromUserAt.Entry:
                KfKickCpu(null, f.Cpu, f.Locals<KickFromUserLocals>().Flags);
                Return();
                _stepDone = true;
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"external kick resume point {f.Pc}");
        }
    }

    /// <summary>kick_cpus_irq_workfn()'s locals (Cpu = the CPU whose irq_work runs).</summary>
    private struct KickCpusIrqWorkLocals
    {
        /// <summary>The for_each_cpu() cursor: the next CPU of the current mask to look at.</summary>
        public int NextCpu;
        /// <summary>should_wait: some kicked CPU is to be waited for (SCX_KICK_WAIT).</summary>
        public bool ShouldWait;
    }

    /// <summary>kick_cpus_irq_workfn()'s resume points.</summary>
    private enum KickCpusIrqWorkAt
    {
        Entry = 0,
        /// <summary>for_each_cpu(cpu, this_scx->cpus_to_kick): the next CPU, then kick_one_cpu()'s rq lock.</summary>
        NextKick = 1,
        /// <summary>kick_one_cpu(): the target's rq lock taken.</summary>
        AfterKickRqLock = 2,
        /// <summary>for_each_cpu(cpu, this_scx->cpus_to_kick_if_idle): the next CPU, then its rq lock.</summary>
        NextKickIfIdle = 3,
        /// <summary>kick_one_cpu_if_idle(): the target's rq lock taken.</summary>
        AfterKickIfIdleRqLock = 4,
        /// <summary>Both masks done: should_wait's follow-up.</summary>
        Done = 5,
    }

    // kick_cpus_irq_workfn() on CPU c.
    private void PathKickCpusIrqWork(ref Frame f)
    {
        var c = f.Cpu;
        ref var kw = ref f.Locals<KickCpusIrqWorkLocals>();
        switch ((KickCpusIrqWorkAt)f.Pc)
        {
            case KickCpusIrqWorkAt.Entry:
                Rq(c).KickIrqWork = false;
                kw.NextCpu = 0;
                goto case KickCpusIrqWorkAt.NextKick;
            case KickCpusIrqWorkAt.NextKick:
            {
                var t = RqR(c).CpusToKick.Next(kw.NextCpu);
                if (t < 0 || t >= N)
                {
                    kw.NextCpu = 0;
                    goto case KickCpusIrqWorkAt.NextKickIfIdle;
                }
                kw.NextCpu = t;
                LockRq(ref f, t, (int)KickCpusIrqWorkAt.AfterKickRqLock);
                return;
            }
            case KickCpusIrqWorkAt.AfterKickRqLock:
            {
                // kick_one_cpu()
                var t = kw.NextCpu;
                ref var self = ref Rq(c);
                ref var target = ref Rq(t);
                if (self.CpusToPreempt.Test(t) && IsScx(target.Curr)) Tk(target.Curr).Slice = 0;
                if (self.CpusToWait.Test(t) && IsScx(target.Curr))
                {
                    self.CpusToSync.Set(t);
                    KickSyncW(c, t) = target.KickSync;
                    kw.ShouldWait = true;
                }
                self.CpusToPreempt.Clear(t);
                self.CpusToWait.Clear(t);
                target.NeedResched = true;
                self.CpusToKick.Clear(t);
                self.CpusToKickIfIdle.Clear(t);
                Trace?.Note(_cur, $"kick CPU{t}");
                UnlockRq(t);
                kw.NextCpu = t + 1;
                goto case KickCpusIrqWorkAt.NextKick;
            }
            case KickCpusIrqWorkAt.NextKickIfIdle:
            {
                var t = RqR(c).CpusToKickIfIdle.Next(kw.NextCpu);
                if (t < 0 || t >= N) goto case KickCpusIrqWorkAt.Done;
                kw.NextCpu = t;
                LockRq(ref f, t, (int)KickCpusIrqWorkAt.AfterKickIfIdleRqLock);
                return;
            }
            case KickCpusIrqWorkAt.AfterKickIfIdleRqLock:
            {
                var t = kw.NextCpu;
                ref var target = ref Rq(t);
                if (target.Curr < 0 || (target.Flags & RqFlags.InBalance) != 0) target.NeedResched = true;
                Rq(c).CpusToKickIfIdle.Clear(t);
                UnlockRq(t);
                kw.NextCpu = t + 1;
                goto case KickCpusIrqWorkAt.NextKickIfIdle;
            }
            case KickCpusIrqWorkAt.Done:
                if (kw.ShouldWait)
                {
                    ref var self = ref Rq(c);
                    self.KickSyncPending = true;
                    self.NeedResched = true;
                }
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"kick_cpus_irq_workfn resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- process_ddsp_deferred_locals()

    /// <summary>process_ddsp_deferred_locals()'s resume points (Cpu = this CPU; no other locals).</summary>
    private enum ProcessDdspDeferredLocalsAt
    {
        Entry = 0,
        /// <summary>This rq's lock taken, or dispatch_to_local_dsq() returned: the next task on ddsp_deferred_locals.</summary>
        NextTask = 1,
    }

    private void PathProcessDdspDeferredLocals(ref Frame f)
    {
        var c = f.Cpu;
        switch ((ProcessDdspDeferredLocalsAt)f.Pc)
        {
            case ProcessDdspDeferredLocalsAt.Entry:
                LockRq(ref f, c, (int)ProcessDdspDeferredLocalsAt.NextTask);
                return;
            case ProcessDdspDeferredLocalsAt.NextTask:
            {
                Rq(c).DeferredLocals = false;
                var p = DqR(DeferredSlot(c)).Head;
                if (p < 0)
                {
                    UnlockRq(c);
                    Return();
                    return;
                }
                ref var t = ref Tk(p);
                var id = t.DdspDsqId;
                var flags = t.DdspEnqFlags;
                Unlink(p);
                t.DdspDsqId = DsqId.Invalid;
                t.DdspEnqFlags = 0;
                var slot = FindDsqForDispatch(c, id, p);
                if (!IsLocalSlot(slot))
                {
                    KernelAssert("WARN_ON_ONCE(dsq->id != SCX_DSQ_LOCAL)", $"deferred direct dispatch of {TaskName(p)} resolved to {SlotName(slot)}");
                    goto case ProcessDdspDeferredLocalsAt.NextTask;
                }
                CallDispatchToLocalDsq(ref f, (int)ProcessDdspDeferredLocalsAt.NextTask, p, LocalSlotCpu(slot), flags);
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"process_ddsp_deferred_locals resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- reenq_local() / fallback drain

    /// <summary>SCX_REENQ_LOCAL_MAX_REPEAT: local re-enqueue passes in a row before the kernel calls it a scheduler bug.</summary>
    private const int ReenqLocalMaxRepeat = 256;

    /// <summary>Which re-enqueue a reenq_local() frame runs.</summary>
    private enum ReenqMode
    {
        /// <summary>scx_bpf_reenqueue_local() from ops.cpu_release: the rq is held.</summary>
        Kfunc = 0,
        /// <summary>The deferred scx_bpf_dsq_reenq() on this CPU's local DSQ: takes the rq lock itself.</summary>
        Deferred = 1,
        /// <summary>fallback-dsq (v2): balance_one() drains this rq's fallback DSQ, the rq held.</summary>
        FallbackDrain = 2,
    }

    /// <summary>
    /// reenq_local()'s locals (Cpu = this CPU). Explicit layout: callers outside this file still write
    /// the registers (I2 = the mode); the fields sit on those bytes.
    /// </summary>
    [StructLayout(LayoutKind.Explicit)]
    private struct ReenqueueLocalLocals
    {
        /// <summary>Tasks moved to the private list so far (the kfunc's return value).</summary>
        [FieldOffset(24)] public int Count;
        [FieldOffset(32)] public ReenqMode Mode;
        /// <summary>reenq_local()'s reenq_flags: SCX_REENQ_ANY, and the pass's SCX_REENQ_TSR_RQ_OPEN / TSR_NOT_FIRST.</summary>
        [FieldOffset(0)] public ReenqPass Pass;
    }

    /// <summary>reenq_local()'s reenq_flags as the pass uses them.</summary>
    [Flags]
    private enum ReenqPass
    {
        None = 0,
        /// <summary>SCX_REENQ_ANY: every task (scx_bpf_dsq_reenq, scx_bpf_reenqueue_local); without it only IMMED tasks.</summary>
        Any = 1,
        /// <summary>SCX_REENQ_TSR_RQ_OPEN: rq_is_open(rq, 0) when the pass started.</summary>
        RqOpen = 2,
        /// <summary>SCX_REENQ_TSR_NOT_FIRST: a task has been examined.</summary>
        NotFirst = 4,
    }

    /// <summary>reenq_local()'s resume points.</summary>
    private enum ReenqueueLocalAt
    {
        Entry = 0,
        /// <summary>The rq is held (Deferred: its lock was just taken).</summary>
        AfterRqLock = 1,
        /// <summary>The source DSQ is ours (FallbackDrain: its lock was just taken): move its tasks to the private list.</summary>
        CollectTasks = 2,
        /// <summary>The next task on the private list (do_enqueue_task() returned here).</summary>
        NextTask = 3,
    }

    /// <summary>Push a reenq_local() frame on the current actor (a deferred kfunc or a CPU's deferred work).</summary>
    private void PushReenqueueLocal(int cpu, ReenqMode mode)
    {
        ref var f = ref Push(PathId.ReenqueueLocal);
        f.Cpu = cpu;
        f.Locals<ReenqueueLocalLocals>().Mode = mode;
    }

    /// <summary>Call reenq_local() from a kernel path (balance_one()'s fallback drain).</summary>
    private void CallReenqueueLocal(ref Frame caller, int returnPc, int cpu, ReenqMode mode)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.ReenqueueLocal);
        callee.Cpu = cpu;
        callee.Locals<ReenqueueLocalLocals>().Mode = mode;
    }

    private void PathReenqueueLocal(ref Frame f)
    {
        var c = f.Cpu;
        ref var rl = ref f.Locals<ReenqueueLocalLocals>();
        switch ((ReenqueueLocalAt)f.Pc)
        {
            case ReenqueueLocalAt.Entry:
                if (rl.Mode == ReenqMode.Deferred)
                {
                    LockRq(ref f, c, (int)ReenqueueLocalAt.AfterRqLock);
                    return;
                }
                goto case ReenqueueLocalAt.AfterRqLock;
            case ReenqueueLocalAt.AfterRqLock:
                // The request's reenq_flags (the legacy kfunc from ops.cpu_release always re-enqueues every task), and
                // whether this CPU is open, looked at once (reenq_local()).
                if (rl.Mode == ReenqMode.Kfunc) rl.Pass = ReenqPass.Any;
                if (rl.Mode == ReenqMode.Deferred)
                {
                    ref var rq = ref Rq(c);
                    if ((rq.ReenqRequested & (int)ReenqRequest.Any) != 0) rl.Pass = ReenqPass.Any;
                    rq.ReenqRequested = 0;
                    if (rq.ReenqRepeats > 0)
                    {
                        // process_deferred_reenq_locals(): the previous pass queued this one (an IMMED task put back on
                        // the same busy CPU): SCX_EV_REENQ_LOCAL_REPEAT, and an error past SCX_REENQ_LOCAL_MAX_REPEAT.
                        Event(ScxEvent.ReenqLocalRepeat);
                        if (rq.ReenqRepeats > ReenqLocalMaxRepeat)
                        {
                            ScxError($"SCX_ENQ_REENQ on SCX_DSQ_LOCAL repeated {rq.ReenqRepeats} times");
                            rq.ReenqRepeats = 0;
                            UnlockRq(c);
                            Return(0);
                            return;
                        }
                    }
                }
                if (rl.Mode != ReenqMode.FallbackDrain && RqIsOpen(c, 0)) rl.Pass |= ReenqPass.RqOpen;
                if (rl.Mode == ReenqMode.FallbackDrain)
                {
                    LockDsq(ref f, FallbackSlot(c), (int)ReenqueueLocalAt.CollectTasks);
                    return;
                }
                goto case ReenqueueLocalAt.CollectTasks;
            case ReenqueueLocalAt.CollectTasks:
            {
                // Move the candidates to a private list first so re-inserted tasks are not seen again.
                var src = rl.Mode == ReenqMode.FallbackDrain ? FallbackSlot(c) : LocalSlot(c);
                // "If @p is being migrated, ... the migration_cpu_stop is about to be invoked": reenq_local()
                // leaves it for the stopper. Such a task is on a local DSQ only after the stop class preempted
                // it (put_prev_task_scx() kept it at the head), which is when ops.cpu_release runs.
                var skipMigrating = rl.Mode != ReenqMode.FallbackDrain || Config.FallbackDrain.SkipMigrationPending;
                // (Re)starting the walk: tasks already moved are off the list, and the first task left is the first
                // the kernel's single walk examined unless that one was moved, when the rule below takes the next
                // one anyway (an IMMED task moves only if the CPU was not open; with ANY every task moves).
                rl.Pass &= ~ReenqPass.NotFirst;
                var t = DqR(src).Head;
                while (t >= 0)
                {
                    var next = TkR(t).Next;
                    if (skipMigrating && MigrationPending(t))
                    {
                        t = next;
                        continue;
                    }
                    var reason = TaskFlags.ReenqKfunc;
                    if (rl.Mode != ReenqMode.FallbackDrain)
                    {
                        // local_task_should_reenq(): an IMMED task stays only as the first task of an open CPU.
                        var first = (rl.Pass & ReenqPass.NotFirst) == 0;
                        rl.Pass |= ReenqPass.NotFirst;
                        if (!LocalTaskShouldReenq(t, first, (rl.Pass & ReenqPass.RqOpen) != 0, (rl.Pass & ReenqPass.Any) != 0, out reason))
                        {
                            t = next;
                            continue;
                        }
                    }
                    if (Config.Kernel.ReenqWaitsOutDispatching() && OpsWord.State(TkR(t).OpsState) == OpsState.Dispatching)
                    {
                        // 7de9a6fb: the dispatcher linked p and dropped the DSQ lock but has not released ops_state
                        // yet; reenqueueing now would let its final store overwrite the new QUEUED. Wait it out
                        // (the rq lock held, as the kernel spins), then look at the list again from its head.
                        WaitFor(ref f, (int)ReenqueueLocalAt.CollectTasks, WaitKind.OpsStateChange, t, TkR(t).OpsState);
                        return;
                    }
                    Unlink(t);
                    Tk(t).Dsq = -1;
                    // The reason ops.enqueue sees in p->scx.flags (local_task_should_reenq(): KFUNC for a kfunc-driven
                    // re-enqueue, IMMED for an IMMED task that cannot run now). The fallback-dsq drain sets none.
                    if (rl.Mode != ReenqMode.FallbackDrain)
                    {
                        Tk(t).Flags = (TkR(t).Flags & ~TaskFlags.ReenqReasonMask) | reason;
                        if (reason == TaskFlags.ReenqImmed) Event(ScxEvent.ReenqImmed);
                    }
                    LinkTail(ReenqSlot(c), t);
                    rl.Count++;
                    t = next;
                }
                if (rl.Mode == ReenqMode.FallbackDrain) UnlockDsq(FallbackSlot(c));
                goto case ReenqueueLocalAt.NextTask;
            }
            case ReenqueueLocalAt.NextTask:
            {
                // do_enqueue_task() of the previous task returned: clear its reason.
                if (f.Task >= 0) Tk(f.Task).Flags &= ~TaskFlags.ReenqReasonMask;
                f.Task = -1;
                var p = DqR(ReenqSlot(c)).Head;
                if (p < 0)
                {
                    if (rl.Mode == ReenqMode.Deferred)
                    {
                        // A pass whose re-enqueues queued another one continues the run of repeats; any other ends it.
                        ref var rq = ref Rq(c);
                        rq.ReenqRepeats = rq.ReenqRequested != 0 ? rq.ReenqRepeats + 1 : 0;
                        UnlockRq(c);
                    }
                    Return(rl.Count);
                    return;
                }
                Unlink(p);
                if (rl.Mode == ReenqMode.FallbackDrain) Event(ScxEvent.FallbackReenq);
                else if ((TkR(p).Flags & TaskFlags.ReenqReasonMask) == TaskFlags.ReenqKfunc) Event(ScxEvent.ReenqKfunc);
                if (rl.Mode != ReenqMode.FallbackDrain) f.Task = p;
                CallDoEnqueueTask(ref f, (int)ReenqueueLocalAt.NextTask, p, TkR(p).Cpu, (long)EnqFlags.Reenq, -1);
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"reenq_local resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- reenq_user()

    /// <summary>
    /// The locals of process_deferred_reenq_users() / reenq_user() (Cpu = this CPU, Dsq = the user DSQ's slot,
    /// Task = the task being re-enqueued).
    /// </summary>
    [StructLayout(LayoutKind.Explicit)]
    private struct ReenqueueUserLocals
    {
        /// <summary>The cursor's priv: dsq->seq when it was initialised; tasks queued later are not visited.</summary>
        [FieldOffset(0)] public long Seq;
        /// <summary>
        /// Tasks the cursor has returned (bit per task index, 128 tasks). The cursor stands right after the last
        /// one; the tasks in front of it that were queued before it started are exactly these (an old task is
        /// never inserted anywhere: any insertion takes a new dsq_seq), as for the BPF DSQ iterator.
        /// </summary>
        [FieldOffset(8)] public ulong Visited0;
        [FieldOffset(16)] public ulong Visited1;
        /// <summary>The rq lock held (locked_rq), -1 for none.</summary>
        [FieldOffset(24)] public int LockedRq;
        /// <summary>Tasks re-enqueued from this DSQ (the SCX_TASK_ITER_BATCH count).</summary>
        [FieldOffset(28)] public int Count;
    }

    private enum ReenqueueUserAt
    {
        Entry = 0,
        /// <summary>This rq is held: pop the next request (process_deferred_reenq_users()).</summary>
        NextRequest = 1,
        /// <summary>The DSQ lock was just taken: INIT_DSQ_LIST_CURSOR().</summary>
        CursorInit = 2,
        /// <summary>The DSQ is held: nldsq_cursor_next_task().</summary>
        NextTask = 3,
        /// <summary>The trylock failed; the task's rq was just taken: relock the DSQ.</summary>
        AfterTaskRqLock = 4,
        /// <summary>Both locks are held again: nldsq_cursor_lost_task().</summary>
        LostCheck = 5,
        /// <summary>do_enqueue_task() returned: clear the reason, maybe drop the rq lock, relock the DSQ.</summary>
        AfterEnqueue = 6,
        /// <summary>The walk is over and this rq is held again.</summary>
        Restored = 7,
    }

    /// <summary>Tasks reenq_user()'s cursor can stand for.</summary>
    private const int ReenqUserMaxTasks = 128;

    /// <summary>
    /// run_deferred() → process_deferred_reenq_users(): for each user DSQ with a request on this rq,
    /// reenq_user(): walk the DSQ with a cursor (tasks queued before it started), take each task to its own rq
    /// (trylock under the DSQ lock; else drop the DSQ lock, lock the rq, relock the DSQ and check the task was not
    /// lost), dequeue it, drop the DSQ lock and do_enqueue_task(SCX_ENQ_REENQ) with reason SCX_TASK_REENQ_KFUNC;
    /// every SCX_TASK_ITER_BATCH (32) tasks the rq lock is dropped; at the end this rq's lock is taken back.
    /// </summary>
    private void PathReenqueueUser(ref Frame f)
    {
        var c = f.Cpu;
        ref var ru = ref f.Locals<ReenqueueUserLocals>();
        switch ((ReenqueueUserAt)f.Pc)
        {
            case ReenqueueUserAt.Entry:
                // The deferred work runs with the rq locked (deferred_irq_workfn / balance callback).
                LockRq(ref f, c, (int)ReenqueueUserAt.NextRequest);
                return;
            case ReenqueueUserAt.NextRequest:
            case ReenqueueUserAt.Restored:
            {
                var requests = Rq(c).ReenqUsers;
                if (requests == 0)
                {
                    UnlockRq(c);
                    Return();
                    return;
                }
                var index = System.Numerics.BitOperations.TrailingZeroCount(requests);
                Rq(c).ReenqUsers = requests & ~(1UL << index);
                var slot = UserSlot(index);
                // "Don't BUG_ON a destroyed DSQ": a DSQ destroyed since the request was made is skipped.
                if (DqR(slot).Destroyed) goto case ReenqueueUserAt.NextRequest;
                f.Dsq = slot;
                ru.LockedRq = c;
                ru.Count = 0;
                ru.Visited0 = ru.Visited1 = 0;
                LockDsq(ref f, slot, (int)ReenqueueUserAt.CursorInit);
                return;
            }
            case ReenqueueUserAt.CursorInit:
                ru.Seq = DqR(f.Dsq).Seq;
                goto case ReenqueueUserAt.NextTask;
            case ReenqueueUserAt.NextTask:
            {
                var slot = f.Dsq;
                // The walk stops once the scheduler is bypassing.
                if (Bypassing) goto FinishWalk;
                var p = DqR(slot).Head;
                while (p >= 0 && (TkR(p).DsqSeq > ru.Seq || ReenqUserVisited(ref ru, p))) p = TkR(p).Next;
                if (p < 0) goto FinishWalk;
                if (p >= ReenqUserMaxTasks)
                {
                    ScxError($"scx_bpf_dsq_reenq() on {SlotName(slot)}: the model's DSQ cursor covers at most {ReenqUserMaxTasks} tasks");
                    goto FinishWalk;
                }
                if (p < 64) ru.Visited0 |= 1UL << p;
                else ru.Visited1 |= 1UL << (p - 64);
                f.Task = p;
                var taskRq = TkR(p).Cpu;
                if (ru.LockedRq == taskRq) goto case ReenqueueUserAt.LostCheck;
                if (ru.LockedRq >= 0) UnlockRq(ru.LockedRq);
                ru.LockedRq = taskRq;
                // raw_spin_rq_trylock() under the DSQ lock (the lock order is rq before DSQ).
                _fp.Reads |= Bits.Of(Resource.Lock, taskRq);
                if (World.Cpus[taskRq].RqLock < 0)
                {
                    World.Cpus[taskRq].RqLock = _cur;
                    _fp.Writes |= Bits.Of(Resource.Lock, taskRq);
                    goto case ReenqueueUserAt.LostCheck;
                }
                UnlockDsq(slot);
                LockRq(ref f, taskRq, (int)ReenqueueUserAt.AfterTaskRqLock);
                return;
            }
            case ReenqueueUserAt.AfterTaskRqLock:
                LockDsq(ref f, f.Dsq, (int)ReenqueueUserAt.LostCheck);
                return;
            case ReenqueueUserAt.LostCheck:
            {
                var slot = f.Dsq;
                var p = f.Task;
                ref readonly var t = ref TkR(p);
                // nldsq_cursor_lost_task(): left the DSQ, re-enqueued since, or being consumed; and WARN if its rq
                // changed while it stayed (cannot happen: a task on a DSQ does not migrate).
                if (t.Dsq != slot || t.DsqSeq > ru.Seq || t.HoldingCpu >= 0 || t.Cpu != ru.LockedRq) goto case ReenqueueUserAt.NextTask;
                if (Config.Kernel.ReenqWaitsOutDispatching() && OpsWord.State(t.OpsState) == OpsState.Dispatching)
                {
                    // 7de9a6fb (7.3): wait out the dispatcher's final ops_state store, both locks held, then look again.
                    WaitFor(ref f, (int)ReenqueueUserAt.LostCheck, WaitKind.OpsStateChange, p, t.OpsState);
                    return;
                }
                // dispatch_dequeue_locked(), drop the DSQ lock, set the reason, re-enqueue.
                Unlink(p);
                Tk(p).Dsq = -1;
                UnlockDsq(slot);
                Tk(p).Flags = (TkR(p).Flags & ~TaskFlags.ReenqReasonMask) | TaskFlags.ReenqKfunc;
                Event(ScxEvent.ReenqKfunc);
                CallDoEnqueueTask(ref f, (int)ReenqueueUserAt.AfterEnqueue, p, ru.LockedRq, (long)EnqFlags.Reenq, -1);
                return;
            }
            case ReenqueueUserAt.AfterEnqueue:
                Tk(f.Task).Flags &= ~TaskFlags.ReenqReasonMask;
                f.Task = -1;
                if (++ru.Count % 32 == 0)
                {
                    UnlockRq(ru.LockedRq);
                    ru.LockedRq = -1;
                }
                LockDsq(ref f, f.Dsq, (int)ReenqueueUserAt.NextTask);
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"reenq_user resume point {f.Pc}");
        }

    FinishWalk:
        UnlockDsq(f.Dsq);
        f.Dsq = -1;
        f.Task = -1;
        if (ru.LockedRq == c) goto NextRequestHeld;
        if (ru.LockedRq >= 0) UnlockRq(ru.LockedRq);
        ru.LockedRq = c;
        LockRq(ref f, c, (int)ReenqueueUserAt.Restored);
        return;
    NextRequestHeld:
        f.Pc = (int)ReenqueueUserAt.NextRequest;
        PathReenqueueUser(ref f);
    }

    private static bool ReenqUserVisited(ref ReenqueueUserLocals ru, int p) =>
        p < 64 ? ((ru.Visited0 >> p) & 1) != 0 : p < ReenqUserMaxTasks && ((ru.Visited1 >> (p - 64)) & 1) != 0;

    /// <summary>
    /// <c>p->migration_pending</c>: affine_move_task() queued migration_cpu_stop() for p and the stopper has not
    /// finished with it yet (the model names the task on the stopper's rq until then). Reads every rq: the
    /// kernel reads one task field, the model finds which CPU's stopper names it.
    /// </summary>
    private bool MigrationPending(int p)
    {
        for (var d = 0; d < N; d++)
            if (RqR(d).StopperTask == p) return true;
        return false;
    }

    // ---------------------------------------------------------------- update_curr_scx()
    /// <summary>
    /// Charge rq->curr (an SCX task) the clock time since its exec_start: sum_exec_runtime grows and
    /// the slice shrinks by it (SCX_SLICE_INF is never consumed). Only in clocked runs; unclocked
    /// (exploration) the clock stays at ModelConfig.AttachClockNs and the tick charges a fixed 1/HZ instead.
    /// </summary>
    private void UpdateCurrScx(int c)
    {
        if (!Config.Clocked) return;
        var curr = RqR(c).Curr;
        if (!IsScx(curr)) return;
        ref var t = ref Tk(curr);
        var now = SchR().Clock;
        var delta = now - t.ExecStart;
        if (delta <= 0) return;
        t.ExecStart = now;
        t.Runtime += delta;
        if (t.Slice != ScxConst.SliceInf) t.Slice -= Math.Min(t.Slice, delta);
    }

    // ---------------------------------------------------------------- task_tick_scx()

    /// <summary>sched_tick() → task_tick_scx()'s resume points (Cpu = the ticking CPU, Task = its rq->curr; no other locals).</summary>
    private enum TaskTickAt
    {
        Entry = 0,
        /// <summary>This rq's lock taken: charge rq->curr, then ops.tick.</summary>
        AfterRqLock = 1,
        /// <summary>ops.tick returned (or was not called): resched when the slice ran out, unlock.</summary>
        AfterOpsTick = 2,
    }

    private void PathTaskTick(ref Frame f)
    {
        var c = f.Cpu;
        switch ((TaskTickAt)f.Pc)
        {
            case TaskTickAt.Entry:
                LockRq(ref f, c, (int)TaskTickAt.AfterRqLock);
                return;
            case TaskTickAt.AfterRqLock:
            {
                var curr = RqR(c).Curr;
                f.Task = curr;
                // The fair class after a scheduler exit is modelled as round-robin at tick granularity
                // (task_tick_fair → resched_curr when others wait; simplified to every tick).
                if (curr >= 0 && TkR(curr).Class == SchedClass.Fair) Rq(c).NeedResched = true;
                if (!IsScx(curr)) goto case TaskTickAt.AfterOpsTick;
                ref var t = ref Tk(curr);
                if (Config.Clocked) UpdateCurrScx(c);
                else
                {
                    // Unclocked (exploration): a tick stands for 1/HZ of running.
                    if (t.Slice != ScxConst.SliceInf) t.Slice -= Math.Min(t.Slice, Config.TickNs);
                    t.Runtime += Config.TickNs;
                }
                if (Bypassing) t.Slice = 0;
                else if (Invoke(ref f, (int)TaskTickAt.AfterOpsTick, ScxCallback.Tick, curr, c)) return;
                goto case TaskTickAt.AfterOpsTick;
            }
            case TaskTickAt.AfterOpsTick:
                if (IsScx(f.Task) && TkR(f.Task).Slice == 0) Rq(c).NeedResched = true;
                UnlockRq(c);
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"task_tick_scx resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- scx_root_disable()

    /// <summary>scx_root_disable()'s locals (on the helper).</summary>
    private struct DisableSchedulerLocals
    {
        /// <summary>The scx_task_iter cursor: the next task to switch back to the fair class.</summary>
        public int NextTask;
        /// <summary>The rq whose lock task_rq_lock() took for <see cref="NextTask"/>.</summary>
        public int HeldRq;
    }

    /// <summary>scx_root_disable()'s resume points.</summary>
    private enum DisableSchedulerAt
    {
        Entry = 0,
        /// <summary>scx_task_iter_next_locked(): the next SCX task, then its pi_lock.</summary>
        NextTask = 1,
        /// <summary>p->pi_lock taken: task_rq_lock() reads task_rq(p) and locks it; its retry resumes here too.</summary>
        AfterPiLock = 2,
        /// <summary>task_rq(p)'s lock taken: recheck the rq, then the sched-change dequeue.</summary>
        AfterRqLock = 3,
        /// <summary>dequeue_task() returned (or p was not queued): switch p to the fair class, unlock.</summary>
        AfterDequeue = 4,
        /// <summary>Every task switched: ops.exit.</summary>
        OpsExit = 5,
        /// <summary>ops.exit returned (or was not called): the scheduler is disabled, bypass ends.</summary>
        AfterOpsExit = 6,
    }

    // On the helper.
    private void PathDisableScheduler(ref Frame f)
    {
        ref var ds = ref f.Locals<DisableSchedulerLocals>();
        switch ((DisableSchedulerAt)f.Pc)
        {
            case DisableSchedulerAt.Entry:
                Sch().BypassDepth++; // scx_bypass(true)
                Trace?.Note(_cur, "scx_root_disable(): bypass, switch every task to the fair class");
                ds.NextTask = 0;
                goto case DisableSchedulerAt.NextTask;
            case DisableSchedulerAt.NextTask:
            {
                while (ds.NextTask < World.Tasks.Length && (TkR(ds.NextTask).Class != SchedClass.Ext || TkR(ds.NextTask).Run == RunState.Dead)) ds.NextTask++;
                if (ds.NextTask >= World.Tasks.Length) goto case DisableSchedulerAt.OpsExit;
                WaitFor(ref f, (int)DisableSchedulerAt.AfterPiLock, WaitKind.PiLock, ds.NextTask);
                return;
            }
            case DisableSchedulerAt.AfterPiLock:
                ds.HeldRq = TkR(ds.NextTask).Cpu;
                LockRq(ref f, ds.HeldRq, (int)DisableSchedulerAt.AfterRqLock);
                return;
            case DisableSchedulerAt.AfterRqLock:
            {
                var p = ds.NextTask;
                ref var t = ref Tk(p);
                if (t.Cpu != ds.HeldRq || t.Migrating)
                {
                    UnlockRq(ds.HeldRq);
                    WaitFor(ref f, (int)DisableSchedulerAt.AfterPiLock, WaitKind.TaskNotMigrating, p);
                    return;
                }
                if (t.Run == RunState.Runnable)
                {
                    CallDequeueTask(ref f, (int)DisableSchedulerAt.AfterDequeue, p, ds.HeldRq, 0);
                    return;
                }
                goto case DisableSchedulerAt.AfterDequeue;
            }
            case DisableSchedulerAt.AfterDequeue:
            {
                var p = ds.NextTask;
                ref var t = ref Tk(p);
                t.Class = SchedClass.Fair;
                t.OpsState = OpsWord.Make(OpsState.None, 0);
                // scx_disable_task(): the dequeue above ended any custody; a task still in custody here
                // is the kernel's WARN (the flag is dropped with the scheduler either way).
                if ((t.Flags & TaskFlags.InCustody) != 0)
                    KernelAssert("WARN_ON_ONCE(p->scx.flags & SCX_TASK_IN_CUSTODY)", $"scx_disable_task({TaskName(p)}) with SCX_TASK_IN_CUSTODY set");
                t.Flags &= ~TaskFlags.InCustody;
                var running = RqR(t.Cpu).Curr == p;
                if (t.Run == RunState.Runnable && !running)
                {
                    t.FairQueued = true;
                    KickIdleFairCpu(p);
                }
                UnlockRq(ds.HeldRq);
                UnlockPi(p);
                ds.NextTask++;
                goto case DisableSchedulerAt.NextTask;
            }
            case DisableSchedulerAt.OpsExit:
                if (Invoke(ref f, (int)DisableSchedulerAt.AfterOpsExit, ScxCallback.Exit, -1, 0, (long)SchR().ExitKind)) return;
                goto case DisableSchedulerAt.AfterOpsExit;
            case DisableSchedulerAt.AfterOpsExit:
            {
                ref var s = ref Sch();
                s.Disabled = true;
                s.BypassDepth--;
                for (var c = 0; c < N; c++)
                    if (RqR(c).Curr < 0) Rq(c).NeedResched = true;
                Trace?.Note(_cur, $"sched_ext: BPF scheduler \"{Ops.Name}\" disabled ({ExitKinds.Reason(s.ExitKind)})");
                Return();
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"scx_root_disable resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- boot

    /// <summary>Builds the initial world: ops.init, then the tasks in their initial states, all run to completion.</summary>
    private void Boot()
    {
        var w = World;
        for (var s = 0; s < w.Dsqs.Length; s++)
        {
            ref var d = ref w.Dsqs[s];
            d.Head = d.Tail = -1;
            d.Lock = -1;
            d.Id = s == GlobalSlot ? DsqId.Global : IsLocalSlot(s) ? DsqId.Local : IsBypassSlot(s) ? DsqId.Bypass : DsqId.Invalid;
        }
        for (var c = 0; c < N; c++)
        {
            ref var rq = ref w.Cpus[c];
            rq.RqLock = -1;
            rq.Curr = -1;
            rq.Flags = RqFlags.Online;
            rq.Idle = true;
            rq.StopperTask = -1;
        }
        for (var i = 0; i < Config.Tasks.Count; i++)
        {
            var spec = Config.Tasks[i];
            if (spec.Cpu < 0 || spec.Cpu >= N) throw new ArgumentException($"task {spec.Name}: cpu {spec.Cpu} out of range 0..{N - 1}");
            ref var t = ref w.Tasks[i];
            t.Flags = TaskFlags.ResetRunnableAt;
            t.StickyCpu = -1;
            t.HoldingCpu = -1;
            t.Dsq = -1;
            t.ListOn = -1;
            t.Next = t.Prev = -1;
            t.Slice = spec.Slice;
            t.Weight = spec.Weight;
            t.Cpu = spec.Cpu;
            t.CpusPtr = spec.Allowed;
            t.DdspDsqId = DsqId.Invalid;
            t.SelectedCpu = -1;
            t.PiLock = -1;
            t.Run = RunState.Sleeping;
            t.Class = SchedClass.Ext;
            t.MigrationDisabled = spec.MigrationDisabled;
        }
        for (var a = 0; a < _actors.Length; a++)
        {
            var info = _actors[a];
            if (info.Kind == ActorKind.Cpu)
                w.Actors[a].RoundsLeft = info.Cpu < Config.Rounds.Count ? Config.Rounds[info.Cpu] : 0;
            // Unbounded (-1) when the driver runs CPUs unbounded (the simulator), else the exploration's bound.
            else if (info.Kind == ActorKind.Timer)
                w.Actors[a].RoundsLeft = Config.Rounds.Count > 0 && Config.Rounds[0] < 0 ? -1 : Config.TimerFires;
        }

        _cur = _helper;
        ref var root = ref Push(PathId.Callback);
        root.Path = PathId.None;
        // ops.init runs on the helper before any task is scheduled.
        World.Actors[_helper].Depth = 0;
        if (Has.Has(ScxCallback.Init))
        {
            ref var f = ref Push(PathId.Callback);
            f.I0 = (int)ScxCallback.Init;
            f.LogStart = 0;
            f.I2 = 1;
            RunHelperToCompletion();
        }

        // validate_ops() runs after ops.init in scx_root_enable_workfn(); its failure is an scx_error()
        // and the enable still returns 0 to the link, so the scheduler loads and then exits (ERROR).
        if ((Ops.Flags & OpsFlags.EnqLast) != 0 && !Has.Has(ScxCallback.Enqueue))
            ScxError("SCX_OPS_ENQ_LAST requires ops.enqueue() to be implemented");
        // SCX_OPS_BUILTIN_IDLE_PER_NODE needs the built-in idle tracking that ops.update_idle turns off.
        else if ((Ops.Flags & OpsFlags.BuiltinIdlePerNode) != 0 && !BuiltinIdle)
            ScxError("SCX_OPS_BUILTIN_IDLE_PER_NODE requires CPU idle selection enabled");

        for (var i = 0; i < Config.Tasks.Count; i++)
        {
            var spec = Config.Tasks[i];
            if (spec.State == InitialTaskState.Sleeping) continue;
            ref var t = ref w.Tasks[i];
            t.Run = RunState.Runnable;
            w.Cpus[spec.Cpu].RqLock = _helper;
            _cur = _helper;
            if (spec.State == InitialTaskState.Running)
            {
                if (w.Cpus[spec.Cpu].Curr >= 0) throw new ArgumentException($"task {spec.Name}: CPU{spec.Cpu} already runs {Config.Tasks[w.Cpus[spec.Cpu].Curr].Name}");
                t.StickyCpu = spec.Cpu; // lands on the local DSQ without ops.enqueue, then is picked
                ref var e = ref Push(PathId.EnqueueTask);
                e.Task = i;
                e.Cpu = spec.Cpu;
                RunHelperToCompletion();
                w.Cpus[spec.Cpu].RqLock = _helper;
                _cur = _helper;
                ref var sn = ref Push(PathId.SetNextTask);
                sn.Task = i;
                sn.Cpu = spec.Cpu;
                RunHelperToCompletion();
                w.Cpus[spec.Cpu].Curr = i;
                w.Cpus[spec.Cpu].Idle = false;
                // As the pick that ran it left rq->next_class.
                w.Cpus[spec.Cpu].NextClass = NextClassOf(w.Tasks[i].Class);
            }
            else
            {
                ref var e = ref Push(PathId.EnqueueTask);
                e.Task = i;
                e.Cpu = spec.Cpu;
                e.Locals<EnqueueTaskLocals>().EnqFlags = (long)EnqFlags.Wakeup;
                RunHelperToCompletion();
                // Its wakeup raised rq->next_class (as a wakeup during the run does).
                RaiseNextClass(spec.Cpu, w.Tasks[i].Class);
            }
            w.Cpus[spec.Cpu].RqLock = -1;
        }
        // Boot-time requests (kicks, resched of idle CPUs) are not part of the scenario.
        for (var c = 0; c < N; c++)
        {
            w.Cpus[c].NeedResched = false;
            w.Cpus[c].KickIrqWork = false;
            w.Cpus[c].CpusToKick = default;
            w.Cpus[c].CpusToKickIfIdle = default;
            w.Cpus[c].CpusToPreempt = default;
            w.Cpus[c].CpusToWait = default;
        }
        Array.Clear(w.Events);
        StepFindings.Clear();
    }

    private void RunHelperToCompletion()
    {
        var guard = 0;
        while (World.Actors[_helper].Depth > 0)
        {
            if (!IsEnabled(_helper))
            {
                // A BPF program the model stopped at one of its limits can leave memory no program of the kernel's could
                // (a lock word of its own still taken): the path ends at that limit anyway (incomplete), so the boot ends
                // there too rather than wait on it.
                if (Sch().ModelLimit) break;
                // Nothing else runs while the model boots, so a wait here never ends: a BPF program that spins at load
                // on memory nothing changes (the kernel would end the loop with its may_goto budget, or hang). A limit of
                // the model's boot (incomplete), not a finding and not a crash.
                var f = FrameAt(_helper, World.Actors[_helper].Depth - 1);
                ModelLimit($"scxlab: setting up the scenario's initial state, {f.Path} waits ({f.Wait}) for something only another CPU could change, and nothing else runs then");
                break;
            }
            Step(_helper);
            if (++guard > 100_000) throw new InvalidOperationException("boot did not finish");
        }
        _cur = _helper;
    }
}

/// <summary>The stopper: migration_cpu_stop() for a running task whose CPU left its mask.</summary>
public sealed partial class Machine
{
    /// <summary>migration_cpu_stop()'s resume points (Cpu = the stopper's CPU, Task = p; no other locals).</summary>
    private enum MigrationCpuStopAt
    {
        Entry = 0,
        /// <summary>This rq's lock taken: is p still here, running, and off its mask?</summary>
        AfterRqLock = 1,
        /// <summary>put_prev_task_scx() returned: the stopper is rq->curr; switch_class() → ops.cpu_release.</summary>
        AfterPutPrevTask = 2,
        /// <summary>ops.cpu_release returned (or was not called): move_queued_task() to an allowed CPU.</summary>
        AfterCpuRelease = 3,
        /// <summary>move_queued_task() returned with this rq relocked (or no move): complete_all(), unlock.</summary>
        AfterMoveQueued = 4,
    }

    // On CPU c's actor. Task = p. The stop class preempts p (put_prev_task_scx with a higher-class
    // next, then switch_class → ops.cpu_release), and moves it to an allowed CPU (move_queued_task).
    private void PathMigrationCpuStop(ref Frame f)
    {
        var c = f.Cpu;
        switch ((MigrationCpuStopAt)f.Pc)
        {
            case MigrationCpuStopAt.Entry:
                LockRq(ref f, c, (int)MigrationCpuStopAt.AfterRqLock);
                return;
            case MigrationCpuStopAt.AfterRqLock:
            {
                ref var rq = ref Rq(c);
                rq.StopperPending = false;
                var p = rq.StopperTask;
                f.Task = p;
                ref readonly var t = ref TkR(p);
                if (rq.Curr != p || t.Run != RunState.Runnable || t.CpusPtr.Test(c) || t.Class != SchedClass.Ext)
                {
                    rq.StopperTask = -1; // complete_all(&pending->done): the waiter in affine_move_task() returns
                    rq.StopperDest = 0;
                    // The stopper thread still ran on this CPU: when it sleeps again the CPU goes through schedule()
                    // (and balance → ops.dispatch if idle), as after the full path (AfterPutPrevTask).
                    rq.NeedResched = true;
                    UnlockRq(c); // it already left, or may stay: nothing to do
                    Return();
                    return;
                }
                Trace?.Note(_cur, $"migration_cpu_stop({TaskName(p)}): the stopper preempts it");
                CallPutPrevTask(ref f, (int)MigrationCpuStopAt.AfterPutPrevTask, p, c, PutPrevNextHigherClass);
                return;
            }
            case MigrationCpuStopAt.AfterPutPrevTask:
            {
                ref var rq = ref Rq(c);
                rq.Curr = -1; // the stopper runs; SCX has no current task here (put_prev_task_scx() bumped kick_sync)
                rq.NeedResched = true;
                if (!rq.CpuReleased)
                {
                    // switch_class(): the CPU is taken by a higher class.
                    rq.CpuReleased = true;
                    if (Invoke(ref f, (int)MigrationCpuStopAt.AfterCpuRelease, ScxCallback.CpuRelease, -1, c)) return;
                }
                goto case MigrationCpuStopAt.AfterCpuRelease;
            }
            case MigrationCpuStopAt.AfterCpuRelease:
            {
                var p = f.Task;
                ref readonly var t = ref TkR(p);
                // __migrate_task(rq, rf, p, arg->dest_cpu): no move to a CPU p may not use (is_cpu_allowed()).
                var dst = RqR(c).StopperDest;
                if (t.Run == RunState.Runnable && t.Cpu == c && dst >= 0 && dst != c && t.CpusPtr.Test(dst) && (t.Flags & TaskFlags.Queued) != 0)
                {
                    CallMigrateQueued(ref f, (int)MigrationCpuStopAt.AfterMoveQueued, p, c, dst, relockSrcRq: true); // back to rq(c) afterwards
                    return;
                }
                goto case MigrationCpuStopAt.AfterMoveQueued;
            }
            case MigrationCpuStopAt.AfterMoveQueued:
            {
                // complete_all(&pending->done) releases the waiter in affine_move_task(). A request queued
                // meanwhile (another affinity change) keeps its task named until its own run completes.
                ref var rq = ref Rq(c);
                if (!rq.StopperPending)
                {
                    rq.StopperTask = -1;
                    rq.StopperDest = 0;
                }
                UnlockRq(c);
                Return();
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"migration_cpu_stop resume point {f.Pc}");
        }
    }
}
