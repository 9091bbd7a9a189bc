using Scxlab.Bpf;
using Scxlab.BpfObject;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// What unmodified upstream schedulers (scx_central, scx_simple, scx_qmap) need beyond the
/// project's examples, each exercised by programs/upstream_idioms.bpf.c (written for the tests).
/// </summary>
public class BpfUpstreamIdiomTests
{
    private static string ExitMessage(string policy)
    {
        var r = BpfExamples.ExploreSeedRace(policy);
        var v = Assert.Single(r.Violations);
        const string prefix = "scheduler exit SCX_EXIT_UNREG_BPF: ";
        var text = v.Violation.ToString();
        Assert.StartsWith(prefix, text);
        return text[prefix.Length..];
    }

    [Fact]
    public void Should_IterateRangesFillEnumsAndResizeArrays_When_AProgramUsesUpstreamIdioms()
    {
        var obj = BpfExamples.CompileProgram("upstream_idioms.bpf.c", "v3");
        // sum(-2..4) = 7; bpf_repeat(3) ran 3 times; -EINVAL; -E2BIG; SCX_SLICE_DFL; SCX_ENQ_PREEMPT;
        // an enum the model lacks stays 0; slots[0..2] = 1, 2, 3 after growing the array to 3.
        Assert.Equal($"7 3 -22 -7 {ScxConst.SliceDfl} {(long)EnqFlags.Preempt:x} 0 6", ExitMessage(obj + "@slots[]=3,nr_slots=3"));
    }

    [Fact]
    public void Should_FaultOutOfBounds_When_AResizableArrayIsNotGrown()
    {
        var obj = BpfExamples.CompileProgram("upstream_idioms.bpf.c", "v3");
        var r = BpfExamples.ExploreSeedRace(obj + "@nr_slots=3");
        var v = Assert.Single(r.Violations);
        Assert.Contains("invalid access to .data.slots: off=4 size=4, value_size=4", v.Violation.ToString());
    }

    [Fact]
    public void Should_RejectTheResize_When_TheNameIsNotAResizableArray()
    {
        var obj = BpfExamples.CompileProgram("upstream_idioms.bpf.c", "v3");
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(obj, ["flags_seen[]=4"]));
        Assert.Contains("--rodata flags_seen[]: no array of that name in its own .data.flags_seen, .bss.flags_seen or .rodata.flags_seen section", e.Message);
    }
}

/// <summary>programs/timer_exit.bpf.c: a timer with a callback (scx_central's slice timer) and UEI_RECORD's reads of scx_exit_info.</summary>
public class BpfTimerAndExitInfoTests
{
    [Fact]
    public void Should_ReportTheShortestExitBeforeAnyFiring_When_AProgramArmsATimerInInit()
    {
        var obj = BpfExamples.CompileProgram("timer_exit.bpf.c", "v3");
        var r = BpfExamples.ExploreSeedRace(obj);
        var v = Assert.Single(r.Violations);
        // ops.init's timer helpers succeeded; the shortest path to the exit (the first enqueue) needs no firing.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: armed=1 fired=0", v.Violation.ToString());
    }

    [Fact]
    public void Should_ResolveScxExitInfoFields_When_OpsExitReadsThem()
    {
        var obj = BpfObjectFile.Load(BpfExamples.CompileProgram("timer_exit.bpf.c", "v3"));
        Assert.Empty(obj.Unsupported);
        Assert.Contains(ScxCallback.Exit, obj.Ops.Callbacks.Keys);
    }
}

/// <summary>
/// programs/timer_count.bpf.c: a struct bpf_timer is an actor that may fire at any point once armed
/// (its callback runs as a BPF function with (map, key, timer)); the helpers return what
/// kernel/bpf/helpers.c returns; firings are bounded by <c>bounds: timer_fires</c>.
/// </summary>
public class BpfTimerActorTests
{
    private static ExploreResult Explore(string rodata, int? timerFires = null, Strategy strategy = Strategy.Reduced)
    {
        var text = ScenarioLoader.BuiltInText("seed-race-r1")!;
        if (timerFires is { } n) text += $"\nbounds: {{ timer_fires: {n} }}\n";
        var s = ScenarioLoader.Parse(text, "test");
        var policy = BpfExamples.CompileProgram("timer_count.bpf.c", "v3") + rodata;
        return new Explorer(new Machine(s.ToConfig(policy)), new ExploreOptions { Checks = s.Checks, Strategy = strategy }).Run();
    }

