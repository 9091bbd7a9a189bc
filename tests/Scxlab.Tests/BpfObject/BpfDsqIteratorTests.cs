using Scxlab.BpfObject;
using Scxlab.Bpf;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// programs/dsq_iter.bpf.c against its C# twin: the DSQ iterator (bpf_iter_scx_dsq_new/next/destroy, front to back
/// and SCX_DSQ_ITER_REV), scx_bpf_dsq_move[_vtime], scx_bpf_select_cpu_and in its v6.16 form and the v6.19 one with
/// packed arguments, and __scx_bpf_dsq_insert_vtime. Two ways to the same answer: the interpreter running clang's
/// object, and the model's C# kfunc API called directly.
/// </summary>
public class BpfDsqIteratorTests
{
    /// <summary>The twin: the same callbacks, the same kfunc calls in the same order (each one interleaving point).</summary>
    private sealed class DsqIterTwin(bool reverse) : ScxOps
    {
        public override async BpfTask Init(InitContext ctx) => await ctx.CreateDsq(0);

        public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
        {
            var cpu = await ctx.SelectCpuAnd(p, prevCpu, (ulong)await ctx.TaskCpusMask(p));
            if (cpu < 0) return prevCpu;
            await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl);
            return cpu;
        }

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) =>
            await ctx.DsqInsert(p, 0, ScxConst.SliceDfl, enqFlags);

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var seq = await ctx.DsqIterNew(0);
            if (seq < 0) return;
            var it = new DsqIter(0, seq, -1, Started: true, Rev: reverse);
            while (true)
            {
                it = await ctx.DsqIterNext(it);
                if (it.Current < 0) return;
                if (!await ctx.TaskTestCpu(it.Task, cpu)) continue;
                if (await ctx.DsqMove(it, it.Task, DsqId.Local)) return;
            }
        }
    }

    /// <summary>Three tasks queued in DSQ 0 at once, one CPU0 may not run, and an affinity change racing the walk.</summary>
    private const string ThreeQueued = """
        name: three-queued
        description: three tasks in the user DSQ; CPU0 walks it while a taskset on CPU1 narrows r.
        cpus: 2
        protocol: upstream
        policy: simple
        tasks:
          - { name: p, allowed: [0, 1], cpu: 1, state: queued }
          - { name: q, allowed: [1], cpu: 1, state: queued }
          - { name: r, allowed: [0, 1], cpu: 1, state: queued }
        rounds:
          - { cpu: 0, count: 2 }
        actors:
          - name: taskset
            cpu: 1
            do:
              - set_affinity: { task: r, allowed: [1] }
        check: [all]
        """;

    private static Scenario Load(string name)
    {
        if (name != "three-queued") return ScenarioLoader.Resolve(name);
        var dir = Path.Combine(Path.GetTempPath(), "scxlab-bpf-tests");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "three-queued.yaml");
        File.WriteAllText(path, ThreeQueued);
        return ScenarioLoader.Resolve(path);
    }

    private static readonly string[] Scenarios = ["seed-race-r1", "seed-race-r2", "central-remote", "three-queued"];

    private static ExploreResult Explore(ModelConfig config, Scenario s) =>
        new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Reduced, Checks = s.Checks, ShortestTraces = false }).Run();

    private static ModelConfig Twin(ModelConfig bpf, bool reverse) => BpfExamples.TwinConfig(bpf, () => new DsqIterTwin(reverse), "dsq-iter-twin");

    private static string Messages(ExploreResult r) => string.Join(" | ", r.Violations.Select(v => v.Violation.ToString()).Order(StringComparer.Ordinal));

    [Theory]
    [InlineData("reverse=0,use_args=0", false)]
    [InlineData("reverse=1,use_args=0", true)]
    [InlineData("reverse=0,use_args=1", false)]
    [InlineData("reverse=1,use_args=1", true)]
    public void Should_AgreeWithTheCsharpTwin_When_ABpfObjectIteratesAndMovesFromADsq(string rodata, bool reverse)
    {
        var obj = BpfExamples.CompileProgram("dsq_iter.bpf.c", "v3");
        foreach (var name in Scenarios)
        {
            var s = Load(name);
            foreach (var protocol in Enum.GetValues<Protocol>())
            {
                var bpfConfig = s.ToConfig(obj + "@" + rodata, protocol);
                var bpf = Explore(bpfConfig, s);
                var cs = Explore(Twin(bpfConfig, reverse), s);
                var cell = $"{name} × {ProtocolNames.Name(protocol)} × {rodata}";
                Assert.True(bpf.Complete, $"{cell}: {bpf.IncompleteReason}");
                Assert.Equal((cell, cs.Verdict), (cell, bpf.Verdict));
                Assert.Equal((cell, Messages(cs)), (cell, Messages(bpf)));
            }
        }
    }

    [Fact]
    public void Should_ReachDifferentStates_When_TheIteratorRunsBackToFront()
    {
        // With three tasks queued, front-to-back and back-to-front move different tasks first, so the explored
        // worlds differ (the iterator's direction reaches the model).
        var obj = BpfExamples.CompileProgram("dsq_iter.bpf.c", "v3");
        var s = Load("three-queued");
        var forward = Explore(s.ToConfig(obj + "@reverse=0"), s);
        var backward = Explore(s.ToConfig(obj + "@reverse=1"), s);
        Assert.NotEqual(forward.Stats.States, backward.Stats.States);
    }

    [Fact]
    public void Should_ApplyTheIteratorsSliceAndVtime_When_DsqMoveMovesTheTask()
    {
        // scx_bpf_dsq_move_set_slice/vtime() before the move: p runs with the values the iterator carried.
        var obj = BpfExamples.CompileProgram("dsq_iter.bpf.c", "v3");
        var s = ScenarioLoader.Resolve("seed-race-r1");
        var r = Explore(s.ToConfig(obj + "@set_overrides=1"), s);
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: slice=12345 vtime=777", Assert.Single(r.Violations).Violation.ToString());
    }

    [Fact]
    public void Should_EndTheScheduler_When_DsqMoveVtimeTargetsALocalDsq()
    {
        var obj = BpfExamples.CompileProgram("dsq_iter.bpf.c", "v3");
        var s = ScenarioLoader.Resolve("seed-race-r1");
        var r = Explore(s.ToConfig(obj + "@move_vtime=1"), s);
        Assert.Contains(r.Violations, v => v.Violation.ToString().Contains("cannot use vtime ordering for built-in DSQs"));
    }
}

