using System.Diagnostics;
using Scxlab.Checks;
using Scxlab.Kernel;
using Scxlab.Scenarios;
using Scxlab.Stepping;

namespace Scxlab.Fuzzing;

/// <summary>The shrunk reproduction: a scenario (with its YAML text), the actor choices that reach the violation in it, and how it got there.</summary>
public sealed record MinimizeResult(Scenario Scenario, ModelConfig Config, IReadOnlyList<int> Choices, Violation Violation, int Tests, IReadOnlyList<string> Log);

/// <summary>
/// Shrinks a violating schedule. (1) Delta debugging (Zeller and Hildebrandt, TSE 2002) over the
/// choice sequence: a candidate is replayed leniently — a choice whose actor is not enabled is
/// skipped, and once the choices run out the lowest-numbered enabled actor runs until the violation
/// or quiescence (then the liveness drain) — and it passes when it reaches the same violation key
/// (the same invariant; the same exit kind and message). The sequence actually executed becomes the
/// new schedule, so every accepted schedule is exactly replayable. (2) Scenario shrinking: drop a
/// script actor, a task (with the actions naming it), a CPU (renumbering the higher ones), an action,
/// a scheduling round; a candidate passes when the mapped schedule reproduces the violation or, failing
/// that, one of a few seeded random walks of the smaller scenario does. Each accepted step is followed by
/// (1) again. Everything is determined by the seed: the same input gives the same result.
/// </summary>
public sealed class Minimizer
{
    private readonly string _policy;
    private readonly Protocol _protocol;
    private readonly Granularity _granularity;
    private readonly KernelEra _kernel;
    private readonly IReadOnlyList<string> _checks;
    private readonly ulong _seed;
    private readonly int _maxTests;
    private readonly List<string> _log = [];
    private int _tests;

    /// <summary>Seeded random walks tried on a smaller scenario when the mapped schedule does not reproduce.</summary>
    public int SearchWalks { get; init; } = DefaultSearchWalks;
    public const int DefaultSearchWalks = 48;

    /// <param name="maxReplays">The shrinking budget, in replays and search walks (not seconds, so the result is the same on every machine).</param>
    public Minimizer(ModelConfig original, IReadOnlyList<string> checks, ulong seed, int maxReplays = 20_000)
    {
        // Absolute: the shrunk scenario file is read again from wherever the user runs check or replay.
        _policy = Policies.BpfObjectSpec.Rooted(original.PolicyName);
        _protocol = original.Protocol;
        _granularity = original.Granularity;
        _kernel = original.Kernel;
        _checks = checks;
        _seed = seed;
        _maxTests = maxReplays;
    }

    private bool OverBudget => _tests >= _maxTests;

    /// <summary>
    /// Phase 0 for long schedules with many script actions (a simulation's recording): delta debugging over the
    /// actions themselves before anything else (<see cref="ShrinkActions"/>), and each CPU's rounds cut to those
    /// the schedule uses.
    /// </summary>
    public bool ShrinkActionsFirst { get; init; }

    /// <summary>
    /// Count a finding with the same check and the same message up to task names, pids and numbers as the target
    /// (<see cref="FuzzFinding.DedupKey"/>'s masking) instead of only the identical one. A simulation's finding names
    /// a qseq or a CPU that a shorter reproduction reaches with other values.
    /// </summary>
    public bool MatchMasked { get; init; }

    private bool Same(string found, string target) => MatchMasked ? FuzzFinding.Mask(found) == FuzzFinding.Mask(target) : found == target;

    /// <summary>Seeded random walks tried when the given schedule does not reach the target (0: give up at once).</summary>
    public int SearchInitial { get; init; }

    /// <summary>False: only the file round trip (no candidate, no delta debugging), and the scenario keeps its name.</summary>
    public bool Shrinks { get; init; } = true;

    /// <summary>Who found the violation, for the shrunk scenario's description ("scxlab fuzz").</summary>
    public string Origin { get; init; } = "scxlab fuzz";

    /// <summary>What phase 0 and the passes did, readable while <see cref="TryRun"/> returns null too.</summary>
    public IReadOnlyList<string> Log => _log;

