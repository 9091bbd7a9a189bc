using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Tests.Paths;

/// <summary>Small test-only policies for the path tests.</summary>
internal static class P
{
    /// <summary>ops.enqueue keeps every task in BPF custody (a pid queue); ops.dispatch inserts the head into <c>Target(cpu)</c>.</summary>
    internal class Queue(Func<int, ulong>? target = null) : ScxOps
    {
        public MapHandle Q;
        public override void DeclareMaps(MapBuilder maps) => Q = maps.List("queue", 64);
        public override bool? HoldsTask(MapView maps, TaskRef p, long pid) => maps.Contains(Q, pid);

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            if (!await ctx.Push(Q, ctx.Pid(p))) await ctx.Error($"Failed to enqueue {ctx.Comm(p)}");
        }

        public override async BpfTask Dequeue(TaskContext ctx, TaskRef p, DeqFlags deqFlags) => await ctx.ListRemove(Q, ctx.Pid(p));

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var head = await ctx.Pop(Q);
            if (!head.Found) return;
            await ctx.DsqInsert(ctx.TaskFromPid(head.Value), target?.Invoke(cpu) ?? DsqId.Local, ScxConst.SliceDfl);
        }
    }

    /// <summary>ops.enqueue inserts into user DSQ 0 (custody on a DSQ); ops.dispatch consumes it.</summary>
    internal class UserDsq : ScxOps
    {
        public override async BpfTask Init(InitContext ctx) => await ctx.CreateDsq(0);
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await ctx.DsqInsert(p, 0, ScxConst.SliceDfl, enqFlags);
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) => await ctx.DsqMoveToLocal(0);
    }

    /// <summary>ops.enqueue direct-dispatches into <paramref name="dsq"/>.</summary>
    internal sealed class Direct(ulong dsq) : ScxOps
    {
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await ctx.DsqInsert(p, dsq, ScxConst.SliceDfl, enqFlags);
    }

    /// <summary>Implements nothing but what the callbacks' narration needs: every op present, each a no-op.</summary>
    internal sealed class Witness : ScxOps
    {
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl, enqFlags);
        public override BpfTask Runnable(TaskContext ctx, TaskRef p, EnqFlags enqFlags) => BpfTask.CompletedTask;
        public override BpfTask Running(TaskContext ctx, TaskRef p) => BpfTask.CompletedTask;
        public override BpfTask Stopping(TaskContext ctx, TaskRef p, bool runnable) => BpfTask.CompletedTask;
        public override BpfTask Quiescent(TaskContext ctx, TaskRef p, DeqFlags deqFlags) => BpfTask.CompletedTask;
        public override BpfTask Tick(TaskContext ctx, TaskRef p) => BpfTask.CompletedTask;
    }
}
