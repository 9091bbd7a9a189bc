using System.Reflection;
using Scxlab.Bpf;

namespace Scxlab.Policies;

/// <summary>A built-in policy: its CLI name, a one-line description, and a factory.</summary>
public sealed record PolicyInfo(string Name, string Description, Func<ScxOps> Create);

/// <summary>
/// The built-in policies by name, and loading of user policies from an assembly
/// (<c>path/to/X.dll:Namespace.Type</c>).
/// </summary>
public static class PolicyRegistry
{
    public static IReadOnlyList<PolicyInfo> BuiltIn { get; } =
    [
        new("local-on-pop", "pop a pid from a BPF queue, test p->cpus_ptr, insert SCX_DSQ_LOCAL_ON|cpu (race R1)", () => new LocalOnPop()),
        new("local-on-peek", "peek the queue, test the mask, remove, insert SCX_DSQ_LOCAL_ON|cpu (race R2, the seed email)", () => new LocalOnPeek()),
        new("dequeue-sync", "per-task state cleared by ops.dequeue under a lock shared with dispatch (fix d, selftest dequeue scenario 6)", () => new DequeueSync()),
    ];

    /// <summary>Resolve a built-in name or an assembly reference; throws <see cref="PolicyLoadException"/> with a one-line reason.</summary>
    public static Func<ScxOps> Resolve(string spec)
    {
        foreach (var p in BuiltIn)
            if (string.Equals(p.Name, spec, StringComparison.OrdinalIgnoreCase)) return p.Create;
        var colon = spec.LastIndexOf(':');
        if (colon <= 0 || !spec[..colon].EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            throw new PolicyLoadException($"unknown policy '{spec}' (built-in: {string.Join(", ", BuiltIn.Select(b => b.Name))}; or path/to/X.dll:Namespace.Type)");
        return LoadFromAssembly(spec[..colon], spec[(colon + 1)..]);
    }

    private static Func<ScxOps> LoadFromAssembly(string path, string typeName)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new PolicyLoadException($"policy assembly not found: {path}");
        Assembly asm;
        try
        {
            asm = Assembly.LoadFrom(full);
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException)
        {
            throw new PolicyLoadException($"cannot load policy assembly {path}: {e.Message}");
        }
        var type = asm.GetType(typeName, throwOnError: false);
        if (type == null) throw new PolicyLoadException($"type '{typeName}' not found in {path}");
        if (!typeof(ScxOps).IsAssignableFrom(type) || type.IsAbstract) throw new PolicyLoadException($"type '{typeName}' in {path} is not a concrete Scxlab.Bpf.ScxOps");
        if (type.GetConstructor(Type.EmptyTypes) == null) throw new PolicyLoadException($"type '{typeName}' in {path} needs a public parameterless constructor");
        return () => (ScxOps)Activator.CreateInstance(type)!;
    }
}

public sealed class PolicyLoadException(string message) : Exception(message);
