using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>dsp_local_on</c>: ops.select_cpu returns prev; ops.enqueue pushes the pid into a
/// BPF queue; ops.dispatch pops one and inserts SCX_DSQ_LOCAL_ON|target, where target is a
/// random CPU if the task may run anywhere and is not migration-disabled, else
/// scx_bpf_task_cpu(p). Without an affinity change it runs with no error (uei.kind stays
/// NONE until userspace unregisters: SCX_EXIT_UNREG).
/// </summary>
public class DspLocalOnTests
{
    private sealed class Policy(int nrCpus) : ScxOps
    {
        public MapHandle Queue;
        public MapHandle Targets; // per task: last target CPU + 1
        public override void DeclareMaps(MapBuilder maps)
        {
            Queue = maps.Queue("queue", 64);
            Targets = maps.TaskStorage("target", 1);
        }

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            if (!await ctx.Push(Queue, ctx.Pid(p))) await ctx.Error($"Failed to enqueue {ctx.Comm(p)}");
        }

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var popped = await ctx.Pop(Queue);
            if (!popped.Found) return;
            var p = ctx.TaskFromPid(popped.Value);
            if (p.IsNone) return;
            int target;
            if (await ctx.TaskNrCpusAllowed(p) == nrCpus && !await ctx.TaskMigrationDisabled(p))
                target = (int)(await ctx.PrandomU32() % (uint)nrCpus);
            else
                target = await ctx.TaskCpu(p);
            await ctx.TaskSet(Targets, p, 0, target + 1);
            await ctx.DsqInsert(p, DsqId.LocalOn(target), ScxConst.SliceDfl);
        }
    }

    [Fact]
    public void Should_SendUnrestrictedTasksAnywhere_AndRestrictedOnesToTheirCpu_WithoutError()
    {
        var d = Driver(() => new Policy(3), 3,
        [
            Queued("free1", 701, 0, 0, 1, 2), Queued("free2", 702, 1, 0, 1, 2), Queued("free3", 703, 2, 0, 1, 2),
            Queued("pinned", 704, 2, 2), Queued("pair", 705, 1, 0, 1),
        ], rounds: [4, 4, 4]);
        var m = d.Machine;
        var policy = (Policy)m.Ops;

        RoundRobin(d);

        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Empty(d.Findings);
        Assert.Equal(0, new MapView(m.World.Maps).Count(policy.Queue)); // every task was dispatched
        for (var t = 0; t < m.World.Tasks.Length; t++)
        {
            ref readonly var p = ref m.World.Tasks[t];
            var target = (int)TaskGet(m, policy.Targets, t, 0) - 1;
            Assert.True(p.CpusPtr.Test(target), $"{m.TaskName(t)} sent to CPU{target}");
            // Each landed on its target: running there or queued on that local DSQ.
            Assert.Equal(target, p.Cpu);
            Assert.True(m.World.Cpus[target].Curr == t || p.Dsq == m.LocalSlot(target), $"{m.TaskName(t)} not on CPU{target}");
        }
        // Restricted tasks go to their own CPU.
        Assert.Equal(2, (int)TaskGet(m, policy.Targets, 3, 0) - 1);
        Assert.Equal(1, (int)TaskGet(m, policy.Targets, 4, 0) - 1);
    }
}
