using System.Text.Json.Nodes;

namespace Scxlab.Tests.Cli;

/// <summary><c>check --shard</c>, <c>simulate --seeds A..B --shard K/N</c>, and <c>--html</c> on check and simulate, through the CLI.</summary>
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
