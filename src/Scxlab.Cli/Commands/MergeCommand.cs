using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Scxlab.Reporting;
using Scxlab.Fuzzing;

namespace Scxlab.Cli.Commands;

/// <summary>
/// <c>scxlab merge SHARD.json...</c>: combine the <c>--json</c> reports of the shards of one run (K = 1..N, one file each)
/// into the report of the unsharded run. The kind of run is read from the reports' <c>schema</c>:
/// <list type="bullet">
/// <item><c>fuzz --shard K/N</c>: runs, steps and hits summed, each finding from the lowest schedule index, the
/// distinct-fingerprint sketches merged — field by field the unsharded report.</item>
/// <item><c>check --shard K/N</c>: the verdict of them all, each finding with the shortest trace any shard found (the
/// unsharded search's length), work summed, and the states the shards stored together (their cones overlap below the
/// frontier, so that is the HyperLogLog estimate of the union of their sketches).</item>
/// <item><c>simulate --seeds A..B --shard K/N</c>: the runs in the unsharded order (seed, then protocol), the findings
/// with them — the unsharded report but for wall-clock times.</item>
/// </list>
/// Exit codes as the command that made the shards.
/// </summary>
internal static class MergeCommand
{
    public static ScxCommand Create()
    {
        var files = new Argument<string[]>("SHARD.json") { Description = "the shards' --json reports (fuzz --shard, check --shard or simulate --seeds --shard), one per shard 1..N", Arity = ArgumentArity.OneOrMore };
        var failOn = CliOptions.Flag("--fail-on-violation", "for simulate shards: exit 2 when a run had a scheduler exit or a kernel assertion (as simulate --fail-on-violation; fuzz and check shards exit 2 on a violation anyway)");
        var cmd = new ScxCommand("merge", "Combine the JSON reports of the shards of a fuzz, check or simulate --seeds run into the report of the unsharded run.")
        {
            Examples =
            [
                "for k in 1 2 3 4; do scxlab fuzz churn-8cpu --shard $k/4 --json > shard-$k.json; done; scxlab merge shard-*.json",
                "for k in 1 2 3; do scxlab check scale-3cpu --shard $k/3 --json > check-$k.json; done; scxlab merge check-*.json",
                "for k in 1 2; do scxlab simulate affinity-churn --seeds 1..20 --shard $k/2 --json > sim-$k.json; done; scxlab merge sim-*.json",
            ],
        };
        cmd.Arguments.Add(files);
        cmd.Options.Add(failOn);
        cmd.SetAction(r =>
        {
            var shards = (r.GetValue(files) ?? []).Select(Load).ToList();
            var kind = shards[0].Kind;
            foreach (var s in shards.Skip(1))
                if (s.Kind != kind) throw new UsageException($"{s.File}: a {s.Kind} report, but {shards[0].File} is a {kind} report: not shards of one run");
            JsonObject merged;
            try
            {
                merged = kind switch
                {
                    "fuzz" => MergeFuzz(shards),
                    "check" => MergeCheck(shards),
                    "simulate" => MergeSimulate(shards),
                    _ => throw new System.Diagnostics.UnreachableException(kind),
                };
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                // A field of the wrong JSON type (an object where a number belongs, …): an edited file, not a bug here.
                throw new UsageException($"a {kind} report has a field of the wrong type ({e.Message.TrimEnd('.')}): not a report as scxlab writes it");
            }
            // Decided before stamping (Stamp copies, but the exit code should not depend on that).
            var verdict = (string?)merged["verdict"];
            var complete = merged["complete"] is not JsonValue c || !c.TryGetValue<bool>(out var b) || b;
            r.InvocationConfiguration.Output.WriteLine(JsonContract.Stamp(kind, merged).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            if (kind == "simulate")
                return verdict == JsonContract.Violation && r.GetValue(failOn) ? ExitCodes.Violation : complete ? ExitCodes.Ok : ExitCodes.Incomplete;
            return verdict switch
            {
                "violation" => ExitCodes.Violation,
                "incomplete" => ExitCodes.Incomplete,
                "none-found" or "holds" => ExitCodes.Ok,
                var v => throw new System.Diagnostics.UnreachableException($"verdict {v}"),
            };
        });
        return cmd;
    }

    private sealed record Shard(string File, string Kind, JsonObject Report)
    {
        public long Index => Int(Report["shard"]!["index"], File, "shard.index");
    }

    private static Shard Load(string file)
    {
        if (!File.Exists(file)) throw new UsageException($"{file}: no such file");
        JsonObject? o;
        try
        {
            o = JsonNode.Parse(File.ReadAllText(file)) as JsonObject;
        }
        catch (JsonException e)
        {
            throw new UsageException($"{file}: not valid JSON: {e.Message.Split('.')[0]}");
        }
        var kind = o?["schema"] is JsonValue sv && sv.TryGetValue<string>(out var schema) ? schema switch
        {
            var x when x == JsonContract.SchemaId("fuzz") => "fuzz",
            var x when x == JsonContract.SchemaId("check") => "check",
            var x when x == JsonContract.SchemaId("simulate") => "simulate",
            _ => null,
        } : null;
        if (o == null || kind == null)
            throw new UsageException($"{file}: not the --json report of scxlab fuzz, check or simulate (schema {JsonContract.SchemaId("fuzz")}, …/check/v1 or …/simulate/v1)");
        if (o["shard"] is not JsonObject)
            throw new UsageException(kind == "simulate"
                ? $"{file}: not a shard: the report of a simulate run without --seeds A..B --shard K/N"
                : $"{file}: not a shard: the report of a {kind} run without --shard K/N");
        return new Shard(file, kind, o);
    }

    /// <summary>
    /// The shards, in index order, after checking that they are one run's: the fields in <paramref name="header"/> agree,
    /// so do the shard counts, and every index 1..N is there once.
    /// </summary>
    private static List<Shard> Validated(List<Shard> shards, IReadOnlyList<string> header)
    {
        var first = shards[0];
        foreach (var s in shards.Skip(1))
            foreach (var h in header)
                if (!JsonNode.DeepEquals(Field(s.Report, h), Field(first.Report, h))) throw new UsageException($"{s.File}: '{h}' differs from {first.File}'s: not shards of one run");
        var count = Int(first.Report["shard"]!["count"], first.File, "shard.count");
        var seen = new HashSet<long>();
        foreach (var s in shards)
        {
            if (Int(s.Report["shard"]!["count"], s.File, "shard.count") != count) throw new UsageException($"{s.File}: shard count differs from {first.File}'s");
            if (s.Index < 1 || s.Index > count) throw new UsageException($"{s.File}: shard {s.Index}/{count} is not one of 1..{count}");
            if (!seen.Add(s.Index)) throw new UsageException($"{s.File}: shard {s.Index}/{count} given twice");
        }
        if (seen.Count != count) throw new UsageException($"missing shard(s) {string.Join(", ", Enumerable.Range(1, (int)count).Where(k => !seen.Contains(k)))} of {count}");
        return [.. shards.OrderBy(s => s.Index)];
    }

    /// <summary>A field by dotted path ("shard.depth").</summary>
    private static JsonNode? Field(JsonObject o, string path)
    {
        JsonNode? n = o;
        foreach (var part in path.Split('.')) n = n is JsonObject x ? x[part] : null;
        return n;
    }

    // ---- fuzz

    /// <summary>Fields every shard of one fuzz run must agree on.</summary>
    private static readonly string[] FuzzHeader = ["scxlab_version", "scenario", "source", "policy", "protocol", "kernel", "strategy", "seed", "runs_requested", "actors", "pct"];

    private static JsonObject MergeFuzz(List<Shard> given)
    {
        var shards = Validated(given, FuzzHeader);
        var (firstFile, first) = (shards[0].File, shards[0].Report);
        var m = first.DeepClone().AsObject();
        long Sum(string f) => shards.Sum(s => Int(s.Report[f], s.File, f));
        var runs = Sum("runs");
        var requested = Int(first["runs_requested"], firstFile, "runs_requested");
        m["runs"] = runs;
        m["stopped_by_budget"] = runs < requested;
        m["steps"] = Sum("steps");
        m["longest_walk"] = shards.Max(s => Int(s.Report["longest_walk"], s.File, "longest_walk"));
        m["truncated"] = Sum("truncated");
        m["distinct_fingerprints"] = Fuzzer.MergeDistinct(Sketches(shards)) ?? throw new UsageException("a shard's distinct_sketch is missing or malformed");
        m["violations"] = FuzzFindings(shards, "violations", sumHits: true);
        m["warnings"] = FuzzFindings(shards, "warnings", sumHits: false);
        m["model_limits"] = FuzzFindings(shards, "model_limits", sumHits: true);
        m["verdict"] = m["violations"]!.AsArray().Count > 0 ? "violation" : runs < requested || m["model_limits"]!.AsArray().Count > 0 ? "incomplete" : "none-found";
        m["shard"] = null;
        m["distinct_sketch"] = null;
        m["timing"] = new JsonObject { ["shards"] = new JsonArray([.. shards.Select(s => s.Report["timing"]?.DeepClone())]) };
        return m;
    }

    private static IEnumerable<byte[]> Sketches(List<Shard> shards) =>
        shards.Select(s => s.Report["distinct_sketch"] is JsonValue v && v.TryGetValue<string>(out var b64) ? Convert.FromBase64String(b64) : []);

    /// <summary>Per key, the entry of the lowest first_schedule (its trace and shrunk scenario), hits summed when counted.</summary>
    private static JsonArray FuzzFindings(List<Shard> shards, string field, bool sumHits)
    {
        var best = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var hits = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (file, _, o) in shards)
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

    // ---- check

    /// <summary>Fields every shard of one check run must agree on (the frontier too: it is fixed by the scenario and N).</summary>
    private static readonly string[] CheckHeader = ["scxlab_version", "scenario", "source", "protocol", "policy", "strategy", "exact", "granularity", "kernel", "shard.depth", "shard.frontier_states"];

    private static JsonObject MergeCheck(List<Shard> given)
    {
        var shards = Validated(given, CheckHeader);
        var (firstFile, first) = (shards[0].File, shards[0].Report);
        var frontier = Int(first["shard"]!["frontier_states"], firstFile, "shard.frontier_states");
        var split = Int(first["shard"]!["depth"], firstFile, "shard.depth") > 0;
        var own = shards.Sum(s => Int(s.Report["shard"]!["own_states"], s.File, "shard.own_states"));
        if (split && own != frontier)
            throw new UsageException($"the shards own {own} of the {frontier} frontier states: not the shards of one run");

        var m = first.DeepClone().AsObject();
        var violations = ShortestFindings(shards, "violations");
        var limits = ShortestFindings(shards, "model_limits");
        m["violations"] = violations;
        m["warnings"] = ShortestFindings(shards, "warnings");
        m["model_limits"] = limits;
        var complete = shards.All(s => s.Report["complete"] is JsonValue v && v.TryGetValue<bool>(out var b) && b);
        m["verdict"] = violations.Count > 0 ? "violation" : !complete || limits.Count > 0 ? "incomplete" : "holds";
        m["complete"] = complete;
        var reasons = shards
            .Where(s => s.Report["incomplete_reason"] is JsonValue)
            .Select(s => $"shard {s.Index}/{shards.Count}: {(string?)s.Report["incomplete_reason"]}").ToList();
        m["incomplete_reason"] = reasons.Count == 0 ? null : string.Join("; ", reasons);

        long Sum(string f) => shards.Sum(s => Int(s.Report["stats"]?[f], s.File, $"stats.{f}"));
        double Num(Shard s, string f) => s.Report["stats"]?[f] is JsonValue v && v.TryGetValue<double>(out var x) ? x : throw new UsageException($"{s.File}: missing or invalid 'stats.{f}'");
        // Unsplit (no layer reached the frontier size), every shard searched everything: any shard's count is the union's.
        var states = split
            ? Fuzzer.MergeDistinct(Sketches(shards)) ?? throw new UsageException("a shard's distinct_sketch is missing or malformed (made by an older scxlab?)")
            : Int(first["stats"]?["states"], firstFile, "stats.states");
        m["stats"] = new JsonObject
        {
            ["executions"] = Sum("executions"),
            ["states"] = states,
            ["states_estimated"] = split,
            ["transitions"] = Sum("transitions"),
            ["max_depth"] = shards.Max(s => Int(s.Report["stats"]?["max_depth"], s.File, "stats.max_depth")),
            ["seconds"] = Math.Round(shards.Sum(s => Num(s, "seconds")), 4),
            // Each shard's table could hide a state by a collision; the campaign's chance is at most their sum.
            ["collision_probability"] = Math.Min(1.0, shards.Sum(s => Num(s, "collision_probability"))),
            ["bytes_per_state"] = shards.Max(s => Num(s, "bytes_per_state")),
            ["spilled_states"] = Sum("spilled_states"),
            ["spill_bytes"] = Sum("spill_bytes"),
        };
        m["shard"] = null;
        m["distinct_sketch"] = null;
        m["shards"] = new JsonArray([.. shards.Select(s => (JsonNode?)new JsonObject
        {
            ["index"] = s.Index,
            ["verdict"] = s.Report["verdict"]?.DeepClone(),
            ["own_states"] = s.Report["shard"]!["own_states"]?.DeepClone(),
            ["states"] = s.Report["stats"]?["states"]?.DeepClone(),
            ["transitions"] = s.Report["stats"]?["transitions"]?.DeepClone(),
            ["seconds"] = s.Report["stats"]?["seconds"]?.DeepClone(),
        })]);
        var notes = shards.SelectMany(s => s.Report["notes"]?.AsArray() ?? []).Select(n => (string?)n).Where(n => n != null).Distinct().ToList();
        notes.Add(split
            ? $"merged {shards.Count} shards: states is the HyperLogLog estimate (±1 %) of the union of the states the shards stored (their cones overlap below the frontier); executions, transitions and seconds are summed"
            : $"merged {shards.Count} shards: no layer reached the frontier size, so every shard searched everything; executions, transitions and seconds are summed");
        m["notes"] = new JsonArray([.. notes.Select(n => (JsonNode?)n)]);
        return m;
    }

    /// <summary>
    /// Per finding (an invariant by name; an exit, assertion, warning or model limit by name and message, as
    /// <see cref="Checks.Violation.Key"/>), the entry with the shortest trace any shard found — the lowest shard on a tie.
    /// Each shard's BFS keeps a shortest trace to what it reached, and the shards together reach every state, so the
    /// shortest of them is as short as the unsharded search's.
    /// </summary>
    private static JsonArray ShortestFindings(List<Shard> shards, string field)
    {
        var best = new Dictionary<string, (JsonObject Entry, int Length)>(StringComparer.Ordinal);
        foreach (var s in shards)
            foreach (var e in s.Report[field]?.AsArray() ?? [])
            {
                if (e is not JsonObject f || f["trace"]?["steps"] is not JsonArray steps) throw new UsageException($"{s.File}: a {field} entry has no trace.steps");
                var kind = (string?)f["kind"] ?? throw new UsageException($"{s.File}: a {field} entry has no kind");
                var name = (string?)f["exit"] ?? (string?)f["invariant"] ?? "";
                var key = kind is "invariant" or "liveness" ? $"{kind}|{name}" : $"{kind}|{name}: {(string?)f["message"]}";
                if (!best.TryGetValue(key, out var old) || steps.Count < old.Length) best[key] = (f, steps.Count);
            }
        return new JsonArray([.. best
            .OrderBy(kv => kv.Value.Length).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (JsonNode?)kv.Value.Entry.DeepClone())]);
    }

