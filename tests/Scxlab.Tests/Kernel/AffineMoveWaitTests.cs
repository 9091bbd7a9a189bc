using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Tests.Kernel;

/// <summary>
/// affine_move_task() on a running task: sched_setaffinity() does not return before the stopper
/// (migration_cpu_stop) has moved the task (wait_for_completion(&amp;pending-&gt;done)).
/// </summary>
public class AffineMoveWaitTests
{
    private static Machine RunningTaskNarrowed() => new(new ModelConfig
    {
        CpuCount = 2,
        Tasks =
        [
            new TaskSpec("p", 101, CpuMask.Of(0, 1), 0, InitialTaskState.Running),
            new TaskSpec("q", 102, CpuMask.Of(0, 1), 1, InitialTaskState.Sleeping),
        ],
        PolicyFactory = () => new Simple(),
        Rounds = [0, 1],
        Scripts =
        [
            new ScriptSpec("taskset", 1,
            [
                new ScriptAction(ActionKind.SetAffinity, Task: 0, Mask: CpuMask.Of(1)),
                new ScriptAction(ActionKind.Wake, Task: 1),
            ]),
        ],
    });

    [Fact]
    public void Should_BlockTheCallersNextAction_When_TheStopperHasNotRunYet()
    {
        // Given sched_setaffinity(p, {1}) on p running on CPU0, followed by wake_up_process(q)
        var m = RunningTaskNarrowed();
        var d = new ScheduleDriver(m);
        var taskset = d.ActorId("taskset");

        // When the script actor runs as far as it can without CPU0's stopper
        d.StepUntil("taskset", x => x.World.Cpus[0].StopperPending);
        for (var i = 0; i < 100 && m.IsEnabled(taskset); i++) d.Step(taskset);

        // Then it is blocked inside sched_setaffinity: the wake of q has not started
        Assert.True(m.World.Cpus[0].StopperPending);
        Assert.False(m.IsEnabled(taskset));
        Assert.Equal(1, m.World.Actors[taskset].ScriptPc);
        Assert.Equal(Scxlab.Stepping.RunState.Sleeping, m.World.Tasks[1].Run);

        // And once CPU0's stopper has moved p, sched_setaffinity returns and the next action can start
        d.Finish("CPU0");
        Assert.Equal(1, m.World.Tasks[0].Cpu);
        Assert.True(m.IsEnabled(taskset));
        d.Finish("taskset");
        Assert.Equal(1, m.World.Actors[taskset].ScriptPc);
        d.Finish("taskset");
        Assert.Equal(Scxlab.Stepping.RunState.Runnable, m.World.Tasks[1].Run);
    }
}
