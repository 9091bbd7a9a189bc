using Scxlab.Cli.Commands;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// programs/two_ops.bpf.c: an object with two sched_ext_ops maps. The first is loaded unless <c>--ops NAME</c> (or a
/// scenario's <c>ops:</c>) names another, as user space attaches the map it chooses; a name the object lacks is a
/// load error listing the ones it has.
/// </summary>
public class BpfOpsChoiceTests
{
    private static (int Code, string Out, string Err) Check(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var code = CheckCommand.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static readonly string Obj = BpfExamples.CompileProgram("two_ops.bpf.c", "v3");

    [Fact]
    public void Should_LoadTheFirstMap_When_NoOpsIsGiven()
    {
        var (code, output, err) = Check("seed-race-r1", "--policy", Obj);
        Assert.True(code == 2, err);
        Assert.Contains("SCX_EXIT_UNREG_BPF: first", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_LoadTheNamedMap_When_OpsNamesIt()
    {
        var (code, output, err) = Check("seed-race-r1", "--policy", Obj, "--ops", "second_ops");
        Assert.True(code == 2, err);
        Assert.Contains("SCX_EXIT_UNREG_BPF: second", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_ExitOneListingTheMaps_When_OpsNamesAMapTheObjectLacks()
    {
        var (code, _, err) = Check("seed-race-r1", "--policy", Obj, "--ops", "third_ops");
        Assert.Equal(1, code);
        Assert.Contains("--ops third_ops: no sched_ext_ops struct_ops map of that name (the object has: first_ops, second_ops)", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_LoadTheNamedMap_When_AScenarioSaysOps()
    {
        var dir = Path.Combine(Path.GetTempPath(), "scxlab-bpf-tests");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "two-ops.yaml");
        File.WriteAllText(path, $$"""
            name: two-ops
            cpus: 1
            policy: {{Obj}}
            ops: second_ops
            tasks:
              - { name: p, allowed: [0], cpu: 0, state: queued }
            rounds:
              - { cpu: 0, count: 1 }
            """);
        var (code, output, err) = Check(path);
        Assert.True(code == 2, err);
        Assert.Contains("SCX_EXIT_UNREG_BPF: second", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_ListTheMaps_When_InspectReadsAnObjectWithSeveral()
    {
        var r = Scxlab.Tests.Cli.CliResult.Run("inspect", Obj, "--ops", "second_ops");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("struct_ops second_ops: name \"second\"", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("(one of 2 sched_ext_ops maps: first_ops, second_ops; --ops NAME chooses)", r.Stdout, StringComparison.Ordinal);
    }
}
