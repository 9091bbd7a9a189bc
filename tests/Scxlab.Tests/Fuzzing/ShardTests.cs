using System.Text.Json.Nodes;
using Scxlab.Fuzzing;
using Scxlab.Tests.Cli;

namespace Scxlab.Tests.Fuzzing;

/// <summary>fuzz --shard K/N: the shards never overlap, together run exactly the unsharded run's schedules, and merge gives its report.</summary>
public class ShardTests
{
    [Theory]
    [InlineData(100, 4, 1)]
    [InlineData(100, 4, 2)]
    [InlineData(7, 3, 2)]
    [InlineData(2, 4, 3)]
    public void Should_CoverEveryIndexExactlyOnce_When_ShardsAndWorkersSplitARun(long runs, int shards, int jobs)
    {
        var all = new List<long>();
        for (var s = 0; s < shards; s++)
        {
            var mine = Enumerable.Range(0, jobs).SelectMany(j => Fuzzer.Indices(runs, s, shards, j, jobs)).ToList();
            Assert.Equal(Fuzzer.ShardShare(runs, s, shards), mine.Count);
            Assert.All(mine, i => Assert.Equal(s, i % shards));
            all.AddRange(mine);
        }
        Assert.Equal(Enumerable.Range(0, (int)runs).Select(i => (long)i), all.Order());
    }

    [Fact]
    public void Should_EqualTheUnshardedReport_When_FourShardsAreMerged()
    {
        string[] run = ["fuzz", "churn-8cpu", "--protocol", "qseq-invalidate", "--runs", "40", "--jobs", "1", "--minimize-budget", "1500", "--json"];
        var whole = CliResult.Run(run);
        Assert.Equal(2, whole.ExitCode);
        var dir = Directory.CreateTempSubdirectory("scxlab-shards-").FullName;
        var files = new List<string>();
        for (var k = 1; k <= 4; k++)
        {
            var shard = CliResult.Run([.. run, "--shard", $"{k}/4"]);
            Assert.True(shard.ExitCode is 0 or 2, shard.Stderr);
            var file = Path.Combine(dir, $"shard-{k}.json");
            File.WriteAllText(file, shard.Stdout);
            files.Add(file);
        }
        var merged = CliResult.Run(["merge", .. files]);
        Assert.Equal(2, merged.ExitCode);
        var a = JsonNode.Parse(whole.Stdout)!.AsObject();
        var b = JsonNode.Parse(merged.Stdout)!.AsObject();
        a.Remove("timing");
        b.Remove("timing");
        Assert.Equal(a.ToJsonString(), b.ToJsonString());
    }

    [Fact]
    public void Should_RefuseWithOneLine_When_AShardIsMissing()
    {
        var dir = Directory.CreateTempSubdirectory("scxlab-shards-").FullName;
        var file = Path.Combine(dir, "shard-1.json");
        File.WriteAllText(file, CliResult.Run("fuzz", "seed-race-r2", "--runs", "10", "--jobs", "1", "--json", "--shard", "1/2").Stdout);
        var r = CliResult.Run("merge", file);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("missing shard(s) 2 of 2", r.Stderr);
        Assert.Single(r.StderrLines);
    }

    [Theory]
    [InlineData("0/4")]
    [InlineData("5/4")]
    [InlineData("x")]
    public void Should_ExitOneWithOneLine_When_TheShardIsBad(string spec)
    {
        var r = CliResult.Run("fuzz", "seed-race-r2", "--runs", "10", "--shard", spec);
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.StderrLines);
    }
}
