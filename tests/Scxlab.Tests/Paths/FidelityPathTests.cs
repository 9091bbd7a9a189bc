using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Paths;

/// <summary>
/// Smaller fidelity items against kernel/sched/ext.c and core.c (issue 10, item 9): the bypass order
/// of scx_dispatch_sched(), the zero-slice warning of do_pick_task_scx(), the unchanged-mask no-op of
/// __set_cpus_allowed_ptr_locked(), scx_disable_task()'s custody WARN, p->scx.selected_cpu, and the
/// task_rq WARN of dispatch_to_local_dsq().
/// </summary>
public class FidelityPathTests
{
    // ---------------------------------------------------------------- bypass: the global DSQ first

    [Fact]
    public void Should_ConsumeTheGlobalDsqBeforeTheBypassDsq_When_Bypassing()
    {
        // scx_dispatch_sched(): consume_global_dsq() first; only then, while bypassing, the bypass DSQ.
        var d = Driver(() => new P.Direct(DsqId.Global), 1, [Queued("g", 101, 0, 0), Sleeping("b", 102, 0, 0)], rounds: [1],
            scripts: [new ScriptSpec("waker", 0, [Wake(1)])]);
        var m = d.Machine;
        Assert.Equal(["g"], Dsq(m, Machine.GlobalSlot));
        m.World.Sched.BypassDepth = 1; // scx_bypass(true) (the PM notifier path: no exit)
        RunActor(d, "waker");
        Assert.Equal(["b"], Dsq(m, m.BypassSlot(0)));
        RunActor(d, "CPU0");
        Assert.Equal(0, m.World.Cpus[0].Curr);
        Assert.Equal(["b"], Dsq(m, m.BypassSlot(0)));
    }

    // ---------------------------------------------------------------- zero slice at pick

    [Fact]
    public void Should_WarnOncePerSchedulerAndRefill_When_ALocalTaskHasZeroSliceAtPick()
    {
        // do_pick_task_scx(): printk_deferred(KERN_WARNING "sched_ext: %s[%d] has zero slice in %s()")
        // once per scheduler (sch->warned_zero_slice), then refill_task_slice_dfl() — not a WARN.
        var d = Driver(() => new P.Witness(), 2, [Queued("a", 101, 0, 0), Queued("b", 102, 1, 1)], rounds: [1, 1]);
        var m = d.Machine;
        Assert.Equal(["a"], Dsq(m, m.LocalSlot(0)));
        Assert.Equal(["b"], Dsq(m, m.LocalSlot(1)));
        Task(m, "a").Slice = 0;
        Task(m, "b").Slice = 0;
        var before = m.World.Events[(int)ScxEvent.RefillSliceDfl];
        RunActor(d, "CPU0");
        RunActor(d, "CPU1");
        AssertNoFindings(d);
        Assert.Equal(0, m.World.Cpus[0].Curr);
        Assert.Equal(1, m.World.Cpus[1].Curr);
        Assert.Equal(ScxConst.SliceDfl, Task(m, "a").Slice);
        Assert.Equal(ScxConst.SliceDfl, Task(m, "b").Slice);
        Assert.Equal(2, m.World.Events[(int)ScxEvent.RefillSliceDfl] - before);
        Assert.Equal(["sched_ext: a[101] has zero slice in pick_task_scx()"], Notes(d).Where(n => n.Contains("zero slice", StringComparison.Ordinal)));
    }

    [Fact]
    public void Should_RefillWithTheBypassSliceSilently_When_BypassingWithAZeroSliceTask()
    {
        // While bypassing, sch->slice_dfl is the bypass slice and the warning is suppressed.
        var d = Driver(() => new P.Witness(), 1, [Queued("a", 101, 0, 0)], rounds: [1]);
        var m = d.Machine;
        Task(m, "a").Slice = 0;
        m.World.Sched.BypassDepth = 1;
        RunActor(d, "CPU0");
        AssertNoFindings(d);
        Assert.Equal(0, m.World.Cpus[0].Curr);
        Assert.Equal(ScxConst.SliceBypass, Task(m, "a").Slice);
        Assert.DoesNotContain(Notes(d), n => n.Contains("zero slice", StringComparison.Ordinal));
    }

    // ---------------------------------------------------------------- sched_setaffinity with the same mask

    private sealed class CpumaskWitness : P.Queue
    {
        public override BpfTask SetCpumask(TaskContext ctx, TaskRef p) => BpfTask.CompletedTask;
        public override BpfTask Runnable(TaskContext ctx, TaskRef p, EnqFlags enqFlags) => BpfTask.CompletedTask;
        public override BpfTask Quiescent(TaskContext ctx, TaskRef p, DeqFlags deqFlags) => BpfTask.CompletedTask;
    }

    [Fact]
    public void Should_DoNothing_When_TheNewMaskEqualsTheCurrentOne()
    {
        // __set_cpus_allowed_ptr_locked(): cpumask_equal(&p->cpus_mask, new_mask) → goto out, before
        // any dequeue/enqueue or set_cpus_allowed_scx().
        var d = Driver(() => new CpumaskWitness(), 2, [Queued("p", 101, 0, 0, 1)], scripts: [new ScriptSpec("taskset", 1, [Affinity(0, 0, 1)])]);
        var m = d.Machine;
        var word = Task(m, "p").OpsState;
        RunActor(d, "taskset");
        Assert.Empty(Callbacks(d));
        Assert.DoesNotContain(Notes(d), n => n.StartsWith("set_cpus_allowed_scx(", StringComparison.Ordinal));
        Assert.Equal(word, Task(m, "p").OpsState);
        AssertNoFindings(d);
    }

