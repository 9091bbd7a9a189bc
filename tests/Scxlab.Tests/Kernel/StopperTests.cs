using Scxlab.Bpf;
using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Stepping;

namespace Scxlab.Tests.Kernel;

/// <summary>migration_cpu_stop: a running task whose CPU leaves its mask is preempted by the stop class and moved.</summary>
public class StopperTests
{
    /// <summary>Records ops.cpu_release calls and re-enqueues the local DSQ from there (scx_qmap's pattern).</summary>
    private sealed class ReleaseCounting : ScxOps
    {
        private MapHandle _q;
        private MapHandle _released;

        public override void DeclareMaps(MapBuilder maps)
        {
            _q = maps.Queue("q", 8);
            _released = maps.Array("released", 2);
        }

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags f) => await ctx.Push(_q, ctx.Pid(p));

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var v = await ctx.Pop(_q);
            if (v.Found) await ctx.DsqInsert(ctx.TaskFromPid(v.Value), DsqId.Global, ScxConst.SliceDfl);
        }

        public override async BpfTask CpuRelease(CpuReleaseContext ctx, int cpu)
        {
            await ctx.FetchAdd(_released, 0, 1);
            await ctx.Set(_released, 1, await ctx.ReenqueueLocal());
        }
    }

    [Fact]
    public void Should_PreemptAndMoveTheTask_When_ARunningTasksCpuLeavesItsMask()
    {
        // Given p running on CPU0 (allowed {0,1}) and a taskset narrowing it to {1}
        var m = new Machine(new ModelConfig
        {
            CpuCount = 2,
            Tasks = [new TaskSpec("p", 101, CpuMask.Of(0, 1), 0, InitialTaskState.Running)],
            PolicyFactory = () => new ReleaseCounting(),
            Rounds = [0, 1],
            Scripts = [new ScriptSpec("taskset", 1, [new ScriptAction(ActionKind.SetAffinity, Task: 0, Mask: CpuMask.Of(1))])],
        });
        var d = new ScheduleDriver(m);

        // When the affinity change queues CPU0's stopper, the stopper runs (sched_setaffinity returns only
        // then: affine_move_task waits for it), then CPU1 schedules
        d.StepUntil("taskset", x => x.World.Cpus[0].StopperPending);
        d.Finish("CPU0");
        d.Finish("taskset");
        d.Finish("CPU1");

        // Then ops.cpu_release saw CPU0 taken by the stop class, p moved to CPU1 through ops.enqueue and runs there
        var maps = new MapView(m.World.Maps);
        var released = m.MapLayout.Maps.First(x => x.Name == "released").Handle;
        Assert.Equal(1, maps.Get(released, 0));
        Assert.Equal(-1, m.World.Cpus[0].Curr);
        Assert.Equal(0, m.World.Cpus[1].Curr);
        Assert.Equal(1, m.World.Tasks[0].Cpu);
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Empty(d.Findings);
    }

    [Fact]
    public void Should_SkipTheMigratingTask_When_CpuReleaseReenqueuesTheLocalDsq()
    {
        // Given p running on CPU0 with slice left and a taskset narrowing it to {1}: the stop class takes
        // CPU0, put_prev_task_scx() leaves p at the head of CPU0's local DSQ, and ops.cpu_release calls
        // scx_bpf_reenqueue_local() while p->migration_pending is set
        var m = new Machine(new ModelConfig
        {
            CpuCount = 2,
            Tasks = [new TaskSpec("p", 101, CpuMask.Of(0, 1), 0, InitialTaskState.Running)],
            PolicyFactory = () => new ReleaseCounting(),
            Rounds = [0, 1],
            Scripts = [new ScriptSpec("taskset", 1, [new ScriptAction(ActionKind.SetAffinity, Task: 0, Mask: CpuMask.Of(1))])],
        });
        var d = new ScheduleDriver(m);

        // When the stopper runs and CPU1 schedules
        d.StepUntil("taskset", x => x.World.Cpus[0].StopperPending);
        d.Finish("CPU0");
        d.Finish("taskset");
        d.Finish("CPU1");

        // Then reenq_local() skipped p ("if (p->migration_pending) continue;"): the kfunc re-enqueued nothing,
        // and migration_cpu_stop() moved p to CPU1
        var maps = new MapView(m.World.Maps);
        var released = m.MapLayout.Maps.First(x => x.Name == "released").Handle;
        Assert.Equal(1, maps.Get(released, 0));
        Assert.Equal(0, maps.Get(released, 1));
        Assert.Equal(0, m.World.Cpus[1].Curr);
        Assert.Equal(1, m.World.Tasks[0].Cpu);
        Assert.Empty(d.Findings);
    }
}
