using Scxlab.Bpf;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Kernel;

/// <summary>
/// dispatch_enqueue(…, SCX_ENQ_CLEAR_OPSS) into a non-local DSQ drops the DSQ lock before its store-release of
/// ops_state (V-B order). A CPU that takes the lock in that window and consumes the task from another rq sets
/// p->scx.holding_cpu while p is still QUEUEING (a direct dispatch) — the kernel's own transient state: the
/// consumer then waits for the task's rq lock, which the enqueuer holds until after the release. Found by the
/// kernel's allowed_cpus and nohz_tick selftests (both insert into SCX_DSQ_GLOBAL from ops.enqueue), which the
/// OpsStateWellFormed check reported as "has holding_cpu 0 but is QUEUEING".
/// </summary>
public class ReleaseWindowTests
{
    /// <summary>ops.select_cpu keeps prev_cpu; ops.enqueue direct-dispatches every task to the global DSQ (the selftests' pattern).</summary>
    private sealed class GlobalFromEnqueue : ScxOps
    {
        public override BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags) => prevCpu;

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) =>
            await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);
    }

    [Fact]
    public void Should_Hold_When_ACpuConsumesADirectlyDispatchedTaskBeforeItsOpsStateIsReleased()
    {
        var s = ScenarioLoader.Resolve(Path.Combine(Scxlab.Tests.BpfObject.BpfExamples.Root(), "examples", "selftests", "wakeup.yaml"));
        var config = Scxlab.Tests.BpfObject.BpfExamples.TwinConfig(s.ToConfig(), () => new GlobalFromEnqueue(), "global-from-enqueue");
        var r = new Explorer(new Machine(config), new ExploreOptions { Checks = s.Checks }).Run();
        Assert.True(r.Complete, r.IncompleteReason);
        Assert.True(r.Violations.Count == 0, string.Join("; ", r.Violations.Select(v => v.Violation.ToString())));
    }
}
