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
public sealed class GhostPeek() : PidListPolicy("runqueue", 64)
{
    public override string Name => "ghost_peek";

    public override Protocol? RequiresProtocol => Protocol.Ghost;


    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        var head = await ctx.Peek(Queue);
        if (!head.Found) return;
        var p = ctx.TaskFromPid(head.Value);
        if (p.IsNone) return;
        var barrier = await ctx.GhostTaskBarrier(p);
        var allowed = await ctx.TaskTestCpu(p, cpu);
        if (!allowed) return; // the agent honours masks: leave it for a CPU it may run on
        if (!await ctx.ListRemove(Queue, head.Value)) return;
        var state = await ctx.GhostCommit(p, cpu, barrier);
        if (state is GhostTxnState.TargetStale or GhostTxnState.TargetOnCpu)
            await ctx.Push(Queue, head.Value);
    }
}
