using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>select_cpu_dispatch_bad_dsq</c>: ops.select_cpu inserts into DSQ 0xcafef00d,
/// which does not exist. direct_dispatch() → find_dsq_for_dispatch() raises
/// "non-existent DSQ 0x%llx for %s[%d]" and falls back to the global DSQ; uei.kind == SCX_EXIT_ERROR.
/// </summary>
public class SelectCpuDispatchBadDsqTests
{
    private sealed class Policy : ScxOps
    {
        public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
        {
            await ctx.DsqInsert(p, 0xcafef00d, ScxConst.SliceDfl);
            return prevCpu;
        }
    }

    [Fact]
    public void Should_ExitWithError_AndParkTheTaskOnGlobal_When_SelectCpuInsertsIntoANonExistentDsq()
    {
        var d = Driver(() => new Policy(), 2, [Sleeping("a", 201, 0, 0, 1)], rounds: [2, 2],
            scripts: [new ScriptSpec("waker", 0, [Wake(0)])]);
        var m = d.Machine;

        RunActor(d, "waker");

        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("non-existent DSQ 0xcafef00d for a[201]", m.World.ExitMessage);
        Assert.True(m.World.Sched.Aborting);
        Assert.Equal(["a"], Dsq(m, Machine.GlobalSlot));
        Assert.Equal(OpsState.None, State(m, "a"));

        // The helper disables the scheduler; a ends up in the fair class, not lost.
        d.RunToQuiescence();
        Assert.True(m.World.Sched.Disabled);
        AssertNothingLost(m);
    }
}
