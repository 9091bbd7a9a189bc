using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>select_cpu_dfl_nodispatch</c>: ops.select_cpu calls scx_bpf_select_cpu_dfl()
/// without inserting, keeps is_idle in task storage, and ops.enqueue inserts into
/// SCX_DSQ_LOCAL when it was idle (setting saw_local), SCX_DSQ_GLOBAL otherwise.
/// Userspace asserts <c>saw_local</c>.
/// </summary>
public class SelectCpuDflNodispatchTests
{
    private sealed class Policy : ScxOps
    {
        public MapHandle Bss;       // [0] saw_local
        public MapHandle TaskCtx;   // field 0: force_local
        public override void DeclareMaps(MapBuilder maps)
        {
            Bss = maps.Array("bss", 1);
            TaskCtx = maps.TaskStorage("task_ctx", 1);
        }

        public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
        {
            var (cpu, idle) = await ctx.SelectCpuDfl(p, prevCpu, wakeFlags);
            await ctx.TaskSet(TaskCtx, p, 0, idle ? 1 : 0);
            return cpu;
        }

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            if (await ctx.TaskGet(TaskCtx, p, 0) != 0)
            {
                await ctx.Set(Bss, 0, 1);
                await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl, enqFlags);
            }
            else
            {
                await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);
            }
        }
    }

    [Fact]
    public void Should_ReachOpsEnqueue_AndInsertLocal_When_SelectCpuDflFoundAnIdleCpuWithoutInserting()
    {
        var d = Driver(() => new Policy(), 2, [Sleeping("a", 201, 0, 0, 1), Sleeping("b", 202, 0, 0, 1), Sleeping("c", 203, 0, 0, 1)],
            rounds: [1, 1], scripts: [new ScriptSpec("waker", 0, [Wake(0), Wake(1), Wake(2)])]);
        var m = d.Machine;
        var policy = (Policy)m.Ops;

        RunActor(d, "waker");

        Assert.Equal(1, Get(m, policy.Bss, 0)); // saw_local
        // Callback order per wakeup: select_cpu then enqueue (no direct-dispatch verdict from select_cpu).
        Assert.Equal(["ops.select_cpu(a[201])", "ops.enqueue(a[201])", "ops.select_cpu(b[202])", "ops.enqueue(b[202])", "ops.select_cpu(c[203])", "ops.enqueue(c[203])"], Callbacks(d));
        Assert.Equal(["a"], Dsq(m, m.LocalSlot(0)));
        Assert.Equal(["b"], Dsq(m, m.LocalSlot(1)));
        Assert.Equal(["c"], Dsq(m, Machine.GlobalSlot)); // no idle CPU left for c
        d.RunToQuiescence();
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }
}
