using Scxlab.Bpf;
using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Stepping;

namespace Scxlab.Tests.Kernel;

/// <summary>The seed email's interleaving (R2) under each kernel-side protocol variant, driven step by step.</summary>
public class ProtocolVariantTests
{
    /// <summary>CPU0 runs until it is about to call <paramref name="before"/>; then taskset runs the whole affinity change; then CPU0 finishes its round.</summary>
    private static ScheduleDriver R2(Func<ScxOps> policy, Protocol protocol, CallKind before)
    {
        var d = new ScheduleDriver(TestModels.SeedRace(policy, protocol));
        d.StepUntil("CPU0", m => m.PeekPendingCall(d.ActorId("CPU0")) == before);
        d.Finish("taskset");
        d.Finish("CPU0");
        return d;
    }

    private static bool PolicyHolds(Machine m, int task) =>
        m.Ops.HoldsTask(new MapView(m.World.Maps), new TaskRef(task), m.Config.Tasks[task].Pid) == true;

    [Fact]
    public void Should_ForgetTheTask_When_QseqInvalidateDropsTheR2Dispatch()
    {
        var d = R2(() => new LocalOnPeek(), Protocol.QseqInvalidate, CallKind.ListRemove);
        var w = d.Machine.World;
        Assert.Equal(ExitKind.None, w.Sched.ExitKind);
        // QUEUED (the BPF scheduler owns it), on no DSQ, and not in the policy's queue: forgotten.
        Assert.Equal(OpsState.Queued, OpsWord.State(w.Tasks[0].OpsState));
        Assert.Equal(-1, w.Tasks[0].Dsq);
        Assert.False(PolicyHolds(d.Machine, 0));
    }

    [Fact]
    public void Should_ParkOnFallbackDsqWithoutExit_When_FallbackDsqMeetsR2()
    {
        var d = R2(() => new LocalOnPeek(), Protocol.FallbackDsq, CallKind.ListRemove);
        var w = d.Machine.World;
        Assert.Equal(ExitKind.None, w.Sched.ExitKind);
        Assert.Equal(d.Machine.FallbackSlot(1), w.Tasks[0].Dsq);
        Assert.Equal(1, w.Events[(int)ScxEvent.FallbackDsqUse]);
    }

    [Fact]
    public void Should_RejectStaleInsertAndKeepTask_When_CookiePeekMeetsR2()
    {
        var d = R2(() => new CookiePeek(), Protocol.Cookie, CallKind.ListRemove);
        var w = d.Machine.World;
        Assert.Equal(ExitKind.None, w.Sched.ExitKind);
        Assert.True(PolicyHolds(d.Machine, 0));
        Assert.Equal(OpsState.Queued, OpsWord.State(w.Tasks[0].OpsState));
    }

    [Fact]
    public void Should_RejectStaleCommitAsTargetStale_When_GhostAgentMeetsR2()
    {
        var d = R2(() => new GhostPeek(), Protocol.Ghost, CallKind.ListRemove);
        var w = d.Machine.World;
        Assert.Equal(ExitKind.None, w.Sched.ExitKind);
        Assert.Contains(d.Steps.SelectMany(s => s.Notes), n => n.Contains("TargetStale"));
        Assert.True(PolicyHolds(d.Machine, 0));
    }

    [Fact]
    public void Should_EndTheScheduler_When_CookieKfuncIsUsedOnUpstream()
    {
        var d = R2(() => new CookiePeek(), Protocol.Upstream, CallKind.ListRemove);
        Assert.Equal(ExitKind.Error, d.Machine.World.Sched.ExitKind);
        Assert.StartsWith("scx_bpf_task_get_cookie() is not provided by this kernel", d.Machine.World.ExitMessage);
    }
}
