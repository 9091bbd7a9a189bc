using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>ddsp_bogus_dsq_fail</c>: ops.select_cpu calls scx_bpf_dsq_insert_vtime(p,
/// 0xcafef00d, …) and returns an idle CPU or prev. "non-existent DSQ" → SCX_EXIT_ERROR, and
/// the task falls back to the global DSQ (the later vtime-on-built-in error is not the one kept).
/// </summary>
public class DdspBogusDsqFailTests
{
    private sealed class Policy : ScxOps
    {
        public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
        {
            var cpu = await ctx.PickIdleCpu(p);
            await ctx.DsqInsertVtime(p, 0xcafef00d, ScxConst.SliceDfl, 0);
            return cpu >= 0 ? cpu : prevCpu;
        }
    }

    [Fact]
    public void Should_ExitWithNonExistentDsq_AndFallBackToGlobal()
    {
        var d = Driver(() => new Policy(), 2, [Sleeping("a", 501, 0, 0, 1)], rounds: [1, 1],
            scripts: [new ScriptSpec("waker", 0, [Wake(0)])]);
        var m = d.Machine;

        RunActor(d, "waker");

        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("non-existent DSQ 0xcafef00d for a[501]", m.World.ExitMessage); // "non-existent DSQ 0x%llx for %s[%d]", p->comm, p->pid
        Assert.Equal(["a"], Dsq(m, Machine.GlobalSlot));
        Assert.False(Task(m, "a").OnPriq); // dispatch_enqueue dropped the PRIQ flag for the built-in DSQ
        d.RunToQuiescence();
        AssertNothingLost(m);
    }
}
