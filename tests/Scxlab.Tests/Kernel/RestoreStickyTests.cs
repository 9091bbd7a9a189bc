using Scxlab.Checks;
using Scxlab.Driving;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Scenarios;
using Scxlab.Stepping;

namespace Scxlab.Tests.Kernel;

/// <summary>
/// enqueue_task_scx(): ENQUEUE_RESTORE of the rq's current task forces sticky_cpu = cpu_of(rq), so
/// a property change of a running task puts it on its own CPU's local DSQ (without ops.enqueue)
/// whatever its mask, until set_next_task_scx() in the same sched_change takes it off again
/// (issue 10 item 3: LocalDsqTaskAllowedOnCpu reported that as a violation).
/// </summary>
public class RestoreStickyTests
{
    [Fact]
    public void Should_Hold_When_ARunningTaskIsNarrowedOffItsCpuAndReniced()
    {
        var s = ScenarioLoader.Resolve("running-narrow-renice");

        var r = new Explorer(new Machine(s.ToConfig()), new ExploreOptions { Checks = s.Checks }).Run();

        Assert.True(r.Complete, r.IncompleteReason);
        Assert.True(r.Violations.Count == 0, string.Join("; ", r.Violations.Select(v => $"{v.Violation.Key}: {v.Violation.Message}")));
    }

    /// <summary>
    /// Drives the race to the renice's restore: p is on local[0] with cpus_ptr {1}. The check accepts
    /// it only because p is CPU0's current task inside a sched_change frame; the same placement of a
    /// task that is not current is still reported.
    /// </summary>
    [Fact]
    public void Should_AcceptOffMaskLocalPresenceOnlyForTheCurrentTask_When_ASchedChangeRestoresIt()
    {
        var m = new Machine(new ModelConfig
        {
            CpuCount = 2,
            Tasks = [new TaskSpec("p", TestModels.PidP, CpuMask.Of(0, 1), 0, InitialTaskState.Running)],
            PolicyFactory = PolicyRegistry.Resolve("simple"),
            PolicyName = "simple",
            Rounds = [0, 0],
            Scripts =
            [
                new ScriptSpec("taskset", 1, [new ScriptAction(ActionKind.SetAffinity, Task: 0, Mask: CpuMask.Of(1))]),
                new ScriptSpec("renice", 1, [new ScriptAction(ActionKind.SetWeight, Task: 0, Weight: 200)]),
            ],
        });
        var d = new ScheduleDriver(m);
        // taskset runs until the move off CPU0 is owed to the stopper; it then waits for it (affine_move_task).
        d.StepUntil("taskset", x => x.World.Cpus[0].StopperPending);
        d.StepUntil("renice", x => x.World.Tasks[0].Dsq == x.LocalSlot(0));

        var check = new LocalDsqTaskAllowedOnCpu();
        Assert.Equal(0, m.World.Cpus[0].Curr);
        Assert.Equal(CpuMask.Of(1), m.World.Tasks[0].CpusPtr);
        Assert.Null(check.Check(m));

        // Not current, and no sched_setaffinity in flight (taskset, waiting for the stopper, still carries
        // p, which the migration_pending clause accepts): nothing explains the placement any more.
        m.World.Cpus[0].Curr = -1;
        m.World.Actors[m.Actors.Single(a => a.Name == "taskset").Id].Depth = 0;
        Assert.Equal($"p[{TestModels.PidP}] is on local[0] but cpus_ptr is {{1}}", check.Check(m));
    }
}
