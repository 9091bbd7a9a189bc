using Scxlab.Bpf;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Kernel;

/// <summary>
/// put_prev_set_next_task(): when a CPU leaves the idle task, put_prev_task_idle() clears its built-in idle bit
/// (__scx_update_idle(rq, false, true)) before set_next_task_scx() runs ops.running for the task it picked. So
/// ops.running never sees its own CPU in the idle mask. The model cleared the bit later, at __schedule()'s switch.
/// </summary>
public class IdleExitOrderTests
{
    /// <summary>Queues on the global DSQ; ops.running ends the scheduler if its own CPU still reads as idle.</summary>
    private sealed class RunningChecksIdle : ScxOps
    {
        public override BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags) => prevCpu;

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) =>
            await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);

        public override async BpfTask Running(TaskContext ctx, TaskRef p)
        {
            var cpu = await ctx.TaskCpu(p);
            if (await ctx.TestCpuIdle(cpu)) await ctx.Error($"CPU {cpu} is idle in ops.running");
        }
    }

    [Theory]
    [InlineData(Granularity.Normal)]
    [InlineData(Granularity.Fine)]
    public void Should_NotSeeItsOwnCpuIdle_When_OpsRunningRunsForATaskPickedOnAnIdleCpu(Granularity granularity)
    {
        var s = ScenarioLoader.Resolve(Path.Combine(Scxlab.Tests.BpfObject.BpfExamples.Root(), "examples", "selftests", "wakeup.yaml"));
        var config = Scxlab.Tests.BpfObject.BpfExamples.TwinConfig(s.ToConfig(granularity: granularity), () => new RunningChecksIdle(), "running-checks-idle");
        var r = new Explorer(new Machine(config), new ExploreOptions { Checks = s.Checks }).Run();
        Assert.True(r.Complete, r.IncompleteReason);
        Assert.True(r.Violations.Count == 0, string.Join("; ", r.Violations.Select(v => v.Violation.ToString())));
    }
}
