using System.Text.Json;
using System.Text.Json.Nodes;
using Scxlab.Checks;
using Scxlab.Scenarios;

namespace Scxlab.Exploration;

/// <summary>
/// A saved counterexample: everything needed to replay it bit for bit — the scenario text, every
/// setting that shapes the model (policy, protocol, checks), and the list of actor choices.
/// Format version 1; fields are added, never renamed.
/// </summary>
public sealed class TraceFile
{
    public const string Format = "scxlab-trace";
    public const int CurrentVersion = 1;

    public required string ScenarioName { get; init; }
    public required string ScenarioSource { get; init; }
    public required string ScenarioText { get; init; }
    public required string Policy { get; init; }
    /// <summary>
    /// SHA-256 (hex) of the file the policy came from when the trace was recorded: the assembly of a policy
    /// loaded from one, or the BPF object (<c>X.bpf.o</c>, computed here when not given). Replay refuses another file.
    /// </summary>
    public string? PolicySha256 { get; init; }
    public required string Protocol { get; init; }
    public IReadOnlyList<string> Checks { get; init; } = [];
    public string Strategy { get; init; } = "";
    public bool Exact { get; init; }
    public int? MaxPreemptions { get; init; }
    /// <summary>Step granularity the choices were recorded at ("normal" when the file predates the setting).</summary>
    public string Granularity { get; init; } = "normal";
    /// <summary>Kernel era the choices were recorded under ("7.1" when the file predates the setting).</summary>
    public string Kernel { get; init; } = "7.1";
    public required Violation Violation { get; init; }
    /// <summary>Actor names, by id, as the model numbered them.</summary>
    public required IReadOnlyList<string> Actors { get; init; }
    public required IReadOnlyList<int> Choices { get; init; }
    public JsonObject ToJson()
    {
        var o = Body();
        if (o["policy_sha256"] is null) o.Remove("policy_sha256");
        return o;
    }

    private JsonObject Body() => new()
    {
        ["format"] = Format,
        ["version"] = CurrentVersion,
        ["scenario"] = new JsonObject { ["name"] = ScenarioName, ["source"] = ScenarioSource, ["text"] = ScenarioText },
        ["policy"] = Policy,
        ["policy_sha256"] = PolicySha256 ?? Policies.BpfObjectSpec.Sha256(Policy),
        ["protocol"] = Protocol,
        ["settings"] = new JsonObject
        {
            ["checks"] = new JsonArray([.. Checks.Select(c => (JsonNode?)c)]),
            ["strategy"] = Strategy,
            ["exact"] = Exact,
            ["max_preemptions"] = MaxPreemptions,
            ["granularity"] = Granularity,
            ["kernel"] = Kernel,
        },
        ["violation"] = ViolationJson(Violation),
        ["actors"] = new JsonArray([.. Actors.Select(a => (JsonNode?)a)]),
        ["steps"] = new JsonArray([.. Choices.Select(c => (JsonNode?)Actors[c])]),
    };

    public static JsonObject ViolationJson(Violation v)
    {
        var o = new JsonObject { ["kind"] = v.KindName };
        if (v.Kind == ViolationKind.Exit) o["exit"] = v.Name;
        else if (v.Kind != ViolationKind.ModelLimit) o["invariant"] = v.Name;
        o["message"] = v.Message;
        return o;
    }

    public void Save(string path) => File.WriteAllText(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

    /// <summary>Read a trace file; throws <see cref="ScenarioException"/> with a one-line reason on bad input.</summary>
    public static TraceFile Load(string path)
    {
        if (!File.Exists(path)) throw new ScenarioException($"{path}: no such file");
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(InputText.ReadFile(path, m => new ScenarioException(m)));
        }
        catch (JsonException e)
        {
            throw new ScenarioException($"{path}:{(e.LineNumber ?? 0) + 1}:{(e.BytePositionInLine ?? 0) + 1}: not valid JSON: {e.Message.Split('.')[0]}");
        }
        string Req(JsonNode? n, string what) =>
            n is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new ScenarioException($"{path}: missing or invalid '{what}'");
        if (root is not JsonObject o || Req(o["format"], "format") != Format) throw new ScenarioException($"{path}: not an scxlab trace (expected \"format\": \"{Format}\")");
        var version = o["version"] is JsonValue vv && vv.TryGetValue<int>(out var ver) ? ver : -1;
        if (version != CurrentVersion) throw new ScenarioException($"{path}: trace format version {version} is not supported (this scxlab reads version {CurrentVersion})");
        var sc = o["scenario"] as JsonObject ?? throw new ScenarioException($"{path}: missing 'scenario'");
        var settings = o["settings"] as JsonObject;
        var actors = (o["actors"] as JsonArray ?? throw new ScenarioException($"{path}: missing 'actors'")).Select(a => Req(a, "actors[]")).ToList();
        var steps = (o["steps"] as JsonArray ?? throw new ScenarioException($"{path}: missing 'steps'")).Select((s, i) =>
        {
            var name = Req(s, $"steps[{i}]");
            var id = actors.IndexOf(name);
            return id >= 0 ? id : throw new ScenarioException($"{path}: steps[{i}] names unknown actor '{name}'");
        }).ToList();
        var vo = o["violation"] as JsonObject ?? throw new ScenarioException($"{path}: missing 'violation'");
        var kind = Req(vo["kind"], "violation.kind") switch
        {
            "invariant" => ViolationKind.Invariant,
            "kernel-assertion" => ViolationKind.KernelAssertion,
            "exit" => ViolationKind.Exit,
            "liveness" => ViolationKind.Liveness,
            var k => throw new ScenarioException($"{path}: unknown violation kind '{k}'"),
        };
        var vname = kind == ViolationKind.Exit ? Req(vo["exit"], "violation.exit") : Req(vo["invariant"], "violation.invariant");
        return new TraceFile
        {
            ScenarioName = Req(sc["name"], "scenario.name"),
            ScenarioSource = Req(sc["source"], "scenario.source"),
            ScenarioText = Req(sc["text"], "scenario.text"),
            Policy = Req(o["policy"], "policy"),
            PolicySha256 = o["policy_sha256"] is JsonValue hv && hv.TryGetValue<string>(out var sha) ? sha : null,
            Protocol = Req(o["protocol"], "protocol"),
            Checks = settings?["checks"] is JsonArray ca ? [.. ca.Select(c => Req(c, "settings.checks[]"))] : [],
            Strategy = settings?["strategy"] is JsonValue sv && sv.TryGetValue<string>(out var st) ? st : "",
            Exact = settings?["exact"] is JsonValue ev && ev.TryGetValue<bool>(out var ex) && ex,
            MaxPreemptions = settings?["max_preemptions"] is JsonValue mv && mv.TryGetValue<int>(out var mp) ? mp : null,
            Granularity = settings?["granularity"] is JsonValue gv && gv.TryGetValue<string>(out var g) ? g : "normal",
            Kernel = settings?["kernel"] is JsonValue kv && kv.TryGetValue<string>(out var kern) ? kern : "7.1",
            Violation = new Violation(kind, vname, Req(vo["message"], "violation.message")),
            Actors = actors,
            Choices = steps,
        };
    }
}