    [Fact]
    public void Should_FireTheArmedTimer_When_ExploringAndReturnKernelErrorCodesFromTheHelpers()
    {
        var r = Explore("");
        var v = Assert.Single(r.Violations);
        // The callback ran with key 0; bpf_timer_start before init and without a callback: -EINVAL; a second
        // bpf_timer_init: -EBUSY; an unknown start flag: -EINVAL; cancel of an armed timer 1, of an idle one 0.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: fired=1 bad_key=0 uninit=-22 nocb=-22 busy=-16 badflags=-22 cancel=1,0", v.Violation.ToString());
        // The bound is said with the verdict, as the scenario's other bounds are.
        Assert.Contains(r.Notes, n => n.StartsWith("1 BPF timer(s): each fires at most 1 time(s) per path", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_SeeTheInterruptedTaskAsCurrent_When_ATimerCallbackReadsIt()
    {
        // The callback runs in softirq context on CPU 0: `current` is what CPU 0 ran (swapper/0 or p). Before, any read
        // of it stopped the run at a model limit.
        var r = Explore("@mode=3");
        Assert.Empty(r.ModelLimits);
        Assert.NotEmpty(r.Violations);
        Assert.All(r.Violations, v => Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: current_ok=1 cpu=0", v.Violation.ToString()));
    }

    [Theory]
    [InlineData(Strategy.Dfs)]
    [InlineData(Strategy.Reduced)]
    public void Should_Hold_When_TheTimerMayNotFire(Strategy strategy)
    {
        var r = Explore("", timerFires: 0, strategy: strategy);
        Assert.Empty(r.Violations);
        Assert.True(r.Complete);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    public void Should_FireAPeriodicTimerAsOftenAsTheBoundAllows_When_ItsCallbackReArmsIt(int fires, bool reachesTwo)
    {
        var r = Explore("@mode=2,exit_at=2", timerFires: fires);
        Assert.True(reachesTwo == r.Violations.Count > 0, string.Join("; ", r.Violations.Select(v => v.Violation.ToString())));
        if (reachesTwo) Assert.StartsWith("scheduler exit SCX_EXIT_UNREG_BPF: fired=2 ", Assert.Single(r.Violations).Violation.ToString());
    }

    [Fact]
    public void Should_AgreeBetweenDfsAndReducedSearch_When_ATimerFires()
    {
        var dfs = Explore("@mode=2,exit_at=2", timerFires: 2, strategy: Strategy.Dfs);
        var reduced = Explore("@mode=2,exit_at=2", timerFires: 2, strategy: Strategy.Reduced);
        Assert.Equal(dfs.Verdict, reduced.Verdict);
        Assert.Equal(dfs.Violations.Select(v => v.Violation.ToString()), reduced.Violations.Select(v => v.Violation.ToString()));
    }

    [Fact]
    public void Should_EndTheSchedulerNamingTheCallback_When_TheTimerCallbackFaults()
    {
        var r = Explore("@mode=1");
        var v = Assert.Single(r.Violations);
        var text = v.Violation.ToString();
        // As every fault of a program: the verifier would have refused it, the model ends the scheduler.
        Assert.StartsWith("scheduler exit SCX_EXIT_ERROR: bpf_timer callback(): BPF program timerfn insn ", text);
        Assert.Contains("NULL pointer dereference", text);
    }
}

/// <summary>programs/percpu_enable.bpf.c: scx_simple's per-CPU stats map and its ops.enable.</summary>
public class BpfPercpuAndEnableTests
{
    [Fact]
    public void Should_KeepOneCopyPerCpuAndEnableEveryTask_When_AProgramUsesAPercpuArrayAndOpsEnable()
    {
        var obj = BpfExamples.CompileProgram("percpu_enable.bpf.c", "v3");
        var r = BpfExamples.ExploreSeedRace(obj);
        var v = Assert.Single(r.Violations);
        // ops.enable ran once for the scenario's one task before its first enqueue; the enqueuing
        // CPU's copy counts 1 and the copies of all CPUs add up to 1.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: enabled=1 vtime-pid=1000 mine=1 total=1 ok=1", v.Violation.ToString());
    }
}

/// <summary>programs/rcu.bpf.c: RCU read-side sections (scx_bpfland, scx_cosmos) are bookkeeping only.</summary>
public class BpfRcuTests
{
    private static ExploreResult Run(string policy) =>
        BpfExamples.ExploreSeedRace(policy);

    [Fact]
    public void Should_RunCleanly_When_RcuSectionsAreBalanced()
    {
        var r = Run(BpfExamples.CompileProgram("rcu.bpf.c", "v3"));
        Assert.Empty(r.Violations);
    }

    [Fact]
    public void Should_EndTheScheduler_When_ACallbackReturnsInsideAnRcuSection()
    {
        var r = Run(BpfExamples.CompileProgram("rcu.bpf.c", "v3") + "@leak_rcu=1");
        var v = Assert.Single(r.Violations);
        Assert.Contains("bpf_rcu_read_unlock is missing", v.Violation.ToString());
    }
}

/// <summary>programs/kconfig.bpf.c: __kconfig externs (scx_bpfland and scx_cosmos read LINUX_KERNEL_VERSION and CONFIG_PREEMPT_RCU).</summary>
public class BpfKconfigTests
{
    [Fact]
    public void Should_GiveTheModelsKernelVersionAndZeroForAWeakConfig_When_AProgramReadsKconfigExterns()
    {
        var obj = BpfExamples.CompileProgram("kconfig.bpf.c", "v3");
        var r = BpfExamples.ExploreSeedRace(obj);
        var v = Assert.Single(r.Violations);
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: 7.1 0", v.Violation.ToString());
    }

    [Fact]
    public void Should_FailToLoad_When_AStrongKconfigExternHasNoValue()
    {
        var obj = BpfExamples.Compile("kconfig-strong", "#define STRONG 1\n" + File.ReadAllText(Path.Combine(BpfExamples.Root(), "tests", "Scxlab.Tests", "BpfObject", "programs", "kconfig.bpf.c")));
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(obj));
        Assert.Equal("kconfig-strong.bpf.o: extern (kcfg) 'CONFIG_SCXLAB_STRONG': value not found (the model has no kernel config; declare it __weak)", e.Message);
    }
}

/// <summary>programs/task_set.bpf.c: scx_bpf_task_set_slice/_dsq_vtime, as scx's compat wrappers call them.</summary>
public class BpfTaskSetTests
{
    [Fact]
    public void Should_SetTheTasksSliceAndVtime_When_AProgramCallsTheTaskSetKfuncs()
    {
        var obj = BpfExamples.CompileProgram("task_set.bpf.c", "v3");
        var r = BpfExamples.ExploreSeedRace(obj);
        var v = Assert.Single(r.Violations);
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: ok=2 slice=1234567 vtime=42", v.Violation.ToString());
    }
}

/// <summary>A scenario's <c>rodata:</c> block: what the object's user space sets before load; --rodata wins over it.</summary>
public class ScenarioRodataTests
{
    private static string Scenario(string rodata) =>
        ScenarioLoader.BuiltInText("seed-race-r1")! + "\n" + rodata + "\n";

    private static string Outcome(Scenario s, string policy)
    {
        var r = new Explorer(new Machine(s.ToConfig(policy)), new ExploreOptions { Checks = s.Checks }).Run();
        return Assert.Single(r.Violations).Violation.ToString();
    }

    [Fact]
    public void Should_PatchTheObjectBeforeLoad_When_TheScenarioSetsRodata()
    {
        var obj = BpfExamples.CompileProgram("timer_count.bpf.c", "v3");
        var s = ScenarioLoader.Parse(Scenario("rodata: { mode: 1 }"), "test.yaml");
        Assert.Contains("NULL pointer dereference", Outcome(s, obj));
        // The command line's --rodata comes after the scenario's, so it wins.
        Assert.StartsWith("scheduler exit SCX_EXIT_UNREG_BPF: fired=1 ", Outcome(s, obj + "@mode=0"));
    }

    [Fact]
    public void Should_LeaveCsharpPoliciesAlone_When_TheScenarioSetsRodata()
    {
        var s = ScenarioLoader.Parse(Scenario("rodata: { mode: 1 }"), "test.yaml");
        Assert.Equal("local-on-pop", s.ToConfig().PolicyName);
    }

    [Theory]
    [InlineData("rodata: [mode]", "test.yaml:28:9: expected rodata {name: value, ...} (a mapping)")]
    [InlineData("rodata: { mode: }", "test.yaml:28:17: expected a value for rodata mode (a number)")]
    public void Should_ReportFileLineCol_When_RodataIsMalformed(string block, string message)
    {
        var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(Scenario(block), "test.yaml"));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Should_ReportTheVariable_When_TheObjectHasNoSuchRodata()
    {
        var obj = BpfExamples.CompileProgram("timer_count.bpf.c", "v3");
        var s = ScenarioLoader.Parse(Scenario("rodata: { no_such_knob: 1 }"), "test.yaml");
        var e = Assert.ThrowsAny<Exception>(() => new Machine(s.ToConfig(obj)));
        Assert.Contains("no_such_knob", e.Message);
    }
}

/// <summary>
/// programs/lifecycle.bpf.c: ops.init_task runs for every task, then ops.enable for every task (scx_enable()'s
/// order); a failing init_task ends the scheduler with ext.c's message; user DSQs and the per-callback call
/// budget are model bounds a scenario can raise, and running out of them says so.
/// </summary>
public class BpfTaskLifecycleTests
{
    // Two tasks (seed-race-r2 has p and q).
    private static string Outcome(string rodata, string bounds = "")
    {
        var s = ScenarioLoader.Parse(ScenarioLoader.BuiltInText("seed-race-r1")!.Replace("tasks:\n", "tasks:\n  - { name: q, allowed: [0, 1], cpu: 0, state: sleeping }\n") + bounds, "test.yaml");
        var policy = BpfExamples.CompileProgram("lifecycle.bpf.c", "v3") + rodata;
        var r = new Explorer(new Machine(s.ToConfig(policy)), new ExploreOptions { Checks = s.Checks }).Run();
        // A finding, or the model's limit (then the search is incomplete, never a violation).
        Assert.Equal(r.ModelLimits.Count > 0 ? Verdict.Incomplete : Verdict.Violation, r.Verdict);
        return Assert.Single(r.Violations.Concat(r.ModelLimits)).Violation.ToString();
    }

    [Fact]
    public void Should_RunInitTaskForEveryTaskBeforeAnyEnable_When_TheObjectHasBoth() =>
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: init_tasks=2 enabled=2 early=0 forks=0 created=0", Outcome(""));

    [Fact]
    public void Should_EndTheSchedulerAsExtCDoes_When_InitTaskFails() =>
        Assert.Equal("scheduler exit SCX_EXIT_ERROR: ops.init_task() failed (-12) for q[101]", Outcome("@fail_pid=101"));

    [Fact]
    public void Should_ReportAnInvalidErrno_When_InitTaskReturnsAPositiveValue() =>
        Assert.Equal("scheduler exit SCX_EXIT_ERROR: ops.init_task() returned an invalid errno 5", Outcome("@fail_pid=101,bad_ret=5"));

    [Fact]
    public void Should_SayItIsTheModelsLimit_When_MoreUserDsqsAreCreatedThanItHolds() =>
        Assert.Equal("not modelled: scxlab: no room for user DSQ 0x8: the model holds 8 user DSQs at once (raise bounds: { user_dsqs: N })", Outcome("@ndsqs=9"));

    [Fact]
    public void Should_CreateThemAll_When_TheScenarioRaisesTheBounds()
    {
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: init_tasks=2 enabled=2 early=0 forks=0 created=300", Outcome("@ndsqs=300", "bounds: { user_dsqs: 300, call_budget: 2000 }\n"));
        Assert.StartsWith("not modelled: ops.init() exceeded its step budget (256 calls;", Outcome("@ndsqs=300", "bounds: { user_dsqs: 300 }\n"));
    }
}

/// <summary>programs/task_exit.bpf.c: a task's death reaches the scheduler (sched_ext_dead(): ops.disable, ops.exit_task).</summary>
public class BpfTaskExitTests
{
    private const string TaskExits = """
        name: task-exits
        cpus: 2
        policy: simple
        tasks:
          - { name: p, allowed: [0, 1], cpu: 0, state: running }
          - { name: q, allowed: [0, 1], cpu: 0, state: queued }
        actors:
          - name: killer
            cpu: 1
            do:
              - exit: { task: p }
        rounds:
          - { cpu: 0, count: 2 }
        check: [all]
        """;

    [Fact]
    public void Should_DisableThenExitTheTask_When_ItDies()
    {
        // p exits while it runs on CPU0; CPU0's next schedule switches away from it for the last time, and
        // finish_task_switch() calls sched_ext_dead(p): ops.disable(p), then ops.exit_task(p, {.cancelled = false}) —
        // where scx_bpf_task_cgroup(p) is allowed (p is the op's task) and p no longer runs. Before, neither ran.
        var s = ScenarioLoader.Parse(TaskExits, "task-exits.yaml");
        var config = s.ToConfig(BpfExamples.CompileProgram("task_exit.bpf.c", "v3"));
        var r = new Explorer(new Machine(config), new ExploreOptions { Checks = s.Checks }).Run();
        var found = Assert.Single(r.Violations);
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: exit_task pid=101 disabled_first=1 cancelled=0 exited=1 running=0", found.Violation.ToString());
        var run = TraceRunner.Run(config, found.Trace, s.Checks);
        Assert.Contains(run.Rows.SelectMany(row => row.Notes), n => n == "sched_ext_dead(p[101])");
    }
}

/// <summary>programs/idle_mask.bpf.c: the idle/online cpumask kfuncs through bpf_cpumask_test_cpu, and bpf_strncmp on p->comm.</summary>
public class BpfIdleMaskTests
{
    [Fact]
    public void Should_ReadTheIdleAndOnlineMasksAndCompareTheComm_When_AProgramUsesThem()
    {
        var obj = BpfExamples.CompileProgram("idle_mask.bpf.c", "v3");
        var s = ScenarioLoader.Resolve("seed-race-r1");
        var m = new Machine(s.ToConfig(obj));
        // p is enqueued at boot, when the ops.enqueue above runs: the idle bits it read are the model's rq->idle then.
        var idle = $"{(m.World.Cpus[0].Idle ? 1 : 0)}{(m.World.Cpus[1].Idle ? 1 : 0)}";
        var r = new Explorer(m, new ExploreOptions { Checks = s.Checks }).Run();
        // Two CPUs, both online; CPU 7 does not exist (never idle); p->comm is "p" (not "p[101]").
        Assert.Equal($"scheduler exit SCX_EXIT_UNREG_BPF: smt=idle:1 online=110 idle7=0 comm_p=1 comm_q=0 comm_px=0 idle={idle}", Assert.Single(r.Violations).Violation.ToString());
    }
}

/// <summary>programs/hash.bpf.c: BPF_MAP_TYPE_HASH with hashtab.c's return codes, and its atomicity under racing updates.</summary>
public class BpfHashMapTests
{
    private const string TwoDispatchers = """
        name: two-dispatchers
        cpus: 2
        policy: simple
        tasks:
          - { name: p, allowed: [0, 1], cpu: 0, state: queued }
          - { name: q, allowed: [0, 1], cpu: 1, state: queued }
        rounds:
          - { cpu: 0, count: 2 }
          - { cpu: 1, count: 2 }
        check: [all]
        """;

    [Fact]
    public void Should_ReturnHashtabsCodes_When_AProgramInsertsLooksUpAndDeletes()
    {
        var obj = BpfExamples.CompileProgram("hash.bpf.c", "v3");
        var r = BpfExamples.ExploreSeedRace(obj + "@report=1");
        // miss: NULL; BPF_NOEXIST twice: 0 then -EEXIST; BPF_EXIST on a missing key: -ENOENT; a third key into
        // max_entries 2: -E2BIG; overwrite then read back 5,6; delete twice: 0, -ENOENT; the freed room is reused;
        // BPF_F_LOCK without a lock in the value: -EINVAL.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: miss=0 ins=0 dup=-17 exist=-2 any=0 full=-7 over=0 val=56 del=0 del2=-2 reuse=0 lock=-22",
            Assert.Single(r.Violations).Violation.ToString());
    }

    [Theory]
    [InlineData(Strategy.Dfs)]
    [InlineData(Strategy.Reduced)]
    public void Should_NeverShowAHalfWrittenValueOrTwoWinningInserts_When_CpusRaceOnOneKey(Strategy strategy)
    {
        var obj = BpfExamples.CompileProgram("hash.bpf.c", "v3");
        var s = ScenarioLoader.Parse(TwoDispatchers, "test.yaml");
        var r = new Explorer(new Machine(s.ToConfig(obj)), new ExploreOptions { Checks = s.Checks, Strategy = strategy }).Run();
        Assert.True(r.Complete);
        Assert.Empty(r.Violations);
        // The race is there to be lost: both CPUs reach the update (more than one interleaving of them).
        Assert.True(r.Stats.States > 50, $"{r.Stats.States} states");
    }

    [Fact]
    public void Should_StopAtAModelLimit_When_AnInsertNeedsMoreElementsThanTheModelBacks()
    {
        // ops.init inserts two keys into tbl (max_entries 2, plus one extra element per CPU): with one element backed
        // the second insert has no element where the kernel would have one, and the run stops naming the bound —
        // never the -E2BIG the kernel would not return. With three (max_entries + 1), ops.init's codes are the kernel's.
        var obj = BpfExamples.CompileProgram("hash.bpf.c", "v3") + "@report=1";
        var seed = File.ReadAllText(Path.Combine(BpfExamples.Root(), "scenarios", "seed-race-r1.yaml"));
        var tight = ScenarioLoader.Parse(seed[..seed.IndexOf("expect:", StringComparison.Ordinal)] + "bounds: { hash_elems: 1 }\n", "tight.yaml");
        var r = new Explorer(new Machine(tight.ToConfig(obj)), new ExploreOptions { Checks = tight.Checks }).Run();
        Assert.Equal(Verdict.Incomplete, r.Verdict);
        Assert.Contains("hash map tbl: the model backs 1 of its 4 elements and all are in use (raise bounds: { hash_elems: N })", r.IncompleteReason);
        var room = ScenarioLoader.Parse(seed[..seed.IndexOf("expect:", StringComparison.Ordinal)] + "bounds: { hash_elems: 3 }\n", "room.yaml");
        var ok = new Explorer(new Machine(room.ToConfig(obj)), new ExploreOptions { Checks = room.Checks }).Run();
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: miss=0 ins=0 dup=-17 exist=-2 any=0 full=-7 over=0 val=56 del=0 del2=-2 reuse=0 lock=-22",
            Assert.Single(ok.Violations).Violation.ToString());
    }
}

/// <summary>
/// programs/hash_kinds.bpf.c: keys over 8 bytes, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_HASH and
/// BPF_MAP_TYPE_LRU_PERCPU_HASH with hashtab.c's return codes, and the point where the kernel's LRU could evict.
/// </summary>
public class BpfHashKindsTests
{
    private const string TwoDispatchers = """
        name: two-dispatchers
        cpus: 2
        policy: simple
        tasks:
          - { name: p, allowed: [0, 1], cpu: 0, state: queued }
          - { name: q, allowed: [0, 1], cpu: 1, state: queued }
        rounds:
          - { cpu: 0, count: 2 }
          - { cpu: 1, count: 2 }
        check: [all]
        """;

    private static ExploreResult Run(string rodata, string scenario = "seed-race-r1", Strategy strategy = Strategy.Reduced)
    {
        var obj = BpfExamples.CompileProgram("hash_kinds.bpf.c", "v3");
        var s = scenario.EndsWith(".yaml") ? ScenarioLoader.Parse(TwoDispatchers, scenario) : ScenarioLoader.Resolve(scenario);
        return new Explorer(new Machine(s.ToConfig(obj + rodata)), new ExploreOptions { Checks = s.Checks, Strategy = strategy }).Run();
    }

    [Fact]
    public void Should_ReturnHashtabsCodes_When_AProgramUsesWideKeysPerCpuAndLruHashes() =>
        // wide keys: two keys differing in the third word both insert, each reads back its own value, a third misses;
        // per-CPU: this CPU's copy 7,8, the other CPU's copy of the new element 0, BPF_NOEXIST on it -EEXIST, BPF_EXIST
        // updates in place (9,9), and the third key of max_entries 2 is -E2BIG (no extra elements); LRU: as a hash.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: ins=0 ins2=0 get=1020 miss=-1 del=-2 pc=0 pcv=78 other=0 dup=-17 exist=0 inplace=99 full=-7 lru=-17 lru2=301 lrupc=20 lrudel=-2",
            Assert.Single(Run("").Violations).Violation.ToString());

    [Fact]
    public void Should_StopNamingTheModelsLimit_When_AnLruHashFillsPastWhereTheKernelCouldEvict()
    {
        // max_entries 64 on 2 CPUs: target_free = clamp(64 / 2 / 2, 1, 128) = 16, so a pop with more than
        // 64 - 2 * 16 = 32 elements in use may find the global free list short and shrink (evict).
        // Which element the kernel would evict is not modelled: a gap in coverage (incomplete), not a violation.
        var r = Run("@fill=1");
        Assert.Equal(Verdict.Incomplete, r.Verdict);
        Assert.Empty(r.Violations);
        Assert.Contains("scxlab: LRU hash lru: 33 of its 64 elements in use", Assert.Single(r.ModelLimits).Violation.ToString());
    }

    [Theory]
    [InlineData(Strategy.Dfs)]
    [InlineData(Strategy.Reduced)]
    public void Should_LetOneBpfNoexistInsertWin_When_CpusRaceOnOnePerCpuKey(Strategy strategy)
    {
        var r = Run("@race=1", "test.yaml", strategy);
        Assert.True(r.Complete);
        Assert.Empty(r.Violations);
        Assert.True(r.Stats.States > 50, $"{r.Stats.States} states");
    }
}

/// <summary>programs/linked_main.bpf.c + linked_lib.bpf.c: one scheduler statically linked from two objects (bpftool gen object).</summary>
public class BpfLinkedObjectTests
{
    [Fact]
    public void Should_CallTheLibrarysFunctionAndShareItsGlobals_When_TwoObjectsAreLinked()
    {
        var obj = BpfExamples.LinkPrograms("linked", "linked_main.bpf.c", "linked_lib.bpf.c");
        var r = BpfExamples.ExploreSeedRace(obj);
        // lib_dsq_for(5) = 105 is created (0), and the library's counter, read through the extern, is 1.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: dsq=105 created=0 calls=1", Assert.Single(r.Violations).Violation.ToString());
    }
}

/// <summary>programs/idle_curr.bpf.c: the idle task swapper/N, as scx_bpf_cpu_curr() of an idle CPU returns it.</summary>
public class BpfIdleTaskTests
{
    private static ExploreResult Run(string rodata) =>
        BpfExamples.ExploreSeedRace(BpfExamples.CompileProgram("idle_curr.bpf.c", "v3") + rodata);

