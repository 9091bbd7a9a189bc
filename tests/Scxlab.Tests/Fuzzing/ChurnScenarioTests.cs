using Scxlab.Fuzzing;
using Scxlab.Scenarios;
using Scxlab.Tests.Cli;

namespace Scxlab.Tests.Fuzzing;

/// <summary>The big built-in scenarios: too big for check, fuzzable.</summary>
public class ChurnScenarioTests
{
    [Fact]
    public void Should_SayIncomplete_When_Churn8cpuIsCheckedWithABudget()
    {
        // A step budget rather than --budget 5: the same cut, without a timed test.
        var r = CliResult.Run("check", "churn-8cpu", "--max-steps", "20000");
        Assert.Equal(4, r.ExitCode);
        Assert.Contains("verdict: incomplete", r.Stdout);
    }

    [Theory]
    [InlineData("churn-8cpu", 8, 8)]
    [InlineData("churn-64cpu", 64, 16)]
    [InlineData("churn-256cpu", 256, 16)]
    public void Should_RunEveryScheduleToItsEnd_When_AChurnScenarioIsFuzzed(string name, int cpus, int tasks)
    {
        var s = ScenarioLoader.Resolve(name);
        Assert.Equal(cpus, s.Cpus);
        Assert.Equal(tasks, s.Tasks.Count);
        Assert.Contains("long", s.Tags);
        var r = new Fuzzer(s.ToConfig(), new FuzzOptions { Runs = 6, Jobs = 1, Checks = s.Checks }).Run();
        Assert.Equal(6, r.Runs);
        Assert.Equal(0, r.Truncated);
        Assert.True(r.MaxWalkLength > 50, $"longest walk {r.MaxWalkLength} steps");
    }
}
