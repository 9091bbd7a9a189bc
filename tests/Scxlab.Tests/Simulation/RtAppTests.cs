using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Simulation;

namespace Scxlab.Tests.Simulation;

/// <summary>rt-app files read as rt-app reads them (src/rt-app_parse_config.c, src/rt-app.c), run by the simulator.</summary>
public class RtAppTests
{
    private static SimResult Run(string json, int cpus, long durationNs) =>
        new Simulator(WorkloadLoader.Parse("rt.json", json), new SimOptions
        {
            Cpus = cpus,
            DurationNs = durationNs,
            Seed = 1,
            Policy = PolicyRegistry.Resolve("simple"),
            PolicyName = "simple",
            Protocol = Protocol.Upstream,
        }).Run();

    private static long RuntimeOf(SimResult r, string name) => r.TaskRuntimes.Single(t => t.Name == name || t.Name.StartsWith(name + "[", StringComparison.Ordinal)).RuntimeNs;

    [Theory]
    // sched_prio_to_weight[nice + 20] → sched_weight_to_cgroup(): DIV_ROUND_CLOSEST(w * 100, 1024), clamped to 1..10000
    [InlineData("SCHED_OTHER", 0, 100)]
    [InlineData("SCHED_OTHER", -1, 125)]   // 1277 → 124.7
    [InlineData("SCHED_OTHER", 5, 33)]     // 335 → 32.7
    [InlineData("SCHED_BATCH", 10, 11)]    // 110 → 10.7
    [InlineData("SCHED_OTHER", 19, 1)]     // 15 → 1.46
    [InlineData("SCHED_OTHER", -20, 8668)] // 88761 → 8668.07
    [InlineData("SCHED_IDLE", -20, 1)]     // WEIGHT_IDLEPRIO (3) whatever the nice
    public void Should_ReadPriorityAsTheNiceValue_When_TheTaskIsAFairTask(string policy, int priority, int expected)
    {
        var w = WorkloadLoader.Parse("rt.json", $$"""{ "tasks": { "t": { "policy": "{{policy}}", "priority": {{priority}}, "run": 1000 } } }""");
        Assert.Equal(expected, w.Groups[0].Weight);
        Assert.Empty(w.Warnings);
    }

    [Fact]
    public void Should_WarnAndKeepTheDefaultWeight_When_ATaskSetsNiceWhichRtAppDoesNotHave()
    {
        var w = WorkloadLoader.Parse("rt.json", """{ "tasks": { "t": { "nice": -5, "run": 1000 } } }""");
        Assert.Equal(100, w.Groups[0].Weight);
        Assert.Contains(w.Warnings, x => x.StartsWith("rt.json:1:21: key 'nice' ignored", StringComparison.Ordinal) && x.Contains("'priority'"));
    }

    [Fact]
    public void Should_WarnAndGoOn_When_GlobalOrTaskKeysAreOnesRtAppIgnores()
    {
        var w = WorkloadLoader.Parse("rt.json", """
            { "global": { "duration": 2, "frag": 6, "lock_pages": true },
              "tasks": { "t": { "run": 1000, "colour": "red" } } }
            """);
        Assert.Equal(2_000_000_000, w.DurationNs);
        Assert.Equal(2, w.Warnings.Count);
        Assert.StartsWith("rt.json:1:30: global key 'frag' ignored", w.Warnings[0]);
        Assert.StartsWith("rt.json:2:34: key 'colour' ignored", w.Warnings[1]);
    }