    [Fact]
    public void Should_ReadTheIdleTasksFields_When_ASchedulerLooksAtAnIdleCpusCurr() =>
        // init_idle(): pid 0, PF_IDLE | PF_KTHREAD, comm swapper/N, bound to its CPU; init_scx_entity(): dsq_vtime 0,
        // slice SCX_SLICE_DFL; never enabled by the scheduler: weight 0.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: pid=0 idle=1 comm=1 vtime=0 slice_dfl=1 weight=0 nr=1 mask=10",
            Assert.Single(Run("").Violations).Violation.ToString());

    [Fact]
    public void Should_ReadBackTheIdleTasksSlice_When_AProgramShortensIt() =>
        // The kernel never reads the idle task's scx.slice; the program reads back its own write, 7 (in slice_dfl's place).
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: pid=0 idle=1 comm=1 vtime=0 slice_dfl=7 weight=0 nr=1 mask=10",
            Assert.Single(Run("@shorten=1").Violations).Violation.ToString());

    [Fact]
    public void Should_StopNamingTheIdleTask_When_AProgramPassesItToAKfunc() =>
        Assert.Contains("the idle task swapper/", Assert.Single(Run("@storage=1").ModelLimits).Violation.ToString());
}

/// <summary>programs/compat_move.bpf.c: the flavored names scx's compat.bpf.h calls scx_bpf_dsq_move_to_local by.</summary>
public class BpfCompatMoveTests
{
    [Fact]
    public void Should_CallTheTwoArgumentForm_When_TheObjectAsksWhichExists()
    {
        var obj = BpfExamples.CompileProgram("compat_move.bpf.c", "v3");
        var r = BpfExamples.ExploreSeedRace(obj);
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: v2=1 moved=1", Assert.Single(r.Violations).Violation.ToString());
    }
}

