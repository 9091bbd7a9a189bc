using CsCheck;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// The disk-spilling fingerprint set (<c>check --memory SIZE</c>) answers as the in-memory one does: operation by
/// operation against <see cref="FingerprintSet"/>, and search by search (the same states, transitions, executions,
/// verdicts and traces) with a memory budget small enough that nearly every state goes to disk.
/// </summary>
public sealed class SpillingSetTests : IDisposable
{
    /// <summary>Small enough that the table spills every few thousand states.</summary>
    private const long TinyMemory = 32 << 10;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "scxlab-spill-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>
    /// The reduced DFS keeps the slots of the states on its stack and taints them later (Explorer.Dfs's Taint), after
    /// many insertions: a slot must still address its state after the table has grown (or spilled).
    /// </summary>
    [Theory]
    [InlineData(3, false)]
    [InlineData(12, false)]
    [InlineData(3, true)]
    public void Should_KeepAddressingAState_When_TheTableGrowsAfterItsSlotWasTaken(int actors, bool spilling)
    {
        using var spill = new SpillingFingerprintSet(actors, TinyMemory, _dir);
        IVisitedSet set = spilling ? spill : new FingerprintSet(actors, 10);
        var slots = new long[64];
        for (var i = 0; i < slots.Length; i++) Assert.True(set.Add(null!, (ulong)(i + 1) * 0x9E3779B97F4A7C15UL, (ulong)i, out slots[i]));
        for (var i = 0; i < 50_000; i++) set.Add(null!, (ulong)(i + 1000) * 0xC2B2AE3D27D4EB4FUL, 0x55, out _);
        for (var i = 0; i < slots.Length; i++)
        {
            Assert.Equal((ulong)i, set.GetAux(slots[i]));
            set.SetAux(slots[i], (ulong)i | 0x80);
            Assert.False(set.Add(null!, (ulong)(i + 1) * 0x9E3779B97F4A7C15UL, 0, out var again));
            Assert.Equal((ulong)i | 0x80, set.GetAux(again));
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(12)]
    public void Should_AnswerEveryOperationAsTheInMemorySet_When_MostEntriesAreOnDisk(int actors)
    {
        var reference = new FingerprintSet(actors, 10);
        using var spill = new SpillingFingerprintSet(actors, TinyMemory, _dir);
        var refSlots = new Dictionary<ulong, long>();
        var spillSlots = new Dictionary<ulong, long>();
        var rng = new Random(7);
        var auxMask = actors > 7 ? ulong.MaxValue : 0xFF;
        for (var op = 0; op < 200_000; op++)
        {
            // Fingerprints from a pool so that most are met again; 0 is normalised by both sets.
            var fp = (ulong)rng.NextInt64(0, 60_000) * 0x9E3779B97F4A7C15UL;
            var kind = rng.Next(4);
            if (kind < 2 || !refSlots.ContainsKey(fp))
            {
                var aux = (ulong)rng.NextInt64() & auxMask;
                var added = reference.Add(null!, fp, aux, out var rs);
                Assert.Equal(added, spill.Add(null!, fp, aux, out var ss));
                refSlots[fp] = rs;
                spillSlots[fp] = ss;
                Assert.Equal(reference.GetAux(rs), spill.GetAux(ss));
            }
            else if (kind == 2)
            {
                var aux = (ulong)rng.NextInt64() & auxMask;
                reference.SetAux(refSlots[fp], aux);
                spill.SetAux(spillSlots[fp], aux);
            }
            else
            {
                Assert.Equal(reference.GetAux(refSlots[fp]), spill.GetAux(spillSlots[fp]));
                Assert.True(spill.Contains(fp));
            }
            Assert.Equal(reference.Count, spill.Count);
        }
        // Slots taken before spills and merges still address their states.
        foreach (var (fp, rs) in refSlots) Assert.Equal(reference.GetAux(rs), spill.GetAux(spillSlots[fp]));
        Assert.True(spill.RunsWritten > 5, $"only {spill.RunsWritten} runs written");
        Assert.True(spill.SpilledStates > spill.Count / 2, $"{spill.SpilledStates} of {spill.Count} states on disk");
        Assert.Null(spill.Failure);
    }

    private ExploreResult Explore(ModelConfig cfg, Strategy s, bool spill, int jobs = 1, IReadOnlyList<string>? checks = null, long? maxTransitions = null, double? budgetSeconds = null, bool shortestTraces = true) =>
        new Explorer(new Machine(cfg), new ExploreOptions
        {
            Strategy = s,
            Jobs = jobs,
            Checks = checks ?? [],
            MaxTransitions = maxTransitions,
            BudgetSeconds = budgetSeconds,
            ShortestTraces = shortestTraces,
            MaxMemoryBytes = spill ? TinyMemory : 6L << 30,
            SpillDirectory = spill ? _dir : null,
        }).Run();

    private static void AssertSame(ExploreResult memory, ExploreResult disk)
    {
        Assert.Equal(memory.Complete, disk.Complete);
        Assert.Equal(memory.Verdict, disk.Verdict);
        Assert.Equal(memory.Stats.States, disk.Stats.States);
        Assert.Equal(memory.Stats.Transitions, disk.Stats.Transitions);
        Assert.Equal(memory.Stats.Executions, disk.Stats.Executions);
        Assert.Equal(memory.Stats.MaxDepth, disk.Stats.MaxDepth);
        Assert.Equal(memory.Violations.Select(v => (v.Violation.Key, string.Join(",", v.Trace))), disk.Violations.Select(v => (v.Violation.Key, string.Join(",", v.Trace))));
    }

    [Theory]
    [InlineData("scale-3cpu", Strategy.Reduced, 1)]
    [InlineData("scale-3cpu", Strategy.Dfs, 1)]
    [InlineData("scale-3cpu", Strategy.Bfs, 2)]
    [InlineData("central-remote", Strategy.Reduced, 1)]
    [InlineData("seed-race-r2", Strategy.Reduced, 1)]
    public void Should_VisitTheSameStatesAndFindTheSameViolations_When_StatesSpillToDisk(string name, Strategy strategy, int jobs)
    {
        var scenario = ScenarioLoader.Resolve(name);
        var memory = Explore(scenario.ToConfig(), strategy, spill: false, jobs, scenario.Checks);
        var disk = Explore(scenario.ToConfig(), strategy, spill: true, jobs, scenario.Checks);
        AssertSame(memory, disk);
        if (memory.Stats.States > 10_000)
        {
            Assert.True(disk.Stats.SpilledStates > 0 && disk.Stats.SpillRuns > 0);
            Assert.Contains(disk.Notes, n => n.Contains("spilled to disk", StringComparison.Ordinal));
        }
        // The run files are gone once the search returns.
        Assert.True(!Directory.Exists(_dir) || Directory.GetFileSystemEntries(_dir).Length == 0);
    }

    /// <summary>Random scenarios (the sleep sets of the reduced search live in the aux words that move to disk).</summary>
    [Fact]
    public void Should_MatchTheInMemorySearch_When_RandomScenariosSpill()
    {
        var compared = 0;
        ExplorerPropertyTests.GenSmall.Sample(sc =>
        {
            // The DFS's own traces are compared (the shortest-trace BFS is not this test's subject, and with a tiny memory
            // a random scenario's BFS once spilled for many minutes on CI); a pair that does not finish in time is not
            // compared, and at least 100 of 120 must be.
            var memory = Explore(sc.Config(), Strategy.Reduced, spill: false, maxTransitions: 60_000, budgetSeconds: 20, shortestTraces: false);
            if (!memory.Complete) return;
            var disk = Explore(sc.Config(), Strategy.Reduced, spill: true, budgetSeconds: 60, shortestTraces: false);
            if (!disk.Complete && disk.IncompleteReason?.StartsWith("time budget", StringComparison.Ordinal) == true) return;
            compared++;
            AssertSame(memory, disk);
        }, iter: 120, threads: 1, print: s => s.ToString());
        Assert.True(compared >= 100, $"only {compared} scenarios completed within the budget");
    }

    [Fact]
    public void Should_SayIncompleteWithTheReason_When_TheSpillDirectoryCannotBeWritten()
    {
        var scenario = ScenarioLoader.Resolve("scale-3cpu");
        var blocker = Path.Combine(Path.GetTempPath(), "scxlab-spill-blocker-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(blocker, "a file where the spill directory would be");
        try
        {
            var r = new Explorer(new Machine(scenario.ToConfig()), new ExploreOptions { MaxMemoryBytes = TinyMemory, SpillDirectory = Path.Combine(blocker, "sub") }).Run();
            Assert.Equal(Verdict.Incomplete, r.Verdict);
            Assert.Contains("spilling to disk failed", r.IncompleteReason, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(blocker);
        }
    }
}

/// <summary><c>scxlab check --memory SIZE --spill-dir DIR</c> end to end.</summary>
public sealed class SpillingCheckCommandTests
{
    private static (int Code, string Out, string Err) Check(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var code = Scxlab.Cli.Commands.CheckCommand.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Should_HoldWithTheSameStatesAndReportTheSpill_When_MemoryIsSmall()
    {
        var dir = Path.Combine(Path.GetTempPath(), "scxlab-spill-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (c1, o1, _) = Check("scale-3cpu", "--json");
            var (c2, o2, e2) = Check("scale-3cpu", "--json", "--memory", "64KiB", "--spill-dir", dir);
            Assert.Equal(0, c1);
            Assert.True(c2 == 0, e2);
            var memory = System.Text.Json.Nodes.JsonNode.Parse(o1)!["stats"]!;
            var disk = System.Text.Json.Nodes.JsonNode.Parse(o2)!;
            Assert.Equal((long)memory["states"]!, (long)disk["stats"]!["states"]!);
            Assert.Equal(0L, (long)memory["spilled_states"]!);
            Assert.True((long)disk["stats"]!["spilled_states"]! > 0);
            Assert.Contains(disk["notes"]!.AsArray(), n => ((string)n!).Contains("spilled to disk", StringComparison.Ordinal));
            Assert.Empty(Directory.GetFileSystemEntries(dir));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("--memory", "lots", "--memory: expected a size such as 512MiB")]
    [InlineData("--memory", "0", "--memory: expected a size")]
    [InlineData("--memory", "12XB", "--memory: expected a size")]
    [InlineData("--spill-dir", "/dev/null/spill", "--spill-dir /dev/null/spill:")]
    public void Should_ExitOneWithAClearMessage_When_MemoryOrSpillDirIsBad(string option, string value, string message)
    {
        var (code, _, err) = Check("seed-race-r2", option, value);
        Assert.Equal(1, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
    }
}
