using Scxlab.Bpf;
using Scxlab.Stepping;

namespace Scxlab.Kernel;

/// <summary>
/// The task side: enqueue_task_scx()/do_enqueue_task()/direct dispatch, dequeue_task_scx()/
/// ops_dequeue()/dispatch_dequeue(), and the insertion primitive dispatch_enqueue() (ext.c V-B).
/// </summary>
public sealed partial class Machine
{
    /// <summary>Model-internal core flag for enqueue_task(…, ENQUEUE_RESTORE) (kept out of the SCX flag space).</summary>
    private const long CoreEnqRestore = 1L << 62;

    // ---------------------------------------------------------------- enqueue_task_scx()
    // Requires: rq(Cpu) held. Task = p, L0 = core|SCX enq flags. I0 = sticky (local copy).
    private void PathEnqueueTask(ref Frame f)
    {
        var p = f.Task;
        var rqc = f.Cpu;
        switch (f.Pc)
        {
            case 0:
            {
                ref var t = ref Tk(p);
                ref var rq = ref Rq(rqc);
                f.I0 = t.StickyCpu;
                if ((f.L0 & (long)EnqFlags.Wakeup) != 0) rq.Flags |= RqFlags.InWakeup;
                if ((f.L0 & CoreEnqRestore) != 0 && rq.Curr == p) f.I0 = rqc;
                f.L0 &= ~CoreEnqRestore;
                if ((t.Flags & TaskFlags.Queued) != 0)
                {
                    if (t.RunnableOrder == 0 && rq.Curr != p) KernelAssert("WARN_ON_ONCE(!runnable)", $"{TaskName(p)} QUEUED but not on runnable_list");
                    goto case 3;
                }
                SetTaskRunnable(p);
                t.Flags |= TaskFlags.Queued;
                if (Config.Protocol == Protocol.Ghost) t.Barrier++; // TASK_WAKEUP/TASK_NEW/TASK_PREEMPT message
                rq.NrRunning++;
                if (!t.Migrating && Invoke(ref f, 1, ScxCallback.Runnable, p, rqc, f.L0)) return;
                goto case 1;
            }
            case 1:
            {
                ref var d = ref Call(ref f, 2, PathId.DoEnqueueTask);
                d.Task = p;
                d.Cpu = rqc;
                d.L0 = f.L0;
                d.I0 = f.I0;
                return;
            }
            case 2:
                if (f.I0 >= 0) Tk(p).StickyCpu = -1;
                goto case 3;
            case 3:
                Rq(rqc).Flags &= ~RqFlags.InWakeup;
                if ((f.L0 & (long)EnqFlags.CpuSelected) != 0 && TkR(p).SelectedCpu != rqc) Event(ScxEvent.SelectCpuFallback);
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"enqueue_task_scx pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- do_enqueue_task()
    // Requires: rq(Cpu) held. Task = p, L0 = enq flags, I0 = sticky cpu, L1 = qseq handed out.
    private void PathDoEnqueueTask(ref Frame f)
    {
        var p = f.Task;
        var rqc = f.Cpu;
        switch (f.Pc)
        {
            case 0:
            {
                ref var t = ref Tk(p);
                if ((t.Flags & TaskFlags.Queued) == 0) KernelAssert("WARN_ON_ONCE(!SCX_TASK_QUEUED)", $"do_enqueue_task({TaskName(p)}) on a task that is not queued");
                if (f.I0 == rqc)
                {
                    // local_norefill: an SCX-internal move lands on the local DSQ without ops.enqueue.
                    ref var de = ref Call(ref f, 9, PathId.DispatchEnqueue);
                    de.Dsq = LocalSlot(rqc);
                    de.Task = p;
                    de.L0 = f.L0;
                    return;
                }
                if ((RqR(rqc).Flags & RqFlags.Online) == 0) { f.I1 = LocalSlot(rqc); goto case 5; }
                if (Bypassing)
                {
                    Event(ScxEvent.BypassDispatch);
                    f.I1 = BypassSlot(rqc);
                    goto case 5;
                }
                if (t.DdspDsqId != DsqId.Invalid) goto case 2;
                if (t.Exiting && (Ops.Flags & OpsFlags.EnqExiting) == 0)
                {
                    Event(ScxEvent.EnqSkipExiting);
                    f.I1 = LocalSlot(rqc);
                    goto case 5;
                }
                if (t.MigrationDisabled && (Ops.Flags & OpsFlags.EnqMigrationDisabled) == 0)
                {
                    Event(ScxEvent.EnqSkipMigrationDisabled);
                    f.I1 = LocalSlot(rqc);
                    goto case 5;
                }
                if (!Has.Has(ScxCallback.Enqueue)) { f.I1 = GlobalSlot; goto case 5; }
                // Hand p to the BPF scheduler: T1 NONE → QUEUEING|q.
                ref var rq = ref Rq(rqc);
                var qseq = rq.OpsQseq++ << OpsWord.QseqShift;
                f.L1 = qseq;
                if (OpsWord.State(t.OpsState) != OpsState.None) KernelAssert("WARN_ON_ONCE(ops_state != NONE)", $"do_enqueue_task({TaskName(p)}) in state {OpsWord.Format(t.OpsState)}");
                t.OpsState = OpsWord.Make(OpsState.Queueing, qseq);
                if (PublishCut(ref f, 12)) return;
                goto case 12;
            }
            case 12:
                Act.DdspMarker = p + 1;
                if (Invoke(ref f, 1, ScxCallback.Enqueue, p, rqc, f.L0)) return;
                goto case 1;
            case 1:
            {
                Act.DdspMarker = 0;
                ref var t = ref Tk(p);
                if (t.DdspDsqId != DsqId.Invalid) goto case 2;
                // No verdict: BPF owns this instance. T2 QUEUEING|q → QUEUED|q (custody first).
                t.Flags |= TaskFlags.InCustody;
                t.OpsState = OpsWord.Make(OpsState.Queued, f.L1);
                Trace?.Note(_cur, $"{TaskName(p)}: {OpsWord.Format(t.OpsState)} (BPF custody)");
                if (PublishCut(ref f, 9)) return;
                goto case 9;
            }
            case 2:
            {
                ref var dd = ref Call(ref f, 9, PathId.DirectDispatch);
                dd.Task = p;
                dd.Cpu = rqc;
                dd.L0 = f.L0;
                return;
            }
            case 5:
            {
                // local / global / bypass fallback: refill the slice, drop any verdict, insert (state stays NONE).
                ref var t = ref Tk(p);
                t.Slice = Bypassing ? ScxConst.SliceBypass : ScxConst.SliceDfl;
                Event(ScxEvent.RefillSliceDfl);
                t.DdspDsqId = DsqId.Invalid;
                t.DdspEnqFlags = 0;
                ref var de = ref Call(ref f, 9, PathId.DispatchEnqueue);
                de.Dsq = f.I1;
                de.Task = p;
                de.L0 = f.L0;
                return;
            }
            case 9:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"do_enqueue_task pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- direct_dispatch()
    // Requires: rq(Cpu) = task_rq(p) held. Task = p, L0 = enq flags.
    private void PathDirectDispatch(ref Frame f)
    {
        var p = f.Task;
        var rqc = f.Cpu;
        switch (f.Pc)
        {
            case 0:
            {
                ref var t = ref Tk(p);
                var slot = FindDsqForDispatch(rqc, t.DdspDsqId, p);
                t.DdspEnqFlags |= f.L0;
                if (IsLocalSlot(slot) && LocalSlotCpu(slot) != rqc)
                {
                    // The rq lock is pinned: park p on ddsp_deferred_locals and finish from deferred work.
                    var st = OpsWord.State(t.OpsState);
                    if (st != OpsState.None && st != OpsState.Queueing)
                        KernelAssert("WARN_ONCE(direct_dispatch ops state)", $"sched_ext: {TaskName(p)} has invalid ops state 0x{t.OpsState:x} in direct_dispatch()");
                    t.OpsState = OpsWord.Make(OpsState.None, 0);
                    if (PublishCut(ref f, 2)) return;
                    goto case 2;
                }
                var flags = t.DdspEnqFlags;
                t.DdspDsqId = DsqId.Invalid;
                t.DdspEnqFlags = 0;
                ref var de = ref Call(ref f, 1, PathId.DispatchEnqueue);
                de.Dsq = slot;
                de.Task = p;
                de.L0 = flags | (long)EnqFlags.ClearOpss;
                return;
            }
            case 2:
            {
                LinkTail(DeferredSlot(rqc), p);
                // Always set: the model has no task_woken_scx() hook to run the list from a wakeup.
                Rq(rqc).DeferredLocals = true;
                Trace?.Note(_cur, $"direct_dispatch({TaskName(p)}, {DsqId.Name(TkR(p).DdspDsqId)}): deferred");
                Return();
                return;
            }
            case 1:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"direct_dispatch pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- dispatch_enqueue()
    // Requires: p unlinked, p->scx.dsq NULL; the rq lock of a local target held by the caller.
    // Dsq = target slot, Task = p, L0 = enq flags.
    private void PathDispatchEnqueue(ref Frame f)
    {
        var p = f.Task;
        switch (f.Pc)
        {
            case 0:
            {
                ref var t = ref Tk(p);
                if (t.Dsq >= 0 || t.ListOn >= 0) KernelAssert("WARN_ON_ONCE(p->scx.dsq)", $"dispatch_enqueue({TaskName(p)}) while on {SlotName(t.Dsq >= 0 ? t.Dsq : t.ListOn)}");
                if (HasDsqLock(f.Dsq))
                {
                    LockDsq(ref f, f.Dsq, 1);
                    return;
                }
                goto case 1;
            }
            case 1:
            {
                ref var d = ref Dq(f.Dsq);
                if (IsUserSlot(f.Dsq) && d.Destroyed)
                {
                    ScxError("attempting to dispatch to a destroyed dsq");
                    UnlockDsq(f.Dsq);
                    f.Dsq = GlobalSlot;
                    LockDsq(ref f, GlobalSlot, 1);
                    return;
                }
                ref var t = ref Tk(p);
                var builtin = !IsUserSlot(f.Dsq);
                if (builtin && (f.L0 & (long)EnqFlags.DsqPriq) != 0)
                {
                    ScxError("cannot use vtime ordering for built-in DSQs");
                    f.L0 &= ~(long)EnqFlags.DsqPriq;
                }
                if ((f.L0 & (long)EnqFlags.DsqPriq) != 0)
                {
                    if (d.PriqCount == 0 && d.Nr > 0) ScxError($"DSQ ID 0x{d.Id:x16} already had FIFO-enqueued tasks");
                    LinkByVtime(f.Dsq, p);
                    t.OnPriq = true;
                    d.PriqCount++;
                }
                else
                {
                    if (d.PriqCount > 0) ScxError($"DSQ ID 0x{d.Id:x16} already had PRIQ-enqueued tasks");
                    if ((f.L0 & ((long)EnqFlags.Head | (long)EnqFlags.Preempt)) != 0) LinkHead(f.Dsq, p);
                    else LinkTail(f.Dsq, p);
                }
                d.Seq++;
                t.DsqSeq = d.Seq;
                t.Dsq = f.Dsq;
                Trace?.Note(_cur, $"dispatch_enqueue({SlotName(f.Dsq)}, {TaskName(p)})");
                // Custody (V-B): terminal DSQs end it, user DSQs keep it.
                if (IsUserSlot(f.Dsq))
                {
                    t.Flags |= TaskFlags.InCustody;
                    goto case 2;
                }
                if (CallTaskDequeue(ref f, 2, p, 0)) return;
                goto case 2;
            }
            case 2:
            {
                if (IsLocalSlot(f.Dsq))
                {
                    var c = LocalSlotCpu(f.Dsq);
                    ref var rq = ref Rq(c);
                    // local_dsq_post_enq(): wake an idle CPU; PREEMPT outside balance kicks curr off.
                    if (rq.Curr < 0 || !IsScx(rq.Curr)) rq.NeedResched = true;
                    else if ((rq.Flags & RqFlags.InBalance) == 0 && (f.L0 & (long)EnqFlags.Preempt) != 0 && rq.Curr != p)
                    {
                        Tk(rq.Curr).Slice = 0;
                        rq.NeedResched = true;
                    }
                }
                // T3/T6a: release ops_state while the list's lock is still held (ext.c order), then unlock.
                if ((f.L0 & (long)EnqFlags.ClearOpss) != 0)
                {
                    Tk(p).OpsState = OpsWord.Make(OpsState.None, 0);
                    if (PublishCut(ref f, 3)) return;
                }
                goto case 3;
            }
            case 3:
                if (HasDsqLock(f.Dsq)) UnlockDsq(f.Dsq);
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"dispatch_enqueue pc {f.Pc}");
        }
    }

    /// <summary>
    /// call_task_dequeue(): the only place custody ends — ops.dequeue if IN_CUSTODY and not an
    /// SCX-internal migration (sticky_cpu ≥ 0), then clear IN_CUSTODY. Returns true if a callback was pushed.
    /// </summary>
    private bool CallTaskDequeue(ref Frame f, int returnPc, int p, long deqFlags)
    {
        ref var t = ref Tk(p);
        f.Pc = returnPc;
        if ((t.Flags & TaskFlags.InCustody) == 0 || t.StickyCpu >= 0) return false;
        t.Flags &= ~TaskFlags.InCustody;
        return Invoke(ref f, returnPc, ScxCallback.Dequeue, p, t.Cpu, deqFlags);
    }

    // ---------------------------------------------------------------- dequeue_task_scx()
    // Requires: rq(Cpu) = task_rq(p) held. Task = p, L0 = core deq flags.
    private void PathDequeueTask(ref Frame f)
    {
        var p = f.Task;
        switch (f.Pc)
        {
            case 0:
            {
                if ((f.L0 & ((long)DeqFlags.Sleep | (long)DeqFlags.CoreSchedExec)) == 0) f.L0 |= (long)DeqFlags.SchedChange;
                ref var t = ref Tk(p);
                if ((t.Flags & TaskFlags.Queued) == 0)
                {
                    if (t.RunnableOrder != 0) KernelAssert("WARN_ON_ONCE(runnable)", $"{TaskName(p)} on runnable_list but not QUEUED");
                    Return();
                    return;
                }
                if (Config.Protocol == Protocol.Ghost) t.Barrier++; // TASK_BLOCKED/TASK_DEPARTED/… message
                ref var od = ref Call(ref f, 1, PathId.OpsDequeue);
                od.Task = p;
                od.L0 = f.L0;
                return;
            }
            case 1:
            {
                var rqc = TkR(p).Cpu;
                if (RqR(rqc).Curr == p) UpdateCurrScx(rqc); // dequeue_task_scx() charges the running task before ops.stopping
                if (RqR(rqc).Curr == p && Invoke(ref f, 2, ScxCallback.Stopping, p, rqc, 0)) return;
                goto case 2;
            }
            case 2:
                if (!TkR(p).Migrating && Invoke(ref f, 3, ScxCallback.Quiescent, p, TkR(p).Cpu, f.L0)) return;
                goto case 3;
            case 3:
            {
                ref var t = ref Tk(p);
                if ((f.L0 & (long)DeqFlags.Sleep) != 0) t.Flags |= TaskFlags.DeqdForSleep;
                else t.Flags &= ~TaskFlags.DeqdForSleep;
                t.Flags &= ~TaskFlags.Queued;
                Rq(t.Cpu).NrRunning--;
                ref var dd = ref Call(ref f, 4, PathId.DispatchDequeue);
                dd.Task = p;
                return;
            }
            case 4:
            {
                ref var t = ref Tk(p);
                t.DdspDsqId = DsqId.Invalid; // clear_direct_dispatch()
                t.DdspEnqFlags = 0;
                Return();
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"dequeue_task_scx pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- ops_dequeue()
    // Requires: task_rq(p) held. Task = p, L0 = deq flags.
    // Races with: finish_dispatch() (T4 vs T5), dispatch_to_local_dsq() (waits out DISPATCHING).
    private void PathOpsDequeue(ref Frame f)
    {
        var p = f.Task;
        switch (f.Pc)
        {
            case 0:
                ClrTaskRunnable(p, false);
                Yield(ref f, 1); // the ops_state read/cmpxchg is an interleaving point
                return;
            case 1:
            {
                ref var t = ref Tk(p);
                var word = t.OpsState;
                switch (OpsWord.State(word))
                {
                    case OpsState.None:
                        break;
                    case OpsState.Queueing:
                        // Both sides hold p's rq lock, so this cannot be observed.
                        KernelAssert("BUG() ops_dequeue: QUEUEING", $"ops_dequeue({TaskName(p)}) observed QUEUEING");
                        break;
                    case OpsState.Queued:
                        if ((t.Flags & TaskFlags.InCustody) == 0)
                        {
                            // A finish_dispatch() elsewhere is between its custody update and NONE: retry.
                            Yield(ref f, 1);
                            return;
                        }
                        t.OpsState = OpsWord.Make(OpsState.None, 0); // T5
                        Trace?.Note(_cur, $"ops_dequeue({TaskName(p)}): {OpsWord.Format(word)} -cmpxchg-> NONE");
                        if (PublishCut(ref f, 3)) return;
                        break;
                    case OpsState.Dispatching:
                        // wait_ops_state(p, DISPATCHING): the dispatcher owns p until it releases it.
                        WaitFor(ref f, 2, WaitKind.OpsStateChange, p, word);
                        return;
                    default:
                        throw new System.Diagnostics.UnreachableException("ops_state has two bits");
                }
                goto case 3;
            }
            case 2:
                if (OpsWord.State(TkR(p).OpsState) != OpsState.None)
                    KernelAssert("BUG_ON() ops_dequeue: not NONE after DISPATCHING", $"{TaskName(p)} left DISPATCHING as {OpsWord.Format(TkR(p).OpsState)}");
                goto case 3;
            case 3:
                if (CallTaskDequeue(ref f, 4, p, f.L0)) return;
                goto case 4;
            case 4:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"ops_dequeue pc {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- dispatch_dequeue()
    // Requires: task_rq(p) held. Task = p.
    // Races with: consume_remote_task()/dispatch_to_local_dsq() through holding_cpu.
    private void PathDispatchDequeue(ref Frame f)
    {
        var p = f.Task;
        switch (f.Pc)
        {
            case 0:
            {
                ref var t = ref Tk(p);
                if (t.Dsq < 0)
                {
                    if (t.ListOn >= 0) Unlink(p); // parked on ddsp_deferred_locals (or a private list)
                    if (t.HoldingCpu >= 0) t.HoldingCpu = -1; // kills an in-flight transfer
                    Return();
                    return;
                }
                f.Dsq = t.Dsq;
                if (HasDsqLock(f.Dsq))
                {
                    LockDsq(ref f, f.Dsq, 1);
                    return;
                }
                goto case 1;
            }
            case 1:
            {
                ref var t = ref Tk(p);
                if (t.HoldingCpu < 0) Unlink(p);
                else
                {
                    if (t.ListOn >= 0) KernelAssert("WARN_ON_ONCE(linked while holding)", $"{TaskName(p)} still linked while held by CPU{t.HoldingCpu}");
                    t.HoldingCpu = -1;
                }
                t.Dsq = -1;
                if (HasDsqLock(f.Dsq)) UnlockDsq(f.Dsq);
                Return();
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"dispatch_dequeue pc {f.Pc}");
        }
    }
}