/// <summary>programs/node_perf.bpf.c: the node and cpuperf kfuncs (one node; cpufreq not modelled) and p->scx.flags.</summary>
public class BpfNodeAndCpuperfTests
{
    private static string Outcome(string rodata)
    {
        var s = ScenarioLoader.Resolve("seed-race-r1");
        var obj = BpfExamples.CompileProgram("node_perf.bpf.c", "v3");
        var r = new Explorer(new Machine(s.ToConfig(obj + "@" + rodata)), new ExploreOptions { Checks = s.Checks }).Run();
        // A finding, or the model's limit (then the search is incomplete, never a violation).
        Assert.Equal(r.ModelLimits.Count > 0 ? Verdict.Incomplete : Verdict.Violation, r.Verdict);
        return Assert.Single(r.Violations.Concat(r.ModelLimits)).Violation.ToString();
    }

    [Fact]
    public void Should_ReportOneNodeFullPerformanceAndAQueuedEnabledTask_When_OpsEnqueueAsks() =>
        // ops.enqueue runs after enqueue_task_scx() set SCX_TASK_QUEUED; the task is SCX_TASK_ENABLED (3 << 8).
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: nodes=1 node1=0 cur=1024 cap=1024 flags=0x301", Outcome("mode=0"));

    [Theory]
    [InlineData("mode=4", "SCX_EXIT_ERROR: per-node idle tracking is disabled")]
    // pick_idle_cpu_in_node(): cpumask_any_and_distribute() skips CPU 0 on a CPU's first pick.
    [InlineData("mode=4,node_perf_ops.flags=0x40", "SCX_EXIT_UNREG_BPF: node_pick=1")]
    [InlineData("mode=5,node_perf_ops.flags=0x40", "SCX_EXIT_ERROR: per-node idle tracking is enabled")]
    public void Should_FollowSCX_OPS_BUILTIN_IDLE_PER_NODE_When_UserSpaceSetsTheStructOpsFlags(string rodata, string outcome) =>
        // user space's skel->struct_ops.node_perf_ops->flags |= SCX_OPS_BUILTIN_IDLE_PER_NODE, as --rodata OPS.flags=.
        Assert.Equal($"scheduler exit {outcome}", Outcome(rodata));

