using Scxlab.Exploration;
using Scxlab.Fuzzing;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Fuzzing;

/// <summary>Shrunk traces replay and still violate the same invariant; shrunk scenarios survive the file format and check finds the violation in them.</summary>
public class MinimizerTests
{
    private static (Scenario Scenario, ModelConfig Config, FuzzResult Result) Fuzz(string name, string? protocol, long runs)
    {
        var s = ScenarioLoader.Resolve(name);
        Protocol? p = protocol == null ? null : ProtocolNames.TryParse(protocol, out var x) ? x : throw new ArgumentException(protocol);
        var config = s.ToConfig("local-on-peek", p);
        return (s, config, new Fuzzer(config, new FuzzOptions { Runs = runs, Jobs = 1, Seed = 1, Checks = s.Checks }).Run());
    }

    private static void AssertReproduces(MinimizeResult min, string key)
    {
        var run = TraceRunner.Run(min.Config, min.Choices, min.Scenario.Checks);
        Assert.Null(run.Divergence);
        Assert.Equal(key, run.Outcome?.Key);
        // The scenario's text is the file `check` reads: exhaustive search of it finds the same invariant.
        var reread = ScenarioLoader.Parse(min.Scenario.Text, "shrunk.yaml");
        var check = new Explorer(new Machine(reread.ToConfig()), new ExploreOptions { Checks = reread.Checks }).Run();
        Assert.True(check.Complete, check.IncompleteReason);
        Assert.Contains(check.Violations, v => v.Violation.Key == key);
    }

    /// <summary>The acceptance case: the forgotten task of the v1 fix, found among 8 CPUs and shrunk to at most 2.</summary>
    [Fact]
    public void Should_ShrinkTheForgottenTaskToTwoCpus_When_Churn8cpuIsFuzzedUnderQseqInvalidate()
    {
        var (scenario, config, result) = Fuzz("churn-8cpu", "qseq-invalidate", 40);
        var forgotten = result.Findings.First(f => f.Violation.Name == "TaskHasExactlyOneOwner");
        var min = new Minimizer(config, scenario.Checks, 1).Run(scenario, forgotten.Violation, forgotten.Choices);
        Assert.True(min.Config.CpuCount <= 2, $"shrunk to {min.Config.CpuCount} CPUs: {string.Join("; ", min.Log)}");
        Assert.True(min.Choices.Count < forgotten.Choices.Count);
        Assert.Single(min.Config.Tasks);
        AssertReproduces(min, forgotten.Violation.Key);
    }

    [Fact]
    public void Should_GiveTheSameShrunkTraceAndScenario_When_MinimisedTwiceWithTheSameSeed()
    {
        var (scenario, config, result) = Fuzz("churn-8cpu", null, 30);
        var f = result.Findings[0];
        var a = new Minimizer(config, scenario.Checks, 5, maxReplays: 3000).Run(scenario, f.Violation, f.Choices);
        var b = new Minimizer(config, scenario.Checks, 5, maxReplays: 3000).Run(scenario, f.Violation, f.Choices);
        Assert.Equal(a.Scenario.Text, b.Scenario.Text);
        Assert.Equal(a.Choices, b.Choices);
        AssertReproduces(a, f.Violation.Key);
    }

    [Fact]
    public void Should_KeepTheExactExitMessage_When_AnExitIsShrunk()
    {
        var (scenario, config, result) = Fuzz("seed-race-r2", null, 100);
        var f = Assert.Single(result.Findings);
        var min = new Minimizer(config, scenario.Checks, 1).Run(scenario, f.Violation, f.Choices);
        Assert.Equal(f.Violation, min.Violation);
        Assert.True(min.Choices.Count <= f.Choices.Count);
        AssertReproduces(min, f.Violation.Key);
    }
}
