using System.Globalization;

namespace Scxlab.Simulation;

/// <summary>
/// Loads workload files: the native YAML/JSON format (docs/simulation.md) and the rt-app JSON
/// subset (a top-level <c>tasks</c> object). Every error names <c>file:line:col</c>.
/// </summary>
public static class WorkloadLoader
{
    public static Workload LoadFile(string path)
    {
        return Parse(path, Scenarios.InputText.ReadFile(path, m => new WorkloadException(m)));
    }

    public static Workload Parse(string path, string text)
    {
        var root = WNode.ParseFile(path, text);
        var ctx = new Ctx(path);
        if (root.Kind != WNode.NodeKind.Map) throw ctx.Err(root, "a workload is a mapping (name:, tasks:, …)");
        var tasks = root.Get("tasks");
        if (tasks is { Kind: WNode.NodeKind.Map }) return RtApp(ctx, root);
        return Native(ctx, root);
    }

    private sealed class Ctx(string path)
    {
        public readonly string Path = path;
        public WorkloadException Err(WNode n, string msg) => new($"{Path}:{n.Line}:{n.Col}: {msg}");
        public string At(WNode n) => $"{Path}:{n.Line}:{n.Col}";
    }

    // ---------------------------------------------------------------- native format

    /// <summary>Most tasks one workload may create: the simulator keeps every task in memory and in its event queue.</summary>
    public const int MaxTasks = 1_000_000;

    private static readonly string[] TopKeys = ["name", "description", "cpus", "duration", "tasks"];
    private static readonly string[] GroupKeys = ["name", "class", "count", "weight", "cpus", "loop", "start", "start_spread", "start_suspended", "affinity_churn", "weight_churn", "phases"];

    private static Workload Native(Ctx ctx, WNode root)
    {
        CheckKeys(ctx, root, TopKeys);
        var tasksNode = root.Get("tasks") ?? throw ctx.Err(root, "missing 'tasks' (a list of task groups)");
        if (tasksNode.Kind != WNode.NodeKind.Seq) throw ctx.Err(tasksNode, "'tasks' must be a list of task groups");
        var groups = new List<TaskGroup>();
        var total = 0L;
        var phaseNodes = new List<(WNode Node, Phase Phase)>();
        foreach (var g in tasksNode.Seq)
        {
            if (g.Kind != WNode.NodeKind.Map) throw ctx.Err(g, "a task group is a mapping (name:, phases:, …)");
            CheckKeys(ctx, g, GroupKeys);
            var nameNode = g.Get("name") ?? throw ctx.Err(g, "task group needs a 'name'");
            var name = Str(ctx, nameNode);
            if (name.Length == 0) throw ctx.Err(nameNode, "task group name is empty");
            if (groups.Any(x => x.Name == name)) throw ctx.Err(nameNode, $"duplicate task group '{name}'");
            var phasesNode = g.Get("phases") ?? throw ctx.Err(g, $"task group '{name}' needs 'phases'");
            if (phasesNode.Kind != WNode.NodeKind.Seq || phasesNode.Seq.Count == 0) throw ctx.Err(phasesNode, "'phases' must be a non-empty list (run:, sleep:, timer:, wake:, suspend, exit)");
            var phases = new List<Phase>();
            foreach (var p in phasesNode.Seq)
            {
                var ph = NativePhase(ctx, p);
                phases.Add(ph);
                phaseNodes.Add((p, ph));
            }
            var churn = g.Get("affinity_churn");
            long churnNs = 0;
            var churnMode = AffinityChurnMode.SingleCpu;
            if (churn != null)
            {
                if (churn.Kind == WNode.NodeKind.Map)
                {
                    CheckKeys(ctx, churn, ["period", "mode"]);
                    churnNs = Dur(ctx, churn.Get("period") ?? throw ctx.Err(churn, "affinity_churn needs a 'period'"));
                    var m = churn.Get("mode");
                    if (m != null)
                        churnMode = Str(ctx, m) switch
                        {
                            "single" => AffinityChurnMode.SingleCpu,
                            "single-or-all" => AffinityChurnMode.SingleOrAll,
                            var s => throw ctx.Err(m, $"unknown affinity_churn mode '{s}' (single, single-or-all)"),
                        };
                }
                else churnNs = Dur(ctx, churn);
                if (churnNs <= 0) throw ctx.Err(churn, "affinity_churn period must be positive");
            }
            var wc = g.Get("weight_churn");
            var cpusNode = g.Get("cpus");
            var cpus = cpusNode == null ? null : CpuList(ctx, cpusNode);
            var weight = OptInt(ctx, g.Get("weight"), 100);
            var weightNode = g.Get("weight");
            if (weight < 1 || weight > 10000) throw ctx.Err(weightNode!, "weight must be 1..10000");
            var count = OptInt(ctx, g.Get("count"), 1);
            if (count < 1 || count > MaxTasks) throw ctx.Err(g.Get("count")!, $"count must be 1..{MaxTasks}");
            total += count;
            if (total > MaxTasks) throw ctx.Err(g.Get("count")!, $"more than {MaxTasks} tasks in the workload (the simulator holds every task in memory)");
            var loop = OptInt(ctx, g.Get("loop"), -1);
            if (loop == 0 || loop < -1) throw ctx.Err(g.Get("loop")!, "loop must be positive, or -1 for forever");
            groups.Add(new TaskGroup
            {
                Name = name,
                Class = g.Get("class") is { } cl ? Str(ctx, cl) : name,
                Count = count,
                Weight = weight,
                Cpus = cpus,
                CpusAt = cpusNode == null ? null : ctx.At(cpusNode),
                Phases = phases,
                Loop = loop,
                StartNs = g.Get("start") is { } st ? Dur(ctx, st) : 0,
                StartSpreadNs = g.Get("start_spread") is { } ss ? Dur(ctx, ss) : 0,
                StartSuspended = g.Get("start_suspended") is { } su && Bool(ctx, su),
                AffinityChurnNs = churnNs,
                AffinityChurnMode = churnMode,
                WeightChurnNs = wc != null ? Dur(ctx, wc) : 0,
            });
        }
        foreach (var (node, ph) in phaseNodes)
            if (ph.Kind == PhaseKind.Wake && groups.All(x => x.Name != ph.Target))
                throw ctx.Err(node, $"wake: no task group named '{ph.Target}'");
        var nameN = root.Get("name");
        var cpusN = root.Get("cpus");
        int? cpuCount = cpusN == null ? null : Int(ctx, cpusN);
        if (cpuCount is < 1 or > 256) throw ctx.Err(cpusN!, "cpus must be 1..256");
        return new Workload
        {
            Name = nameN != null ? Str(ctx, nameN) : System.IO.Path.GetFileNameWithoutExtension(ctx.Path),
            Description = root.Get("description") is { } d ? Str(ctx, d) : "",
            Cpus = cpuCount,
            DurationNs = root.Get("duration") is { } du ? Dur(ctx, du) : null,
            Groups = groups,
        };
    }

