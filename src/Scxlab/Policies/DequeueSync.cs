using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// <c>dequeue-sync</c>: fix (d), the upstream stance (reference §4.7; selftest <c>dequeue</c>
/// scenario 6). Per-task state ("queued in BPF") is set by ops.enqueue and cleared by
/// ops.dequeue under a lock that ops.dispatch also holds across "check state, test the mask,
/// insert". Each dequeue therefore happens either before the decision (the dispatcher sees
/// "not queued", or the new mask) or after the insert (the kernel kills the buffered entry).
/// </summary>
/// <remarks>
/// ops.dequeue clears the state whatever its flags: <c>SCX_DEQ_SCHED_CHANGE</c> (affinity or
/// weight change, the case the selftest hammers), <c>SCX_DEQ_SLEEP</c>, and the custody-ending
/// dequeue after a dispatch (flags 0 or <c>SCX_DEQ_CORE_SCHED_EXEC</c>) all end this instance.
/// Real BPF cannot call kfuncs under <c>bpf_spin_lock</c>; a scheduler gets the same mutual
/// exclusion from an arena lock or a per-task claim flag. The lock here stands for that
/// critical section, which is what the protocol argument needs.
/// </remarks>
public sealed class DequeueSync : ScxOps
{
    private const int FieldQueued = 0;
    private MapHandle _queue;
    private MapHandle _state;
    private MapHandle _lock;

    public override string Name => "dequeue_sync";

    public override void DeclareMaps(MapBuilder maps)
    {
        _queue = maps.List("queue", 64);
        _state = maps.TaskStorage("task_ctx", 1);
        _lock = maps.SpinLock("lock");
    }

    public override bool? HoldsTask(MapView maps, TaskRef p, long pid) => maps.Contains(_queue, pid);

    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
    {
        await ctx.Lock(_lock);
        await ctx.TaskSet(_state, p, FieldQueued, 1);
        var ok = await ctx.Push(_queue, ctx.Pid(p));
        await ctx.Unlock(_lock);
        if (!ok) await ctx.Error($"Failed to enqueue {ctx.Comm(p)}");
    }

    public override async BpfTask Dequeue(TaskContext ctx, TaskRef p, DeqFlags deqFlags)
    {
        await ctx.Lock(_lock);
        await ctx.TaskSet(_state, p, FieldQueued, 0);
        await ctx.ListRemove(_queue, ctx.Pid(p));
        await ctx.Unlock(_lock);
    }

    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        await ctx.Lock(_lock);
        var head = await ctx.Peek(_queue);
        if (!head.Found)
        {
            await ctx.Unlock(_lock);
            return;
        }
        var p = ctx.TaskFromPid(head.Value);
        await ctx.ListRemove(_queue, head.Value);
        if (p.IsNone || await ctx.TaskGet(_state, p, FieldQueued) == 0)
        {
            await ctx.Unlock(_lock);
            return;
        }
        await ctx.TaskSet(_state, p, FieldQueued, 0);
        var allowed = await ctx.TaskTestCpu(p, cpu);
        await ctx.DsqInsert(p, allowed ? DsqId.LocalOn(cpu) : DsqId.Global, ScxConst.SliceDfl);
        await ctx.Unlock(_lock);
    }
}
