using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Checks;

/// <summary>
/// Applies the selected checks to the machine's current world: after every step (kernel
/// assertions, scheduler exit, safety invariants) and at quiescent states (liveness). Returns the
/// first violation found, or null; warning-level findings are collected on the side
/// (<see cref="TakeNewWarning"/>). No allocation unless something is violated or newly warned.
/// </summary>
public sealed class StateChecker
{
    private readonly Machine _m;
    private readonly Invariant[] _safety;
    /// <summary>Per safety invariant, the footprint write bits of what it reads (all bits: it reads more than tasks, rqs and DSQs).</summary>
    private readonly ulong[] _safetyWrites;
    private readonly bool _kernelAssertions;
    private readonly bool _liveness;
    private World? _scratch;
    private readonly HashSet<WarningSite> _warningSites = [];
    private Violation? _newWarning;
    private readonly bool[] _bootOwed;

    /// <param name="selected">Check names; empty = all. Scheduler exits are always outcomes.</param>
    public StateChecker(Machine m, IReadOnlyList<string> selected)
    {
        _m = m;
        bool On(string n) => selected.Count == 0 || selected.Contains(n);
        _safety = [.. InvariantCatalog.Safety.Where(i => On(i.Name))];
        _safetyWrites = [.. _safety.Select(i => WriteBits(m, i.Reads))];
        _kernelAssertions = On(InvariantCatalog.KernelAssertions);
        _liveness = On(InvariantCatalog.RunnableEventuallyRuns);
        _bootOwed = BootReschedsOwed(m);
    }

    /// <summary>Check the state the last step produced (call right after <see cref="Machine.Step"/>).</summary>
    public Violation? AfterStep() => StepAssertion() ?? CheckState();

    /// <summary><see cref="AfterStep"/> when the world the step started from passed every check (<see cref="CheckStateAfterStep"/>).</summary>
    public Violation? AfterStepFromPassingState() => StepAssertion() ?? CheckStateAfterStep(_m.LastFootprint.Writes);

    /// <summary>
    /// The kernel assertion the last step raised (when assertions are checked), or null: the one finding that
    /// belongs to the step rather than to the state it reached (<see cref="CheckState"/> has the rest).
    /// </summary>
    public Violation? StepAssertion()
    {
        if (!_kernelAssertions || _m.StepFindings.Count == 0) return null;
        var f = _m.StepFindings[0];
        return new Violation(ViolationKind.KernelAssertion, f.Check, f.Message);
    }

    /// <summary>Exit outcome and safety invariants of the current world.</summary>
    public Violation? CheckState() => CheckStateAfterStep(ulong.MaxValue);

    /// <summary>
    /// <see cref="CheckState"/> of a world one step from a world that passed every check (a state the search expanded,
    /// or a walk's previous state), given that step's write footprint: an invariant that reads only tasks, rqs and DSQs
    /// (<see cref="Invariant.Reads"/>) is not evaluated again when the step wrote none of them — it holds as it held.
    /// That rests on the footprints' completeness, as the incremental fingerprint does (those are the task, CPU and DSQ
    /// chunks' bits, <c>Machine.FingerprintLayoutOf</c>); with SCXLAB_VERIFY_FINGERPRINT=1 a skipped invariant is evaluated
    /// anyway and a failure throws.
    /// </summary>
    public Violation? CheckStateAfterStep(ulong stepWrites)
    {
        var w = _m.World;
        if (w.Sched.ExitKind != ExitKind.None)
            return w.Sched.ModelLimit
                ? new Violation(ViolationKind.ModelLimit, ModelLimits.Name, w.ExitMessage ?? "")
                : new Violation(ViolationKind.Exit, ExitKinds.KernelName(w.Sched.ExitKind), w.ExitMessage ?? "");
        for (var i = 0; i < _safety.Length; i++)
        {
            var inv = _safety[i];
            if ((_safetyWrites[i] & stepWrites) == 0)
            {
                if (World.VerifyIncremental && inv.Check(_m, out _) is { } missed)
                    throw new InvalidOperationException($"{inv.Name} was skipped after a step that wrote none of what it reads, but it fails: {missed} (a write outside the step's footprint, or a Reads that says too little)");
                continue;
            }
            var msg = inv.Check(_m, out var site);
            if (msg != null) return new Violation(ViolationKind.Invariant, inv.Name, msg);
            // A warning does not end the path; each distinct site is worded and reported once.
            if (!site.IsNone && (ReportEveryWarning || _warningSites.Add(site))) _newWarning ??= new Violation(ViolationKind.Warning, inv.Name, inv.WarningMessage(_m, site));
        }
        return null;
    }

