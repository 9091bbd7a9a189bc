using System.Text.Json.Nodes;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Exploration;

/// <summary>The manifest pins verdict, distinct-state count and violations of every built-in scenario; every violation's trace replays.</summary>
public class ManifestTests
{
    private static string ManifestPath()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "tests", "Scxlab.Tests", "Exploration", "manifest.json");
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException("tests/Scxlab.Tests/Exploration/manifest.json not found above " + AppContext.BaseDirectory);
    }

    private static List<JsonObject> Entries() =>
        [.. JsonNode.Parse(File.ReadAllText(ManifestPath()))!["scenarios"]!.AsArray().Select(e => e!.AsObject())];

    public static TheoryData<string> Quick() => [.. Entries().Where(e => e["skip"] == null && e["long"] == null).Select(e => (string)e["name"]!)];
    public static TheoryData<string> Long() => [.. Entries().Where(e => e["skip"] == null && e["long"] != null).Select(e => (string)e["name"]!)];

    [Fact]
    public void Should_ListEveryBuiltInScenario_When_TheManifestIsRead()
    {
        var names = Entries().Select(e => (string)e["name"]!).ToHashSet();
        Assert.All(ScenarioLoader.BuiltInNames(), n => Assert.Contains(n, names));
    }

    [Theory]
    [MemberData(nameof(Quick))]
    public void Should_MatchTheManifest_When_AQuickBuiltInIsExplored(string name) => Check(name, Strategy.Dfs);

    /// <summary>Sleep sets prune transitions, not states: the reduced search meets the same pinned numbers.</summary>
    [Theory]
    [MemberData(nameof(Quick))]
    public void Should_MatchTheManifest_When_AQuickBuiltInIsExploredWithReduction(string name) => Check(name, Strategy.Reduced);

    [Theory]
    [Trait("Category", "Long")]
    [MemberData(nameof(Long))]
    public void Should_MatchTheManifest_When_ALargeBuiltInIsExplored(string name) => Check(name, Strategy.Dfs);

    [Theory]
    [Trait("Category", "Long")]
    [MemberData(nameof(Long))]
    public void Should_MatchTheManifest_When_ALargeBuiltInIsExploredWithReduction(string name) => Check(name, Strategy.Reduced);

    private static void Check(string name, Strategy strategy)
    {
        var e = Entries().Single(x => (string)x["name"]! == name);
        var scenario = ScenarioLoader.Resolve(name);
        var config = scenario.ToConfig();
        var result = new Explorer(new Machine(config), new ExploreOptions { Strategy = strategy, Checks = scenario.Checks }).Run();
        Assert.True(result.Complete, result.IncompleteReason);
        Assert.Equal((string)e["verdict"]!, result.Verdict.ToString().ToLowerInvariant());
        Assert.Equal((long)e["states"]!, result.Stats.States);
        Assert.Equal(e["violations"]!.AsArray().Select(v => (string)v!).Order(), result.Violations.Select(v => v.Violation.Key).Order());
        if (scenario.Expect?.Verdict is { } ev) Assert.Equal(ev, result.Verdict.ToString().ToLowerInvariant());
        foreach (var f in result.Violations)
        {
            var run = TraceRunner.Run(config, f.Trace, scenario.Checks);
            Assert.Null(run.Divergence);
            Assert.Equal(f.Violation.Key, run.Outcome?.Key);
        }
    }
}
