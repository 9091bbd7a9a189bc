using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Paths;

/// <summary>select_task_rq_scx(), enqueue_task_scx()/do_enqueue_task(), direct and deferred direct dispatch.</summary>
public class SelectEnqueuePathTests
{
    private sealed class ReturnCpu(int cpu) : ScxOps
    {
        public override BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags) => cpu;
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl, enqFlags);
    }

    [Fact]
    public void Should_PlaceTheTaskOnTheCpuOpsSelectCpuReturned()
    {
        var d = Driver(() => new ReturnCpu(1), 2, [Sleeping("p", 101, 0, 0, 1)], scripts: [new ScriptSpec("w", 0, [Wake(0)])]);
        RunActor(d, "w");
        var m = d.Machine;
        Assert.Equal(["ops.select_cpu(p[101])", "ops.enqueue(p[101])"], Callbacks(d));
        Assert.Equal(1, Task(m, "p").Cpu);
        Assert.Equal(1, Task(m, "p").SelectedCpu);
        Assert.Equal(["p"], Dsq(m, m.LocalSlot(1)));
        Assert.Equal(0, m.World.Events[(int)ScxEvent.SelectCpuFallback]);
    }

    [Fact]
    public void Should_ExitWithInvalidCpu_AndUsePrev_When_OpsSelectCpuReturnsACpuOutOfRange()
    {
        var d = Driver(() => new ReturnCpu(7), 2, [Sleeping("p", 101, 0, 0, 1)], scripts: [new ScriptSpec("w", 0, [Wake(0)])]);
        RunActor(d, "w");
        var m = d.Machine;
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("invalid CPU 7 from ops.select_cpu()", m.World.ExitMessage);
        Assert.Equal(0, Task(m, "p").Cpu);
    }

    [Fact]
    public void Should_DirectDispatchFromOpsEnqueue_WithoutCustody()
    {
        var d = Driver(() => new P.Direct(DsqId.Local), 1, [Sleeping("p", 101, 0, 0)], scripts: [new ScriptSpec("w", 0, [Wake(0)])]);
        RunActor(d, "w");
        var m = d.Machine;
        Assert.Equal(["p"], Dsq(m, m.LocalSlot(0)));
        Assert.Equal(OpsState.None, State(m, "p"));
        Assert.Equal(TaskFlags.None, Task(m, "p").Flags & TaskFlags.InCustody);
        Assert.Equal(DsqId.Invalid, Task(m, "p").DdspDsqId); // verdict consumed
    }

    [Fact]
    public void Should_GoToTheGlobalDsq_When_ThereIsNoOpsEnqueue()
    {
        var m = new Machine(new ModelConfig { CpuCount = 1, Tasks = [Queued("p", 101, 0, 0)], PolicyFactory = () => new DispatchOnly() });
        Assert.Equal(["p"], Dsq(m, Machine.GlobalSlot));
        Assert.Equal(OpsState.None, State(m, "p"));
    }

    private sealed class DispatchOnly : ScxOps
    {
        public override BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) => BpfTask.CompletedTask;
    }

    [Fact]
    public void Should_KeepTheTaskQueuedInBpfCustody_When_OpsEnqueueDoesNotInsert()
    {
        var m = new Machine(new ModelConfig { CpuCount = 1, Tasks = [Queued("p", 101, 0, 0)], PolicyFactory = () => new P.Queue() });
        ref var p = ref Task(m, "p");
        Assert.Equal(OpsState.Queued, OpsWord.State(p.OpsState));
        Assert.Equal(0L, OpsWord.Qseq(p.OpsState)); // first qseq of CPU0
        Assert.Equal(1, m.World.Cpus[0].OpsQseq);
        Assert.NotEqual(TaskFlags.None, p.Flags & TaskFlags.InCustody);
        Assert.Equal(-1, p.Dsq);
    }

    [Fact]
    public void Should_DeferARemoteLocalOnVerdict_ThenFinishItThroughDispatchToLocalDsq()
    {
        // Enqueue on CPU0 with SCX_DSQ_LOCAL_ON|1: the rq lock is pinned, so p waits on ddsp_deferred_locals[0].
        var d = Driver(() => new P.Direct(DsqId.LocalOn(1)), 2, [Sleeping("p", 101, 0, 0)],
            scripts: [new ScriptSpec("w", 0, [Wake(0)])]);
        var m = d.Machine;
        RunActor(d, "w"); // p may run only on CPU0: no select_task_rq, enqueued on CPU0
        Assert.Equal(["p"], Dsq(m, m.DeferredSlot(0)));
        Assert.True(m.World.Cpus[0].DeferredLocals);
        Assert.Equal(DsqId.LocalOn(1), Task(m, "p").DdspDsqId); // the verdict is kept until processed
        Assert.Equal(OpsState.None, State(m, "p"));

        // process_ddsp_deferred_locals() → dispatch_to_local_dsq(): CPU1 not allowed → error, global.
        RunActor(d, "CPU0");
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("SCX_DSQ_LOCAL[_ON] target CPU 1 not allowed for p[101]", m.World.ExitMessage);
        Assert.Equal(["p"], Dsq(m, Machine.GlobalSlot));
    }

    [Fact]
    public void Should_MoveTheTaskToTheRemoteCpu_When_ADeferredLocalOnVerdictIsAllowed()
    {
        var d = Driver(() => new P.Direct(DsqId.LocalOn(1)), 2, [Sleeping("p", 101, 0, 0)],
            scripts: [new ScriptSpec("w", 0, [Wake(0)])]);
        var m = d.Machine;
        RunActor(d, "w"); // single-CPU mask: no select_task_rq, enqueued on CPU0
        Task(m, "p").CpusPtr = CpuMask.Of(0, 1); // the mask widens before the deferred work runs
        Assert.Equal(["p"], Dsq(m, m.DeferredSlot(0)));

        RunActor(d, "CPU0");
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Equal(["p"], Dsq(m, m.LocalSlot(1)));
        Assert.Equal(1, Task(m, "p").Cpu);
        Assert.Equal(-1, Task(m, "p").HoldingCpu);
        Assert.Equal(-1, Task(m, "p").StickyCpu);
        Assert.True(m.World.Cpus[1].NeedResched); // the idle target is woken
    }

    private sealed class WrongTask : ScxOps
    {
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) =>
            await ctx.DsqInsert(ctx.TaskFromPid(ctx.Pid(p) == 101 ? 102 : 101), DsqId.Global, ScxConst.SliceDfl);
    }

    [Fact]
    public void Should_ExitWithSchedulingForAnotherTask_When_OpsEnqueueInsertsADifferentTask()
    {
        var m = new Machine(new ModelConfig { CpuCount = 1, Tasks = [Queued("a", 101, 0, 0), Sleeping("b", 102, 0, 0)], PolicyFactory = () => new WrongTask() });
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("scheduling for a[101] but trying to direct-dispatch b[102]", m.World.ExitMessage);
    }
}