/// <summary>programs/current.bpf.c: bpf_get_current_task_btf() outside any modelled task, and bpf_printk into the trace.</summary>
public class BpfCurrentTaskTests
{
    private static ExploreResult Run(string rodata) =>
        BpfExamples.ExploreSeedRace(BpfExamples.CompileProgram("current.bpf.c", "v3") + rodata);

    [Fact]
    public void Should_CompareUnequalToTheTask_When_CurrentIsNoModelledTask() =>
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: differs=1 pid=0", Assert.Single(Run("").Violations).Violation.ToString());

    [Fact]
    public void Should_StopAtAModelLimit_When_AProgramReadsWhatTheModelDoesNotHaveOfTheHelperKthread()
    {
        var text = Assert.Single(Run("@deref=1").ModelLimits).Violation.ToString();
        Assert.Contains("p->Pid of sched_ext's helper kthread", text);
    }

    [Fact]
    public void Should_SeeTheEnableHelperKthread_When_ACallbackRunsInTheEnablePath()
    {
        // A kthread named scx_enable_helper (TASK_COMM_LEN: 15 characters and a NUL), child of kthreadd (pid 2), whose
        // parent is swapper/0; SCHED_FIFO (1) at priority 50 (p->prio 49).
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: kthread=1 comm=1 parent=2 grandparent_idle=1 prio=49 policy=1",
            Assert.Single(Run("@helper=1").Violations).Violation.ToString());
    }

    // A wakeup onto a busy CPU: ops.enqueue runs in the waker's step (the model's trace has its notes).
    private const string WakeOntoBusyCpu = """
        name: wake-onto-busy
        cpus: 2
        policy: simple
        tasks:
          - { name: r, allowed: [0], cpu: 0, state: running }
          - { name: p, allowed: [0], cpu: 0, state: sleeping }
        actors:
          - name: waker
            cpu: 1
            do:
              - wake: { task: p }
        check: [all]
        """;

    [Fact]
    public void Should_SeeTheScriptedActorsProcess_When_ItsWakeupReachesTheScheduler()
    {
        // ops.enqueue runs in the waker's step: `current` is the waker process — pid 105 (past the tasks' highest, 102, by
        // its actor id, 2: the two CPUs come first), its own thread group, named after the actor, a user process
        // (no PF_KTHREAD) of SCHED_NORMAL (0) at nice 0 (prio 120), child of init. Before, any read of it stopped the run.
        var s = ScenarioLoader.Parse(WakeOntoBusyCpu, "test.yaml");
        var config = s.ToConfig(BpfExamples.CompileProgram("current.bpf.c", "v3") + "@waker=1");
        var r = new Explorer(new Machine(config), new ExploreOptions { Checks = s.Checks }).Run();
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: pid=105 tgid=105 comm=1 kthread=0 prio=120 policy=0 parent=1", Assert.Single(r.Violations).Violation.ToString());
        Assert.Empty(r.ModelLimits);
    }

    [Fact]
    public void Should_WriteTheLineIntoTheTrace_When_AProgramCallsBpfPrintk()
    {
        var s = ScenarioLoader.Parse(WakeOntoBusyCpu, "test.yaml");
        var config = s.ToConfig(BpfExamples.CompileProgram("current.bpf.c", "v3"));
        var found = Assert.Single(new Explorer(new Machine(config), new ExploreOptions { Checks = s.Checks }).Run().Violations);
        var run = TraceRunner.Run(config, found.Trace, s.Checks);
        Assert.Contains(run.Rows.SelectMany(row => row.Notes), n => n == "bpf_printk: enqueue 102, current is p: 0, tag AB");
    }
}

