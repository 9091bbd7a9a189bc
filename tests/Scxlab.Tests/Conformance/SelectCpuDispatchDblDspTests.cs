using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>select_cpu_dispatch_dbl_dsp</c>: ops.select_cpu calls
/// scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, …) twice. mark_direct_dispatch() finds its marker
/// already set to the "dispatched" sentinel: "%s[%d] already direct-dispatched", SCX_EXIT_ERROR.
/// </summary>
public class SelectCpuDispatchDblDspTests
{
    private sealed class Policy : ScxOps
    {
        public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
        {
            await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl);
            await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl);
            return prevCpu;
        }
    }

    [Fact]
    public void Should_ExitWithAlreadyDirectDispatched_When_SelectCpuInsertsTwice()
    {
        var d = Driver(() => new Policy(), 2, [Sleeping("dbl", 301, 0, 0, 1)], rounds: [1, 1],
            scripts: [new ScriptSpec("waker", 0, [Wake(0)])]);
        var m = d.Machine;

        RunActor(d, "waker");

        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("dbl[301] already direct-dispatched", m.World.ExitMessage);
        // The first verdict stands: the task is dispatched to the global DSQ, not lost.
        Assert.Equal(["dbl"], Dsq(m, Machine.GlobalSlot));
        d.RunToQuiescence();
        AssertNothingLost(m);
    }
}
