using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Scxlab.Reporting;
using Scxlab.Fuzzing;

namespace Scxlab.Cli.Commands;

/// <summary>
/// <c>scxlab merge SHARD.json...</c>: combine the <c>--json</c> reports of <c>scxlab fuzz --shard K/N</c>
/// (K = 1..N, one file each) into the report the unsharded run gives: runs, steps and hits summed, each
/// finding from the lowest schedule index, the distinct-fingerprint sketches merged. Exit codes as fuzz.
/// </summary>
internal static class MergeCommand
{
    /// <summary>Fields every shard of one run must agree on.</summary>
    private static readonly string[] Header = ["scenario", "source", "policy", "protocol", "kernel", "strategy", "seed", "runs_requested", "actors", "pct"];

    public static ScxCommand Create()
    {
        var files = new Argument<string[]>("SHARD.json") { Description = "the shards' fuzz --json reports, one per shard 1..N", Arity = ArgumentArity.OneOrMore };
        var cmd = new ScxCommand("merge", "Combine the JSON reports of fuzz --shard K/N into the report of the unsharded run.")
        {
            Examples =
            [
                "for k in 1 2 3 4; do scxlab fuzz churn-8cpu --shard $k/4 --json > shard-$k.json; done; scxlab merge shard-*.json",
            ],
        };
        cmd.Arguments.Add(files);
        cmd.SetAction(r =>
        {
            var shards = (r.GetValue(files) ?? []).Select(Load).ToList();
            var merged = Merge(shards);
            // Decided before stamping: Stamp moves the nodes into a new object and leaves `merged` empty.
            var verdict = (string?)merged["verdict"];
            r.InvocationConfiguration.Output.WriteLine(JsonContract.Stamp("fuzz", merged).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return verdict switch
            {
                "violation" => ExitCodes.Violation,
                "incomplete" => ExitCodes.Incomplete,
                "none-found" => ExitCodes.Ok,
                var v => throw new System.Diagnostics.UnreachableException($"verdict {v}"),
            };
        });
        return cmd;
    }

    private static (string File, JsonObject Report) Load(string file)
    {
        if (!File.Exists(file)) throw new UsageException($"{file}: no such file");
        try
        {
            if (JsonNode.Parse(File.ReadAllText(file)) is JsonObject o && o["shard"] is JsonObject) return (file, o);
        }
        catch (JsonException e)
        {
            throw new UsageException($"{file}: not valid JSON: {e.Message.Split('.')[0]}");
        }
        throw new UsageException($"{file}: not the --json report of a scxlab fuzz --shard run");
    }

    internal static JsonObject Merge(List<(string File, JsonObject Report)> shards)
    {
        var (firstFile, first) = shards[0];
        foreach (var (file, o) in shards.Skip(1))
            foreach (var h in Header)
                if (!JsonNode.DeepEquals(o[h], first[h])) throw new UsageException($"{file}: '{h}' differs from {firstFile}'s: not shards of one run");
        var count = Int(first["shard"]!["count"], firstFile, "shard.count");
        var seen = new HashSet<long>();
        foreach (var (file, o) in shards)
        {
            if (Int(o["shard"]!["count"], file, "shard.count") != count) throw new UsageException($"{file}: shard count differs from {firstFile}'s");
            var k = Int(o["shard"]!["index"], file, "shard.index");
            if (!seen.Add(k)) throw new UsageException($"{file}: shard {k}/{count} given twice");
        }
        if (seen.Count != count) throw new UsageException($"missing shard(s) {string.Join(", ", Enumerable.Range(1, (int)count).Where(k => !seen.Contains(k)))} of {count}");

        var m = first.DeepClone().AsObject();
        long Sum(string f) => shards.Sum(s => Int(s.Report[f], s.File, f));
        var runs = Sum("runs");
        var requested = Int(first["runs_requested"], firstFile, "runs_requested");
        m["runs"] = runs;
        m["stopped_by_budget"] = runs < requested;
        m["steps"] = Sum("steps");
        m["longest_walk"] = shards.Max(s => Int(s.Report["longest_walk"], s.File, "longest_walk"));
        m["truncated"] = Sum("truncated");
        var sketches = shards.Select(s => s.Report["distinct_sketch"] is JsonValue v && v.TryGetValue<string>(out var b64) ? Convert.FromBase64String(b64) : []);
        m["distinct_fingerprints"] = Fuzzer.MergeDistinct(sketches) ?? throw new UsageException("a shard's distinct_sketch is missing or malformed");
        m["violations"] = Findings(shards, "violations", sumHits: true);
        m["warnings"] = Findings(shards, "warnings", sumHits: false);
        m["model_limits"] = Findings(shards, "model_limits", sumHits: true);
        m["verdict"] = m["violations"]!.AsArray().Count > 0 ? "violation" : runs < requested || m["model_limits"]!.AsArray().Count > 0 ? "incomplete" : "none-found";
        m["shard"] = null;
        m["distinct_sketch"] = null;
        m["timing"] = new JsonObject { ["shards"] = new JsonArray([.. shards.Select(s => s.Report["timing"]?.DeepClone())]) };
        return m;
    }

    /// <summary>Per key, the entry of the lowest first_schedule (its trace and shrunk scenario), hits summed when counted.</summary>
    private static JsonArray Findings(List<(string File, JsonObject Report)> shards, string field, bool sumHits)
    {
        var best = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var hits = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (file, o) in shards)
            foreach (var e in o[field]?.AsArray() ?? [])
            {
                var f = e!.AsObject();
                var key = f["key"] is JsonValue kv && kv.TryGetValue<string>(out var ks) ? ks : throw new UsageException($"{file}: a {field} entry has no key");
                var index = Int(f["first_schedule"], file, $"{field}[].first_schedule");
                if (!best.TryGetValue(key, out var old) || index < Int(old["first_schedule"], file, "first_schedule")) best[key] = f;
                if (sumHits) hits[key] = hits.GetValueOrDefault(key) + Int(f["hits"], file, $"{field}[].hits");
            }
        return new JsonArray([.. best
            .OrderBy(kv => Int(kv.Value["first_schedule"], "", "first_schedule")).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv =>
            {
                var c = kv.Value.DeepClone().AsObject();
                if (sumHits) c["hits"] = hits[kv.Key];
                return (JsonNode?)c;
            })]);
    }

    private static long Int(JsonNode? n, string file, string what) =>
        n is JsonValue v && v.TryGetValue<long>(out var x) ? x : throw new UsageException($"{file}: missing or invalid '{what}'");
}
