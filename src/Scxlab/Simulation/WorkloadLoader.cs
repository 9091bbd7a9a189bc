using System.Globalization;
using Scxlab.Kernel;

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
        // rt-app files have a "tasks" object (native files a list) or, for rt-app's merge fragments, a "global".
        var tasks = root.Get("tasks");
        if (tasks is { Kind: WNode.NodeKind.Map } || (tasks == null && (root.Get("global") ?? root.Get("resources")) != null)) return RtApp(ctx, root);
        return Native(ctx, root);
    }

    private sealed class Ctx(string path)
    {
        public readonly string Path = path;
        public WorkloadException Err(WNode n, string msg) => new($"{Path}:{n.Line}:{n.Col}: {msg}");
        public readonly List<string> Warnings = [];
        public void Warn(WNode n, string msg) => Warnings.Add($"{Path}:{n.Line}:{n.Col}: {msg}");
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

    // What rt-app itself reads from "global" (src/rt-app_parse_config.c); any other key rt-app
    // ignores, and so does the simulator, with a warning.
    private static readonly string[] RtGlobalKnown = ["duration", "default_policy", "calibration", "logdir", "log_basename", "lock_pages", "ftrace", "gnuplot", "pi_enabled", "io_device", "mem_buffer_size", "cumulative_slack", "log_size"];
    // Keys of a task or phase object that are not events (rt-app matches events by prefix, the rest by name).
    private static readonly string[] RtTaskKeys = ["instance", "loop", "cpus", "priority", "policy", "delay", "phases", "taskgroup", "dl-runtime", "dl-period", "dl-deadline", "util_min", "util_max", "nodes_membind"];
    // rt-app's event names (events[] in rt-app_parse_config.c): a key is an event when it starts with one.
    private static readonly string[] RtEvents = ["lock", "unlock", "wait", "signal", "broad", "sync", "sleep", "runtime", "run", "timer", "suspend", "resume", "memrun", "mem", "iorun", "yield", "barrier", "fork", "sem_post", "sem_wait"];

    /// <summary>Where an rt-app task or phase sets its scheduling parameters.</summary>
    private readonly record struct RtSched(int? Weight, WNode? PriorityNode);

    private static Workload RtApp(Ctx ctx, WNode root)
    {
        foreach (var (k, kn, _) in root.Map)
            if (k is not ("tasks" or "global" or "resources"))
                ctx.Warn(kn, $"top-level key '{k}' ignored (rt-app reads tasks, global and resources)");
        if (root.Get("resources") is { } res)
            ctx.Warn(res, "'resources' ignored: the simulator creates no mutexes, barriers or memory buffers (events that use them are refused where they appear)");
        long? duration = null;
        var defaultPolicy = "SCHED_OTHER";
        if (root.Get("global") is { } global)
        {
            if (global.Kind != WNode.NodeKind.Map) throw ctx.Err(global, "'global' must be an object");
            foreach (var (k, kn, v) in global.Map)
            {
                if (!RtGlobalKnown.Contains(k))
                {
                    ctx.Warn(kn, $"global key '{k}' ignored (rt-app does not read it either)");
                    continue;
                }
                if (k == "duration")
                {
                    // rt-app: seconds, or -1 for "until every thread ends" (here: the --duration default).
                    var s = Long(ctx, v);
                    if (s == 0 || s < -1 || s > 1_000_000_000) throw ctx.Err(v, $"duration must be positive (seconds), or -1 to run until the threads end; got {s}");
                    if (s > 0) duration = s * 1_000_000_000L;
                }
                if (k == "default_policy") defaultPolicy = RtPolicy(ctx, v);
            }
        }
        var tasks = root.Get("tasks") ?? throw ctx.Err(root, "an rt-app file needs a 'tasks' object (this one has only global/resources: rt-app's merge fragments are combined with doc/merge.py first)");
        if (tasks.Kind != WNode.NodeKind.Map) throw ctx.Err(tasks, "'tasks' must be an object of tasks");
        var groups = new List<TaskGroup>();
        var total = 0L;
        var wakes = new List<(WNode Node, string Target)>();
        foreach (var (name, nameNode, t) in tasks.Map)
        {
            if (t.Kind != WNode.NodeKind.Map) throw ctx.Err(t, $"task '{name}' must be an object");
            if (groups.Any(g => g.Name == name)) throw ctx.Err(nameNode, $"duplicate task '{name}'");
            var policy = t.Get("policy") is { } pn ? RtPolicy(ctx, pn) : defaultPolicy;
            var taskSched = RtSchedParams(ctx, t, policy);
            var weight = taskSched.Weight ?? RtWeight(policy, 0);
            var taskCpus = t.Get("cpus") is { } cn ? CpuList(ctx, cn) : null;
            var events = new List<Phase>();
            var hasPhases = t.Get("phases");
            if (hasPhases == null)
            {
                RtObjectEvents(ctx, name, t, events, wakes);
            }
            else
            {
                foreach (var (k, kn, _) in t.Map)
                    if (IsRtEvent(k)) throw ctx.Err(kn, $"task '{name}' has 'phases': event '{k}' belongs inside a phase");
                    else if (!RtTaskKeys.Contains(k)) ctx.Warn(kn, $"key '{k}' ignored (not an rt-app event or task key)");
                if (hasPhases.Kind != WNode.NodeKind.Map || hasPhases.Map.Count == 0) throw ctx.Err(hasPhases, "'phases' must be a non-empty object");
                // rt-app applies a phase's cpus (else the task's, else every CPU) and its scheduling
                // parameters at the start of the phase: per-phase cpus become affinity changes
                // only when some phase has its own, as otherwise the mask never changes.
                var perPhaseCpus = hasPhases.Map.Any(p => p.Value.Kind == WNode.NodeKind.Map && p.Value.Get("cpus") != null);
                foreach (var (_, _, ph) in hasPhases.Map)
                {
                    if (ph.Kind != WNode.NodeKind.Map) throw ctx.Err(ph, "a phase must be an object");
                    var phaseEvents = new List<Phase>();
                    if (perPhaseCpus)
                    {
                        var pc = ph.Get("cpus");
                        events.Add(new Phase(PhaseKind.SetAffinity, Target: pc != null ? CpuList(ctx, pc) : taskCpus, At: ctx.At(pc ?? ph)));
                    }
                    var phasePolicy = ph.Get("policy") is { } ppn ? RtPolicy(ctx, ppn) : policy;
                    if (RtSchedParams(ctx, ph, phasePolicy) is { Weight: { } w }) events.Add(new Phase(PhaseKind.SetWeight, w));
                    else if (ph.Get("policy") != null && phasePolicy != policy) events.Add(new Phase(PhaseKind.SetWeight, RtWeight(phasePolicy, 0)));
                    var phaseLoop = 1;
                    if (ph.Get("loop") is { } ln)
                    {
                        phaseLoop = Int(ctx, ln);
                        if (phaseLoop < 1) throw ctx.Err(ln, "a phase loop must be positive (an endless phase would hide the phases after it)");
                    }
                    RtObjectEvents(ctx, name, ph, phaseEvents, wakes);
                    if ((long)phaseLoop * phaseEvents.Count > 100_000) throw ctx.Err(ph, "phase loop too long to unroll (over 100000 events)");
                    for (var i = 0; i < phaseLoop; i++) events.AddRange(phaseEvents);
                }
            }
            // rt-app: with phases, the task's loop counts passes over them (default forever); without,
            // the task's loop is the phase's (default: forever too).
            var loop = t.Get("loop") is { } lp ? Int(ctx, lp) : -1;
            if (loop == 0 || loop < -1) throw ctx.Err(t.Get("loop")!, "loop must be positive, or -1 for forever");
            // rt-app allows instance 0: a task only fork events create. The simulator has no fork
            // event (it is refused where it appears), so such a task simply has no threads.
            var instance = t.Get("instance") is { } inn ? Long(ctx, inn) : 1;
            if (instance < 0 || instance > MaxTasks) throw ctx.Err(t.Get("instance")!, $"instance must be 0..{MaxTasks}, got {instance}");
            total += instance;
            if (total > MaxTasks) throw ctx.Err(t.Get("instance")!, $"more than {MaxTasks} tasks in the workload (the simulator holds every task in memory)");
            var first = events.FindIndex(e => e.Kind is not (PhaseKind.SetAffinity or PhaseKind.SetWeight));
            groups.Add(new TaskGroup
            {
                Name = name,
                Class = name,
                Count = (int)instance,
                Weight = weight,
                Cpus = taskCpus,
                CpusAt = t.Get("cpus") is { } cn2 ? ctx.At(cn2) : null,
                Phases = events,
                Loop = loop,
                StartNs = t.Get("delay") is { } dn ? NonNegativeUs(ctx, dn) : 0,
                StartSuspended = first == 0 && events[0].Kind == PhaseKind.Suspend,
            });
        }
        // rt-app's resume signals a resource by name and creates it if nobody suspends on it: a
        // resume of a name that is no task's wakes no one, in rt-app and here.
        foreach (var (node, target) in wakes)
            if (groups.All(g => g.Name != target)) ctx.Warn(node, $"resume '{target}': no task has that name, so it wakes no one (as in rt-app, whose suspend waits under the thread's own name)");
        if (groups.Count == 0) throw ctx.Err(tasks, "'tasks' is empty");
        if (total == 0) throw ctx.Err(tasks, "no task has an instance (every 'instance' is 0)");
        return new Workload { Name = System.IO.Path.GetFileNameWithoutExtension(ctx.Path), Description = "rt-app workload", DurationNs = duration, Groups = groups, Warnings = ctx.Warnings };
    }

    private static bool IsRtEvent(string key) => RtEvents.Any(e => key.StartsWith(e, StringComparison.Ordinal));

    /// <summary>The events of one task or phase object, in key order; other keys are checked or ignored as rt-app does.</summary>
    private static void RtObjectEvents(Ctx ctx, string task, WNode obj, List<Phase> events, List<(WNode, string)> wakes)
    {
        var found = false;
        var seen = new HashSet<string>();
        foreach (var (k, kn, v) in obj.Map)
        {
            if (!seen.Add(k))
                ctx.Warn(kn, $"duplicate key '{k}' read in file order, as rt-app's doc/workgen makes keys unique before running rt-app (rt-app alone, through json-c, keeps only the last value)");
            if (IsRtEvent(k))
            {
                found = true;
                RtEvent(ctx, k, kn, v, events, wakes);
                continue;
            }
            if (k is "taskgroup") Str(ctx, v); // type-checked: a list where a string belongs is a mistake
            else if (k is "instance" or "loop" or "delay" or "util_min" or "util_max") Long(ctx, v);
            else if (!RtTaskKeys.Contains(k)) ctx.Warn(kn, $"key '{k}' ignored (not an rt-app event or task key{(k == "nice" ? "; rt-app sets the nice value with 'priority'" : "")})");
            if (k is "taskgroup") ctx.Warn(kn, "'taskgroup' ignored: the simulator has no cgroups (every task is in the root group)");
            if (k is "util_min" or "util_max") ctx.Warn(kn, $"'{k}' ignored: uclamp does not change sched_ext scheduling in the model");
            if (k is "nodes_membind") ctx.Warn(kn, "'nodes_membind' ignored: the simulator has one memory node");
        }
        if (!found) throw ctx.Err(obj, $"task '{task}' has no events (rt-app: \"No events found. Task must have events or it's useless\")");
    }

    /// <summary>A policy name as rt-app's string_to_policy() reads it; the ones sched_ext does not run are refused.</summary>
    private static string RtPolicy(Ctx ctx, WNode v)
    {
        var p = Str(ctx, v);
        return p switch
        {
            // sched_ext in full mode (no SCX_OPS_SWITCH_PARTIAL) runs every SCHED_NORMAL, SCHED_BATCH
            // and SCHED_IDLE task (task_should_scx()); SCHED_EXT is not an rt-app policy, accepted
            // because it is what a partial-switch scheduler runs.
            "SCHED_OTHER" or "SCHED_BATCH" or "SCHED_IDLE" or "SCHED_EXT" => p,
            "SCHED_FIFO" or "SCHED_RR" => throw ctx.Err(v, $"policy '{p}' puts the task in the RT class, which the simulator does not model (it runs the tasks sched_ext schedules: SCHED_OTHER, SCHED_BATCH, SCHED_IDLE)"),
            "SCHED_DEADLINE" => throw ctx.Err(v, "policy 'SCHED_DEADLINE' puts the task in the deadline class, which the simulator does not model (it runs the tasks sched_ext schedules: SCHED_OTHER, SCHED_BATCH, SCHED_IDLE)"),
            _ => throw ctx.Err(v, $"invalid policy '{p}' (rt-app's policies: SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, SCHED_RR, SCHED_FIFO, SCHED_DEADLINE)"),
        };
    }

    /// <summary>p->scx.weight for a policy and nice value: SCHED_IDLE tasks get WEIGHT_IDLEPRIO whatever their nice.</summary>
    private static int RtWeight(string policy, int nice) =>
        NiceWeights.SchedWeightToCgroup(policy == "SCHED_IDLE" ? NiceWeights.WeightIdlePrio : NiceWeights.PrioToWeight[nice + 20]);

    /// <summary>
    /// The scheduling parameters of a task or phase object: rt-app's <c>priority</c> is the nice value
    /// for SCHED_OTHER/BATCH/IDLE. <c>dl-runtime</c> on those policies is the EEVDF custom slice
    /// (p->se.slice, rt-app ≥ 6.12); sched_ext never reads it — the BPF scheduler sets p->scx.slice —
    /// so it is accepted and has no effect, with a warning.
    /// </summary>
    private static RtSched RtSchedParams(Ctx ctx, WNode obj, string policy)
    {
        foreach (var key in (string[])["dl-runtime", "dl-period", "dl-deadline"])
            if (obj.Get(key) is { } dl)
            {
                var us = Long(ctx, dl);
                if (us < 0) throw ctx.Err(dl, $"'{key}' must not be negative (µs)");
                ctx.Warn(dl, key == "dl-runtime"
                    ? "'dl-runtime' on a fair task sets the EEVDF custom slice (p->se.slice); sched_ext does not read it (the BPF scheduler sets p->scx.slice), so it has no effect here"
                    : $"'{key}' ignored: it matters only to SCHED_DEADLINE");
            }
        if (obj.Get("priority") is not { } pr) return new RtSched(null, null);
        var nice = Int(ctx, pr);
        if (nice < -20 || nice > 19) throw ctx.Err(pr, $"priority is the nice value for {policy} and must be -20..19, got {nice}");
        return new RtSched(RtWeight(policy, nice), pr);
    }

    private static void RtEvent(Ctx ctx, string k, WNode kn, WNode v, List<Phase> events, List<(WNode, string)> wakes)
    {
        // rt-app matches event keys by prefix so a phase may hold run0, run1, …; "runtime" is tested
        // before "run" because it also starts with "run".
        if (k.StartsWith("runtime", StringComparison.Ordinal))
            AddTimed(PhaseKind.RunWall);
        else if (k.StartsWith("run", StringComparison.Ordinal) && !k.StartsWith("runtime", StringComparison.Ordinal))
            AddTimed(PhaseKind.Run);
        else if (k.StartsWith("sleep", StringComparison.Ordinal))
            AddTimed(PhaseKind.Sleep);
        else if (k.StartsWith("timer", StringComparison.Ordinal))
        {
            if (v.Kind != WNode.NodeKind.Map) throw ctx.Err(v, "timer is an object {\"ref\": …, \"period\": µs}");
            var period = v.Get("period") ?? throw ctx.Err(v, "timer needs a 'period' (µs)");
            var r = v.Get("ref") is { } rn ? Str(ctx, rn) : "unknown"; // rt-app's default ref
            var mode = v.Get("mode") is { } mn ? Str(ctx, mn) : "relative";
            if (mode is not ("relative" or "absolute")) throw ctx.Err(v.Get("mode")!, $"timer mode must be relative or absolute, got '{mode}'");
            foreach (var (tk, tkn, _) in v.Map)
                if (tk is not ("ref" or "period" or "mode")) ctx.Warn(tkn, $"timer key '{tk}' ignored (rt-app reads ref, period, mode)");
            // rt-app: a ref starting with "unique" is private to the thread; any other is one timer shared by every thread naming it.
            events.Add(new Phase(PhaseKind.RtAppTimer, PositiveUs(ctx, period), r.StartsWith("unique", StringComparison.Ordinal) ? null : r, mode == "absolute"));
        }
        else if (k.StartsWith("suspend", StringComparison.Ordinal))
            events.Add(new Phase(PhaseKind.Suspend));
        else if (k.StartsWith("resume", StringComparison.Ordinal))
        {
            var target = Str(ctx, v);
            wakes.Add((v, target));
            events.Add(new Phase(PhaseKind.Wake, 0, target));
        }
        else if (k.StartsWith("unlock", StringComparison.Ordinal))
            events.Add(new Phase(PhaseKind.Unlock, Target: RefString(k, v)));
        else if (k.StartsWith("lock", StringComparison.Ordinal))
            events.Add(new Phase(PhaseKind.Lock, Target: RefString(k, v)));
        else if (k.StartsWith("wait", StringComparison.Ordinal) || k.StartsWith("sync", StringComparison.Ordinal))
        {
            if (v.Kind != WNode.NodeKind.Map) throw ctx.Err(v, $"'{k}' is an object {{\"ref\": condition, \"mutex\": mutex}}");
            var cond = Str(ctx, v.Get("ref") ?? throw ctx.Err(v, $"'{k}' needs a 'ref' (the condition)"));
            var mutex = Str(ctx, v.Get("mutex") ?? throw ctx.Err(v, $"'{k}' needs a 'mutex' (rt-app waits with it held)"));
            events.Add(new Phase(k.StartsWith("wait", StringComparison.Ordinal) ? PhaseKind.CondWait : PhaseKind.CondSync, Target: cond, Mutex: mutex));
        }
        else if (k.StartsWith("signal", StringComparison.Ordinal))
            events.Add(new Phase(PhaseKind.CondSignal, Target: RefString(k, v)));
        else if (k.StartsWith("broad", StringComparison.Ordinal))
            events.Add(new Phase(PhaseKind.CondBroadcast, Target: RefString(k, v)));
        else if (k.StartsWith("barrier", StringComparison.Ordinal))
            events.Add(new Phase(PhaseKind.Barrier, Target: RefString(k, v)));
        else
        {
            var feature = RtEvents.First(e => k.StartsWith(e, StringComparison.Ordinal)) switch
            {
                "memrun" or "mem" or "iorun" => "memory and I/O load (mem/memrun/iorun)",
                "yield" => "sched_yield() (yield)",
                "fork" => "creating threads at run time (fork)",
                "sem_post" or "sem_wait" => "semaphores (sem_post/sem_wait)",
                var e => throw new System.Diagnostics.UnreachableException($"rt-app event {e} has no feature name"),
            };
            throw ctx.Err(kn, $"rt-app event '{k}' needs {feature}, which the simulator does not model (supported: run, runtime, sleep, timer, suspend, resume, lock, unlock, wait, signal, broad, sync, barrier)");
        }

        string RefString(string key, WNode n)
        {
            if (n.Kind != WNode.NodeKind.Scalar || n.Scalar.Length == 0) throw ctx.Err(n, $"'{key}' takes the name of a resource (a string)");
            return n.Scalar;
        }

        void AddTimed(PhaseKind kind)
        {
            // rt-app takes any integer µs; 0 is a no-op event (template.json's "sleep": 0).
            var us = Long(ctx, v);
            if (us < 0) throw ctx.Err(v, $"'{k}' must not be negative (µs), got {us}");
            if (us > 0) events.Add(new Phase(kind, us * 1000));
        }
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

    private static long NonNegativeUs(Ctx ctx, WNode n)
    {
        var us = Long(ctx, n);
        if (us < 0) throw ctx.Err(n, "expected a duration in µs, not negative");
        return us * 1000;
    }

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
