using Scxlab.Bpf;
using Scxlab.Kernel;

namespace MyPolicy;

/// <summary>
/// A starting point: one shared FIFO (a user DSQ) that every CPU consumes, the scx_simple -f pattern.
/// It never inserts into SCX_DSQ_LOCAL_ON and never reads a task's cpumask, so the affinity-vs-dispatch
/// race of the built-in scenarios cannot reach it: the tests in MyPolicy.Tests expect it to hold.
/// Change it, and the tests tell you whether it still does (docs/writing-a-policy.md has the rules).
/// </summary>
public sealed class FifoPolicy : ScxOps
{
    private const ulong SharedDsq = 0;

    public override string Name => "my-fifo";

    /// <summary>Tasks wait on the shared DSQ, where the kernel sees them; the maps hold none.</summary>
    public override bool? HoldsTask(MapView maps, TaskRef p, long pid) => false;

    public override async BpfTask Init(InitContext ctx)
    {
        if (!await ctx.CreateDsq(SharedDsq)) await ctx.Error($"failed to create DSQ {SharedDsq}");
    }

    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) =>
        await ctx.DsqInsert(p, SharedDsq, ScxConst.SliceDfl, enqFlags);

    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) =>
        await ctx.DsqMoveToLocal(SharedDsq);
}
