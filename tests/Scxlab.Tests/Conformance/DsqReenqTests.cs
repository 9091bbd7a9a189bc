using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>dsq_reenq</c>: scx_bpf_dsq_reenq() re-enqueues the tasks of a DSQ through
/// ops.enqueue with SCX_ENQ_REENQ; the selftest counts those (nr_reenq_kfunc &gt; 0) and
/// expects no error. The selftest re-enqueues user DSQ 0 from a BPF timer; the model has no
/// BPF timer and re-enqueues only local DSQs, so here ops.tick calls
/// scx_bpf_dsq_reenq(SCX_DSQ_LOCAL) and ops.enqueue inserts into SCX_DSQ_LOCAL.
/// </summary>
public class DsqReenqTests
{
    private sealed class Policy : ScxOps
    {
        public MapHandle Bss; // [0] nr_reenq_kfunc, [1] enqueues
        public override void DeclareMaps(MapBuilder maps) => Bss = maps.Array("bss", 2);

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            await ctx.FetchAdd(Bss, 1, 1);
            if ((enqFlags & EnqFlags.Reenq) != 0) await ctx.FetchAdd(Bss, 0, 1);
            await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl, enqFlags);
        }

        public override async BpfTask Tick(TaskContext ctx, TaskRef p) => await ctx.DsqReenq(DsqId.Local);
    }

    [Fact]
    public void Should_ReenqueueTheLocalDsqThroughOpsEnqueueWithReenq()
    {
        var d = Driver(() => new Policy(), 1, [Running("cur", 1401, 0, 0), Queued("b", 1402, 0, 0), Queued("c", 1403, 0, 0)],
            rounds: [0], scripts: [new ScriptSpec("timer", 0, [Tick(0), Tick(0)])]);
        var m = d.Machine;
        var bss = ((Policy)m.Ops).Bss;
        Assert.Equal(["b", "c"], Dsq(m, m.LocalSlot(0)));
        Assert.Equal(0, Get(m, bss, 0));

        d.Finish("timer"); // first tick: ops.tick requests the re-enqueue
        Assert.NotEqual(0, m.World.Cpus[0].ReenqRequested); // deferred to the CPU's own work
        Assert.Equal(0, Get(m, bss, 0));
        RunActor(d, "CPU0");
        Assert.Equal(2, Get(m, bss, 0));
        Assert.Equal(["ops.tick(cur[1401])", "ops.enqueue(b[1402])", "ops.enqueue(c[1403])"], Callbacks(d));

        d.Finish("timer");
        RunActor(d, "CPU0");
        Assert.Equal(4, Get(m, bss, 0));
        Assert.Equal(2 + 4, Get(m, bss, 1)); // the two enqueues at load, then the re-enqueues
        Assert.Equal(["b", "c"], Dsq(m, m.LocalSlot(0))); // order kept
        Assert.Equal(4, m.World.Events[(int)ScxEvent.ReenqKfunc]);
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }
}
