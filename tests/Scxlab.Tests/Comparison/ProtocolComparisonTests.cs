using System.Text.Json.Nodes;
using Scxlab.Comparison;
using Scxlab.Kernel;
using Scxlab.Scenarios;
using Scxlab.Tests.Cli;

namespace Scxlab.Tests.Comparison;

public class ProtocolComparisonTests
{
    [Fact]
    public void Should_TakeScenariosWithACompareListAndNoLongTag_When_NoneAreGiven()
    {
        var names = ProtocolComparison.DefaultScenarios().Select(s => s.Name).ToList();

        Assert.Contains("seed-race-r2", names);
        Assert.Contains("central-remote", names);
        Assert.DoesNotContain("scale-3cpu", names);
        Assert.DoesNotContain("scale-4cpu", names);
        Assert.All(ProtocolComparison.DefaultScenarios(), s => Assert.DoesNotContain(ProtocolComparison.LongTag, s.Tags));
    }

    /// <summary>
    /// v2 closes the exit and the forgotten task on every default scenario once its drain waits out
    /// DISPATCHING as 7.3's reenq_local() does (7de9a6fb).
    /// </summary>
    [Fact]
    public void Should_NeverExitOrForget_When_ProtocolIsFallbackDsqOn7_3()
    {
        var r = ProtocolComparison.Run(new ComparisonOptions { Protocols = [Protocol.FallbackDsq], BudgetSeconds = 30, Kernel = KernelEra.V7_3 });

        Assert.NotEmpty(r.Cells);
        Assert.All(r.Cells, c => Assert.True(c.Outcome is CellOutcome.Holds or CellOutcome.NotApplicable, $"{c.Scenario.Name} × {c.Policy}: {c.Outcome}"));
    }

