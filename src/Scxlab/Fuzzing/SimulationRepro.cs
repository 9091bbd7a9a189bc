using Scxlab.Checks;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;
using Scxlab.Simulation;
using Scxlab.Stepping;

namespace Scxlab.Fuzzing;

/// <summary>What became of a simulation's first finding: the scenario the run was turned into, its schedule, and the shrunk reproduction or why there is none.</summary>
public sealed record SimulationRepro(
    Violation? Finding,
    long FindingAtNs,
    Scenario? Scenario,
    ModelConfig? Config,
    IReadOnlyList<int> Choices,
    MinimizeResult? Min,
    string? Failure,
    IReadOnlyList<string> Log)
{
    /// <summary>The checks the scenarios are written with: exits and kernel assertions, what a simulation reports.</summary>
    public static readonly IReadOnlyList<string> Checks = [InvariantCatalog.KernelAssertions];

    /// <summary>
    /// Turn a recorded simulation (<see cref="SimOptions.Record"/>) into a scenario for <c>scxlab check</c>: the same
    /// CPUs, tasks (names, pids, masks, weights) and policy; one script actor per simulator actor that performed
    /// external actions (its wakeups, affinity and weight changes, ticks, block and exit marks, in order); as many
    /// rounds per CPU and timer firings as the run started. The recorded steps are replayed on it leniently; when
    /// they reach the same finding, the scenario and schedule are shrunk (<see cref="Minimizer"/>, with delta
    /// debugging over the actions first). The replay is unclocked, as every exploration is: where the run's virtual
    /// time decided something (runtime charged between ticks, <c>scx_bpf_now()</c>), it may not reach the finding,
    /// and then <see cref="Failure"/> says so and the run stays reproducible by its seed only.
    /// </summary>
    public static SimulationRepro FromRun(Simulator sim, string workloadName, ulong seed, bool minimize, int minimizeBudget)
    {
        var rec = sim.Recording ?? throw new ArgumentException("the simulation was not recorded (SimOptions.Record)", nameof(sim));
        if (rec.NotReproducible != null) return new(null, rec.FindingAtNs, null, null, [], null, rec.NotReproducible, []);
        if (rec.Finding is not { } finding) return new(null, -1, null, null, [], null, "the run had no finding", []);
        var m = sim.Model;
        var cfg = m.Config;
        var actors = new List<ScriptSpec>();
        var rounds = new int[cfg.CpuCount];
        var timerFires = 0;
        foreach (var a in m.Actors)
        {
            switch (a.Kind)
            {
                case ActorKind.Script when rec.Actions(a.Id).Count > 0:
                    actors.Add(new ScriptSpec(a.Name, a.Cpu, [.. rec.Actions(a.Id)]));
                    break;
                case ActorKind.Cpu:
                    rounds[a.Cpu] = rec.ActivityStarts(a.Id);
                    break;
                case ActorKind.Timer:
                    timerFires = Math.Max(timerFires, rec.ActivityStarts(a.Id));
                    break;
            }
        }
        var protocol = ProtocolNames.Name(cfg.Protocol);
        var name = $"{Slug(workloadName)}-{protocol}-seed{seed}";
        var scenario = new Scenario
        {
            Name = name,
            Description = $"scxlab simulate {workloadName} --seed {seed} up to its first finding ({finding.Key}).",
            Source = $"scxlab simulate {workloadName} --cpus {cfg.CpuCount} --protocol {protocol} --seed {seed}",
            Text = "",
            Cpus = cfg.CpuCount,
            Protocol = cfg.Protocol,
            Kernel = cfg.Kernel,
            Policy = Policies.BpfObjectSpec.Rooted(cfg.PolicyName),
            Tasks = cfg.Tasks,
            Rounds = rounds,
            Actors = actors,
            Checks = Checks,
            TimerFires = m.BpfTimerCount > 0 ? timerFires : null,
            UserDsqs = cfg.MaxUserDsqs != ModelConfig.DefaultMaxUserDsqs ? cfg.MaxUserDsqs : null,
            CallBudget = cfg.CallBudget != ModelConfig.DefaultCallBudget ? cfg.CallBudget : null,
        };
        var config = scenario.ToConfig();
        var target = new Machine(config);
        var ids = target.Actors.ToDictionary(a => a.Name, a => a.Id, StringComparer.Ordinal);
        var choices = new List<int>(rec.Choices.Count);
        foreach (var a in rec.Choices)
            if (ids.TryGetValue(m.Actor(a).Name, out var id)) choices.Add(id);

        try
        {
            // The whole run first: it must reach the finding on the unclocked model, or nothing shorter will be believed.
            // Not shrinking, that replay (and the file round trip) is all there is to do.
            var whole = new Minimizer(config, Checks, seed, 1) { Shrinks = false, Origin = "scxlab simulate" };
            var asIs = minimize ? null : whole.TryRun(scenario, finding, choices);
            var reached = minimize ? whole.Reaches(scenario, finding, choices) : asIs != null;
            if (!reached)
                return new SimulationRepro(finding, rec.FindingAtNs, scenario, config, choices, null,
                    $"the recorded steps, replayed without the simulation's clock, do not reach {finding.Key} ({string.Join("; ", whole.Log)})", whole.Log);
            return asIs != null
                ? new SimulationRepro(finding, rec.FindingAtNs, scenario, config, choices, asIs, null, ["not shrunk (--minimize false)"])
                : Shrink(scenario, config, choices, finding, rec.FindingAtNs, seed, minimizeBudget);
        }
        catch (ScenarioException e)
        {
            // A bound the file format limits (rounds, timer firings) is still over it after shrinking.
            return new SimulationRepro(finding, rec.FindingAtNs, scenario, config, choices, null,
                $"the run reaches it on the unclocked model, but no shrunk form fits a scenario file ({e.Message}); try fewer CPUs or tasks (--cpus, --tasks) so that it comes sooner", []);
        }
    }

    private static SimulationRepro Shrink(Scenario scenario, ModelConfig config, List<int> choices, Violation finding, long atNs, ulong seed, int minimizeBudget)
    {
        // The shortest tail of the run that still reaches it from a fresh boot (Tail), shrunk. A tail that does not
        // costs one replay and the search walks; the shrinking budget is the tail's that does.
        foreach (var tail in TailLengths.Where(l => l < choices.Count))
        {
            if (Tail(scenario, config, choices, choices.Count - tail) is not var (cut, cutChoices)) continue;
            var m2 = new Minimizer(config, Checks, seed, minimizeBudget) { SearchInitial = Minimizer.DefaultSearchWalks, ShrinkActionsFirst = true, MatchMasked = true, Origin = "scxlab simulate" };
            MinimizeResult? r;
            try
            {
                r = m2.TryRun(cut, finding, cutChoices);
            }
            catch (ScenarioException)
            {
                r = null; // shrunk to something the file format cannot say (a bound over its limit)
            }
            if (r != null)
                return new SimulationRepro(finding, atNs, scenario, config, choices, r, null,
                    [$"the last {tail} of the run's {choices.Count} steps, from a boot with every task where the run had it then, reach it", .. m2.Log]);
        }
        if (choices.Count > WholeRunLimit)
            return new SimulationRepro(finding, atNs, scenario, config, choices, null,
                $"no tail of the last {TailLengths[^1]} steps reaches it from a fresh boot, and the run ({choices.Count} steps) is too long to shrink whole (at most {WholeRunLimit}); try fewer CPUs or tasks (--cpus, --tasks) so that it comes sooner", []);
        var full = new Minimizer(config, Checks, seed, minimizeBudget) { ShrinkActionsFirst = true, MatchMasked = true, Origin = "scxlab simulate" };
        var min = full.TryRun(scenario, finding, choices);
        return new SimulationRepro(finding, atNs, scenario, config, choices, min,
            min == null ? $"the recorded steps stopped reaching {finding.Key} when replayed again (a model nondeterminism: please report it)" : null,
            ["no tail of the run reaches it from a fresh boot: the whole run shrunk", .. full.Log]);
    }

    /// <summary>Tails of the run tried, shortest first (steps before the finding).</summary>
    private static readonly int[] TailLengths = [200, 1_000, 5_000, 25_000];

    /// <summary>Longest run shrunk whole when no tail reaches the finding (each replay costs the run's length).</summary>
    private const int WholeRunLimit = 100_000;

    /// <summary>
    /// The run from step <paramref name="from"/> on as a scenario of its own: each task booted where the run had it at
    /// that step (running on the CPU whose rq->curr it was, queued when runnable, else sleeping; its mask, weight and
    /// slice then), each script actor left with the actions it had not finished, each CPU and timer with the
    /// activities it started from there. What it cannot carry over (the policy's maps, DSQ order, a path half done)
    /// starts afresh, so this is only a candidate: it counts when its replay, or a random walk of it, reaches the
    /// same finding. Null when the state does not fit a scenario (the loader refuses it).
    /// </summary>
    private static (Scenario, List<int>)? Tail(Scenario s, ModelConfig cfg, IReadOnlyList<int> choices, int from)
    {
        var m = new Machine(cfg);
        var w = m.World;
        var j = 0;
        for (; j < from; j++)
            if (m.IsEnabled(choices[j])) m.Step(choices[j]);
        var tasks = new List<TaskSpec>();
        for (var t = 0; t < w.Tasks.Length; t++)
        {
            ref readonly var ts = ref w.Tasks[t];
            var spec = cfg.Tasks[t];
            var running = -1;
            for (var c = 0; c < w.Cpus.Length; c++)
                if (w.Cpus[c].Curr == t) running = c;
            var state = running >= 0 ? InitialTaskState.Running : ts.Run == RunState.Runnable ? InitialTaskState.Queued : InitialTaskState.Sleeping;
            var cpu = running >= 0 ? running : ts.Cpu;
            if (!ts.CpusPtr.Test(cpu) && state != InitialTaskState.Sleeping) return null;
            tasks.Add(spec with { State = state, Cpu = cpu, Allowed = ts.CpusPtr, Weight = ts.Weight, Slice = ts.Slice > 0 ? ts.Slice : spec.Slice });
        }
        var actors = new List<ScriptSpec>();
        var rounds = new int[cfg.CpuCount];
        var fires = 0;
        var started = new int[m.ActorCount];
        for (var a = 0; a < m.ActorCount; a++)
        {
            var info = m.Actor(a);
            ref readonly var st = ref w.Actors[a];
            if (info.Kind == ActorKind.Script)
            {
                var first = st.Depth > 0 ? st.ScriptPc - 1 : st.ScriptPc;
                if (first < info.Script!.Actions.Count) actors.Add(info.Script with { Actions = [.. info.Script.Actions.Skip(first)] });
            }
            else if (st.Depth > 0) started[a]++; // an activity half done at the cut starts again from its beginning
        }
        for (var k = j; k < choices.Count; k++)
        {
            var a = choices[k];
            if (!m.IsEnabled(a)) continue;
            if (w.Actors[a].Depth == 0) started[a]++;
            m.Step(a);
        }
        for (var a = 0; a < m.ActorCount; a++)
        {
            var info = m.Actor(a);
            if (info.Kind == ActorKind.Cpu) rounds[info.Cpu] = started[a];
            else if (info.Kind == ActorKind.Timer) fires = Math.Max(fires, started[a]);
        }
        var cut = Minimizer.Copy(s, tasks: tasks, rounds: rounds, actors: actors, timerFires: s.TimerFires != null ? fires : null);
        ModelConfig cutCfg;
        try
        {
            cutCfg = cut.ToConfig();
            _ = new Machine(cutCfg);
        }
        catch (ArgumentException)
        {
            return null;
        }
        var ids = new Machine(cutCfg).Actors.ToDictionary(a => a.Name, a => a.Id, StringComparer.Ordinal);
        var mapped = new List<int>();
        for (var k = j; k < choices.Count; k++)
            if (ids.TryGetValue(m.Actor(choices[k]).Name, out var id)) mapped.Add(id);
        return (cut, mapped);
    }

    /// <summary>A workload name or path as a scenario name: its file name without extension, letters, digits and '-' only.</summary>
    private static string Slug(string workload)
    {
        var n = Path.GetFileNameWithoutExtension(workload);
        var chars = n.Select(c => char.IsAsciiLetterOrDigit(c) || c == '-' ? c : '-').ToArray();
        return chars.Length == 0 ? "simulation" : new string(chars);
    }
}
