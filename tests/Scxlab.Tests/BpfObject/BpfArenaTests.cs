using Scxlab.BpfObject;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// BPF arenas (BPF_MAP_TYPE_ARENA, clang's address space 1): programs/arena.bpf.c checks the memory as
/// kernel/bpf/arena.c and libbpf give it; examples/bpf/local_on_pop_arena.bpf.c keeps local_on_pop's queue in an arena
/// (its equivalence with the C# twin is in <see cref="BpfEquivalenceTests"/>).
/// </summary>
public class BpfArenaTests
{
    private static ExploreResult Run(string rodata = "", string bounds = "")
    {
        var obj = BpfExamples.CompileProgram("arena.bpf.c", "v3") + rodata;
        if (bounds.Length == 0) return BpfExamples.ExploreSeedRace(obj);
        var yaml = $$"""
            name: arena-bounds
            cpus: 2
            policy: simple
            tasks:
              - { name: p, allowed: [0, 1], cpu: 1, state: queued }
            rounds:
              - { cpu: 0, count: 1 }
            check: [all]
            bounds: { {{bounds}} }
            """;
        var s = ScenarioLoader.Parse(yaml, "arena-bounds.yaml");
        return new Explorer(new Machine(s.ToConfig(obj)), new ExploreOptions { Checks = s.Checks }).Run();
    }

    [Fact]
    public void Should_GiveArenaMemoryTheKernelsSemantics_When_AProgramAllocatesFreesAndDereferencesIt()
    {
        // 2 pages at the arena's start (first fit); page 5 at its address, then NULL there; page 2 (first fit); page 1
        // again after it was freed; 7 read back; 0 after its page was freed, and the store to it dropped; the
        // __arena global's initial 42 at the arena's last page (libbpf puts globals at the end); fetch-add 42 -> 43;
        // NULL for 65 pages of a 64-page arena; cast to the kernel's space and back gives the same pointer; a list
        // of arena pointers read from another callback; its head at page 2; a loop with may_goto runs to its end.
        var v = Assert.Single(Run().Violations);
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: 0 20480 0 8192 4096 7 0 0 42 258048 4243 0 1 56 8192 45", v.Violation.ToString());
    }

    [Fact]
    public void Should_EndTheSchedulerAsTheVerifierWould_When_ProgramReturnsWithPreemptionDisabled()
    {
        var v = Assert.Single(Run("@unbalanced=1").Violations);
        Assert.Contains("BPF_EXIT instruction in main prog cannot be used inside bpf_preempt_disable-ed region", v.Violation.ToString());
    }

    [Fact]
    public void Should_BeIncompleteNamingTheBound_When_ProgramAllocatesMorePagesThanTheModelBacks()
    {
        var r = Run("@many=1");
        Assert.Equal(Verdict.Incomplete, r.Verdict);
        Assert.Contains("arena_pages", r.IncompleteReason);
    }

    [Fact]
    public void Should_AllocateThePages_When_TheScenarioRaisesArenaPages()
    {
        var v = Assert.Single(Run("@many=1", "arena_pages: 16").Violations);
        Assert.StartsWith("scheduler exit SCX_EXIT_UNREG_BPF: 0 20480", v.Violation.ToString());
    }

