using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Paths;

/// <summary>
/// balance_one()'s dispatch loop, scx_bpf_dsq_insert[_vtime], flush_dispatch_buf() and
/// finish_dispatch(), dispatch_to_local_dsq() with the holding_cpu handshake,
/// task_can_run_on_remote_rq(), consume, scx_bpf_dsq_move, scx_bpf_dispatch_cancel and the
/// dispatch buffer limits.
/// </summary>
public class DispatchPathTests
{
    private static ScriptAction Reweight(int task, int w) => new(ActionKind.SetWeight, Task: task, Weight: w);

    /// <summary>ops.dispatch inserts a task that is running elsewhere: the entry always vanishes at finish_dispatch.</summary>
    private sealed class Vanishing : ScxOps
    {
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) =>
            await ctx.DsqInsert(ctx.TaskFromPid(102), DsqId.Global, ScxConst.SliceDfl);
    }

    [Fact]
    public void Should_StopAfterDspMaxLoops_AndKickItself_When_DispatchedTasksKeepVanishing()
    {
        var d = Driver(() => new Vanishing(), 2, [Running("other", 102, 1, 1)], rounds: [1, 0]);
        var m = d.Machine;
        RunActor(d, "CPU0");
        Assert.Equal(ScxConst.DspMaxLoops, Count(d, "ops.dispatch(cpu=0)"));
        Assert.Equal(ScxConst.DspMaxLoops, m.World.Events[(int)ScxEvent.DispatchDroppedState]); // NONE: dropped
        // scx_kick_cpu(sch, cpu, 0) on itself, run as its irq_work before the next round.
        Assert.True(m.World.Cpus[0].CpusToKick.Test(0) || Notes(d).Contains("kick CPU0"));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Equal(-1, m.World.Cpus[0].Curr);
    }

    [Fact]
    public void Should_KeepPrevWithoutCallingOpsDispatch_When_PrevHasSliceLeft()
    {
        var d = Driver(() => new P.Queue(), 1, [Running("p", 101, 0, 0), Queued("q", 102, 0, 0)], rounds: [1]);
        RunActor(d, "CPU0");
        Assert.Equal(0, d.Machine.World.Cpus[0].Curr);
        Assert.Equal(0, Count(d, "ops.dispatch"));
        Assert.Equal(0, Count(d, "ops.enqueue"));
    }

    [Fact]
    public void Should_KeepTheLastTask_When_ItsSliceExpiredAndNothingElseIsRunnable()
    {
        var d = Driver(() => new P.Queue(), 1, [Running("p", 101, 0, 0)], rounds: [1],
            scripts: [new ScriptSpec("tick", 0, [Tick(0)])], tickNs: ScxConst.SliceDfl);
        var m = d.Machine;
        RunActor(d, "tick");
        Assert.Equal(0, Task(m, "p").Slice);
        Assert.True(m.World.Cpus[0].NeedResched);
        RunActor(d, "CPU0");
        Assert.Equal(1, Count(d, "ops.dispatch(p[101])")); // prev is passed to ops.dispatch
        Assert.Equal(1, m.World.Events[(int)ScxEvent.DispatchKeepLast]);
        Assert.Equal(0, m.World.Cpus[0].Curr);
        Assert.Equal(ScxConst.SliceDfl, Task(m, "p").Slice); // refilled at pick
        Assert.Equal(0, Count(d, "ops.enqueue"));
    }

    private sealed class Vtime(bool fifoAfter, bool fifoFirst) : ScxOps
    {
        public override async BpfTask Init(InitContext ctx) => await ctx.CreateDsq(0);
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            var pid = ctx.Pid(p);
            if ((fifoAfter && pid == 103) || (fifoFirst && pid == 101))
                await ctx.DsqInsert(p, 0, 5_000_000, enqFlags);
            else
                await ctx.DsqInsertVtime(p, 0, 5_000_000, 1000 - pid, enqFlags);
        }
    }

    private static Machine VtimeMachine(bool fifoAfter, bool fifoFirst) => new(new ModelConfig
    {
        CpuCount = 1,
        Tasks = [Queued("a", 101, 0, 0), Queued("b", 102, 0, 0), Queued("c", 103, 0, 0)],
        PolicyFactory = () => new Vtime(fifoAfter, fifoFirst),
    });

    [Fact]
    public void Should_OrderAUserDsqByVtime_AndSetSliceAndVtimeAtInsert()
    {
        var m = VtimeMachine(false, false);
        Assert.Equal(["c", "b", "a"], UserDsqTasks(m, 0));
        Assert.Equal(1000 - 101, Task(m, "a").DsqVtime);
        Assert.Equal(5_000_000, Task(m, "a").Slice);
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }

    [Fact]
    public void Should_ExitWithAlreadyHadPriq_When_AFifoInsertFollowsVtimeInserts()
    {
        var m = VtimeMachine(fifoAfter: true, false);
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("DSQ ID 0x0000000000000000 already had PRIQ-enqueued tasks", m.World.ExitMessage);
    }

    [Fact]
    public void Should_ExitWithAlreadyHadFifo_When_AVtimeInsertFollowsAFifoInsert()
    {
        var m = VtimeMachine(false, fifoFirst: true);
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("DSQ ID 0x0000000000000000 already had FIFO-enqueued tasks", m.World.ExitMessage);
    }

    /// <summary>ops.dispatch peeks (does not pop) the head and inserts it into user DSQ 0: two CPUs can pick the same task.</summary>
    private sealed class PeekToUserDsq : P.Queue
    {
        public override async BpfTask Init(InitContext ctx) => await ctx.CreateDsq(0);
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var head = await ctx.Peek(Q);
            if (head.Found) await ctx.DsqInsert(ctx.TaskFromPid(head.Value), 0, ScxConst.SliceDfl);
        }
    }

    [Fact]
    public void Should_DropSilently_When_AnotherCpuHoldsTheTaskInDispatching()
    {
        var d = Driver(() => new PeekToUserDsq(), 2, [Queued("p", 101, 0, 0, 1)], rounds: [1, 1]);
        var m = d.Machine;
        d.StepUntil("CPU0", mm => OpsWord.State(mm.World.Tasks[0].OpsState) == OpsState.Dispatching);
        Assert.True(InPath(d, "CPU0", PathId.FinishDispatch)); // T4 done, its step ended: p is DISPATCHING for everyone else to see

        d.StepUntil("CPU1", mm => mm.World.Events[(int)ScxEvent.DispatchDroppedState] == 1);
        RunActor(d, "CPU0");
        RunActor(d, "CPU1");
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Equal(["p"], UserDsqTasks(m, 0)); // inserted once
        Assert.Equal(OpsState.None, State(m, "p"));
    }

    [Fact]
    public void Should_DropSilently_When_TheQseqChangedBetweenInsertAndFlush()
    {
        // p lives on CPU1; CPU0 dispatches it (the window exists only across rqs: CPU0 holds its own rq lock).
        var d = Driver(() => new P.Queue(), 2, [Queued("p", 101, 1, 0, 1)], rounds: [1, 0],
            scripts: [new ScriptSpec("renice", 1, [Reweight(0, 200)])]);
        var m = d.Machine;
        var q0 = OpsWord.Qseq(Task(m, "p").OpsState);
        d.StepUntil("CPU0", mm => mm.World.Cpus[0].DspCursor == 1);
        Assert.Equal(q0, m.World.DspBuf[0].Qseq);

        RunActor(d, "renice"); // dequeue (SCHED_CHANGE) → weight → enqueue: a new instance
        Assert.Equal(["ops.dispatch(cpu=0)", "ops.dequeue(p[101])", "ops.enqueue(p[101])"], Callbacks(d));
        Assert.NotEqual(q0, OpsWord.Qseq(Task(m, "p").OpsState));

        RunActor(d, "CPU0");
        Assert.Equal(1, m.World.Events[(int)ScxEvent.DispatchDroppedQseq]);
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        // The loop retried (nr_tasks > 0): ops.dispatch popped the new instance and it ran on CPU0.
        Assert.Equal(2, Count(d, "ops.dispatch"));
        Assert.Equal(0, m.World.Cpus[0].Curr);
    }

    [Fact]
    public void Should_LoseTheDispatchSilently_When_ADequeueResetsHoldingCpuFirst()
    {
        // CPU0 dispatches p (on CPU1) to its own local DSQ; after NONE is published with holding_cpu = 0,
        // a property change on CPU1 dequeues p and resets holding_cpu, so CPU0's transfer is dropped.
        var d = Driver(() => new P.Queue(cpu => DsqId.LocalOn(cpu)), 2, [Queued("p", 101, 1, 0, 1)], rounds: [1, 0],
            scripts: [new ScriptSpec("renice", 1, [Reweight(0, 300)])]);
        var m = d.Machine;
        d.StepUntil("CPU0", mm => mm.World.Tasks[0].HoldingCpu == 0);
        Assert.Equal(OpsState.None, State(m, "p"));
        Assert.True(InPath(d, "CPU0", PathId.DispatchToLocalDsq));

        RunActor(d, "renice");
        Assert.Equal(-1, Task(m, "p").HoldingCpu);
        Assert.Contains("ops.dequeue(p[101])", Callbacks(d)); // custody was still set: SCHED_CHANGE delivered

        RunActor(d, "CPU0");
        Assert.Contains("dispatch_to_local_dsq: lost p[101] to a dequeue", Notes(d));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        // The property change re-enqueued p (a new instance); the dispatch loop retried and got it properly.
        Assert.Equal(2, Count(d, "ops.dispatch"));
        Assert.Equal(0, m.World.Cpus[0].Curr);
        Assert.Equal(0, Task(m, "p").Cpu);
        AssertNoFindings(d);
    }

    private sealed class EnqMigDisabledQueue() : P.Queue(cpu => DsqId.LocalOn(cpu))
    {
        public override OpsFlags Flags => OpsFlags.EnqMigrationDisabled;
    }

    [Fact]
    public void Should_ExitWithCannotMoveMigrationDisabled_AndUseGlobal()
    {
        var d = Driver(() => new EnqMigDisabledQueue(), 2,
            [new TaskSpec("p", 101, CpuMask.Of(0, 1), 1, InitialTaskState.Queued, MigrationDisabled: true)], rounds: [1, 0]);
        var m = d.Machine;
        RunActor(d, "CPU0");
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("SCX_DSQ_LOCAL[_ON] cannot move migration disabled p[101] from CPU 1 to 0", m.World.ExitMessage);
        Assert.Equal(1, Task(m, "p").Cpu);
        Assert.True(Task(m, "p").Dsq == Machine.GlobalSlot || Task(m, "p").Class == SchedClass.Fair);
    }

    [Fact]
    public void Should_ExitWithTargetNotAllowed_AndUseGlobal()
    {
        var d = Driver(() => new P.Queue(cpu => DsqId.LocalOn(cpu)), 2, [Queued("p", 101, 1, 1)], rounds: [1, 0]);
        var m = d.Machine;
        RunActor(d, "CPU0");
        Assert.Equal("SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for p[101]", m.World.ExitMessage);
        Assert.Equal(Machine.GlobalSlot, Task(m, "p").Dsq);
    }

    [Fact]
    public void Should_ConsumeALocalTask()
    {
        var d = Driver(() => new P.UserDsq(), 1, [Queued("p", 101, 0, 0)], rounds: [1]);
        Assert.Equal(["p"], UserDsqTasks(d.Machine, 0));
        RunActor(d, "CPU0");
        Assert.Equal(0, d.Machine.World.Cpus[0].Curr);
        Assert.Empty(UserDsqTasks(d.Machine, 0));
    }

    [Fact]
    public void Should_ConsumeARemoteTask_AndSkipTasksThatCannotRunHere()
    {
        // DSQ 0 = [pinned (CPU1 only), free]: CPU0 skips pinned and pulls free across from CPU1.
        var d = Driver(() => new P.UserDsq(), 2, [Queued("pinned", 101, 1, 1), Queued("free", 102, 1, 0, 1)], rounds: [1, 0]);
        var m = d.Machine;
        Assert.Equal(["pinned", "free"], UserDsqTasks(m, 0));
        RunActor(d, "CPU0");
        Assert.Equal(1, m.World.Cpus[0].Curr);
        Assert.Equal(0, Task(m, "free").Cpu);
        Assert.Equal(-1, Task(m, "free").HoldingCpu);
        Assert.Equal(["pinned"], UserDsqTasks(m, 0));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        AssertNoFindings(d);
    }

    private sealed class IterMoveSecond : P.UserDsq
    {
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var it = DispatchContext.DsqIterBegin(0);
            it = await ctx.DsqIterNext(it);
            if (it.Done) return;
            it = await ctx.DsqIterNext(it);
            if (it.Done) return;
            await ctx.DsqMove(it, it.Task, DsqId.Local);
        }
    }

    [Fact]
    public void Should_MoveTheIteratedTaskToTheLocalDsq()
    {
        var d = Driver(() => new IterMoveSecond(), 1, [Queued("a", 101, 0, 0), Queued("b", 102, 0, 0), Queued("c", 103, 0, 0)], rounds: [1]);
        var m = d.Machine;
        RunActor(d, "CPU0");
        Assert.Equal(1, m.World.Cpus[0].Curr);
        Assert.Equal(["a", "c"], UserDsqTasks(m, 0));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }

    private sealed class InsertThenCancel : P.Queue
    {
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var head = await ctx.Peek(Q);
            if (!head.Found) return;
            await ctx.DsqInsert(ctx.TaskFromPid(head.Value), DsqId.Local, ScxConst.SliceDfl);
            await ctx.DispatchCancel();
        }
    }

    [Fact]
    public void Should_DropTheLastBufferedInsert_When_DispatchIsCancelled()
    {
        var d = Driver(() => new InsertThenCancel(), 1, [Queued("p", 101, 0, 0)], rounds: [1]);
        var m = d.Machine;
        RunActor(d, "CPU0");
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Equal(-1, m.World.Cpus[0].Curr);
        Assert.Equal(OpsState.Queued, State(m, "p")); // still BPF's
        Assert.Equal(0, m.World.Cpus[0].DspCursor);
    }

    private sealed class CancelEmpty : ScxOps
    {
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) => await ctx.DispatchCancel();
    }

    [Fact]
    public void Should_ExitWithDispatchBufferUnderflow_When_CancellingAnEmptyBuffer()
    {
        var d = Driver(() => new CancelEmpty(), 1, [], rounds: [1]);
        RunActor(d, "CPU0");
        Assert.Equal(ExitKind.Error, d.Machine.World.Sched.ExitKind);
        Assert.Equal("dispatch buffer underflow", d.Machine.World.ExitMessage);
    }

    private sealed class TwoInserts : P.Queue
    {
        public override int DispatchMaxBatch => 1;
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var a = await ctx.Pop(Q);
            var b = await ctx.Pop(Q);
            await ctx.DsqInsert(ctx.TaskFromPid(a.Value), DsqId.Local, ScxConst.SliceDfl);
            await ctx.DsqInsert(ctx.TaskFromPid(b.Value), DsqId.Local, ScxConst.SliceDfl);
        }
    }

    [Fact]
    public void Should_ExitWithDispatchBufferOverflow_When_InsertingBeyondDispatchMaxBatch()
    {
        var d = Driver(() => new TwoInserts(), 1, [Queued("a", 101, 0, 0), Queued("b", 102, 0, 0)], rounds: [1]);
        RunActor(d, "CPU0");
        Assert.Equal(ExitKind.Error, d.Machine.World.Sched.ExitKind);
        Assert.Equal("dispatch buffer overflow", d.Machine.World.ExitMessage);
    }
}