/// <summary>programs/cpumask.bpf.c: struct bpf_cpumask objects and bpf_kptr_xchg, as scx_bpfland and scx_cosmos keep CPU domains.</summary>
public class BpfCpumaskTests
{
    private static ExploreResult Run(string rodata)
    {
        var s = ScenarioLoader.Resolve("seed-race-r1");
        var config = s.ToConfig(BpfExamples.CompileProgram("cpumask.bpf.c", "v3") + rodata);
        return new Explorer(new Machine(config), new ExploreOptions { Checks = s.Checks }).Run();
    }

    [Fact]
    public void Should_ComputeWhatTheKernelsCpumaskKfuncsReturn_When_APolicyBuildsADomain()
    {
        // Two CPUs. {1}: test_and_set(1) 1, test_and_set(0) 0 → {0,1}: weight 2, full 1; clear 0 → first 1,
        // first_zero 0; and({1}, online) non-empty, equal to {1} and a subset of online; the copy of online
        // intersects {1} and is not empty; 16 more objects fit in the pool; the kptr slot was NULL; p
        // (allowed on both CPUs) intersects the stored domain {1}, of weight 1.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: tas1=1 tas0=0 weight=2 full=1 first=10 and=1 eq_sub=11 inter_empty=10 made=16 xchg=1 enq_inter=1 enq_weight=1",
            Assert.Single(Run("").Violations).Violation.ToString());
    }

    [Fact]
    public void Should_EndTheScheduler_When_ACpumaskIsReleasedOnceTooOften() =>
        Assert.Contains("bpf_cpumask_release: the cpumask has no reference left", Assert.Single(Run("@overrelease=1").Violations).Violation.ToString());

    [Fact]
    public void Should_StopNamingTheModelsLimit_When_ThePoolOfCpumasksRunsOut() =>
        // seed-race-r1: 1 task, 2 CPUs: 16 + 2 + 8 = 26 objects. The kernel's allocator would not fail, so the run
        // must not hand the program a NULL it would answer with -ENOMEM (a false alarm in ops.init_task).
        Assert.Contains("not modelled: ops.init(): scxlab: no room for a struct bpf_cpumask: the model's pool holds 26 live objects", Assert.Single(Run("@exhaust=1").ModelLimits).Violation.ToString());
}

