using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>enq_last_no_enq_fails</c>: a scheduler with SCX_OPS_ENQ_LAST and no
/// ops.enqueue. validate_ops() fails the enable with scx_error(); the attach itself succeeds
/// (the enable path returns 0 to the link) and ops.exit sees a non-zero exit kind.
/// </summary>
public class EnqLastNoEnqFailsTests
{
    private sealed class Policy : ScxOps
    {
        public MapHandle Bss; // [0] exit_kind
        public override OpsFlags Flags => OpsFlags.EnqLast;
        public override void DeclareMaps(MapBuilder maps) => Bss = maps.Array("bss", 1);
        public override async BpfTask Exit(BpfContext ctx, ExitKind kind) => await ctx.Set(Bss, 0, (long)kind);
    }

    [Fact]
    public void Should_LoadThenExitWithError_When_EnqLastIsSetWithoutOpsEnqueue()
    {
        // Attach succeeds: building the model does not throw.
        var d = Driver(() => new Policy(), 1, [Queued("a", 801, 0, 0)], rounds: [1]);
        var m = d.Machine;
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("SCX_OPS_ENQ_LAST requires ops.enqueue() to be implemented", m.World.ExitMessage);

        d.RunToQuiescence();
        Assert.Equal((long)ExitKind.Error, Get(m, ((Policy)m.Ops).Bss, 0)); // "Incorrectly stayed loaded" otherwise
        Assert.True(m.World.Sched.Disabled);
        AssertNothingLost(m);
    }

    private sealed class WithEnqueue : ScxOps
    {
        public override OpsFlags Flags => OpsFlags.EnqLast;
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);
    }

    [Fact]
    public void Should_StayLoaded_When_EnqLastComesWithOpsEnqueue()
    {
        var m = new Machine(new ModelConfig { CpuCount = 1, Tasks = [Queued("a", 801, 0, 0)], PolicyFactory = () => new WithEnqueue() });
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }
}