    // ---------------------------------------------------------------- scx_disable_task(): custody WARN

    private sealed class FailInDispatch : ScxOps
    {
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) => await ctx.Error("stop");
    }

    [Fact]
    public void Should_Warn_When_ATaskIsStillInCustodyWhenItIsDisabled()
    {
        // scx_disable_task(): WARN_ON_ONCE(p->scx.flags & SCX_TASK_IN_CUSTODY) after ops.disable.
        var d = Driver(() => new FailInDispatch(), 1, [Sleeping("a", 101, 0, 0)], rounds: [1]);
        var m = d.Machine;
        Task(m, "a").Flags |= TaskFlags.InCustody; // custody leaked by a broken path, injected
        RunActor(d, "CPU0");
        Assert.Equal(ExitKind.ErrorBpf, m.World.Sched.ExitKind);
        RunActor(d, "scx_disable");
        Assert.Contains(d.Findings, f => f.Check == "WARN_ON_ONCE(p->scx.flags & SCX_TASK_IN_CUSTODY)");
        Assert.Equal(SchedClass.Fair, Task(m, "a").Class);
    }

    [Fact]
    public void Should_NotWarn_When_EveryTaskLeftCustodyBeforeTheDisable()
    {
        var d = Driver(() => new FailInDispatch(), 1, [Sleeping("a", 101, 0, 0)], rounds: [1]);
        var m = d.Machine;
        RunActor(d, "CPU0");
        RunActor(d, "scx_disable");
        AssertNoFindings(d);
        AssertNothingLost(m);
    }

    // ---------------------------------------------------------------- p->scx.selected_cpu

    private sealed class SelectReturns(int cpu) : ScxOps
    {
        public override BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags) => cpu;
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl, enqFlags);
    }

    [Fact]
    public void Should_NotCountASelectFallback_When_SelectTaskRqWasNotCalled()
    {
        // try_to_wake_up() calls select_task_rq() only for tasks that may run on several CPUs; without
        // it there is no WF_RQ_SELECTED → no SCX_ENQ_CPU_SELECTED, whatever selected_cpu is left over.
        var d = Driver(() => new SelectReturns(1), 2, [Sleeping("a", 101, 0, 0)], scripts: [new ScriptSpec("waker", 0, [Wake(0)])]);
        var m = d.Machine;
        Task(m, "a").SelectedCpu = 1; // left over from an earlier wakeup that ran ops.select_cpu()
        RunActor(d, "waker");
        Assert.Equal(["a"], Dsq(m, m.LocalSlot(0)));
        Assert.Equal(0, m.World.Events[(int)ScxEvent.SelectCpuFallback]);
    }

    [Fact]
    public void Should_RecordTheDefaultSelection_When_ThereIsNoOpsSelectCpu()
    {
        // select_task_rq_scx(): the scx_select_cpu_dfl() branch sets p->scx.selected_cpu as well.
        var d = Driver(() => new P.Witness(), 2, [Sleeping("a", 101, 0, 0, 1)], scripts: [new ScriptSpec("waker", 0, [Wake(0)])]);
        var m = d.Machine;
        Task(m, "a").SelectedCpu = 1; // left over from an earlier wakeup
        RunActor(d, "waker");
        Assert.Equal(0, Task(m, "a").SelectedCpu);
        Assert.Equal(0, m.World.Events[(int)ScxEvent.SelectCpuFallback]);
    }

    [Fact]
    public void Should_KeepTheInvalidSelection_And_CountTheFallback_When_OpsSelectCpuReturnsAnInvalidCpu()
    {
        // p->scx.selected_cpu = cpu is stored before ops_cpu_valid(); the task is enqueued on prev_cpu
        // with SCX_ENQ_CPU_SELECTED, so enqueue_task_scx() counts SCX_EV_SELECT_CPU_FALLBACK.
        var d = Driver(() => new SelectReturns(7), 2, [Sleeping("a", 101, 0, 0, 1)], scripts: [new ScriptSpec("waker", 0, [Wake(0)])]);
        var m = d.Machine;
        RunActor(d, "waker");
        Assert.Equal("invalid CPU 7 from ops.select_cpu()", m.World.ExitMessage);
        Assert.Equal(7, Task(m, "a").SelectedCpu);
        Assert.Equal(1, m.World.Events[(int)ScxEvent.SelectCpuFallback]);
    }

    // ---------------------------------------------------------------- dispatch_to_local_dsq(): task_rq WARN

    [Fact]
    public void Should_WarnAndDropTheDispatch_When_TheHeldTaskChangedRqDuringDispatchToLocalDsq()
    {
        // dispatch_to_local_dsq(): holding_cpu still ours but !WARN_ON_ONCE(src_rq != task_rq(p)) fails.
        var d = Driver(() => new P.Queue(cpu => DsqId.LocalOn(cpu)), 3, [Queued("a", 101, 1, 0, 1, 2)], rounds: [1, 0, 0]);
        var m = d.Machine;
        var cpu0 = d.ActorId("CPU0");
        while (Task(m, "a").HoldingCpu != 0) d.Step(cpu0);
        Task(m, "a").Cpu = 2; // broken invariant, injected while CPU0 waits for CPU1's rq lock
        d.Step(cpu0);
        Assert.Contains(d.Findings, f => f.Check == "WARN_ON_ONCE(src_rq != task_rq(p))");
    }
}