    /// <summary>
    /// On 7.1 the drain does not wait: the only default cell v2 does not hold is the scenario built for that
    /// window, and what it reaches there is do_enqueue_task()'s WARN, not an exit or a forgotten task.
    /// </summary>
    [Fact]
    public void Should_FailOnlyOnTheDrainWindow_When_ProtocolIsFallbackDsqOn7_1()
    {
        var r = ProtocolComparison.Run(new ComparisonOptions { Protocols = [Protocol.FallbackDsq], BudgetSeconds = 30 });

        var failing = r.Cells.Where(c => c.Outcome is not (CellOutcome.Holds or CellOutcome.NotApplicable)).ToList();
        var cell = Assert.Single(failing);
        Assert.Equal("fallback-drain-vs-release", cell.Scenario.Name);
        Assert.Equal(CellOutcome.OtherViolation, cell.Outcome);
        Assert.Contains("in state DISPATCHING", cell.Primary!.Violation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_ReportIncomplete_When_TheBudgetCutsTheSearch()
    {
        var s = ScenarioLoader.Resolve("central-remote");

        var c = ProtocolComparison.RunCell(s, "dequeue-sync", Protocol.Upstream, new ComparisonOptions { BudgetSeconds = 1e-9 });

        Assert.Equal(CellOutcome.Incomplete, c.Outcome);
        Assert.False(c.Complete);
        Assert.NotNull(c.IncompleteReason);
    }

    [Fact]
    public void Should_ClassifyAnExitAsParkedOnTheGlobalDsq_When_CentralMeetsItsRace()
    {
        var s = ScenarioLoader.Resolve("central-remote");

        var c = ProtocolComparison.RunCell(s, "central", Protocol.Upstream, new ComparisonOptions());

        Assert.Equal(CellOutcome.SchedulerExit, c.Outcome);
        Assert.Contains(c.Primary!.TaskEnds, e => e.Contains("on SCX_DSQ_GLOBAL", StringComparison.Ordinal));
        Assert.Null(c.Primary.TraceFile); // no directory given: no files
    }

    [Fact]
    public void Should_ExitZeroAndPrintTheMatrix_When_CompareRunsOnTheSeedScenario()
    {
        var dir = Directory.CreateTempSubdirectory("scxlab-compare-test-").FullName;
        try
        {
            var r = CliResult.Run("compare", "seed-race-r2", "--traces", dir);

            Assert.Equal(0, r.ExitCode);
            Assert.Contains(r.StdoutLines, l => l.StartsWith("scenario", StringComparison.Ordinal) && l.Contains("qseq-invalidate", StringComparison.Ordinal) && l.Contains("ghost", StringComparison.Ordinal));
            Assert.Contains(r.StdoutLines, l => l.Contains("local-on-peek", StringComparison.Ordinal) && l.Contains("FORGOTTEN", StringComparison.Ordinal));
            Assert.Contains("n/a: needs cookie", r.Stdout);
            Assert.True(File.Exists(Path.Combine(dir, "seed-race-r2.local-on-peek.qseq-invalidate.json")));
            Assert.Equal(2, CliResult.Run("replay", Path.Combine(dir, "seed-race-r2.local-on-peek.qseq-invalidate.json")).ExitCode);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_ExitTwo_When_FailOnViolationAndACellViolates()
    {
        var r = CliResult.Run("compare", "seed-race-r2", "--policies", "local-on-peek", "--protocols", "upstream", "--fail-on-violation");

        Assert.Equal(2, r.ExitCode);
    }

    [Fact]
    public void Should_ExitZero_When_FailOnViolationAndEveryCellHolds()
    {
        var r = CliResult.Run("compare", "seed-race-synced", "--fail-on-violation");

        Assert.Equal(0, r.ExitCode);
    }

    [Fact]
    public void Should_PrintOneJsonObject_When_Json()
    {
        var r = CliResult.Run("compare", "seed-race-r2", "--protocols", "upstream,qseq-invalidate", "--policies", "local-on-peek,cookie-peek", "--json");

        Assert.Equal(0, r.ExitCode);
        var o = Assert.IsType<JsonObject>(JsonNode.Parse(r.Stdout));
        var cells = o["cells"]!.AsArray().Select(c => c!.AsObject()).ToList();
        Assert.Equal(4, cells.Count);
        var forgotten = cells.Single(c => (string)c["policy"]! == "local-on-peek" && (string)c["protocol"]! == "qseq-invalidate");
        Assert.Equal("task-forgotten", (string)forgotten["outcome"]!);
        Assert.Equal("violation", (string)forgotten["verdict"]!);
        Assert.True((long)forgotten["stats"]!["states"]! > 0);
        var v = forgotten["violations"]!.AsArray().Single()!;
        Assert.Equal("TaskHasExactlyOneOwner", (string)v["invariant"]!);
        Assert.NotNull((string?)v["trace"]!["file"]);
        var na = cells.Single(c => (string)c["policy"]! == "cookie-peek" && (string)c["protocol"]! == "upstream");
        Assert.Equal("not-applicable", (string)na["verdict"]!);
        Assert.Equal("cookie", (string)na["requires_protocol"]!);
    }

    [Fact]
    public void Should_KeepABpfObjectsSettingsTogether_When_PoliciesListsASpecWithSeveral()
    {
        // --policies is comma-separated and so are a BPF object spec's settings: a piece that names no policy of its own
        // is one more setting of the spec before it (before, "pair.b=2" was an unknown policy).
        var obj = Scxlab.Tests.BpfObject.BpfExamples.CompileProgram("cgroups.bpf.c", "v3");
        var r = CliResult.Run("compare", "seed-race-r1", "--protocols", "upstream", "--policies", $"{obj}@table[1][2]=7,pair.b=2,local-on-peek", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var cells = JsonNode.Parse(r.Stdout)!["cells"]!.AsArray().Select(c => c!.AsObject()).ToList();
        Assert.Equal(2, cells.Count);
        Assert.Equal($"{obj}@table[1][2]=7,pair.b=2", (string)cells[0]["policy"]!);
        Assert.Equal("local-on-peek", (string)cells[1]["policy"]!);
        // The object's own report (ops.enqueue's exit) shows both settings arrived: table[1][2] + 1000 * pair.b.
        Assert.Contains("table=2007", cells[0]["violations"]!.AsArray().Single()!["message"]!.ToString());
    }

    [Fact]
    public void Should_PrintAMarkdownTable_When_Markdown()
    {
        var r = CliResult.Run("compare", "seed-race-synced", "--markdown");

        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("| scenario | policy | upstream |", r.StdoutLines[0]);
        Assert.StartsWith("|---|", r.StdoutLines[1]);
    }

    [Fact]
    public void Should_PrintTheTargetStaleWitness_When_WitnessIsAsked()
    {
        var r = CliResult.Run("compare", "seed-race-r2", "--protocols", "ghost", "--policies", "ghost-peek", "--witness", "TargetStale");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("seed-race-r2 × ghost-peek × ghost: reachable", r.Stdout);
        Assert.Contains("TargetStale (task barrier", r.Stdout);
    }

    [Theory]
    [InlineData("compare", "--protocols", "nope")]
    [InlineData("compare", "--policies", "nope")]
    [InlineData("compare", "no-such-scenario")]
    [InlineData("compare", "--budget", "0")]
    [InlineData("compare", "--json", "--markdown")]
    public void Should_ExitOneWithOneLine_When_CompareInputIsBad(params string[] args)
    {
        var r = CliResult.Run(args);

        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("scxlab compare: ", Assert.Single(r.StderrLines));
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void Should_ShowTheMatrixAndExplainTheForgottenTask_When_Demo()
    {
        var r = CliResult.Run("demo");

        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stderr);
        Assert.Contains(r.StdoutLines, l => l.Contains("local-on-peek", StringComparison.Ordinal) && l.Contains("FORGOTTEN", StringComparison.Ordinal));
        Assert.Contains("== seed-race-r2 under qseq-invalidate with local-on-peek", r.Stdout);
        Assert.Contains("Why the task is forgotten", r.Stdout);
        Assert.Contains("No ops.enqueue(p[101]) followed", r.Stdout);
        Assert.Contains(r.StdoutLines, l => l.Contains("CPU0", StringComparison.Ordinal) && l.Contains("taskset", StringComparison.Ordinal)); // the CPU columns
    }

    [Fact]
    public void Should_ShowTheExitAndWhereTheTaskWent_When_DemoUnderUpstream()
    {
        var r = CliResult.Run("demo", "--protocol", "upstream");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("== seed-race-r2 under upstream with local-on-peek", r.Stdout);
        Assert.Contains("- p[101]: on SCX_DSQ_GLOBAL", r.Stdout);
    }
}
