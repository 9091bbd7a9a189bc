using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// <c>ghost-peek</c>: a ghOSt agent mirroring <see cref="LocalOnPeek"/> on the <c>ghost</c>
/// protocol. Messages (ops.enqueue/ops.dequeue) maintain the agent's runqueue; to schedule, the
/// agent peeks a task, reads its barrier, tests the mask, removes it and commits a transaction
/// with that barrier. A commit rejected as TARGET_STALE (the task got a message since — e.g.
/// TASK_AFFINITY_CHANGED) puts the task back, exactly as a ghOSt agent re-queues on failure.
/// </summary>
public sealed class GhostPeek : ScxOps
{
    private MapHandle _queue;

    public override string Name => "ghost_peek";

    public override Protocol? RequiresProtocol => Protocol.Ghost;

    public override void DeclareMaps(MapBuilder maps) => _queue = maps.List("runqueue", 64);

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
        var barrier = await ctx.GhostTaskBarrier(p);
        var allowed = await ctx.TaskTestCpu(p, cpu);
        if (!allowed) return; // the agent honours masks: leave it for a CPU it may run on
        if (!await ctx.ListRemove(_queue, head.Value)) return;
        var state = await ctx.GhostCommit(p, cpu, barrier);
        if (state is GhostTxnState.TargetStale or GhostTxnState.TargetOnCpu)
            await ctx.Push(_queue, head.Value);
    }
}