    public MinimizeResult Run(Scenario scenario, Violation target, IReadOnlyList<int> choices) =>
        TryRun(scenario, target, choices) ?? throw new InvalidOperationException($"the schedule does not reproduce {target} (a model nondeterminism)");

    /// <summary>Whether <paramref name="choices"/>, replayed leniently on <paramref name="scenario"/> (or, with <see cref="SearchInitial"/>, one of its walks), reach <paramref name="target"/>; no shrinking, no file round trip.</summary>
    public bool Reaches(Scenario scenario, Violation target, IReadOnlyList<int> choices) => Replay(scenario, target, choices, out _) != null;

    /// <summary>The executed schedule when <paramref name="choices"/> reach <paramref name="target"/> (else null, logged why), and the probe that ran it.</summary>
    private List<int>? Replay(Scenario scenario, Violation target, IReadOnlyList<int> choices, out Probe probe)
    {
        probe = new Probe(Same, Config(scenario), _checks);
        _tests++;
        var sched = probe.Reproduce(choices, target.Key);
        if (sched == null && SearchInitial > 0)
        {
            sched = Search(Config(scenario), target.Key, SearchInitial);
            if (sched != null) _log.Add($"the schedule did not reach {target.Key}; one of {SearchInitial} seeded random walks did");
        }
        if (sched == null) _log.Add($"the schedule ({choices.Count} steps) does not reach {target.Key}; it ends at {probe.LastViolation?.Key ?? "no finding"}");
        return sched;
    }

    /// <summary>The shrunk reproduction, or null when <paramref name="choices"/> do not reach <paramref name="target"/> on the scenario (replayed leniently).</summary>
    public MinimizeResult? TryRun(Scenario scenario, Violation target, IReadOnlyList<int> choices)
    {
        var cur = scenario;
        if (Replay(cur, target, choices, out var probe) is not { } sched) return null;
        if (ShrinkActionsFirst) (cur, probe, sched) = ShrinkActions(cur, probe, sched, target.Key);

        // Scenario first (each dropped actor or CPU also drops its steps), delta debugging at the end: ddmin on
        // the big scenario's long schedule would cost most of the replays. One pass walks the candidate list;
        // after an accepted candidate the same position names the next candidate of the smaller scenario.
        // A pass that changes nothing is repeated once with 8× the search walks: a rare race in a big
        // scenario needs more walks to show up again once the mapped schedule no longer reaches it.
        var walks = SearchWalks;
        var changed = true;
        while (Shrinks && !OverBudget)
        {
            if (!changed)
            {
                if (walks >= SearchWalks * 8) break;
                walks *= 8;
            }
            changed = false;
            for (var pos = 0; !OverBudget; )
            {
                var list = Candidates(cur).ToList();
                if (pos >= list.Count) break;
                var (cand, what, rename) = list[pos];
                ModelConfig cfg;
                Probe p;
                try
                {
                    // A candidate must be a scenario the loader accepts (e.g. no task queued on a CPU outside its
                    // mask after CPUs were renumbered): the result is read back from its YAML at the end.
                    ScenarioLoader.Parse(ScenarioYaml.Write(cand, _policy, _protocol, _kernel, "violation"), "candidate.yaml");
                    cfg = Config(cand);
                    p = new Probe(Same, cfg, _checks);
                }
                catch (Exception e) when (e is ArgumentException or ScenarioException)
                {
                    pos++;
                    continue; // not a scenario the loader accepts, or not a model this shape can build
                }
                var mapped = Map(probe.Machine, p.Machine, sched, rename);
                var r = p.Reproduce(mapped, target.Key);
                _tests++;
                r ??= Search(cfg, target.Key, walks);
                if (r == null)
                {
                    pos++;
                    continue;
                }
                cur = cand;
                probe = p;
                sched = r;
                _log.Add($"{what}: {cur.Cpus} CPUs, {cur.Tasks.Count} task(s), {cur.Actors.Count} actor(s), {sched.Count} steps");
                changed = true;
            }
        }
        if (Shrinks)
        {
            var before = sched.Count;
            sched = DeltaDebug(probe, sched, target.Key);
            _log.Add($"delta debugging: {before} → {sched.Count} steps");
            if (OverBudget) _log.Add($"stopped by the minimisation budget of {_maxTests} replays (the result is valid, maybe not minimal)");
        }

        // What the shrunk scenario reaches: with masked matching, the same finding up to names and numbers (a dropped CPU
        // renumbers the ones above it, and the target's "CPU 7" becomes "CPU 1"); its own words go into the file.
        var reached = target.Key;
        if (MatchMasked && Shrinks)
        {
            var p = new Probe(Same, Config(cur), _checks);
            if (p.Reproduce(sched, target.Key) != null && p.LastViolation is { } lv) reached = lv.Key;
        }
        // Round trip through the file format: the result is what `scxlab check FILE` and `replay` will load.
        var named = Shrinks
            ? Copy(cur, name: scenario.Name.EndsWith("-min", StringComparison.Ordinal) ? scenario.Name : scenario.Name + "-min",
                description: $"Shrunk by {Origin} from {scenario.Name} ({scenario.Source}): reaches {reached}" +
                    (reached != target.Key ? $" (the run's {target.Key}, up to task names, pids and numbers)." : "."))
            : Copy(cur, description: $"Written by {Origin} (not shrunk) from {scenario.Source}: reaches {target.Key}.");
        var text = ScenarioYaml.Write(named, _policy, _protocol, _kernel, "violation");
        var parsed = ScenarioLoader.Parse(text, named.Name + ".yaml");
        var finalProbe = new Probe(Same, Config(parsed), _checks);
        var final = finalProbe.Reproduce(sched, target.Key)
            ?? throw new InvalidOperationException("the shrunk scenario, read back from its YAML, does not reproduce the violation");
        var v = finalProbe.LastViolation!;
        return new MinimizeResult(parsed, Config(parsed), final, v, _tests, _log);
    }

