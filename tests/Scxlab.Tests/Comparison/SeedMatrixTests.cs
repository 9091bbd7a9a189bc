using Scxlab.Comparison;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Comparison;

/// <summary>The seed matrix (seed-race-r2 × its compare list × every protocol), explored once and shared by the tests.</summary>
public sealed class SeedMatrixFixture : IDisposable
{
    public string Traces { get; } = Directory.CreateTempSubdirectory("scxlab-seed-matrix-").FullName;
    public Scenario Scenario { get; } = ScenarioLoader.Resolve("seed-race-r2");
    public ComparisonResult Result { get; }

    public SeedMatrixFixture() =>
        Result = ProtocolComparison.Run(new ComparisonOptions { Scenarios = [Scenario], TraceDirectory = Traces, BudgetSeconds = 30 });

    public void Dispose() => Directory.Delete(Traces, recursive: true);
}

/// <summary>
/// Pins every cell of the seed matrix. The expectations live here, in the test (the tool itself
/// knows nothing of what a policy or protocol should do); each violating cell's saved trace is
/// loaded and replayed and must reach the same violation.
/// </summary>
public class SeedMatrixTests(SeedMatrixFixture fx) : IClassFixture<SeedMatrixFixture>
{
    private const string Exit = "exit", Holds = "holds", Forgotten = "forgotten", NotApplicable = "n/a";

    public static TheoryData<string, string, string> Cells()
    {
        var d = new TheoryData<string, string, string>();
        void Row(string policy, params string[] byProtocol)
        {
            string[] protocols = ["upstream", "qseq-invalidate", "fallback-dsq", "cookie", "ghost"];
            for (var i = 0; i < protocols.Length; i++) d.Add(policy, protocols[i], byProtocol[i]);
        }
        //                            upstream      qseq-invalidate fallback-dsq  cookie        ghost
        Row("local-on-pop",           Exit,         Holds,          Holds,        Exit,         Exit);
        Row("local-on-peek",          Exit,         Forgotten,      Holds,        Exit,         Exit);
        Row("dequeue-sync",           Holds,        Holds,          Holds,        Holds,        Holds);
        Row("insert-recheck-cancel",  Holds,        Holds,          Holds,        Holds,        Holds);
        Row("cookie-peek",            NotApplicable, NotApplicable, NotApplicable, Holds,       NotApplicable);
        Row("ghost-peek",             NotApplicable, NotApplicable, NotApplicable, NotApplicable, Holds);
        // rustland's placement (bump in ops.set_cpumask, before q1 is published) against the
        // known-wrong one (bump in ops.enqueue, after): see UserspaceGenerationTests.
        Row("userspace",              Holds,        Holds,          Holds,        Holds,        Holds);
        Row("userspace-enqueue-gen",  Exit,         Holds,          Holds,        Exit,         Exit);
        return d;
    }

