using System.Globalization;
using System.Text;
using Scxlab.Checks;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Fuzzing;

/// <summary>
/// Writes a scenario in the docs/scenarios.md format, so a shrunk scenario is a file that
/// <c>scxlab check</c> explores and <see cref="ScenarioLoader"/> reads back to the same model.
/// Every field that shapes the model is written explicitly (pids, weights, slices), so renumbered
/// tasks keep their pids and messages naming them stay the same.
/// </summary>
public static class ScenarioYaml
{
    public static string Write(Scenario s, string policy, Protocol protocol, KernelEra kernel, string? expectVerdict = null)
    {
        var b = new StringBuilder();
        void L(string line) => b.Append(line).Append('\n');
        L($"name: {Q(s.Name)}");
        if (s.Description.Length > 0) L($"description: {Q(s.Description)}");
        L($"cpus: {s.Cpus}");
        L($"protocol: {Q(ProtocolNames.Name(protocol))}");
        L($"kernel: {Q(KernelEras.Name(kernel))}");
        L($"policy: {Q(policy)}");
        if (s.Tags.Count > 0) L($"tags: [{string.Join(", ", s.Tags.Select(Q))}]");
        L("tasks:");
        foreach (var t in s.Tasks)
        {
            L($"  - name: {Q(t.Name)}");
            L($"    pid: {t.Pid}");
            L($"    allowed: {Mask(t.Allowed, s.Cpus)}");
            L($"    cpu: {t.Cpu}");
            L($"    state: {t.State switch
            {
                InitialTaskState.Queued => "queued",
                InitialTaskState.Running => "running",
                InitialTaskState.Sleeping => "sleeping",
                _ => throw new System.Diagnostics.UnreachableException($"task state {t.State}"),
            }}");
            L($"    weight: {t.Weight}");
            L($"    slice: {t.Slice.ToString(CultureInfo.InvariantCulture)}");
            if (t.MigrationDisabled) L("    migration_disabled: true");
        }
        var rounds = s.Rounds.Select((count, cpu) => (cpu, count)).Where(r => r.count > 0).ToList();
        if (rounds.Count > 0)
        {
            L("rounds:");
            foreach (var (cpu, count) in rounds) L($"  - {{ cpu: {cpu}, count: {count} }}");
        }
        if (s.Actors.Count > 0)
        {
            L("actors:");
            foreach (var a in s.Actors)
            {
                L($"  - name: {Q(a.Name)}");
                L($"    cpu: {a.Cpu}");
                L("    do:");
                foreach (var act in a.Actions) L($"      - {Action(act, s)}");
            }
        }
        WriteLoadItems(s.Rodata, L);
        L(s.Checks.Count == 0 ? "check: [all]" : $"check: [{string.Join(", ", s.Checks.Select(Q))}]");
        if (s.MaxPreemptions != null || s.BudgetSeconds != null || s.TimerFires != null || s.UserDsqs != null || s.CallBudget != null || s.BpfCpumasks != null || s.ArenaPages != null || s.HashElems != null || s.BpfTimers != null)
        {
            var parts = new List<string>();
            if (s.MaxPreemptions is { } mp) parts.Add($"max_preemptions: {mp}");
            if (s.BudgetSeconds is { } bs) parts.Add($"budget_seconds: {bs.ToString(CultureInfo.InvariantCulture)}");
            if (s.TimerFires is { } tf) parts.Add($"timer_fires: {tf}");
            if (s.UserDsqs is { } ud) parts.Add($"user_dsqs: {ud}");
            if (s.CallBudget is { } cb) parts.Add($"call_budget: {cb}");
            if (s.BpfCpumasks is { } bc) parts.Add($"bpf_cpumasks: {bc}");
            if (s.ArenaPages is { } ap) parts.Add($"arena_pages: {ap}");
            if (s.HashElems is { } he) parts.Add($"hash_elems: {he}");
            if (s.BpfTimers is { } bt) parts.Add($"bpf_timers: {bt}");
            L($"bounds: {{ {string.Join(", ", parts)} }}");
        }
        if (expectVerdict != null) L($"expect: {{ verdict: {expectVerdict} }}");
        return b.ToString();
    }

    private static string Action(ScriptAction a, Scenario s)
    {
        string T() => Q(s.Tasks[a.Task].Name);
        return a.Kind switch
        {
            ActionKind.SetAffinity => $"set_affinity: {{ task: {T()}, allowed: {Mask(a.Mask, s.Cpus)} }}",
            ActionKind.Wake => $"wake: {{ task: {T()} }}",
            ActionKind.Sleep => $"sleep: {{ task: {T()} }}",
            ActionKind.Exit => $"exit: {{ task: {T()} }}",
            ActionKind.SetWeight => $"set_weight: {{ task: {T()}, weight: {a.Weight} }}",
            ActionKind.Kick => $"kick: {{ cpu: {a.Cpu}{Flags(a.KickFlags)} }}",
            ActionKind.Tick => $"tick: {{ cpu: {a.Cpu} }}",
            _ => throw new System.Diagnostics.UnreachableException($"action kind {a.Kind}"),
        };
    }

    private static string Flags(KickFlags f)
    {
        var names = new List<string>();
        if ((f & KickFlags.Idle) != 0) names.Add("idle");
        if ((f & KickFlags.Preempt) != 0) names.Add("preempt");
        if ((f & KickFlags.Wait) != 0) names.Add("wait");
        return names.Count == 0 ? "" : $", flags: [{string.Join(", ", names)}]";
    }

