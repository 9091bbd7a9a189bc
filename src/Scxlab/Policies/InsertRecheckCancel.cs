using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// <c>insert-recheck-cancel</c>: the idiom <c>scx_bpf_dispatch_cancel()</c> was added for
/// (sched-ext/sched_ext PR #135). Pop a pid, test <c>p->cpus_ptr</c>, insert
/// <c>SCX_DSQ_LOCAL_ON|cpu</c>, then test the mask <em>again</em>; if it no longer holds, cancel
/// the buffered insert and fall back to <c>SCX_DSQ_GLOBAL</c>. ops.dequeue removes the pid, so
/// the list only holds instances the kernel still has in BPF custody.
/// </summary>
/// <remarks>
/// Why it closes race R1/R2 (reference §4.2–§4.3): an affinity change on a queued task is
/// dequeue → new mask → enqueue, which brands the task with a new qseq. The insert samples the
/// qseq, so
/// <list type="bullet">
/// <item>a change completed before the insert is seen by the re-test (new mask) and cancelled;</item>
/// <item>a change completed after the re-test makes the buffered entry stale, and finish_dispatch()
/// drops it silently;</item>
/// <item>a change in between is again seen by the re-test.</item>
/// </list>
/// Either the set_cpumask path sees the task already dispatched or the dispatch path sees the
/// new mask. The re-enqueue pushed the pid again, so nothing needs pushing back; the fallback
/// insert into the global DSQ carries the current qseq and dispatches that new instance (its
/// ops.dequeue then removes the duplicate pid), or is dropped if the task left meanwhile.
/// </remarks>
public sealed class InsertRecheckCancel() : PidListPolicy("queue", QueueCapacity)
{
    public const int QueueCapacity = 64;

    public override string Name => "insert_recheck_cancel";

    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        var popped = await ctx.Pop(Queue);
        if (!popped.Found) return;
        var p = ctx.TaskFromPid(popped.Value);
        if (p.IsNone) return;

        if (!await ctx.TaskTestCpu(p, cpu))
        {
            await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl);
            return;
        }
        await ctx.DsqInsert(p, DsqId.LocalOn(cpu), ScxConst.SliceDfl);
        if (await ctx.TaskTestCpu(p, cpu)) return;

        // The mask changed under us: take the insert back and let any allowed CPU have it.
        await ctx.DispatchCancel();
        await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl);
    }
}
