using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>ddsp_vtimelocal_fail</c>: with an idle CPU found, ops.select_cpu calls
/// scx_bpf_dispatch_vtime(p, SCX_DSQ_LOCAL, …). dispatch_enqueue() raises "cannot use vtime
/// ordering for built-in DSQs" (SCX_EXIT_ERROR) and inserts FIFO.
/// </summary>
public class DdspVtimelocalFailTests
{
    private sealed class Policy : ScxOps
    {
        public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
        {
            var cpu = await ctx.PickIdleCpu(p);
            if (cpu >= 0)
            {
                await ctx.DsqInsertVtime(p, DsqId.Local, ScxConst.SliceDfl, 0);
                return cpu;
            }
            return prevCpu;
        }
    }

    [Fact]
    public void Should_ExitWithVtimeOnBuiltinDsq_AndInsertFifoOnTheLocalDsq()
    {
        var d = Driver(() => new Policy(), 2, [Sleeping("a", 601, 1, 0, 1)], rounds: [1, 1],
            scripts: [new ScriptSpec("waker", 1, [Wake(0)])]);
        var m = d.Machine;

        RunActor(d, "waker");

        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("cannot use vtime ordering for built-in DSQs", m.World.ExitMessage);
        // The idle CPU picked: cpumask_any_and_distribute() starts after the waker CPU's rotor, 0 at boot, so CPU1.
        Assert.Equal(["a"], Dsq(m, m.LocalSlot(1)));
        Assert.False(Task(m, "a").OnPriq);
        d.RunToQuiescence();
        AssertNothingLost(m);
    }
}