    private ModelConfig Config(Scenario s) => s.ToConfig(_policy, _protocol, _granularity, _kernel);

    /// <summary>
    /// Delta debugging over the scenario's script actions (all actors' together): a candidate keeps a subset of
    /// the actions, and the schedule keeps the steps of the kept actions and every step of the other actors (each
    /// step of a script actor belongs to the action its ScriptPc names, found by replaying). A simulation's
    /// recording has thousands of actions (every tick, wakeup and affinity change up to the finding), of which a
    /// race needs a few; one action at a time (the scenario pass) would cost a replay per action. Then every
    /// CPU's rounds and the timers' firings are cut to what the schedule uses.
    /// </summary>
    private (Scenario, Probe, List<int>) ShrinkActions(Scenario s, Probe probe, List<int> sched, string key)
    {
        var actions = new List<(int Actor, int Action)>();
        for (var i = 0; i < s.Actors.Count; i++)
            for (var k = 0; k < s.Actors[i].Actions.Count; k++) actions.Add((i, k));
        var before = actions.Count;
        var tags = probe.ActionTags(sched, s);
        var n = 2;
        while (actions.Count >= 2 && !OverBudget)
        {
            var chunk = (actions.Count + n - 1) / n;
            var reduced = false;
            for (var start = 0; start < actions.Count && !OverBudget; start += chunk)
            {
                var keep = new HashSet<(int, int)>();
                for (var i = 0; i < actions.Count; i++)
                    if (i < start || i >= start + chunk) keep.Add(actions[i]);
                if (TryKeep(keep)) { reduced = true; break; }
            }
            if (reduced)
            {
                actions.Clear();
                for (var i = 0; i < s.Actors.Count; i++)
                    for (var k = 0; k < s.Actors[i].Actions.Count; k++) actions.Add((i, k));
                n = Math.Max(n - 1, 2);
                continue;
            }
            if (n >= actions.Count) break;
            n = Math.Min(n * 2, actions.Count);
        }
        _log.Add($"delta debugging over actions: {before} → {actions.Count} actions, {sched.Count} steps");

        var tight = probe.UsedRounds(sched, s);
        // A scenario without a timer bound keeps none (its policy may have no timer at all).
        int? fires = s.TimerFires == null ? null : tight.TimerFires;
        if (tight.Rounds.SequenceEqual(s.Rounds) && fires == s.TimerFires) return (s, probe, sched);
        var cut = Copy(s, rounds: tight.Rounds, timerFires: fires);
        var p = new Probe(Same, Config(cut), _checks);
        _tests++;
        if (p.Reproduce(sched, key) is { } r)
        {
            _log.Add($"rounds cut to those used: [{string.Join(", ", tight.Rounds)}]{(fires != null ? $", timer firings {fires}" : "")}");
            return (cut, p, r);
        }
        return (s, probe, sched);

        bool TryKeep(HashSet<(int, int)> keep)
        {
            // The scenario with only the kept actions (actors left with none dropped), and the schedule's steps of them.
            var actors = new List<ScriptSpec>();
            for (var i = 0; i < s.Actors.Count; i++)
            {
                var kept = s.Actors[i].Actions.Where((_, k) => keep.Contains((i, k))).ToList();
                if (kept.Count > 0) actors.Add(s.Actors[i] with { Actions = kept });
            }
            var cand = Copy(s, actors: actors);
            Probe cp;
            try
            {
                cp = new Probe(Same, Config(cand), _checks);
            }
            catch (ArgumentException)
            {
                return false;
            }
            var ids = cp.Machine.Actors.ToDictionary(a => a.Name, a => a.Id, StringComparer.Ordinal);
            var mapped = new List<int>(sched.Count);
            for (var j = 0; j < sched.Count; j++)
            {
                if (tags[j] is { } t && !keep.Contains(t)) continue;
                if (ids.TryGetValue(probe.Machine.Actor(sched[j]).Name, out var id)) mapped.Add(id);
            }
            _tests++;
            if (cp.Reproduce(mapped, key) is not { } r) return false;
            s = cand;
            probe = cp;
            sched = r;
            tags = probe.ActionTags(sched, s);
            return true;
        }
    }

