using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Policies;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Kernel;

/// <summary>
/// __set_cpus_allowed_ptr_locked(): dest_cpu = cpumask_any_and_distribute(cpu_valid_mask, new_mask) — the next CPU of
/// the new mask after the calling CPU's distribute_cpu_mask_prev (0 at boot, so the first pick skips CPU 0), which it
/// remembers; affine_move_task() moves a queued task whose CPU left the mask there, and hands that CPU to the stopper
/// for a running one. Not the lowest-numbered CPU of the mask, as the model had it.
/// </summary>
public class AffinityDestinationTests
{
    private static ScheduleDriver Narrowed(bool running) => Driver(() => new DequeueSync(), 3,
        [running ? Running("p", 101, 2, 0, 1, 2) : Queued("p", 101, 2, 0, 1, 2), Sleeping("q", 102, 2, 0, 1, 2)],
        rounds: [0, 0, 1],
        scripts: [new ScriptSpec("taskset", 2, [Affinity(0, 0, 1), Affinity(1, 0, 1)])]);

    [Fact]
    public void Should_MoveAQueuedTaskToTheRotorsCpu_When_ItsCpuLeavesTheMask()
    {
        // Given p queued on CPU2 and sched_setaffinity(p, {0,1}) issued on CPU2
        var d = Narrowed(running: false);
        var m = d.Machine;

        // When the call runs (the first of the script's two)
        var taskset = d.ActorId("taskset");
        d.Step(taskset);
        while (m.ActorStateOf(taskset).Depth > 0) d.Step(taskset);

        // Then p moved to CPU1, the first CPU of {0,1} after CPU2's rotor (0), and the rotor remembers it
        Assert.Equal(1, Task(m, "p").Cpu);
        Assert.Equal(1, m.World.Cpus[2].DistributePrev);

        // And the next call from CPU2 (q sleeps on CPU2: nothing moves) still advances the rotor, to CPU0
        RunActor(d, "taskset");
        Assert.Equal(0, m.World.Cpus[2].DistributePrev);
        Assert.Equal(2, Task(m, "q").Cpu);
    }

    [Fact]
    public void Should_HandTheRotorsCpuToTheStopper_When_ARunningTasksCpuLeavesTheMask()
    {
        // Given p running on CPU2 and sched_setaffinity(p, {0,1}) issued on CPU2
        var d = Narrowed(running: true);
        var m = d.Machine;
        var taskset = d.ActorId("taskset");
        d.Step(taskset);
        while (!m.World.Cpus[2].StopperPending) d.Step(taskset);

        // Then migration_cpu_stop is queued on CPU2 with dest_cpu 1
        Assert.Equal(0, m.World.Cpus[2].StopperTask);
        Assert.Equal(1, m.World.Cpus[2].StopperDest);

        // And when CPU2's stopper runs, p lands on CPU1
        RunActor(d, "CPU2");
        Assert.Equal(1, Task(m, "p").Cpu);
    }
}
