using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Tests.Policies;

public class CentralTests
{
    [Fact]
    public void Should_DispatchForOtherCpusFromCpu0AndBounceMismatchesToFallback_When_TasksQueue()
    {
        // Given 3 CPUs, the central CPU busy, four tasks queued, one pinned to CPU2
        CpuMask all = CpuMask.Of(0, 1, 2);
        var run = new PolicyRun(() => new Central(), 3,
        [
            new TaskSpec("r", 601, all, 0, InitialTaskState.Running),
            new TaskSpec("a", 602, all, 1, InitialTaskState.Queued),
            new TaskSpec("b", 603, all, 1, InitialTaskState.Queued),
            new TaskSpec("pin", 604, CpuMask.Of(2), 2, InitialTaskState.Queued),
            new TaskSpec("c", 605, all, 2, InitialTaskState.Queued),
        ]);
        Assert.Equal(4, run.MapCount("central_q"));

        // When the CPUs run for a while
        run.Rounds(10);

        // Then only CPU0 ever ran ops.dispatch's LOCAL_ON inserts (the other CPUs only ask)
        var inserts = run.D.Steps.Where(s => s.Notes.Any(n => n.Contains("scx_bpf_dsq_insert(", StringComparison.Ordinal))).Select(s => s.ActorName).Distinct().ToList();
        Assert.Equal(["CPU0"], inserts);
        // CPUs 1 and 2 asked for work through their gimme flags and ran tasks
        Assert.Contains(run.D.Steps, s => s.ActorName == "CPU1" && s.Notes.Any(n => n.Contains("scx_bpf_kick_cpu", StringComparison.Ordinal)));
        Assert.NotEmpty(run.RanOn[run.Task("a")]);
        // and the pinned task, popped for a CPU it may not use, went through the fallback DSQ to CPU2.
        Assert.Contains(run.D.Steps, s => s.Notes.Any(n => n.Contains($"scx_bpf_dsq_insert(pin[604], 0x0)", StringComparison.Ordinal)));
        Assert.Equal([2], run.RanOn[run.Task("pin")]);
        run.AssertHealthy();
        run.AssertNothingLost();
    }
}