    /// <summary>ddmin over complements: remove one of n chunks at a time; on success keep the executed sequence and coarsen, else refine.</summary>
    private List<int> DeltaDebug(Probe p, List<int> sched, string key)
    {
        var cur = sched;
        var n = 2;
        while (cur.Count >= 2 && !OverBudget)
        {
            var chunk = (cur.Count + n - 1) / n;
            var reduced = false;
            for (var start = 0; start < cur.Count && !OverBudget; start += chunk)
            {
                var cand = new List<int>(cur.Count);
                for (var i = 0; i < cur.Count; i++)
                    if (i < start || i >= start + chunk) cand.Add(cur[i]);
                var r = p.Reproduce(cand, key);
                _tests++;
                if (r != null && r.Count < cur.Count)
                {
                    cur = r;
                    n = Math.Max(n - 1, 2);
                    reduced = true;
                    break;
                }
            }
            if (reduced) continue;
            if (n >= cur.Count) break;
            n = Math.Min(n * 2, cur.Count);
        }
        return cur;
    }

    /// <summary>Seeded random walks of a candidate scenario; the first that reaches the key.</summary>
    private List<int>? Search(ModelConfig cfg, string key, int walks)
    {
        var w = new Walker(cfg, _checks);
        if (w.CheckInitial() != null) return null;
        var choices = new List<int>();
        var stream = (long)_tests << 20;
        for (var i = 0; i < walks && !OverBudget; i++)
        {
            _tests++;
            var end = w.Walk(FuzzStrategy.Random, _seed ^ 0x3141_5926_5358_9793UL, stream + i, 1, 1, 100_000, choices, null, null);
            if (end.Violation is { } v && Same(v.Key, key)) return [.. choices];
        }
        return null;
    }

