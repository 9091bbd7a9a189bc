using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>select_cpu_dispatch</c>: ops.select_cpu takes prev if
/// scx_bpf_test_and_clear_cpu_idle(prev), else scx_bpf_pick_idle_cpu(); with a CPU it inserts
/// into SCX_DSQ_LOCAL, without one into SCX_DSQ_GLOBAL and keeps prev. No ops.enqueue.
/// </summary>
public class SelectCpuDispatchTests
{
    internal sealed class Policy : ScxOps
    {
        public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
        {
            var dsq = DsqId.Local;
            var cpu = prevCpu;
            if (!await ctx.TestAndClearCpuIdle(prevCpu))
            {
                cpu = await ctx.PickIdleCpu(p);
                if (cpu < 0)
                {
                    cpu = prevCpu;
                    dsq = DsqId.Global;
                }
            }
            await ctx.DsqInsert(p, dsq, ScxConst.SliceDfl);
            return cpu;
        }
    }

    [Fact]
    public void Should_DispatchFromSelectCpu_LocalWhileIdleCpusLast_ThenGlobal()
    {
        var d = Driver(() => new Policy(), 2, [Sleeping("a", 201, 1, 0, 1), Sleeping("b", 202, 1, 0, 1), Sleeping("c", 203, 1, 0, 1)],
            rounds: [2, 2], scripts: [new ScriptSpec("waker", 0, [Wake(0), Wake(1), Wake(2)])]);
        var m = d.Machine;

        RunActor(d, "waker");

        Assert.Equal(0, Count(d, "ops.enqueue"));
        Assert.Equal(["a"], Dsq(m, m.LocalSlot(1))); // prev (CPU1) was idle
        Assert.Equal(["b"], Dsq(m, m.LocalSlot(0))); // picked idle CPU0
        Assert.Equal(["c"], Dsq(m, Machine.GlobalSlot));
        Assert.All(new[] { "a", "b", "c" }, n => Assert.Equal(OpsState.None, State(m, n)));

        d.RunToQuiescence();
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Equal(1, m.World.Cpus[0].Curr);
        Assert.Equal(0, m.World.Cpus[1].Curr);
    }
}
