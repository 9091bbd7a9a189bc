using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Tests.Policies;

public class SimpleTests
{
    private static readonly CpuMask Cpu0 = CpuMask.Of(0);

    [Fact]
    public void Should_ChargeUsedSliceScaledByWeight_When_TaskStopsInVtimeMode()
    {
        // Given one CPU running a (weight 100) with c (weight 400) queued
        var run = new PolicyRun(() => new Simple(), 1,
        [
            new TaskSpec("a", 301, Cpu0, 0, InitialTaskState.Running),
            new TaskSpec("c", 302, Cpu0, 0, InitialTaskState.Queued, Weight: 400),
        ]);
        run.Round(); // a keeps running, its slice is used up by the tick

        // When a is switched out for c
        run.Round();

        // Then a is charged a whole slice at weight 100, c has not been charged yet
        Assert.Equal(ScxConst.SliceDfl, run.W.Tasks[run.Task("a")].DsqVtime);
        Assert.Equal(0, run.W.Tasks[run.Task("c")].DsqVtime);
        Assert.Equal(0, run.MapWord("vtime_now", 0));

        // and when c is switched out, it is charged a quarter of the slice, and a's start advanced the clock.
        run.Round();
        Assert.Equal(ScxConst.SliceDfl / 4, run.W.Tasks[run.Task("c")].DsqVtime);
        Assert.Equal(ScxConst.SliceDfl, run.MapWord("vtime_now", 0));
        run.AssertHealthy();
    }

    [Fact]
    public void Should_ClampWakerToOneSliceBehindClock_When_SleeperWakesLate()
    {
        // Given a and b sharing one CPU long enough for the clock to move several slices
        var run = new PolicyRun(() => new Simple(), 1,
        [
            new TaskSpec("a", 301, Cpu0, 0, InitialTaskState.Running),
            new TaskSpec("b", 302, Cpu0, 0, InitialTaskState.Queued),
            new TaskSpec("s", 303, Cpu0, 0, InitialTaskState.Sleeping),
        ]);
        run.Rounds(6);
        var now = run.MapWord("vtime_now", 0);
        Assert.True(now > ScxConst.SliceDfl, $"vtime_now only reached {now}: the clamp would not apply");

        // When s (dsq_vtime 0) wakes while the CPU is busy
        run.Wake("s");

        // Then it is queued one slice behind the clock, not at 0.
        Assert.Equal(now - ScxConst.SliceDfl, run.W.Tasks[run.Task("s")].DsqVtime);
        run.Rounds(3);
        Assert.NotEmpty(run.RanOn[run.Task("s")]);
        run.AssertHealthy();
    }

    [Fact]
    public void Should_GiveHeavierTaskMoreTurns_When_VtimeButNotWhenFifo()
    {
        // Given three tasks on one CPU, h four times heavier than l1 and l2
        static PolicyRun Run(bool fifo)
        {
            var run = new PolicyRun(() => new Simple(fifo), 1,
            [
                new TaskSpec("l1", 301, Cpu0, 0, InitialTaskState.Running),
                new TaskSpec("l2", 302, Cpu0, 0, InitialTaskState.Queued),
                new TaskSpec("h", 303, Cpu0, 0, InitialTaskState.Queued, Weight: 400),
            ]);
            run.Rounds(30);
            run.AssertHealthy();
            return run;
        }

        // When each runs for 30 slices
        var vtime = Run(fifo: false);
        var fifo = Run(fifo: true);

        // Then in vtime mode h gets clearly more turns than each light task (at most every other
        // one: ops.dispatch runs before the previous task is enqueued again); in FIFO mode they take turns.
        int Turns(PolicyRun r, string t) => r.Cpu0Picks.Count(x => x == r.Task(t));
        Assert.True(2 * Turns(vtime, "h") >= 3 * Turns(vtime, "l1"), $"vtime: h {Turns(vtime, "h")} turns, l1 {Turns(vtime, "l1")}");
        Assert.True(2 * Turns(vtime, "h") >= 3 * Turns(vtime, "l2"), $"vtime: h {Turns(vtime, "h")} turns, l2 {Turns(vtime, "l2")}");
        Assert.InRange(Turns(fifo, "h") - Turns(fifo, "l1"), -1, 1);
    }
}
