using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;
using Xunit;

namespace MyPolicy.Tests;

/// <summary>Explores the policy on scxlab's built-in scenarios: every interleaving, as `scxlab check` does.</summary>
public class ExploreTests
{
    /// <summary>The same form as `scxlab check SCENARIO --policy path/MyPolicy.dll:MyPolicy.FifoPolicy`.</summary>
    private static readonly string Spec = $"{typeof(FifoPolicy).Assembly.Location}:{typeof(FifoPolicy).FullName}";

    [Theory]
    [InlineData("seed-race-r1")]   // the affinity change lands between the mask test and the LOCAL_ON insert
    [InlineData("seed-race-r2")]   // the seed email's peek-test-remove window
    [InlineData("central-remote")] // one CPU dispatches for the others
    public void Should_Hold_When_ABuiltInRaceScenarioIsExploredExhaustively(string name)
    {
        var scenario = ScenarioLoader.Resolve(name);
        var config = scenario.ToConfig(policy: Spec);

        var result = new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Dfs, Checks = scenario.Checks }).Run();

        Assert.True(result.Complete, result.IncompleteReason);
        Assert.True(result.Verdict == Verdict.Holds,
            $"{name}: {result.Verdict}: " + string.Join("; ", result.Violations.Select(v => v.Violation.Key)));
    }
}
