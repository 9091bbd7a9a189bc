using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Scenarios;
using Scxlab.Simulation;

namespace Scxlab.Cli;

/// <summary>
/// The options several commands share, declared once: their type, range, help text and completions.
/// A value that does not parse is a parse error naming the option (one line, exit 1), found before
/// the command runs.
/// </summary>
internal static class CliOptions
{
    public static Argument<string> Scenario() => new Argument<string>("SCENARIO")
    {
        HelpName = "SCENARIO",
        Description = "a built-in scenario name (scxlab list scenarios) or a YAML file",
    }.CompletingWith(ScenarioLoader.BuiltInNames);

    public static Option<string?> Policy(string description = "the policy: a built-in name (scxlab list policies), a BPF object X.bpf.o[@name=value,...], or an assembly path.dll:Namespace.Type") =>
        new Option<string?>("--policy") { Description = description, HelpName = "X" }
            .CompletingWith(() => PolicyRegistry.BuiltIn.Select(p => p.Name));

    /// <summary>One protocol name (<paramref name="list"/>: a comma-separated list), checked at parse time.</summary>
    public static Option<string?> Protocol(string name = "--protocol", bool list = false, string? description = null)
    {
        var o = new Option<string?>(name)
        {
            Description = description ?? $"the kernel protocol (overrides the scenario's): {ProtocolNames.Expected}",
            HelpName = list ? "P,P..." : "P",
            CustomParser = r =>
            {
                var v = r.Tokens[^1].Value;
                foreach (var p in list ? v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [v])
                    if (!ProtocolNames.TryParse(p, out _))
                    {
                        r.AddError($"{name}: unknown protocol '{p}' (expected {ProtocolNames.Expected})");
                        return null;
                    }
                return v;
            },
        };
        return o.CompletingWith(() => ProtocolNames.All.Select(p => p.Name));
    }

    public static Option<string?> Kernel() => new Option<string?>("--kernel")
    {
        Description = $"the kernel release the model follows ({KernelEras.Expected}; default: the scenario's)",
        HelpName = "E",
        CustomParser = r =>
        {
            var v = r.Tokens[^1].Value;
            if (KernelEras.TryParse(v, out _)) return v;
            r.AddError($"--kernel: unknown kernel '{v}' (expected {KernelEras.Expected})");
            return null;
        },
    }.CompletingWith(() => KernelEras.Expected.Split(" | "));