/// <summary>programs/map_init.bpf.c: map contents user space writes before attaching (--map, scenario maps:).</summary>
public class BpfMapInitTests
{
    private static readonly string[] Items =
    [
        "cpu_llc[0]=7", "cpu_llc[3]=0x9",
        "topo[1].id=4", "topo[1].kind=2", "topo[1].weights[0]=3", "topo[1].weights[1]=5", "topo[1].in.a=6", "topo[1].in.b=8",
        "pc[1]=11",
        "by_key[40].x=1", "by_key[40].y=2", "by_key[41].x=3", "by_key[41].y=4",
        "pch[9]=12",
    ];

    private static string Spec(IEnumerable<string> items) =>
        BpfExamples.CompileProgram("map_init.bpf.c", "v3") + "@" + string.Join(",", items.Select(i => BpfObjectFile.MapPrefix + i));

    private static ExploreResult Run(string spec) =>
        BpfExamples.ExploreSeedRace(spec);

    [Fact]
    public void Should_SeeTheValuesUserSpaceWrote_When_MapsAreSetBeforeAttaching() =>
        // Arrays at their index (fields through BTF, nested and array fields included), a per-CPU array and a per-CPU
        // hash on every CPU, hash keys as elements (the count lets one more key in, then max_entries 3 is -E2BIG).
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: llc0=7 llc3=9 topo=4253 inner=6008 pc0=11 pc1=11 h40=102 h41=3040 ins=-7 pch=12",
            Assert.Single(Run(Spec(Items)).Violations).Violation.ToString());

    [Fact]
    public void Should_ReadZeroAndMiss_When_NothingIsWritten() =>
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: llc0=0 llc3=0 topo=0 inner=0 pc0=0 pc1=0 h40=-1 h41=-10 ins=0 pch=-1",
            Assert.Single(Run(Spec([])).Violations).Violation.ToString());

    [Theory]
    [InlineData("nope[0]=1", "no map nope")]
    [InlineData("cpu_llc[4]=1", "index 4 out of range (0..3)")]
    [InlineData("topo[0].speed=1", "struct topo has no field speed")]
    [InlineData("topo[0]=1", "give each field")]
    [InlineData("topo[0].weights[2]=1", "index 2 out of range (0..1)")]
    [InlineData("topo[0].in=1", "give each field")]
    [InlineData("by_key[0x100000000].x=1", "does not fit in the map's 4-byte key")]
    [InlineData("cpu_llc[0]=seven", "'seven' is not a number")]
    [InlineData("cpu_llc=1", "expected MAP[KEY]=VALUE")]
    public void Should_RefuseWithOneLine_When_AMapItemIsWrong(string item, string message)
    {
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(BpfExamples.CompileProgram("map_init.bpf.c", "v3"), [BpfObjectFile.MapPrefix + item]));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void Should_RefuseToWriteATimer_When_AMapValueHoldsOne()
    {
        // timer_count.bpf.c: struct tmr { u64 pad; struct bpf_timer timer; } — pad can be written, the timer cannot.
        var obj = BpfExamples.CompileProgram("timer_count.bpf.c", "v3");
        Assert.Single(BpfObjectFile.Load(obj, [BpfObjectFile.MapPrefix + "timers[0].pad=1"]).MapInits);
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(obj, [BpfObjectFile.MapPrefix + "timers[0].timer.__opaque[0]=1"]));
        Assert.Contains("struct bpf_timer", e.Message);
    }

    [Fact]
    public void Should_TakeAnUnsigned64BitValue_When_ItIsWrittenInDecimal()
    {
        var o = BpfObjectFile.Load(BpfExamples.CompileProgram("map_init.bpf.c", "v3"), [BpfObjectFile.MapPrefix + "pc[0]=18446744073709551615"]);
        Assert.Equal(-1L, Assert.Single(o.MapInits).Value);
    }

    [Fact]
    public void Should_RefuseMoreKeysThanMaxEntries_When_AHashIsFilledAtLoad()
    {
        var e = Assert.ThrowsAny<Exception>(() => Run(Spec(["by_key[1].x=1", "by_key[2].x=1", "by_key[3].x=1", "by_key[4].x=1"])));
        Assert.Contains("holds at most 3 elements", e.Message);
    }

    [Fact]
    public void Should_ReadMapsFromTheScenario_When_ItHasAMapsKey()
    {
        var s = ScenarioLoader.Parse($"""
            name: with-maps
            cpus: 2
            policy: {BpfExamples.CompileProgram("map_init.bpf.c", "v3")}
            tasks:
              - {"{"} name: p, allowed: [0, 1], cpu: 0, state: queued {"}"}
            maps:
              cpu_llc: {"{"} 0: 7, 3: 0x9 {"}"}
              topo:
                1: {"{"} id: 4, kind: 2, weights: [3, 5], in: {"{"} a: 6, b: 8 {"}"} {"}"}
              pc: {"{"} 1: 11 {"}"}
              by_key: {"{"} 40: {"{"} x: 1, y: 2 {"}"}, 41: {"{"} x: 3, y: 4 {"}"} {"}"}
              pch: {"{"} 9: 12 {"}"}
            check: [all]
            """, "with-maps.yaml");
        var r = new Explorer(new Machine(s.ToConfig()), new ExploreOptions { Checks = s.Checks }).Run();
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: llc0=7 llc3=9 topo=4253 inner=6008 pc0=11 pc1=11 h40=102 h41=3040 ins=-7 pch=12",
            Assert.Single(r.Violations).Violation.ToString());
    }
}

