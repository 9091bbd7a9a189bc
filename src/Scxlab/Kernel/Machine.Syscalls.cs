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
    // Task = p, I0 = script action index (the new mask), I1 = rq locked, I2 = queued | running<<1,
    // L1 = CPU + 1 whose stopper affine_move_task() waits for (0 = none).
    // Races with: finish_dispatch()/dispatch_to_local_dsq() on another CPU (the R1/R2 window).
    private void PathSetCpusAllowed(ref Frame f) => PathSchedChange(ref f, isAffinity: true);

    // Task = p, I0 = new weight. Same change pattern; reweight_task_scx() → ops.set_weight.
    private void PathSetWeight(ref Frame f) => PathSchedChange(ref f, isAffinity: false);

    private void PathSchedChange(ref Frame f, bool isAffinity)
    {
        var p = f.Task;
        switch (f.Pc)
        {
            case 0:
                WaitFor(ref f, 1, WaitKind.PiLock, p);
                return;
            case 1:
                // task_rq_lock(): lock task_rq(p), retry if it moved or is migrating.
                f.I1 = TkR(p).Cpu;
                LockRq(ref f, f.I1, 2);
                return;
            case 2:
            {
                ref var t = ref Tk(p);
                if (t.Cpu != f.I1 || t.Migrating)
                {
                    UnlockRq(f.I1);
                    WaitFor(ref f, 1, WaitKind.TaskNotMigrating, p);
                    return;
                }
                if (isAffinity && _masks[f.I0] == t.CpusPtr)
                {
                    // __set_cpus_allowed_ptr_locked(): cpumask_equal(&p->cpus_mask, new_mask) → goto out,
                    // before any dequeue/enqueue or set_cpus_allowed_scx().
                    Trace?.Note(_cur, $"__set_cpus_allowed_ptr({TaskName(p)}, {t.CpusPtr}): mask unchanged");
                    goto case 7;
                }
                var queued = t.Run == RunState.Runnable && t.Class == SchedClass.Ext;
                var running = RqR(t.Cpu).Curr == p;
                f.I2 = (queued ? 1 : 0) | (running ? 2 : 0);
                if (queued)
                {
                    ref var d = ref Call(ref f, 3, PathId.DequeueTask);
                    d.Task = p;
                    d.Cpu = f.I1;
                    d.L0 = 0; // DEQUEUE_SAVE|DEQUEUE_NOCLOCK: not a sleep → SCX_DEQ_SCHED_CHANGE
                    return;
                }
                goto case 3;
            }
            case 3:
            {
                ref var t = ref Tk(p);
                if (isAffinity)
                {
                    var mask = _masks[f.I0];
                    if (Config.Protocol == Protocol.Ghost) t.Barrier++; // TASK_AFFINITY_CHANGED, sent before the mask changes
                    t.CpusPtr = mask;
                    t.AffinityGen++;
                    Trace?.Note(_cur, $"set_cpus_allowed_scx({TaskName(p)}, {mask})");
                    if (t.Class == SchedClass.Ext && Invoke(ref f, 4, ScxCallback.SetCpumask, p, f.I1)) return;
                }
                else
                {
                    t.Weight = f.I0;
                    if (t.Class == SchedClass.Ext && Invoke(ref f, 4, ScxCallback.SetWeight, p, f.I1, f.I0)) return;
                }
                goto case 4;
            }
            case 4:
                if ((f.I2 & 1) != 0)
                {
                    ref var e = ref Call(ref f, 5, PathId.EnqueueTask);
                    e.Task = p;
                    e.Cpu = f.I1;
                    e.L0 = CoreEnqRestore;
                    return;
                }
                goto case 5;
            case 5:
                if ((f.I2 & 2) != 0 && TkR(p).Class == SchedClass.Ext)
                {
                    ref var sn = ref Call(ref f, 6, PathId.SetNextTask);
                    sn.Task = p;
                    sn.Cpu = f.I1;
                    return;
                }
                goto case 6;
            case 6:
            {
                ref var t = ref Tk(p);
                if (isAffinity && t.Run == RunState.Runnable && !t.CpusPtr.Test(t.Cpu))
                {
                    var dst = FirstAllowedOnline(p);
                    if ((f.I2 & 2) != 0)
                    {
                        // Running: affine_move_task() queues migration_cpu_stop on its CPU and, after dropping
                        // the locks, waits for it (L1 = that CPU + 1).
                        ref var rq = ref Rq(t.Cpu);
                        rq.StopperPending = true;
                        rq.StopperTask = p;
                        rq.NeedResched = true;
                        f.L1 = t.Cpu + 1;
                    }
                    else if (dst >= 0 && t.Class == SchedClass.Ext)
                    {
                        // affine_move_task() → move_queued_task() under the same rq lock.
                        ref var m = ref Call(ref f, 7, PathId.MigrateQueued);
                        m.Task = p;
                        m.I0 = f.I1;
                        m.I1 = dst;
                        f.I1 = dst;
                        return;
                    }
                    else if (dst >= 0)
                    {
                        t.Cpu = dst;
                    }
                }
                goto case 7;
            }
            case 7:
                UnlockRq(f.I1);
                UnlockPi(p);
                if (f.L1 > 0)
                {
                    // affine_move_task(): wait_for_completion(&pending->done). The caller sleeps (it does not
                    // spin) until migration_cpu_stop has moved p; its next action cannot start before that.
                    Trace?.Note(_cur, $"wait_for_completion(&pending->done): CPU{f.L1 - 1}'s stopper");
                    WaitFor(ref f, 8, WaitKind.StopperDone, (int)f.L1 - 1, p);
                    return;
                }
                Return();
                return;
            case 8:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"sched change pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- move_queued_task()
    // Requires: rq(I0) held. Ensures: rq(I1) held, or rq(I0) again when I2 = 1. Task = p.
    private void PathMigrateQueued(ref Frame f)
    {
        var p = f.Task;
        switch (f.Pc)
        {
            case 0:
            {
                Tk(p).Migrating = true;
                ref var d = ref Call(ref f, 1, PathId.DequeueTask);
                d.Task = p;
                d.Cpu = f.I0;
                d.L0 = 0;
                return;
            }
            case 1:
                Tk(p).Cpu = f.I1;
                UnlockRq(f.I0);
                LockRq(ref f, f.I1, 2);
                return;
            case 2:
            {
                ref var e = ref Call(ref f, 3, PathId.EnqueueTask);
                e.Task = p;
                e.Cpu = f.I1;
                return;
            }
            case 3:
                Tk(p).Migrating = false;
                if (RqR(f.I1).Curr < 0) Rq(f.I1).NeedResched = true;
                if (f.I2 == 1)
                {
                    UnlockRq(f.I1);
                    LockRq(ref f, f.I0, 4);
                    return;
                }
                goto case 4;
            case 4:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"move_queued_task pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- try_to_wake_up() → select_task_rq_scx() + enqueue
    // Task = p, I0 = selected CPU, I1 = 1 when select_task_rq() ran (WF_RQ_SELECTED → SCX_ENQ_CPU_SELECTED).
    private void PathWakeup(ref Frame f)
    {
        var p = f.Task;
        switch (f.Pc)
        {
            case 0:
                WaitFor(ref f, 1, WaitKind.PiLock, p);
                return;
            case 1:
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
                    _fp.Reads |= Footprint.Bit(Resource.Rq, c);
                    if (RqR(c).Curr != p) continue;
                    Yield(ref f, 1);
                    return;
                }
                var prev = t.Cpu;
                f.I0 = prev;
                f.I1 = 0;
                // select_task_rq() is only called for a task that may run on more than one CPU.
                if (t.Class != SchedClass.Ext || t.CpusPtr.Weight <= 1 || t.MigrationDisabled) goto case 3;
                f.I1 = 1;
                if (Has.Has(ScxCallback.SelectCpu) && !Bypassing)
                {
                    Act.DdspMarker = p + 1;
                    if (Invoke(ref f, 2, ScxCallback.SelectCpu, p, prev, (long)WakeFlags.Ttwu)) return;
                    goto case 2;
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
                f.I0 = cpu;
                goto case 3;
            }
            case 2:
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
                f.I0 = cpu;
                goto case 3;
            }
            case 3:
            {
                ref var t = ref Tk(p);
                var cpu = f.I0;
                if (!t.CpusPtr.Test(cpu) || cpu >= N)
                {
                    var fb = FirstAllowedOnline(p);
                    cpu = fb >= 0 ? fb : t.Cpu;
                }
                t.Cpu = cpu; // set_task_cpu()
                f.I0 = cpu;
                LockRq(ref f, cpu, 4);
                return;
            }
            case 4:
            {
                ref var t = ref Tk(p);
                t.Run = RunState.Runnable;
                if (t.Class == SchedClass.Fair)
                {
                    t.FairQueued = true;
                    KickIdleFairCpu(p);
                    goto case 5;
                }
                ref var e = ref Call(ref f, 5, PathId.EnqueueTask);
                e.Task = p;
                e.Cpu = f.I0;
                e.L0 = (long)EnqFlags.Wakeup | (f.I1 == 1 ? (long)EnqFlags.CpuSelected : 0);
                return;
            }
            case 5:
                if (RqR(f.I0).Curr < 0) Rq(f.I0).NeedResched = true; // wakeup_preempt on an idle CPU
                UnlockRq(f.I0);
                UnlockPi(p);
                // task_woken_scx() runs the deferred direct dispatch right away on this CPU's behalf.
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"try_to_wake_up pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- kicks

    private void PathKickFromUser(ref Frame f)
    {
        KfKickCpu(null, f.Cpu, (KickFlags)f.L0);
        Return();
        _stepDone = true;
    }

    // kick_cpus_irq_workfn() on CPU c. I0 = next CPU to look at, I1 = phase (0 kick, 1 kick-if-idle), I2 = should wait.
    private void PathKickCpusIrqWork(ref Frame f)
    {
        var c = f.Cpu;
        switch (f.Pc)
        {
            case 0:
                Rq(c).KickIrqWork = false;
                f.I0 = 0;
                goto case 1;
            case 1:
            {
                var t = RqR(c).CpusToKick.Next(f.I0);
                if (t < 0 || t >= N)
                {
                    f.I0 = 0;
                    goto case 3;
                }
                f.I0 = t;
                LockRq(ref f, t, 2);
                return;
            }
            case 2:
            {
                // kick_one_cpu()
                var t = f.I0;
                ref var self = ref Rq(c);
                ref var target = ref Rq(t);
                if (self.CpusToPreempt.Test(t) && IsScx(target.Curr)) Tk(target.Curr).Slice = 0;
                if (self.CpusToWait.Test(t) && IsScx(target.Curr))
                {
                    self.CpusToSync.Set(t);
                    KickSyncW(c, t) = target.KickSync;
                    f.I2 = 1;
                }
                self.CpusToPreempt.Clear(t);
                self.CpusToWait.Clear(t);
                target.NeedResched = true;
                self.CpusToKick.Clear(t);
                self.CpusToKickIfIdle.Clear(t);
                Trace?.Note(_cur, $"kick CPU{t}");
                UnlockRq(t);
                f.I0 = t + 1;
                goto case 1;
            }
            case 3:
            {
                var t = RqR(c).CpusToKickIfIdle.Next(f.I0);
                if (t < 0 || t >= N) goto case 5;
                f.I0 = t;
                LockRq(ref f, t, 4);
                return;
            }
            case 4:
            {
                var t = f.I0;
                ref var target = ref Rq(t);
                if (target.Curr < 0 || (target.Flags & RqFlags.InBalance) != 0) target.NeedResched = true;
                Rq(c).CpusToKickIfIdle.Clear(t);
                UnlockRq(t);
                f.I0 = t + 1;
                goto case 3;
            }
            case 5:
                if (f.I2 == 1)
                {
                    ref var self = ref Rq(c);
                    self.KickSyncPending = true;
                    self.NeedResched = true;
                }
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"kick_cpus_irq_workfn pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- process_ddsp_deferred_locals()
    private void PathProcessDdspDeferredLocals(ref Frame f)
    {
        var c = f.Cpu;
        switch (f.Pc)
        {
            case 0:
                LockRq(ref f, c, 1);
                return;
            case 1:
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
                    goto case 1;
                }
                CallDispatchToLocalDsq(ref f, 1, p, LocalSlotCpu(slot), flags);
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"process_ddsp_deferred_locals pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- reenq_local() / fallback drain
    // I2: 0 = scx_bpf_reenqueue_local() from ops.cpu_release (rq held), 1 = deferred scx_bpf_dsq_reenq()
    // (takes the rq lock), 2 = fallback-dsq variant drain from balance_one() (rq held). I0 = count.
    private void PathReenqueueLocal(ref Frame f)
    {
        var c = f.Cpu;
        switch (f.Pc)
        {
            case 0:
                if (f.I2 == 1)
                {
                    LockRq(ref f, c, 1);
                    return;
                }
                goto case 1;
            case 1:
                if (f.I2 == 1) Rq(c).ReenqRequested = 0;
                if (f.I2 == 2)
                {
                    LockDsq(ref f, FallbackSlot(c), 2);
                    return;
                }
                goto case 2;
            case 2:
            {
                // Move the candidates to a private list first so re-inserted tasks are not seen again.
                var src = f.I2 == 2 ? FallbackSlot(c) : LocalSlot(c);
                var t = DqR(src).Head;
                while (t >= 0)
                {
                    var next = TkR(t).Next;
                    Unlink(t);
                    Tk(t).Dsq = -1;
                    LinkTail(ReenqSlot(c), t);
                    f.I0++;
                    t = next;
                }
                if (f.I2 == 2) UnlockDsq(FallbackSlot(c));
                goto case 3;
            }
            case 3:
            {
                var p = DqR(ReenqSlot(c)).Head;
                if (p < 0)
                {
                    if (f.I2 == 1) UnlockRq(c);
                    Return(f.I0);
                    return;
                }
                Unlink(p);
                Event(f.I2 == 2 ? ScxEvent.FallbackReenq : ScxEvent.ReenqKfunc);
                ref var e = ref Call(ref f, 3, PathId.DoEnqueueTask);
                e.Task = p;
                e.Cpu = TkR(p).Cpu;
                e.L0 = (long)EnqFlags.Reenq;
                e.I0 = -1;
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"reenq_local pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- update_curr_scx()
    /// <summary>
    /// Charge rq->curr (an SCX task) the clock time since its exec_start: sum_exec_runtime grows and
    /// the slice shrinks by it (SCX_SLICE_INF is never consumed). Only in clocked runs; unclocked
    /// (exploration) the clock stays 0 and the tick charges a fixed 1/HZ instead.
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
    private void PathTaskTick(ref Frame f)
    {
        var c = f.Cpu;
        switch (f.Pc)
        {
            case 0:
                LockRq(ref f, c, 1);
                return;
            case 1:
            {
                var curr = RqR(c).Curr;
                f.Task = curr;
                // The fair class after a scheduler exit is modelled as round-robin at tick granularity
                // (task_tick_fair → resched_curr when others wait; simplified to every tick).
                if (curr >= 0 && TkR(curr).Class == SchedClass.Fair) Rq(c).NeedResched = true;
                if (!IsScx(curr)) goto case 2;
                ref var t = ref Tk(curr);
                if (Config.Clocked) UpdateCurrScx(c);
                else
                {
                    // Unclocked (exploration): a tick stands for 1/HZ of running.
                    if (t.Slice != ScxConst.SliceInf) t.Slice -= Math.Min(t.Slice, Config.TickNs);
                    t.Runtime += Config.TickNs;
                }
                if (Bypassing) t.Slice = 0;
                else if (Invoke(ref f, 2, ScxCallback.Tick, curr, c)) return;
                goto case 2;
            }
            case 2:
                if (IsScx(f.Task) && TkR(f.Task).Slice == 0) Rq(c).NeedResched = true;
                UnlockRq(c);
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"task_tick_scx pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- scx_root_disable()
    // On the helper. I0 = next task to switch back to the fair class, I1 = rq locked.
    private void PathDisableScheduler(ref Frame f)
    {
        switch (f.Pc)
        {
            case 0:
                Sch().BypassDepth++; // scx_bypass(true)
                Trace?.Note(_cur, "scx_root_disable(): bypass, switch every task to the fair class");
                f.I0 = 0;
                goto case 1;
            case 1:
            {
                while (f.I0 < World.Tasks.Length && (TkR(f.I0).Class != SchedClass.Ext || TkR(f.I0).Run == RunState.Dead)) f.I0++;
                if (f.I0 >= World.Tasks.Length) goto case 5;
                WaitFor(ref f, 2, WaitKind.PiLock, f.I0);
                return;
            }
            case 2:
                f.I1 = TkR(f.I0).Cpu;
                LockRq(ref f, f.I1, 3);
                return;
            case 3:
            {
                var p = f.I0;
                ref var t = ref Tk(p);
                if (t.Cpu != f.I1 || t.Migrating)
                {
                    UnlockRq(f.I1);
                    WaitFor(ref f, 2, WaitKind.TaskNotMigrating, p);
                    return;
                }
                if (t.Run == RunState.Runnable)
                {
                    ref var d = ref Call(ref f, 4, PathId.DequeueTask);
                    d.Task = p;
                    d.Cpu = f.I1;
                    d.L0 = 0;
                    return;
                }
                goto case 4;
            }
            case 4:
            {
                var p = f.I0;
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
                UnlockRq(f.I1);
                UnlockPi(f.I0);
                f.I0++;
                goto case 1;
            }
            case 5:
                if (Invoke(ref f, 6, ScxCallback.Exit, -1, 0, (long)SchR().ExitKind)) return;
                goto case 6;
            case 6:
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
                throw new System.Diagnostics.UnreachableException($"scx_root_disable pc {f.Pc}");
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
            }
            else
            {
                ref var e = ref Push(PathId.EnqueueTask);
                e.Task = i;
                e.Cpu = spec.Cpu;
                e.L0 = (long)EnqFlags.Wakeup;
                RunHelperToCompletion();
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
            if (!IsEnabled(_helper)) throw new InvalidOperationException("boot blocked: the initial state needs a lock held elsewhere");
            Step(_helper);
            if (++guard > 100_000) throw new InvalidOperationException("boot did not finish");
        }
        _cur = _helper;
    }
}

/// <summary>The stopper: migration_cpu_stop() for a running task whose CPU left its mask.</summary>
public sealed partial class Machine
{
    // On CPU c's actor. Task = p. The stop class preempts p (put_prev_task_scx with a higher-class
    // next, then switch_class → ops.cpu_release), and moves it to an allowed CPU (move_queued_task).
    private void PathMigrationCpuStop(ref Frame f)
    {
        var c = f.Cpu;
        switch (f.Pc)
        {
            case 0:
                LockRq(ref f, c, 1);
                return;
            case 1:
            {
                ref var rq = ref Rq(c);
                rq.StopperPending = false;
                var p = rq.StopperTask;
                f.Task = p;
                ref readonly var t = ref TkR(p);
                if (rq.Curr != p || t.Run != RunState.Runnable || t.CpusPtr.Test(c) || t.Class != SchedClass.Ext)
                {
                    rq.StopperTask = -1; // complete_all(&pending->done): the waiter in affine_move_task() returns
                    // The stopper thread still ran on this CPU: when it sleeps again the CPU goes through schedule()
                    // (and balance → ops.dispatch if idle), as after the full path (case 2).
                    rq.NeedResched = true;
                    UnlockRq(c); // it already left, or may stay: nothing to do
                    Return();
                    return;
                }
                Trace?.Note(_cur, $"migration_cpu_stop({TaskName(p)}): the stopper preempts it");
                ref var pp = ref Call(ref f, 2, PathId.PutPrevTask);
                pp.Task = p;
                pp.Cpu = c;
                pp.I0 = -2; // a higher-class next
                return;
            }
            case 2:
            {
                ref var rq = ref Rq(c);
                rq.Curr = -1; // the stopper runs; SCX has no current task here
                rq.KickSync++;
                rq.NeedResched = true;
                if (!rq.CpuReleased)
                {
                    // switch_class(): the CPU is taken by a higher class.
                    rq.CpuReleased = true;
                    if (Invoke(ref f, 3, ScxCallback.CpuRelease, -1, c)) return;
                }
                goto case 3;
            }
            case 3:
            {
                var p = f.Task;
                ref readonly var t = ref TkR(p);
                var dst = FirstAllowedOnline(p);
                if (t.Run == RunState.Runnable && t.Cpu == c && dst >= 0 && dst != c && (t.Flags & TaskFlags.Queued) != 0)
                {
                    ref var m = ref Call(ref f, 4, PathId.MigrateQueued);
                    m.Task = p;
                    m.I0 = c;
                    m.I1 = dst;
                    m.I2 = 1; // back to rq(c) afterwards
                    return;
                }
                goto case 4;
            }
            case 4:
            {
                // complete_all(&pending->done) releases the waiter in affine_move_task(). A request queued
                // meanwhile (another affinity change) keeps its task named until its own run completes.
                ref var rq = ref Rq(c);
                if (!rq.StopperPending) rq.StopperTask = -1;
                UnlockRq(c);
                Return();
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"migration_cpu_stop pc {f.Pc}");
        }
    }
}
