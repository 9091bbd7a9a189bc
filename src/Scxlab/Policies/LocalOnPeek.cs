using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// <c>local-on-peek</c>: peek the head of the policy's queue, test <c>p->cpus_ptr</c>, then
/// remove it and insert <c>SCX_DSQ_LOCAL_ON|cpu</c>; ops.dequeue removes the task from the
/// queue. Race R2 (reference §4.3, the seed email's interleaving): a dequeue → set_cpus_allowed →
/// enqueue cycle between the test and the removal makes the removal take the <em>new</em> entry.
/// </summary>
public sealed class LocalOnPeek : ScxOps
{
    private MapHandle _queue;

    public override string Name => "local_on_peek";

    public override void DeclareMaps(MapBuilder maps) => _queue = maps.List("queue", 64);

    public override bool? HoldsTask(MapView maps, TaskRef p, long pid) => maps.Contains(_queue, pid);

    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
    {
        if (!await ctx.Push(_queue, ctx.Pid(p))) await ctx.Error($"Failed to enqueue {ctx.Comm(p)}");
    }

    public override async BpfTask Dequeue(TaskContext ctx, TaskRef p, DeqFlags deqFlags) =>
        await ctx.ListRemove(_queue, ctx.Pid(p));

    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        var head = await ctx.Peek(_queue);
        if (!head.Found) return;
        var p = ctx.TaskFromPid(head.Value);
        if (p.IsNone) return;
        var allowed = await ctx.TaskTestCpu(p, cpu);
        if (!await ctx.ListRemove(_queue, head.Value)) return;
        await ctx.DsqInsert(p, allowed ? DsqId.LocalOn(cpu) : DsqId.Global, ScxConst.SliceDfl);
    }
}
