using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// <c>simple</c> / <c>simple-fifo</c>: the scx_simple pattern (tools/sched_ext/scx_simple.bpf.c).
/// One shared user DSQ (<see cref="SharedDsq"/>), FIFO or weighted vtime. ops.select_cpu asks
/// <c>scx_bpf_select_cpu_dfl()</c> and, when it found an idle CPU, direct-dispatches to
/// <c>SCX_DSQ_LOCAL</c>; ops.enqueue inserts into the shared DSQ; ops.dispatch is
/// <c>scx_bpf_dsq_move_to_local(SHARED_DSQ)</c>. In vtime mode, ops.stopping charges the used
/// slice scaled by 100/weight and ops.running advances the global clock <c>vtime_now</c> (an
/// array map); a waking task's vtime is clamped to at most one slice behind it.
/// </summary>
/// <remarks>
/// Not exposed to the dispatch/affinity race (reference ghost-and-scx §2.1): no LOCAL_ON and no
/// cpumask reads; consume (<c>move_to_local</c>) skips tasks this CPU may not run.
/// Differences from scx_simple: the model has no ops.enable, so a new task's dsq_vtime starts at
/// 0 and the enqueue clamp lifts it to <c>vtime_now - SCX_SLICE_DFL</c> (the same effect for
/// ordering); the used slice is clamped at 0 where the C code would wrap a u64 (a task started
/// with a slice above SCX_SLICE_DFL); the stats map is left out.
/// </remarks>
public sealed class Simple : ScxOps
{
    /// <summary><c>SHARED_DSQ</c>: built-in DSQs cannot be priority queues, so scx_simple creates DSQ 0.</summary>
    public const ulong SharedDsq = 0;

    // const volatile bool fifo_sched: rodata fixed at load, never written by the program.
    private readonly bool _fifo;
    private MapHandle _vtimeNow;

    /// <param name="fifo">scx_simple's <c>-f</c> (<c>fifo_sched</c>): FIFO instead of weighted vtime.</param>
    public Simple(bool fifo) => _fifo = fifo;

    public Simple() : this(false) { }

    public override string Name => "simple";

    public override void DeclareMaps(MapBuilder maps) => _vtimeNow = maps.Array("vtime_now", 1);

    /// <summary>The maps never hold a task: every queued task sits on the shared DSQ, where the kernel sees it.</summary>
    public override bool? HoldsTask(MapView maps, TaskRef p, long pid) => false;

    public override async BpfTask Init(InitContext ctx)
    {
        if (!await ctx.CreateDsq(SharedDsq)) await ctx.Error($"failed to create DSQ {SharedDsq}");
    }

    public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
    {
        var (cpu, isIdle) = await ctx.SelectCpuDfl(p, prevCpu, wakeFlags);
        if (isIdle) await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl);
        return cpu;
    }

    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
    {
        if (_fifo)
        {
            await ctx.DsqInsert(p, SharedDsq, ScxConst.SliceDfl, enqFlags);
            return;
        }
        var vtime = await ctx.TaskDsqVtime(p);
        var now = await ctx.Get(_vtimeNow, 0);
        // Limit the budget an idling task can accumulate to one slice.
        if (VtimeBefore(vtime, now - ScxConst.SliceDfl)) vtime = now - ScxConst.SliceDfl;
        await ctx.DsqInsertVtime(p, SharedDsq, ScxConst.SliceDfl, vtime, enqFlags);
    }

    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) =>
        await ctx.DsqMoveToLocal(SharedDsq);

    public override async BpfTask Running(TaskContext ctx, TaskRef p)
    {
        if (_fifo) return;
        // The global clock only moves forward. Test and update race between CPUs; scx_simple
        // accepts the temporary error, and so does the model (two separate map operations).
        var vtime = await ctx.TaskDsqVtime(p);
        var now = await ctx.Get(_vtimeNow, 0);
        if (VtimeBefore(now, vtime)) await ctx.Set(_vtimeNow, 0, vtime);
    }

    public override async BpfTask Stopping(TaskContext ctx, TaskRef p, bool runnable)
    {
        if (_fifo) return;
        // Charge the used part of the slice, scaled by the inverse of the weight.
        var slice = await ctx.TaskSlice(p);
        var weight = await ctx.TaskWeight(p);
        var vtime = await ctx.TaskDsqVtime(p);
        var used = Math.Max(0, ScxConst.SliceDfl - slice);
        await ctx.TaskSetDsqVtime(p, vtime + used * 100 / Math.Max(1, weight));
    }

    /// <summary><c>vtime_before(a, b)</c>: <c>(s64)(a - b) &lt; 0</c>.</summary>
    private static bool VtimeBefore(long a, long b) => unchecked(a - b) < 0;
}
