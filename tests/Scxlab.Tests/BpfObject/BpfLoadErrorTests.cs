using Scxlab.BpfObject;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Scenarios;
using Scxlab.Tests.Cli;

namespace Scxlab.Tests.BpfObject;

/// <summary>A bad object is one load-error line (exit 1); a bad program at run time is a verifier-style scheduler exit.</summary>
public class BpfLoadErrorTests
{
    private const string Header = "#include <scxlab_bpf.h>\nchar _license[] SEC(\"license\") = \"GPL\";\n";

    private static string Ops(string callbacks) => $"SEC(\".struct_ops.link\") struct sched_ext_ops ops = {{ {callbacks} .name = \"bad\" }};\n";

    private static string LoadError(string path)
    {
        var e = Assert.Throws<PolicyLoadException>(() => PolicyRegistry.Resolve(path));
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    private static string CopyWith(string name, Func<byte[], byte[]> edit)
    {
        var bytes = edit(File.ReadAllBytes(BpfExamples.Object("local_on_pop")));
        var path = Path.Combine(Path.GetTempPath(), "scxlab-bpf-tests", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Should_ReportATruncatedElf_When_TheObjectIsCutShort()
    {
        var path = CopyWith("truncated.bpf.o", b => b[..1000]);
        Assert.Contains("truncated ELF", LoadError(path));
    }

    [Fact]
    public void Should_ReportTheMachine_When_TheObjectIsNotEmBpf()
    {
        var path = CopyWith("x86.bpf.o", b => { b[18] = 62; b[19] = 0; return b; });
        Assert.Contains("ELF machine 62 is not EM_BPF (247)", LoadError(path));
    }

    [Fact]
    public void Should_ReportMissingStructOps_When_TheObjectDeclaresNoSchedExtOps()
    {
        var path = BpfExamples.Compile("no_ops", Header + "SCX_OPS1(void, lonely_tick, struct task_struct *, p) { }\n");
        Assert.Contains("no struct_ops sched_ext_ops map", LoadError(path));
    }

    [Fact]
    public void Should_NameTheKfunc_When_TheModelDoesNotImplementIt()
    {
        var path = BpfExamples.Compile("unknown_kfunc", Header
            + "void scx_bpf_made_up(u64 x) __ksym;\n"
            + "SCX_OPS2(void, uk_enqueue, struct task_struct *, p, u64, enq_flags) { scx_bpf_made_up(enq_flags); }\n"
            + Ops(".enqueue = (void *)uk_enqueue,"));
        Assert.Contains("unknown func scx_bpf_made_up", LoadError(path));
    }

    [Fact]
    public void Should_NameTypeAndAccessString_When_ACoreRelocationCannotBeResolved()
    {
        var path = BpfExamples.Compile("bad_relo", Header
            + "struct sched_entity { u64 vruntime; } __attribute__((preserve_access_index));\n"
            + "struct task_struct___se { struct sched_entity se; } __attribute__((preserve_access_index));\n"
            + "u64 seen;\n"
            + "SCX_OPS2(void, br_enqueue, struct task_struct *, p, u64, enq_flags) { seen = ((struct task_struct___se *)p)->se.vruntime; }\n"
            + Ops(".enqueue = (void *)br_enqueue,"));
        var msg = LoadError(path);
        Assert.Contains("task_struct___se (0:0:0)", msg);
        Assert.Contains("field not found", msg);
    }

    /// <summary>
    /// Given an ops.dispatch that reads <c>prev-&gt;scx.dsq_vtime</c> without testing prev (the kernel passes NULL when
    /// the CPU was idle), when it is loaded, then it is refused as the verifier refuses it (the selftest
    /// maybe_null_fail_dsp), naming the register, the pointer type and the source line.
    /// </summary>
    [Fact]
    public void Should_RefuseTheLoad_When_OpsDispatchDereferencesPrevWithoutANullTest()
    {
        var path = BpfExamples.Compile("null_prev", Header
            + "u64 seen;\n"
            + "SCX_OPS2(void, np_dispatch, s32, cpu, struct task_struct *, prev) { seen = prev->scx.dsq_vtime; }\n"
            + Ops(".dispatch = (void *)np_dispatch,"));
        var msg = LoadError(path);
        Assert.Contains("prog 'np_dispatch': BPF program load failed: Permission denied", msg);
        Assert.Contains("invalid mem access 'trusted_ptr_or_null_'", msg);
        Assert.Contains("null_prev.bpf.c:", msg);
        Assert.Contains("ops.dispatch()'s argument 1 may be NULL", msg);
    }

    /// <summary>ops.yield's <c>to</c> is nullable too (the selftest maybe_null_fail_yld).</summary>
    [Fact]
    public void Should_RefuseTheLoad_When_OpsYieldUsesToWithoutANullTest()
    {
        var path = BpfExamples.Compile("null_to", Header
            + "u32 seen;\n"
            + "SCX_OPS2(bool, nt_yield, struct task_struct *, from, struct task_struct *, to) { seen = to->pid; return false; }\n"
            + "SCX_OPS2(void, nt_dispatch, s32, cpu, struct task_struct *, prev) { scx_bpf_dsq_move_to_local(SCX_DSQ_GLOBAL); }\n"
            + Ops(".dispatch = (void *)nt_dispatch, .yield = (void *)nt_yield,"));
        var msg = LoadError(path);
        Assert.Contains("prog 'nt_yield'", msg);
        Assert.Contains("trusted_ptr_or_null_", msg);
        Assert.Contains("ops.yield()'s argument 1 may be NULL", msg);
    }

    /// <summary>
    /// Given an ops.dispatch that tests prev, directly or through a flag set on each side of the test, when it is
    /// loaded and explored, then it loads (as the verifier accepts it) and runs.
    /// </summary>
    [Fact]
    public void Should_LoadAndRun_When_OpsDispatchTestsPrevBeforeUsingIt()
    {
        var path = BpfExamples.Compile("checked_prev", Header
            + "u64 seen; u32 last;\n"
            + "SCX_OPS2(void, cp_dispatch, s32, cpu, struct task_struct *, prev) {\n"
            + "  volatile int have = 0; /* on the stack: the second test is of the flag, not of prev */\n"
            + "  if (prev) { seen = prev->scx.dsq_vtime; have = 1; }\n"
            + "  scx_bpf_dsq_move_to_local(SCX_DSQ_GLOBAL);\n"
            + "  if (have) last = prev->pid;\n"
            + "}\n"
            + Ops(".dispatch = (void *)cp_dispatch,"));
        var scenario = ScenarioLoader.Resolve("seed-race-r1");
        var r = new Explorer(new Machine(scenario.ToConfig(path)), new ExploreOptions { ShortestTraces = false }).Run();
        Assert.True(r.Complete);
        Assert.DoesNotContain(r.Violations, v => v.Violation.Message.Contains("trusted_ptr_or_null_", StringComparison.Ordinal));
    }

    // scx's compat wrappers: if (bpf_core_type_exists(struct X)) { fields of X } else { the older way }.
    private static readonly string Guarded = Header
        + "struct made_up_args { s32 prev_cpu; } __attribute__((preserve_access_index));\n"
        + "struct task_struct___se { struct { u64 vruntime; } se; } __attribute__((preserve_access_index));\n"
        + "const volatile u32 use_se;\n"
        + "u64 seen;\n"
        + "SCX_OPS2(void, g_enqueue, struct task_struct *, p, u64, enq_flags) {\n"
        + "  if (__builtin_preserve_type_info(*(struct made_up_args *)0, 0)) { struct made_up_args a = { .prev_cpu = 1 }; seen = a.prev_cpu; }\n"
        + "  if (use_se) seen += ((struct task_struct___se *)p)->se.vruntime;\n"
        + "  scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);\n"
        + "}\n"
        + Ops(".enqueue = (void *)g_enqueue,");

    [Fact]
    public void Should_LoadAndRun_When_AnUnresolvableRelocationSitsInABranchTheObjectCannotTake()
    {
        // libbpf poisons the instruction instead of failing; the verifier prunes the branch (the type does not
        // exist; use_se is 0 in the frozen rodata), so the object loads and runs.
        var path = BpfExamples.Compile("guarded_relo", Guarded);
        Assert.NotNull(BpfObjectFile.Load(path));
        var s = Scxlab.Scenarios.ScenarioLoader.Resolve("seed-race-r1");
        var r = new Scxlab.Exploration.Explorer(new Scxlab.Kernel.Machine(s.ToConfig(path)), new Scxlab.Exploration.ExploreOptions { Checks = s.Checks }).Run();
        Assert.True(r.Complete);
        Assert.DoesNotContain(r.Violations, v => v.Violation.ToString().Contains("relo", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_FailTheLoad_When_RodataMakesThePoisonedBranchReachable()
    {
        var path = BpfExamples.Compile("guarded_relo", Guarded);
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(path, ["use_se=1"]));
        Assert.Contains("task_struct___se (0:0:0): field not found", e.Message);
        Assert.Contains("reachable: insn", e.Message);
    }

    [Fact]
    public void Should_ExitWithExit1AndOneLine_When_TheCliLoadsABadObject()
    {
        var path = CopyWith("x86-cli.bpf.o", b => { b[18] = 62; return b; });
        var (code, stdout, stderr) = CliResult.Run("check", "seed-race-r1", "--policy", path);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("not EM_BPF", stderr);
    }

    [Fact]
    public void Should_ReportAnUnknownRodataVariable_When_RodataNamesNoConstVolatile()
    {
        var e = Assert.Throws<PolicyLoadException>(() => PolicyRegistry.Resolve(BpfExamples.Object("simple") + "@no_such=1"));
        Assert.Contains("--rodata no_such: no const volatile variable", e.Message);
    }

    private static string RuntimeExit(string name, string source)
    {
        var path = BpfExamples.Compile(name, source);
        var r = BpfExamples.ExploreSeedRace(path);
        Assert.Equal(Verdict.Violation, r.Verdict);
        return string.Join(" | ", r.Violations.Select(v => v.Violation.ToString()));
    }

    [Fact]
    public void Should_EndTheSchedulerWithProgramAndLine_When_AProgramDereferencesNull()
    {
        var msg = RuntimeExit("null_deref", Header
            + "u64 seen;\n"
            + "SCX_OPS2(void, nd_enqueue, struct task_struct *, p, u64, enq_flags)\n{\n"
            + "\tstruct task_struct *q = bpf_task_from_pid(99999);\n"
            + "\tseen = q->scx.slice;\n"
            + "}\n"
            + Ops(".enqueue = (void *)nd_enqueue,"));
        Assert.Contains("ops.enqueue(): BPF program nd_enqueue insn", msg);
        Assert.Contains("(null_deref.bpf.c:", msg);
        Assert.Contains("NULL pointer dereference", msg);
    }

    [Fact]
    public void Should_EndTheSchedulerWithProgramAndLine_When_AProgramWritesOutOfBounds()
    {
        var msg = RuntimeExit("oob_write", Header
            + "u64 slots[4];\n"
            + "SCX_OPS2(void, oob_enqueue, struct task_struct *, p, u64, enq_flags)\n{\n"
            + "\tslots[p->pid] = enq_flags;\n"
            + "}\n"
            + Ops(".enqueue = (void *)oob_enqueue,"));
        Assert.Contains("ops.enqueue(): BPF program oob_enqueue insn", msg);
        Assert.Contains("(oob_write.bpf.c:6)", msg);
        Assert.Contains("invalid access to .bss: off=808 size=8", msg);
    }
}

public class BpfKsymTests
{
    [Fact]
    public void Should_ReportWhichKfuncsTheModelHas_When_AProgramAsksBpfKsymExists()
    {
        var path = BpfExamples.Compile("ksym_exists", "#include <scxlab_bpf.h>\nchar _license[] SEC(\"license\") = \"GPL\";\n"
            + "void scx_bpf_made_up(u64 x) __ksym __weak;\n"
            + "SCX_OPS0(s32, ke_init)\n{\n"
            + "\tu64 data[2] = { bpf_ksym_exists(scx_bpf_made_up), bpf_ksym_exists(scx_bpf_now) };\n"
            + "\tif (bpf_ksym_exists(scx_bpf_made_up)) scx_bpf_made_up(1);\n"
            + "\tscx_bpf_exit_bstr(0, \"%llu %llu\", data, sizeof(data));\n\treturn 0;\n}\n"
            + "SEC(\".struct_ops.link\") struct sched_ext_ops ops = { .init = (void *)ke_init, .name = \"ke\" };\n");
        var s = Scxlab.Scenarios.ScenarioLoader.Resolve("seed-race-r1");
        var r = new Scxlab.Exploration.Explorer(new Scxlab.Kernel.Machine(s.ToConfig(path)), new Scxlab.Exploration.ExploreOptions { Checks = s.Checks }).Run();
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: 0 1", Assert.Single(r.Violations).Violation.ToString());
    }

    // scx's percpu.bpf.h: a weak typed ksym the kernel may lack, tested before bpf_per_cpu_ptr() (helper 153).
    private const string PerCpuGuard = "#include <scxlab_bpf.h>\nchar _license[] SEC(\"license\") = \"GPL\";\n"
        + "static void *(*bpf_per_cpu_ptr)(const void *percpu_ptr, u32 cpu) = (void *) 153;\n"
        + "extern int sd_llc_id __ksym __weak;\n"
        + "const volatile bool unguarded;\n"
        + "static __attribute__((noinline)) int llc_id(s32 cpu)\n{\n\tint *p;\n\tif (!unguarded && !&sd_llc_id) return -2;\n"
        + "\tp = bpf_per_cpu_ptr(&sd_llc_id, cpu);\n\treturn p ? *p : -22;\n}\n"
        + "SCX_OPS0(s32, pc_init)\n{\n\tu64 data[1] = { (u64)llc_id(0) };\n"
        + "\tscx_bpf_exit_bstr(0, \"%lld\", data, sizeof(data));\n\treturn 0;\n}\n"
        + "SEC(\".struct_ops.link\") struct sched_ext_ops ops = { .init = (void *)pc_init, .name = \"pc\" };\n";

    [Fact]
    public void Should_Load_When_AHelperTheModelLacksSitsBehindAnAbsentWeakKsym()
    {
        // The verifier never sees the call: &sd_llc_id is 0 when the kernel lacks the variable, as here.
        var path = BpfExamples.Compile("percpu_guard", PerCpuGuard);
        var s = Scxlab.Scenarios.ScenarioLoader.Resolve("seed-race-r1");
        var r = new Scxlab.Exploration.Explorer(new Scxlab.Kernel.Machine(s.ToConfig(path)), new Scxlab.Exploration.ExploreOptions { Checks = s.Checks }).Run();
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: -2", Assert.Single(r.Violations).Violation.ToString());
    }

    [Fact]
    public void Should_EndTheSchedulerAsTheVerifierWould_When_AnAbsentWeakKsymReachesBpfPerCpuPtr()
    {
        // libbpf leaves the absent variable's address 0, and the verifier refuses a scalar where a per-CPU pointer is
        // due; the model says so when the path runs.
        var path = BpfExamples.Compile("percpu_guard", PerCpuGuard);
        var s = Scxlab.Scenarios.ScenarioLoader.Resolve("seed-race-r1");
        var r = new Scxlab.Exploration.Explorer(new Scxlab.Kernel.Machine(s.ToConfig(path + "@unguarded=1")), new Scxlab.Exploration.ExploreOptions { Checks = s.Checks }).Run();
        Assert.Contains("R1 type=scalar expected=percpu_ptr_", Assert.Single(r.Violations).Violation.ToString());
    }

    [Fact]
    public void Should_NameTheHelper_When_AProgramCanReachAHelperTheModelLacks()
    {
        var path = BpfExamples.Compile("cgroup_id", "#include <scxlab_bpf.h>\nchar _license[] SEC(\"license\") = \"GPL\";\n"
            + "static u64 (*bpf_get_current_cgroup_id)(void) = (void *) 80;\n"
            + "SCX_OPS0(s32, cg_init) { return bpf_get_current_cgroup_id() ? 0 : 0; }\n"
            + "SEC(\".struct_ops.link\") struct sched_ext_ops ops = { .init = (void *)cg_init, .name = \"cg\" };\n");
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(path));
        Assert.Contains("#80 (a helper the model does not implement)", e.Message);
        Assert.Contains("reachable", e.Message);
    }

    [Fact]
    public void Should_Load_When_AWeakKfuncTheModelLacksIsOnlyCalledBehindBpfKsymExists_AndFail_When_ItIsReachable()
    {
        const string body = "#include <scxlab_bpf.h>\nchar _license[] SEC(\"license\") = \"GPL\";\n"
            + "void scx_bpf_made_up(u64 x) __ksym __weak;\nconst volatile bool unguarded;\n"
            + "SCX_OPS0(s32, wk_init)\n{\n\tif (unguarded || bpf_ksym_exists(scx_bpf_made_up)) scx_bpf_made_up(1);\n\treturn 0;\n}\n"
            + "SEC(\".struct_ops.link\") struct sched_ext_ops ops = { .init = (void *)wk_init, .name = \"wk\" };\n";
        var path = BpfExamples.Compile("weak_kfunc_guard", body);
        Assert.NotNull(BpfObjectFile.Load(path));
        var e = Assert.Throws<BpfLoadException>(() => BpfObjectFile.Load(path, ["unguarded=1"]));
        Assert.Contains("unknown func scx_bpf_made_up", e.Message);
    }
}

public class BpfReferenceTests
{
    [Fact]
    public void Should_EndTheScheduler_When_AProgramReturnsHoldingATaskReference()
    {
        var path = BpfExamples.Compile("leak", "#include <scxlab_bpf.h>\nchar _license[] SEC(\"license\") = \"GPL\";\n"
            + "u64 seen;\n"
            + "SCX_OPS2(void, leak_enqueue, struct task_struct *, p, u64, enq_flags)\n{\n"
            + "\tstruct task_struct *q = bpf_task_from_pid(p->pid);\n"
            + "\tif (q)\n\t\tseen = q->scx.slice;\n"
            + "\tscx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);\n"
            + "}\n"
            + "SEC(\".struct_ops.link\") struct sched_ext_ops ops = { .enqueue = (void *)leak_enqueue, .name = \"leak\" };\n");
        var s = Scxlab.Scenarios.ScenarioLoader.Resolve("seed-race-r1");
        var r = new Scxlab.Exploration.Explorer(new Scxlab.Kernel.Machine(s.ToConfig(path)), new Scxlab.Exploration.ExploreOptions { Checks = s.Checks }).Run();
        var msg = Assert.Single(r.Violations).Violation.ToString();
        Assert.Contains("ops.enqueue(): BPF program leak_enqueue insn", msg);
        Assert.Contains("Unreleased reference (task acquired at leak_enqueue insn", msg);
        Assert.Contains("(leak.bpf.c:6))", msg);
    }
}

public class BpfLoaderRobustnessTests
{
    [Fact]
    public void Should_FailWithALoadErrorOrLoad_When_BytesOfAnObjectAreCorrupted()
    {
        var original = File.ReadAllBytes(BpfExamples.Object("central"));
        var dir = Path.Combine(Path.GetTempPath(), "scxlab-bpf-tests", "fuzz");
        Directory.CreateDirectory(dir);
        var rng = new Random(11);
        for (var i = 0; i < 300; i++)
        {
            var b = (byte[])original.Clone();
            for (var k = 0; k < 1 + i % 4; k++) b[rng.Next(b.Length)] = (byte)rng.Next(256);
            var path = Path.Combine(dir, "fuzz.bpf.o");
            File.WriteAllBytes(path, b);
            try
            {
                Scxlab.BpfObject.BpfObjectFile.Load(path);
            }
            catch (Scxlab.BpfObject.BpfLoadException e)
            {
                Assert.DoesNotContain('\n', e.Message);
            }
        }
    }
}