    // ---- simulate

    /// <summary>Fields every shard of one simulate sweep must agree on: what shapes a run, besides its seed.</summary>
    private static readonly string[] SimulateHeader = ["scxlab_version", "scenario", "policy", "protocol", "seeds", "settings"];

    private static JsonObject MergeSimulate(List<Shard> given)
    {
        var shards = Validated(given, SimulateHeader);
        var (firstFile, first) = (shards[0].File, shards[0].Report);
        if (first["seeds"] is not JsonObject seeds) throw new UsageException($"{firstFile}: no 'seeds' range (made by an older scxlab?)");
        var from = Int(seeds["from"], firstFile, "seeds.from");
        var to = Int(seeds["to"], firstFile, "seeds.to");
        var protocols = ((string?)first["protocol"] ?? "").Split(',').ToList();

        // The unsharded order: seed, then protocol in the order the command line gave them.
        (long Seed, int Protocol) Order(JsonNode? n, string file, string what)
        {
            var seed = Int(n?["seed"], file, $"{what}.seed");
            var p = protocols.IndexOf((string?)n?["protocol"] ?? "");
            return p < 0 ? throw new UsageException($"{file}: a {what} entry's protocol is not one of '{first["protocol"]}'") : (seed, p);
        }
        var runs = shards.SelectMany(s => (s.Report["runs"]?.AsArray() ?? []).Select(r => (Key: Order(r, s.File, "runs[]"), Run: r!))).OrderBy(x => x.Key).ToList();
        for (var i = 1; i < runs.Count; i++)
            if (runs[i].Key == runs[i - 1].Key) throw new UsageException($"seed {runs[i].Key.Seed} under {protocols[runs[i].Key.Protocol]} is in two shards: not shards of one run");
        // A shard stopped early (Ctrl-C) left runs out: the merged report covers less than the range.
        var expected = (to - from + 1) * protocols.Count;
        var violations = shards.SelectMany(s => (s.Report["violations"]?.AsArray() ?? []).Select(v => (Key: Order(v, s.File, "violations[]"), Entry: v!))).OrderBy(x => x.Key).ToList();

        var m = first.DeepClone().AsObject();
        var complete = runs.Count == expected && shards.All(s => s.Report["complete"] is JsonValue v && v.TryGetValue<bool>(out var b) && b);
        m["verdict"] = violations.Count > 0 ? JsonContract.Violation : complete ? JsonContract.NoneFound : JsonContract.Incomplete;
        m["complete"] = complete;
        m["violations"] = new JsonArray([.. violations.Select(v => v.Entry.DeepClone())]);
        m["stats"] = new JsonObject
        {
            ["executions"] = runs.Count,
            ["transitions"] = shards.Sum(s => Int(s.Report["stats"]?["transitions"], s.File, "stats.transitions")),
            ["seconds"] = Math.Round(shards.Sum(s => s.Report["stats"]?["seconds"] is JsonValue v && v.TryGetValue<double>(out var x) ? x : 0), 3),
        };
        m["shard"] = null;
        m["runs"] = new JsonArray([.. runs.Select(r => r.Run.DeepClone())]);
        return m;
    }

    private static long Int(JsonNode? n, string file, string what) =>
        n is JsonValue v && v.TryGetValue<long>(out var x) ? x
        : n is JsonValue d && d.TryGetValue<double>(out var y) && y == Math.Floor(y) ? (long)y
        : throw new UsageException($"{file}: missing or invalid '{what}'");
}