    private static Phase NativePhase(Ctx ctx, WNode p)
    {
        if (p.Kind == WNode.NodeKind.Scalar)
        {
            return p.Scalar switch
            {
                "suspend" => new Phase(PhaseKind.Suspend),
                "exit" => new Phase(PhaseKind.Exit),
                _ => throw ctx.Err(p, $"unknown phase '{p.Scalar}' (run:, sleep:, timer:, wake:, suspend, exit)"),
            };
        }
        if (p.Kind != WNode.NodeKind.Map || p.Map.Count != 1) throw ctx.Err(p, "a phase is one of run: D, sleep: D, timer: D, wake: GROUP, suspend, exit");
        var (key, keyNode, v) = p.Map[0];
        return key switch
        {
            "run" => new Phase(PhaseKind.Run, PositiveDur(ctx, v)),
            "sleep" => new Phase(PhaseKind.Sleep, PositiveDur(ctx, v)),
            "timer" => new Phase(PhaseKind.Timer, PositiveDur(ctx, v)),
            "wake" => new Phase(PhaseKind.Wake, 0, Str(ctx, v)),
            "suspend" => new Phase(PhaseKind.Suspend),
            "exit" => new Phase(PhaseKind.Exit),
            _ => throw ctx.Err(keyNode, $"unknown phase '{key}' (run, sleep, timer, wake, suspend, exit)"),
        };
    }

    // ---------------------------------------------------------------- rt-app JSON subset

    private static readonly string[] RtGlobalKnown = ["duration", "default_policy", "calibration", "logdir", "log_basename", "lock_pages", "ftrace", "gnuplot", "pi_enabled", "io_device", "mem_buffer_size", "cumulative_slack", "log_size"];
    private static readonly string[] RtTaskKeys = ["instance", "loop", "cpus", "nice", "priority", "policy", "delay", "phases", "taskgroup", "dl-runtime", "dl-period", "dl-deadline"];

    // sched_prio_to_weight[] (kernel/sched/core.c), nice -20..19.
    private static readonly int[] PrioToWeight =
    [
        88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
        9548, 7620, 6100, 4904, 3906, 3121, 2501, 1991, 1586, 1277,
        1024, 820, 655, 526, 423, 335, 272, 215, 172, 137,
        110, 87, 70, 56, 45, 36, 29, 23, 18, 15,
    ];

