using System.Reflection;
using System.Text.Json.Nodes;

namespace Scxlab.Reporting;

/// <summary>
/// The versioned <c>--json</c> contract (docs/json.md): every result object starts with <c>schema</c>
/// (<c>scxlab/KIND/vN</c>, the <c>$id</c> of <c>schemas/KIND.vN.schema.json</c>) and <c>scxlab_version</c>, and
/// uses one verdict vocabulary. Version N changes only by adding fields; a rename or a change of meaning
/// makes N+1.
/// </summary>
public static class JsonContract
{
    public const int Version = 1;

    /// <summary>An exhaustive search that completed and found nothing (check, compare).</summary>
    public const string Holds = "holds";
    /// <summary>A violation or a scheduler exit was found (every command).</summary>
    public const string Violation = "violation";
    /// <summary>A budget, a bound or Ctrl-C stopped the run; nothing was violated in what it covered.</summary>
    public const string Incomplete = "incomplete";
    /// <summary>A sampling run (fuzz, simulate) saw nothing: not a proof, so never "holds".</summary>
    public const string NoneFound = "none-found";

    public static string SchemaId(string kind) => $"scxlab/{kind}/v{Version}";

    /// <summary>The tool's version (the package version, without build metadata).</summary>
    public static string ToolVersion { get; } =
        (typeof(JsonContract).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    /// <summary><paramref name="o"/> with <c>schema</c> and <c>scxlab_version</c> first (a copy; <paramref name="o"/> is left as it was).</summary>
    public static JsonObject Stamp(string kind, JsonObject o)
    {
        var r = new JsonObject { ["schema"] = SchemaId(kind), ["scxlab_version"] = ToolVersion };
        // Copies, so the caller's object stays whole (moving the nodes once left `merge` reading an empty verdict).
        foreach (var (key, value) in o)
            if (key is not ("schema" or "scxlab_version")) r[key] = value?.DeepClone();
        return r;
    }
}
