using Scxlab.Bpf;
using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Stepping;

namespace Scxlab.Tests.Kernel;

/// <summary>Races R1 and R2 (reference §4.2, §4.3) and the "late change", driven step by step under today's kernel.</summary>
public class SeedRaceTests
{
    private static void RunCpu0UntilPending(ScheduleDriver d, CallKind kind) =>
        d.StepUntil("CPU0", m => m.PeekPendingCall(d.ActorId("CPU0")) == kind);

    [Fact]
    public void Should_ExitWithTargetNotAllowed_AndParkOnGlobal_When_R2AffinityChangeLandsBetweenTestAndRemove()
    {
        // Given the seed email's interleaving: CPU0 tests p's mask, CPU1 changes it, CPU0 removes and inserts.
        var d = new ScheduleDriver(TestModels.SeedRace(() => new LocalOnPeek()));
        RunCpu0UntilPending(d, CallKind.TaskTestCpu);
        d.Step("CPU0"); // test cpumask(0, p->cpus_ptr) with the old mask: allowed
        Assert.Equal(CallKind.ListRemove, d.Machine.PeekPendingCall(d.ActorId("CPU0")));

        // When CPU1 runs the whole affinity change (dequeue → set_cpus_allowed → enqueue)
        d.Finish("taskset");
        var p = d.Machine.World.Tasks[0];
        Assert.Equal(OpsState.Queued, OpsWord.State(p.OpsState));
        Assert.Equal(CpuMask.Of(1), p.CpusPtr);

        // and CPU0 finishes its round
        d.Finish("CPU0");

        // Then the kernel raises the error and parks p on the global DSQ: not lost.
        var w = d.Machine.World;
        Assert.Equal(ExitKind.Error, w.Sched.ExitKind);
        Assert.Equal($"SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for p[{TestModels.PidP}]", w.ExitMessage);
        Assert.Equal(Machine.GlobalSlot, w.Tasks[0].Dsq);
        Assert.Equal(OpsState.None, OpsWord.State(w.Tasks[0].OpsState));
    }

    [Fact]
    public void Should_ExitWithTargetNotAllowed_When_R1AffinityChangeLandsBetweenPopAndInsert()
    {
        var d = new ScheduleDriver(TestModels.SeedRace(() => new LocalOnPop()));
        RunCpu0UntilPending(d, CallKind.DsqInsert); // popped p and tested the old mask
        d.Finish("taskset");
        d.Finish("CPU0");
        var w = d.Machine.World;
        Assert.Equal(ExitKind.Error, w.Sched.ExitKind);
        Assert.Equal($"SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for p[{TestModels.PidP}]", w.ExitMessage);
        Assert.Equal(Machine.GlobalSlot, w.Tasks[0].Dsq);
    }

    [Fact]
    public void Should_DropStaleEntrySilently_AndDispatchLater_When_AffinityChangeLandsBetweenInsertAndFlush()
    {
        // Given CPU0 has inserted p (qseq q0) into its dispatch buffer with the old mask
        var d = new ScheduleDriver(TestModels.SeedRace(() => new LocalOnPeek(), cpu0Rounds: 2));
        RunCpu0UntilPending(d, CallKind.DsqInsert);
        d.Step("CPU0"); // scx_bpf_dsq_insert(p, LOCAL_ON|0): buffered with q0
        Assert.Equal(1, d.Machine.World.Cpus[0].DspCursor);

        // When the affinity change completes before the flush (new instance q1)
        d.Finish("taskset");
        d.Finish("CPU0");

        // Then finish_dispatch's qseq check drops the stale entry silently; the dispatch loop retries
        // (nr_tasks > 0), ops.dispatch sees the new mask and sends p to the global DSQ: no error.
        var w = d.Machine.World;
        Assert.Equal(ExitKind.None, w.Sched.ExitKind);
        Assert.Equal(1, w.Events[(int)ScxEvent.DispatchDroppedQseq]);
        Assert.Equal(Machine.GlobalSlot, w.Tasks[0].Dsq);
        Assert.Equal(OpsState.None, OpsWord.State(w.Tasks[0].OpsState));
        Assert.Empty(d.Findings);
    }
}
