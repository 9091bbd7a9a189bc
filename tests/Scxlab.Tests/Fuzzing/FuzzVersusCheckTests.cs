using Scxlab.Exploration;
using Scxlab.Fuzzing;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Fuzzing;

/// <summary>
/// fuzz walks a subset of what check enumerates, with the same checker: everything a fuzz walk reports
/// on a small scenario, check (exhaustive) reports too, and fuzz never reaches more states than exist.
/// </summary>
public class FuzzVersusCheckTests
{
    public static TheoryData<string, string?, FuzzStrategy> Cells() => new()
    {
        { "seed-race-r1", null, FuzzStrategy.Random },
        { "seed-race-r2", null, FuzzStrategy.Random },
        { "seed-race-r2", "qseq-invalidate", FuzzStrategy.Random },
        { "seed-race-r2", "qseq-invalidate", FuzzStrategy.Pct },
        { "seed-race-synced", null, FuzzStrategy.Random },
        { "qseq-revert-vs-dequeue", null, FuzzStrategy.Random },
        { "qseq-revert-vs-dequeue", null, FuzzStrategy.Pct },
        { "running-narrow-renice", null, FuzzStrategy.Random },
        { "central-remote", null, FuzzStrategy.Pct },
    };

    [Theory]
    [MemberData(nameof(Cells))]
    public void Should_ReportOnlyWhatCheckReports_When_ASmallBuiltInIsFuzzed(string name, string? protocol, FuzzStrategy strategy)
    {
        var scenario = ScenarioLoader.Resolve(name);
        Protocol? p = protocol == null ? null : ProtocolNames.TryParse(protocol, out var x) ? x : throw new ArgumentException(protocol);
        var config = scenario.ToConfig(protocol: p);
        var check = new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Dfs, Checks = scenario.Checks }).Run();
        Assert.True(check.Complete);
        var fuzz = new Fuzzer(config, new FuzzOptions { Strategy = strategy, Runs = 400, Jobs = 2, Seed = 11, Checks = scenario.Checks }).Run();
        var exhaustive = check.Violations.Select(v => v.Violation.Key).ToHashSet();
        Assert.All(fuzz.Findings, f => Assert.Contains(f.Violation.Key, exhaustive));
        // Linear counting is within a few percent at these sizes; the walks cannot see more states than exist.
        Assert.True(fuzz.DistinctFingerprints <= check.Stats.States * 1.05, $"fuzz saw ≈{fuzz.DistinctFingerprints} states, check found {check.Stats.States}");
        // Every finding's schedule replays to the same finding.
        foreach (var f in fuzz.Findings)
        {
            var run = TraceRunner.Run(config, f.Choices, scenario.Checks);
            Assert.Null(run.Divergence);
            Assert.Equal(f.Violation.Key, run.Outcome?.Key);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Should_FindTheSeedRace_When_PctOfDepthDRunsOnSeedRaceR2(int depth)
    {
        var scenario = ScenarioLoader.Resolve("seed-race-r2");
        var fuzz = new Fuzzer(scenario.ToConfig(), new FuzzOptions { Strategy = FuzzStrategy.Pct, Depth = depth, Runs = 300, Jobs = 1, Seed = 1, Checks = scenario.Checks }).Run();
        Assert.Contains(fuzz.Findings, f => f.Violation.Message == "SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for p[101]");
        Assert.Equal(depth, fuzz.Depth);
        Assert.Equal(Fuzzer.PctLowerBound(fuzz.Actors, fuzz.PctLength, depth), fuzz.PctBound);
    }
}

/// <summary>Findings are one per invariant and location, whichever task or CPU the race happened on.</summary>
public class FuzzDedupTests
{
    [Fact]
    public void Should_MergeFindings_When_OnlyTheTaskOrCpuInTheMessageDiffers()
    {
        var a = new Scxlab.Checks.Violation(Scxlab.Checks.ViolationKind.KernelAssertion, "BUG_ON() ops_dequeue", "p2[103] left DISPATCHING as QUEUED|q1");
        var b = a with { Message = "p5[106] left DISPATCHING as QUEUED|q2" };
        Assert.Equal(FuzzFinding.DedupKey(a, "OpsDequeue"), FuzzFinding.DedupKey(b, "OpsDequeue"));
        Assert.NotEqual(FuzzFinding.DedupKey(a, "OpsDequeue"), FuzzFinding.DedupKey(a, "FinishDispatch"));
        var c = a with { Message = "p2[103] left NONE" };
        Assert.NotEqual(FuzzFinding.DedupKey(a, "OpsDequeue"), FuzzFinding.DedupKey(c, "OpsDequeue"));
    }
}
