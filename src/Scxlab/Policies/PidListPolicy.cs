using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// The bookkeeping the peek/pop-style policies share: a FIFO list of pids that ops.enqueue
/// appends to and ops.dequeue removes from, which is also what the policy "holds" for the
/// forgotten-task check. Subclasses differ only in how ops.dispatch decides.
/// </summary>
public abstract class PidListPolicy(string queueName = "queue", int capacity = 64) : ScxOps
{
    protected MapHandle Queue;

    public override void DeclareMaps(MapBuilder maps) => Queue = maps.List(queueName, capacity);

    public override bool? HoldsTask(MapView maps, TaskRef p, long pid) => maps.Contains(Queue, pid);

    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
    {
        if (!await ctx.Push(Queue, ctx.Pid(p))) await ctx.Error($"Failed to enqueue {ctx.Comm(p)}");
    }

    public override async BpfTask Dequeue(TaskContext ctx, TaskRef p, DeqFlags deqFlags) =>
        await ctx.ListRemove(Queue, ctx.Pid(p));
}
