using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// <c>local-on-pop</c>: pop a pid from a BPF queue, test <c>p->cpus_ptr</c>, insert
/// <c>SCX_DSQ_LOCAL_ON|cpu</c> (the dsp_local_on selftest / scx_central pattern). Exposed to
/// race R1 (reference §4.2): an affinity change between the mask test and the insert is
/// invisible to the qseq sampled at insert.
/// </summary>
public sealed class LocalOnPop : ScxOps
{
    private MapHandle _queue;

    public override string Name => "local_on_pop";

    public override void DeclareMaps(MapBuilder maps) => _queue = maps.Queue("queue", 64);

    public override bool? HoldsTask(MapView maps, TaskRef p, long pid) => maps.Contains(_queue, pid);

    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
    {
        if (!await ctx.Push(_queue, ctx.Pid(p))) await ctx.Error($"Failed to enqueue {ctx.Comm(p)}");
    }

    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        var popped = await ctx.Pop(_queue);
        if (!popped.Found) return;
        var p = ctx.TaskFromPid(popped.Value);
        if (p.IsNone) return;
        if (await ctx.TaskTestCpu(p, cpu)) await ctx.DsqInsert(p, DsqId.LocalOn(cpu), ScxConst.SliceDfl);
        else await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl);
    }
}
