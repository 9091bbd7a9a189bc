using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Tests.Policies;

/// <summary>
/// The R1/R2 family (reference §4.2–§4.3) swept over every interleaving point of CPU0's round:
/// the policies built to survive it never end the scheduler and never lose p; the exposed ones
/// do hit "SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed" somewhere, which shows the sweep reaches
/// the window at all.
/// </summary>
public class AffinityRaceSweepTests
{
    private static readonly string NotAllowed = $"SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for p[{TestModels.PidP}]";

    private static void AssertSurvives(List<PolicyRun.SweepPoint> points, string name)
    {
        Assert.True(points.Count > 10, $"{name}: the sweep covered only {points.Count} points");
        foreach (var pt in points)
        {
            Assert.True(pt.Exit == ExitKind.None, $"{name}: affinity change after step {pt.At} of CPU0: {pt.Exit}: {pt.Message}");
            PolicyRun.AssertNothingLost(pt.Machine);
            // p ends up running on the only CPU it may use, unless it was already running on
            // CPU0 when the change came (the model migrates a running task only once it is
            // switched out, and CPU0 has no round left).
            var cpus = pt.Machine.World.Cpus;
            if (pt.RunningBeforeChange) Assert.True(cpus[0].Curr == 0 || cpus[1].Curr == 0, $"{name}: p not running after step {pt.At}");
            else Assert.True(cpus[1].Curr == 0, $"{name}: affinity change after step {pt.At} of CPU0: p is not running on CPU1");
        }
    }

    [Fact]
    public void Should_NeverExitAndRunP_When_AffinityChangeLandsAnywhereInInsertRecheckCancelDispatch()
    {
        // Given insert-recheck-cancel, when taskset lands at every point of CPU0's round
        var points = PolicyRun.Sweep(() => new InsertRecheckCancel());

        // Then no placement ends the scheduler or loses p
        AssertSurvives(points, "insert-recheck-cancel");
        // and some placement needed the cancel (the re-test saw the new mask)
        Assert.Contains(points, pt => pt.Cancelled);
        // while the same sweep without the re-test (local-on-pop) is fatal somewhere.
        Assert.Contains(PolicyRun.Sweep(() => new LocalOnPop()), pt => pt.Exit == ExitKind.Error);
    }

    [Fact]
    public void Should_NeverExitAndRunP_When_AffinityChangeLandsAnywhereInDequeueSyncDispatch()
    {
        var points = PolicyRun.Sweep(() => new DequeueSync());
        AssertSurvives(points, "dequeue-sync");
    }

    [Fact]
    public void Should_NeverExitAndCancelStaleDecisions_When_AffinityChangeLandsAnywhereInUserspaceDispatch()
    {
        var points = PolicyRun.Sweep(() => new Userspace());
        AssertSurvives(points, "userspace");
        // The generation check fired where the re-enqueue beat the insert.
        Assert.Contains(points, pt => pt.Cancelled);
    }

    [Theory]
    [InlineData("local-on-pop")]
    [InlineData("local-on-peek")]
    [InlineData("central")]
    public void Should_HitTargetNotAllowedSomewhere_ButNotLoseP_When_PolicyTestsMaskOnlyBeforeInsert(string name)
    {
        var points = PolicyRun.Sweep(PolicyRegistry.Resolve(name));

        var exits = points.Where(pt => pt.Exit != ExitKind.None).ToList();
        Assert.NotEmpty(exits);
        foreach (var pt in exits)
        {
            Assert.Equal(ExitKind.Error, pt.Exit);
            Assert.Equal(NotAllowed, pt.Message);
        }
        // Every placement, fatal or not, leaves p somewhere: the kernel parks it on the global
        // DSQ and the disable path hands it to the fair class.
        foreach (var pt in points)
        {
            var p = pt.Machine.World.Tasks[0];
            var running = pt.Machine.World.Cpus[0].Curr == 0 || pt.Machine.World.Cpus[1].Curr == 0;
            // Or back in BPF custody and held by the policy (e.g. the stopper moved p off CPU0 and
            // the enqueue on CPU1 handed it to ops.enqueue again).
            var held = Scxlab.Kernel.OpsWord.State(p.OpsState) == Scxlab.Kernel.OpsState.Queued
                && pt.Machine.Ops.HoldsTask(new Scxlab.Bpf.MapView(pt.Machine.World.Maps), new Scxlab.Bpf.TaskRef(0), pt.Machine.Config.Tasks[0].Pid) == true;
            Assert.True(running || p.Dsq >= 0 || p.FairQueued || held, $"{name}: p lost after step {pt.At}");
        }
    }
}
