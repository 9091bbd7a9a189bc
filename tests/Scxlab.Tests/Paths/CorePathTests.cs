using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Paths;

/// <summary>
/// set_cpus_allowed_scx() and the core migration, pick/put_prev/set_next, slice expiry, kicks,
/// re-enqueue, the watchdog, scx_error/exit claiming, disabling and bypass.
/// </summary>
public class CorePathTests
{
    private sealed class Recording : P.Queue
    {
        public override BpfTask SetCpumask(TaskContext ctx, TaskRef p) => BpfTask.CompletedTask;
        public override BpfTask Running(TaskContext ctx, TaskRef p) => BpfTask.CompletedTask;
        public override BpfTask Stopping(TaskContext ctx, TaskRef p, bool runnable) => BpfTask.CompletedTask;
    }

    [Fact]
    public void Should_DequeueThenSetMaskThenCallSetCpumaskThenEnqueue_When_AffinityChanges()
    {
        var d = Driver(() => new Recording(), 2, [Queued("p", 101, 1, 0, 1)], scripts: [new ScriptSpec("taskset", 1, [Affinity(0, 1)])]);
        var m = d.Machine;
        var q0 = OpsWord.Qseq(Task(m, "p").OpsState);
        RunActor(d, "taskset");
        var notes = Notes(d);
        var deq = notes.IndexOf("ops.dequeue(p[101])");
        var set = notes.IndexOf("set_cpus_allowed_scx(p[101], {1})");
        var cb = notes.IndexOf("ops.set_cpumask(p[101])");
        var enq = notes.IndexOf("ops.enqueue(p[101])");
        Assert.True(deq >= 0 && deq < set && set < cb && cb < enq, string.Join(" | ", notes));
        Assert.Equal(CpuMask.Of(1), Task(m, "p").CpusPtr);
        Assert.Equal(OpsState.Queued, State(m, "p"));
        Assert.NotEqual(q0, OpsWord.Qseq(Task(m, "p").OpsState));
    }

    [Fact]
    public void Should_MigrateAQueuedTask_When_ItsCpuLeavesItsMask()
    {
        // p waits on CPU0's local DSQ; its mask becomes {1}: move_queued_task() re-enqueues it on CPU1.
        var d = Driver(() => new P.Direct(DsqId.Local), 2, [Queued("p", 101, 0, 0, 1)], scripts: [new ScriptSpec("taskset", 0, [Affinity(0, 1)])]);
        var m = d.Machine;
        Assert.Equal(["p"], Dsq(m, m.LocalSlot(0)));
        RunActor(d, "taskset");
        Assert.Equal(1, Task(m, "p").Cpu);
        Assert.Equal(["p"], Dsq(m, m.LocalSlot(1)));
        Assert.Empty(Dsq(m, m.LocalSlot(0)));
        Assert.False(Task(m, "p").Migrating);
        Assert.True(m.World.Cpus[1].NeedResched);
    }

    [Fact]
    public void Should_MigrateARunningTaskAfterItIsSwitchedOut_When_ItsCpuLeavesItsMask()
    {
        var d = Driver(() => new P.Direct(DsqId.Local), 2, [Running("p", 101, 0, 0, 1)], rounds: [1, 0],
            scripts: [new ScriptSpec("taskset", 0, [Affinity(0, 1)])]);
        var m = d.Machine;
        RunActor(d, "taskset");
        Assert.Equal(0, m.World.Cpus[0].Curr); // still running: the stopper waits for the switch
        Assert.True(m.World.Cpus[0].NeedResched);
        RunActor(d, "CPU0");
        Assert.Equal(-1, m.World.Cpus[0].Curr);
        Assert.Equal(1, Task(m, "p").Cpu);
        Assert.Equal(["p"], Dsq(m, m.LocalSlot(1)));
    }