    [Fact]
    public void Should_ExploreTheSameStatesWithAndWithoutReduction_When_TheQueueLivesInAnArena()
    {
        foreach (var name in new[] { "seed-race-r1", "seed-race-r2", "central-remote" })
        {
            var s = ScenarioLoader.Resolve(name);
            var config = s.ToConfig(BpfExamples.Object("local_on_pop_arena"));
            var dfs = new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Dfs, Checks = s.Checks, ShortestTraces = false }).Run();
            var reduced = new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Reduced, Checks = s.Checks, ShortestTraces = false }).Run();
            Assert.True(dfs.Complete, dfs.IncompleteReason);
            Assert.Equal((name, dfs.Verdict, dfs.Stats.States), (name, reduced.Verdict, reduced.Stats.States));
        }
    }

    private const string Header = "#include <scxlab_bpf.h>\nchar _license[] SEC(\"license\") = \"GPL\";\n"
        + "SCX_OPS2(void, a_enqueue, struct task_struct *, p, u64, enq_flags) { }\n"
        + "SEC(\".struct_ops.link\") struct sched_ext_ops ops = { .enqueue = (void *)a_enqueue, .name = \"a\" };\n";

    private static string LoadError(string name, string source)
    {
        var e = Assert.Throws<PolicyLoadException>(() => PolicyRegistry.Resolve(BpfExamples.Compile(name, Header + source)));
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void Should_RefuseTheObject_When_ArenaGlobalsHaveNoArenaMap()
    {
        Assert.Contains("the ARENA map should be explicitly declared", LoadError("arena_no_map", "u64 __arena orphan = 1;\nSEC(\"syscall\") int touch(void *ctx) { return orphan; }\n"));
    }

    [Fact]
    public void Should_RefuseTheMap_When_ItLacksBpfFMmapable()
    {
        Assert.Contains("BPF_MAP_TYPE_ARENA creation failed: -EINVAL", LoadError("arena_flags",
            "struct { __uint(type, BPF_MAP_TYPE_ARENA); __uint(max_entries, 4); } arena SEC(\".maps\");\n"));
    }

    [Fact]
    public void Should_RefuseTheMap_When_ItCrossesAFourGibBoundary()
    {
        Assert.Contains("-ERANGE", LoadError("arena_range",
            "struct { __uint(type, BPF_MAP_TYPE_ARENA); __uint(map_flags, BPF_F_MMAPABLE); __uint(max_entries, 4); __ulong(map_extra, (1ull << 32) - 4096); } arena SEC(\".maps\");\n"));
    }

    [Fact]
    public void Should_ListTheArena_When_InspectReadsAnObjectWithOne()
    {
        var o = BpfObjectFile.Load(BpfExamples.Object("local_on_pop_arena"));
        Assert.Equal(1UL << 44, o.ArenaUserStart);
        Assert.Equal(15 * 4096, o.ArenaGlobalOffset);
        Assert.Contains("bpf_arena_alloc_pages", o.KfuncsUsed);
    }
}

/// <summary>
/// programs/cgroups.bpf.c: the root cgroup, the model's one (CONFIG_EXT_GROUP_SCHED): ops.cgroup_init runs for it
/// between ops.init and ops.init_task with the root's settings, its cgroup storage works, ops.init_task's args name
/// it; a struct bpf_cpumask in global data; an array of arrays set with --rodata.
/// </summary>
public class BpfCgroupTests
{
    [Fact]
    public void Should_InitTheRootCgroupBeforeTheTasks_When_TheSchedulerHasCgroupInit()
    {
        // cpu.weight 100, a 100 ms period, no quota (RUNTIME_INF: -1 as s64), no burst; kn->id 1 at level 0; after ops.init;
        // ops.init_task saw cgroup 1 and its storage; CPU 1 set in the global mask, CPU 0 set then cleared, the other
        // mask untouched; table[1][2] from --rodata.
        var r = BpfExamples.ExploreSeedRace(BpfExamples.CompileProgram("cgroups.bpf.c", "v3") + "@table[1][2]=7");
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: weight=100 period=100000 quota=-1 burst=0 id=1 after_init=1 task_cg=1 task_storage=1 mask=1,0 table=7",
            Assert.Single(r.Violations).Violation.ToString());
    }

    [Fact]
    public void Should_WriteAStructsField_When_RodataNamesIt()
    {
        var r = BpfExamples.ExploreSeedRace(BpfExamples.CompileProgram("cgroups.bpf.c", "v3") + "@table[1][2]=7,pair.b=2");
        Assert.EndsWith(" table=2007", Assert.Single(r.Violations).Violation.ToString());
    }

    [Theory]
    [InlineData("table[1]=7", "--rodata table[1]: an array of arrays: give each element (NAME[i][j]=VALUE)")]
    [InlineData("pair=1", "--rodata pair: a struct: give each field (NAME.field=VALUE)")]
    [InlineData("table[1][x]=7", "bad array index")]
    [InlineData("fail_cgroup_init[0][1]=1", "--rodata fail_cgroup_init[0][1]: fail_cgroup_init is not an array")]
    public void Should_RefuseWithOneLine_When_ARodataItemDoesNotNameANumber(string item, string message)
    {
        // Before, table[1]=7 and pair=1 wrote the value's bytes over the whole row or struct (and past the eighth byte, the
        // shifted value wrapped around): no skeleton can do that, so it is a load error naming what to write instead.
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(BpfExamples.CompileProgram("cgroups.bpf.c", "v3"), [item]));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void Should_EndTheScheduler_When_CgroupInitFails()
    {
        // scx_cgroup_init(): scx_error(sch, "ops.cgroup_init() failed (%d)", ret) — the errno as returned.
        var r = BpfExamples.ExploreSeedRace(BpfExamples.CompileProgram("cgroups.bpf.c", "v3") + "@fail_cgroup_init=1");
        Assert.Contains("ops.cgroup_init() failed (-12)", Assert.Single(r.Violations).Violation.ToString());
    }
}

