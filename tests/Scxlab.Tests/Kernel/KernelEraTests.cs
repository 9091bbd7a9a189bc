using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Kernel;

/// <summary>Kernel eras (docs/eras.md): the scenario key, and the 7.2 placement of dispatch_to_local_dsq()'s check.</summary>
public class KernelEraTests
{
    private const string Yaml = "name: e\ncpus: 2\nkernel: {0}\npolicy: local-on-pop\ntasks:\n  - name: p\n    allowed: [0, 1]\n    cpu: 1\n    state: queued\nrounds:\n  - cpu: 0\n    count: 1\n";

    [Fact]
    public void Should_ReadTheEra_When_TheScenarioNamesOne()
    {
        var s = ScenarioLoader.Parse(string.Format(System.Globalization.CultureInfo.InvariantCulture, Yaml, "\"7.2\""), "e.yaml");
        Assert.Equal(KernelEra.V7_2, s.Kernel);
        Assert.Equal(KernelEra.V7_2, s.ToConfig().Kernel);
        Assert.Equal(KernelEra.V7_3, s.ToConfig(kernel: KernelEra.V7_3).Kernel);
    }

    [Fact]
    public void Should_ReportFileLineColumn_When_TheEraIsUnknown()
    {
        var e = Assert.Throws<ScenarioException>(() => ScenarioLoader.Parse(string.Format(System.Globalization.CultureInfo.InvariantCulture, Yaml, "\"6.9\""), "e.yaml"));
        Assert.Equal("e.yaml:3:9: unknown kernel '6.9' (expected 7.1 | 7.2 | 7.3)", e.Message);
    }

    /// <summary>
    /// Given the seed races, when explored under 7.1 and 7.2, then the verdicts and findings agree (the
    /// stale LOCAL_ON still ends the scheduler: in 7.2 the check runs under the task's rq lock after
    /// DISPATCHING is released) while the explored state spaces differ (the point of variation is live).
    /// </summary>
    [Theory]
    [InlineData("seed-race-r1")]
    [InlineData("seed-race-r2")]
    [InlineData("central-remote")]
    public void Should_KeepTheVerdictButChangeTheInterleavings_When_TheCheckMovesUnderTheTaskRqLock(string name)
    {
        var scenario = ScenarioLoader.Resolve(name);
        ExploreResult Run(KernelEra era) => new Explorer(new Machine(scenario.ToConfig(kernel: era)), new ExploreOptions { ShortestTraces = false }).Run();
        var v71 = Run(KernelEra.V7_1);
        var v72 = Run(KernelEra.V7_2);
        Assert.Equal(v71.Verdict, v72.Verdict);
        Assert.Equal(v71.Violations.Select(v => v.Violation.Key).Order(), v72.Violations.Select(v => v.Violation.Key).Order());
        Assert.NotEqual(v71.Stats.States, v72.Stats.States);
    }

    /// <summary>
    /// 7de9a6fb, made observable by the fallback-dsq (v2) drain: CPU0 parks p on CPU1's fallback DSQ and
    /// drops the DSQ lock before its final ops_state store; CPU1's drain re-enqueues p in that window.
    /// 7.1 and 7.2 reach do_enqueue_task()'s WARN (p still DISPATCHING); 7.3 waits DISPATCHING out and holds.
    /// </summary>
    [Theory]
    [InlineData(KernelEra.V7_1, true)]
    [InlineData(KernelEra.V7_2, true)]
    [InlineData(KernelEra.V7_3, false)]
    public void Should_ReenqueueADispatchingTaskOnlyBefore7_3_When_TheFallbackDrainRacesTheRelease(KernelEra era, bool warns)
    {
        var scenario = ScenarioLoader.Resolve("fallback-drain-vs-release");
        var r = new Explorer(new Machine(scenario.ToConfig(kernel: era)), new ExploreOptions { ShortestTraces = false }).Run();
        Assert.True(r.Complete);
        var messages = r.Violations.Select(v => v.Violation.Message).ToList();
        Assert.Equal(warns, messages.Any(m => m.Contains("in state DISPATCHING", StringComparison.Ordinal)));
        Assert.Equal(warns ? Verdict.Violation : Verdict.Holds, r.Verdict);
    }
}