/// <summary>programs/switches.bpf.c: p->nvcsw/nivcsw (counted as __schedule() does, for a policy that reads them), p->policy, p->static_prio.</summary>
public class BpfSwitchCountTests
{
    private static ExploreResult Run(string scenario, string rodata = "")
    {
        var s = ScenarioLoader.Parse(scenario, "switches.yaml");
        return new Explorer(new Machine(s.ToConfig(BpfExamples.CompileProgram("switches.bpf.c", "v3") + rodata)), new ExploreOptions { Checks = s.Checks }).Run();
    }

    /// <summary>p and q take turns on one CPU: two SCX_KICK_PREEMPTs end the running task's slice, three rounds.</summary>
    private static string Turns(int qWeight) => $$"""
        name: turns
        cpus: 1
        policy: simple
        tasks:
          - { name: p, allowed: [0], cpu: 0, state: queued }
          - { name: q, allowed: [0], cpu: 0, state: queued, weight: {{qWeight}} }
        actors:
          - name: kicker
            cpu: 0
            do:
              - { kick: { cpu: 0, flags: [preempt] } }
              - { kick: { cpu: 0, flags: [preempt] } }
        rounds:
          - { cpu: 0, count: 3 }
        check: [all]
        """;

    [Fact]
    public void Should_CountInvoluntarySwitches_When_TasksTakeTurnsOnOneCpu() =>
        // Idle → p (no switch away from a task), p → q (p: nivcsw 1), q → p (q: nivcsw 1): on its second run p has
        // nvcsw 0, nivcsw 1. SCHED_NORMAL (no SCX_OPS_SWITCH_PARTIAL); weight 100 is nice 0 (120), 479 nice -7 (113).
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: runs=10100,10200,10101 policy=0 prio=113,120",
            Assert.Single(Run(Turns(479)).Violations).Violation.ToString());

    [Fact]
    public void Should_CountAVoluntarySwitch_When_ATaskBlocksAndRunsAgain() =>
        Assert.Contains("nvcsw=1", Assert.Single(Run("""
            name: block
            cpus: 1
            policy: simple
            tasks:
              - { name: p, allowed: [0], cpu: 0, state: running }
              - { name: q, allowed: [0], cpu: 0, state: queued }
            actors:
              - name: life
                cpu: 0
                do:
                  - { sleep: { task: p } }
                  - { wake: { task: p } }
                  - { kick: { cpu: 0, flags: [preempt] } }
            rounds:
              - { cpu: 0, count: 3 }
            check: [all]
            """, "@voluntary=1").Violations).Violation.ToString());

    [Fact]
    public void Should_StopAsTheModelsLimit_When_AWeightHasNoNiceLevel() =>
        Assert.Contains("its weight 400 is not the weight of exactly one nice level", Assert.Single(Run(Turns(400)).ModelLimits).Violation.ToString());
}

