using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// SCX_KICK_WAIT's handshake: the waiter in kick_sync_wait_bal_cb() leaves once the target's
/// <c>rq->scx.kick_sync</c> moved. ext.c bumps it at the top of do_pick_task_scx(), before balance_one(),
/// and in put_prev_task_scx(): the target has started picking, not finished.
/// </summary>
public class KickSyncTests
{
    /// <summary>CPU0's first ops.dispatch kicks CPU1 (running b) with SCX_KICK_WAIT|SCX_KICK_PREEMPT; every ops.dispatch on CPU1 counts itself; all consume user DSQ 0.</summary>
    private sealed class KickWaitOnce : ScxOps
    {
        public MapHandle Bss; // [0] kicked, [1] ops.dispatch calls on CPU1
        public override void DeclareMaps(MapBuilder maps) => Bss = maps.Array("bss", 2);
        public override async BpfTask Init(InitContext ctx) => await ctx.CreateDsq(0);
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await ctx.DsqInsert(p, 0, ScxConst.SliceDfl, enqFlags);

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            if (cpu == 1) await ctx.FetchAdd(Bss, 1, 1);
            if (cpu == 0 && await ctx.FetchAdd(Bss, 0, 1) == 0) await ctx.KickCpu(1, KickFlags.Wait | KickFlags.Preempt);
            await ctx.DsqMoveToLocal(0);
        }
    }

    [Fact]
    public void Should_ReleaseTheKickWaiter_When_TheTargetHasStartedPicking()
    {
        // Given CPU0 waiting in kick_sync_wait_bal_cb() for CPU1, which it kicked with SCX_KICK_WAIT
        var d = Driver(() => new KickWaitOnce(), 2, [Queued("a", 101, 0, 0), Running("b", 102, 1, 1)], rounds: [2, 2]);
        var m = d.Machine;
        var cpu0 = d.ActorId("CPU0");
        var cpu1 = d.ActorId("CPU1");
        var bss = ((KickWaitOnce)m.Ops).Bss;
        for (var i = 0; i < 1000 && !WaitsOnKickSync(m, cpu0) && m.IsEnabled(cpu0); i++) d.Step(cpu0);
        Assert.True(WaitsOnKickSync(m, cpu0), $"CPU0 never waited for CPU1's kick_sync: {TopPath(d, "CPU0")} {string.Join(" / ", d.Steps.SelectMany(s => s.Notes))}");
        Assert.False(m.IsEnabled(cpu0));

        // When CPU1 is inside its ops.dispatch (its pick has begun: do_pick_task_scx() ran, balance_one() called it)
        for (var i = 0; i < 1000 && Get(m, bss, 1) == 0; i++) d.Step(cpu1);
        Assert.Equal(1, Get(m, bss, 1));
        Assert.True(InPath(d, "CPU1", PathId.BalanceOne));

        // Then CPU0 may leave its wait: CPU1's kick_sync moved at the top of do_pick_task_scx()
        Assert.True(m.IsEnabled(cpu0), "CPU0 still waits although CPU1 has started picking");
        RoundRobin(d);
        AssertNoFindings(d);
    }

    private static bool WaitsOnKickSync(Machine m, int actor)
    {
        var w = m.World;
        var depth = w.Actors[actor].Depth;
        return depth > 0 && w.Frames[actor * w.MaxDepth + depth - 1].Wait == WaitKind.KickSync;
    }
}
