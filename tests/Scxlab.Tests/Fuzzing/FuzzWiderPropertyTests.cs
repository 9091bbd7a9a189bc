using CsCheck;
using Scxlab.Exploration;
using Scxlab.Fuzzing;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Scenarios;
using Scxlab.Tests.Exploration;

namespace Scxlab.Tests.Fuzzing;

/// <summary>
/// The fuzz pipeline against exhaustive search on <see cref="WiderPropertyTests"/>' random scenarios (three CPUs, up to
/// three tasks and three scripted events, every built-in policy): every finding of a fuzz run is one check reports; its
/// schedule replays to it; and its shrunk scenario and schedule (the minimiser as `scxlab fuzz` runs it, matching an
/// exit up to names and numbers) replay to the shrunk finding, which is the run's finding up to names and numbers and
/// one that check of the shrunk scenario reports too.
/// </summary>
/// <remarks>
/// Bounded for CI (<see cref="Iterations"/>: about three in four fit the budget and one in six of those has a finding, so
/// 100 leave a dozen to shrink); <c>SCXLAB_FUZZ_WIDE_ITER=N</c> runs N scenarios, for a longer hunt.
/// </remarks>
[Trait("Category", "Long")]
public sealed class FuzzWiderPropertyTests
{
    private static int Iterations => WiderPropertyTests.HuntIterations("SCXLAB_FUZZ_WIDE_ITER", 100);

    private const long Budget = 150_000;

    private static readonly Gen<WiderPropertyTests.Wide> GenWide = WiderPropertyTests.Scenarios(Gen.Int[0, PolicyRegistry.BuiltIn.Count - 1]);

    /// <summary>The wider scenario as the minimiser takes it (a scenario file's content).</summary>
    private static Scenario AsScenario(WiderPropertyTests.Wide w)
    {
        var cfg = w.Config();
        return new Scenario
        {
            Name = "wide",
            Source = "wide.yaml",
            Text = "",
            Cpus = cfg.CpuCount,
            Protocol = cfg.Protocol,
            Policy = cfg.PolicyName,
            Tasks = cfg.Tasks,
            Rounds = cfg.Rounds,
            Actors = cfg.Scripts,
        };
    }

    [Fact]
    public void Should_ReportOnlyWhatCheckReportsAndShrinkToItsOwnFinding_When_AWiderScenarioIsFuzzed()
    {
        int fuzzed = 0, shrunk = 0;
        GenWide.Sample(w =>
        {
            var scenario = AsScenario(w);
            var config = scenario.ToConfig();
            var check = new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Reduced, ShortestTraces = false, MaxTransitions = Budget }).Run();
            if (!check.Complete) return;
            fuzzed++;
            var exhaustive = check.Violations.Select(v => v.Violation.Key).ToHashSet();
            var fuzz = new Fuzzer(config, new FuzzOptions { Runs = 150, Jobs = 1, Seed = 3 }).Run();
            foreach (var f in fuzz.Findings)
            {
                Assert.Contains(f.Violation.Key, exhaustive);
                var run = TraceRunner.Run(config, f.Choices, []);
                Assert.Null(run.Divergence);
                Assert.Equal(f.Violation.Key, run.Outcome?.Key);
                if (f.Choices.Count == 0) continue;
                var min = new Minimizer(config, [], 3, maxReplays: 1500) { MatchMasked = true }.Run(scenario, f.Violation, f.Choices);
                shrunk++;
                // The same finding as the report counts findings (one location for both: the shrunk one may differ in path).
                Assert.Equal(FuzzFinding.DedupKey(f.Violation, ""), FuzzFinding.DedupKey(min.Violation, ""));
                var replay = TraceRunner.Run(min.Config, min.Choices, []);
                Assert.Null(replay.Divergence);
                Assert.Equal(min.Violation.Key, replay.Outcome?.Key);
                var recheck = new Explorer(new Machine(min.Config), new ExploreOptions { Strategy = Strategy.Reduced, ShortestTraces = false, MaxTransitions = Budget }).Run();
                if (recheck.Complete) Assert.Contains(recheck.Violations, v => v.Violation.Key == min.Violation.Key);
            }
        }, iter: Iterations, threads: 1, print: s => s.ToString());
        Assert.True(fuzzed >= Iterations / 2, $"only {fuzzed} of {Iterations} scenarios fit the budget");
        Assert.True(shrunk > 0, $"no finding to shrink in {fuzzed} scenarios");
    }
}
