using System.Text.Json.Nodes;
using Scxlab.Tests.Cli;

namespace Scxlab.Tests.Fuzzing;

/// <summary>`scxlab fuzz` end to end: exit codes, reproducible output, the --out round trip through replay and check.</summary>
public class FuzzCommandTests
{
    /// <summary>Everything but the wall-clock line.</summary>
    private static string WithoutTiming(string s) => string.Join("\n", s.ReplaceLineEndings("\n").Split('\n').Where(l => !l.StartsWith("time: ", StringComparison.Ordinal)));

    [Fact]
    public void Should_PrintTheSameReport_When_RunTwiceWithTheSameSeedAndDifferentJobs()
    {
        var a = CliResult.Run("fuzz", "seed-race-r2", "--protocol", "qseq-invalidate", "--runs", "150", "--seed", "9", "--jobs", "1");
        var b = CliResult.Run("fuzz", "seed-race-r2", "--protocol", "qseq-invalidate", "--runs", "150", "--seed", "9", "--jobs", "2");
        Assert.Equal(2, a.ExitCode);
        Assert.Equal(2, b.ExitCode);
        Assert.Equal(WithoutTiming(a.Stdout), WithoutTiming(b.Stdout));
        Assert.Contains("TaskHasExactlyOneOwner", a.Stdout);
        Assert.Contains("time: ", a.Stdout);
    }

    [Fact]
    public void Should_WriteATraceThatReplaysAndAScenarioThatCheckExplores_When_OutIsGiven()
    {
        var dir = Directory.CreateTempSubdirectory("scxlab-fuzz-test-").FullName;
        var r = CliResult.Run("fuzz", "churn-8cpu", "--protocol", "qseq-invalidate", "--runs", "20", "--jobs", "1", "--minimize-budget", "4000", "--out", dir);
        Assert.Equal(2, r.ExitCode);
        Assert.True(File.Exists(Path.Combine(dir, "violation-1.trace.json")), r.Stdout);
        var replay = CliResult.Run("replay", Path.Combine(dir, "violation-1.trace.json"));
        Assert.True(replay.ExitCode == 2, replay.Stderr);
        Assert.Contains("outcome (reproduced)", replay.Stdout);
        var original = CliResult.Run("replay", Path.Combine(dir, "violation-1.original.trace.json"));
        Assert.True(original.ExitCode == 2, original.Stderr);
        var check = CliResult.Run("check", Path.Combine(dir, "violation-1.yaml"));
        Assert.Equal(2, check.ExitCode);
        Assert.Contains("search complete", check.Stdout);
    }

    /// <summary>
    /// An exit that names a CPU shrinks past that CPU's number: dropping a lower CPU renumbers it, so the shrunk
    /// scenario's exit names another CPU (and maybe another task). fuzz counts that as the same finding, as its report
    /// deduplicates findings (numbers, task names and pids masked); matching the exact message kept churn-64cpu's stale
    /// LOCAL_ON exit at 8 CPUs, seven of them idle columns in the trace.
    /// </summary>
    [Fact]
    public void Should_ShrinkAnExitNamingACpuToTwoCpus_When_Churn64cpuIsFuzzed()
    {
        var dir = Directory.CreateTempSubdirectory("scxlab-fuzz-test-").FullName;
        var r = CliResult.Run("fuzz", "churn-64cpu", "--runs", "6", "--jobs", "1", "--out", dir);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("violation 1: scheduler exit SCX_EXIT_ERROR: SCX_DSQ_LOCAL[_ON] target CPU 7 not allowed for p2[103]", r.Stdout);
        Assert.Matches(@"the shrunk scenario reaches scheduler exit SCX_EXIT_ERROR: SCX_DSQ_LOCAL\[_ON\] target CPU 1 not allowed for p\d+\[\d+\] \(the same finding", r.Stdout);
        var yaml = File.ReadAllText(Path.Combine(dir, "violation-1.yaml"));
        Assert.Contains("cpus: 2\n", yaml.ReplaceLineEndings("\n"));
        Assert.Contains("(the run's SCX_EXIT_ERROR: SCX_DSQ_LOCAL[_ON] target CPU 7 not allowed for p2[103], up to task names, pids and numbers)", yaml);
        var replay = CliResult.Run("replay", Path.Combine(dir, "violation-1.trace.json"));
        Assert.True(replay.ExitCode == 2, replay.Stderr);
        Assert.Contains("outcome (reproduced)", replay.Stdout);
        var check = CliResult.Run("check", Path.Combine(dir, "violation-1.yaml"));
        Assert.Equal(2, check.ExitCode);
        Assert.Contains("SCX_DSQ_LOCAL[_ON] target CPU 1 not allowed for", check.Stdout);
    }

    [Fact]
    public void Should_ExitZeroAndSayItIsNoProof_When_NothingIsFound()
    {
        var r = CliResult.Run("fuzz", "seed-race-synced", "--runs", "50", "--jobs", "1");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("nothing violated in 50 schedules (not a proof", r.Stdout);
    }

    [Fact]
    public void Should_ExitFourAndSayHowManyRan_When_TheBudgetStopsTheRunFirst()
    {
        var r = CliResult.Run("fuzz", "seed-race-synced", "--runs", "1000000000", "--budget", "0.2", "--jobs", "1");
        Assert.Equal(4, r.ExitCode);
        Assert.Contains("of 1000000000 run (stopped by the budget)", r.Stdout);
        Assert.Contains("verdict: incomplete", r.Stdout);
    }

    [Fact]
    public void Should_PrintOneJsonObjectWithTheBound_When_PctAndJsonAreRequested()
    {
        var r = CliResult.Run("fuzz", "seed-race-r2", "--strategy", "pct", "--depth", "2", "--runs", "100", "--jobs", "1", "--json");
        Assert.Equal(2, r.ExitCode);
        var o = JsonNode.Parse(r.Stdout)!.AsObject();
        Assert.Equal("violation", (string)o["verdict"]!);
        Assert.Equal("pct", (string)o["strategy"]!);
        var pct = o["pct"]!.AsObject();
        var n = (int)o["actors"]!;
        var k = (int)pct["k"]!;
        Assert.Equal(1.0 / (n * k), (double)pct["bound_per_schedule"]!, 12);
        var v = o["violations"]!.AsArray()[0]!.AsObject();
        Assert.Equal("exit", (string)v["kind"]!);
        Assert.NotNull(v["minimized"]);
        Assert.NotNull(o["timing"]!["schedules_per_second"]);
    }

    [Theory]
    [InlineData("--strategy", "dfs")]
    [InlineData("--depth", "0")]
    [InlineData("--runs", "0")]
    [InlineData("--jobs", "0")]
    [InlineData("--protocol", "nope")]
    public void Should_ExitOneWithOneLine_When_AnOptionIsBad(string option, string value)
    {
        var r = CliResult.Run("fuzz", "seed-race-r2", option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.StderrLines);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void Should_ExitOneWithOneLine_When_TheScenarioIsUnknown()
    {
        var r = CliResult.Run("fuzz", "no-such-scenario");
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.StderrLines);
        Assert.Contains("not a file and not a built-in scenario", r.Stderr);
    }
}
