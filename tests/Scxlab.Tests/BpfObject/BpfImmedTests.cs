using Scxlab.Bpf;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// programs/immed.bpf.c: SCX_ENQ_IMMED (7.1). A task inserted into a local DSQ with it runs at once or goes back to
/// ops.enqueue with SCX_ENQ_REENQ and reason SCX_TASK_REENQ_IMMED (2); a running one that a higher class (here
/// the stopper of an affinity change) preempts goes back with SCX_TASK_REENQ_PREEMPTED (3). The program ends the
/// scheduler at its first re-enqueue, reporting the reason, so a re-enqueue is an exit and none is `holds`. Each test
/// asserts the whole set of findings, so a stray kernel warning fails it too.
/// </summary>
public class BpfImmedTests
{
    private const string Reenq = "scheduler exit SCX_EXIT_UNREG_BPF: reason=2 reenq=1 task_immed=0";

    /// <summary>q is queued on CPU1 and goes to CPU0's local DSQ from ops.enqueue; p runs on CPU0 (or CPU0 is idle).</summary>
    private static string OneInsert(bool cpu0Busy, string qAllowed = "[0, 1]") => """
        name: immed-insert
        cpus: 2
        policy: simple
        tasks:
        """ + (cpu0Busy ? "\n  - { name: p, allowed: [0, 1], cpu: 0, state: running }" : "") + $$"""

          - { name: q, allowed: {{qAllowed}}, cpu: 1, state: queued }
        rounds:
          - { cpu: 0, count: 2 }
          - { cpu: 1, count: 1 }
        check: [all]
        """;

    /// <summary>Tasks queued on CPU0 that ops.enqueue puts in user DSQ 7, for CPU0's ops.dispatch to move.</summary>
    private static string InUserDsq(int tasks) => """
        name: immed-consume
        cpus: 2
        policy: simple
        tasks:
          - { name: p, allowed: [0], cpu: 0, state: queued }
        """ + (tasks > 1 ? "\n  - { name: q, allowed: [0], cpu: 0, state: queued }" : "") + """

        rounds:
          - { cpu: 0, count: 2 }
        check: [all]
        """;

    private const string RunningThenMoved = """
        name: immed-preempted
        cpus: 2
        policy: simple
        tasks:
          - { name: q, allowed: [0, 1], cpu: 1, state: queued }
        rounds:
          - { cpu: 0, count: 1 }
        actors:
          - name: taskset
            cpu: 1
            do:
              - set_affinity: { task: q, allowed: [1] }
        check: [all]
        """;

    private static ExploreResult Explore(string yaml, int mode, Strategy strategy = Strategy.Reduced, string ops = "immed_ops", Protocol? protocol = null)
    {
        var s = ScenarioLoader.Parse(yaml, "immed.yaml");
        var policy = BpfExamples.CompileProgram("immed.bpf.c", "v3") + $"@mode={mode},ops:{ops}";
        return new Explorer(new Machine(s.ToConfig(policy, protocol)), new ExploreOptions { Checks = s.Checks, Strategy = strategy }).Run();
    }

    private static string[] Findings(ExploreResult r) => [.. r.Violations.Select(v => v.Violation.ToString()).Order(StringComparer.Ordinal)];

    [Theory]
    [InlineData(Strategy.Dfs)]
    [InlineData(Strategy.Reduced)]
    public void Should_GoBackToOpsEnqueueWithReasonImmed_When_AnImmedInsertFindsItsCpuBusy(Strategy strategy)
    {
        // CPU0 runs p: rq_is_open() is false (an SCX task is next and CPU0 is not balancing), so dsq_inc_nr() queues
        // CPU0's local re-enqueue, and q comes back with reason IMMED, SCX_TASK_IMMED cleared by do_enqueue_task().
        Assert.Equal([Reenq], Findings(Explore(OneInsert(cpu0Busy: true), 1, strategy)));
    }

    [Fact]
    public void Should_StayOnTheLocalDsq_When_TheSameInsertIsNotImmed() =>
        // The same scheduler without SCX_ENQ_IMMED: q waits behind p, and nothing is re-enqueued.
        Assert.Equal(Verdict.Holds, Explore(OneInsert(cpu0Busy: true), 4).Verdict);

    [Fact]
    public void Should_MakeEveryLocalInsertImmed_When_TheSchedulerSetsAlwaysEnqImmed() =>
        // SCX_OPS_ALWAYS_ENQ_IMMED: mode 4's plain SCX_DSQ_LOCAL_ON insert is vetted into an IMMED one.
        Assert.Equal([Reenq], Findings(Explore(OneInsert(cpu0Busy: true), 4, ops: "immed_always_ops")));

    [Fact]
    public void Should_RunAtOnce_When_AnImmedInsertFindsItsCpuIdle() =>
        // CPU0 idle: rq_is_open() is true and q is the only task there, so it is not re-enqueued.
        Assert.Equal(Verdict.Holds, Explore(OneInsert(cpu0Busy: false), 1).Verdict);

    [Fact]
    public void Should_NotReenqueue_When_AnImmedInsertIntoABusyCpuAlsoPreempts() =>
        // SCX_ENQ_PREEMPT ends p's slice and kicks CPU0, so rq_is_open() lets the PREEMPT|IMMED insert stay (p, put
        // back when it stops, goes to the global DSQ).
        Assert.Equal(Verdict.Holds, Explore(OneInsert(cpu0Busy: true), 6).Verdict);