    [Fact]
    public void Should_CallStoppingThenRunning_When_SwitchingBetweenTasks()
    {
        // a runs with its slice used up by ticks; b waits in BPF. put_prev(a) → stopping(a, true) →
        // enqueue(a); set_next(b) → running(b).
        var d = Driver(() => new Recording(), 1, [Running("a", 101, 0, 0), Queued("b", 102, 0, 0)], rounds: [1],
            scripts: [new ScriptSpec("tick", 0, [Tick(0), Tick(0), Tick(0), Tick(0), Tick(0)])]);
        var m = d.Machine;
        RunActor(d, "tick");
        Assert.Equal(0, Task(m, "a").Slice); // 5 × 4 ms = SCX_SLICE_DFL
        Assert.True(m.World.Cpus[0].NeedResched);
        RunActor(d, "CPU0");
        // finish_dispatch → local insert ends b's custody (ops.dequeue(b, 0)) before the switch.
        Assert.Equal(["ops.dispatch(a[101])", "ops.dequeue(b[102])", "ops.stopping(a[101])", "ops.enqueue(a[101])", "ops.running(b[102])"], Callbacks(d));
        Assert.Equal(1, m.World.Cpus[0].Curr);
        Assert.Equal(OpsState.None, State(m, "b"));
        Assert.Equal(-1, Task(m, "b").Dsq); // set_next_task_scx took it off the local DSQ
        Assert.Equal(OpsState.Queued, State(m, "a"));
    }

    [Fact]
    public void Should_ChargeTheSliceOnEachTick_AndReschedAtZero()
    {
        var d = Driver(() => new Recording(), 1, [Running("a", 101, 0, 0)],
            scripts: [new ScriptSpec("tick", 0, [Tick(0), Tick(0)])], tickNs: 15_000_000);
        var m = d.Machine;
        d.Finish("tick");
        Assert.Equal(ScxConst.SliceDfl - 15_000_000, Task(m, "a").Slice);
        Assert.False(m.World.Cpus[0].NeedResched);
        d.Finish("tick");
        Assert.Equal(0, Task(m, "a").Slice);
        Assert.True(m.World.Cpus[0].NeedResched);
    }

    [Fact]
    public void Should_KickOnlyIdleCpus_WithKickIdle()
    {
        var d = Driver(() => new Recording(), 3, [Running("a", 101, 1, 1)],
            scripts: [new ScriptSpec("k", 0, [Kick(1, KickFlags.Idle), Kick(2, KickFlags.Idle)])]);
        var m = d.Machine;
        RunActor(d, "k");
        Assert.True(m.World.Cpus[0].KickIrqWork); // queued on the kicking CPU
        Assert.True(m.World.Cpus[0].CpusToKickIfIdle.Test(1));
        RunActor(d, "CPU0"); // kick_cpus_irq_workfn
        Assert.False(m.World.Cpus[1].NeedResched); // busy: skipped
        Assert.True(m.World.Cpus[2].NeedResched);  // idle: woken
        Assert.True(m.World.Cpus[0].CpusToKickIfIdle.IsEmpty);
    }

    [Fact]
    public void Should_ZeroTheTargetsSlice_WithKickPreempt()
    {
        var d = Driver(() => new Recording(), 2, [Running("a", 101, 1, 1)], scripts: [new ScriptSpec("k", 0, [Kick(1, KickFlags.Preempt)])]);
        var m = d.Machine;
        RunActor(d, "k");
        RunActor(d, "CPU0");
        Assert.Equal(0, Task(m, "a").Slice);
        Assert.True(m.World.Cpus[1].NeedResched);
        Assert.True(m.World.Cpus[0].CpusToPreempt.IsEmpty);
    }

