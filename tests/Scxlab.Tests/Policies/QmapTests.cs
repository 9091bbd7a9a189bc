using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Tests.Policies;

public class QmapTests
{
    private static readonly CpuMask Cpu0 = CpuMask.Of(0);

    [Fact]
    public void Should_QueueEachTaskInItsWeightFifo_When_Enqueued()
    {
        // Given tasks of weights 10, 40, 100, 300 and 1000 queued at start
        int[] weights = [10, 40, 100, 300, 1000];
        var tasks = new List<TaskSpec> { new("r", 400, Cpu0, 0, InitialTaskState.Running) };
        for (var i = 0; i < weights.Length; i++) tasks.Add(new TaskSpec($"t{i}", 401 + i, Cpu0, 0, InitialTaskState.Queued, Weight: weights[i]));
        var run = new PolicyRun(() => new Qmap(), 1, tasks);

        // Then FIFO i holds exactly the task of the i-th weight class, and the policy says it holds each
        for (var i = 0; i < weights.Length; i++)
        {
            Assert.Equal(1, run.MapCount($"queue{i}"));
            Assert.Equal(i, Qmap.WeightToIdx(weights[i]));
            Assert.True(run.Holds($"t{i}"));
        }

        // and every one of them gets the CPU.
        run.Rounds(40);
        run.AssertHealthy();
        for (var i = 0; i < weights.Length; i++) Assert.NotEmpty(run.RanOn[run.Task($"t{i}")]);
    }

    [Fact]
    public void Should_SkipTheDequeuedEntry_When_WeightChangeMovesQueuedTaskToAnotherFifo()
    {
        // Given p queued in FIFO 2 (weight 100) behind a running task of another class (FIFO 0)
        var run = new PolicyRun(() => new Qmap(), 1,
        [
            new TaskSpec("a", 501, Cpu0, 0, InitialTaskState.Running, Weight: 10),
            new TaskSpec("p", 502, Cpu0, 0, InitialTaskState.Queued),
        ]);
        Assert.Equal(1, run.MapCount("queue2"));

        // When its weight changes to 500: ops.dequeue(SCHED_CHANGE), then ops.enqueue into FIFO 4
        run.Inject(new ScriptAction(ActionKind.SetWeight, Task: run.Task("p"), Weight: 500));

        // Then the old pid is still in FIFO 2 but stale, and the new one in FIFO 4 is what holds p
        Assert.Equal(1, run.MapCount("queue2"));
        Assert.Equal(1, run.MapCount("queue4"));
        Assert.True(run.Holds("p"));

        // and once p runs, it was inserted exactly once: the stale entry was popped and skipped.
        run.Rounds(2);
        Assert.NotEmpty(run.RanOn[run.Task("p")]);
        Assert.Equal(0, run.MapCount("queue2"));
        Assert.Equal(1, run.Inserts("p"));
        run.AssertHealthy();
    }
}
