using Scxlab.Bpf;
using Scxlab.Checks;
using Scxlab.Driving;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// The "forgotten" clause of TaskHasExactlyOneOwner: only what can still hand the task back silences it, and a
/// task that only a later scripted action rescues is a warning ("stranded until …"), not a violation.
/// </summary>
public class StrandedTaskTests
{
    /// <summary>
    /// Keeps tasks on a list; ops.dispatch pops one and, with <c>dropDefaultWeight</c>, drops a task whose weight is
    /// still the default (else inserts it into SCX_DSQ_LOCAL). ops.enqueue kicks the task's CPU.
    /// </summary>
    private sealed class DropsDefaultWeight(bool dropAlways) : ScxOps
    {
        private MapHandle _list;

        public override string Name => "drops-default-weight";

        public override void DeclareMaps(MapBuilder maps) => _list = maps.List("tasks", 8);

        public override bool? HoldsTask(MapView maps, TaskRef p, long pid) => maps.Contains(_list, pid);

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags f)
        {
            await ctx.Push(_list, ctx.Pid(p));
            await ctx.KickCpu(await ctx.TaskCpu(p), KickFlags.Idle);
        }

        public override async BpfTask Dequeue(TaskContext ctx, TaskRef p, DeqFlags f) => await ctx.ListRemove(_list, ctx.Pid(p));

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var v = await ctx.Pop(_list);
            if (!v.Found) return;
            var p = ctx.TaskFromPid(v.Value);
            if (dropAlways || await ctx.TaskWeight(p) == ScxConst.WeightDfl) return; // the bug: p is dropped
            await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl);
        }
    }

    [Fact]
    public void Should_WarnNotViolate_When_OnlyALaterScriptedActionRescuesTheTask()
    {
        // Given p queued on CPU0 with a policy that drops default-weight tasks, and a later renice of p,
        // which dequeues it (ops.dequeue) and enqueues it again with a weight the policy keeps
        var config = new ModelConfig
        {
            CpuCount = 1,
            Tasks = [new TaskSpec("p", 101, CpuMask.Of(0), 0, InitialTaskState.Queued)],
            PolicyFactory = () => new DropsDefaultWeight(dropAlways: false),
            Rounds = [1],
            Scripts = [new ScriptSpec("renice", 0, [new ScriptAction(ActionKind.SetWeight, Task: 0, Weight: 200)])],
        };

        // When every interleaving is explored
        var result = new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Dfs }).Run();

        // Then no state is a violation, and the state where p waits for the renice is reported as a warning
        Assert.Equal(Verdict.Holds, result.Verdict);
        Assert.Empty(result.Violations);
        var w = Assert.Single(result.Warnings).Violation;
        Assert.Equal(ViolationKind.Warning, w.Kind);
        Assert.Equal(nameof(TaskHasExactlyOneOwner), w.Name);
        Assert.Contains("stranded until renice", w.Message);
    }

    [Fact]
    public void Should_ReportTheForgottenTask_When_ACallbackOfAnotherTaskIsInFlight()
    {
        // Given p dropped by CPU0's ops.dispatch, and a wakeup of q whose ops.enqueue(q) is in flight on another actor
        var m = new Machine(new ModelConfig
        {
            CpuCount = 2,
            Tasks =
            [
                new TaskSpec("p", 101, CpuMask.Of(0, 1), 0, InitialTaskState.Queued),
                new TaskSpec("q", 102, CpuMask.Of(1), 1, InitialTaskState.Sleeping),
            ],
            PolicyFactory = () => new DropsDefaultWeight(dropAlways: true),
            Rounds = [1, 0],
            Scripts = [new ScriptSpec("waker", 1, [new ScriptAction(ActionKind.Wake, Task: 1)])],
        });
        var d = new ScheduleDriver(m);
        d.Finish("CPU0");
        var waker = d.ActorId("waker");
        d.StepUntil("waker", x =>
        {
            var depth = x.World.Actors[waker].Depth;
            return depth > 0 && x.World.Frames[waker * x.World.MaxDepth + depth - 1] is { Path: PathId.Callback, I0: (int)ScxCallback.Enqueue };
        });

        // When the ownership invariant is checked in that state
        var msg = new TaskHasExactlyOneOwner().Check(m);

        // Then ops.enqueue(q), which cannot hand p back, does not hide that p is forgotten
        Assert.NotNull(msg);
        Assert.Contains("p[101]", msg);
        Assert.Contains("forgotten", msg);
    }
}
