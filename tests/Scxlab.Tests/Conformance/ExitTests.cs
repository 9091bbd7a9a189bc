using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>exit</c>: at the chosen callback the scheduler calls
/// <c>scx_bpf_exit(exit_point, "%d", exit_point)</c>; otherwise it behaves normally (default
/// select, insert into user DSQ 0, consume DSQ 0). Each case ends with SCX_EXIT_UNREG_BPF,
/// exit_code == the point and the message "&lt;point&gt;". The model has no ops.enable or
/// ops.init_task, so EXIT_ENABLE and EXIT_INIT_TASK are not covered.
/// </summary>
public class ExitTests
{
    public enum ExitPoint { SelectCpu = 0, Enqueue = 1, Dispatch = 2, Init = 5 }

    private sealed class Policy(ExitPoint point) : ScxOps
    {
        private async BpfTask ExitAt(BpfContext ctx) => await ctx.Exit((long)point, ((int)point).ToString(System.Globalization.CultureInfo.InvariantCulture));

        public override async BpfTask Init(InitContext ctx)
        {
            if (point == ExitPoint.Init) await ExitAt(ctx);
            await ctx.CreateDsq(0);
        }

        public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
        {
            if (point == ExitPoint.SelectCpu) await ExitAt(ctx);
            var (cpu, _) = await ctx.SelectCpuDfl(p, prevCpu, wakeFlags);
            return cpu;
        }

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            if (point == ExitPoint.Enqueue) await ExitAt(ctx);
            await ctx.DsqInsert(p, 0, ScxConst.SliceDfl, enqFlags);
        }

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            if (point == ExitPoint.Dispatch) await ExitAt(ctx);
            await ctx.DsqMoveToLocal(0);
        }
    }

    [Theory]
    [InlineData(ExitPoint.SelectCpu)]
    [InlineData(ExitPoint.Enqueue)]
    [InlineData(ExitPoint.Dispatch)]
    [InlineData(ExitPoint.Init)]
    public void Should_UnregisterFromBpf_WithTheExitPointAsCodeAndMessage(ExitPoint point)
    {
        // a (queued at load) reaches ops.enqueue and ops.dispatch; b's wakeup reaches ops.select_cpu.
        var d = Driver(() => new Policy(point), 2, [Queued("a", 901, 0, 0), Sleeping("b", 902, 1, 0, 1)], rounds: [2, 2],
            scripts: [new ScriptSpec("waker", 1, [Wake(1)])]);
        var m = d.Machine;

        d.RunToQuiescence();

        Assert.Equal(ExitKind.UnregBpf, m.World.Sched.ExitKind);
        Assert.Equal((long)point, m.World.Sched.ExitCode);
        Assert.Equal(((int)point).ToString(System.Globalization.CultureInfo.InvariantCulture), m.World.ExitMessage);
        Assert.True(m.World.Sched.Disabled);
        AssertNothingLost(m);
    }
}