    [Fact]
    public void Should_WaitForTheTargetToReschedule_WithKickWait()
    {
        var d = Driver(() => new Recording(), 2, [Running("a", 101, 1, 1)], rounds: [1, 1],
            scripts: [new ScriptSpec("k", 0, [Kick(1, KickFlags.Wait)])]);
        var m = d.Machine;
        RunActor(d, "k");
        d.Finish("CPU0"); // irq work: records CPU1's kick_sync, asks CPU0 to reschedule and wait
        Assert.True(m.World.Cpus[0].CpusToSync.Test(1));
        Assert.True(m.World.Cpus[0].KickSyncPending);
        var seen = m.World.KickSyncs[0 * 2 + 1];
        Assert.Equal(m.World.Cpus[1].KickSync, seen);

        d.StepUntil("CPU0", mm => mm.World.Cpus[0].KickWaiting); // schedules, then spins in kick_sync_wait_bal_cb
        Assert.True(m.World.Actors[0].Depth > 0);
        Assert.False(m.IsEnabled(0));
        Assert.True(m.World.Cpus[0].KickWaiting);

        RunActor(d, "CPU1"); // CPU1 passes through its scheduling path: kick_sync moves
        Assert.True(m.IsEnabled(0));
        RunActor(d, "CPU0");
        Assert.Equal(0, m.World.Actors[0].Depth);
        Assert.False(m.World.Cpus[0].KickWaiting);
        Assert.True(m.World.Cpus[0].CpusToSync.IsEmpty);
    }

    [Fact]
    public void Should_ExitWithKickIdleMisuse_When_IdleIsCombinedWithPreempt()
    {
        var d = Driver(() => new Recording(), 2, [], scripts: [new ScriptSpec("k", 0, [Kick(1, KickFlags.Idle | KickFlags.Preempt)])]);
        RunActor(d, "k");
        Assert.Equal("PREEMPT/WAIT cannot be used with SCX_KICK_IDLE", d.Machine.World.ExitMessage);
    }

