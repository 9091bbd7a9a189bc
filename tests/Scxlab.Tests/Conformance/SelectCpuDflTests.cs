using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>select_cpu_dfl</c>: no ops.select_cpu, so the kernel's default selection runs;
/// a wakeup that finds an idle CPU is direct-dispatched to it (SCX_DSQ_LOCAL verdict), and
/// ops.enqueue never sees that task. Userspace asserts <c>!saw_local</c>.
/// </summary>
public class SelectCpuDflTests
{
    /// <summary>BPF side: enqueue counts calls (the model's saw_local witness) and inserts into SCX_DSQ_GLOBAL.</summary>
    private sealed class Policy : ScxOps
    {
        public MapHandle Counters;
        public override void DeclareMaps(MapBuilder maps) => Counters = maps.Array("bss", 1);

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            await ctx.FetchAdd(Counters, 0, 1);
            await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);
        }
    }

    [Fact]
    public void Should_DirectDispatchToTheIdleCpu_WithoutOpsEnqueue_When_AnIdleCpuExists()
    {
        var d = Driver(() => new Policy(), 2,
            [Sleeping("a", 201, 0, 0, 1), Sleeping("b", 202, 0, 0, 1), Sleeping("c", 203, 0, 0, 1)],
            rounds: [2, 2],
            scripts: [new ScriptSpec("waker", 0, [Wake(0), Wake(1)]), new ScriptSpec("late", 0, [Wake(2)])]);
        var m = d.Machine;
        var policy = (Policy)m.Ops;

        RunActor(d, "waker");

        // Both CPUs were idle: each wakeup claimed one and went straight to its local DSQ.
        Assert.Equal(0, Get(m, policy.Counters, 0));
        Assert.Equal(0, Count(d, "ops.enqueue"));
        Assert.Equal(["a"], Dsq(m, m.LocalSlot(0)));
        Assert.Equal(["b"], Dsq(m, m.LocalSlot(1)));
        Assert.Equal(OpsState.None, State(m, "a"));
        Assert.False(m.World.Cpus[0].Idle);
        Assert.False(m.World.Cpus[1].Idle);

        // No idle CPU left: the default selection returns prev without a verdict, so ops.enqueue runs.
        RunActor(d, "late");
        Assert.Equal(1, Get(m, policy.Counters, 0));
        Assert.Equal(["c"], Dsq(m, Machine.GlobalSlot));

        d.RunToQuiescence();
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Equal(0, m.World.Cpus[0].Curr);
        Assert.Equal(1, m.World.Cpus[1].Curr);
    }
}
