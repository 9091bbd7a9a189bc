using System.Runtime.InteropServices;
using Scxlab.Bpf;
using Scxlab.Stepping;

namespace Scxlab.Kernel;

/// <summary>
/// The task side: enqueue_task_scx()/do_enqueue_task()/direct dispatch, dequeue_task_scx()/
/// ops_dequeue()/dispatch_dequeue(), and the insertion primitive dispatch_enqueue() (ext.c V-B).
/// </summary>
/// <remarks>
/// The resume points of these paths are listed with their ext.c statements in docs/steps/tasks.md.
/// Paths called from other files (enqueue_task_scx, do_enqueue_task, dequeue_task_scx, ops_dequeue,
/// dispatch_enqueue) declare their locals with an explicit layout over the frame's register block
/// (L0 at 0, L1 at 8, L2 at 16, I0 at 24, I1 at 28, I2 at 32): callers that still write the callee's
/// registers directly (<c>de.L0 = flags</c>) and callers using the Call* helpers write the same bytes.
/// </remarks>
public sealed partial class Machine
{
    /// <summary>Model-internal core flag for enqueue_task(…, ENQUEUE_RESTORE) (kept out of the SCX flag space).</summary>
    private const long CoreEnqRestore = 1L << 62;

    // ---------------------------------------------------------------- enqueue_task_scx()

    /// <summary>enqueue_task_scx()'s locals (Task = p, Cpu = the rq's CPU). Callers write L0.</summary>
    [StructLayout(LayoutKind.Explicit)]
    private struct EnqueueTaskLocals
    {
        /// <summary>core_enq_flags | SCX enq flags (the caller's L0); <see cref="CoreEnqRestore"/> is stripped at entry.</summary>
        [FieldOffset(0)] public long EnqFlags;
        /// <summary>The local copy of p->scx.sticky_cpu (this rq's CPU when restoring the running task).</summary>
        [FieldOffset(24)] public int StickyCpu;
    }

    /// <summary>enqueue_task_scx()'s resume points.</summary>
    private enum EnqueueTaskAt
    {
        Entry = 0,
        /// <summary>ops.runnable() returned (or was skipped): call do_enqueue_task().</summary>
        AfterRunnable = 1,
        /// <summary>do_enqueue_task() returned: reset p->scx.sticky_cpu if it was set.</summary>
        AfterDoEnqueue = 2,
        /// <summary>The <c>out:</c> label: clear SCX_RQ_IN_WAKEUP, count SELECT_CPU_FALLBACK.</summary>
        Out = 3,
    }

