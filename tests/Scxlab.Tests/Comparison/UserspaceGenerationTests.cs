using Scxlab.Comparison;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Comparison;

/// <summary>
/// Where a rustland-style policy bumps its generation decides whether its cancel closes the seed
/// race (issue 10 item 10; scx PR #133). On seed-race-r2 under today's kernel, sched_setaffinity
/// runs ops_dequeue → set_cpus_allowed_scx (ops.set_cpumask) → enqueue_task_scx, which publishes
/// the new instance's qseq in ops_state (QUEUEING|q1) before it calls ops.enqueue.
/// </summary>
public class UserspaceGenerationTests
{
    private static ComparisonCell Cell(string policy, Protocol protocol) =>
        ProtocolComparison.RunCell(ScenarioLoader.Resolve("seed-race-r2"), policy, protocol, new ComparisonOptions { BudgetSeconds = 30 });

    /// <summary>
    /// rustland bumps its counter in ops.set_cpumask, before enqueue_task_scx() publishes q1: any
    /// insert that carries q1 was made after the bump, so the read that follows the insert sees the
    /// new generation and cancels; an insert made before q1 carries q0 (or NONE's 0) and
    /// finish_dispatch() drops it. No interleaving commits the stale LOCAL_ON|0.
    /// </summary>
    [Fact]
    public void Should_Hold_When_UserspaceBumpsItsGenerationInSetCpumask()
    {
        var c = Cell("userspace", Protocol.Upstream);

        Assert.True(c.Outcome == CellOutcome.Holds, $"userspace × upstream: {c.Outcome}: {c.Primary?.Violation.Key}");
        Assert.True(c.Complete);
    }

    /// <summary>
    /// The same policy with the bump in ops.enqueue: ops.enqueue runs after enqueue_task_scx() has
    /// set QUEUEING|q1, so CPU0 can insert LOCAL_ON|0 with q1 and read the generation before
    /// ops.enqueue writes it. The check passes, finish_dispatch() accepts q1, and
    /// dispatch_to_local_dsq() ends the scheduler. The exploration finds exactly that order.
    /// </summary>
    [Fact]
    public void Should_ExitOnTheStaleLocalOn_When_TheGenerationIsBumpedInEnqueue()
    {
        var c = Cell("userspace-enqueue-gen", Protocol.Upstream);

        Assert.Equal(CellOutcome.SchedulerExit, c.Outcome);
        var f = Assert.Single(c.Findings);
        Assert.Equal($"SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for p[{TestModels.PidP}]", f.Violation.Message);

        var scenario = ScenarioLoader.Resolve("seed-race-r2");
        var run = TraceRunner.Run(scenario.ToConfig("userspace-enqueue-gen", Protocol.Upstream), f.Trace, scenario.Checks);
        Assert.Null(run.Divergence);
        int At(string actor, string note) =>
            run.Rows.ToList().FindIndex(r => r.ActorName == actor && r.Notes.Any(n => n.Contains(note, StringComparison.Ordinal)));
        // do_enqueue_task() publishes QUEUEING|q1 (T1, a step of its own) before it calls ops.enqueue
        var enqueue = run.Rows.ToList().FindIndex(r => r.ActorName == "taskset" && r.Changes.Any(ch => ch.Contains("QUEUEING|q1", StringComparison.Ordinal)));
        var insert = At("CPU0", "scx_bpf_dsq_insert");
        var genRead = At("CPU0", "bpf_task_storage_get(task_ctx");
        var genWrite = At("taskset", "task storage write(task_ctx");
        var commit = At("CPU0", "finish_dispatch");
        Assert.True(enqueue >= 0 && enqueue < insert && insert < genRead && genRead < genWrite && genWrite < commit,
            $"q1 published {enqueue}, insert {insert}, generation read {genRead}, generation write {genWrite}, finish_dispatch {commit}");
        Assert.Contains(run.Rows[enqueue].Changes, c => c.Contains("QUEUEING|q1", StringComparison.Ordinal));
        Assert.Contains(run.Rows[insert].Changes, c => c.Contains("LOCAL_ON|0", StringComparison.Ordinal) && c.Contains("q1", StringComparison.Ordinal));
    }

    /// <summary>
    /// Where the placements differ, and where they do not: every protocol that keeps today's
    /// finish_dispatch() (upstream, and cookie/ghost, which only add kfuncs these policies do not
    /// call) ends the scheduler for the enqueue bump; qseq-invalidate and fallback-dsq never end it
    /// (they drop or divert the disallowed dispatch, and the policy still holds p through the
    /// entry its re-enqueue queued). The set_cpumask bump holds everywhere.
    /// </summary>
    [Theory]
    [InlineData(Protocol.Upstream, CellOutcome.SchedulerExit)]
    [InlineData(Protocol.QseqInvalidate, CellOutcome.Holds)]
    [InlineData(Protocol.FallbackDsq, CellOutcome.Holds)]
    [InlineData(Protocol.Cookie, CellOutcome.SchedulerExit)]
    [InlineData(Protocol.Ghost, CellOutcome.SchedulerExit)]
    public void Should_DifferOnlyWhereFinishDispatchAcceptsTheNewQseq_When_BothPlacementsAreExplored(Protocol protocol, CellOutcome enqueueGen)
    {
        Assert.Equal(CellOutcome.Holds, Cell("userspace", protocol).Outcome);
        Assert.Equal(enqueueGen, Cell("userspace-enqueue-gen", protocol).Outcome);
    }
}