/// <summary>
/// programs/kernel_types.bpf.c: CO-RE on kernel types outside sched_ext that scx's library reaches (atomic_t by its
/// typedef's name, p->cpus_mask) and bpf_trace_vprintk().
/// </summary>
public class BpfKernelTypesTests
{
    [Fact]
    public void Should_ResolveTheKernelsTypesAndPrint_When_ALibraryReachesThemThroughCoRe()
    {
        // atomic_t's counter after a fetch-add of 5; p->cpus_ptr == &p->cpus_mask; CPU 0 in &p->cpus_mask; the
        // vprintk's character count ("vprintk 1 2 3 101": bstr_printf() counts no NUL); CPU 1's rq through
        // bpf_per_cpu_ptr(&runqueues), NULL for CPU 9 (past nr_cpu_ids), this CPU's (0: p is enqueued on CPU 0's
        // step); CPU 1's cpufreq policy read with bpf_probe_read_kernel(): read (0), and NULL (no cpufreq driver);
        // CPU 1's rq->clock_task is scx_bpf_now()'s clock, with no lost idle time; p->prio 120 (nice 0).
        var r = BpfExamples.ExploreSeedRace(BpfExamples.CompileProgram("kernel_types.bpf.c", "v3"));
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: 5 1 1 17 1 1 0 1 11 120", Assert.Single(r.Violations).Violation.ToString());
    }

    [Fact]
    public void Should_FindTheRootCgroup_When_AProgramLooksItUpThroughTheCgroupKfuncs()
    {
        // kn->id 1, level 0; no cgroup 2; the level-0 ancestor is the root itself, there is no level-1 one; every task is
        // under the root. Every reference taken is released (else the run would end at the verifier's unreleased
        // reference).
        var r = BpfExamples.ExploreSeedRace(BpfExamples.CompileProgram("kernel_types.bpf.c", "v3") + "@cgroup=1");
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: cgroup 1 0 1 1 1 1", Assert.Single(r.Violations).Violation.ToString());
    }

    [Fact]
    public void Should_LoadAndStopAtAModelLimit_When_ARunReadsACgroupFieldTheModelDoesNotHave()
    {
        var r = BpfExamples.ExploreSeedRace(BpfExamples.CompileProgram("kernel_types.bpf.c", "v3") + "@cgroup_type=1");
        Assert.Equal(Verdict.Incomplete, r.Verdict);
        Assert.Contains("cgroup.flags is not modelled (the model has one cgroup, the root", r.IncompleteReason);
    }
}