    [Fact]
    public void Should_NameTheFieldsItReads_When_RodataSetsAStructOpsFieldTheModelIgnores()
    {
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(BpfExamples.CompileProgram("node_perf.bpf.c", "v3"), ["node_perf_ops.exit_dump_len=4"]));
        Assert.EndsWith("the model reads flags, timeout_ms and dispatch_max_batch of node_perf_ops, not exit_dump_len", e.Message);
    }

    [Theory]
    [InlineData("mode=1", "Invalid cpuperf target 2048 for CPU 0")]
    [InlineData("mode=2", "per-node idle tracking is disabled")]
    [InlineData("mode=3", "invalid CPU 7")]
    public void Should_EndTheSchedulerWithTheKernelsError_When_AKfuncArgumentCheckFails(string rodata, string message) =>
        Assert.Equal($"scheduler exit SCX_EXIT_ERROR: {message}", Outcome(rodata));
}

/// <summary>programs/upstream_more.bpf.c: ARRAY_OF_MAPS, p->tgid, scx_bpf_cpu_curr, bpf_cpumask_any_distribute, never-called callbacks, the timer-actor cap.</summary>
public class BpfUpstreamMoreTests
{
    private static string Outcome(string rodata)
    {
        var s = ScenarioLoader.Resolve("seed-race-r1");
        var obj = BpfExamples.CompileProgram("upstream_more.bpf.c", "v3");
        var r = new Explorer(new Machine(s.ToConfig(obj + "@" + rodata)), new ExploreOptions { Checks = s.Checks }).Run();
        // A finding, or the model's limit (then the search is incomplete, never a violation).
        Assert.Equal(r.ModelLimits.Count > 0 ? Verdict.Incomplete : Verdict.Violation, r.Verdict);
        return Assert.Single(r.Violations.Concat(r.ModelLimits)).Violation.ToString();
    }

    [Fact]
    public void Should_ResolveInnerMapsTgidCurrAndDistribute_When_OpsEnqueueUsesThem() =>
        // Slot 1 is ring1 (push 0, popped back through ring1 itself); slot 2 is empty; tgid = pid; CPU0 is idle, and
        // its rq->curr is the idle task (non-NULL); any_distribute over {0,1} skips CPU 0 first, then wraps: 1, 0, 1.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: push=0 popped=1 missing=1 tgid=1 curr=1 distribute=10,1", Outcome("mode=0"));

    [Fact]
    public void Should_RunTheCallbackOnTheCallersStack_When_AProgramCallsBpfLoop() =>
        // Stopped at index 3: 4 iterations, sum 0+1+2+3; five full iterations: sum 10; flags 1: -EINVAL.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: loops=4,5 sums=6,10 flags=-22", Outcome("mode=4"));

    [Fact]
    public void Should_VisitEachElementWithKeyAndValue_When_AProgramCallsBpfForEachMapElem() =>
        // Values 1..4 at keys 0..3: (0+1)+(100+2)+(200+3)+(300+4) = 610 over 4; stopped at key 1: 1+102 = 103 over 2.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: each=4 sum=610 each_stopped=2 sum=103", Outcome("mode=5"));

    [Fact]
    public void Should_AnswerTheCurrentAndClockHelpers_When_OpsEnqueueCallsThem() =>
        // The exploration clock stays at the attach clock, 100 s after boot (jiffies 25 000 at HZ 250); one node;
        // any_and_distribute's first pick skips CPU 0.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: comm=0 named=1 node=0 boot=1 jiffies=25000 any_and=1", Outcome("mode=6"));

    [Fact]
    public void Should_CompareAllSixtyFourBits_When_AProgramCompareAndSwapsAGlobalU64() =>
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: cas=0,100000002,100000002 now=300000004", Outcome("mode=7"));

    [Fact]
    public void Should_RefuseTheGlobalDsq_When_ScxBpfDsqReenqIsCalledOnIt() =>
        Assert.Equal("scheduler exit SCX_EXIT_ERROR: DSQ 0x8000000000000001 not allowed for reenq", Outcome("mode=3"));

    [Fact]
    public void Should_EndTheScheduler_When_CpuCurrIsAskedForACpuThatDoesNotExist() =>
        Assert.Equal("scheduler exit SCX_EXIT_ERROR: invalid CPU 9", Outcome("mode=1"));

    [Fact]
    public void Should_StopAsTheModelsLimit_When_AMapHoldsMoreTimersThanTheModelGivesActors()
    {
        var outcome = Outcome("mode=2");
        Assert.StartsWith("not modelled: ops.enqueue(): BPF program ", outcome);
        Assert.Contains("bpf_timer_init: the model gives actors to the first 8 struct bpf_timer instances only; this one (map many_timers, byte 192) has none", outcome);
    }

