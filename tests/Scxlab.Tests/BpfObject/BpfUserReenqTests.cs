using Scxlab.Bpf;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// programs/user_reenq.bpf.c against its C# twin: scx_bpf_dsq_reenq() on a user DSQ (v7.1's deferred reenq_user():
/// the cursor, the rq-lock dance, SCX_TASK_REENQ_KFUNC in p->scx.flags while ops.enqueue runs), explored under every
/// protocol, and the reduced search against plain DFS on it (the new path's footprints).
/// </summary>
public class BpfUserReenqTests
{
    private sealed class Twin : ScxOps
    {
        private MapHandle _bss; // [0] kfunc_reenqs, [1] other_reenqs
        private const int ReasonMask = 3 << 12, ReenqKfunc = 1 << 12;

        public override void DeclareMaps(MapBuilder maps) => _bss = maps.Array("bss", 2);

        public override async BpfTask Init(InitContext ctx) => await ctx.CreateDsq(0);

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            if ((enqFlags & EnqFlags.Reenq) != 0)
            {
                if ((await ctx.TaskScxFlags(p) & ReasonMask) == ReenqKfunc) await ctx.FetchAdd(_bss, 0, 1);
                else await ctx.FetchAdd(_bss, 1, 1);
                var kfunc = await ctx.Get(_bss, 0);
                if (kfunc >= 2)
                {
                    await ctx.Exit(0, $"kfunc={kfunc} other={await ctx.Get(_bss, 1)}");
                    return;
                }
            }
            await ctx.DsqInsert(p, 0, ScxConst.SliceDfl, enqFlags);
        }

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) => await ctx.DsqMoveToLocal(0);

        public override async BpfTask Tick(TaskContext ctx, TaskRef p) => await ctx.DsqReenq(0);
    }

    /// <summary>Two tasks in DSQ 0, which CPU0's ticks re-enqueue twice while CPU1 dispatches from it.</summary>
    private const string TwoTicks = """
        name: user-reenq
        description: two tasks queued in user DSQ 0; ticks on CPU0 re-enqueue it while CPU1 consumes from it.
        cpus: 2
        protocol: upstream
        policy: simple
        tasks:
          - { name: cur, allowed: [0], cpu: 0, state: running }
          - { name: p, allowed: [0, 1], cpu: 1, state: queued }
          - { name: q, allowed: [0, 1], cpu: 1, state: queued }
        rounds:
          - { cpu: 1, count: 1 }
        actors:
          - name: ticker
            cpu: 0
            do:
              - tick: { cpu: 0 }
              - tick: { cpu: 0 }
        check: [all]
        """;

    private static Scenario Load(string bounds = "")
    {
        var dir = Path.Combine(Path.GetTempPath(), "scxlab-bpf-tests");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, bounds == "" ? "user-reenq.yaml" : "user-reenq-bounds.yaml");
        File.WriteAllText(path, TwoTicks + bounds);
        return ScenarioLoader.Resolve(path);
    }

    private static ExploreResult Explore(ModelConfig config, Scenario s, Strategy strategy = Strategy.Reduced) =>
        new Explorer(new Machine(config), new ExploreOptions { Strategy = strategy, Checks = s.Checks, ShortestTraces = false }).Run();

    private static ModelConfig TwinOf(ModelConfig bpf) => BpfExamples.TwinConfig(bpf, () => new Twin(), "user-reenq-twin");

    private static string Messages(ExploreResult r) => string.Join(" | ", r.Violations.Select(v => v.Violation.ToString()).Order(StringComparer.Ordinal));

    [Fact]
    public void Should_ReenqueueEachTaskOnceWithTheKfuncReason_When_TicksReenqueueAUserDsq()
    {
        var s = Load();
        var r = Explore(s.ToConfig(BpfExamples.CompileProgram("user_reenq.bpf.c", "v3")), s);
        Assert.True(r.Complete, r.IncompleteReason);
        // The two tasks come back through ops.enqueue with SCX_ENQ_REENQ and the reason; never without it.
        Assert.Contains(r.Violations, v => v.Violation.Message.Contains("kfunc=2 other=0", StringComparison.Ordinal));
        Assert.DoesNotContain(r.Violations, v => v.Violation.Message.Contains("other=1", StringComparison.Ordinal));
        Assert.All(r.Violations, v => Assert.Equal(Scxlab.Checks.ViolationKind.Exit, v.Violation.Kind));
    }

    [Fact]
    public void Should_AgreeWithTheCsharpTwin_When_AUserDsqIsReenqueuedUnderEveryProtocol()
    {
        var obj = BpfExamples.CompileProgram("user_reenq.bpf.c", "v3");
        var s = Load();
        foreach (var protocol in Enum.GetValues<Protocol>())
            foreach (var kernel in new[] { KernelEra.V7_1, KernelEra.V7_3 })
            {
                var bpfConfig = s.ToConfig(obj, protocol, kernel: kernel);
                var bpf = Explore(bpfConfig, s);
                var cs = Explore(TwinOf(bpfConfig), s);
                var cell = $"{ProtocolNames.Name(protocol)} × {kernel}";
                Assert.True(bpf.Complete && cs.Complete, cell);
                Assert.Equal((cell, cs.Verdict), (cell, bpf.Verdict));
                Assert.Equal((cell, Messages(cs)), (cell, Messages(bpf)));
            }
    }

    [Fact]
    public void Should_StopAtTheModelsLimitNotEndTheScheduler_When_AUserDsqPastTheSixtyFourthIsReenqueued()
    {
        // The rq's record of deferred user-DSQ re-enqueues holds the first 64 user DSQs. DSQ 64 is the 65th: the
        // kernel would re-enqueue it, so a scheduler exit here would be a false finding.
        var s = Load("\nbounds: { user_dsqs: 70 }\n");
        var config = s.ToConfig(BpfExamples.CompileProgram("user_reenq.bpf.c", "v3") + "@reenq_dsq=64");
        var r = Explore(config, s);
        Assert.Empty(r.Violations);
        Assert.Contains(r.ModelLimits, v => v.Violation.Message.Contains("scx_bpf_dsq_reenq(0x40): the model records deferred user-DSQ re-enqueues for the first 64 user DSQs only", StringComparison.Ordinal));
        // DSQ 63, the 64th, is re-enqueued as DSQ 0 is.
        var within = Explore(s.ToConfig(BpfExamples.CompileProgram("user_reenq.bpf.c", "v3") + "@reenq_dsq=63"), s);
        Assert.Empty(within.ModelLimits);
    }

    [Fact]
    public void Should_VisitTheStatesOfPlainDfs_When_TheReducedSearchExploresAUserDsqReenqueue()
    {
        var s = Load();
        foreach (var config in new[] { s.ToConfig(BpfExamples.CompileProgram("user_reenq.bpf.c", "v3")), TwinOf(s.ToConfig()) })
        {
            var dfs = Explore(config, s, Strategy.Dfs);
            var reduced = Explore(config, s, Strategy.Reduced);
            Assert.Equal(dfs.Stats.States, reduced.Stats.States);
            Assert.Equal(Messages(dfs), Messages(reduced));
        }
    }
}
