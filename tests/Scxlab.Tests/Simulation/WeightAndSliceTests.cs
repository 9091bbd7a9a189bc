using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Simulation;

namespace Scxlab.Tests.Simulation;

/// <summary>
/// Per-task attributes in simulation: how the slice is consumed (update_curr_scx), what ops.stopping
/// charges, and how weights reach p->scx.weight and shape the shares of a weighted-vtime policy.
/// </summary>
public class WeightAndSliceTests
{
    private static Simulator Sim(Workload w, string policy, int cpus, long durationNs, ulong seed = 1) =>
        new(w, new SimOptions
        {
            Cpus = cpus,
            DurationNs = durationNs,
            Seed = seed,
            Policy = PolicyRegistry.Resolve(policy),
            PolicyName = policy,
            Protocol = Protocol.Upstream,
        });

    private static TaskGroup Group(string name, int weight, int count, params Phase[] phases) =>
        new() { Name = name, Class = name, Weight = weight, Count = count, Phases = phases };

    private static Workload Load(params TaskGroup[] groups) => new() { Name = "test", Groups = groups };

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    public void Should_ChargeTheUsedSliceInStopping_When_ATaskRunsShorterThanATick(ulong seed)
    {
        // Given one task of weight 50 on one CPU that runs 1 ms (a quarter of a 4 ms tick) and then
        // suspends for good, under scx_simple's weighted vtime
        var w = Load(Group("short", 50, 1, new Phase(PhaseKind.Run, 1_000_000), new Phase(PhaseKind.Suspend)));
        var sim = Sim(w, "simple", 1, 100_000_000, seed);

        // When the run ends
        sim.Run();

        // Then update_curr_scx() consumed the 1 ms it ran from p->scx.slice (whether or not a tick
        // fell inside the run), and ops.stopping (from dequeue_task_scx) charged it scaled by
        // 100/weight: dsq_vtime = 2 × ~1 ms (plus the model's step costs). put_prev_task_scx()
        // charges the few steps between the dequeue and the switch after ops.stopping, as on the
        // kernel, so the final slice is a little lower than what ops.stopping saw.
        ref readonly var p = ref sim.Machine.World.Tasks[0];
        var used = ScxConst.SliceDfl - p.Slice;
        Assert.InRange(used, 1_000_000, 1_200_000);
        Assert.InRange(p.DsqVtime, 2 * 1_000_000, used * 100 / 50);
    }

    [Fact]
    public void Should_ShareTheCpuByWeight_When_AlwaysRunnableTasksOutnumberTheCpu()
    {
        // Given one CPU, one always-runnable task of weight 200 and four of weight 100 (scx_simple,
        // weighted vtime): the fair shares are 1/3 and 1/6 each
        var run = new Phase(PhaseKind.Run, 1_000_000_000);
        var w = Load(Group("heavy", 200, 1, run), Group("light", 100, 4, run));

        // When it runs 10 s of virtual time
        var r = Sim(w, "simple", 1, 10_000_000_000).Run();

        // Then the heavy task got twice a light task's runtime, within 10 %
        var heavy = r.TaskRuntimes.Single(t => t.Class == "heavy").RuntimeNs;
        var light = r.TaskRuntimes.Where(t => t.Class == "light").Average(t => t.RuntimeNs);
        Assert.InRange(heavy / light, 2 * 0.9, 2 * 1.1);
    }

    [Fact]
    public void Should_AlternateEvenly_When_TwoAlwaysRunnableTasksShareOneCpu_WhateverTheirWeights()
    {
        // Given one CPU and two always-runnable tasks of weight 1000 and 100 under scx_simple
        var run = new Phase(PhaseKind.Run, 1_000_000_000);
        var w = Load(Group("heavy", 1000, 1, run), Group("light", 100, 1, run));

        // When it runs 2 s of virtual time
        var r = Sim(w, "simple", 1, 2_000_000_000).Run();

        // Then they alternate slice by slice, as on the kernel: when the running task's slice expires,
        // balance_one() calls ops.dispatch() before put_prev_task_scx() re-enqueues it, so the shared
        // DSQ holds only the other task and move_to_local() takes it whatever the vtimes are.
        var heavy = r.TaskRuntimes.Single(t => t.Class == "heavy").RuntimeNs;
        var light = r.TaskRuntimes.Single(t => t.Class == "light").RuntimeNs;
        Assert.InRange((double)heavy / light, 0.95, 1.05);
    }

    [Fact]
    public void Should_ReachPScxWeight_When_ATaskGroupHasAWeight()
    {
        // Given a group of weight 300
        var w = Load(Group("g", 300, 2, new Phase(PhaseKind.Run, 1_000_000), new Phase(PhaseKind.Sleep, 1_000_000)));

        // When the simulator builds the model
        var sim = Sim(w, "simple", 2, 10_000_000);

        // Then p->scx.weight is the group's weight for every instance
        Assert.All(sim.Machine.World.Tasks, t => Assert.Equal(300, t.Weight));
    }

    [Fact]
    public void Should_SetPScxWeightThroughReweight_When_TheWorkloadChurnsWeights()
    {
        // Given tasks whose weight the workload changes every 5 ms (set_user_nice → reweight_task_scx)
        var g = new TaskGroup
        {
            Name = "churn", Class = "churn", Weight = 300, Count = 4, WeightChurnNs = 5_000_000,
            Phases = [new Phase(PhaseKind.Run, 1_000_000), new Phase(PhaseKind.Sleep, 1_000_000)],
        };
        var sim = Sim(Load(g), "qmap", 2, 200_000_000);

        // When it runs
        sim.Run();

        // Then every task's p->scx.weight left the initial 300 for one of the churn weights
        Assert.All(sim.Machine.World.Tasks, t => Assert.Contains(t.Weight, new[] { 25, 50, 100, 200, 400 }));
    }
}
