using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Simulation;

namespace Scxlab.Tests.BpfObject;

/// <summary>The idle-CPU and DSQ kfuncs of a BPF object map onto the same model calls as the C# API: identical simulations.</summary>
public class BpfKfuncTests
{
    private sealed class PickIdle : ScxOps
    {
        public override async BpfTask Init(InitContext ctx)
        {
            await ctx.CreateDsq(0);
            await ctx.CreateDsq(1);
            await ctx.DestroyDsq(1);
        }

        public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
        {
            var cpu = await ctx.PickIdleCpu(p);
            if (cpu >= 0)
            {
                await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl);
                return cpu;
            }
            if (await ctx.TestAndClearCpuIdle(prevCpu)) return prevCpu;
            return await ctx.PickAnyCpu(p);
        }

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) =>
            await ctx.DsqInsert(p, 0, ScxConst.SliceDfl, enqFlags);

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            if ((await ctx.DsqPeek(0)).IsNone) return;
            await ctx.DsqMoveToLocal(0);
        }
    }

    private static SimResult Run(Func<ScxOps> policy) =>
        new Simulator(Generators.Create("mixed", 4, 16), new SimOptions { Cpus = 4, DurationNs = 200_000_000, Policy = policy, PolicyName = "pick_idle" }).Run();

    [Fact]
    public void Should_SimulateLikeTheCsharpApi_When_ABpfObjectUsesTheIdleCpuAndDsqKfuncs()
    {
        var cs = Run(() => new PickIdle());
        var bpf = Run(PolicyRegistry.Resolve(BpfExamples.CompileProgram("pick_idle.bpf.c", "v3")));
        Assert.Empty(bpf.Exits);
        Assert.True(bpf.Wakeups > 50);
        Assert.Equal(cs.TaskRuntimes, bpf.TaskRuntimes);
        Assert.Equal(cs.Wakeups, bpf.Wakeups);
        Assert.Equal(cs.Migrations, bpf.Migrations);
    }
}