    public static Option<string[]> Rodata() => new("--rodata")
    {
        Description = "set a BPF object's const volatile global before load, as its user space does (NAME[i]=V an array element, NAME.field=V a struct member, NAME[]=N resizes an array, OPS.flags=V a struct_ops field)",
        HelpName = "NAME=VALUE",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<string[]> Map() => new("--map")
    {
        Description = "write a BPF object's map before attaching, as its user space does with bpf_map_update_elem() (array index or hash key; fields of a struct value by name, e.g. topo[0].llc_id=1; OUTER[i]=new puts a map it creates into an array of maps)",
        HelpName = "MAP[KEY][.FIELD]=VALUE",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<string[]> MaxEntries() => new("--max-entries")
    {
        Description = "size a BPF object's map before load, as its user space does with bpf_map__set_max_entries() (e.g. a map with one entry per CPU pair)",
        HelpName = "MAP=N",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<string[]> Holds() => new("--holds")
    {
        Description = "where a BPF object keeps the pids of the tasks in its custody (then the only places searched: a queued task in none of them is forgotten at once)",
        HelpName = "map:NAME[:keys|:values]|global:NAME",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<string[]> Syscall() => new("--syscall")
    {
        Description = "run a BPF object's SEC(\"syscall\") program before ops.init, as its user space does with BPF_PROG_TEST_RUN (fields of its context struct after ':', e.g. enable_primary_cpu:cpu_id=0)",
        HelpName = "PROG[:FIELD=VALUE...]",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<string[]> SyscallAttached() => new("--syscall-attached")
    {
        Description = "run a BPF object's SEC(\"syscall\") program once at any point while the scheduler is attached (BPF_PROG_TEST_RUN after attach; explored like a one-shot timer)",
        HelpName = "PROG[:FIELD=VALUE...]",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<string?> Ops() => new("--ops")
    {
        Description = "the sched_ext_ops struct_ops map to load when a BPF object has several (default: the first; scxlab inspect lists them)",
        HelpName = "NAME",
    };

    /// <summary>
    /// The options that say what a BPF object policy gets at load, as its user space would give it (--ops, --rodata,
    /// --max-entries, --map, --holds, --syscall, --syscall-attached): one set for every command that runs a policy.
    /// </summary>
    public sealed class BpfLoad
    {
        public readonly Option<string?> Ops = CliOptions.Ops();
        public readonly Option<string[]> Rodata = CliOptions.Rodata();
        public readonly Option<string[]> Map = CliOptions.Map();
        public readonly Option<string[]> MaxEntries = CliOptions.MaxEntries();
        public readonly Option<string[]> Holds = CliOptions.Holds();
        public readonly Option<string[]> Syscall = CliOptions.Syscall();
        public readonly Option<string[]> SyscallAttached = CliOptions.SyscallAttached();

        /// <summary>In the order the help lists them.</summary>
        public Option[] All => [Ops, Rodata, MaxEntries, Map, Holds, Syscall, SyscallAttached];

        /// <summary>The load items given (<see cref="LoadItems"/>), empty when none.</summary>
        public string[] Items(ParseResult r) => LoadItems(r.GetValue(Rodata), r.GetValue(Syscall), r.GetValue(SyscallAttached), r.GetValue(Ops), r.GetValue(Map), r.GetValue(Holds), r.GetValue(MaxEntries));
    }

    /// <summary>What a BPF object gets at load: the --ops choice, the --rodata patches, then the syscall runs (as items of its spec).</summary>
    public static string[] LoadItems(string[]? rodata, string[]? syscalls, string[]? attached = null, string? ops = null, string[]? maps = null, string[]? holds = null, string[]? maxEntries = null) =>
        [.. ops is null ? [] : new[] { Scxlab.BpfObject.BpfObjectFile.OpsPrefix + ops },
            .. (maxEntries ?? []).Select(s => Scxlab.BpfObject.BpfObjectFile.MaxEntriesPrefix + s), .. rodata ?? [],
            .. (maps ?? []).Select(s => Scxlab.BpfObject.BpfObjectFile.MapPrefix + s),
            .. (holds ?? []).Select(s => Scxlab.BpfObject.BpfObjectFile.HoldsPrefix + s),
            .. (syscalls ?? []).Select(s => Scxlab.BpfObject.BpfObjectFile.SyscallPrefix + s),
            .. (attached ?? []).Select(s => Scxlab.BpfObject.BpfObjectFile.SyscallAttachedPrefix + s)];

    /// <summary>A duration in seconds: a plain number, or with a unit (5s, 2500ms, 1m) as everywhere else.</summary>
    public static Option<double?> Budget(string description) => new("--budget")
    {
        Description = description,
        HelpName = "D",
        CustomParser = r =>
        {
            var v = r.Tokens[^1].Value;
            if (TryBudgetSeconds(v, out var s)) return s;
            r.AddError($"--budget needs a positive duration (seconds, or with a unit: 5s, 2500ms, 1m), got '{v}'");
            return null;
        },
    };

    internal static bool TryBudgetSeconds(string v, out double seconds)
    {
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out seconds) && seconds > 0 && double.IsFinite(seconds)) return true;
        if (Durations.TryParse(v, out var ns, out _) && ns > 0)
        {
            seconds = ns / 1e9;
            return true;
        }
        return false;
    }

    /// <summary>A positive duration in virtual ns: <c>10s</c>, <c>250ms</c>, <c>100us</c>, <c>5000ns</c> (a bare number is ns).</summary>
    public static Option<long?> Duration(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "D",
        CustomParser = r =>
        {
            var v = r.Tokens[^1].Value;
            if (!Durations.TryParse(v, out var ns, out var why)) r.AddError($"{name}: {why}");
            else if (ns <= 0) r.AddError($"{name}: must be positive");
            else return ns;
            return null;
        },
    };

    /// <summary>A size in bytes: a number with an optional unit, binary (KiB, MiB, GiB, TiB; K, M, G, T) or decimal (kB, MB, GB, TB).</summary>
    public static Option<long?> Size(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "SIZE",
        CustomParser = r =>
        {
            var v = r.Tokens[^1].Value;
            if (TryParseSize(v, out var bytes) && bytes > 0) return bytes;
            r.AddError($"{name}: expected a size such as 512MiB, 2GiB or 4G (bytes without a unit), got '{v}'");
            return null;
        },
    };

    internal static bool TryParseSize(string text, out long bytes)
    {
        bytes = 0;
        var t = text.Trim();
        var end = 0;
        while (end < t.Length && (char.IsAsciiDigit(t[end]) || t[end] == '.')) end++;
        if (!double.TryParse(t.AsSpan(0, end), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n)) return false;
        double scale = t[end..].Trim().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KI" or "KIB" => 1L << 10,
            "M" or "MI" or "MIB" => 1L << 20,
            "G" or "GI" or "GIB" => 1L << 30,
            "T" or "TI" or "TIB" => 1L << 40,
            "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            _ => 0,
        };
        var b = n * scale;
        if (scale == 0 || !double.IsFinite(b) || b >= long.MaxValue) return false;
        bytes = (long)b;
        return true;
    }

    public static Option<int?> Int(string name, int min, int max, string description, string helpName = "N") => new(name)
    {
        Description = $"{description} ({min}..{max})",
        HelpName = helpName,
        CustomParser = r =>
        {
            var v = r.Tokens[^1].Value;
            if (int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max) return n;
            r.AddError($"{name}: expected an integer {min}..{max}, got '{v}'");
            return null;
        },
    };

    public static Option<long?> Long(string name, long min, string description, string helpName = "N") => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = r =>
        {
            var v = r.Tokens[^1].Value;
            if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= min) return n;
            r.AddError($"{name}: expected an integer ≥ {min}, got '{v}'");
            return null;
        },
    };

    /// <summary>One of a fixed set of words (shown in --help and offered by completion).</summary>
    public static Option<string> OneOf(string name, string description, string defaultValue, params string[] values)
    {
        var o = new Option<string>(name)
        {
            Description = $"{description} ({string.Join(" | ", values)}; default {defaultValue})",
            HelpName = string.Join('|', values),
            DefaultValueFactory = _ => defaultValue,
        };
        o.AcceptOnlyFromAmong(values);
        return o;
    }

    public static Option<string?> OutputFile(string name, string description, string helpName = "FILE") =>
        new(name) { Description = description, HelpName = helpName };

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    public static Option<string?> Shard(string description) => new("--shard") { Description = description, HelpName = "K/N" };

    private static Option<T> CompletingWith<T>(this Option<T> o, Func<IEnumerable<string>> values)
    {
        o.CompletionSources.Add(_ => values().Select(v => new System.CommandLine.Completions.CompletionItem(v)));
        return o;
    }

    internal static Argument<T> CompletingWith<T>(this Argument<T> a, Func<IEnumerable<string>> values)
    {
        a.CompletionSources.Add(_ => values().Select(v => new System.CommandLine.Completions.CompletionItem(v)));
        return a;
    }
}
