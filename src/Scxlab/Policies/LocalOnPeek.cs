using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// <c>local-on-peek</c>: peek the head of the policy's queue, test <c>p->cpus_ptr</c>, then
/// remove it and insert <c>SCX_DSQ_LOCAL_ON|cpu</c>; ops.dequeue removes the task from the
/// queue. Race R2 (reference §4.3, the seed email's interleaving): a dequeue → set_cpus_allowed →
/// enqueue cycle between the test and the removal makes the removal take the <em>new</em> entry.
/// </summary>
public sealed class LocalOnPeek() : PidListPolicy("queue", 64)
{
    public override string Name => "local_on_peek";

    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        var head = await ctx.Peek(Queue);
        if (!head.Found) return;
        var p = ctx.TaskFromPid(head.Value);
        if (p.IsNone) return;
        var allowed = await ctx.TaskTestCpu(p, cpu);
        if (!await ctx.ListRemove(Queue, head.Value)) return;
        await ctx.DsqInsert(p, allowed ? DsqId.LocalOn(cpu) : DsqId.Global, ScxConst.SliceDfl);
    }
}
