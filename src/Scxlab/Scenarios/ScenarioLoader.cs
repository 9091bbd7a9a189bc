using System.Globalization;
using Scxlab.Kernel;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Scxlab.Scenarios;

/// <summary>
/// Reads scenario YAML through the representation model, so every node keeps its position and
/// every error names <c>file:line:col</c> and what was expected. Unknown keys are errors: a typo
/// must not silently change what is checked.
/// </summary>
public static class ScenarioLoader
{
    private const string ResourcePrefix = "scenarios/";

    /// <summary>Built-in scenario names (embedded resources from the repository's scenarios/ folder).</summary>
    public static IReadOnlyList<string> BuiltInNames()
    {
        var asm = typeof(ScenarioLoader).Assembly;
        return [.. asm.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".yaml", StringComparison.Ordinal))
            .Select(n => n[ResourcePrefix.Length..^".yaml".Length])
            .Order(StringComparer.Ordinal)];
    }

    public static string? BuiltInText(string name)
    {
        var asm = typeof(ScenarioLoader).Assembly;
        using var s = asm.GetManifestResourceStream(ResourcePrefix + name + ".yaml");
        if (s == null) return null;
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    /// <summary>A path to a YAML file, or a built-in name (with or without <c>.yaml</c>).</summary>
    public static Scenario Resolve(string spec)
    {
        if (Directory.Exists(spec)) throw new ScenarioException($"{InputText.Escape(spec)}: is a directory, not a scenario file");
        if (File.Exists(spec)) return Parse(InputText.ReadFile(spec, m => new ScenarioException(m)), spec);
        var name = spec.EndsWith(".yaml", StringComparison.Ordinal) ? Path.GetFileNameWithoutExtension(spec) : spec;
        var text = BuiltInText(name);
        if (text != null) return Parse(text, "builtin:" + name);
        if (spec.Contains('/') || spec.Contains('\\') || spec.EndsWith(".yaml", StringComparison.Ordinal) || spec.EndsWith(".yml", StringComparison.Ordinal))
            throw new ScenarioException($"{spec}: no such file");
        throw new ScenarioException($"{spec}: not a file and not a built-in scenario (built-in: {string.Join(", ", BuiltInNames())})");
    }

    public static Scenario Parse(string text, string source)
    {
        // Depth first: YamlStream.Load recurses once per nesting level and would overflow the stack.
        InputText.CheckYamlDepth(text, (line, col, what) => new ScenarioException($"{source}:{line}:{col}: {what}"));
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ScenarioException($"{source}:{e.Start.Line}:{e.Start.Column}: {e.Message}");
        }
        if (stream.Documents.Count != 1) throw new ScenarioException($"{source}:1:1: expected exactly one YAML document, found {stream.Documents.Count}");
        return new Reader(source, text).Read(stream.Documents[0].RootNode);
    }

    private sealed class Reader(string source, string text)
    {
        private ScenarioException Err(YamlNode n, string what) => new($"{source}:{n.Start.Line}:{n.Start.Column}: {what}");

        private YamlMappingNode Map(YamlNode n, string what) =>
            n as YamlMappingNode ?? throw Err(n, $"expected {what} (a mapping)");

        private YamlSequenceNode Seq(YamlNode n, string what) =>
            n as YamlSequenceNode ?? throw Err(n, $"expected {what} (a list)");

        private string Str(YamlNode n, string what) =>
            n is YamlScalarNode { Value: { } v } && v.Length > 0 ? v : throw Err(n, $"expected {what} (a string)");

        private long Int(YamlNode n, string what, long min, long max)
        {
            if (n is YamlScalarNode { Value: { } v } && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var x))
            {
                if (x < min || x > max) throw Err(n, $"{what} must be in {min}..{max}, got {x}");
                return x;
            }
            throw Err(n, $"expected {what} (an integer)");
        }

        private double Num(YamlNode n, string what)
        {
            if (n is YamlScalarNode { Value: { } v } && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && x > 0) return x;
            throw Err(n, $"expected {what} (a positive number)");
        }

        private static Dictionary<string, (YamlNode Key, YamlNode Value)> Keys(YamlMappingNode m)
        {
            var d = new Dictionary<string, (YamlNode, YamlNode)>(StringComparer.Ordinal);
            foreach (var kv in m.Children)
                if (kv.Key is YamlScalarNode { Value: { } k }) d[k] = (kv.Key, kv.Value);
            return d;
        }

        private void OnlyKeys(YamlMappingNode m, string where, params string[] allowed)
        {
            foreach (var kv in m.Children)
            {
                if (kv.Key is not YamlScalarNode { Value: { } k }) throw Err(kv.Key, $"expected a key in {where}");
                if (Array.IndexOf(allowed, k) < 0) throw Err(kv.Key, $"unknown key '{k}' in {where} (expected one of: {string.Join(", ", allowed)})");
            }
        }

        private YamlNode Required(YamlMappingNode m, Dictionary<string, (YamlNode Key, YamlNode Value)> k, string key, string where) =>
            k.TryGetValue(key, out var v) ? v.Value : throw Err(m, $"missing required key '{key}' in {where}");

        public Scenario Read(YamlNode root)
        {
            var m = Map(root, "a scenario");
            OnlyKeys(m, "the scenario", "name", "description", "cpus", "protocol", "kernel", "policy", "compare", "tags", "tasks", "rounds", "actors", "check", "bounds", "expect", "rodata", "syscalls", "syscalls_attached", "ops", "maps", "max_entries", "holds");
            var k = Keys(m);
            var name = Str(Required(m, k, "name", "the scenario"), "the scenario name");
            var cpus = (int)Int(Required(m, k, "cpus", "the scenario"), "cpus", 1, ScxConst.MaxCpus);
            var kernel = KernelEra.V7_1;
            if (k.TryGetValue("kernel", out var kn))
            {
                var ks = Str(kn.Value, "a kernel release");
                if (!KernelEras.TryParse(ks, out kernel)) throw Err(kn.Value, $"unknown kernel '{ks}' (expected {KernelEras.Expected})");
            }
            var protocol = Protocol.Upstream;
            if (k.TryGetValue("protocol", out var pn))
            {
                var s = Str(pn.Value, "a protocol");
                if (!ProtocolNames.TryParse(s, out protocol)) throw Err(pn.Value, $"unknown protocol '{s}' (expected {ProtocolNames.Expected})");
            }
            var policyNode = Required(m, k, "policy", "the scenario");
            var policy = Str(policyNode, "a policy name");
            // Policies resolve when a run starts (an assembly path is taken from the current directory
            // then); where each name was written lets that error name file:line:col.
            var policyAt = new Dictionary<string, string>(StringComparer.Ordinal) { [policy] = $"{source}:{policyNode.Start.Line}:{policyNode.Start.Column}" };
            var compare = new List<string>();
            if (k.TryGetValue("compare", out var cn))
                foreach (var e in Seq(cn.Value, "a list of policy names"))
                {
                    var c = Str(e, "a policy name");
                    compare.Add(c);
                    policyAt.TryAdd(c, $"{source}:{e.Start.Line}:{e.Start.Column}");
                }
            var tags = new List<string>();
            if (k.TryGetValue("tags", out var tn0))
                foreach (var e in Seq(tn0.Value, "a list of tags")) tags.Add(Str(e, "a tag"));

            var taskNodes = Seq(Required(m, k, "tasks", "the scenario"), "the task list");
            // The model's DSQ iterator tracks visited tasks in 128 bits (DsqIter.MaxTasks), and an
            // exhaustive search of more tasks than that is out of reach anyway: the cap keeps load
            // and set-up within any budget.
            if (taskNodes.Children.Count > Bpf.DsqIter.MaxTasks)
                throw Err(taskNodes, $"a scenario holds at most {Bpf.DsqIter.MaxTasks} tasks, this one has {taskNodes.Children.Count}");
            var tasks = new List<TaskSpec>();
            var taskIndex = new Dictionary<string, int>(StringComparer.Ordinal);
            var pids = new Dictionary<int, string>();
            var running = new Dictionary<int, string>();
            foreach (var tn in taskNodes)
            {
                var t = ReadTask(tn, cpus, tasks.Count);
                if (!taskIndex.TryAdd(t.Name, tasks.Count)) throw Err(tn, $"duplicate task name '{t.Name}'");
                // States the kernel cannot be in are load errors, not findings: a shared pid would make
                // bpf_task_from_pid() ambiguous (and the forgotten-task check report a false positive).
                var tk = Keys((YamlMappingNode)tn);
                if (!pids.TryAdd(t.Pid, t.Name))
                    throw Err(tk.TryGetValue("pid", out var pidNode) ? pidNode.Value : tn, $"duplicate pid {t.Pid}: tasks '{pids[t.Pid]}' and '{t.Name}' cannot share a pid");
                if (t.State == InitialTaskState.Running && !running.TryAdd(t.Cpu, t.Name))
                    throw Err(tk["cpu"].Value, $"task '{t.Name}' is running on CPU {t.Cpu}, but CPU {t.Cpu} already runs '{running[t.Cpu]}' (one rq->curr per CPU)");
                tasks.Add(t);
            }
            if (tasks.Count == 0) throw Err(taskNodes, "expected at least one task");

            var rounds = new int[cpus];
            var seenRounds = new HashSet<int>();
            if (k.TryGetValue("rounds", out var rn))
            {
                foreach (var e in Seq(rn.Value, "a list of {cpu, count}"))
                {
                    var em = Map(e, "a round entry {cpu, count}");
                    OnlyKeys(em, "a round entry", "cpu", "count");
                    var ek = Keys(em);
                    var cn0 = Required(em, ek, "cpu", "a round entry");
                    var c = (int)Int(cn0, "cpu", 0, cpus - 1);
                    if (!seenRounds.Add(c)) throw Err(cn0, $"duplicate rounds entry for CPU {c} (one entry per CPU; the later one would silently win)");
                    rounds[c] = (int)Int(Required(em, ek, "count", "a round entry"), "count", 0, 1000);
                }
            }

            var actors = new List<ScriptSpec>();
            if (k.TryGetValue("actors", out var an))
            {
                foreach (var e in Seq(an.Value, "a list of actors"))
                {
                    var a = ReadActor(e, cpus, taskIndex);
                    if (actors.Any(x => x.Name == a.Name) || a.Name.StartsWith("CPU", StringComparison.Ordinal) || a.Name == "scx_disable")
                        throw Err(e, $"actor name '{a.Name}' is taken (CPUn and scx_disable are built-in actors)");
                    actors.Add(a);
                }
            }

            // Every CPU and scripted actor is an actor of the explorer, plus scx_disable. A bigger scenario
            // loads (fuzz and simulate take it); exhaustive search refuses it with this located message.
            string? tooBig = null;
            if (cpus + actors.Count + 1 > Exploration.Explorer.MaxActors)
                tooBig = Err(k["cpus"].Value, $"exhaustive search takes at most {Exploration.Explorer.MaxActors} actors: {cpus} CPUs + {actors.Count} scripted actor(s) + scx_disable is {cpus + actors.Count + 1} (use 'scxlab fuzz')").Message;

            var checks = new List<string>();
            if (k.TryGetValue("check", out var chk))
            {
                foreach (var e in Seq(chk.Value, "a list of check names"))
                {
                    var s = Str(e, "a check name");
                    if (s == "all") continue;
                    if (!Checks.InvariantCatalog.IsKnown(s)) throw Err(e, $"unknown check '{s}' (expected all or one of: {string.Join(", ", Checks.InvariantCatalog.Names)})");
                    checks.Add(s);
                }
            }

            // rodata: what a BPF object's user space sets before load (name: value, name[i]: value, name[]: length).
            var rodata = new List<string>();
            if (k.TryGetValue("rodata", out var rn2))
                foreach (var kv in Map(rn2.Value, "rodata {name: value, ...}").Children)
                {
                    var variable = Str(kv.Key, "a rodata variable name");
                    if (kv.Value is not YamlScalarNode { Value: { Length: > 0 } value }) throw Err(kv.Value, $"expected a value for rodata {variable} (a number)");
                    rodata.Add($"{variable}={value}");
                }
            // max_entries: map sizes user space sets before load (bpf_map__set_max_entries()): {MAP: N}.
            if (k.TryGetValue("max_entries", out var me))
                foreach (var kv in Map(me.Value, "max_entries {MAP: N, ...}").Children)
                {
                    var mapName = Str(kv.Key, "a map name");
                    if (kv.Value is not YamlScalarNode { Value: { Length: > 0 } n } || Scxlab.BpfObject.BpfObjectFile.ParseNumber(n) is not > 0)
                        throw Err(kv.Value, $"expected the number of entries of map {mapName} (a positive number)");
                    rodata.Add($"{Scxlab.BpfObject.BpfObjectFile.MaxEntriesPrefix}{mapName}={n}");
                }
            // ops: which sched_ext_ops struct_ops map of a BPF object user space attaches, when it has several.
            if (k.TryGetValue("ops", out var on))
                rodata.Add(Scxlab.BpfObject.BpfObjectFile.OpsPrefix + Str(on.Value, "the name of a sched_ext_ops struct_ops map"));
            // syscalls: the SEC("syscall") programs user space runs after load, in order ("PROG[:field=value...]").
            if (k.TryGetValue("syscalls", out var sn))
                foreach (var e in Seq(sn.Value, "a list of syscall program runs (PROG or PROG:field=value:...)"))
                    rodata.Add(Scxlab.BpfObject.BpfObjectFile.SyscallPrefix + Str(e, "a syscall program run (PROG or PROG:field=value:...)"));
            // syscalls_attached: the ones user space runs while the scheduler is attached (each once, at any point).
            if (k.TryGetValue("syscalls_attached", out var sa))
                foreach (var e in Seq(sa.Value, "a list of syscall program runs (PROG or PROG:field=value:...)"))
                    rodata.Add(Scxlab.BpfObject.BpfObjectFile.SyscallAttachedPrefix + Str(e, "a syscall program run (PROG or PROG:field=value:...)"));

            // maps: what user space writes into a BPF object's maps after load, before attaching
            // (bpf_map_update_elem()): {MAP: {KEY: VALUE}}, VALUE a number, {field: value} (nested for inner structs)
            // or [element, ...] for an array field.
            if (k.TryGetValue("maps", out var mn))
                foreach (var mapKv in Map(mn.Value, "maps {MAP: {KEY: VALUE, ...}, ...}").Children)
                {
                    var mapName = Str(mapKv.Key, "a map name");
                    foreach (var entry in Map(mapKv.Value, $"the entries of map {mapName} ({{KEY: VALUE, ...}})").Children)
                    {
                        if (entry.Key is not YamlScalarNode { Value: { Length: > 0 } key } || Scxlab.BpfObject.BpfObjectFile.ParseNumber(key) == null)
                            throw Err(entry.Key, $"expected a key of map {mapName} (a number)");
                        AddMapValue($"{mapName}[{key}]", entry.Value);
                    }
                }

            // holds: where a BPF object keeps the pids of the tasks in its custody, one place or a list of them:
            // { map: NAME } (keys and values), { map: NAME, key: pid }, { map: NAME, value: pid }, { global: NAME }.
            if (k.TryGetValue("holds", out var hn))
            {
                const string HoldsShape = "a place where the scheduler keeps its tasks ({map: NAME}, {map: NAME, key: pid}, {map: NAME, value: pid} or {global: NAME})";
                var places = hn.Value is YamlSequenceNode hs ? hs.Children.ToList() : [hn.Value];
                foreach (var place in places)
                {
                    var pm = Map(place, HoldsShape);
                    OnlyKeys(pm, "a holds place", "map", "global", "key", "value");
                    var pk = Keys(pm);
                    if (pk.TryGetValue("global", out var gn))
                    {
                        if (pk.Count != 1) throw Err(place, "a global holds pids in its own words: {global: NAME} takes no other key");
                        rodata.Add($"{Scxlab.BpfObject.BpfObjectFile.HoldsPrefix}global:{Str(gn.Value, "a global variable name")}");
                        continue;
                    }
                    var mapName = Str(Required(pm, pk, "map", "a holds place"), "a map name");
                    if (pk.ContainsKey("key") && pk.ContainsKey("value")) throw Err(place, "give key: pid or value: pid, not both (neither: both)");
                    foreach (var which in new[] { "key", "value" })
                        if (pk.TryGetValue(which, out var wn) && Str(wn.Value, "pid") != "pid") throw Err(wn.Value, $"expected {which}: pid");
                    var where = pk.ContainsKey("key") ? ":keys" : pk.ContainsKey("value") ? ":values" : "";
                    rodata.Add($"{Scxlab.BpfObject.BpfObjectFile.HoldsPrefix}map:{mapName}{where}");
                }
            }

            void AddMapValue(string target, YamlNode value)
            {
                switch (value)
                {
                    case YamlScalarNode { Value: { Length: > 0 } v } when Scxlab.BpfObject.BpfObjectFile.ParseValue(v) != null || v == Scxlab.BpfObject.BpfObjectFile.NewInnerMap:
                        rodata.Add($"{Scxlab.BpfObject.BpfObjectFile.MapPrefix}{target}={v}");
                        break;
                    case YamlMappingNode fields:
                        foreach (var f in fields.Children)
                            AddMapValue($"{target}.{Str(f.Key, "a field name")}", f.Value);
                        break;
                    case YamlSequenceNode elements:
                        // An array field: [v0, v1, ...] writes elements 0, 1, ...
                        for (var i = 0; i < elements.Children.Count; i++)
                            AddMapValue($"{target}[{i}]", elements.Children[i]);
                        break;
                    default:
                        throw Err(value, $"expected a value for {target} (a number, {{field: value, ...}}, [element, ...], or new for a slot of an array of maps)");
                }
            }

            int? maxPre = null;
            int? timerFires = null;
            int? userDsqs = null;
            int? callBudget = null;
            int? bpfCpumasks = null;
            int? arenaPages = null;
            int? hashElems = null;
            int? bpfTimers = null;
            double? budget = null;
            if (k.TryGetValue("bounds", out var bn))
            {
                var bm = Map(bn.Value, "bounds {max_preemptions?, budget_seconds?, timer_fires?, bpf_timers?, user_dsqs?, call_budget?, bpf_cpumasks?, arena_pages?, hash_elems?}");
                OnlyKeys(bm, "bounds", "max_preemptions", "budget_seconds", "timer_fires", "bpf_timers", "user_dsqs", "call_budget", "bpf_cpumasks", "arena_pages", "hash_elems");
                var bk = Keys(bm);
                if (bk.TryGetValue("max_preemptions", out var mp)) maxPre = (int)Int(mp.Value, "max_preemptions", 0, 1000);
                if (bk.TryGetValue("budget_seconds", out var bs)) budget = Num(bs.Value, "budget_seconds");
                if (bk.TryGetValue("timer_fires", out var tf)) timerFires = (int)Int(tf.Value, "timer_fires", 0, 100);
                if (bk.TryGetValue("user_dsqs", out var ud)) userDsqs = (int)Int(ud.Value, "user_dsqs", 1, 4096);
                if (bk.TryGetValue("call_budget", out var cb)) callBudget = (int)Int(cb.Value, "call_budget", 1, 1_000_000);
                if (bk.TryGetValue("bpf_cpumasks", out var bc)) bpfCpumasks = (int)Int(bc.Value, "bpf_cpumasks", 1, 4096);
                if (bk.TryGetValue("arena_pages", out var ap)) arenaPages = (int)Int(ap.Value, "arena_pages", 1, 1024);
                if (bk.TryGetValue("hash_elems", out var he)) hashElems = (int)Int(he.Value, "hash_elems", 1, 1 << 20);
                if (bk.TryGetValue("bpf_timers", out var bt)) bpfTimers = (int)Int(bt.Value, "bpf_timers", 0, 48);
            }

            ScenarioExpect? expect = null;
            if (k.TryGetValue("expect", out var xn))
            {
                var xm = Map(xn.Value, "expect {verdict, exit?, states?}");
                OnlyKeys(xm, "expect", "verdict", "exit", "states");
                var xk = Keys(xm);
                string? verdict = null;
                if (xk.TryGetValue("verdict", out var v))
                {
                    verdict = Str(v.Value, "a verdict");
                    if (verdict is not ("holds" or "violation" or "incomplete")) throw Err(v.Value, $"unknown verdict '{verdict}' (expected holds | violation | incomplete)");
                }
                expect = new ScenarioExpect(verdict,
                    xk.TryGetValue("exit", out var ex) ? Str(ex.Value, "an exit message") : null,
                    xk.TryGetValue("states", out var st) ? Int(st.Value, "states", 1, long.MaxValue) : null);
            }

            return new Scenario
            {
                TooBigToExplore = tooBig,
                Name = name,
                Description = k.TryGetValue("description", out var dn) ? Str(dn.Value, "a description") : "",
                Source = source,
                Text = text,
                Cpus = cpus,
                Protocol = protocol,
                Kernel = kernel,
                Policy = policy,
                PolicyAt = policyAt,
                Compare = compare,
                Tags = tags,
                Tasks = tasks,
                Rounds = rounds,
                Actors = actors,
                Checks = checks,
                MaxPreemptions = maxPre,
                TimerFires = timerFires,
                UserDsqs = userDsqs,
                CallBudget = callBudget,
                BpfCpumasks = bpfCpumasks,
                ArenaPages = arenaPages,
                HashElems = hashElems,
                BpfTimers = bpfTimers,
                Rodata = rodata,
                BudgetSeconds = budget,
                Expect = expect,
            };
        }

        private CpuMask Cpus(YamlNode n, int cpus, string what)
        {
            var mask = default(CpuMask);
            var seq = Seq(n, $"{what} (a list of CPU numbers)");
            foreach (var e in seq) mask.Set((int)Int(e, "a CPU number", 0, cpus - 1));
            if (mask.IsEmpty) throw Err(n, $"{what} must name at least one CPU");
            return mask;
        }

        private TaskSpec ReadTask(YamlNode n, int cpus, int index)
        {
            var m = Map(n, "a task {name, pid?, allowed, cpu, state, weight?, slice?}");
            OnlyKeys(m, "a task", "name", "pid", "allowed", "cpu", "state", "weight", "slice", "migration_disabled");
            var k = Keys(m);
            var name = Str(Required(m, k, "name", "a task"), "a task name");
            var pid = k.TryGetValue("pid", out var pn) ? (int)Int(pn.Value, "pid", 1, int.MaxValue) : 101 + index;
            var allowed = Cpus(Required(m, k, "allowed", "a task"), cpus, "allowed");
            var cpu = (int)Int(Required(m, k, "cpu", "a task"), "cpu", 0, cpus - 1);
            var sn = Required(m, k, "state", "a task");
            var state = Str(sn, "a task state") switch
            {
                "queued" => InitialTaskState.Queued,
                "running" => InitialTaskState.Running,
                "sleeping" => InitialTaskState.Sleeping,
                var s => throw Err(sn, $"unknown task state '{s}' (expected queued | running | sleeping)"),
            };
            var weight = k.TryGetValue("weight", out var wn) ? (int)Int(wn.Value, "weight", 1, 10000) : ScxConst.WeightDfl;
            var slice = k.TryGetValue("slice", out var sl) ? Int(sl.Value, "slice", 1, long.MaxValue) : ScxConst.SliceDfl;
            var md = false;
            if (k.TryGetValue("migration_disabled", out var mdn))
            {
                var s = Str(mdn.Value, "true or false");
                md = s switch { "true" => true, "false" => false, _ => throw Err(mdn.Value, "expected true or false") };
            }
            // The kernel moves a queued or running task off a CPU its new mask excludes (affine_move_task():
            // move_queued_task() or the stopper), unless migration is disabled; a sleeping task keeps its
            // old task_cpu() until select_task_rq() at wakeup, so only that case may name such a CPU.
            if (state != InitialTaskState.Sleeping && !md && !allowed.Test(cpu))
                throw Err(k["cpu"].Value, $"task '{name}' is {(state == InitialTaskState.Running ? "running" : "queued")} on CPU {cpu}, which is not in its allowed CPUs {allowed} (the kernel migrates such a task unless migration_disabled: true)");
            return new TaskSpec(name, pid, allowed, cpu, state, weight, slice, md);
        }

        private ScriptSpec ReadActor(YamlNode n, int cpus, Dictionary<string, int> tasks)
        {
            var m = Map(n, "an actor {name, cpu, do}");
            OnlyKeys(m, "an actor", "name", "cpu", "do");
            var k = Keys(m);
            var name = Str(Required(m, k, "name", "an actor"), "an actor name");
            var cpu = (int)Int(Required(m, k, "cpu", "an actor"), "cpu", 0, cpus - 1);
            var actions = new List<ScriptAction>();
            foreach (var e in Seq(Required(m, k, "do", "an actor"), "a list of actions")) actions.Add(ReadAction(e, cpus, tasks));
            if (actions.Count == 0) throw Err(m, "an actor needs at least one action in 'do'");
            return new ScriptSpec(name, cpu, actions);
        }

        private const string ActionKinds = "set_affinity | wake | sleep | exit | set_weight | kick | tick";

        private ScriptAction ReadAction(YamlNode n, int cpus, Dictionary<string, int> tasks)
        {
            var m = Map(n, $"an action ({ActionKinds})");
            if (m.Children.Count != 1) throw Err(m, $"expected exactly one action per list entry ({ActionKinds})");
            var (keyNode, body) = m.Children.First();
            var kind = Str(keyNode, "an action name");
            var bm = Map(body, $"the arguments of {kind}");
            var bk = Keys(bm);
            int Task()
            {
                var tn = Required(bm, bk, "task", kind);
                var t = Str(tn, "a task name");
                return tasks.TryGetValue(t, out var i) ? i : throw Err(tn, $"unknown task '{t}' (tasks: {string.Join(", ", tasks.Keys)})");
            }
            switch (kind)
            {
                case "set_affinity":
                    OnlyKeys(bm, kind, "task", "allowed");
                    return new ScriptAction(ActionKind.SetAffinity, Task: Task(), Mask: Cpus(Required(bm, bk, "allowed", kind), cpus, "allowed"));
                case "wake":
                    OnlyKeys(bm, kind, "task");
                    return new ScriptAction(ActionKind.Wake, Task: Task());
                case "sleep":
                    OnlyKeys(bm, kind, "task");
                    return new ScriptAction(ActionKind.Sleep, Task: Task());
                case "exit":
                    OnlyKeys(bm, kind, "task");
                    return new ScriptAction(ActionKind.Exit, Task: Task());
                case "set_weight":
                    OnlyKeys(bm, kind, "task", "weight");
                    return new ScriptAction(ActionKind.SetWeight, Task: Task(), Weight: (int)Int(Required(bm, bk, "weight", kind), "weight", 1, 10000));
                case "kick":
                {
                    OnlyKeys(bm, kind, "cpu", "flags");
                    var flags = KickFlags.None;
                    if (bk.TryGetValue("flags", out var fl))
                        foreach (var f in Seq(fl.Value, "a list of kick flags"))
                            flags |= Str(f, "a kick flag") switch
                            {
                                "idle" or "SCX_KICK_IDLE" => KickFlags.Idle,
                                "preempt" or "SCX_KICK_PREEMPT" => KickFlags.Preempt,
                                "wait" or "SCX_KICK_WAIT" => KickFlags.Wait,
                                var s => throw Err(f, $"unknown kick flag '{s}' (expected idle | preempt | wait)"),
                            };
                    return new ScriptAction(ActionKind.Kick, Cpu: (int)Int(Required(bm, bk, "cpu", kind), "cpu", 0, cpus - 1), KickFlags: flags);
                }
                case "tick":
                    OnlyKeys(bm, kind, "cpu");
                    return new ScriptAction(ActionKind.Tick, Cpu: (int)Int(Required(bm, bk, "cpu", kind), "cpu", 0, cpus - 1));
                default:
                    throw Err(keyNode, $"unknown action '{kind}' (expected {ActionKinds})");
            }
        }
    }
}