    /// <summary>sched_weight_to_cgroup(): the load weight on the cgroup scale (nice 0 → 100), rounded to the closest, 1..10000.</summary>
    internal static int SchedWeightToCgroup(int weight) => (int)Math.Clamp((weight * 100L + 512) / 1024, 1, 10000);

    private static Workload RtApp(Ctx ctx, WNode root)
    {
        foreach (var (k, kn, _) in root.Map)
            if (k is not ("tasks" or "global")) throw ctx.Err(kn, $"unknown rt-app top-level key '{k}' (tasks, global)");
        long? duration = null;
        if (root.Get("global") is { } global)
        {
            if (global.Kind != WNode.NodeKind.Map) throw ctx.Err(global, "'global' must be an object");
            foreach (var (k, kn, v) in global.Map)
            {
                if (!RtGlobalKnown.Contains(k)) throw ctx.Err(kn, $"unsupported rt-app global key '{k}'");
                if (k == "duration")
                {
                    // rt-app: seconds, or -1 for "until every thread ends" (here: the --duration default).
                    var s = Long(ctx, v);
                    if (s == 0 || s < -1 || s > 1_000_000_000) throw ctx.Err(v, $"duration must be positive (seconds), or -1 to run until the threads end; got {s}");
                    if (s > 0) duration = s * 1_000_000_000L;
                }
                if (k == "default_policy" && Str(ctx, v) is not ("SCHED_OTHER" or "SCHED_EXT")) throw ctx.Err(v, $"unsupported policy '{Str(ctx, v)}' (the simulator runs SCHED_OTHER/SCHED_EXT tasks)");
            }
        }
        var tasks = root.Get("tasks")!;
        var groups = new List<TaskGroup>();
        var total = 0L;
        var wakes = new List<(WNode Node, string Target)>();
        foreach (var (name, nameNode, t) in tasks.Map)
        {
            if (t.Kind != WNode.NodeKind.Map) throw ctx.Err(t, $"task '{name}' must be an object");
            if (groups.Any(g => g.Name == name)) throw ctx.Err(nameNode, $"duplicate task '{name}'");
            var events = new List<Phase>();
            var hasPhases = t.Get("phases");
            foreach (var (k, kn, v) in t.Map)
            {
                if (RtTaskKeys.Contains(k))
                {
                    if (k == "policy" && Str(ctx, v) is not ("SCHED_OTHER" or "SCHED_EXT")) throw ctx.Err(v, $"unsupported policy '{Str(ctx, v)}' (the simulator runs SCHED_OTHER/SCHED_EXT tasks)");
                    if (k.StartsWith("dl-", StringComparison.Ordinal)) throw ctx.Err(kn, $"unsupported rt-app key '{k}' (SCHED_DEADLINE)");
                    // Keys the subset does not use still get their type checked: a list where a
                    // string belongs is a mistake, not something to skip silently.
                    if (k is "taskgroup") Str(ctx, v);
                    if (k is "priority" or "instance" or "loop" or "delay") Long(ctx, v);
                    continue;
                }
                if (hasPhases != null) throw ctx.Err(kn, $"task '{name}' has 'phases': events belong inside a phase");
                RtEvent(ctx, k, kn, v, events, wakes);
            }
            var loop = t.Get("loop") is { } ln ? Int(ctx, ln) : -1;
            if (hasPhases != null)
            {
                if (hasPhases.Kind != WNode.NodeKind.Map || hasPhases.Map.Count == 0) throw ctx.Err(hasPhases, "'phases' must be a non-empty object");
                foreach (var (_, _, ph) in hasPhases.Map)
                {
                    if (ph.Kind != WNode.NodeKind.Map) throw ctx.Err(ph, "a phase must be an object");
                    var phaseEvents = new List<Phase>();
                    var phaseLoop = 1;
                    foreach (var (k, kn, v) in ph.Map)
                    {
                        if (k == "loop")
                        {
                            phaseLoop = Int(ctx, v);
                            if (phaseLoop < 1) throw ctx.Err(v, "a phase loop must be positive (an endless phase would hide the phases after it)");
                            continue;
                        }
                        if (k == "cpus" || k == "nice") continue; // per-phase changes: not in the subset, the task-level value applies
                        RtEvent(ctx, k, kn, v, phaseEvents, wakes);
                    }
                    if ((long)phaseLoop * phaseEvents.Count > 100_000) throw ctx.Err(ph, "phase loop too long to unroll (over 100000 events)");
                    for (var i = 0; i < phaseLoop; i++) events.AddRange(phaseEvents);
                }
            }
            if (events.Count == 0) throw ctx.Err(t, $"task '{name}' has no events (run, runtime, sleep, timer, suspend, resume)");
            if (loop == 0 || loop < -1) throw ctx.Err(t.Get("loop")!, "loop must be positive, or -1 for forever");
            var weight = 100;
            if (t.Get("nice") is { } nn)
            {
                var nice = Int(ctx, nn);
                if (nice < -20 || nice > 19) throw ctx.Err(nn, "nice must be -20..19");
                weight = SchedWeightToCgroup(PrioToWeight[nice + 20]);
            }
            var instance = t.Get("instance") is { } inn ? Long(ctx, inn) : 1;
            if (instance < 1 || instance > MaxTasks) throw ctx.Err(t.Get("instance")!, $"instance must be 1..{MaxTasks}, got {instance}");
            total += instance;
            if (total > MaxTasks) throw ctx.Err(t.Get("instance")!, $"more than {MaxTasks} tasks in the workload (the simulator holds every task in memory)");
            groups.Add(new TaskGroup
            {
                Name = name,
                Class = name,
                Count = (int)instance,
                Weight = weight,
                Cpus = t.Get("cpus") is { } cn ? CpuList(ctx, cn) : null,
                CpusAt = t.Get("cpus") is { } cn2 ? ctx.At(cn2) : null,
                Phases = events,
                Loop = loop,
                StartNs = t.Get("delay") is { } dn ? Long(ctx, dn) * 1000 : 0,
                StartSuspended = events[0].Kind == PhaseKind.Suspend,
            });
        }
        foreach (var (node, target) in wakes)
            if (groups.All(g => g.Name != target)) throw ctx.Err(node, $"resume: no task named '{target}'");
        if (groups.Count == 0) throw ctx.Err(tasks, "'tasks' is empty");
        return new Workload { Name = System.IO.Path.GetFileNameWithoutExtension(ctx.Path), Description = "rt-app workload", DurationNs = duration, Groups = groups };
    }

