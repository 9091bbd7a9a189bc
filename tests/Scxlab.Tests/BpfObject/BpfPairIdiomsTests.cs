using Scxlab.BpfObject;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// programs/pair_idioms.bpf.c: what scx_pair (scx `scheds/c`) needs — a map user space sizes before load
/// (<c>--max-entries</c>), an array of maps it fills with maps it creates (<c>--map OUTER[i]=new</c>), a
/// <c>struct bpf_spin_lock</c> in a map value, <c>scx_bpf_task_cgroup()</c>, ops.cpu_acquire after ops.cpu_release,
/// a <c>RESIZABLE_ARRAY(rodata, …)</c>, and a clock that counts from boot.
/// </summary>
public class BpfPairIdiomsTests
{
    private const string Sized = "max_entries:ctxs=1,map:qarr[0]=new";

    private static string Object(string items) => BpfExamples.CompileProgram("pair_idioms.bpf.c", "v3") + "@" + items;

    private static ExploreResult Explore(string scenario, string policy)
    {
        var s = ScenarioLoader.Resolve(scenario);
        return new Explorer(new Machine(s.ToConfig(policy)), new ExploreOptions { Checks = s.Checks }).Run();
    }

    [Fact]
    public void Should_GiveTheRootCgroupAndAClockFromBoot_When_EnqueueAsks()
    {
        // The task's cgroup is the root (kn->id 1); the spin-locked counter took the one enqueue; scx_bpf_now() at
        // ops.init reads the attach clock, so a batch started at 0 has expired; pair_cpu grew to 2 and element 1 was set.
        var r = BpfExamples.ExploreSeedRace(Object(Sized + ",mode=1,pair_cpu[]=2,pair_cpu[1]=-7"));
        Assert.Equal($"scheduler exit SCX_EXIT_UNREG_BPF: cgroup=1 enqueued=1 now_at_init={ModelConfig.AttachClockNs} expired=1 pair_cpu=-7",
            Assert.Single(r.Violations).Violation.ToString());
    }

    [Fact]
    public void Should_ExitWithTheKernelsError_When_TaskCgroupIsAskedForATaskNotOperatedOn()
    {
        // scx_kf_arg_task_ok(): ops.dispatch is handed no task (its prev is not a kf_task), so the task it looked up is refused.
        var r = BpfExamples.ExploreSeedRace(Object(Sized + ",mode=2"));
        Assert.Equal("scheduler exit SCX_EXIT_ERROR: called on a task not being operated on", Assert.Single(r.Violations).Violation.ToString());
    }

    [Fact]
    public void Should_GiveTheRqTheOpHolds_When_ScxBpfLockedRqIsCalled()
    {
        // ops.enqueue holds p's rq (CPU1 in seed-race-r1, where p is queued); ops.init holds none: scx_error() and NULL.
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: locked_rq=1 task_cpu=1", Assert.Single(BpfExamples.ExploreSeedRace(Object(Sized + ",mode=3")).Violations).Violation.ToString());
        Assert.Equal("scheduler exit SCX_EXIT_ERROR: accessing rq without holding rq lock", Assert.Single(BpfExamples.ExploreSeedRace(Object(Sized + ",mode=4")).Violations).Violation.ToString());
    }

    [Fact]
    public void Should_CallCpuAcquire_When_TheCpuComesBackFromTheStopper()
    {
        // The stopper takes CPU0 from p (ops.cpu_release); balance_one() then calls ops.cpu_acquire before ops.dispatch.
        // Without it the program's released flag stays set and its ops.dispatch ends the scheduler (and scx_pair, which
        // waits for its pair CPU to be acquired back, stalls).
        var r = Explore("running-narrow-renice", Object(Sized));
        Assert.Empty(r.Violations);
        Assert.Equal(Verdict.Holds, r.Verdict);
    }

    [Fact]
    public void Should_EndWithTheProgramsError_When_AnArrayOfMapsSlotWasNotFilled()
    {
        var r = BpfExamples.ExploreSeedRace(Object("max_entries:ctxs=1"));
        Assert.Equal("scheduler exit SCX_EXIT_ERROR_BPF: no queue in qarr[0]", Assert.Single(r.Violations).Violation.ToString());
    }

    [Theory]
    [InlineData("", "map ctxs: max_entries must be positive")]
    [InlineData("max_entries:ctxs=1,max_entries:nosuch=1", "--max-entries nosuch: no map of that name (the object has: ")]
    [InlineData("max_entries:ctxs=0", "--max-entries ctxs=0: '0' is not a positive number of entries")]
    [InlineData("max_entries:ctxs=100000000", "map ctxs: 100000000 entries of 24 bytes are more than the model keeps in every state (at most 256 MiB a map)")]
    [InlineData("max_entries:ctxs=1,map:qarr[4]=new", "index 4 out of range (0..3)")]
    [InlineData("max_entries:ctxs=1,map:qarr[0]=3", "a slot of BPF_MAP_TYPE_ARRAY_OF_MAPS qarr takes 'new'")]
    [InlineData("max_entries:ctxs=1,map:qarr[0].x=new", "holds a map, which has no fields")]
    public void Should_RefuseWithOneLine_When_AMapSettingIsWrong(string items, string message)
    {
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(BpfExamples.CompileProgram("pair_idioms.bpf.c", "v3"), items.Length == 0 ? [] : items.Split(',')));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void Should_ListTheObjectAndSayWhatToSize_When_InspectMeetsAMapWithoutASize()
    {
        // inspect lists an object a strict load refuses; the unsized map says which option sizes it, and with that
        // option the object loads (and its cpu_acquire is a callback, not "never called").
        var obj = BpfExamples.CompileProgram("pair_idioms.bpf.c", "v3");
        var r = Scxlab.Tests.Cli.CliResult.Run("inspect", obj);
        Assert.Contains("loads      no: map ctxs: max_entries must be positive (user space sizes it before load: --max-entries ctxs=N)", r.Stdout);
        var sized = Scxlab.Tests.Cli.CliResult.Run("inspect", obj, "--max-entries", "ctxs=1");
        Assert.Contains("loads      yes", sized.Stdout);
        Assert.Contains("ops.cpu_acquire  pi_cpu_acquire (struct_ops/pi_cpu_acquire)", sized.Stdout);
    }

    [Fact]
    public void Should_LoadTheMapSettings_When_AScenarioFileGivesThem()
    {
        var obj = BpfExamples.CompileProgram("pair_idioms.bpf.c", "v3");
        var yaml = $$"""
            name: pair-idioms
            cpus: 2
            policy: {{obj}}
            max_entries: { ctxs: 1 }
            maps: { qarr: { 0: new } }
            rodata: { mode: 1, "pair_cpu[]": 2 }
            tasks:
              - { name: p, allowed: [0, 1], cpu: 1, state: queued }
            rounds:
              - { cpu: 0, count: 1 }
            check: [all]
            """;
        var s = ScenarioLoader.Parse(yaml, "pair.yaml");
        var r = new Explorer(new Machine(s.ToConfig()), new ExploreOptions { Checks = s.Checks }).Run();
        Assert.StartsWith("scheduler exit SCX_EXIT_UNREG_BPF: cgroup=1 enqueued=1", Assert.Single(r.Violations).Violation.ToString());
    }
}