    [Fact]
    public void Should_ListInnerMapsAndNeverCalledCallbacks_When_InspectReadsTheObject()
    {
        var r = Scxlab.Tests.Cli.CliResult.Run("inspect", BpfExamples.CompileProgram("upstream_more.bpf.c", "v3"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("slots: ring0, ring1, (empty)", r.Stdout);
        Assert.Contains("ops.dump         um_dump (struct_ops/um_dump; never called: the debug dump after an error exit is not modelled)", r.Stdout);
        Assert.Contains("never called: the model has no CPU hotplug", r.Stdout);
        Assert.Contains("ops.yield        um_yield (struct_ops/um_yield; never called: the model's tasks never call sched_yield() or yield_to())", r.Stdout);
        // ops.cpu_acquire runs (after the stopper took a CPU): listed as a callback, not as never called.
        Assert.Contains("ops.cpu_acquire  um_cpu_acquire (struct_ops/um_cpu_acquire)", r.Stdout);
    }
}

/// <summary>programs/syscall.bpf.c: SEC("syscall") programs run before ops.init with their context struct (--syscall, scenario syscalls:).</summary>
public class BpfSyscallProgramTests
{
    private static string Outcome(params string[] items)
    {
        var s = ScenarioLoader.Resolve("seed-race-r1");
        var obj = BpfExamples.CompileProgram("syscall.bpf.c", "v3");
        var spec = items.Length == 0 ? obj : obj + "@" + string.Join(",", items.Select(i => BpfObjectFile.SyscallPrefix + i));
        var r = new Explorer(new Machine(s.ToConfig(spec)), new ExploreOptions { Checks = s.Checks }).Run();
        return Assert.Single(r.Violations).Violation.ToString();
    }

    [Fact]
    public void Should_RunEachSyscallProgramBeforeOpsInit_When_TheyAreGiven() =>
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: init_saw=0x5 mask=0x5 weight=300",
            Outcome("add_cpu:cpu_id=0:weight=100", "add_cpu:cpu_id=2:weight=0xc8"));

    [Fact]
    public void Should_RunItOnceWhileAttached_When_ASyscallProgramIsGivenAsAttached()
    {
        // prog_run's pattern: BPF_PROG_TEST_RUN after attach; scx_bpf_create_dsq is allowed there (an unlocked context).
        var s = ScenarioLoader.Resolve("seed-race-r1");
        var obj = BpfExamples.CompileProgram("syscall.bpf.c", "v3");
        var r = new Explorer(new Machine(s.ToConfig(obj + "@report=0," + BpfObjectFile.SyscallAttachedPrefix + "stop_now")), new ExploreOptions { Checks = s.Checks }).Run();
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: stopped by a syscall program (create_dsq=0)", Assert.Single(r.Violations).Violation.ToString());
        Assert.Contains(new Machine(s.ToConfig(obj + "@" + BpfObjectFile.SyscallAttachedPrefix + "stop_now")).Actors, a => a.Name == "syscall stop_now");
    }

    [Fact]
    public void Should_NotAttachTheScheduler_When_ASyscallProgramFails() =>
        Assert.Contains("syscall program add_cpu (add_cpu:fail=1) returned -22: user space would not attach the scheduler", Outcome("add_cpu:fail=1"));

    [Theory]
    [InlineData("enable_cpu", "--syscall enable_cpu: no SEC(\"syscall\") program enable_cpu (the object has: add_cpu, stop_now)")]
    [InlineData("add_cpu:cpu=1", "--syscall add_cpu:cpu=1: struct cpu_arg has no field cpu (fields: cpu_id, fail, weight)")]
    [InlineData("add_cpu:cpu_id=one", "--syscall add_cpu:cpu_id=one: 'one' is not a number")]
    public void Should_ExplainTheMistake_When_ASyscallRunIsMalformed(string item, string message)
    {
        var obj = BpfExamples.CompileProgram("syscall.bpf.c", "v3");
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(obj, [BpfObjectFile.SyscallPrefix + item]));
        Assert.Equal($"syscall-v3.bpf.o: {message}", e.Message);
    }