    [Theory]
    [InlineData("\"mem\": 100", "'mem' needs memory and I/O load")]
    [InlineData("\"fork\": \"u\"", "'fork' needs creating threads at run time")]
    [InlineData("\"yield\": 0", "'yield' needs sched_yield()")]
    [InlineData("\"sem_post\": \"s\"", "'sem_post' needs semaphores")]
    public void Should_RefuseNamingTheFeature_When_AnEventNeedsWhatTheSimulatorDoesNotModel(string evt, string expected)
    {
        var e = Assert.Throws<WorkloadException>(() => WorkloadLoader.Parse("rt.json", $$"""{ "tasks": { "t": { "run": 1000, {{evt}} } } }"""));
        Assert.StartsWith("rt.json:1:34: rt-app event ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("SCHED_FIFO", "RT class")]
    [InlineData("SCHED_RR", "RT class")]
    [InlineData("SCHED_DEADLINE", "deadline class")]
    [InlineData("SCHED_WHATEVER", "invalid policy")]
    public void Should_RefuseNamingTheClass_When_APolicyIsNotOneSchedExtRuns(string policy, string expected)
    {
        var e = Assert.Throws<WorkloadException>(() => WorkloadLoader.Parse("rt.json", $$"""{ "tasks": { "t": { "policy": "{{policy}}", "run": 1000 } } }"""));
        Assert.StartsWith("rt.json:1:31: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Should_WarnThatSchedExtIgnoresIt_When_AFairTaskSetsDlRuntime()
    {
        var w = WorkloadLoader.Parse("rt.json", """{ "tasks": { "t": { "priority": -19, "dl-runtime": 100000, "run": 1000 } } }""");
        Assert.Contains(w.Warnings, x => x.Contains("custom slice") && x.Contains("p->scx.slice"));
    }

    [Fact]
    public void Should_TurnPerPhaseCpusAndPriorityIntoChanges_When_PhasesSetThem()
    {
        var w = WorkloadLoader.Parse("rt.json", """
            { "tasks": { "t": { "cpus": [0, 1], "loop": 1, "phases": {
                "a": { "cpus": [1], "run": 1000 },
                "b": { "priority": 5, "run": 1000 } } } } }
            """);
        Assert.Equal(
            [
                new Phase(PhaseKind.SetAffinity, Target: "1", At: "rt.json:2:20"),
                new Phase(PhaseKind.Run, 1_000_000),
                new Phase(PhaseKind.SetAffinity, Target: "0,1", At: "rt.json:3:10"),
                new Phase(PhaseKind.SetWeight, 33),
                new Phase(PhaseKind.Run, 1_000_000),
            ], w.Groups[0].Phases);
    }

    [Fact]
    public void Should_ChangeAffinityOnlyWhenTheMaskDiffers_When_PhasesAlternateCpus()
    {
        // Given a task whose two phases run on CPU 1 and on CPU 0, looping, and a second phase set on the same CPU
        var r = Run("""
            { "tasks": { "t": { "loop": -1, "phases": {
                "a": { "cpus": [1], "run": 1000 },
                "b": { "cpus": [1], "run": 1000 },
                "c": { "cpus": [0], "run": 1000 } } } } }
            """, cpus: 2, durationNs: 30_000_000);
        // Then every pass changes the mask twice (a after c, c after b), never for b after a: about 2 per 3 ms
        var changes = r.AffinityChanges;
        Assert.InRange(changes, 14, 22);
        Assert.True(r.Migrations >= changes / 2, $"{r.Migrations} migrations for {changes} affinity changes");
    }

    [Fact]
    public void Should_EndAtTheWallClockDeadline_When_ARuntimeEventSharesItsCpu()
    {
        // Given one CPU shared by a hog and a task that alternates runtime 50 ms (wall clock; longer than
        // the 20 ms slice, so the hog runs in between) and sleep 10 ms, and the same with run 50 ms (CPU time)
        const string hog = "\"hog\": { \"run\": 1000000 }";
        var wall = Run($$"""{ "tasks": { "w": { "runtime": 50000, "sleep": 10000 }, {{hog}} } }""", cpus: 1, durationNs: 400_000_000);
        var cpu = Run($$"""{ "tasks": { "w": { "run": 50000, "sleep": 10000 }, {{hog}} } }""", cpus: 1, durationNs: 400_000_000);
        // Then the runtime task gets only part of each 50 ms window, the run task all of its 50 ms
        var w = RuntimeOf(wall, "w");
        var c = RuntimeOf(cpu, "w");
        Assert.True(w < c * 0.95, $"runtime task ran {w} ns, run task {c} ns");
        Assert.True(w > 0);
    }

    [Fact]
    public void Should_SerialiseTheCriticalSections_When_TwoTasksShareAMutex()
    {
        // Given two tasks on two CPUs that only run while holding one mutex
        var locked = Run("""
            { "tasks": {
                "a": { "lock": "m", "run": 1000, "unlock": "m" },
                "b": { "lock": "m", "run": 1000, "unlock": "m" } } }
            """, cpus: 2, durationNs: 100_000_000);
        // Then together they run about as long as one CPU's time, not two
        var total = RuntimeOf(locked, "a") + RuntimeOf(locked, "b");
        Assert.InRange(total, 90_000_000, 101_000_000);
        Assert.True(RuntimeOf(locked, "a") > 30_000_000 && RuntimeOf(locked, "b") > 30_000_000, "both get the mutex");
    }

    [Fact]
    public void Should_WakeTheWaiter_When_AConditionIsSignalled()
    {
        // Given a consumer that waits on a condition and a producer that signals it every 10 ms
        var r = Run("""
            { "tasks": {
                "consumer": { "lock": "m", "wait": { "ref": "c", "mutex": "m" }, "unlock": "m", "run": 100 },
                "producer": { "run": 100, "lock": "m", "signal": "c", "unlock": "m", "sleep": 10000 } } }
            """, cpus: 2, durationNs: 100_000_000);
        // Then the consumer runs once per signal: about 10 × 100 µs, and never without one
        Assert.InRange(RuntimeOf(r, "consumer"), 700_000, 1_100_000);
    }

    [Fact]
    public void Should_HoldEveryThreadUntilTheLastArrives_When_TheyShareABarrier()
    {
        // Given two tasks that meet at a barrier every pass: one runs 1 ms, the other 5 ms
        var r = Run("""
            { "tasks": {
                "fast": { "run": 1000, "barrier": "b" },
                "slow": { "run": 5000, "barrier": "b" } } }
            """, cpus: 2, durationNs: 100_000_000);
        // Then the fast one waits for the slow one: about 1 ms of run per 5 ms
        var ratio = (double)RuntimeOf(r, "fast") / RuntimeOf(r, "slow");
        Assert.InRange(ratio, 0.15, 0.25);
    }

    private sealed class WakeupTimes : ISimTraceSink
    {
        public readonly List<long> Ns = [];
        public void Begin(int cpus, IReadOnlyList<string> taskNames, string title) { }
        public void TaskSlice(int cpu, int task, long startNs, long endNs, bool preempted) { }
        public void Migration(int task, int fromCpu, long fromNs, int toCpu, long toNs) { }
        public void Instant(int cpu, long ns, string name, string detail) { }
        public void Wakeup(int task, int cpu, long ns) => Ns.Add(ns);
        public void End(long ns) { }
    }

    [Theory]
    [InlineData("relative", new long[] { 65, 75, 85, 95 })] // the overrun restarts the timer at 55 ms
    [InlineData("absolute", new long[] { 60, 70, 80, 90 })] // the missed expiries are run back to back, then the old grid goes on
    public void Should_FollowRtAppsTimerModes_When_APhaseOverrunsItsPeriod(string mode, long[] expectedMs)
    {
        // Given a task on one CPU that runs 55 ms once (over five 10 ms periods), then 100 µs per period,
        // on one private timer that starts at the thread's start (t = 0)
        var json = $$"""
            { "tasks": { "t": { "phases": {
                "overrun": { "run": 55000, "timer": { "ref": "unique", "period": 10000, "mode": "{{mode}}" } },
                "steady": { "loop": 1000, "run": 100, "timer": { "ref": "unique", "period": 10000, "mode": "{{mode}}" } } } } } }
            """;
        var trace = new WakeupTimes();
        new Simulator(WorkloadLoader.Parse("rt.json", json), new SimOptions
        {
            Cpus = 1, DurationNs = 99_000_000, Seed = 1, Trace = trace,
            Policy = PolicyRegistry.Resolve("simple"), PolicyName = "simple", Protocol = Protocol.Upstream,
        }).Run();
        // Then the timer wakes it on rt-app's expiries (to the closest ms: run 100 µs and wakeup costs move it by less)
        Assert.Equal(expectedMs, trace.Ns.Skip(1).Select(ns => (ns + 500_000) / 1_000_000).ToArray());
    }

    [Fact]
    public void Should_ShareOneTimer_When_TwoTasksNameTheSameRef()
    {
        // Given two tasks on two CPUs that use one timer "tick" with a 10 ms period
        var shared = Run("""
            { "tasks": {
                "a": { "run": 100, "timer": { "ref": "tick", "period": 10000 } },
                "b": { "run": 100, "timer": { "ref": "tick", "period": 10000 } } } }
            """, cpus: 2, durationNs: 100_000_000);
        var unique = Run("""
            { "tasks": {
                "a": { "run": 100, "timer": { "ref": "unique", "period": 10000 } },
                "b": { "run": 100, "timer": { "ref": "unique", "period": 10000 } } } }
            """, cpus: 2, durationNs: 100_000_000);
        // Then each use advances the shared expiry by a period: together they wake once per period, not twice
        Assert.InRange(shared.Wakeups, unique.Wakeups / 2 - 2, unique.Wakeups / 2 + 2);
    }
}