    private ComparisonCell Cell(string policy, string protocol)
    {
        Assert.True(Protocols.TryParse(protocol, out var p));
        return Assert.IsType<ComparisonCell>(fx.Result.Cell("seed-race-r2", policy, p));
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void Should_MatchThePinnedVerdict_When_SeedCellIsExplored(string policy, string protocol, string expected)
    {
        var cell = Cell(policy, protocol);

        switch (expected)
        {
            case Holds:
                Assert.Equal(CellOutcome.Holds, cell.Outcome);
                Assert.True(cell.Complete);
                Assert.Empty(cell.Findings);
                break;
            case NotApplicable:
                Assert.Equal(CellOutcome.NotApplicable, cell.Outcome);
                Assert.NotNull(cell.RequiredProtocol);
                Assert.Null(cell.Stats); // not explored
                break;
            case Exit:
            {
                Assert.Equal(CellOutcome.SchedulerExit, cell.Outcome);
                var f = Assert.Single(cell.Findings);
                Assert.Equal("SCX_EXIT_ERROR", f.Violation.Name);
                Assert.Equal($"SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for p[{TestModels.PidP}]", f.Violation.Message);
                // Parked on the global DSQ, not lost.
                Assert.Contains(f.TaskEnds, e => e.StartsWith($"p[{TestModels.PidP}]: on SCX_DSQ_GLOBAL", StringComparison.Ordinal));
                break;
            }
            case Forgotten:
            {
                Assert.Equal(CellOutcome.TaskForgotten, cell.Outcome);
                var f = Assert.Single(cell.Findings);
                Assert.Equal("TaskHasExactlyOneOwner", f.Violation.Name);
                Assert.Contains(f.TaskEnds, e => e.Contains("QUEUED", StringComparison.Ordinal) && e.Contains("do not hold it", StringComparison.Ordinal));
                break;
            }
            default:
                throw new InvalidOperationException(expected);
        }
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void Should_ReproduceTheCellsFinding_When_ItsSavedTraceIsReplayed(string policy, string protocol, string expected)
    {
        var cell = Cell(policy, protocol);
        if (expected is Holds or NotApplicable)
        {
            Assert.All(cell.Findings, f => Assert.Null(f.TraceFile));
            return;
        }
        foreach (var f in cell.Findings)
        {
            var file = TraceFile.Load(Assert.IsType<string>(f.TraceFile));
            Assert.Equal(protocol, file.Protocol);
            Assert.Equal(policy, file.Policy);
            var scenario = ScenarioLoader.Parse(file.ScenarioText, "trace");
            Assert.True(Protocols.TryParse(file.Protocol, out var p));
            var run = TraceRunner.Run(scenario.ToConfig(file.Policy, p), file.Choices, file.Checks);
            Assert.Null(run.Divergence);
            Assert.Equal(f.Violation.Key, run.Outcome?.Key);
            Assert.Equal(file.Violation.Key, f.Violation.Key);
        }
    }

    [Fact]
    public void Should_FindTheSeedEmailsInterleaving_When_QseqInvalidateForgetsTheTask()
    {
        var f = Assert.IsType<CellFinding>(Cell("local-on-peek", "qseq-invalidate").Primary);
        var config = fx.Scenario.ToConfig("local-on-peek", Protocol.QseqInvalidate);
        var run = TraceRunner.Run(config, f.Trace, fx.Scenario.Checks);

        int At(string actor, string note) =>
            run.Rows.ToList().FindIndex(r => r.ActorName == actor && r.Notes.Any(n => n.Contains(note, StringComparison.Ordinal)));
        var peek = At("CPU0", "bpf_map_peek_elem");
        var test = At("CPU0", "bpf_cpumask_test_cpu");
        var dequeue = At("taskset", "ops_dequeue");
        var requeue = At("taskset", "bpf_map_push_elem");
        var remove = At("CPU0", "list remove");
        var insert = At("CPU0", "scx_bpf_dsq_insert");
        // CPU0 peeks and tests the old mask; the affinity change dequeues and re-enqueues p; CPU0 then removes the new entry and inserts.
        Assert.True(peek >= 0 && peek < test && test < dequeue && dequeue < requeue && requeue < remove && remove < insert,
            $"peek {peek}, test {test}, dequeue {dequeue}, requeue {requeue}, remove {remove}, insert {insert}");
    }

    [Fact]
    public void Should_ExplainWhichStepsLostTheTask_When_QseqInvalidateForgetsIt()
    {
        var f = Assert.IsType<CellFinding>(Cell("local-on-peek", "qseq-invalidate").Primary);
        var config = fx.Scenario.ToConfig("local-on-peek", Protocol.QseqInvalidate);

        var why = Assert.IsType<ForgottenTaskExplanation>(ForgottenTaskExplanation.Explain(config, f.Trace));

        Assert.Equal($"p[{TestModels.PidP}]", why.Task);
        Assert.Equal("CPU0", why.RemovedFromPolicy?.Actor);
        Assert.Equal("taskset", why.AddedToPolicy?.Actor);
        Assert.Equal("CPU0", why.DispatchDropped?.Actor);
        Assert.True(why.DispatchDropped!.Index > why.RemovedFromPolicy!.Index);
        Assert.Contains(why.DispatchDropped.Notes, n => n.Contains("dropped", StringComparison.Ordinal));
        Assert.Empty(why.EnqueuesAfterDrop);
        Assert.True(why.ReachedQuiescence);
    }

    [Fact]
    public void Should_ExplainNothing_When_TheTraceLosesNoTask()
    {
        var f = Assert.IsType<CellFinding>(Cell("local-on-peek", "upstream").Primary);
        var config = fx.Scenario.ToConfig("local-on-peek", Protocol.Upstream);

        Assert.Null(ForgottenTaskExplanation.Explain(config, f.Trace));
    }

    [Fact]
    public void Should_ReachATargetStaleCommitAndStillHold_When_GhostAgentMeetsR2()
    {
        Assert.Equal(CellOutcome.Holds, Cell("ghost-peek", "ghost").Outcome);
        var config = fx.Scenario.ToConfig("ghost-peek", Protocol.Ghost);

        var w = WitnessSearch.Find(config, "TargetStale");

        var trace = Assert.IsType<IReadOnlyList<int>>(w.Trace, exactMatch: false);
        var run = TraceRunner.Run(config, trace, fx.Scenario.Checks);
        Assert.Null(run.Divergence);
        Assert.Null(run.Outcome); // the stale commit is rejected: nothing violated on the way
        Assert.Contains(run.Rows[^1].Notes, n => n.Contains("TargetStale", StringComparison.Ordinal));
        // The agent read the barrier before the affinity change bumped it.
        var barrierRead = run.Rows.ToList().FindIndex(r => r.Notes.Any(n => n.Contains("barrier(", StringComparison.Ordinal)));
        var affinity = run.Rows.ToList().FindIndex(r => r.ActorName == "taskset");
        Assert.True(barrierRead >= 0 && barrierRead < affinity);
    }

    [Fact]
    public void Should_ReportNotReachable_When_TheNarrationNeverOccurs()
    {
        var config = fx.Scenario.ToConfig("dequeue-sync", Protocol.Upstream);

        var w = WitnessSearch.Find(config, "TargetStale");

        Assert.Null(w.Trace);
        Assert.True(w.Complete);
        Assert.True(w.States > 0);
    }
}
