using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// <see cref="ExploreOptions.AutoJobs"/> (check without --jobs): a search that outgrows its one-thread trial runs again
/// on every core, and gives what the one-thread search gives (states, verdict, findings, shortest traces).
/// </summary>
public class AutoJobsTests
{
    private static ExploreResult Run(string scenario, int jobs, long autoAfter = 1_000_000, Strategy strategy = Strategy.Reduced)
    {
        var s = ScenarioLoader.Resolve(scenario);
        return new Explorer(new Machine(s.ToConfig()), new ExploreOptions
        {
            Checks = s.Checks,
            Strategy = strategy,
            Jobs = jobs,
            AutoJobsAfter = autoAfter,
            AutoJobsCores = 2,
        }).Run();
    }

    private static IEnumerable<(string, int)> Findings(ExploreResult r) => r.Violations.Select(v => (v.Violation.Key, v.Trace.Count));

    [Theory]
    [InlineData("seed-race-synced", Strategy.Reduced)]
    [InlineData("seed-race-r2", Strategy.Reduced)]
    [InlineData("seed-race-r2", Strategy.Dfs)]
    [InlineData("qseq-revert-vs-dequeue", Strategy.Reduced)]
    public void Should_FindWhatOneThreadFinds_When_TheSearchOutgrowsItsTrial(string scenario, Strategy strategy)
    {
        var one = Run(scenario, 1, strategy: strategy);
        var auto = Run(scenario, ExploreOptions.AutoJobs, autoAfter: 20, strategy: strategy);
        Assert.Contains(auto.Notes, n => n.Contains("ran again with 2 workers", StringComparison.Ordinal));
        Assert.True(auto.Complete);
        Assert.Equal(one.Verdict, auto.Verdict);
        Assert.Equal(one.Stats.States, auto.Stats.States);
        Assert.Equal(Findings(one).Order(), Findings(auto).Order());
    }

    [Theory]
    [InlineData("seed-race-synced")]
    [InlineData("seed-race-r2")]
    public void Should_BeTheOneThreadSearch_When_TheTrialFinishes(string scenario)
    {
        // Under the threshold the trial is the search: the same transitions too, and shortest traces added after it.
        var one = Run(scenario, 1);
        var auto = Run(scenario, ExploreOptions.AutoJobs);
        Assert.DoesNotContain(auto.Notes, n => n.Contains("ran again", StringComparison.Ordinal));
        Assert.Equal(one.Stats.States, auto.Stats.States);
        Assert.Equal(one.Stats.Transitions, auto.Stats.Transitions);
        Assert.Equal(Findings(one), Findings(auto));
    }
}