    private static void RtEvent(Ctx ctx, string k, WNode kn, WNode v, List<Phase> events, List<(WNode, string)> wakes)
    {
        // rt-app matches event keys by prefix so a phase may hold run0, run1, …
        if (k.StartsWith("runtime", StringComparison.Ordinal) || k.StartsWith("run", StringComparison.Ordinal))
            events.Add(new Phase(PhaseKind.Run, PositiveUs(ctx, v)));
        else if (k.StartsWith("sleep", StringComparison.Ordinal))
            events.Add(new Phase(PhaseKind.Sleep, PositiveUs(ctx, v)));
        else if (k.StartsWith("timer", StringComparison.Ordinal))
        {
            if (v.Kind != WNode.NodeKind.Map) throw ctx.Err(v, "timer is an object {\"ref\": …, \"period\": µs}");
            var period = v.Get("period") ?? throw ctx.Err(v, "timer needs a 'period' (µs)");
            events.Add(new Phase(PhaseKind.Timer, PositiveUs(ctx, period)));
        }
        else if (k.StartsWith("suspend", StringComparison.Ordinal))
            events.Add(new Phase(PhaseKind.Suspend));
        else if (k.StartsWith("resume", StringComparison.Ordinal))
        {
            var target = Str(ctx, v);
            wakes.Add((v, target));
            events.Add(new Phase(PhaseKind.Wake, 0, target));
        }
        else
            throw ctx.Err(kn, $"unsupported rt-app event '{k}' (supported: run, runtime, sleep, timer, suspend, resume)");
    }

    // ---------------------------------------------------------------- scalars

    private static void CheckKeys(Ctx ctx, WNode map, string[] allowed)
    {
        foreach (var (k, kn, _) in map.Map)
            if (!allowed.Contains(k)) throw ctx.Err(kn, $"unknown key '{k}' (expected one of: {string.Join(", ", allowed)})");
    }

    private static string Str(Ctx ctx, WNode n)
    {
        if (n.Kind != WNode.NodeKind.Scalar) throw ctx.Err(n, "expected a string");
        return n.Scalar;
    }