    [Fact]
    public void Should_KeepTheTask_When_ABalancingCpuMovesOneTaskWithImmed() =>
        // CPU0's own ops.dispatch moves p with IMMED while balancing: rq_is_open() says yes (SCX_RQ_IN_BALANCE), and
        // the end of balance_one() finds one task, so p runs. (The boot's wakeup made ext CPU0's next class.)
        Assert.Equal(Verdict.Holds, Explore(InUserDsq(1), 5).Verdict);

    [Fact]
    public void Should_ReenqueueTheSecond_When_OneDispatchMovesTwoTasksWithImmed() =>
        // scx_bpf_dsq_move_to_local(dsq, SCX_ENQ_IMMED) twice: the second insert finds the local DSQ holding another
        // task (nr > 1), so after the pick the IMMED task left behind goes back with reason IMMED.
        Assert.Equal([Reenq], Findings(Explore(InUserDsq(2), 2)));

    [Fact]
    public void Should_EndTheScheduler_When_ImmedIsAskedForANonLocalDsq() =>
        Assert.Equal(["scheduler exit SCX_EXIT_ERROR: SCX_ENQ_IMMED on a non-local DSQ 0x8000000000000001"], Findings(Explore(OneInsert(cpu0Busy: false), 3)));

    [Fact]
    public void Should_GoBackWithReasonPreempted_When_TheStopperPreemptsARunningImmedTask()
    {
        // q ran on CPU0 from an IMMED insert (SCX_TASK_IMMED stays set while it runs); narrowing it to {1} makes
        // CPU0's stopper preempt it with slice left: put_prev_task_scx() hands it to ops.enqueue, reason PREEMPTED.
        // (The narrowing can also land before the insert, which then targets a CPU q may not use.)
        Assert.Equal(["scheduler exit SCX_EXIT_ERROR: SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for q[101]", "scheduler exit SCX_EXIT_UNREG_BPF: reason=3 reenq=1 task_immed=0"],
            Findings(Explore(RunningThenMoved, 1)));
    }

    [Fact]
    public void Should_DropImmedQuietly_When_TheFallbackDsqVariantParksATaskItsCpuRefused()
    {
        // q may only run on CPU1 and is inserted into CPU0's local DSQ with IMMED. Today's kernel ends the scheduler;
        // the fallback-dsq variant parks q on CPU1's fallback DSQ, which, like the global fallback, drops IMMED
        // without the kernel's SCX_ENQ_GDSQ_FALLBACK warning; its drain hands q back to ops.enqueue (SCX_ENQ_REENQ, no reason).
        Assert.Equal(["scheduler exit SCX_EXIT_ERROR: SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for q[101]"], Findings(Explore(OneInsert(cpu0Busy: false, qAllowed: "[1]"), 1)));
        Assert.Equal(["scheduler exit SCX_EXIT_UNREG_BPF: reason=0 reenq=1 task_immed=0"], Findings(Explore(OneInsert(cpu0Busy: false, qAllowed: "[1]"), 1, protocol: Protocol.FallbackDsq)));
    }

    [Fact]
    public void Should_ComeBackAgain_When_TheSchedulerPutsAnImmedTaskBackOnTheBusyCpu() =>
        // Mode 7 puts q back on CPU0 with IMMED twice: each time CPU0 is still busy, so it comes back with reason IMMED.
        Assert.Equal([Reenq], Findings(Explore(OneInsert(cpu0Busy: true), 7)));

    public static TheoryData<string, int> Scenarios() => new()
    {
        { OneInsert(cpu0Busy: true), 1 },
        { OneInsert(cpu0Busy: true), 7 },
        { OneInsert(cpu0Busy: false), 1 },
        { InUserDsq(2), 2 },
        { RunningThenMoved, 1 },
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Should_ReachTheSameStatesAndFindings_When_ReducedSearchMeetsImmed(string yaml, int mode)
    {
        // The IMMED bookkeeping reads the local DSQ and rq state and writes the rq's re-enqueue request: with their
        // footprints complete, sleep sets lose nothing (same states, same findings as the plain DFS).
        var dfs = Explore(yaml, mode, Strategy.Dfs);
        var reduced = Explore(yaml, mode, Strategy.Reduced);
        Assert.Equal(dfs.Stats.States, reduced.Stats.States);
        Assert.Equal(Findings(dfs), Findings(reduced));
    }

    /// <summary>immed.bpf.c's mode 1 in C#: the same kfunc calls, so the same states and outcomes.</summary>
    private sealed class Twin : ScxOps
    {
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            if ((enqFlags & EnqFlags.Reenq) != 0)
            {
                var flags = await ctx.TaskScxFlags(p);
                await ctx.Exit(0, $"reason={(flags & (3 << 12)) >> 12} reenq=1 task_immed={((flags & (1 << 5)) != 0 ? 1 : 0)}");
                return;
            }
            await ctx.DsqInsert(p, DsqId.LocalOn(0), ScxConst.SliceDfl, EnqFlags.Immed);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Should_MatchTheBpfObject_When_ACsharpPolicyInsertsWithImmed(bool cpu0Busy)
    {
        var s = ScenarioLoader.Parse(OneInsert(cpu0Busy), "immed.yaml");
        var bpfConfig = s.ToConfig(BpfExamples.CompileProgram("immed.bpf.c", "v3") + "@mode=1");
        var bpf = new Explorer(new Machine(bpfConfig), new ExploreOptions { Checks = s.Checks }).Run();
        var cs = new Explorer(new Machine(BpfExamples.TwinConfig(bpfConfig, () => new Twin(), "immed-twin")), new ExploreOptions { Checks = s.Checks }).Run();
        Assert.Equal(bpf.Verdict, cs.Verdict);
        Assert.Equal(Findings(bpf), Findings(cs));
    }
}