    /// <summary>enqueue_task_scx(rq of <paramref name="cpu"/>, p, enq_flags); the caller resumes at <paramref name="returnPc"/>.</summary>
    private void CallEnqueueTask(ref Frame caller, int returnPc, int p, int cpu, long enqFlags)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.EnqueueTask);
        callee.Task = p;
        callee.Cpu = cpu;
        callee.Locals<EnqueueTaskLocals>().EnqFlags = enqFlags;
    }

    // Requires: rq(Cpu) held.
    private void PathEnqueueTask(ref Frame f)
    {
        var p = f.Task;
        var rqc = f.Cpu;
        ref var et = ref f.Locals<EnqueueTaskLocals>();
        switch ((EnqueueTaskAt)f.Pc)
        {
            case EnqueueTaskAt.Entry:
            {
                ref var t = ref Tk(p);
                ref var rq = ref Rq(rqc);
                et.StickyCpu = t.StickyCpu;
                if ((et.EnqFlags & (long)EnqFlags.Wakeup) != 0) rq.Flags |= RqFlags.InWakeup;
                if ((et.EnqFlags & CoreEnqRestore) != 0 && rq.Curr == p) et.StickyCpu = rqc;
                et.EnqFlags &= ~CoreEnqRestore;
                if ((t.Flags & TaskFlags.Queued) != 0)
                {
                    if (t.RunnableOrder == 0 && rq.Curr != p) KernelAssert("WARN_ON_ONCE(!runnable)", $"{TaskName(p)} QUEUED but not on runnable_list");
                    goto case EnqueueTaskAt.Out;
                }
                SetTaskRunnable(p);
                t.Flags |= TaskFlags.Queued;
                if (Config.Protocol == Protocol.Ghost) t.Barrier++; // TASK_WAKEUP/TASK_NEW/TASK_PREEMPT message
                rq.NrRunning++;
                if (!t.Migrating && Invoke(ref f, (int)EnqueueTaskAt.AfterRunnable, ScxCallback.Runnable, p, rqc, et.EnqFlags)) return;
                goto case EnqueueTaskAt.AfterRunnable;
            }
            case EnqueueTaskAt.AfterRunnable:
                CallDoEnqueueTask(ref f, (int)EnqueueTaskAt.AfterDoEnqueue, p, rqc, et.EnqFlags, et.StickyCpu);
                return;
            case EnqueueTaskAt.AfterDoEnqueue:
                if (et.StickyCpu >= 0) Tk(p).StickyCpu = -1;
                goto case EnqueueTaskAt.Out;
            case EnqueueTaskAt.Out:
                Rq(rqc).Flags &= ~RqFlags.InWakeup;
                if ((et.EnqFlags & (long)EnqFlags.CpuSelected) != 0 && TkR(p).SelectedCpu != rqc) Event(ScxEvent.SelectCpuFallback);
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"enqueue_task_scx resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- do_enqueue_task()

    /// <summary>do_enqueue_task()'s locals (Task = p, Cpu = the rq's CPU). Callers write L0 and I0.</summary>
    [StructLayout(LayoutKind.Explicit)]
    private struct DoEnqueueTaskLocals
    {
        /// <summary>enq_flags (the caller's L0).</summary>
        [FieldOffset(0)] public long EnqFlags;
        /// <summary>The qseq handed out with T1 (QUEUEING|q), already shifted into ops_state position.</summary>
        [FieldOffset(8)] public long Qseq;
        /// <summary>sticky_cpu (the caller's I0): this rq's CPU means an SCX-internal move (local_norefill).</summary>
        [FieldOffset(24)] public int StickyCpu;
        /// <summary>The DSQ slot chosen by the <c>local:</c>/<c>global:</c>/<c>bypass:</c> labels for the <c>enqueue:</c> label.</summary>
        [FieldOffset(28)] public int TargetSlot;
    }

    /// <summary>do_enqueue_task()'s resume points.</summary>
    private enum DoEnqueueTaskAt
    {
        Entry = 0,
        /// <summary>ops.enqueue() returned: a direct-dispatch verdict, or T2 (QUEUEING → QUEUED, custody first).</summary>
        AfterEnqueueOp = 1,
        /// <summary>The <c>direct:</c> label: direct_dispatch().</summary>
        Direct = 2,
        /// <summary>The <c>enqueue:</c> label: refill the slice, clear_direct_dispatch(), dispatch_enqueue() into TargetSlot.</summary>
        Enqueue = 5,
        Done = 9,
        /// <summary>T1 (NONE → QUEUEING|q) stored (fine granularity ends the step here): set the ddsp marker, call ops.enqueue().</summary>
        AfterQueueing = 12,
    }

    /// <summary>do_enqueue_task(rq of <paramref name="cpu"/>, p, enq_flags, sticky_cpu); the caller resumes at <paramref name="returnPc"/>.</summary>
    private void CallDoEnqueueTask(ref Frame caller, int returnPc, int p, int cpu, long enqFlags, int stickyCpu)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.DoEnqueueTask);
        callee.Task = p;
        callee.Cpu = cpu;
        ref var de = ref callee.Locals<DoEnqueueTaskLocals>();
        de.EnqFlags = enqFlags;
        de.StickyCpu = stickyCpu;
    }

    // Requires: rq(Cpu) held.
    private void PathDoEnqueueTask(ref Frame f)
    {
        var p = f.Task;
        var rqc = f.Cpu;
        ref var de = ref f.Locals<DoEnqueueTaskLocals>();
        switch ((DoEnqueueTaskAt)f.Pc)
        {
            case DoEnqueueTaskAt.Entry:
            {
                ref var t = ref Tk(p);
                if ((t.Flags & TaskFlags.Queued) == 0) KernelAssert("WARN_ON_ONCE(!SCX_TASK_QUEUED)", $"do_enqueue_task({TaskName(p)}) on a task that is not queued");
                if (de.StickyCpu == rqc)
                {
                    // local_norefill: an SCX-internal move lands on the local DSQ without ops.enqueue (SCX_TASK_IMMED kept).
                    CallDispatchEnqueue(ref f, (int)DoEnqueueTaskAt.Done, LocalSlot(rqc), p, de.EnqFlags);
                    return;
                }
                // A fresh enqueue ends the IMMED protection of the task's last local insert.
                t.Flags &= ~TaskFlags.Immed;
                if ((RqR(rqc).Flags & RqFlags.Online) == 0) { de.TargetSlot = LocalSlot(rqc); goto case DoEnqueueTaskAt.Enqueue; }
                if (Bypassing)
                {
                    Event(ScxEvent.BypassDispatch);
                    de.TargetSlot = BypassSlot(rqc);
                    goto case DoEnqueueTaskAt.Enqueue;
                }
                if (t.DdspDsqId != DsqId.Invalid) goto case DoEnqueueTaskAt.Direct;
                if (t.Exiting && (Ops.Flags & OpsFlags.EnqExiting) == 0)
                {
                    Event(ScxEvent.EnqSkipExiting);
                    de.TargetSlot = LocalSlot(rqc);
                    goto case DoEnqueueTaskAt.Enqueue;
                }
                if (t.MigrationDisabled && (Ops.Flags & OpsFlags.EnqMigrationDisabled) == 0)
                {
                    Event(ScxEvent.EnqSkipMigrationDisabled);
                    de.TargetSlot = LocalSlot(rqc);
                    goto case DoEnqueueTaskAt.Enqueue;
                }
                if (!Has.Has(ScxCallback.Enqueue)) { de.TargetSlot = GlobalSlot; goto case DoEnqueueTaskAt.Enqueue; }
                // Hand p to the BPF scheduler: T1 NONE → QUEUEING|q.
                ref var rq = ref Rq(rqc);
                var qseq = rq.OpsQseq++ << OpsWord.QseqShift;
                de.Qseq = qseq;
                if (OpsWord.State(t.OpsState) != OpsState.None) KernelAssert("WARN_ON_ONCE(ops_state != NONE)", $"do_enqueue_task({TaskName(p)}) in state {OpsWord.Format(t.OpsState)}");
                t.OpsState = OpsWord.Make(OpsState.Queueing, qseq);
                // T1 is observable (finish_dispatch() elsewhere waits on QUEUEING); ops.enqueue's first kfunc is
                // another observable access, so the step ends here (one observable access per step).
                Yield(ref f, (int)DoEnqueueTaskAt.AfterQueueing);
                return;
            }
            case DoEnqueueTaskAt.AfterQueueing:
                Act.DdspMarker = p + 1;
                if (Invoke(ref f, (int)DoEnqueueTaskAt.AfterEnqueueOp, ScxCallback.Enqueue, p, rqc, de.EnqFlags)) return;
                goto case DoEnqueueTaskAt.AfterEnqueueOp;
            case DoEnqueueTaskAt.AfterEnqueueOp:
            {
                Act.DdspMarker = 0;
                ref var t = ref Tk(p);
                if (t.DdspDsqId != DsqId.Invalid) goto case DoEnqueueTaskAt.Direct;
                // No verdict: BPF owns this instance. T2 QUEUEING|q → QUEUED|q (custody first).
                t.Flags |= TaskFlags.InCustody;
                t.OpsState = OpsWord.Make(OpsState.Queued, de.Qseq);
                Trace?.Note(_cur, $"{TaskName(p)}: {OpsWord.Format(t.OpsState)} (BPF custody)");
                if (PublishCut(ref f, (int)DoEnqueueTaskAt.Done)) return;
                goto case DoEnqueueTaskAt.Done;
            }
            case DoEnqueueTaskAt.Direct:
                CallDirectDispatch(ref f, (int)DoEnqueueTaskAt.Done, p, rqc, de.EnqFlags);
                return;
            case DoEnqueueTaskAt.Enqueue:
            {
                // local / global / bypass fallback: refill the slice, drop any verdict, insert (state stays NONE).
                ref var t = ref Tk(p);
                t.Slice = Bypassing ? ScxConst.SliceBypass : ScxConst.SliceDfl;
                Event(ScxEvent.RefillSliceDfl);
                t.DdspDsqId = DsqId.Invalid;
                t.DdspEnqFlags = 0;
                CallDispatchEnqueue(ref f, (int)DoEnqueueTaskAt.Done, de.TargetSlot, p, de.EnqFlags);
                return;
            }
            case DoEnqueueTaskAt.Done:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"do_enqueue_task resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- direct_dispatch()

    /// <summary>direct_dispatch()'s locals (Task = p, Cpu = task_rq(p)'s CPU).</summary>
    private struct DirectDispatchLocals
    {
        /// <summary>enq_flags, OR-ed into p->scx.ddsp_enq_flags.</summary>
        public long EnqFlags;
    }

    /// <summary>direct_dispatch()'s resume points.</summary>
    private enum DirectDispatchAt
    {
        Entry = 0,
        /// <summary>dispatch_enqueue() returned.</summary>
        Done = 1,
        /// <summary>ops_state released to NONE for a remote local DSQ (fine granularity ends the step here): park p on ddsp_deferred_locals.</summary>
        AfterOpsStateNone = 2,
    }

    /// <summary>direct_dispatch(rq of <paramref name="cpu"/>, p, enq_flags); the caller resumes at <paramref name="returnPc"/>.</summary>
    private void CallDirectDispatch(ref Frame caller, int returnPc, int p, int cpu, long enqFlags)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.DirectDispatch);
        callee.Task = p;
        callee.Cpu = cpu;
        callee.Locals<DirectDispatchLocals>().EnqFlags = enqFlags;
    }

    // Requires: rq(Cpu) = task_rq(p) held.
    private void PathDirectDispatch(ref Frame f)
    {
        var p = f.Task;
        var rqc = f.Cpu;
        ref var dd = ref f.Locals<DirectDispatchLocals>();
        switch ((DirectDispatchAt)f.Pc)
        {
            case DirectDispatchAt.Entry:
            {
                ref var t = ref Tk(p);
                var slot = FindDsqForDispatch(rqc, t.DdspDsqId, p);
                t.DdspEnqFlags |= dd.EnqFlags;
                if (IsLocalSlot(slot) && LocalSlotCpu(slot) != rqc)
                {
                    // The rq lock is pinned: park p on ddsp_deferred_locals and finish from deferred work.
                    var st = OpsWord.State(t.OpsState);
                    if (st != OpsState.None && st != OpsState.Queueing)
                        KernelAssert("WARN_ONCE(direct_dispatch ops state)", $"sched_ext: {TaskName(p)} has invalid ops state 0x{t.OpsState:x} in direct_dispatch()");
                    t.OpsState = OpsWord.Make(OpsState.None, 0);
                    if (PublishCut(ref f, (int)DirectDispatchAt.AfterOpsStateNone)) return;
                    goto case DirectDispatchAt.AfterOpsStateNone;
                }
                var flags = t.DdspEnqFlags;
                t.DdspDsqId = DsqId.Invalid;
                t.DdspEnqFlags = 0;
                CallDispatchEnqueue(ref f, (int)DirectDispatchAt.Done, slot, p, flags | (long)EnqFlags.ClearOpss);
                return;
            }
            case DirectDispatchAt.AfterOpsStateNone:
            {
                LinkTail(DeferredSlot(rqc), p);
                // Always set: the model has no task_woken_scx() hook to run the list from a wakeup.
                Rq(rqc).DeferredLocals = true;
                Trace?.Note(_cur, $"direct_dispatch({TaskName(p)}, {DsqId.Name(TkR(p).DdspDsqId)}): deferred");
                Return();
                return;
            }
            case DirectDispatchAt.Done:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"direct_dispatch resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- dispatch_enqueue()

    /// <summary>dispatch_enqueue()'s locals (Dsq = the target slot, Task = p). Callers write L0.</summary>
    [StructLayout(LayoutKind.Explicit)]
    private struct DispatchEnqueueLocals
    {
        /// <summary>enq_flags (the caller's L0); SCX_ENQ_DSQ_PRIQ is dropped for a built-in DSQ.</summary>
        [FieldOffset(0)] public long EnqFlags;
    }

    /// <summary>dispatch_enqueue()'s resume points.</summary>
    private enum DispatchEnqueueAt
    {
        Entry = 0,
        /// <summary>The target DSQ's lock taken (again, on the global DSQ, after the destroyed-DSQ fallback): insert p.</summary>
        AfterDsqLock = 1,
        /// <summary>p inserted and custody settled (ops.dequeue() returned for a terminal DSQ): local post-enqueue, release ops_state.</summary>
        AfterCustody = 2,
        /// <summary>The DSQ lock dropped and ops_state released to NONE (fine granularity ends the step here): return.</summary>
        AfterOpsStateNone = 3,
        /// <summary>A non-local DSQ's lock dropped with p linked: the SCX_ENQ_CLEAR_OPSS release to NONE.</summary>
        ReleaseOpsState = 4,
    }

    /// <summary>dispatch_enqueue(DSQ <paramref name="slot"/>, p, enq_flags); the caller resumes at <paramref name="returnPc"/>.</summary>
    private void CallDispatchEnqueue(ref Frame caller, int returnPc, int slot, int p, long enqFlags)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.DispatchEnqueue);
        callee.Dsq = slot;
        callee.Task = p;
        callee.Locals<DispatchEnqueueLocals>().EnqFlags = enqFlags;
    }

    // Requires: p unlinked, p->scx.dsq NULL; the rq lock of a local target held by the caller.
    private void PathDispatchEnqueue(ref Frame f)
    {
        var p = f.Task;
        ref var de = ref f.Locals<DispatchEnqueueLocals>();
        switch ((DispatchEnqueueAt)f.Pc)
        {
            case DispatchEnqueueAt.Entry:
            {
                ref var t = ref Tk(p);
                if (t.Dsq >= 0 || t.ListOn >= 0) KernelAssert("WARN_ON_ONCE(p->scx.dsq)", $"dispatch_enqueue({TaskName(p)}) while on {SlotName(t.Dsq >= 0 ? t.Dsq : t.ListOn)}");
                if (HasDsqLock(f.Dsq))
                {
                    LockDsq(ref f, f.Dsq, (int)DispatchEnqueueAt.AfterDsqLock);
                    return;
                }
                goto case DispatchEnqueueAt.AfterDsqLock;
            }
            case DispatchEnqueueAt.AfterDsqLock:
            {
                ref var d = ref Dq(f.Dsq);
                if (IsUserSlot(f.Dsq) && d.Destroyed)
                {
                    ScxError("attempting to dispatch to a destroyed dsq");
                    UnlockDsq(f.Dsq);
                    f.Dsq = GlobalSlot;
                    LockDsq(ref f, GlobalSlot, (int)DispatchEnqueueAt.AfterDsqLock);
                    return;
                }
                ref var t = ref Tk(p);
                var builtin = !IsUserSlot(f.Dsq);
                if (builtin && (de.EnqFlags & (long)EnqFlags.DsqPriq) != 0)
                {
                    ScxError("cannot use vtime ordering for built-in DSQs");
                    de.EnqFlags &= ~(long)EnqFlags.DsqPriq;
                }
                if ((de.EnqFlags & (long)EnqFlags.DsqPriq) != 0)
                {
                    if (d.PriqCount == 0 && d.Nr > 0) ScxError($"DSQ ID 0x{d.Id:x16} already had FIFO-enqueued tasks");
                    LinkByVtime(f.Dsq, p);
                    t.OnPriq = true;
                    d.PriqCount++;
                }
                else
                {
                    if (d.PriqCount > 0) ScxError($"DSQ ID 0x{d.Id:x16} already had PRIQ-enqueued tasks");
                    if ((de.EnqFlags & ((long)EnqFlags.Head | (long)EnqFlags.Preempt)) != 0) LinkHead(f.Dsq, p);
                    else LinkTail(f.Dsq, p);
                }
                d.Seq++;
                t.DsqSeq = d.Seq;
                DsqIncNrImmed(f.Dsq, p, de.EnqFlags);
                t.Dsq = f.Dsq;
                Trace?.Note(_cur, $"dispatch_enqueue({SlotName(f.Dsq)}, {TaskName(p)})");
                // Custody (V-B): terminal DSQs end it (7.1 dispatch_enqueue(): SCX_DSQ_GLOBAL and the bypass DSQs
                // call call_task_dequeue(), local DSQs end it at set_next_task_scx()); user DSQs keep it. The v2
                // per-rq fallback DSQ is not terminal either (balance drains it back into ops.enqueue with
                // SCX_ENQ_REENQ), so it keeps custody too: the REENQ ops.enqueue arrives with no ops.dequeue
                // in between, as for a task the BPF scheduler re-enqueues from its own DSQ (issue 10 item 7).
                if (IsUserSlot(f.Dsq) || IsFallbackSlot(f.Dsq))
                {
                    t.Flags |= TaskFlags.InCustody;
                    goto case DispatchEnqueueAt.AfterCustody;
                }
                if (CallTaskDequeue(ref f, (int)DispatchEnqueueAt.AfterCustody, p, 0)) return;
                goto case DispatchEnqueueAt.AfterCustody;
            }
            case DispatchEnqueueAt.AfterCustody:
            {
                if (IsLocalSlot(f.Dsq))
                {
                    var c = LocalSlotCpu(f.Dsq);
                    ref var rq = ref Rq(c);
                    // local_dsq_post_enq(): wake an idle CPU; PREEMPT outside balance kicks curr off.
                    if (rq.Curr < 0 || !IsScx(rq.Curr)) rq.NeedResched = true;
                    else if ((rq.Flags & RqFlags.InBalance) == 0 && (de.EnqFlags & (long)EnqFlags.Preempt) != 0 && rq.Curr != p)
                    {
                        Tk(rq.Curr).Slice = 0;
                        rq.NeedResched = true;
                    }
                }
                // V-B order: a non-local DSQ's lock is dropped first, then ops_state is released (T3/T6a,
                // store-release), the last thing dispatch_enqueue() does. Between the two, the DSQ lock's next
                // holder (a consume, an iterator, a reenqueue) sees p linked while still QUEUEING/DISPATCHING:
                // the release is a second observable access after the unlock, so the step ends at the unlock
                // (the window kernel commit 7de9a6fb makes the reenqueue paths wait out). A local DSQ is
                // guarded by the rq lock the caller still holds, so there the release joins the step.
                if (HasDsqLock(f.Dsq))
                {
                    UnlockDsq(f.Dsq);
                    if ((de.EnqFlags & (long)EnqFlags.ClearOpss) != 0)
                    {
                        Yield(ref f, (int)DispatchEnqueueAt.ReleaseOpsState);
                        return;
                    }
                }
                goto case DispatchEnqueueAt.ReleaseOpsState;
            }
            case DispatchEnqueueAt.ReleaseOpsState:
                if ((f.Locals<DispatchEnqueueLocals>().EnqFlags & (long)EnqFlags.ClearOpss) != 0)
                {
                    Tk(p).OpsState = OpsWord.Make(OpsState.None, 0);
                    if (PublishCut(ref f, (int)DispatchEnqueueAt.AfterOpsStateNone)) return;
                }
                goto case DispatchEnqueueAt.AfterOpsStateNone;
            case DispatchEnqueueAt.AfterOpsStateNone:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"dispatch_enqueue resume point {f.Pc}");
        }
    }

    /// <summary>
    /// call_task_dequeue(): the only place custody ends — ops.dequeue if IN_CUSTODY and not an
    /// SCX-internal migration (sticky_cpu ≥ 0), then clear IN_CUSTODY. Returns true if a callback was pushed.
    /// The caller resumes at <paramref name="returnPc"/> (its resume point, as an int) either way.
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

    /// <summary>dequeue_task_scx()'s locals (Task = p, Cpu = task_rq(p)'s CPU as the caller set it). Callers write L0.</summary>
    [StructLayout(LayoutKind.Explicit)]
    private struct DequeueTaskLocals
    {
        /// <summary>deq_flags: the caller's core flags (L0), SCX_DEQ_SCHED_CHANGE added unless a sleep or core-sched exec.</summary>
        [FieldOffset(0)] public long DeqFlags;
    }

    /// <summary>dequeue_task_scx()'s resume points.</summary>
    private enum DequeueTaskAt
    {
        Entry = 0,
        /// <summary>ops_dequeue() returned: charge a running p, ops.stopping().</summary>
        AfterOpsDequeue = 1,
        /// <summary>ops.stopping() returned (or was skipped): ops.quiescent().</summary>
        AfterStopping = 2,
        /// <summary>ops.quiescent() returned (or was skipped): DEQD_FOR_SLEEP, clear QUEUED, dispatch_dequeue().</summary>
        AfterQuiescent = 3,
        /// <summary>dispatch_dequeue() returned: clear_direct_dispatch().</summary>
        AfterDispatchDequeue = 4,
    }

    /// <summary>dequeue_task_scx(rq of <paramref name="cpu"/>, p, deq_flags); the caller resumes at <paramref name="returnPc"/>.</summary>
    private void CallDequeueTask(ref Frame caller, int returnPc, int p, int cpu, long deqFlags)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.DequeueTask);
        callee.Task = p;
        callee.Cpu = cpu;
        callee.Locals<DequeueTaskLocals>().DeqFlags = deqFlags;
    }

    // Requires: rq(Cpu) = task_rq(p) held.
    private void PathDequeueTask(ref Frame f)
    {
        var p = f.Task;
        ref var dt = ref f.Locals<DequeueTaskLocals>();
        switch ((DequeueTaskAt)f.Pc)
        {
            case DequeueTaskAt.Entry:
            {
                if ((dt.DeqFlags & ((long)DeqFlags.Sleep | (long)DeqFlags.CoreSchedExec)) == 0) dt.DeqFlags |= (long)DeqFlags.SchedChange;
                ref var t = ref Tk(p);
                if ((t.Flags & TaskFlags.Queued) == 0)
                {
                    if (t.RunnableOrder != 0) KernelAssert("WARN_ON_ONCE(runnable)", $"{TaskName(p)} on runnable_list but not QUEUED");
                    Return();
                    return;
                }
                if (Config.Protocol == Protocol.Ghost) t.Barrier++; // TASK_BLOCKED/TASK_DEPARTED/… message
                CallOpsDequeue(ref f, (int)DequeueTaskAt.AfterOpsDequeue, p, dt.DeqFlags);
                return;
            }
            case DequeueTaskAt.AfterOpsDequeue:
            {
                var rqc = TkR(p).Cpu;
                if (RqR(rqc).Curr == p) UpdateCurrScx(rqc); // dequeue_task_scx() charges the running task before ops.stopping
                if (RqR(rqc).Curr == p && Invoke(ref f, (int)DequeueTaskAt.AfterStopping, ScxCallback.Stopping, p, rqc, 0)) return;
                goto case DequeueTaskAt.AfterStopping;
            }
            case DequeueTaskAt.AfterStopping:
                if (!TkR(p).Migrating && Invoke(ref f, (int)DequeueTaskAt.AfterQuiescent, ScxCallback.Quiescent, p, TkR(p).Cpu, dt.DeqFlags)) return;
                goto case DequeueTaskAt.AfterQuiescent;
            case DequeueTaskAt.AfterQuiescent:
            {
                ref var t = ref Tk(p);
                if ((dt.DeqFlags & (long)DeqFlags.Sleep) != 0) t.Flags |= TaskFlags.DeqdForSleep;
                else t.Flags &= ~TaskFlags.DeqdForSleep;
                t.Flags &= ~TaskFlags.Queued;
                Rq(t.Cpu).NrRunning--;
                CallDispatchDequeue(ref f, (int)DequeueTaskAt.AfterDispatchDequeue, p);
                return;
            }
            case DequeueTaskAt.AfterDispatchDequeue:
            {
                ref var t = ref Tk(p);
                t.DdspDsqId = DsqId.Invalid; // clear_direct_dispatch()
                t.DdspEnqFlags = 0;
                Return();
                return;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"dequeue_task_scx resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- ops_dequeue()

    /// <summary>ops_dequeue()'s locals (Task = p). Callers write L0.</summary>
    [StructLayout(LayoutKind.Explicit)]
    private struct OpsDequeueLocals
    {
        /// <summary>deq_flags handed to ops.dequeue() (the caller's L0).</summary>
        [FieldOffset(0)] public long DeqFlags;
    }

    /// <summary>ops_dequeue()'s resume points.</summary>
    private enum OpsDequeueAt
    {
        Entry = 0,
        /// <summary>The ops_state read + cmpxchg (T5), also where the QUEUED-without-custody retry resumes.</summary>
        ReadOpsState = 1,
        /// <summary>wait_ops_state(p, DISPATCHING) returned: BUG_ON() the state is not NONE.</summary>
        AfterWaitDispatching = 2,
        /// <summary>ops_state resolved (T5 published under fine granularity): call_task_dequeue().</summary>
        AfterResolve = 3,
        /// <summary>call_task_dequeue() done (ops.dequeue() returned if it was called).</summary>
        Done = 4,
    }

    /// <summary>ops_dequeue(p, deq_flags); the caller resumes at <paramref name="returnPc"/>.</summary>
    private void CallOpsDequeue(ref Frame caller, int returnPc, int p, long deqFlags)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.OpsDequeue);
        callee.Task = p;
        callee.Locals<OpsDequeueLocals>().DeqFlags = deqFlags;
    }

    // Requires: task_rq(p) held.
    // Races with: finish_dispatch() (T4 vs T5), dispatch_to_local_dsq() (waits out DISPATCHING).
    private void PathOpsDequeue(ref Frame f)
    {
        var p = f.Task;
        ref var od = ref f.Locals<OpsDequeueLocals>();
        switch ((OpsDequeueAt)f.Pc)
        {
            case OpsDequeueAt.Entry:
                ClrTaskRunnable(p, false);
                Yield(ref f, (int)OpsDequeueAt.ReadOpsState); // the ops_state read/cmpxchg is an interleaving point
                return;
            case OpsDequeueAt.ReadOpsState:
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
                            Yield(ref f, (int)OpsDequeueAt.ReadOpsState);
                            return;
                        }
                        t.OpsState = OpsWord.Make(OpsState.None, 0); // T5
                        Trace?.Note(_cur, $"ops_dequeue({TaskName(p)}): {OpsWord.Format(word)} -cmpxchg-> NONE");
                        // T5 is observable (a finish_dispatch() elsewhere now drops its entry); ops.dequeue's first
                        // kfunc is a second observable access, so the step ends here. Found by the fine-vs-normal
                        // property test: fused, they hid a watchdog stall (local-on-pop, a renice racing a dispatch).
                        Yield(ref f, (int)OpsDequeueAt.AfterResolve);
                        return;
                    case OpsState.Dispatching:
                        // wait_ops_state(p, DISPATCHING): the dispatcher owns p until it releases it.
                        WaitFor(ref f, (int)OpsDequeueAt.AfterWaitDispatching, WaitKind.OpsStateChange, p, word);
                        return;
                    default:
                        throw new System.Diagnostics.UnreachableException("ops_state has two bits");
                }
                goto case OpsDequeueAt.AfterResolve;
            }
            case OpsDequeueAt.AfterWaitDispatching:
                if (OpsWord.State(TkR(p).OpsState) != OpsState.None)
                    KernelAssert("BUG_ON() ops_dequeue: not NONE after DISPATCHING", $"{TaskName(p)} left DISPATCHING as {OpsWord.Format(TkR(p).OpsState)}");
                goto case OpsDequeueAt.AfterResolve;
            case OpsDequeueAt.AfterResolve:
                if (CallTaskDequeue(ref f, (int)OpsDequeueAt.Done, p, od.DeqFlags)) return;
                goto case OpsDequeueAt.Done;
            case OpsDequeueAt.Done:
                Return();
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"ops_dequeue resume point {f.Pc}");
        }
    }

    // ---------------------------------------------------------------- dispatch_dequeue()
    // dispatch_dequeue() keeps no locals beyond Task = p and Dsq = the DSQ p is on (read at entry).

    /// <summary>dispatch_dequeue()'s resume points.</summary>
    private enum DispatchDequeueAt
    {
        Entry = 0,
        /// <summary>p->scx.dsq's lock taken: unlink p, or kill the in-flight transfer through holding_cpu.</summary>
        AfterDsqLock = 1,
    }

    /// <summary>dispatch_dequeue(rq, p); the caller resumes at <paramref name="returnPc"/>.</summary>
    private void CallDispatchDequeue(ref Frame caller, int returnPc, int p)
    {
        ref var callee = ref Call(ref caller, returnPc, PathId.DispatchDequeue);
        callee.Task = p;
    }

    // Requires: task_rq(p) held.
    // Races with: consume_remote_task()/dispatch_to_local_dsq() through holding_cpu.
    private void PathDispatchDequeue(ref Frame f)
    {
        var p = f.Task;
        switch ((DispatchDequeueAt)f.Pc)
        {
            case DispatchDequeueAt.Entry:
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
                    LockDsq(ref f, f.Dsq, (int)DispatchDequeueAt.AfterDsqLock);
                    return;
                }
                goto case DispatchDequeueAt.AfterDsqLock;
            }
            case DispatchDequeueAt.AfterDsqLock:
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
                throw new System.Diagnostics.UnreachableException($"dispatch_dequeue resume point {f.Pc}");
        }
    }
}