/// <summary>
/// programs/spin_lock.bpf.c: a spin lock written in BPF (test-and-set in an arena, spun on with may_goto). Without the
/// spin wait every iteration of a CPU spinning on the lock was a new state and the search ran into the call budget
/// (incomplete); with it the searches close, and plain DFS and the reduced search agree on every state.
/// </summary>
public class BpfSpinLoopTests
{
    /// <summary>
    /// A helper or kfunc that reads a string or a value byte by byte (scx_bpf_error_bstr reading its format) makes many
    /// reads at one instruction with nothing in between: they are one call, not a loop's iterations, so none of them is a
    /// spin. Upstream's scx_bpf_error() keeps its format in .data (shared memory), and a call inside a loop's body once
    /// read as a spin on the format's word: the CPU waited forever and the exit never came.
    /// </summary>
    [Fact]
    public void Should_EndWithTheSchedulersError_When_AKfuncReadsAFormatInSharedMemoryInsideALoop()
    {
        const string source = """
            #include <scxlab_bpf.h>
            char _license[] SEC("license") = "GPL";
            const volatile u32 fail_at = 1;
            SCX_OPS2(void, e_enqueue, struct task_struct *, p, u64, enq_flags)
            {
            	static char fmt[] = "failed at iteration %d";
            	u64 param[1];
            	int i;

            #pragma clang loop unroll(disable)
            	for (i = 0; i < 4; i++) {
            		param[0] = i;
            		/* The kernel keeps the first error's message; the loop goes on. */
            		if (i >= fail_at)
            			scx_bpf_error_bstr(fmt, param, sizeof(param));
            	}
            	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
            }
            SEC(".struct_ops.link") struct sched_ext_ops ops = { .enqueue = (void *)e_enqueue, .name = "fmt_in_data" };
            """;
        var r = BpfExamples.ExploreSeedRace(BpfExamples.Compile("fmt_in_data", source));
        Assert.Equal("scheduler exit SCX_EXIT_ERROR_BPF: failed at iteration 1", Assert.Single(r.Violations).Violation.ToString());
    }

    [Theory]
    [InlineData("seed-race-r1", "")]
    [InlineData("central-remote", "")]
    [InlineData("seed-race-r1", "@tas=1")]
    [InlineData("central-remote", "@tas=1")]
    public void Should_CloseTheSearch_When_ACpuSpinsOnALockAnotherHolds(string name, string rodata)
    {
        // tas: the retries are failed compare-and-swaps (they write nothing, so they spin like reads).
        var s = ScenarioLoader.Resolve(name);
        var config = s.ToConfig(BpfExamples.CompileProgram("spin_lock.bpf.c", "v3") + rodata);
        var dfs = new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Dfs, Checks = s.Checks, ShortestTraces = false }).Run();
        var reduced = new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Reduced, Checks = s.Checks, ShortestTraces = false }).Run();
        Assert.True(dfs.Complete, dfs.IncompleteReason);
        Assert.True(reduced.Complete, reduced.IncompleteReason);
        Assert.Equal(Verdict.Holds, dfs.Verdict);
        Assert.Equal(dfs.Stats.States, reduced.Stats.States);
    }

    [Fact]
    public void Should_BeIncomplete_When_AModelLimitStopsOpsInitWhileItHoldsItsLock()
    {
        // ops.exit then spins on the lock the stopped ops.init still holds: the boot used to wait on it forever
        // ("boot blocked", an internal error); the path ends at the limit.
        var r = BpfExamples.ExploreSeedRace(BpfExamples.CompileProgram("spin_lock.bpf.c", "v3") + "@limit_under_lock=1");
        Assert.Equal(Verdict.Incomplete, r.Verdict);
        Assert.Contains("arena_pages", r.IncompleteReason);
    }

    [Fact]
    public void Should_RunEveryIteration_When_ALoopReadsTheSameWordButMakesProgress()
    {
        var r = BpfExamples.ExploreSeedRace(BpfExamples.CompileProgram("spin_lock.bpf.c", "v3") + "@count_reads=1");
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: sum=12", Assert.Single(r.Violations).Violation.ToString());
    }
}
