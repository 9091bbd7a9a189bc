using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace Scxlab.Tests.Cli;

/// <summary>
/// Every command's real <c>--json</c> output validates against its schema in <c>schemas/</c> (JSON Schema
/// 2020-12, JsonSchema.Net), and carries the schema id and one verdict vocabulary (docs/json.md).
/// </summary>
public class JsonSchemaTests
{
    private static string RepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d != null && !File.Exists(Path.Combine(d.FullName, "Scxlab.slnx"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("repository root (Scxlab.slnx) not found above the test assembly");
    }

    // JsonSchema.Net registers a schema's $id globally, once: load each file once per test run.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<JsonSchema>> Loaded = new();

    private static JsonSchema Schema(string kind) =>
        Loaded.GetOrAdd(kind, k => new Lazy<JsonSchema>(() => JsonSchema.FromFile(Path.Combine(RepoRoot(), "schemas", $"{k}.v1.schema.json")))).Value;

    private static void AssertValid(string kind, JsonNode output)
    {
        var result = Schema(kind).Evaluate(Element(output), new EvaluationOptions { OutputFormat = OutputFormat.List });
        var errors = (result.Details ?? []).Where(d => d.Errors != null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"));
        Assert.True(result.IsValid, $"{kind} output does not match schemas/{kind}.v1.schema.json:\n" + string.Join("\n", errors));
        Assert.Equal($"scxlab/{kind}/v1", (string?)output["schema"]);
    }

    private static JsonElement Element(JsonNode n) => JsonDocument.Parse(n.ToJsonString()).RootElement.Clone();

    public static TheoryData<string, string[]> Outputs() => new()
    {
        { "check", ["check", "seed-race-r2", "--json"] },                      // violation
        { "check", ["check", "seed-race-synced", "--json"] },                  // holds
        { "check", ["check", "seed-race-r2", "--json", "--max-steps", "5"] },   // incomplete
        { "compare", ["compare", "seed-race-r2", "--protocols", "upstream,qseq-invalidate", "--json"] },
        { "compare", ["compare", "seed-race-r2", "--protocols", "upstream", "--kernels", "7.1,7.3", "--json"] },
        { "simulate", ["simulate", "mixed", "--cpus", "2", "--duration", "20ms", "--json"] },
        { "simulate", ["simulate", "mixed", "--cpus", "2", "--duration", "20ms", "--protocols", "upstream,qseq-invalidate", "--json"] },
        // --out: one run saves its exit (reproduction object), the other has none (null)
        { "simulate", ["simulate", "affinity-churn", "--policy", "local-on-peek", "--cpus", "4", "--tasks", "4", "--duration", "60ms", "--protocols", "upstream,fallback-dsq", "--minimize-budget", "300", "--out", Path.Combine(Path.GetTempPath(), "scxlab-schema-simulate-out"), "--json"] },
        { "fuzz", ["fuzz", "seed-race-r2", "--runs", "40", "--json"] },
        { "fuzz", ["fuzz", "seed-race-synced", "--runs", "20", "--json"] },     // none-found
        { "fuzz", ["fuzz", "seed-race-r2", "--runs", "40", "--shard", "1/2", "--json"] },
    };

    [Theory]
    [MemberData(nameof(Outputs))]
    public void Should_MatchItsSchema_When_ACommandPrintsJson(string kind, string[] args)
    {
        var r = CliResult.Run(args);
        Assert.True(r.ExitCode is 0 or 2 or 4, $"exit {r.ExitCode}: {r.Stderr}");
        AssertValid(kind, JsonNode.Parse(r.Stdout)!);
    }

    [Fact]
    public void Should_MatchItsSchema_When_ARunMeetsAModelLimit()
    {
        // programs/not_modelled.bpf.c, mode 3: every dispatch reaches something the model does not cover.
        var obj = Scxlab.Tests.BpfObject.BpfExamples.CompileProgram("not_modelled.bpf.c", "v3");
        foreach (var (kind, args) in new (string, string[])[]
        {
            ("check", ["check", "seed-race-r1", "--policy", obj, "--rodata", "mode=3", "--json"]),
            ("fuzz", ["fuzz", "seed-race-r1", "--policy", obj, "--rodata", "mode=3", "--runs", "5", "--json"]),
            ("simulate", ["simulate", "mixed", "--policy", obj, "--rodata", "mode=3", "--cpus", "2", "--duration", "20ms", "--json"]),
        })
        {
            var r = CliResult.Run(args);
            Assert.True(r.ExitCode == 4, $"{kind}: exit {r.ExitCode}: {r.Stderr}");
            var o = JsonNode.Parse(r.Stdout)!;
            AssertValid(kind, o);
            Assert.Equal("incomplete", (string?)o["verdict"]);
        }
    }

    [Theory]
    [InlineData("fuzz", new[] { "fuzz", "seed-race-r2", "--runs", "40" })]
    [InlineData("check", new[] { "check", "running-narrow-renice" })]
    [InlineData("check", new[] { "check", "central-remote" })]
    [InlineData("simulate", new[] { "simulate", "mixed", "--cpus", "2", "--duration", "10ms", "--seeds", "1..3" })]
    public void Should_MatchItsSchema_When_MergeCombinesShards(string kind, string[] run)
    {
        var dir = Directory.CreateTempSubdirectory("scxlab-merge-schema-").FullName;
        try
        {
            var files = new List<string>();
            for (var k = 1; k <= 2; k++)
            {
                var r = CliResult.Run([.. run, "--shard", $"{k}/2", "--json"]);
                var shard = JsonNode.Parse(r.Stdout)!;
                AssertValid(kind, shard);
                var f = Path.Combine(dir, $"shard-{k}.json");
                File.WriteAllText(f, r.Stdout);
                files.Add(f);
            }
            var merged = CliResult.Run(["merge", .. files]);
            Assert.True(merged.ExitCode is 0 or 2, merged.Stderr);
            AssertValid(kind, JsonNode.Parse(merged.Stdout)!);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_RejectAnOutputThatLeavesTheVocabulary_When_ValidatedAgainstTheSchema()
    {
        // The schemas are not vacuous: a verdict outside the vocabulary, or a missing schema id, fails.
        var o = JsonNode.Parse(CliResult.Run("check", "seed-race-synced", "--json").Stdout)!.AsObject();
        o["verdict"] = "ok";
        Assert.False(Schema("check").Evaluate(Element(o)).IsValid);
        o["verdict"] = "holds";
        o.Remove("schema");
        Assert.False(Schema("check").Evaluate(Element(o)).IsValid);
    }

    [Fact]
    public void Should_SayNoneFoundNotHolds_When_ASamplingCommandSeesNothing()
    {
        Assert.Equal("none-found", (string?)JsonNode.Parse(CliResult.Run("simulate", "cpu-bound", "--cpus", "2", "--duration", "10ms", "--json").Stdout)!["verdict"]);
        Assert.Equal("none-found", (string?)JsonNode.Parse(CliResult.Run("fuzz", "seed-race-synced", "--runs", "10", "--json").Stdout)!["verdict"]);
        Assert.Equal("holds", (string?)JsonNode.Parse(CliResult.Run("check", "seed-race-synced", "--json").Stdout)!["verdict"]);
    }
}