    private static int Int(Ctx ctx, WNode n)
    {
        if (n.Kind != WNode.NodeKind.Scalar || !int.TryParse(n.Scalar, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
            throw ctx.Err(n, $"expected an integer, got '{Show(n)}'");
        return v;
    }

    private static long Long(Ctx ctx, WNode n)
    {
        if (n.Kind != WNode.NodeKind.Scalar || !long.TryParse(n.Scalar, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
            throw ctx.Err(n, $"expected an integer, got '{Show(n)}'");
        return v;
    }

    private static int OptInt(Ctx ctx, WNode? n, int dflt) => n == null ? dflt : Int(ctx, n);

    private static bool Bool(Ctx ctx, WNode n) => n.Scalar switch
    {
        "true" => true,
        "false" => false,
        _ => throw ctx.Err(n, $"expected true or false, got '{Show(n)}'"),
    };

    private static string Show(WNode n) => n.Kind == WNode.NodeKind.Scalar ? n.Scalar : n.Kind == WNode.NodeKind.Map ? "{…}" : "[…]";

    private static long PositiveUs(Ctx ctx, WNode n)
    {
        var us = Long(ctx, n);
        if (us <= 0) throw ctx.Err(n, "expected a positive duration in µs");
        return us * 1000;
    }

    private static long PositiveDur(Ctx ctx, WNode n)
    {
        var d = Dur(ctx, n);
        if (d <= 0) throw ctx.Err(n, "expected a positive duration");
        return d;
    }

    private static long Dur(Ctx ctx, WNode n)
    {
        if (n.Kind != WNode.NodeKind.Scalar) throw ctx.Err(n, "expected a duration such as 500us, 4ms, 10s");
        if (!Durations.TryParse(n.Scalar, out var ns, out var why)) throw ctx.Err(n, why);
        return ns;
    }

    private static string CpuList(Ctx ctx, WNode n)
    {
        if (n.Kind == WNode.NodeKind.Seq)
        {
            var parts = new List<string>();
            foreach (var c in n.Seq)
            {
                var v = Int(ctx, c);
                if (v < 0 || v > 255) throw ctx.Err(c, $"CPU {v} out of range 0..255");
                parts.Add(v.ToString(CultureInfo.InvariantCulture));
            }
            if (parts.Count == 0) throw ctx.Err(n, "empty CPU list");
            return string.Join(",", parts);
        }
        var s = Str(ctx, n);
        if (!CpuLists.TryParse(s, 256, out _, out var why)) throw ctx.Err(n, why);
        return s;
    }
}

/// <summary>Durations with units: ns, us (µs), ms, s, m.</summary>
public static class Durations
{
    public static bool TryParse(string s, out long ns, out string error)
    {
        ns = 0;
        s = s.Trim();
        var i = 0;
        while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '.')) i++;
        var num = s[..i];
        var unit = s[i..].Trim();
        if (num.Length == 0 || !double.TryParse(num, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v))
        {
            error = $"bad duration '{s}' (expected e.g. 500us, 4ms, 10s)";
            return false;
        }
        double mult = unit switch
        {
            "ns" => 1,
            "us" or "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" or "min" => 60e9,
            "" => -1,
            _ => -2,
        };
        if (mult < 0)
        {
            error = mult == -1 ? $"duration '{s}' needs a unit (ns, us, ms, s, m)" : $"unknown duration unit '{unit}' (ns, us, ms, s, m)";
            return false;
        }
        var total = v * mult;
        if (total > 1e18)
        {
            error = $"duration '{s}' too long";
            return false;
        }
        ns = (long)Math.Round(total);
        error = "";
        return true;
    }

    public static string Format(long ns) =>
        ns >= 1_000_000_000 ? $"{ns / 1e9:0.###}s" : ns >= 1_000_000 ? $"{ns / 1e6:0.###}ms" : ns >= 1000 ? $"{ns / 1e3:0.###}us" : $"{ns}ns";
}

/// <summary>Kernel cpulist strings: <c>0-3,6,8-9</c>.</summary>
public static class CpuLists
{
    public static bool TryParse(string s, int max, out List<int> cpus, out string error)
    {
        cpus = [];
        error = "";
        foreach (var raw in s.Split(',', StringSplitOptions.TrimEntries))
        {
            if (raw.Length == 0) { error = $"bad CPU list '{s}'"; return false; }
            var dash = raw.IndexOf('-');
            if (dash < 0)
            {
                if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var c) || c >= max) { error = $"bad CPU '{raw}' in '{s}' (0..{max - 1})"; return false; }
                cpus.Add(c);
            }
            else
            {
                if (!int.TryParse(raw[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var a) || !int.TryParse(raw[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var b) || a > b || b >= max)
                {
                    error = $"bad CPU range '{raw}' in '{s}' (0..{max - 1})";
                    return false;
                }
                for (var c = a; c <= b; c++) cpus.Add(c);
            }
        }
        return true;
    }
}
