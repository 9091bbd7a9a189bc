using System.Reflection;
using Scxlab.Bpf;
using Scxlab.BpfObject;

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
        new("simple", "scx_simple: idle CPU → SCX_DSQ_LOCAL from select_cpu, else one shared vtime DSQ consumed by dispatch", () => new Simple()),
        new("simple-fifo", "scx_simple in FIFO mode (its -f): the shared DSQ is FIFO, no vtime accounting", () => new Simple(fifo: true)),
        new("qmap", "scx_qmap core: five weight-indexed FIFOs of pids, batched into a shared DSQ; dequeued entries skipped by generation", () => new Qmap()),
        new("central", "scx_central: CPU0 decides for all, tests p->cpus_ptr, inserts SCX_DSQ_LOCAL_ON|cpu, mismatches to a fallback DSQ", () => new Central()),
        new("local-on-pop", "pop a pid from a BPF queue, test p->cpus_ptr, insert SCX_DSQ_LOCAL_ON|cpu (race R1)", () => new LocalOnPop()),
        new("local-on-peek", "peek the queue, test the mask, remove, insert SCX_DSQ_LOCAL_ON|cpu (race R2, the seed email)", () => new LocalOnPeek()),
        new("dequeue-sync", "per-task state cleared by ops.dequeue under a lock shared with dispatch (fix d, selftest dequeue scenario 6)", () => new DequeueSync()),
        new("insert-recheck-cancel", "insert SCX_DSQ_LOCAL_ON|cpu, re-test the mask, scx_bpf_dispatch_cancel() and fall back to global if it changed", () => new InsertRecheckCancel()),
        new("cookie-peek", "the R2 pattern with the cookie API: scx_bpf_task_get_cookie() before the mask test, scx_bpf_dsq_insert_cookie(), re-queue when refused (protocol cookie)", () => new CookiePeek()),
        new("ghost-peek", "a ghOSt agent mirroring local-on-peek: read the task barrier, test the mask, commit a transaction; re-queue on TARGET_STALE (protocol ghost)", () => new GhostPeek()),
        new("userspace", "scx_rustland style: off-CPU decisions applied in dispatch, re-tested, cancelled when the cpumask generation (bumped in ops.set_cpumask) moved", () => new Userspace()),
        new("userspace-enqueue-gen", "known-wrong userspace variant: the generation is bumped in ops.enqueue, after the new qseq is published, so a stale LOCAL_ON can pass the check", () => new UserspaceEnqueueGen()),
    ];

    /// <summary>
    /// Resolve a built-in name or an assembly reference <c>path/to/X.dll:Namespace.Type</c>
    /// (a relative path is taken from <paramref name="baseDirectory"/>, default the current
    /// directory). Throws <see cref="PolicyLoadException"/> with a one-line reason.
    /// </summary>
    public static Func<ScxOps> Resolve(string spec, string? baseDirectory = null)
    {
        spec = spec?.Trim() ?? "";
        if (spec.Length == 0) throw new PolicyLoadException($"empty policy name ({Expected})");
        foreach (var p in BuiltIn)
            if (string.Equals(p.Name, spec, StringComparison.OrdinalIgnoreCase)) return p.Create;

        if (BpfObjectSpec.TryParse(spec, out var objPath, out var rodata))
            return LoadBpfObject(objPath, rodata, baseDirectory);

        var colon = spec.LastIndexOf(':');
        var path = colon > 0 ? spec[..colon] : spec;
        if (!path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            throw new PolicyLoadException($"unknown policy '{spec}' ({Expected})");
        if (colon <= 0 || colon == spec.Length - 1)
            throw new PolicyLoadException($"policy '{spec}' names an assembly but no type: write {path}:Namespace.Type");
        return LoadFromAssembly(path, spec[(colon + 1)..], baseDirectory);
    }

    /// <summary>
    /// What a trace records so it replays from any directory: a built-in name as is; an assembly
    /// reference with its path made absolute, and the assembly's SHA-256 (hex) so a changed or
    /// different assembly is refused rather than replayed into a false divergence.
    /// </summary>
    public static (string Spec, string? Sha256) Locate(string spec, string? baseDirectory = null)
    {
        spec = spec.Trim();
        if (BuiltIn.Any(p => string.Equals(p.Name, spec, StringComparison.OrdinalIgnoreCase))) return (spec, null);
        var colon = spec.LastIndexOf(':');
        if (colon <= 0) return (spec, null);
        var full = Path.GetFullPath(spec[..colon], baseDirectory ?? Directory.GetCurrentDirectory());
        return ($"{full}:{spec[(colon + 1)..]}", File.Exists(full) ? Sha256Of(full) : null);
    }

    /// <summary>The lower-case hex SHA-256 of a file.</summary>
    public static string Sha256Of(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(f));
    }

    private static string Expected =>
        $"built-in: {string.Join(", ", BuiltIn.Select(b => b.Name))}; or path/to/X.bpf.o; or path/to/X.dll:Namespace.Type";

    /// <summary>A BPF object: loaded (and every load error raised) now, instantiated per machine.</summary>
    private static Func<ScxOps> LoadBpfObject(string path, IReadOnlyList<string> rodata, string? baseDirectory)
    {
        string full;
        try
        {
            full = Path.GetFullPath(path, baseDirectory ?? Directory.GetCurrentDirectory());
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new PolicyLoadException($"bad BPF object path '{path}': {e.Message}");
        }
        if (!File.Exists(full)) throw new PolicyLoadException($"BPF object not found: {path}");
        try
        {
            var obj = BpfObjectFile.Load(full, rodata);
            return () => new BpfObjectPolicy(obj);
        }
        catch (BpfLoadException e)
        {
            throw new PolicyLoadException(OneLine(e.Message));
        }
    }

    private static Func<ScxOps> LoadFromAssembly(string path, string typeName, string? baseDirectory)
    {
        string full;
        try
        {
            full = Path.GetFullPath(path, baseDirectory ?? Directory.GetCurrentDirectory());
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new PolicyLoadException($"bad policy assembly path '{path}': {e.Message}");
        }
        if (!File.Exists(full)) throw new PolicyLoadException($"policy assembly not found: {path}");

        Assembly asm;
        try
        {
            asm = Assembly.LoadFrom(full);
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException)
        {
            throw new PolicyLoadException($"cannot load policy assembly {path}: {OneLine(e.Message)}");
        }

        Type? type;
        try
        {
            type = asm.GetType(typeName, throwOnError: false);
        }
        catch (Exception e) when (e is TypeLoadException or FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            throw new PolicyLoadException($"cannot load type '{typeName}' from {path}: {OneLine(e.Message)}");
        }
        if (type == null)
        {
            var candidates = PolicyTypes(asm);
            var simple = typeName[(typeName.LastIndexOf('.') + 1)..];
            var near = candidates.Where(c => string.Equals(c, typeName, StringComparison.OrdinalIgnoreCase)
                || string.Equals(c[(c.LastIndexOf('.') + 1)..], simple, StringComparison.OrdinalIgnoreCase)).ToList();
            var hint = near.Count > 0 ? $"did you mean {string.Join(" or ", near)}?"
                : candidates.Count == 0 ? "it defines no ScxOps type"
                : $"ScxOps types there: {string.Join(", ", candidates.Take(8))}{(candidates.Count > 8 ? ", …" : "")}";
            throw new PolicyLoadException($"type '{typeName}' not found in {path} ({hint})");
        }
        if (!typeof(ScxOps).IsAssignableFrom(type) || type.IsAbstract || type.ContainsGenericParameters)
            throw new PolicyLoadException($"type '{typeName}' in {path} is not a concrete Scxlab.Bpf.ScxOps");
        if (type.GetConstructor(Type.EmptyTypes) == null)
            throw new PolicyLoadException($"type '{typeName}' in {path} needs a public parameterless constructor");

        return () =>
        {
            try
            {
                return (ScxOps)Activator.CreateInstance(type)!;
            }
            catch (TargetInvocationException e) when (e.InnerException != null)
            {
                throw new PolicyLoadException($"constructor of '{typeName}' in {path} failed: {e.InnerException.GetType().Name}: {OneLine(e.InnerException.Message)}");
            }
        };
    }

    private static List<string> PolicyTypes(Assembly asm)
    {
        Type?[] types;
        try
        {
            types = asm.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            types = e.Types;
        }
        return [.. types.Where(t => t != null && typeof(ScxOps).IsAssignableFrom(t) && !t.IsAbstract && t.FullName != null)
            .Select(t => t!.FullName!).Order(StringComparer.Ordinal)];
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}

