using Scxlab.BpfObject;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// programs/older_upstream.bpf.c: what 2024-25 releases of scx's schedulers need (scx_lavd's ring buffer, scx_rusty's
/// bpf_probe_read_kernel(), scx_bpf_cpu_rq()->curr through struct rq's anonymous union, scx_bpfland's
/// scx_bpf_pick_idle_cpu() on a struct bpf_cpumask, scx_lavd's p->real_parent) and the kernel's per-CPU distribute rotor.
/// </summary>
public class BpfOlderUpstreamTests
{
    private static string Run(string rodata = "")
    {
        var obj = BpfExamples.CompileProgram("older_upstream.bpf.c", "v3");
        var r = BpfExamples.ExploreSeedRace(obj + rodata);
        var v = Assert.Single(r.Violations);
        return v.Violation.ToString();
    }

    [Fact]
    public void Should_ReadRingbufAndRqAsTheKernelDoes_When_AnOlderUpstreamSchedulerUsesThem()
    {
        // tptr == p; a NULL source is -EFAULT and zeroes the destination; output 0 and the 8 KiB reservation refused
        // (+10); rq->cpu of CPU 1; its curr is the idle task (pid 0: p is queued, not running); two
        // bpf_cpumask_any_distribute() calls on {0, 1} from one CPU give both CPUs (the rotor moved); the idle and
        // the any pick on the mask return a CPU of the mask (or -EBUSY for the idle one); p->real_parent is a task
        // outside the model, neither NULL nor p; p->__state is TASK_RUNNING (it is being enqueued); the parent is init
        // (tgid 1).
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: 1 -14 0 10 1 0 1 1 1 1 0 1", Run());
    }

    [Fact]
    public void Should_EndTheSchedulerAsTheKernelDoes_When_ScxBpfCpuRqGetsABadCpu()
    {
        Assert.Equal("scheduler exit SCX_EXIT_ERROR: invalid CPU 9", Run("@bad_cpu=1"));
    }

    [Fact]
    public void Should_RefuseTheProgram_When_ARingbufRecordIsNeitherSubmittedNorDiscarded()
    {
        var text = Run("@leak_record=1");
        Assert.Contains("Unreleased reference (ring buffer record reserved at ou_enqueue", text);
    }

    [Fact]
    public void Should_ResolveAFieldInsideAnAnonymousUnion_When_TheProgramsStructRqNestsCurrInOne()
    {
        var obj = BpfObjectFile.Load(BpfExamples.CompileProgram("older_upstream.bpf.c", "v3"));
        Assert.Contains("scx_bpf_cpu_rq", obj.KfuncsUsed);
    }
}

/// <summary>
/// programs/events.bpf.c: scx_bpf_events() copies the counters the model keeps into the program's struct
/// scx_event_stats (CO-RE: the program's layout is an older vmlinux.h's), and a program that reads them makes them
/// state: the search splits on them, and plain DFS and the reduced search agree on the states.
/// </summary>
public class BpfEventsTests
{
    // p may use CPUs 1 and 2; ops.select_cpu returns CPU 0, so select_task_rq() falls back to CPU 1 and
    // enqueue_task_scx() counts SCX_EV_SELECT_CPU_FALLBACK.
    private const string Fallback = """
        name: events-fallback
        cpus: 3
        policy: simple
        tasks:
          - { name: p, allowed: [1, 2], cpu: 1, state: sleeping }
        rounds:
          - { cpu: 1, count: 1 }
        actors:
          - name: waker
            cpu: 0
            do:
              - wake: { task: p }
        check: [all]
        """;

    private static Scxlab.Exploration.ExploreResult Explore(Scxlab.Exploration.Strategy strategy)
    {
        var s = Scxlab.Scenarios.ScenarioLoader.Parse(Fallback, "events-fallback.yaml");
        var obj = BpfExamples.CompileProgram("events.bpf.c", "v3");
        return new Scxlab.Exploration.Explorer(new Scxlab.Kernel.Machine(s.ToConfig(obj)),
            new Scxlab.Exploration.ExploreOptions { Checks = s.Checks, Strategy = strategy }).Run();
    }

    [Fact]
    public void Should_CopyTheModelsCountersThroughCoRe_When_AProgramCallsScxBpfEvents()
    {
        var r = Explore(Scxlab.Exploration.Strategy.Reduced);
        var v = Assert.Single(r.Violations);
        // The fallback counted once; no keep-last or slice refill on this path; SCX_EV_BYPASS_DURATION is not kept by
        // the model, so bpf_core_field_exists() says 0.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: fallback=1 keep_last=0 refill=0 bypass_duration=0", v.Violation.ToString());
    }

    [Fact]
    public void Should_AgreeOnTheStates_When_PlainDfsAndTheReducedSearchExploreAProgramThatReadsTheCounters()
    {
        var dfs = Explore(Scxlab.Exploration.Strategy.Dfs);
        var reduced = Explore(Scxlab.Exploration.Strategy.Reduced);
        Assert.True(dfs.Complete && reduced.Complete);
        Assert.Equal(dfs.Stats.States, reduced.Stats.States);
        Assert.Equal(dfs.Violations.Select(v => v.Violation.Key).Order(), reduced.Violations.Select(v => v.Violation.Key).Order());
    }
}

/// <summary>
/// programs/timer_maps.bpf.c: a per-CPU timer array sized for 64 CPUs declared before a lone stats timer (scx_nest's
/// layout). The model's 8 timer actors go entry by entry across the maps, so the stats timer gets one.
/// </summary>
public class BpfTimerAcrossMapsTests
{
    [Fact]
    public void Should_GiveTheLoneTimerAnActor_When_APerCpuTimerArrayIsDeclaredFirst()
    {
        // Before, the array's entries 0..7 took every actor and ops.init's bpf_timer_init() on the stats timer
        // ended the run at the model's limit; now it fires and the enqueue after it reports so.
        var r = BpfExamples.ExploreSeedRace(BpfExamples.CompileProgram("timer_maps.bpf.c", "v3"));
        Assert.True(r.Complete, r.IncompleteReason);
        Assert.Empty(r.ModelLimits);
        Assert.Contains(r.Violations, v => v.Violation.ToString() == "scheduler exit SCX_EXIT_UNREG_BPF: stats timer fired");
    }

    [Fact]
    public void Should_GiveMoreTimersActors_When_TheScenarioRaisesTheBound()
    {
        // Eight per-CPU timers and the stats timer: nine, one past the default. The ninth bpf_timer_init() is the model's
        // limit, naming the bound; with bounds: { bpf_timers: 9 } every timer has an actor and the stats timer fires.
        static ExploreResult Run(string bounds)
        {
            var s = ScenarioLoader.Parse(ScenarioLoader.BuiltInText("seed-race-r1")! + bounds, "timers.yaml");
            var config = s.ToConfig(BpfExamples.CompileProgram("timer_maps.bpf.c", "v3") + "@nr_cpus=8");
            return new Explorer(new Machine(config), new ExploreOptions { Checks = s.Checks }).Run();
        }
        Assert.Contains("(raise bounds: { bpf_timers: N })", Assert.Single(Run("").ModelLimits).Violation.ToString());
        var r = Run("\nbounds: { bpf_timers: 9 }\n");
        Assert.Empty(r.ModelLimits);
        Assert.Contains(r.Violations, v => v.Violation.ToString() == "scheduler exit SCX_EXIT_UNREG_BPF: stats timer fired");
    }
}
