using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>dsq_reenq</c>: scx_bpf_dsq_reenq() re-enqueues the tasks of a DSQ through
/// ops.enqueue with SCX_ENQ_REENQ and the reenqueue reason SCX_TASK_REENQ_KFUNC in p->scx.flags; the
/// selftest counts those (nr_reenq_kfunc &gt; 0) and expects no error. The selftest re-enqueues user DSQ 0
/// from a BPF timer; here ops.tick calls it (a C# policy has no timer), for a local DSQ and for user DSQ 0.
/// </summary>
public class DsqReenqTests
{
    private sealed class Policy : ScxOps
    {
        public MapHandle Bss; // [0] nr_reenq_kfunc, [1] enqueues, [2] enqueues with SCX_TASK_REENQ_KFUNC as the reason
        public override void DeclareMaps(MapBuilder maps) => Bss = maps.Array("bss", 3);

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            await ctx.FetchAdd(Bss, 1, 1);
            if ((enqFlags & EnqFlags.Reenq) != 0) await ctx.FetchAdd(Bss, 0, 1);
            if ((await ctx.TaskScxFlags(p) & ReenqReasonMask) == ReenqKfunc) await ctx.FetchAdd(Bss, 2, 1);
            await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl, enqFlags);
        }

        public override async BpfTask Tick(TaskContext ctx, TaskRef p) => await ctx.DsqReenq(DsqId.Local);
    }

    /// <summary>v7.1 <c>SCX_TASK_REENQ_REASON_MASK</c> and <c>SCX_TASK_REENQ_KFUNC</c> (bits 12–13 of p->scx.flags).</summary>
    private const int ReenqReasonMask = 0x3000, ReenqKfunc = 0x1000;

    /// <summary>The selftest's shape: everything goes through user DSQ 0, which ops.tick re-enqueues.</summary>
    private sealed class UserDsqPolicy : ScxOps
    {
        public MapHandle Bss; // as Policy's
        public override void DeclareMaps(MapBuilder maps) => Bss = maps.Array("bss", 3);

        public override async BpfTask Init(InitContext ctx) => await ctx.CreateDsq(0);

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            await ctx.FetchAdd(Bss, 1, 1);
            if ((enqFlags & EnqFlags.Reenq) != 0) await ctx.FetchAdd(Bss, 0, 1);
            if ((await ctx.TaskScxFlags(p) & ReenqReasonMask) == ReenqKfunc) await ctx.FetchAdd(Bss, 2, 1);
            await ctx.DsqInsert(p, 0, ScxConst.SliceDfl, enqFlags);
        }

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) => await ctx.DsqMoveToLocal(0);

        public override async BpfTask Tick(TaskContext ctx, TaskRef p) => await ctx.DsqReenq(0);
    }

    [Fact]
    public void Should_ReenqueueAUserDsqOnceEachThroughOpsEnqueueWithTheKfuncReason()
    {
        var d = Driver(() => new UserDsqPolicy(), 2, [Running("cur", 1401, 0, 0), Queued("b", 1402, 1, 0, 1), Queued("c", 1403, 1, 0, 1)],
            rounds: [0, 0], scripts: [new ScriptSpec("timer", 0, [Tick(0), Tick(0)])]);
        var m = d.Machine;
        var bss = ((UserDsqPolicy)m.Ops).Bss;
        var dsq0 = m.FindUserDsq(0);
        Assert.Equal(["b", "c"], Dsq(m, dsq0));

        d.Finish("timer"); // ops.tick on CPU0: the request is recorded on this rq, the work is deferred
        Assert.Equal(0, Get(m, bss, 0));
        RunActor(d, "CPU0"); // run_deferred(): process_deferred_reenq_users() → reenq_user()
        Assert.Equal(2, Get(m, bss, 0));
        Assert.Equal(2, Get(m, bss, 2)); // ops.enqueue saw SCX_TASK_REENQ_KFUNC both times
        // The cursor sees only tasks queued before it started: each task once, re-inserted in order.
        Assert.Equal(["b", "c"], Dsq(m, dsq0));
        Assert.Equal(0, (int)m.World.Tasks[1].Flags & ReenqReasonMask); // the reason is cleared afterwards
        Assert.Equal(["ops.tick(cur[1401])", "ops.enqueue(b[1402])", "ops.enqueue(c[1403])"], Callbacks(d));

        d.Finish("timer");
        RunActor(d, "CPU0");
        Assert.Equal(4, Get(m, bss, 0));
        Assert.Equal(4, Get(m, bss, 2));
        Assert.Equal(2 + 4, Get(m, bss, 1));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
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
        Assert.Equal(2, Get(m, bss, 2)); // reenq_local() sets SCX_TASK_REENQ_KFUNC for ops.enqueue
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
