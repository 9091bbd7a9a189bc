using System.Text.Json.Nodes;
using Scxlab.Cli.Commands;

namespace Scxlab.Tests.Exploration;

/// <summary>`scxlab check` / `scxlab replay` end to end: exit codes, JSON, the seed races, replay and its divergence report.</summary>
public class CheckCommandTests
{
    private static (int Code, string Out, string Err) Check(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var code = CheckCommand.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static (int Code, string Out, string Err) Replay(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var code = ReplayCommand.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Theory]
    [InlineData("seed-race-r1")]
    [InlineData("seed-race-r2")]
    public void Should_ExitTwoWithTheKernelMessageAndColumns_When_ASeedRaceIsChecked(string name)
    {
        var trace = Path.GetTempFileName();
        var (code, output, _) = Check(name, "--trace-out", trace);
        Assert.Equal(2, code);
        Assert.Contains("scheduler exit SCX_EXIT_ERROR: SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for p[101]", output);
        Assert.Contains("CPU0", output);
        Assert.Contains("taskset", output);
        Assert.Contains("sched_setaffinity(p, {1})", output);

        // Every bug-finding test also replays its trace.
        var (rc, rout, rerr) = Replay(trace);
        Assert.True(rc == 2, rerr);
        Assert.Contains("outcome (reproduced): scheduler exit SCX_EXIT_ERROR", rout);
    }

    [Fact]
    public void Should_ExitZeroWithACompleteSearch_When_SeedRaceSyncedIsChecked()
    {
        var (code, output, _) = Check("seed-race-synced");
        Assert.Equal(0, code);
        Assert.Contains("verdict: holds (complete search)", output);
    }

    [Fact]
    public void Should_PrintOneJsonObject_When_JsonIsRequested()
    {
        var (code, output, _) = Check("seed-race-r2", "--json");
        Assert.Equal(2, code);
        var o = JsonNode.Parse(output)!.AsObject();
        Assert.Equal("violation", (string)o["verdict"]!);
        Assert.True((bool)o["complete"]!);
        Assert.Equal("seed-race-r2", (string)o["scenario"]!);
        Assert.Equal("upstream", (string)o["protocol"]!);
        Assert.Equal("local-on-peek", (string)o["policy"]!);
        var v = o["violations"]![0]!;
        Assert.Equal("SCX_EXIT_ERROR", (string)v["exit"]!);
        Assert.Equal("exit", (string)v["kind"]!);
        Assert.Equal("SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for p[101]", (string)v["message"]!);
        Assert.NotEmpty(v["trace"]!["steps"]!.AsArray());
        foreach (var k in new[] { "executions", "states", "transitions", "seconds", "collision_probability", "bytes_per_state" })
            Assert.NotNull(o["stats"]![k]);
    }

    [Fact]
    public void Should_ExitFourAndSayWhatWasCovered_When_ABudgetStopsTheSearch()
    {
        var (code, output, _) = Check("seed-race-synced", "--max-steps", "20");
        Assert.Equal(4, code);
        Assert.Contains("incomplete", output);
        Assert.Contains("distinct states", output);
    }

    [Fact]
    public void Should_ExitFour_When_APreemptionBoundCutsTheSearch()
    {
        var (code, output, _) = Check("seed-race-synced", "--max-preemptions", "0");
        Assert.Equal(4, code);
        Assert.Contains("preemption bound 0", output);
    }

    [Fact]
    public void Should_ReportFileLineColumnAndExitOne_When_TheScenarioIsMalformed()
    {
        var f = Path.Combine(Path.GetTempPath(), $"bad-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(f, "name: bad\ncpus: 2\npolicy: local-on-peek\ntasks:\n  - name: p\n    allowed: [0, 1]\n    cpu: 1\n    state: queued\n    colour: red\n");
        var (code, _, err) = Check(f);
        Assert.Equal(1, code);
        Assert.Contains($"{f}:9:5: unknown key 'colour' in a task", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void Should_FailLoudlyWithTheStepIndex_When_AReplayDiverges()
    {
        var trace = Path.GetTempFileName();
        Assert.Equal(2, Check("seed-race-r2", "--trace-out", trace).Code);
        var o = JsonNode.Parse(File.ReadAllText(trace))!.AsObject();
        var steps = o["steps"]!.AsArray();
        steps.Insert(0, "scx_disable"); // the helper is not enabled before an exit
        File.WriteAllText(trace, o.ToJsonString());
        var (code, _, err) = Replay(trace);
        Assert.Equal(1, code);
        Assert.Contains("DIVERGENCE at step 0: scx_disable is not enabled", err);
    }

    [Fact]
    public void Should_UseTheOverride_When_ProtocolAndPolicyAreGiven()
    {
        var (code, output, _) = Check("seed-race-r2", "--policy", "dequeue-sync", "--protocol", "upstream", "--json");
        Assert.Equal(0, code);
        Assert.Equal("dequeue-sync", (string)JsonNode.Parse(output)!["policy"]!);
    }
}
