using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>select_cpu_vtime</c>: ops.select_cpu inserts every task with
/// scx_bpf_dsq_insert_vtime() into user DSQ 0 (created in ops.init); ops.dispatch consumes DSQ 0
/// and sets <c>consumed</c>. The DSQ keeps vtime order whatever the insertion order.
/// </summary>
public class SelectCpuVtimeTests
{
    private sealed class Policy : ScxOps
    {
        public MapHandle Bss; // [0] consumed
        public override void DeclareMaps(MapBuilder maps) => Bss = maps.Array("bss", 1);

        public override async BpfTask Init(InitContext ctx)
        {
            if (!await ctx.CreateDsq(0)) await ctx.Error("failed to create DSQ 0");
        }

        public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
        {
            var cpu = await ctx.PickIdleCpu(p);
            if (cpu < 0)
            {
                cpu = prevCpu;
                await ctx.TestAndClearCpuIdle(prevCpu);
            }
            // task_vtime(p): here a per-task value that makes the wake order differ from vtime order.
            var vtime = 1_000_000 - ctx.Pid(p) * 1000;
            await ctx.DsqInsertVtime(p, 0, ScxConst.SliceDfl, vtime);
            return cpu;
        }

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            if (await ctx.DsqMoveToLocal(0)) await ctx.Set(Bss, 0, 1);
        }
    }

    [Fact]
    public void Should_KeepVtimeOrderInTheUserDsq_AndConsumeInThatOrder()
    {
        var d = Driver(() => new Policy(), 2,
            [Sleeping("a", 401, 0, 0, 1), Sleeping("b", 402, 0, 0, 1), Sleeping("c", 403, 0, 0, 1)],
            rounds: [1, 0], scripts: [new ScriptSpec("waker", 1, [Wake(0), Wake(1), Wake(2)])]);
        var m = d.Machine;
        var policy = (Policy)m.Ops;
        Assert.Equal(0, Get(m, policy.Bss, 0)); // consumed is false before anything ran

        RunActor(d, "waker");
        // Woken a, b, c; vtimes descend with pid, so the DSQ is c, b, a.
        Assert.Equal(["c", "b", "a"], UserDsqTasks(m, 0));
        Assert.All(new[] { "a", "b", "c" }, n => Assert.True(Task(m, n).OnPriq));

        RunActor(d, "CPU0");
        Assert.Equal(1, Get(m, policy.Bss, 0));
        Assert.Equal(2, m.World.Cpus[0].Curr); // c: the lowest vtime
        Assert.Equal(["b", "a"], UserDsqTasks(m, 0));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }
}
