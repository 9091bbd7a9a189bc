using Scxlab.Bpf;
using Scxlab.Stepping;

namespace Scxlab.Kernel;

// SCX_ENQ_IMMED (7.1): a task inserted into a local DSQ with it either gets that CPU at once or goes back to
// ops.enqueue (SCX_ENQ_REENQ, reason SCX_TASK_REENQ_IMMED); a running one preempted by a higher class goes back
// with reason SCX_TASK_REENQ_PREEMPTED instead of to the head of the local DSQ. docs/immed.md has the kernel's
// paths this follows and what the model leaves out.
public sealed partial class Machine
{
    /// <summary>The bits of <see cref="CpuState.ReenqRequested"/>: a deferred local re-enqueue is queued, and with which reenq_flags.</summary>
    [Flags]
    private enum ReenqRequest
    {
        /// <summary>The rq's deferred_reenq_local node is on its list (any request, IMMED bookkeeping included).</summary>
        Queued = 1,
        /// <summary>SCX_REENQ_ANY: re-enqueue every task (scx_bpf_dsq_reenq, scx_bpf_reenqueue_local); without it, only IMMED tasks.</summary>
        Any = 2,
    }

    /// <summary>
    /// scx_vet_enq_flags(): SCX_ENQ_IMMED is for local DSQs only ("SCX_ENQ_IMMED on a non-local DSQ"), and
    /// SCX_OPS_ALWAYS_ENQ_IMMED adds it to every insert into one. Only the kfunc paths (insert, move, move_to_local)
    /// call it; the kernel's own inserts never add IMMED. False: the scheduler is ending, the call does nothing.
    /// </summary>
    internal bool VetEnqFlags(ulong dsqId, ref long enqFlags)
    {
        var isLocal = dsqId == DsqId.Local || DsqId.IsLocalOn(dsqId);
        if ((enqFlags & (long)EnqFlags.Immed) != 0)
        {
            if (!isLocal)
            {
                ScxError($"SCX_ENQ_IMMED on a non-local DSQ 0x{dsqId:x}");
                return false;
            }
        }
        else if ((Ops.Flags & OpsFlags.AlwaysEnqImmed) != 0 && isLocal)
        {
            enqFlags |= (long)EnqFlags.Immed;
        }
        return true;
    }

    /// <summary>
    /// rq_is_open(): may an SCX task inserted into CPU <paramref name="c"/>'s local DSQ run at once? Not when a higher
    /// class is next (the stopper, queued or running; the fair class); yes when the CPU is idle; with an SCX task next,
    /// only while it balances (the end of balance_one() settles it) or for an SCX_ENQ_PREEMPT insert (which ends curr's slice).
    /// </summary>
    private bool RqIsOpen(int c, long enqFlags)
    {
        ref readonly var rq = ref RqR(c);
        if (rq.StopperPending || rq.NextClass == NextClass.AboveExt) return false;
        if (rq.NextClass == NextClass.BelowExt) return true;
        if ((rq.Flags & RqFlags.InBalance) != 0) return true;
        return (enqFlags & (long)EnqFlags.Preempt) != 0;
    }

    /// <summary>Where a task of <paramref name="cls"/> puts rq->next_class: ext, or the fair class above it.</summary>
    private static NextClass NextClassOf(SchedClass cls) => cls == SchedClass.Ext ? NextClass.Ext : NextClass.AboveExt;

    /// <summary>core's wakeup_preempt(): a task of <paramref name="cls"/> enqueued on CPU <paramref name="c"/> raises rq->next_class to its class.</summary>
    private void RaiseNextClass(int c, SchedClass cls)
    {
        var to = NextClassOf(cls);
        if (RqR(c).NextClass < to) Rq(c).NextClass = to;
    }

    /// <summary>
    /// schedule_reenq_local(rq, reenq_flags): queue CPU <paramref name="c"/>'s deferred local re-enqueue (run by its
    /// deferred work, <see cref="ReenqMode.Deferred"/>). Nothing while bypassing (schedule_dsq_reenq()).
    /// </summary>
    private void ScheduleReenqLocal(int c, ReenqRequest flags)
    {
        if (Bypassing) return;
        Rq(c).ReenqRequested |= (int)(ReenqRequest.Queued | flags);
    }

    /// <summary>
    /// dsq_inc_nr()'s IMMED part, after <paramref name="p"/> was linked on <paramref name="slot"/> with
    /// <paramref name="enqFlags"/>: an IMMED insert marks the task; a marked task on a local DSQ is counted in
    /// nr_immed, and if the DSQ now holds another task or the CPU is not open, the CPU re-enqueues its IMMED tasks.
    /// </summary>
    private void DsqIncNrImmed(int slot, int p, long enqFlags)
    {
        ref var t = ref Tk(p);
        if ((enqFlags & (long)EnqFlags.Immed) != 0)
        {
            if (!IsLocalSlot(slot))
            {
                // fallback-dsq (v2) parks a task its target CPU refused on that rq's fallback DSQ: the same fallback.
                if (IsFallbackSlot(slot)) return;
                // A local insert that fell back to the global DSQ loses IMMED quietly; any other is a kernel warning.
                if ((enqFlags & (long)EnqFlags.GdsqFallback) == 0)
                    KernelAssert("WARN_ON_ONCE(!(enq_flags & SCX_ENQ_GDSQ_FALLBACK))", $"dsq_inc_nr: SCX_ENQ_IMMED on {SlotName(slot)} for {TaskName(p)}");
                return;
            }
            t.Flags |= TaskFlags.Immed;
        }
        if ((t.Flags & TaskFlags.Immed) == 0) return;
        if (!IsLocalSlot(slot))
        {
            KernelAssert("WARN_ON_ONCE(dsq->id != SCX_DSQ_LOCAL)", $"dsq_inc_nr: {TaskName(p)} has SCX_TASK_IMMED on {SlotName(slot)}");
            return;
        }
        var c = LocalSlotCpu(slot);
        Rq(c).NrImmed++;
        if (DqR(slot).Nr > 1 || !RqIsOpen(c, enqFlags)) ScheduleReenqLocal(c, 0);
    }

    /// <summary>dsq_dec_nr()'s IMMED part: <paramref name="p"/> leaves CPU <paramref name="c"/>'s local DSQ (its SCX_TASK_IMMED stays).</summary>
    private void DsqDecNrImmed(int c, int p)
    {
        ref var rq = ref Rq(c);
        if (rq.NrImmed <= 0)
        {
            KernelAssert("WARN_ON_ONCE(rq->scx.nr_immed <= 0)", $"dsq_dec_nr: {TaskName(p)} leaves CPU{c}'s local DSQ with nr_immed {rq.NrImmed}");
            return;
        }
        rq.NrImmed--;
    }

    /// <summary>
    /// local_task_should_reenq(): whether the local re-enqueue pass takes <paramref name="p"/>, and with which reason.
    /// An IMMED task stays only as the first task examined on an open CPU; others go only for an ANY request.
    /// Pure: <paramref name="first"/> says whether p is the first task examined.
    /// </summary>
    private bool LocalTaskShouldReenq(int p, bool first, bool rqOpen, bool any, out TaskFlags reason)
    {
        if ((TkR(p).Flags & TaskFlags.Immed) != 0 && (!first || !rqOpen))
        {
            reason = TaskFlags.ReenqImmed;
            return true;
        }
        reason = TaskFlags.ReenqKfunc;
        return any;
    }
}
