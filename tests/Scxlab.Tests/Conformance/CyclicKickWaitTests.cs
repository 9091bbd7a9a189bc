using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>cyclic_kick_wait</c>: on CPUs A, B, C every ops.enqueue inserts into the global
/// DSQ and kicks the next CPU of the ring A→B→C→A with SCX_KICK_WAIT; workers pinned to each
/// CPU yield in a loop. The kernel must make progress (no deadlock of the three waits, no
/// watchdog stall): each waiter keeps advancing its own kick_sync while it spins.
/// </summary>
/// <remarks>
/// The selftest kicks from the CPU running ops.enqueue (bpf_get_smp_processor_id()); workers
/// are pinned, so here the task's CPU is that CPU. Yields are modelled as ticks that use up
/// the slice.
/// </remarks>
public class CyclicKickWaitTests
{
    private sealed class Policy : ScxOps
    {
        public MapHandle Bss; // [0] nr_enqueues, [1] nr_wait_kicks
        public override void DeclareMaps(MapBuilder maps) => Bss = maps.Array("bss", 2);

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            await ctx.FetchAdd(Bss, 0, 1);
            await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);
            var cpu = await ctx.TaskCpu(p);
            await ctx.FetchAdd(Bss, 1, 1);
            await ctx.KickCpu((cpu + 1) % 3, KickFlags.Wait);
        }
    }

    [Fact]
    public void Should_MakeProgress_When_ThreeCpusKickEachOtherInACycleWithWait()
    {
        var ticks = new List<ScriptAction>();
        for (var i = 0; i < 8; i++)
            for (var c = 0; c < 3; c++) ticks.Add(Tick(c));
        var d = Driver(() => new Policy(), 3,
        [
            Running("a0", 1501, 0, 0), Queued("a1", 1502, 0, 0),
            Running("b0", 1503, 1, 1), Queued("b1", 1504, 1, 1),
            Running("c0", 1505, 2, 2), Queued("c1", 1506, 2, 2),
        ], rounds: [30, 30, 30], scripts: [new ScriptSpec("yield", 0, ticks)], tickNs: ScxConst.SliceDfl);
        var m = d.Machine;
        var bss = ((Policy)m.Ops).Bss;

        RoundRobin(d);

        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Empty(d.Findings);
        Assert.True(Get(m, bss, 1) >= 6, $"only {Get(m, bss, 1)} wait kicks");
        // Every CPU finished all its rounds: nobody is left spinning in a kick wait.
        for (var a = 0; a < m.ActorCount; a++) Assert.Equal(0, m.World.Actors[a].Depth);
        for (var c = 0; c < 3; c++)
        {
            Assert.Equal(0, m.World.Actors[c].RoundsLeft);
            Assert.False(m.World.Cpus[c].KickSyncPending);
            Assert.True(m.World.Cpus[c].CpusToSync.IsEmpty, $"CPU{c} still has kick_sync targets");
        }
        Assert.Contains(Notes(d), n => n.StartsWith("kick_sync_wait_bal_cb: wait for CPU", StringComparison.Ordinal));
    }
}