    /// <summary>The footprint write bits of the world parts <paramref name="reads"/> names: those of their fingerprint chunks (Machine.FingerprintLayoutOf).</summary>
    private static ulong WriteBits(Machine m, StateParts reads)
    {
        if (reads == StateParts.Everything) return ulong.MaxValue;
        ulong bits = 0;
        if ((reads & StateParts.Tasks) != 0)
            for (var t = 0; t < m.World.Tasks.Length; t++) bits |= m.Bits.Of(Resource.Task, t) | m.Bits.Of(Resource.PiLock, t);
        if ((reads & StateParts.Rqs) != 0)
            for (var c = 0; c < m.N; c++) bits |= m.Bits.Of(Resource.Rq, c) | m.Bits.Of(Resource.Lock, c);
        if ((reads & StateParts.Dsqs) != 0)
            for (var d = 0; d < m.World.Dsqs.Length; d++) bits |= m.Bits.Of(Resource.Dsq, d) | m.Bits.Of(Resource.DsqLock, d);
        if ((reads & ~(StateParts.Tasks | StateParts.Rqs | StateParts.Dsqs)) != 0) return ulong.MaxValue;
        return bits;
    }

    /// <summary>
    /// The warning-level finding first seen by the last <see cref="AfterStep"/>/<see cref="CheckState"/> calls
    /// since the previous take, or null. Warnings never change the verdict and never end a path.
    /// </summary>
    public Violation? TakeNewWarning()
    {
        var v = _newWarning;
        _newWarning = null;
        return v;
    }

    public bool LivenessEnabled => _liveness;

    /// <summary>
    /// Report a warning on every state that has one, not only where its site is first seen: a parallel
    /// search's workers cannot tell whether a state is new, so the merge deduplicates instead.
    /// </summary>
    public bool ReportEveryWarning { get; init; }

    /// <summary>Steps a drain may take before it gives up (then the check is inconclusive, never a false report).</summary>
    public int DrainStepLimit { get; init; } = 200_000;

