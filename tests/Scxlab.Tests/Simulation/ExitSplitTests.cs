using System.Text.Json;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Simulation;

namespace Scxlab.Tests.Simulation;

/// <summary>
/// Metrics across a scheduler exit: the main figures are the sched_ext part (until the exit), so a
/// column with an exit compares like with like with columns without one; the fair-class part after
/// the exit is reported separately.
/// </summary>
public class ExitSplitTests
{
    // Long enough that the upstream run reaches its stale LOCAL_ON exit (at ≈ 0.76 s with seed 1 today).
    private const long Duration = 2_000_000_000;

    private static SimResult Run(Protocol protocol) =>
        new Simulator(Generators.Create("affinity-churn", 8), new SimOptions
        {
            Cpus = 8,
            DurationNs = Duration,
            Seed = 1,
            Policy = PolicyRegistry.Resolve("local-on-peek"),
            PolicyName = "local-on-peek",
            Protocol = protocol,
        }).Run();

    // One run of each kind, shared by the tests of this class (a run takes seconds).
    private static readonly Lazy<SimResult> Upstream = new(() => Run(Protocol.Upstream));
    private static readonly Lazy<SimResult> FallbackDsq = new(() => Run(Protocol.FallbackDsq));

    [Fact]
    public void Should_CountWakeupsAtTheSameRateAsWithoutExit_When_TheSchedulerExits()
    {
        // Given affinity-churn under upstream (it exits) and under fallback-dsq (it does not)
        var up = Upstream.Value;
        var fb = FallbackDsq.Value;
        var exit = Assert.Single(up.Exits);
        Assert.Empty(fb.Exits);

        // Then the wakeups reported for the upstream run are those of its sched_ext part: per second
        // of that part they come at about the rate of the run without exit (same workload and load)
        var upRate = up.Wakeups / (exit.AtNs / 1e9);
        var fbRate = fb.Wakeups / (Duration / 1e9);
        Assert.InRange(upRate / fbRate, 0.7, 1.3);
    }

    [Fact]
    public void Should_SplitEveryMetricAtTheExitTime_When_TheSchedulerExits()
    {
        var r = Upstream.Value;
        var exit = Assert.Single(r.Exits);

        // The sched_ext part ends at the exit; the part after it covers the rest of the run
        Assert.Equal(exit.AtNs, r.ScxPartNs);
        var after = Assert.IsType<SimPart>(r.AfterExit);
        Assert.Equal(exit.AtNs, after.FromNs);
        Assert.Equal(Duration, after.ToNs);

        // Runtime is split at the exit: no part holds more CPU time than its span on 8 CPUs, the
        // parts add up to what the CPUs were busy for, and the utilisation is over each part's span
        var scxRun = r.TaskRuntimes.Sum(t => t.RuntimeNs);
        var afterRun = after.TaskRuntimes.Sum(t => t.RuntimeNs);
        Assert.InRange(scxRun, 1, 8 * r.ScxPartNs);
        Assert.InRange(afterRun, 1, 8 * after.SpanNs);
        Assert.Equal(r.CpuUtilisation.Sum() * r.ScxPartNs + after.CpuUtilisation.Sum() * after.SpanNs, scxRun + afterRun, 1e-3 * (scxRun + afterRun));
        Assert.All(r.CpuUtilisation, u => Assert.InRange(u, 0, 1));
        Assert.All(after.CpuUtilisation, u => Assert.InRange(u, 0, 1));

        // Counts split too: every wakeup has its latency in the part it was issued in (minus those
        // still in flight at the end), and the fair class after the exit keeps the tasks moving
        Assert.InRange(r.Latency[0].Count, 1, r.Wakeups);
        Assert.InRange(after.Latency[0].Count, 1, after.Wakeups);
        Assert.True(after.Wakeups > r.Wakeups, "the part after the exit is the longer one here");
        Assert.True(after.ContextSwitches > 0 && r.ContextSwitches > 0);
    }

    [Fact]
    public void Should_HaveNoAfterExitPart_When_TheSchedulerDoesNotExit()
    {
        var r = FallbackDsq.Value;
        Assert.Null(r.AfterExit);
        Assert.Equal(Duration, r.ScxPartNs);
    }

    [Fact]
    public void Should_KeepTheJsonFieldsAndAddTheAfterExitPart_When_RunsAreSerialised()
    {
        var json = SimReport.Json("affinity-churn", [Upstream.Value, FallbackDsq.Value], 1.0);
        using var doc = JsonDocument.Parse(json);
        var runs = doc.RootElement.GetProperty("runs");
        foreach (var run in runs.EnumerateArray())
        {
            // every field readers used before is still there
            foreach (var f in new[] { "latency_ns", "cpu_utilisation", "cpu_utilisation_mean", "runqueue_length_mean", "runqueue_length_max",
                         "context_switches", "preemptions", "migrations", "affinity_changes", "wakeups", "fairness_jain", "fairness_by_class",
                         "dispatches_dropped", "reenqueues", "fallback_dsq_uses", "fallback_reenqueues", "watchdog_stalls", "kernel_events",
                         "exits", "findings", "model_steps", "engine_events", "wall_seconds", "events_per_second" })
                Assert.True(run.TryGetProperty(f, out _), $"field {f} is missing");
            Assert.True(run.TryGetProperty("scx_part_ns", out _));
        }
        var up = runs[0];
        var after = up.GetProperty("after_exit");
        Assert.Equal(JsonValueKind.Object, after.ValueKind);
        Assert.Equal(Upstream.Value.AfterExit!.Wakeups, after.GetProperty("wakeups").GetInt64());
        Assert.Equal(Upstream.Value.Wakeups, up.GetProperty("wakeups").GetInt64());
        Assert.Equal(Upstream.Value.Exits[0].AtNs, after.GetProperty("from_ns").GetInt64());
        Assert.Equal(JsonValueKind.Null, runs[1].GetProperty("after_exit").ValueKind);
    }

    [Fact]
    public void Should_LabelTheAfterExitRowsAndLeaveThemEmpty_When_OnlySomeColumnsExited()
    {
        var rows = SimReport.Rows([Upstream.Value, FallbackDsq.Value]);
        var afterRows = rows.Where(x => x.Metric.StartsWith(SimReport.AfterLabel, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(afterRows);
        Assert.All(afterRows, x => Assert.Equal("-", x.Values[1]));
        Assert.All(afterRows, x => Assert.NotEqual("-", x.Values[0]));
        Assert.Equal(Upstream.Value.AfterExit!.Wakeups.ToString(System.Globalization.CultureInfo.InvariantCulture),
            afterRows.Single(x => x.Metric == $"{SimReport.AfterLabel}: wakeups").Values[0]);
        // and no after-exit rows at all when no column exited
        Assert.DoesNotContain(SimReport.Rows([FallbackDsq.Value]), x => x.Metric.StartsWith(SimReport.AfterLabel, StringComparison.Ordinal));
    }
}