    private sealed class KickFromBpf : ScxOps
    {
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            await ctx.KickCpu(0, KickFlags.Idle | KickFlags.Wait);
            await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);
        }
    }

    [Fact]
    public void Should_ExitWithKickIdleMisuse_When_BpfCombinesIdleWithWait()
    {
        var m = new Machine(new ModelConfig { CpuCount = 1, Tasks = [Queued("p", 101, 0, 0)], PolicyFactory = () => new KickFromBpf() });
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("PREEMPT/WAIT cannot be used with SCX_KICK_IDLE", m.World.ExitMessage);
    }

    private sealed class ReenqOnTick : ScxOps
    {
        public MapHandle LastFlags;
        public override void DeclareMaps(MapBuilder maps) => LastFlags = maps.TaskStorage("last_enq_flags", 1);
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            await ctx.TaskSet(LastFlags, p, 0, (long)enqFlags);
            await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl, enqFlags);
        }
        public override async BpfTask Tick(TaskContext ctx, TaskRef p) => await ctx.DsqReenq(DsqId.Local);
    }

    [Fact]
    public void Should_ReenqueueTheLocalDsqWithScxEnqReenq()
    {
        // The model never calls ops.cpu_release, so reenqueue_local is reached through scx_bpf_dsq_reenq(SCX_DSQ_LOCAL).
        var d = Driver(() => new ReenqOnTick(), 1, [Running("cur", 101, 0, 0), Queued("b", 102, 0, 0)],
            scripts: [new ScriptSpec("tick", 0, [Tick(0)])]);
        var m = d.Machine;
        var flags = ((ReenqOnTick)m.Ops).LastFlags;
        Assert.Equal(0, TaskGet(m, flags, 1, 0) & (long)EnqFlags.Reenq);
        RunActor(d, "tick");
        RunActor(d, "CPU0");
        Assert.Equal((long)EnqFlags.Reenq, TaskGet(m, flags, 1, 0) & (long)EnqFlags.Reenq);
        Assert.Equal(["b"], Dsq(m, m.LocalSlot(0)));
        Assert.Equal(1, m.World.Events[(int)ScxEvent.ReenqKfunc]);
    }

    private sealed class ReenqGlobal : ScxOps
    {
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            await ctx.DsqReenq(DsqId.Global);
            await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);
        }
    }

    [Fact]
    public void Should_RefuseToReenqueueTheGlobalDsq()
    {
        var m = new Machine(new ModelConfig { CpuCount = 1, Tasks = [Queued("p", 101, 0, 0)], PolicyFactory = () => new ReenqGlobal() });
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal($"DSQ 0x{DsqId.Global:x} not allowed for reenq", m.World.ExitMessage);
    }

    private sealed class Timeout1s : P.Queue
    {
        public override int TimeoutMs => 1000;
    }

    [Fact]
    public void Should_ExitWithStall_When_ARunnableTaskWaitsLongerThanTheTimeout()
    {
        var d = Driver(() => new Timeout1s(), 1, [Running("cur", 101, 0, 0), Queued("starved", 102, 0, 0)], rounds: [1]);
        var m = d.Machine;
        // Runnable since the attach clock (a kernel's clocks count from boot: ModelConfig.AttachClockNs).
        Assert.Equal(ModelConfig.AttachClockNs, Task(m, "starved").RunnableAt);
        m.World.Sched.Clock = ModelConfig.AttachClockNs + 1_000_000_000; // exactly the timeout: not after it yet
        Assert.False(m.CheckWatchdog());
        m.World.Sched.Clock = ModelConfig.AttachClockNs + 1_234_000_000;
        Assert.True(m.CheckWatchdog());
        Assert.Equal(ExitKind.ErrorStall, m.World.Sched.ExitKind);
        Assert.Equal("starved[102] failed to run for 1.234s", m.World.ExitMessage);
        Assert.Equal("runnable task stall", ExitKinds.Reason(m.World.Sched.ExitKind));
        Assert.False(m.CheckWatchdog()); // already exiting
        d.RunToQuiescence();
        AssertNothingLost(m);
    }

    [Fact]
    public void Should_NotCountTheRunningTask()
    {
        var d = Driver(() => new Timeout1s(), 1, [Running("cur", 101, 0, 0)], rounds: [1]);
        var m = d.Machine;
        m.World.Sched.Clock = 5_000_000_000;
        Assert.False(m.CheckWatchdog()); // running tasks are off the runnable list
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }

    private sealed class TwoErrors : ScxOps
    {
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            await ctx.Error("first");
            await ctx.Error("second");
            await ctx.Exit(7, "third");
            await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags); // the program keeps running
        }
    }

    [Fact]
    public void Should_KeepOnlyTheFirstExit_AndSetAborting()
    {
        var d = Driver(() => new TwoErrors(), 2, [Queued("a", 101, 0, 0, 1), Running("b", 102, 1, 1), Sleeping("c", 103, 0, 0)], rounds: [2, 2]);
        var m = d.Machine;
        Assert.Equal(ExitKind.ErrorBpf, m.World.Sched.ExitKind);
        Assert.Equal("first", m.World.ExitMessage);
        Assert.Equal(0, m.World.Sched.ExitCode);
        Assert.True(m.World.Sched.Aborting);
        Assert.Equal(["a"], Dsq(m, Machine.GlobalSlot));

        // Disabling: bypass, every task to the fair class, ops.exit; nothing is lost.
        d.RunToQuiescence();
        Assert.True(m.World.Sched.Disabled);
        Assert.Equal(0, m.World.Sched.BypassDepth);
        Assert.Contains("sched_ext: BPF scheduler \"TwoErrors\" disabled (scx_bpf_error)", Notes(d));
        AssertNothingLost(m);
        Assert.Equal(RunState.Sleeping, Task(m, "c").Run);
        Assert.Equal(SchedClass.Fair, Task(m, "c").Class);
    }

    [Fact]
    public void Should_EnqueueOnTheBypassDsq_WithoutOpsEnqueue_When_Bypassing()
    {
        var d = Driver(() => new P.Queue(), 1, [Sleeping("p", 101, 0, 0)], scripts: [new ScriptSpec("w", 0, [Wake(0)])]);
        var m = d.Machine;
        m.World.Sched.BypassDepth = 1; // scx_bypass(true), as the disable path does first
        RunActor(d, "w");
        Assert.Equal(["p"], Dsq(m, m.BypassSlot(0)));
        Assert.Equal(0, Count(d, "ops.enqueue"));
        Assert.Equal(ScxConst.SliceBypass, Task(m, "p").Slice);
        Assert.Equal(1, m.World.Events[(int)ScxEvent.BypassDispatch]);
        Assert.Equal(OpsState.None, State(m, "p"));
    }
}