    /// <summary>
    /// "No task forgotten" on a quiescent world: the quiescent continuation, run deterministically on a copy.
    /// A CPU schedules only when the kernel would make it: a resched is pending (a wakeup onto an idle CPU,
    /// a kick, a task arriving on its local DSQ, the stopper), it is busy (its tick ends the current task's
    /// slice), its local DSQ holds a task, or it still owes the resched of a task enqueued on it at boot;
    /// an idle CPU with none of these sleeps. Kicks' irq_work, deferred local dispatches, re-enqueues and the
    /// stopper run whenever they are pending. A task that gets to run is made to block at its next
    /// schedule-out so the others get a turn. Reported: actors blocked forever (deadlock), and a runnable
    /// task that nothing will ever run, as the watchdog's SCX_EXIT_ERROR_STALL. The machine's world is
    /// restored before returning.
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
            Span<bool> owed = stackalloc bool[_m.N];
            _bootOwed.CopyTo(owed);
            Observe(w, ran);
            var cur = -1;
            var finished = false;
            // A periodic BPF timer keeps firing in the kernel, so the drain does not count its firings; it lets
            // each armed timer fire once more after any other actor's step. When a firing leads to no other
            // step, the next one would not either (the callback sees the same state), so the drain may end.
            Span<bool> timerMayFire = stackalloc bool[_m.ActorCount];
            timerMayFire.Fill(true);
            for (var steps = 0; steps < DrainStepLimit; steps++)
            {
                for (var a = 0; a < _m.ActorCount; a++)
                {
                    var info = _m.Actor(a);
                    if (info.Kind == ActorKind.Cpu && w.Actors[a].Depth == 0) w.Actors[a].RoundsLeft = WouldSchedule(w, info.Cpu, owed) ? 1 : 0;
                    if (info.Kind == ActorKind.Timer && w.Actors[a].Depth == 0) w.Actors[a].RoundsLeft = timerMayFire[a] ? 1 : 0;
                }
                w.InvalidateFingerprint(); // the bounds above are written outside a step
                // Round-robin between actors at activity boundaries: an actor finishes the activity it started if it can.
                var next = cur >= 0 && w.Actors[cur].Depth > 0 && _m.IsEnabled(cur) ? cur : -1;
                for (var i = 1; next < 0 && i <= _m.ActorCount; i++)
                {
                    var a = (cur + i + _m.ActorCount) % _m.ActorCount;
                    if (_m.IsEnabled(a)) next = a;
                }
                if (next < 0) { finished = true; break; }
                var startsRound = _m.Actor(next).Kind == ActorKind.Cpu && w.Actors[next].Depth == 0 && w.Actors[next].RoundsLeft == 1;
                if (_m.Actor(next).Kind == ActorKind.Timer) timerMayFire[next] = false;
                else timerMayFire.Fill(true);
                _m.Step(next);
                if (startsRound && w.Actors[next].RoundsLeft == 0) owed[_m.Actor(next).Cpu] = false; // __schedule() consumed it
                cur = next;
                // An exit left the scenario's behaviours (the kernel would move every task to the fair class): nothing
                // to report. A model limit is different: the drain could not follow the scheduler, so the check is open.
                if (w.Sched.ModelLimit)
                    return new Violation(ViolationKind.ModelLimit, ModelLimits.Name, w.ExitMessage ?? "");
                if (w.Sched.ExitKind != ExitKind.None) return null;
                Observe(w, ran);
            }
            if (!finished) return null;
            for (var a = 0; a < _m.ActorCount; a++)
                if (w.Actors[a].Depth > 0 && !_m.IsEnabled(a))
                    return new Violation(ViolationKind.Liveness, InvariantCatalog.RunnableEventuallyRuns,
                        $"{_m.Actor(a).Name} is blocked forever in {w.Frames[a * w.MaxDepth + w.Actors[a].Depth - 1].Path} (deadlock)");
            var stuck = -1;
            var latest = long.MinValue;
            for (var t = 0; t < nTasks; t++)
            {
                if (!waiting[t] || ran[t]) continue;
                if (stuck < 0) stuck = t;
                latest = Math.Max(latest, w.Tasks[t].RunnableAt);
            }
            if (stuck < 0) return null;
            // Nothing will ever run these tasks: the watchdog fires once the oldest has waited past the timeout.
            // No virtual time passes in exploration, so the model's own watchdog pass runs at the first instant
            // every stuck task has waited longer than the timeout (the kernel reports the same message, with the
            // duration its timer happened to observe).
            w.Sched.Clock = Math.Max(w.Sched.Clock, latest + _m.WatchdogTimeoutNs + 1);
            if (_m.CheckWatchdog())
                return new Violation(ViolationKind.Exit, ExitKinds.KernelName(w.Sched.ExitKind), w.ExitMessage ?? "");
            // Not on any runqueue's runnable_list, so the watchdog cannot see it: report it as forgotten.
            return new Violation(ViolationKind.Liveness, InvariantCatalog.RunnableEventuallyRuns,
                $"{_m.TaskName(stuck)} is runnable but never runs: forgotten ({Describe(original, stuck)})");
        }
        finally
        {
            _m.World = original;
        }
    }

    /// <summary>
    /// Would the kernel run __schedule() on CPU <paramref name="cpu"/>? Only with a resched pending, a current
    /// task (busy: the tick ends its slice), a task on its local DSQ (local_dsq_post_enq reschedules an idle CPU),
    /// or a boot-time resched still owed. An idle CPU sleeps otherwise: nothing in the kernel polls it.
    /// </summary>
    private bool WouldSchedule(World w, int cpu, ReadOnlySpan<bool> owed)
    {
        ref readonly var rq = ref w.Cpus[cpu];
        return rq.NeedResched || rq.Curr >= 0 || w.Dsqs[_m.LocalSlot(cpu)].Nr > 0 || owed[cpu];
    }

    /// <summary>
    /// The boot enqueues the scenario's queued tasks and then drops the reschedules of idle CPUs that
    /// wakeup_preempt() raised (exploration runs the scenario's rounds instead). A CPU whose scenario rounds
    /// are 0 never scheduled since, so it still owes that reschedule at quiescence.
    /// </summary>
    private static bool[] BootReschedsOwed(Machine m)
    {
        var owed = new bool[m.N];
        var cfg = m.Config;
        foreach (var spec in cfg.Tasks)
        {
            if (spec.State != InitialTaskState.Queued) continue;
            var rounds = spec.Cpu < cfg.Rounds.Count ? cfg.Rounds[spec.Cpu] : 0;
            var busy = cfg.Tasks.Any(o => o.State == InitialTaskState.Running && o.Cpu == spec.Cpu);
            if (rounds == 0 && !busy) owed[spec.Cpu] = true;
        }
        return owed;
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
