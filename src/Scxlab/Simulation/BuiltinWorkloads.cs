using System.Reflection;

namespace Scxlab.Simulation;

/// <summary>The workload files shipped under workloads/ (embedded in the assembly), addressable by name.</summary>
public static class BuiltinWorkloads
{
    private const string Prefix = "workloads/";

    public static IReadOnlyList<string> Names { get; } = typeof(BuiltinWorkloads).Assembly.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))
        .Select(n => Path.GetFileNameWithoutExtension(n[Prefix.Length..]))
        .Order(StringComparer.Ordinal)
        .ToList();

    /// <summary>Load built-in workload <paramref name="name"/> (without extension), or null if there is none.</summary>
    public static Workload? TryLoad(string name)
    {
        var asm = typeof(BuiltinWorkloads).Assembly;
        foreach (var res in asm.GetManifestResourceNames())
        {
            if (!res.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            var file = res[Prefix.Length..];
            if (Path.GetFileNameWithoutExtension(file) != name && file != name) continue;
            using var s = asm.GetManifestResourceStream(res)!;
            using var r = new StreamReader(s);
            return WorkloadLoader.Parse(res, r.ReadToEnd());
        }
        return null;
    }
}