    private static string Mask(CpuMask m, int cpus) =>
        $"[{string.Join(", ", Enumerable.Range(0, cpus).Where(m.Test))}]";

    /// <summary>
    /// A BPF object's load-time items (Scenario.Rodata) under the keys the loader reads them from: rodata, ops,
    /// max_entries, syscalls, syscalls_attached, holds and maps (each "map:NAME[KEY].field=V" back into a nested mapping).
    /// </summary>
    private static void WriteLoadItems(IReadOnlyList<string> items, Action<string> L)
    {
        static bool Has(string item, string prefix) => item.StartsWith(prefix, StringComparison.Ordinal);
        const string OpsP = BpfObject.BpfObjectFile.OpsPrefix, SysP = BpfObject.BpfObjectFile.SyscallPrefix,
            AttP = BpfObject.BpfObjectFile.SyscallAttachedPrefix, MapP = BpfObject.BpfObjectFile.MapPrefix, HoldsP = BpfObject.BpfObjectFile.HoldsPrefix,
            SizeP = BpfObject.BpfObjectFile.MaxEntriesPrefix;
        var plain = items.Where(r => !Has(r, OpsP) && !Has(r, SysP) && !Has(r, AttP) && !Has(r, MapP) && !Has(r, HoldsP) && !Has(r, SizeP)).ToList();
        if (plain.Count > 0) L($"rodata: {{ {string.Join(", ", plain.Select(r => $"{Q(r[..r.IndexOf('=')])}: {r[(r.IndexOf('=') + 1)..]}"))} }}");
        if (items.LastOrDefault(r => Has(r, OpsP)) is { } ops) L($"ops: {Q(ops[OpsP.Length..])}");
        var sizes = items.Where(r => Has(r, SizeP)).Select(r => r[SizeP.Length..]).Select(r => $"{Q(r[..r.IndexOf('=')])}: {r[(r.IndexOf('=') + 1)..]}").ToList();
        if (sizes.Count > 0) L($"max_entries: {{ {string.Join(", ", sizes)} }}");
        var sys = items.Where(r => Has(r, SysP)).Select(r => Q(r[SysP.Length..])).ToList();
        if (sys.Count > 0) L($"syscalls: [{string.Join(", ", sys)}]");
        var att = items.Where(r => Has(r, AttP)).Select(r => Q(r[AttP.Length..])).ToList();
        if (att.Count > 0) L($"syscalls_attached: [{string.Join(", ", att)}]");
        // holds:map:NAME[:keys|:values] and holds:global:NAME.
        var holds = items.Where(r => Has(r, HoldsP)).Select(r => r[HoldsP.Length..].Split(':')).Select(p => p[0] == "global"
            ? $"{{ global: {Q(p[1])} }}"
            : $"{{ map: {Q(p[1])}{(p.Length < 3 ? "" : p[2] == "keys" ? ", key: pid" : ", value: pid")} }}").ToList();
        if (holds.Count > 0) L($"holds: [{string.Join(", ", holds)}]");
        // map:NAME[KEY](.field)*=VALUE, grouped by map, then key, then field path, in order of first appearance.
        var tree = new List<(string Name, List<(string Key, List<(string Path, string Value)> Fields)> Entries)>();
        foreach (var r in items.Where(r => Has(r, MapP)))
        {
            var spec = r[MapP.Length..];
            var br = spec.IndexOf('[');
            var close = spec.IndexOf(']');
            var eq = spec.IndexOf('=');
            var (name, key, path, value) = (spec[..br], spec[(br + 1)..close], spec[(close + 1)..eq], spec[(eq + 1)..]);
            var map = tree.FirstOrDefault(m => m.Name == name);
            if (map.Name == null) tree.Add(map = (name, []));
            var entry = map.Entries.FirstOrDefault(e => e.Key == key);
            if (entry.Key == null) map.Entries.Add(entry = (key, []));
            entry.Fields.Add((path, value));
        }
        if (tree.Count == 0) return;
        L("maps:");
        foreach (var (name, entries) in tree)
            L($"  {Q(name)}: {{ {string.Join(", ", entries.Select(e => $"{e.Key}: {Nested(e.Fields)}"))} }}");

        // [(".a.b", v), (".a.c", w)] → { a: { b: v, c: w } }; [("", v)] → v.
        static string Nested(List<(string Path, string Value)> fields)
        {
            if (fields.Count == 1 && fields[0].Path.Length == 0) return fields[0].Value;
            var groups = new List<(string Head, List<(string Path, string Value)> Tail)>();
            foreach (var (path, value) in fields)
            {
                var rest = path.TrimStart('.');
                var dot = rest.IndexOf('.');
                var head = dot < 0 ? rest : rest[..dot];
                var g = groups.FirstOrDefault(x => x.Head == head);
                if (g.Head == null) groups.Add(g = (head, []));
                g.Tail.Add((dot < 0 ? "" : rest[dot..], value));
            }
            return $"{{ {string.Join(", ", groups.Select(g => $"{Q(g.Head)}: {Nested(g.Tail)}"))} }}";
        }
    }

    /// <summary>A plain scalar when it cannot be misread, else a double-quoted one.</summary>
    private static string Q(string s)
    {
        if (s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') && char.IsAsciiLetter(s[0])
            && s is not ("true" or "false" or "null" or "yes" or "no" or "on" or "off"))
            return s;
        var e = new StringBuilder("\"");
        foreach (var c in s)
            e.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                _ when c < ' ' => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        return e.Append('"').ToString();
    }
}
