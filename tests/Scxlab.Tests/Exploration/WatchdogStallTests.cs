using Scxlab.Bpf;
using Scxlab.Checks;
using Scxlab.Exploration;
using Scxlab.Kernel;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// The quiescent drain runs a CPU only when the kernel would (resched pending, kicked, busy, a task on its
/// local DSQ): a runnable task that no CPU will ever run is the watchdog's SCX_EXIT_ERROR_STALL.
/// </summary>
public class WatchdogStallTests
{
    private const ulong Cpu0Dsq = 7;

    /// <summary>Queues every task on a user DSQ that only CPU0's ops.dispatch consumes; optionally kicks CPU0 from ops.enqueue.</summary>
    private sealed class OnlyCpu0Consumes(bool kick) : ScxOps
    {
        public override string Name => kick ? "only-cpu0-consumes-kick" : "only-cpu0-consumes";

        public override bool? HoldsTask(MapView maps, TaskRef p, long pid) => false;

        public override async BpfTask Init(InitContext ctx)
        {
            if (!await ctx.CreateDsq(Cpu0Dsq)) await ctx.Error($"failed to create DSQ {Cpu0Dsq}");
        }

        public override BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags) => prevCpu;

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags f)
        {
            await ctx.DsqInsert(p, Cpu0Dsq, ScxConst.SliceDfl, f);
            if (kick) await ctx.KickCpu(0, KickFlags.Idle);
        }

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            if (cpu == 0) await ctx.DsqMoveToLocal(Cpu0Dsq);
        }
    }

    private static ExploreResult Explore(bool kick) => new Explorer(new Machine(new ModelConfig
    {
        CpuCount = 2,
        Tasks = [new TaskSpec("p", 101, CpuMask.Of(0, 1), 1, InitialTaskState.Sleeping)],
        PolicyFactory = () => new OnlyCpu0Consumes(kick),
        Rounds = [0, 1],
        Scripts = [new ScriptSpec("waker", 1, [new ScriptAction(ActionKind.Wake, Task: 0)])],
    }), new ExploreOptions { Strategy = Strategy.Dfs }).Run();

    [Fact]
    public void Should_ReportAWatchdogStall_When_OnlyAnIdleNeverKickedCpuWouldConsumeTheTask()
    {
        // Given p woken onto CPU1 and inserted into a DSQ only CPU0 consumes, with CPU0 idle and never kicked
        // When every interleaving is explored
        var result = Explore(kick: false);

        // Then the watchdog ends the scheduler: p is runnable and nothing will ever run it
        Assert.Equal(Verdict.Violation, result.Verdict);
        var v = Assert.Single(result.Violations).Violation;
        Assert.Equal(ViolationKind.Exit, v.Kind);
        Assert.Equal("SCX_EXIT_ERROR_STALL", v.Name);
        Assert.StartsWith("p[101] failed to run for ", v.Message);
    }

    [Fact]
    public void Should_Hold_When_TheEnqueueKicksTheConsumingCpu()
    {
        // Given the same policy, which now kicks CPU0 after inserting
        // When every interleaving is explored
        var result = Explore(kick: true);

        // Then CPU0 wakes, consumes the DSQ and p runs
        Assert.Equal(Verdict.Holds, result.Verdict);
    }
}
