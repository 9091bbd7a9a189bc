using Scxlab.BpfObject;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// programs/older_upstream.bpf.c: what 2024-25 releases of scx's schedulers need (scx_lavd's ring buffer, scx_rusty's
/// bpf_probe_read_kernel(), scx_bpf_cpu_rq()->curr through struct rq's anonymous union, scx_bpfland's
/// scx_bpf_pick_idle_cpu() on a struct bpf_cpumask) and the kernel's per-CPU distribute rotor.
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
        // the any pick on the mask return a CPU of the mask (or -EBUSY for the idle one).
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: 1 -14 0 10 1 0 1 1 1", Run());
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
