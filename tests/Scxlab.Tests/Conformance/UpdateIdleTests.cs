using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Driving;
using Scxlab.Stepping;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// ops.update_idle (ext_idle.c's __scx_update_idle()): called with the CPU's rq locked when it switches away from the
/// idle task (idle = false: put_prev_task_idle(), before set_next_task_scx() runs ops.running) and to it (idle = true:
/// set_next_task_idle()), never for pick_task_idle()'s idle-to-idle refresh, and after the built-in idle mask was
/// updated. Implementing it turns built-in idle tracking off unless SCX_OPS_KEEP_BUILTIN_IDLE is set; the idle kfuncs
/// then end the scheduler with "built-in idle tracking is disabled" (the maximal selftest sets update_idle).
/// </summary>
public class UpdateIdleTests
{
    private sealed class Policy(bool keepBuiltinIdle, bool useIdleKfunc) : ScxOps
    {
        public MapHandle Bss; // [0] update_idle(false) calls, [1] update_idle(true) calls, [2] idle bit seen in update_idle(true)
        public override OpsFlags Flags => keepBuiltinIdle ? OpsFlags.KeepBuiltinIdle : OpsFlags.None;
        public override void DeclareMaps(MapBuilder maps) => Bss = maps.Array("bss", 3);

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            if (useIdleKfunc) await ctx.TestAndClearCpuIdle(1);
            await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl, enqFlags);
        }

        public override BpfTask Running(TaskContext ctx, TaskRef p) => BpfTask.CompletedTask;

        public override async BpfTask UpdateIdle(TaskContext ctx, int cpu, bool idle)
        {
            await ctx.FetchAdd(Bss, idle ? 1 : 0, 1);
            // The built-in update comes first: entering idle, the CPU is already in the mask.
            if (idle && keepBuiltinIdle && await ctx.TestCpuIdle(cpu)) await ctx.FetchAdd(Bss, 2, 1);
        }
    }

    private static ScheduleDriver Run(Policy policy)
    {
        // q runs on CPU0; it sleeps (CPU0: q → idle), is woken (ops.enqueue), and CPU0 picks it again (idle → q).
        var d = Driver(() => policy, 2, [Running("q", 1501, 0, 0)], rounds: [2, 0],
            scripts: [new ScriptSpec("s", 1, [Sleep(0), Wake(0)])]);
        d.Finish("s");
        d.Finish("CPU0");
        d.Finish("s");
        d.Finish("CPU0");
        return d;
    }

    [Fact]
    public void Should_CallUpdateIdleAroundEachIdleTransition_When_ACpuRunsATaskAndGoesIdle()
    {
        var d = Run(new Policy(keepBuiltinIdle: true, useIdleKfunc: false));
        var m = d.Machine;
        var bss = ((Policy)m.Ops).Bss;
        var cbs = Callbacks(d);
        // Leaving idle: ops.update_idle before ops.running of the task picked.
        var exit = cbs.LastIndexOf("ops.update_idle(cpu=0)"); // the first is q → idle, the last idle → q
        Assert.True(exit >= 0 && exit + 1 < cbs.Count, string.Join(", ", cbs));
        Assert.StartsWith("ops.running(q[1501])", cbs[exit + 1], StringComparison.Ordinal);
        Assert.False(m.World.Cpus[0].Idle); // q runs: the built-in mask follows the last transition
        Assert.Equal(1, Get(m, bss, 0));
        Assert.Equal(1, Get(m, bss, 1));
        Assert.Equal(1, Get(m, bss, 2)); // update_idle(true) saw its CPU in the mask already
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }

    [Fact]
    public void Should_FreezeTheBuiltinIdleMask_When_UpdateIdleIsImplementedWithoutKeepBuiltinIdle()
    {
        var d = Driver(() => new Policy(keepBuiltinIdle: false, useIdleKfunc: false), 2, [Running("q", 1501, 0, 0)], rounds: [2, 0],
            scripts: [new ScriptSpec("s", 1, [Sleep(0), Wake(0)])]);
        var m = d.Machine;
        d.Finish("s");
        d.Finish("CPU0"); // q → idle: ops.update_idle(0, true), but nothing maintains the built-in mask any more
        Assert.True(m.World.Cpus[0].Curr < 0);
        Assert.False(m.World.Cpus[0].Idle); // as it was when q ran at load
        Assert.Equal(1, Get(m, ((Policy)m.Ops).Bss, 1));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }

    /// <summary>validate_ops(): per-node idle tracking needs built-in idle tracking, which update_idle turns off.</summary>
    private sealed class PerNode(bool keep) : ScxOps
    {
        public override OpsFlags Flags => OpsFlags.BuiltinIdlePerNode | (keep ? OpsFlags.KeepBuiltinIdle : OpsFlags.None);
        public override BpfTask UpdateIdle(TaskContext ctx, int cpu, bool idle) => BpfTask.CompletedTask;
    }

    [Theory]
    [InlineData(false, ExitKind.Error)]
    [InlineData(true, ExitKind.None)]
    public void Should_RefusePerNodeIdle_When_UpdateIdleTurnsBuiltinIdleOff(bool keepBuiltinIdle, ExitKind expected)
    {
        var d = Driver(() => new PerNode(keepBuiltinIdle), 2, [Queued("q", 1501, 0, 0)]);
        Assert.Equal(expected, d.Machine.World.Sched.ExitKind);
        if (expected != ExitKind.None) Assert.Equal("SCX_OPS_BUILTIN_IDLE_PER_NODE requires CPU idle selection enabled", d.Machine.World.ExitMessage);
    }

    [Theory]
    [InlineData(false, ExitKind.Error)]
    [InlineData(true, ExitKind.None)]
    public void Should_RefuseTheIdleKfuncs_When_BuiltinIdleTrackingIsOff(bool keepBuiltinIdle, ExitKind expected)
    {
        var d = Run(new Policy(keepBuiltinIdle, useIdleKfunc: true));
        var m = d.Machine;
        Assert.Equal(expected, m.World.Sched.ExitKind);
        if (expected != ExitKind.None) Assert.Equal("built-in idle tracking is disabled", m.World.ExitMessage);
    }
}