    [Fact]
    public void Should_PointAtThePolicyLine_When_AScenariosSyscallNamesNoProgram()
    {
        var obj = BpfExamples.CompileProgram("syscall.bpf.c", "v3");
        var path = Path.Combine(Path.GetTempPath(), "scxlab-bpf-tests", "syscall-scenario-bad.yaml");
        File.WriteAllText(path, $"name: bad\ncpus: 2\npolicy: {obj}\nsyscalls: [nope]\ntasks:\n  - {{ name: p, allowed: [0, 1], cpu: 1, state: queued }}\ncheck: [all]\n");
        var r = Scxlab.Tests.Cli.CliResult.Run("check", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("syscall-scenario-bad.yaml:3:9: ", r.Stderr);
        Assert.Contains("--syscall nope: no SEC(\"syscall\") program nope", r.Stderr);
    }

    [Fact]
    public void Should_RunTheScenariosSyscalls_When_AScenarioFileListsThem()
    {
        var obj = BpfExamples.CompileProgram("syscall.bpf.c", "v3");
        var path = Path.Combine(Path.GetTempPath(), "scxlab-bpf-tests", "syscall-scenario.yaml");
        File.WriteAllText(path, $"""
            name: syscall-scenario
            cpus: 2
            policy: {obj}
            syscalls: ["add_cpu:cpu_id=1:weight=7"]
            tasks:
              - {"{"} name: p, allowed: [0, 1], cpu: 1, state: queued {"}"}
            rounds:
              - {"{"} cpu: 0, count: 1 {"}"}
            check: [all]
            """);
        var r = Scxlab.Tests.Cli.CliResult.Run("check", path);
        Assert.Contains("init_saw=0x2 mask=0x2 weight=7", r.Stdout);
    }
}

/// <summary>
/// Every public enq/deq/kick flag the model passes to a policy has its kernel name in the CO-RE enum table: a
/// BPF object built with scx's headers reads them by name, and a missing one reads as 0 (SCX_DEQ_SCHED_CHANGE did,
/// which made the dequeue selftest take its "regular dispatch dequeue" branch on a property change).
/// </summary>
public class ModelEnumCoverageTests
{
    [Theory]
    [InlineData("SCX_DEQ_SLEEP", (long)DeqFlags.Sleep)]
    [InlineData("SCX_DEQ_CORE_SCHED_EXEC", (long)DeqFlags.CoreSchedExec)]
    [InlineData("SCX_DEQ_SCHED_CHANGE", (long)DeqFlags.SchedChange)]
    [InlineData("SCX_ENQ_WAKEUP", (long)EnqFlags.Wakeup)]
    [InlineData("SCX_ENQ_HEAD", (long)EnqFlags.Head)]
    [InlineData("SCX_ENQ_CPU_SELECTED", (long)EnqFlags.CpuSelected)]
    [InlineData("SCX_ENQ_PREEMPT", (long)EnqFlags.Preempt)]
    [InlineData("SCX_ENQ_IMMED", (long)EnqFlags.Immed)]
    [InlineData("SCX_ENQ_REENQ", (long)EnqFlags.Reenq)]
    [InlineData("SCX_ENQ_LAST", (long)EnqFlags.Last)]
    [InlineData("SCX_KICK_IDLE", (long)KickFlags.Idle)]
    [InlineData("SCX_KICK_PREEMPT", (long)KickFlags.Preempt)]
    [InlineData("SCX_KICK_WAIT", (long)KickFlags.Wait)]
    public void Should_ResolveTheFlagByItsKernelName_When_AnObjectReadsItThroughCoRe(string name, long value)
    {
        Assert.True(ModelEnums.TryGet(name, out var v), name);
        Assert.Equal(value, v);
    }

    [Fact]
    public void Should_NameEveryPublicDeqAndEnqFlag_When_TheModelPassesIt()
    {
        // The internal enq flags (CLEAR_OPSS, DSQ_PRIQ, NESTED, GDSQ_FALLBACK) never reach a policy.
        var internalEnq = EnqFlags.ClearOpss | EnqFlags.DsqPriq | EnqFlags.Nested | EnqFlags.GdsqFallback;
        foreach (var f in Enum.GetValues<DeqFlags>().Where(f => f != DeqFlags.None))
            Assert.Contains(f.ToString(), new[] { "Sleep", "CoreSchedExec", "SchedChange" });
        foreach (var f in Enum.GetValues<EnqFlags>().Where(f => f != EnqFlags.None && (f & internalEnq) == 0))
            Assert.Contains(f.ToString(), new[] { "Wakeup", "Head", "CpuSelected", "Preempt", "Immed", "Reenq", "Last" });
    }
}

/// <summary>programs/storage.bpf.c: task storage exists only once created (F_CREATE), and delete removes it.</summary>
public class BpfTaskStorageTests
{
    [Fact]
    public void Should_FindNothingBeforeCreateAndAfterDelete_When_AProgramUsesTaskStorage()
    {
        var s = ScenarioLoader.Resolve("seed-race-r1");
        var obj = BpfExamples.CompileProgram("storage.bpf.c", "v3");
        var r = new Explorer(new Machine(s.ToConfig(obj)), new ExploreOptions { Checks = s.Checks }).Run();
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: first=0 created=1 value=7 deleted=0 after=0 again=-2 init=40",
            Assert.Single(r.Violations).Violation.ToString());
    }
}