public sealed class PolicyLoadException(string message) : Exception(message);

/// <summary>
/// A BPF object policy spec: <c>path/X.bpf.o</c>, optionally with rodata patches
/// <c>path/X.bpf.o@name=value,name[i]=value</c> (what <c>--rodata</c> adds, so traces and
/// comparison cells name exactly the object configuration they ran).
/// </summary>
public static class BpfObjectSpec
{
    public static bool TryParse(string spec, out string path, out IReadOnlyList<string> rodata)
    {
        var at = spec.IndexOf(".o@", StringComparison.Ordinal);
        path = at >= 0 ? spec[..(at + 2)] : spec;
        rodata = at >= 0 ? spec[(at + 3)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
        return path.EndsWith(".o", StringComparison.Ordinal);
    }

    /// <summary>The object path of a BPF object spec (the spec itself otherwise).</summary>
    public static string TryParseHead(string policy) => TryParse(policy, out var path, out _) ? path : policy;

    /// <summary>sha256 of the object file a BPF object spec names (relative to the current directory), or null for other policies or a missing file.</summary>
    public static string? Sha256(string policy)
    {
        if (!TryParse(policy, out var path, out _) || !File.Exists(path)) return null;
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
    }

    /// <summary>
    /// The spec as a header line shows it: map writes (which can be dozens: a topology table) are counted, not
    /// listed; rodata, ops and syscall items are listed up to a line's width and counted after it. Reports and traces
    /// keep the whole spec.
    /// </summary>
    public static string Short(string policy)
    {
        if (!TryParse(policy, out var path, out var items)) return policy;
        var maps = items.Count(i => i.StartsWith(BpfObject.BpfObjectFile.MapPrefix, StringComparison.Ordinal));
        var rest = items.Where(i => !i.StartsWith(BpfObject.BpfObjectFile.MapPrefix, StringComparison.Ordinal)).ToList();
        // Settings past a line's worth are counted, not listed (scx_lavd's topology is some 80 of them): the JSON
        // output, traces and comparison cells keep the whole spec.
        var shown = 0;
        for (var length = path.Length; shown < rest.Count && length + rest[shown].Length + 1 <= ShortSettingsWidth; shown++)
            length += rest[shown].Length + 1;
        if (maps == 0 && shown == rest.Count) return policy;
        var more = rest.Count - shown;
        var text = shown == 0 ? path : $"{path}@{string.Join(",", rest.Take(shown))}";
        if (more > 0) text += $" (+{more} more setting{(more == 1 ? "" : "s")})";
        if (maps > 0) text += $" (+{maps} map write{(maps == 1 ? "" : "s")})";
        return text;
    }

    /// <summary>How much of a policy spec <see cref="Short"/> spells out before it counts the rest.</summary>
    private const int ShortSettingsWidth = 120;

    /// <summary>
    /// The policy with a relative object or assembly path made absolute (when the file exists here), for the scenario
    /// files and traces scxlab writes: they are read from wherever the user runs <c>check</c> or <c>replay</c> next,
    /// and a policy path in a scenario file is taken relative to the current directory.
    /// </summary>
    public static string Rooted(string policy)
    {
        if (TryParse(policy, out var path, out _))
            return Path.IsPathRooted(path) || !File.Exists(path) ? policy : Path.GetFullPath(path) + policy[path.Length..];
        var dll = policy.IndexOf(".dll:", StringComparison.Ordinal);
        if (dll < 0) return policy;
        var file = policy[..(dll + 4)];
        return Path.IsPathRooted(file) || !File.Exists(file) ? policy : Path.GetFullPath(file) + policy[file.Length..];
    }

    /// <summary>The spec for <paramref name="policy"/> with <paramref name="rodata"/> patches appended (unchanged if none or not an object).</summary>
    public static string With(string policy, IReadOnlyList<string> rodata)
    {
        if (rodata.Count == 0) return policy;
        if (!TryParse(policy, out _, out _)) throw new PolicyLoadException($"--rodata applies to a BPF object policy (X.bpf.o), not '{policy}'");
        return policy + (policy.Contains(".o@", StringComparison.Ordinal) ? "," : "@") + string.Join(",", rodata);
    }
}
