using Scxlab.Fuzzing;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Fuzzing;

/// <summary>A schedule is a function of (seed, index): not of the worker, its history, or the worker count.</summary>
public class FuzzDeterminismTests
{
    private static ModelConfig Config(string name, string? protocol = null)
    {
        var s = ScenarioLoader.Resolve(name);
        Protocol? p = protocol == null ? null : ProtocolNames.TryParse(protocol, out var x) ? x : throw new ArgumentException(protocol);
        return s.ToConfig(protocol: p);
    }

    [Theory]
    [InlineData(FuzzStrategy.Random)]
    [InlineData(FuzzStrategy.Pct)]
    public void Should_WalkTheSameScheduleAndStates_When_AWalkerIsFreshOrHasRunOtherSchedules(FuzzStrategy strategy)
    {
        var config = Config("churn-8cpu", "qseq-invalidate");
        var reused = new Walker(config, []);
        var choices = new List<int>();
        for (var i = 0; i < 12; i++)
        {
            var seenReused = new DistinctCounter();
            var endReused = reused.Walk(strategy, 7, i, 3, 300, 100_000, choices, seenReused, null);
            var first = choices.ToList();
            var fresh = new Walker(config, []);
            var seenFresh = new DistinctCounter();
            var endFresh = fresh.Walk(strategy, 7, i, 3, 300, 100_000, choices, seenFresh, null);
            Assert.Equal(first, choices);
            Assert.Equal(endFresh.Violation?.Key, endReused.Violation?.Key);
            Assert.Equal(seenFresh.Estimate(), seenReused.Estimate());
        }
    }
}

/// <summary>The whole report of a run of R schedules is the same for every worker count.</summary>
public class FuzzJobsTests
{
    private static FuzzResult Fuzz(FuzzStrategy strategy, int jobs, ulong seed = 3)
    {
        var s = ScenarioLoader.Resolve("churn-8cpu");
        ProtocolNames.TryParse("qseq-invalidate", out var p);
        return new Fuzzer(s.ToConfig(protocol: p), new FuzzOptions { Strategy = strategy, Runs = 60, Jobs = jobs, Seed = seed, Checks = s.Checks }).Run();
    }

    private static string Summary(FuzzResult r) => string.Join("\n",
        [$"runs {r.Runs} steps {r.Steps} truncated {r.Truncated} longest {r.MaxWalkLength} distinct {r.DistinctFingerprints} k {r.PctLength} bound {r.PctBound}",
         .. r.Findings.Select(f => $"{f.Key} #{f.FirstIndex} hits {f.Hits} [{string.Join(",", f.Choices)}] {f.Violation.Message}"),
         .. r.Warnings.Select(f => $"warning {f.Key} #{f.FirstIndex} [{string.Join(",", f.Choices)}]")]);

    [Theory]
    [InlineData(FuzzStrategy.Random)]
    [InlineData(FuzzStrategy.Pct)]
    public void Should_ReportTheSameSchedulesFindingsAndCounts_When_RunWithOneOrTwoJobs(FuzzStrategy strategy)
    {
        var one = Fuzz(strategy, 1);
        var two = Fuzz(strategy, 2);
        Assert.Equal(Summary(one), Summary(two));
        Assert.Equal(60, one.Runs);
        Assert.True(one.Steps > 0);
    }

    [Fact]
    public void Should_RunDifferentSchedules_When_TheSeedDiffers()
    {
        Assert.NotEqual(Summary(Fuzz(FuzzStrategy.Random, 1, seed: 3)), Summary(Fuzz(FuzzStrategy.Random, 1, seed: 4)));
    }
}
