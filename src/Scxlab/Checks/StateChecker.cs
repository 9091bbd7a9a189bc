using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Checks;

/// <summary>
/// Applies the selected checks to the machine's current world: after every step (kernel
/// assertions, scheduler exit, safety invariants) and at quiescent states (liveness). Returns the
/// first violation found, or null. No allocation unless something is violated.
/// </summary>
public sealed class StateChecker
{
    private readonly Machine _m;
    private readonly Invariant[] _safety;
    private readonly bool _kernelAssertions;
    private readonly bool _liveness;
    private World? _scratch;

    /// <param name="selected">Check names; empty = all. Scheduler exits are always outcomes.</param>
    public StateChecker(Machine m, IReadOnlyList<string> selected)
    {
        _m = m;
        bool On(string n) => selected.Count == 0 || selected.Contains(n);
        _safety = [.. InvariantCatalog.Safety.Where(i => On(i.Name))];
        _kernelAssertions = On(InvariantCatalog.KernelAssertions);
        _liveness = On(InvariantCatalog.RunnableEventuallyRuns);
    }

    /// <summary>Check the state the last step produced (call right after <see cref="Machine.Step"/>).</summary>
    public Violation? AfterStep()
    {
        if (_kernelAssertions && _m.StepFindings.Count > 0)
        {
            var f = _m.StepFindings[0];
            return new Violation(ViolationKind.KernelAssertion, f.Check, f.Message);
        }
        return CheckState();
    }

    /// <summary>Exit outcome and safety invariants of the current world.</summary>
    public Violation? CheckState()
    {
        var w = _m.World;
        if (w.Sched.ExitKind != ExitKind.None)
            return new Violation(ViolationKind.Exit, ExitKinds.KernelName(w.Sched.ExitKind), w.ExitMessage ?? "");
        foreach (var inv in _safety)
        {
            var msg = inv.Check(_m);
            if (msg != null) return new Violation(ViolationKind.Invariant, inv.Name, msg);
        }
        return null;
    }

    public bool LivenessEnabled => _liveness;

    /// <summary>Steps a drain may take before it gives up (then the check is inconclusive, never a false report).</summary>
    public int DrainStepLimit { get; init; } = 200_000;

    /// <summary>
    /// "No task forgotten" on a quiescent world: run a deterministic drain on a copy (every CPU
    /// keeps running scheduling rounds, round-robin; a task that gets to run is then made to block
    /// at its next schedule-out so the others get a turn) and report the runnable tasks that never
    /// ran, and actors blocked forever. The machine's world is restored before returning.
    /// </summary>
    public Violation? AtQuiescent()
    {
        if (!_liveness) return null;
        var original = _m.World;
        if (original.Sched.ExitKind != ExitKind.None) return null;
        _scratch ??= original.Clone();
        _scratch.CopyFrom(original);
        var w = _scratch;
        _m.World = w;
        try
        {
            var nTasks = w.Tasks.Length;
            Span<bool> ran = nTasks <= 256 ? stackalloc bool[nTasks] : new bool[nTasks];
            Span<bool> waiting = nTasks <= 256 ? stackalloc bool[nTasks] : new bool[nTasks];
            for (var t = 0; t < nTasks; t++)
                waiting[t] = w.Tasks[t].Run == RunState.Runnable && w.Tasks[t].Class == SchedClass.Ext;
            var rounds = 2 * nTasks + 2;
            for (var a = 0; a < _m.ActorCount; a++)
                if (_m.Actor(a).Kind == ActorKind.Cpu) w.Actors[a].RoundsLeft = rounds;
            Observe(w, ran);
            var cur = -1;
            var finished = false;
            for (var steps = 0; steps < DrainStepLimit; steps++)
            {
                // Round-robin between actors at activity boundaries: an actor finishes the activity it started if it can.
                var next = cur >= 0 && w.Actors[cur].Depth > 0 && _m.IsEnabled(cur) ? cur : -1;
                for (var i = 1; next < 0 && i <= _m.ActorCount; i++)
                {
                    var a = (cur + i + _m.ActorCount) % _m.ActorCount;
                    if (_m.IsEnabled(a)) next = a;
                }
                if (next < 0) { finished = true; break; }
                _m.Step(next);
                cur = next;
                if (w.Sched.ExitKind != ExitKind.None) return null; // the drain left the scenario's behaviours: inconclusive
                Observe(w, ran);
            }
            if (!finished) return null;
            for (var a = 0; a < _m.ActorCount; a++)
                if (w.Actors[a].Depth > 0 && !_m.IsEnabled(a))
                    return new Violation(ViolationKind.Liveness, InvariantCatalog.RunnableEventuallyRuns,
                        $"{_m.Actor(a).Name} is blocked forever in {w.Frames[a * w.MaxDepth + w.Actors[a].Depth - 1].Path} (deadlock)");
            for (var t = 0; t < nTasks; t++)
                if (waiting[t] && !ran[t])
                    return new Violation(ViolationKind.Liveness, InvariantCatalog.RunnableEventuallyRuns,
                        $"{_m.TaskName(t)} is runnable but never runs: forgotten ({Describe(original, t)})");
            return null;
        }
        finally
        {
            _m.World = original;
        }
    }

    private string Describe(World w, int t)
    {
        ref var p = ref w.Tasks[t];
        var where = p.ListOn >= 0 ? $"on {_m.SlotName(p.ListOn)}" : "on no DSQ";
        return $"ops_state {OpsWord.Format(p.OpsState)}, {where}, cpus_ptr {p.CpusPtr}";
    }

    private static void Observe(World w, Span<bool> ran)
    {
        for (var c = 0; c < w.Cpus.Length; c++)
        {
            var t = w.Cpus[c].Curr;
            if (t < 0) continue;
            ref var p = ref w.Tasks[t];
            if (p.Class != SchedClass.Ext || p.Run != RunState.Runnable) continue;
            ran[t] = true;
            if (!p.WantsSleep)
            {
                p.WantsSleep = true;
                w.Cpus[c].NeedResched = true;
            }
        }
    }
}
