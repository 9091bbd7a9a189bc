using System.Text.Json.Nodes;

namespace Scxlab.Tests.Cli;

/// <summary><c>check --shard</c>, <c>simulate --seeds A..B --shard K/N</c>, <c>merge</c> of their reports, and <c>--html</c> on check and simulate, through the CLI.</summary>
public sealed class ShardAndHtmlCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("scxlab-shard-html-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static JsonObject Json(CliResult r) => JsonNode.Parse(r.Stdout)!.AsObject();

    private static IEnumerable<string> Keys(JsonObject o) =>
        o["violations"]!.AsArray().Select(v => (string)v!["kind"]! + ":" + (string)v!["message"]!);

    [Fact]
    public void Should_FindTheUnshardedViolations_When_TheShardsOfACheckAreTakenTogether()
    {
        var whole = Json(CliResult.Run("check", "central-remote", "--json"));
        var shards = Enumerable.Range(1, 3).Select(k => Json(CliResult.Run("check", "central-remote", "--shard", $"{k}/3", "--json"))).ToList();
        Assert.All(shards, s => Assert.Equal(3, (int)s["shard"]!["count"]!));
        Assert.Equal((long)shards[0]["shard"]!["frontier_states"]!, shards.Sum(s => (long)s["shard"]!["own_states"]!));
        Assert.Equal(Keys(whole).Order(StringComparer.Ordinal), shards.SelectMany(Keys).Distinct().Order(StringComparer.Ordinal));
        Assert.Equal((string)whole["verdict"]!, shards.Any(s => (string)s["verdict"]! == "violation") ? "violation" : "holds");
    }

    [Fact]
    public void Should_RunEachSeedOnce_When_TheShardsOfASeedRangeAreTakenTogether()
    {
        List<long> SeedsOf(params string[] extra) =>
            [.. Json(CliResult.Run(["simulate", "cpu-bound", "--cpus", "2", "--duration", "5ms", "--seeds", "3..9", "--json", .. extra]))["runs"]!.AsArray().Select(r => (long)r!["seed"]!)];
        var whole = SeedsOf();
        Assert.Equal([3L, 4, 5, 6, 7, 8, 9], whole);
        var shards = Enumerable.Range(1, 3).Select(k => SeedsOf("--shard", $"{k}/3")).ToList();
        Assert.Equal(whole, shards.SelectMany(s => s).Order());
        Assert.Equal(whole.Count, shards.Sum(s => s.Count)); // no seed in two shards
    }

    private string WriteShards(string name, int count, params string[] args)
    {
        for (var k = 1; k <= count; k++)
        {
            var r = CliResult.Run([.. args, "--shard", $"{k}/{count}", "--json"]);
            Assert.True(r.ExitCode is 0 or 2, r.Stderr);
            File.WriteAllText(Path.Combine(_dir, $"{name}-{k}.json"), r.Stdout);
        }
        return Path.Combine(_dir, name);
    }

    private static string[] Files(string prefix, int count) => [.. Enumerable.Range(1, count).Select(k => $"{prefix}-{k}.json")];

    /// <summary>Per finding key, the length of its trace.</summary>
    private static Dictionary<string, int> Shortest(JsonObject o) =>
        o["violations"]!.AsArray().ToDictionary(v => (string)v!["kind"]! + ":" + (string)v!["message"]!, v => v!["trace"]!["steps"]!.AsArray().Count);

    [Theory]
    [InlineData("central-remote", 3, 2)]        // a violation
    [InlineData("running-narrow-renice", 3, 0)] // holds, the frontier split
    [InlineData("seed-race-synced", 2, 0)]      // holds, too small to split: every shard searched everything
    public void Should_GiveTheUnshardedVerdictAndShortestTraces_When_CheckShardsAreMerged(string scenario, int shards, int exit)
    {
        var whole = CliResult.Run("check", scenario, "--json");
        Assert.Equal(exit, whole.ExitCode);
        var prefix = WriteShards("check", shards, "check", scenario);
        var merged = CliResult.Run(["merge", .. Files(prefix, shards).Reverse()]);
        Assert.Equal(exit, merged.ExitCode);
        var a = Json(whole);
        var b = Json(merged);
        Assert.Equal((string)a["verdict"]!, (string)b["verdict"]!);
        // The unsharded check shortens each trace by BFS, as every shard's search is a BFS: the same lengths.
        Assert.Equal(Shortest(a).OrderBy(kv => kv.Key), Shortest(b).OrderBy(kv => kv.Key));
        var states = (long)a["stats"]!["states"]!;
        var union = (long)b["stats"]!["states"]!;
        var split = (long)JsonNode.Parse(File.ReadAllText(prefix + "-1.json"))!["shard"]!["depth"]! > 0;
        Assert.Equal(split, (bool)b["stats"]!["states_estimated"]!);
        if (split) Assert.InRange(union, states * 0.97, states * 1.03); // a HyperLogLog estimate (±1 % standard error)
        else Assert.Equal(states, union);
        Assert.Equal(shards, b["shards"]!.AsArray().Count);
        Assert.Null(b["shard"]);
    }

    [Fact]
    public void Should_KeepTheShortestTraceOfAnyShard_When_CheckShardsFoundTheSameViolation()
    {
        var prefix = WriteShards("short", 2, "check", "central-remote");
        // Shard 1's trace made longer than shard 2's (as when only another shard's cone holds the shortest path).
        var first = JsonNode.Parse(File.ReadAllText(prefix + "-1.json"))!.AsObject();
        var steps = first["violations"]![0]!["trace"]!["steps"]!.AsArray();
        var length = steps.Count;
        steps.Add("CPU0");
        File.WriteAllText(prefix + "-1.json", first.ToJsonString());
        var merged = Json(CliResult.Run(["merge", .. Files(prefix, 2)]));
        Assert.Equal(length, merged["violations"]![0]!["trace"]!["steps"]!.AsArray().Count);
        Assert.Single(merged["violations"]!.AsArray());
    }

    [Fact]
    public void Should_EqualTheUnshardedReport_When_SimulateShardsAreMerged()
    {
        string[] run = ["simulate", "affinity-churn", "--policy", "local-on-peek", "--cpus", "4", "--tasks", "4", "--duration", "30ms", "--protocols", "upstream,fallback-dsq", "--seeds", "1..5"];
        var whole = CliResult.Run([.. run, "--json"]);
        Assert.Equal(0, whole.ExitCode);
        var prefix = WriteShards("sim", 3, run);
        var merged = CliResult.Run(["merge", .. Files(prefix, 3).Reverse()]);
        Assert.Equal(0, merged.ExitCode);
        var a = Json(whole);
        var b = Json(merged);
        Assert.Equal("violation", (string)a["verdict"]!); // local-on-peek forgets a task here: the findings are merged too
        foreach (var o in new[] { a, b })
        {
            // Wall-clock figures are the only difference.
            o["stats"]!.AsObject().Remove("seconds");
            foreach (var r in o["runs"]!.AsArray())
            {
                r!.AsObject().Remove("wall_seconds");
                r.AsObject().Remove("events_per_second");
            }
        }
        Assert.Equal(a.ToJsonString(), b.ToJsonString());
        Assert.Equal(2, CliResult.Run(["merge", "--fail-on-violation", .. Files(prefix, 3)]).ExitCode);
    }

    [Fact]
    public void Should_RefuseWithOneLine_When_TheReportsAreNotTheShardsOfOneRun()
    {
        var check = WriteShards("c", 2, "check", "seed-race-synced");
        var other = WriteShards("o", 2, "check", "seed-race-r2");
        var sim = WriteShards("s", 2, "simulate", "cpu-bound", "--cpus", "2", "--duration", "5ms", "--seeds", "1..4");
        var longer = WriteShards("l", 2, "simulate", "cpu-bound", "--cpus", "2", "--duration", "6ms", "--seeds", "1..4");
        // A shard index outside 1..N: with shard 1 it makes two files for two shards, yet shard 2 is missing.
        var stray = JsonNode.Parse(File.ReadAllText(sim + "-2.json"))!.AsObject();
        stray["shard"]!["index"] = 3;
        File.WriteAllText(sim + "-3.json", stray.ToJsonString());
        // A hand-edited report: stats is not an object.
        var edited = JsonNode.Parse(File.ReadAllText(check + "-2.json"))!.AsObject();
        edited["stats"] = "x";
        File.WriteAllText(check + "-3.json", edited.ToJsonString());
        var whole = Path.Combine(_dir, "whole.json");
        File.WriteAllText(whole, CliResult.Run("check", "seed-race-synced", "--json").Stdout);
        foreach (var (files, want) in new (string[], string)[]
        {
            ([check + "-1.json", other + "-2.json"], "'scenario' differs"),
            ([check + "-1.json", sim + "-2.json"], "a simulate report, but"),
            ([sim + "-1.json", longer + "-2.json"], "'settings' differs"),
            ([sim + "-1.json"], "missing shard(s) 2 of 2"),
            ([sim + "-1.json", sim + "-3.json"], "shard 3/2 is not one of 1..2"),
            ([check + "-1.json", check + "-3.json"], "has a field of the wrong type"),
            ([check + "-1.json", check + "-1.json"], "given twice"),
            ([whole], "not a shard"),
        })
        {
            var r = CliResult.Run(["merge", .. files]);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains(want, r.Stderr);
            Assert.Single(r.StderrLines);
        }
    }

    [Fact]
    public void Should_WriteOneSelfContainedPage_When_CheckAndSimulateAreGivenHtml()
    {
        var check = Path.Combine(_dir, "check.html");
        Assert.Equal(2, CliResult.Run("check", "seed-race-r2", "--html", check).ExitCode);
        var html = File.ReadAllText(check);
        Assert.Contains("<section id=\"finding-1\"", html);
        Assert.Contains("not allowed for p[101]", html);

        var sim = Path.Combine(_dir, "sim.html");
        Assert.Equal(0, CliResult.Run("simulate", "cpu-bound", "--cpus", "2", "--duration", "10ms", "--html", sim).ExitCode);
        Assert.Contains("<table class=\"metrics\">", File.ReadAllText(sim));
        Assert.Equal(new[] { "check.html", "sim.html" }, Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("simulate", "cpu-bound", "--seeds", "9..3")]
    [InlineData("simulate", "cpu-bound", "--shard", "1/2")]
    [InlineData("simulate", "cpu-bound", "--seeds", "1..3", "--shard", "4/3")]
    [InlineData("check", "seed-race-r2", "--shard", "0/3")]
    [InlineData("check", "seed-race-r2", "--html", "/nonexistent-dir/x.html")]
    public void Should_ExitOneWithOneLine_When_ShardOrHtmlIsBad(params string[] args)
    {
        var r = CliResult.Run(args);
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.StderrLines);
    }
}

/// <summary>Progress lines are for a terminal: a redirected stderr (a file, a pipe, CI) gets no carriage returns.</summary>
public class ProgressOutputTests
{
    [Fact]
    public void Should_WriteNoCarriageReturn_When_StderrIsNotATerminal()
    {
        // A search long enough to report progress (after one second), cut by its budget.
        var r = CliResult.Run("check", "qseq-aba-3cpu", "--strategy", "dfs", "--budget", "1.6s");
        Assert.True(r.ExitCode is 2 or 4, r.Stderr);
        Assert.DoesNotContain('\r', r.Stderr);
    }
}