    /// <summary>Old actor choices as actor ids of the new machine (by name, after renaming CPUs); choices of dropped actors are left out.</summary>
    private static List<int> Map(Machine from, Machine to, List<int> sched, Func<string, string?> rename)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var a in to.Actors) ids[a.Name] = a.Id;
        var map = new int[from.ActorCount];
        for (var a = 0; a < map.Length; a++)
            map[a] = rename(from.Actor(a).Name) is { } nn && ids.TryGetValue(nn, out var id) ? id : -1;
        return [.. sched.Select(a => map[a]).Where(a => a >= 0)];
    }

    private static IEnumerable<(Scenario Candidate, string What, Func<string, string?> Rename)> Candidates(Scenario s)
    {
        static string? Same(string n) => n;
        for (var i = 0; i < s.Actors.Count; i++)
        {
            var gone = s.Actors[i].Name;
            yield return (Copy(s, actors: [.. s.Actors.Where((_, j) => j != i)]), $"dropped actor {gone}", n => n == gone ? null : n);
        }
        if (s.Tasks.Count > 1)
            for (var t = s.Tasks.Count - 1; t >= 0; t--)
                yield return (DropTask(s, t), $"dropped task {s.Tasks[t].Name}", Same);
        for (var c = s.Cpus - 1; c >= 0 && s.Cpus > 1; c--)
            if (DropCpu(s, c) is { } d) yield return (d.Scenario, $"dropped CPU{c}", d.Rename);
        // Moves that free a CPU for dropping: a script actor's syscalls, or a task's rq, onto a lower CPU something else
        // already uses. Every candidate lowers a count or a CPU number and raises none, so the loop ends.
        var used = Enumerable.Range(0, s.Cpus).Where(c => s.Rounds[c] > 0 || s.Tasks.Any(t => t.Cpu == c) || s.Actors.Any(a => a.Cpu == c)).ToList();
        for (var i = 0; i < s.Actors.Count; i++)
            foreach (var c in used.Where(c => c < s.Actors[i].Cpu))
            {
                var actors = s.Actors.ToList();
                actors[i] = actors[i] with { Cpu = c };
                yield return (Copy(s, actors: actors), $"moved actor {s.Actors[i].Name} to CPU{c}", Same);
            }
        for (var t = 0; t < s.Tasks.Count; t++)
            foreach (var c in used.Where(c => c < s.Tasks[t].Cpu))
            {
                var tasks = s.Tasks.ToList();
                tasks[t] = tasks[t] with { Cpu = c };
                yield return (Copy(s, tasks: tasks), $"moved task {s.Tasks[t].Name} to CPU{c}", Same);
            }
        // Masks: drop a CPU from a task's or an affinity change's mask, or move one of its CPUs to a lower used one,
        // so that a CPU only a mask names can be dropped afterwards.
        foreach (var (mask, with, what) in Masks(s))
            for (var x = 0; x < s.Cpus; x++)
            {
                if (!mask.Test(x)) continue;
                var smaller = mask;
                smaller.Clear(x);
                if (!smaller.IsEmpty) yield return (with(smaller), $"{what}: dropped CPU{x}", Same);
                foreach (var c in used.Where(c => c < x && !mask.Test(c)))
                {
                    var moved = smaller;
                    moved.Set(c);
                    yield return (with(moved), $"{what}: CPU{x} → CPU{c}", Same);
                }
            }
        for (var i = 0; i < s.Actors.Count; i++)
            for (var k = 0; k < s.Actors[i].Actions.Count && s.Actors[i].Actions.Count > 1; k++)
            {
                var a = s.Actors[i];
                var actors = s.Actors.ToList();
                actors[i] = a with { Actions = [.. a.Actions.Where((_, j) => j != k)] };
                yield return (Copy(s, actors: actors), $"dropped action {k} of {a.Name}", Same);
            }
        for (var c = 0; c < s.Rounds.Count; c++)
        {
            if (s.Rounds[c] == 0) continue;
            var rounds = s.Rounds.ToArray();
            rounds[c]--;
            yield return (Copy(s, rounds: rounds), $"CPU{c} rounds {s.Rounds[c]} → {rounds[c]}", Same);
        }
    }

    /// <summary>Every CPU mask of the scenario with a way to rebuild the scenario with another value for it.</summary>
    private static IEnumerable<(CpuMask Mask, Func<CpuMask, Scenario> With, string What)> Masks(Scenario s)
    {
        for (var t = 0; t < s.Tasks.Count; t++)
        {
            var ti = t;
            yield return (s.Tasks[t].Allowed, m =>
            {
                var tasks = s.Tasks.ToList();
                tasks[ti] = tasks[ti] with { Allowed = m };
                return Copy(s, tasks: tasks);
            }, $"task {s.Tasks[t].Name} allowed");
        }
        for (var i = 0; i < s.Actors.Count; i++)
            for (var k = 0; k < s.Actors[i].Actions.Count; k++)
            {
                if (s.Actors[i].Actions[k].Kind != ActionKind.SetAffinity) continue;
                var (ai, ki) = (i, k);
                yield return (s.Actors[i].Actions[k].Mask, m =>
                {
                    var actors = s.Actors.ToList();
                    var acts = actors[ai].Actions.ToList();
                    acts[ki] = acts[ki] with { Mask = m };
                    actors[ai] = actors[ai] with { Actions = acts };
                    return Copy(s, actors: actors);
                }, $"action {k} of {s.Actors[i].Name}");
            }
    }

    private static Scenario DropTask(Scenario s, int t)
    {
        var tasks = s.Tasks.Where((_, i) => i != t).ToList();
        var actors = new List<ScriptSpec>();
        foreach (var a in s.Actors)
        {
            var acts = a.Actions.Where(x => x.Task != t).Select(x => x.Task > t ? x with { Task = x.Task - 1 } : x).ToList();
            if (acts.Count > 0) actors.Add(a with { Actions = acts });
        }
        return Copy(s, tasks: tasks, actors: actors);
    }

    /// <summary>CPU c removed and the higher CPUs renumbered down; null when a task or actor lives on it or a mask would become empty.</summary>
    private static (Scenario Scenario, Func<string, string?> Rename)? DropCpu(Scenario s, int c)
    {
        if (s.Tasks.Any(t => t.Cpu == c) || s.Actors.Any(a => a.Cpu == c)) return null;
        int Cpu(int x) => x > c ? x - 1 : x;
        CpuMask Mask(CpuMask m)
        {
            var r = default(CpuMask);
            for (var x = 0; x < s.Cpus; x++)
                if (x != c && m.Test(x)) r.Set(Cpu(x));
            return r;
        }
        var tasks = new List<TaskSpec>();
        foreach (var t in s.Tasks)
        {
            var m = Mask(t.Allowed);
            if (m.IsEmpty) return null;
            tasks.Add(t with { Allowed = m, Cpu = Cpu(t.Cpu) });
        }
        var actors = new List<ScriptSpec>();
        foreach (var a in s.Actors)
        {
            var acts = new List<ScriptAction>();
            foreach (var x in a.Actions)
            {
                switch (x.Kind)
                {
                    case ActionKind.SetAffinity:
                        var m = Mask(x.Mask);
                        if (m.IsEmpty) return null;
                        acts.Add(x with { Mask = m });
                        break;
                    case ActionKind.Kick or ActionKind.Tick:
                        if (x.Cpu != c) acts.Add(x with { Cpu = Cpu(x.Cpu) });
                        break;
                    case ActionKind.Wake or ActionKind.Sleep or ActionKind.Exit or ActionKind.SetWeight:
                        acts.Add(x);
                        break;
                    default:
                        throw new UnreachableException($"action kind {x.Kind}");
                }
            }
            if (acts.Count > 0) actors.Add(a with { Cpu = Cpu(a.Cpu), Actions = acts });
        }
        var rounds = s.Rounds.Where((_, i) => i != c).ToArray();
        string? Rename(string n)
        {
            if (!n.StartsWith("CPU", StringComparison.Ordinal) || !int.TryParse(n.AsSpan(3), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var x)) return n;
            return x == c ? null : $"CPU{Cpu(x)}";
        }
        return (Copy(s, cpus: s.Cpus - 1, tasks: tasks, actors: actors, rounds: rounds), Rename);
    }

    /// <summary>The scenario with the given parts replaced (the rest as in <paramref name="s"/>; no compare list or tags).</summary>
    internal static Scenario Copy(Scenario s, int? cpus = null, IReadOnlyList<TaskSpec>? tasks = null, IReadOnlyList<ScriptSpec>? actors = null,
        IReadOnlyList<int>? rounds = null, string? name = null, string? description = null, int? timerFires = null) => new()
    {
        Name = name ?? s.Name,
        Description = description ?? s.Description,
        Source = s.Source,
        Text = s.Text,
        Cpus = cpus ?? s.Cpus,
        Protocol = s.Protocol,
        Kernel = s.Kernel,
        Policy = s.Policy,
        Compare = [],
        Tags = [],
        Tasks = tasks ?? s.Tasks,
        Rounds = rounds ?? s.Rounds,
        Actors = actors ?? s.Actors,
        Checks = s.Checks,
        MaxPreemptions = s.MaxPreemptions,
        BudgetSeconds = s.BudgetSeconds,
        TimerFires = timerFires ?? s.TimerFires,
        UserDsqs = s.UserDsqs,
        CallBudget = s.CallBudget,
        Rodata = s.Rodata,
    };

    /// <summary>One model instance, re-run from its initial world for each candidate schedule.</summary>
    private sealed class Probe
    {
        public readonly Machine Machine;
        private readonly World _initial;
        private readonly StateChecker _checker;
        public Violation? LastViolation { get; private set; }

        private readonly Func<string, string, bool> same;

        public Probe(Func<string, string, bool> same, ModelConfig cfg, IReadOnlyList<string> checks)
        {
            this.same = same;
            Machine = new Machine(cfg);
            _initial = Machine.World.Clone();
            _checker = new StateChecker(Machine, checks);
        }

        /// <summary>The lenient replay (see <see cref="Minimizer"/>); the executed choices when it ends at <paramref name="key"/>, else null.</summary>
        public List<int>? Reproduce(IReadOnlyList<int> choices, string key)
        {
            var m = Machine;
            m.World.CopyFrom(_initial);
            LastViolation = null;
            var executed = new List<int>();
            if (_checker.CheckState() is { } root) return End(root);
            foreach (var a in choices)
            {
                if (a < 0 || a >= m.ActorCount || !m.IsEnabled(a)) continue;
                if (StepEnds(a) is { } v) return End(v);
            }
            for (var steps = 0; steps < 100_000; steps++)
            {
                var next = -1;
                for (var a = 0; a < m.ActorCount && next < 0; a++)
                    if (m.IsEnabled(a)) next = a;
                if (next < 0) return _checker.AtQuiescent() is { } lv ? End(lv) : null;
                if (StepEnds(next) is { } v) return End(v);
            }
            return null;

            Violation? StepEnds(int a)
            {
                m.Step(a);
                executed.Add(a);
                var v = _checker.AfterStep();
                _checker.TakeNewWarning();
                return v;
            }

            List<int>? End(Violation v)
            {
                LastViolation = v;
                return same(v.Key, key) ? executed : null;
            }
        }

        /// <summary>Per step of <paramref name="sched"/> (replayed exactly): the (scenario actor, action) a script actor's step belongs to, else null.</summary>
        public (int Actor, int Action)?[] ActionTags(IReadOnlyList<int> sched, Scenario s)
        {
            var m = Machine;
            m.World.CopyFrom(_initial);
            var index = new int[m.ActorCount];
            for (var a = 0; a < index.Length; a++)
            {
                var name = m.Actor(a).Name;
                index[a] = m.Actor(a).Kind == ActorKind.Script ? s.Actors.ToList().FindIndex(x => x.Name == name) : -1;
            }
            var tags = new (int, int)?[sched.Count];
            for (var j = 0; j < sched.Count; j++)
            {
                var a = sched[j];
                ref readonly var st = ref m.World.Actors[a];
                if (index[a] >= 0) tags[j] = (index[a], st.Depth == 0 ? st.ScriptPc : st.ScriptPc - 1);
                m.Step(a);
            }
            return tags;
        }

        /// <summary>The rounds each CPU and the firings each timer take when <paramref name="sched"/> is replayed exactly.</summary>
        public (int[] Rounds, int TimerFires) UsedRounds(IReadOnlyList<int> sched, Scenario s)
        {
            var m = Machine;
            m.World.CopyFrom(_initial);
            foreach (var a in sched) m.Step(a);
            var rounds = s.Rounds.ToArray();
            var fires = 0;
            foreach (var info in m.Actors)
            {
                var left = m.World.Actors[info.Id].RoundsLeft;
                var start = _initial.Actors[info.Id].RoundsLeft;
                if (info.Kind == ActorKind.Cpu && info.Cpu < rounds.Length && left >= 0) rounds[info.Cpu] -= left;
                else if (info.Kind == ActorKind.Timer && start >= 0) fires = Math.Max(fires, start - left);
            }
            return (rounds, fires);
        }
    }
}