/// <summary>programs/holds.bpf.c: `holds` names where a scheduler keeps its tasks, so a forgotten task is found at once.</summary>
public class BpfHoldsTests
{
    private const string OneCpu = """
        name: holds
        cpus: 1
        policy: simple
        tasks:
          - { name: p, allowed: [0], cpu: 0, state: queued }
        rounds:
          - { cpu: 0, count: 1 }
        check: [all]
        """;

    private static ExploreResult Run(params string[] items)
    {
        var s = ScenarioLoader.Parse(OneCpu, "holds.yaml");
        var spec = BpfExamples.CompileProgram("holds.bpf.c", "v3") + "@" + string.Join(",", items);
        return new Explorer(new Machine(s.ToConfig(spec)), new ExploreOptions { Checks = s.Checks }).Run();
    }

    private static string Holds(string place) => BpfObjectFile.HoldsPrefix + place;

    [Fact]
    public void Should_FindOnlyTheStall_When_TheDroppedPidLingersInTheObjectsMemory() =>
        // Without holds, last_pid and the seen map still have 101: "held" as far as the model can tell, so only the
        // liveness drain finds the task (the watchdog's stall).
        Assert.Equal("scheduler exit SCX_EXIT_ERROR_STALL: p[101] failed to run for 30.000s", Assert.Single(Run("drop=1").Violations).Violation.ToString());

    [Theory]
    [InlineData("map:fifo")]
    [InlineData("map:seen:values")]
    public void Should_FindTheForgottenTaskAtOnce_When_HoldsNamesWhereTasksAreKept(string place) =>
        Assert.Contains("(BPF custody) but the policy's maps no longer hold it, nothing in flight can hand it back and no remaining scripted action re-enqueues it: forgotten",
            Assert.Single(Run("drop=1", Holds(place)).Violations).Violation.ToString());

    [Theory]
    [InlineData("global:last_pid")]
    [InlineData("map:seen")]
    [InlineData("map:seen:keys")]
    public void Should_CountThePlaceAsCustody_When_ThePidIsThere(string place) =>
        Assert.Equal("scheduler exit SCX_EXIT_ERROR_STALL: p[101] failed to run for 30.000s", Assert.Single(Run("drop=1", Holds(place)).Violations).Violation.ToString());

    [Fact]
    public void Should_Hold_When_TheSchedulerDispatchesWhatItPops() =>
        Assert.Equal(Verdict.Holds, Run("drop=0", Holds("map:fifo")).Verdict);

    [Theory]
    [InlineData("map:nope", "no map nope")]
    [InlineData("map:fifo:keys", "BPF_MAP_TYPE_QUEUE has no keys")]
    [InlineData("map:seen:both", "expected keys or values")]
    [InlineData("global:drop", "no writable global variable drop")]
    [InlineData("cpu:0", "expected map:NAME")]
    public void Should_RefuseWithOneLine_When_AHoldsPlaceIsWrong(string place, string message)
    {
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(BpfExamples.CompileProgram("holds.bpf.c", "v3"), [Holds(place)]));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Should_ReadHoldsFromTheScenario_When_ItNamesPlaces()
    {
        var s = ScenarioLoader.Parse(OneCpu.Replace("policy: simple", "policy: x.bpf.o") + "\nholds: [{ map: fifo }, { map: seen, value: pid }, { global: last_pid }]\n", "h.yaml");
        Assert.Equal([Holds("map:fifo"), Holds("map:seen:values"), Holds("global:last_pid")], s.Rodata);
        var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(OneCpu + "\nholds: { map: fifo, key: task }\n", "bad.yaml"));
        Assert.Contains("expected key: pid", e.Message);
    }
}
