using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>peek_dsq</c>. Phase 1: the first ops.enqueue peeks the empty DSQ 1234 (expects
/// NULL) and inserts its task there; ops.dispatch on that CPU peeks it (expects that task) and
/// moves it to local. Phase 2: tasks go to a pool of DSQs; ops.dispatch peeks every pool DSQ
/// and moves one. Checks: no exit, insert_test_cpu set, result1 NULL, result2 == expected,
/// some pool peek non-NULL.
/// </summary>
public class PeekDsqTests
{
    private const ulong TestDsq = 1234;
    private const ulong PoolBase = 2000;
    private const int PoolSize = 4;

    internal enum Bss { Phase, InsertTestCpu, Result1, Result2, Result2Expected, PoolNonNull, EnqueueCount, Count }

    private sealed class Policy : ScxOps
    {
        public MapHandle Vars;
        public override void DeclareMaps(MapBuilder maps) => Vars = maps.Array("bss", (int)Bss.Count);

        public override async BpfTask Init(InitContext ctx)
        {
            await ctx.Set(Vars, (int)Bss.InsertTestCpu, -1);
            await ctx.Set(Vars, (int)Bss.Result1, -99);
            await ctx.Set(Vars, (int)Bss.Result2, -99);
            if (!await ctx.CreateDsq(TestDsq)) await ctx.Error("create 1234");
            for (var i = 0; i < PoolSize; i++)
                if (!await ctx.CreateDsq(PoolBase + (ulong)i)) await ctx.Error("create pool");
        }

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            await ctx.FetchAdd(Vars, (int)Bss.EnqueueCount, 1);
            if (await ctx.Get(Vars, (int)Bss.Phase) == 0)
            {
                var peeked = await ctx.DsqPeek(TestDsq);
                await ctx.Set(Vars, (int)Bss.Result1, peeked.IsNone ? 0 : ctx.Pid(peeked));
                await ctx.Set(Vars, (int)Bss.Result2Expected, ctx.Pid(p));
                await ctx.Set(Vars, (int)Bss.InsertTestCpu, await ctx.TaskCpu(p));
                await ctx.Set(Vars, (int)Bss.Phase, 1);
                await ctx.DsqInsert(p, TestDsq, ScxConst.SliceDfl, enqFlags);
                return;
            }
            var slot = (ulong)(await ctx.PrandomU32() % PoolSize);
            await ctx.DsqInsert(p, PoolBase + slot, ScxConst.SliceDfl, enqFlags);
        }

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            if (await ctx.Get(Vars, (int)Bss.Phase) == 1 && await ctx.Get(Vars, (int)Bss.InsertTestCpu) == cpu)
            {
                var peeked = await ctx.DsqPeek(TestDsq);
                await ctx.Set(Vars, (int)Bss.Result2, peeked.IsNone ? 0 : ctx.Pid(peeked));
                await ctx.DsqMoveToLocal(TestDsq);
                await ctx.Set(Vars, (int)Bss.Phase, 2);
                return;
            }
            for (var i = 0; i < PoolSize; i++)
            {
                var peeked = await ctx.DsqPeek(PoolBase + (ulong)i);
                if (peeked.IsNone) continue;
                await ctx.FetchAdd(Vars, (int)Bss.PoolNonNull, 1);
                if (await ctx.DsqMoveToLocal(PoolBase + (ulong)i)) return;
            }
        }
    }

    [Fact]
    public void Should_PeekNullThenTheInsertedTask_AndSeeThePool()
    {
        var d = Driver(() => new Policy(), 2,
            [Queued("w0", 1101, 0, 0, 1), Queued("w1", 1102, 1, 0, 1), Queued("w2", 1103, 0, 0, 1), Queued("w3", 1104, 1, 0, 1)],
            rounds: [2, 2]);
        var m = d.Machine;
        var v = ((Policy)m.Ops).Vars;
        Assert.True(Get(m, v, (int)Bss.EnqueueCount) > 0);

        RoundRobin(d);

        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.NotEqual(-1, Get(m, v, (int)Bss.InsertTestCpu));
        Assert.Equal(0, Get(m, v, (int)Bss.Result1));
        Assert.Equal(1101, Get(m, v, (int)Bss.Result2Expected));
        Assert.Equal(Get(m, v, (int)Bss.Result2Expected), Get(m, v, (int)Bss.Result2));
        Assert.True(Get(m, v, (int)Bss.PoolNonNull) > 0);
        Assert.Equal(2, Get(m, v, (int)Bss.Phase));
    }
}
