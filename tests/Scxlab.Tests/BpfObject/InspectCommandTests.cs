using Scxlab.Tests.Cli;

namespace Scxlab.Tests.BpfObject;

public class InspectCommandTests
{
    [Fact]
    public void Should_ListCallbacksMapsRodataAndKfuncs_When_AnExampleIsInspected()
    {
        var r = CliResult.Run("inspect", BpfExamples.Object("central"), "--rodata", "central_cpu=1");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("struct_ops central_ops: name \"central\", flags 0x2", r.Stdout);
        Assert.Contains("ops.dispatch", r.Stdout);
        Assert.Contains("central_q", r.Stdout);
        Assert.Contains("BPF_MAP_TYPE_QUEUE", r.Stdout);
        Assert.Contains("central_cpu = 1", r.Stdout);
        Assert.Matches(@"scx_bpf_dsq_insert\s+supported", r.Stdout);
        Assert.Matches(@"bpf_map_pop_elem#88\s+supported", r.Stdout);
    }

    [Fact]
    public void Should_ShowTimerActorsAndTaskLifecycleCallbacks_When_AnObjectHasThem()
    {
        var timers = CliResult.Run("inspect", BpfExamples.CompileProgram("timer_count.bpf.c", "v3"));
        Assert.Equal(0, timers.ExitCode);
        Assert.Contains("1 struct bpf_timer per value: 1 timer actor(s)", timers.Stdout);
        var lifecycle = CliResult.Run("inspect", BpfExamples.CompileProgram("lifecycle.bpf.c", "v3"));
        Assert.Contains("ops.init_task    lc_init_task", lifecycle.Stdout);
        Assert.Contains("right after ops.init and ops.init_task", lifecycle.Stdout);
        var cgroups = CliResult.Run("inspect", BpfExamples.CompileProgram("cgroups.bpf.c", "v3"));
        Assert.Contains("ops.cgroup_init  cg_cgroup_init (struct_ops/cg_cgroup_init; run for the root cgroup", cgroups.Stdout);
        Assert.Contains("ops.init_task    cg_init_task (struct_ops/cg_init_task; run for every task right after ops.init and ops.cgroup_init)", cgroups.Stdout);
    }

    [Fact]
    public void Should_MarkTheUnsupportedKfunc_When_AnObjectCallsOne()
    {
        var path = BpfExamples.Compile("inspect_unknown", "#include <scxlab_bpf.h>\nvoid scx_bpf_made_up(u64 x) __ksym;\n"
            + "SCX_OPS2(void, iu_enqueue, struct task_struct *, p, u64, enq_flags) { scx_bpf_made_up(enq_flags); }\n"
            + "SEC(\".struct_ops.link\") struct sched_ext_ops ops = { .enqueue = (void *)iu_enqueue, .name = \"iu\" };\n");
        var r = CliResult.Run("inspect", path);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("loads      no: unknown func scx_bpf_made_up", r.Stdout);
        Assert.Matches(@"scx_bpf_made_up\s+NOT SUPPORTED", r.Stdout);
    }

    [Fact]
    public void Should_ListEverythingTheModelLacks_When_AnObjectHasAnUnsupportedMapAKsymVariableAndAKfunc()
    {
        // A map type the model does not have (BPF_MAP_TYPE_SOCKMAP), a __ksym variable and an unknown kfunc: a strict
        // load stops at the first; inspect lists all three and the rest of the object.
        var path = BpfExamples.Compile("inspect_issues", "#include <scxlab_bpf.h>\nvoid scx_bpf_made_up(u64 x) __ksym;\n"
            + "extern const int some_kernel_var __ksym;\n"
            + "struct { __uint(type, 15); __uint(max_entries, 4); __uint(key_size, 4); __uint(value_size, 4); } socks SEC(\".maps\");\n"
            + "SCX_OPS2(void, ii_enqueue, struct task_struct *, p, u64, enq_flags) { scx_bpf_made_up(enq_flags + some_kernel_var); }\n"
            + "SEC(\".struct_ops.link\") struct sched_ext_ops ops = { .enqueue = (void *)ii_enqueue, .name = \"ii\" };\n");
        var r = CliResult.Run("inspect", path);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("loads      no: map socks: map type #15 is not supported by the model", r.Stdout);
        Assert.Contains("not supported by the model (listed anyway):", r.Stdout);
        Assert.Contains("unknown ksym or kconfig extern some_kernel_var", r.Stdout);
        Assert.Contains("ops.enqueue", r.Stdout);
        Assert.Matches(@"scx_bpf_made_up\s+NOT SUPPORTED", r.Stdout);
        // and check refuses it with the first of them
        var check = CliResult.Run("check", "seed-race-r1", "--policy", path);
        Assert.Equal(1, check.ExitCode);
        Assert.Contains("map socks: map type #15 is not supported by the model", check.Stderr);
    }
}

public class BpfTraceTests
{
    [Fact]
    public void Should_RefuseToReplay_When_TheBpfObjectChangedSinceTheTrace()
    {
        var dir = Path.Combine(Path.GetTempPath(), "scxlab-bpf-tests", "replay");
        Directory.CreateDirectory(dir);
        var obj = Path.Combine(dir, "pop.bpf.o");
        File.Copy(BpfExamples.Object("local_on_pop"), obj, overwrite: true);
        var trace = Path.Combine(dir, "r1.json");
        var check = CliResult.Run("check", "seed-race-r1", "--policy", obj, "--trace-out", trace);
        Assert.Equal(2, check.ExitCode);
        Assert.Contains("\"policy_sha256\"", File.ReadAllText(trace));
        Assert.Equal(2, CliResult.Run("replay", trace).ExitCode);

        File.Copy(BpfExamples.Object("local_on_peek"), obj, overwrite: true);
        var r = CliResult.Run("replay", trace);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("refusing to replay against another object", Assert.Single(r.StderrLines));
    }
}
