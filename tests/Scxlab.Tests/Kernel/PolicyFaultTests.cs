using Scxlab.Bpf;
using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Stepping;

namespace Scxlab.Tests.Kernel;

/// <summary>Policies that misbehave end the scheduler with a kernel-style exit, and no task is lost.</summary>
public class PolicyFaultTests
{
    private sealed class ThrowingDispatch : ScxOps
    {
        private MapHandle _q;
        public override void DeclareMaps(MapBuilder maps) => _q = maps.Queue("q", 8);
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags f) => await ctx.Push(_q, ctx.Pid(p));

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var v = await ctx.Pop(_q);
            if (v.Found) throw new InvalidOperationException("boom");
        }
    }

    private sealed class LoopingDispatch : ScxOps
    {
        private MapHandle _a;
        public override void DeclareMaps(MapBuilder maps) => _a = maps.Array("a", 1);

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            while (true) await ctx.FetchAdd(_a, 0, 1);
        }
    }

    private sealed class UnawaitedCall : ScxOps
    {
        private MapHandle _q;
        public override void DeclareMaps(MapBuilder maps) => _q = maps.Queue("q", 8);

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags f)
        {
            _ = ctx.Push(_q, ctx.Pid(p)); // not awaited
            await ctx.Push(_q, ctx.Pid(p));
        }
    }

    private sealed class StashesContext : ScxOps
    {
        private MapHandle _q;
        private EnqueueContext? _stash;
        public override void DeclareMaps(MapBuilder maps) => _q = maps.Queue("q", 8);

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags f)
        {
            _stash = ctx;
            await ctx.Push(_q, ctx.Pid(p));
        }

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var v = await ctx.Pop(_q);
            if (v.Found) await _stash!.DsqInsert(ctx.TaskFromPid(v.Value), DsqId.Local, ScxConst.SliceDfl);
        }
    }

    private sealed class InsertsOtherTaskInEnqueue : ScxOps
    {
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags f) =>
            await ctx.DsqInsert(new TaskRef(p.Index == 0 ? 1 : 0), DsqId.Global, ScxConst.SliceDfl);
    }

    private static Machine TwoTasks(Func<ScxOps> policy, int cpus = 2) => new(new ModelConfig
    {
        CpuCount = cpus,
        Tasks =
        [
            new TaskSpec("a", 201, CpuMask.Of(0, 1), 0, InitialTaskState.Queued),
            new TaskSpec("b", 202, CpuMask.Of(0, 1), 1, InitialTaskState.Queued),
        ],
        PolicyFactory = policy,
        Rounds = [.. Enumerable.Repeat(2, cpus)],
        CallBudget = 64,
    });

    private static void AssertNothingLost(Machine m)
    {
        // After the disable path, every runnable task is running or queued in the fair class.
        for (var i = 0; i < m.World.Tasks.Length; i++)
        {
            ref readonly var t = ref m.World.Tasks[i];
            if (t.Run != RunState.Runnable) continue;
            var running = false;
            for (var c = 0; c < m.N; c++) running |= m.World.Cpus[c].Curr == i;
            Assert.True(running || (t.Class == SchedClass.Fair && t.FairQueued), $"task {i} lost: class {t.Class}, dsq {t.Dsq}, ops {OpsWord.Format(t.OpsState)}");
        }
    }

    private static Machine RunAll(Func<ScxOps> policy, int cpus = 2)
    {
        var d = new ScheduleDriver(TwoTasks(policy, cpus), narrate: false);
        d.RunToQuiescence();
        return d.Machine;
    }

    [Fact]
    public void Should_ExitErrorBpfWithTypeAndMessage_When_CallbackThrows()
    {
        var m = RunAll(() => new ThrowingDispatch());
        Assert.Equal(ExitKind.ErrorBpf, m.World.Sched.ExitKind);
        Assert.Equal("ops.dispatch() failed: InvalidOperationException: boom", m.World.ExitMessage);
        Assert.True(m.World.Sched.Disabled);
        AssertNothingLost(m);
    }

    [Fact]
    public void Should_ExitWithStepBudgetMessage_When_CallbackExceedsItsBudget()
    {
        // CPU2 finds the global DSQ empty (a and b are consumed by CPU0/CPU1) and calls ops.dispatch.
        var m = RunAll(() => new LoopingDispatch(), cpus: 3);
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("ops.dispatch() exceeded its step budget (64 calls; a model bound: bounds: { call_budget: N })", m.World.ExitMessage);
        AssertNothingLost(m);
    }

    [Fact]
    public void Should_ExitError_When_KfuncResultIsNotAwaited()
    {
        var m = RunAll(() => new UnawaitedCall());
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Contains("bpf_map_push_elem", m.World.ExitMessage);
        AssertNothingLost(m);
    }

    [Fact]
    public void Should_ExitError_When_ContextIsUsedAfterItsCallbackReturned()
    {
        var m = RunAll(() => new StashesContext());
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("scx_bpf_dsq_insert() called from outside ops.enqueue(): the context is only valid while its callback runs", m.World.ExitMessage);
        AssertNothingLost(m);
    }

    [Fact]
    public void Should_ExitWithKernelMessage_When_EnqueueDirectDispatchesAnotherTask()
    {
        var m = RunAll(() => new InsertsOtherTaskInEnqueue());
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("scheduling for a[201] but trying to direct-dispatch b[202]", m.World.ExitMessage);
        AssertNothingLost(m);
    }

    [Fact]
    public void Should_RunEveryTask_When_PolicyIsWellBehaved()
    {
        var m = RunAll(() => new DequeueSync());
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Equal(0, m.World.Cpus[0].Curr);
        Assert.Equal(1, m.World.Cpus[1].Curr);
    }
}
