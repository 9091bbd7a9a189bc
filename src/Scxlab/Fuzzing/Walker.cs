using Scxlab.Checks;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Fuzzing;

/// <summary>How one walk ended.</summary>
internal readonly record struct WalkEnd(Violation? Violation, string Location, bool Truncated, int Steps);

/// <summary>
/// Runs single schedules from the machine's initial world. Every step is checked exactly as the
/// explorer checks a transition (<see cref="StateChecker.AfterStep"/>: the step's kernel findings,
/// the scheduler's exit, every selected safety invariant), and a walk that reaches a state where no
/// actor is enabled gets <c>check</c>'s liveness drain (<see cref="StateChecker.AtQuiescent"/>).
/// A finding ends the walk, as a violating state is terminal for the explorer.
/// </summary>
internal sealed class Walker
{
    public readonly Machine Machine;
    private readonly World _initial;
    private readonly StateChecker _checker;
    private readonly int[] _enabled;
    private readonly int[] _prio;
    private readonly int[] _changeAt;

    // Enabledness of every actor after the last step (see EnabledAfterStep), and each CPU actor's rq footprint bit.
    private readonly bool[] _isEnabled;
    private readonly ulong[] _rqBit;

    public Walker(ModelConfig config, IReadOnlyList<string> checks)
    {
        Machine = new Machine(config);
        _initial = Machine.World.Clone();
        _checker = new StateChecker(Machine, checks);
        _enabled = new int[Machine.ActorCount];
        _prio = new int[Machine.ActorCount];
        _changeAt = new int[64];
        _isEnabled = new bool[Machine.ActorCount];
        _rqBit = new ulong[Machine.ActorCount];
        for (var a = 0; a < Machine.ActorCount; a++)
            if (Machine.Actor(a).Kind == ActorKind.Cpu) _rqBit[a] = Machine.Bits.Of(Resource.Rq, Machine.Actor(a).Cpu);
    }

    /// <summary>
    /// The enabled actors after a step by <paramref name="stepped"/> (-1: the walk's first state, all evaluated). A CPU
    /// actor between activities (depth 0) is enabled when its rq has work or it has rounds left (Machine.HasActivity);
    /// its rounds change only by its own steps, and its rq only by a step whose write footprint names that rq — the
    /// footprint completeness the fingerprint and the reduced search rest on. So such an actor is evaluated again only
    /// when it stepped or the step wrote its rq's bit; every other actor at every step. At 256 CPUs that spares most of
    /// 265 evaluations a step (SCXLAB_VERIFY_FINGERPRINT=1 evaluates them all and compares).
    /// </summary>
    private int EnabledAfterStep(int stepped)
    {
        var m = Machine;
        var actors = m.World.Actors;
        var writes = stepped < 0 ? ulong.MaxValue : m.LastFootprint.Writes;
        var count = 0;
        for (var a = 0; a < _isEnabled.Length; a++)
        {
            var idleCpu = _rqBit[a] != 0 && actors[a].Depth == 0;
            if (stepped < 0 || a == stepped || !idleCpu || (writes & _rqBit[a]) != 0) _isEnabled[a] = m.IsEnabled(a);
            else if (World.VerifyIncremental && _isEnabled[a] != m.IsEnabled(a))
                throw new InvalidOperationException($"{m.Actor(a).Name}'s enabledness changed after a step by {m.Actor(stepped).Name} whose footprint does not name its rq");
            if (_isEnabled[a]) _enabled[count++] = a;
        }
        return count;
    }

    /// <summary>Findings of the initial state itself (the explorer checks the root too).</summary>
    public Violation? CheckInitial()
    {
        Machine.World.CopyFrom(_initial);
        return _checker.CheckState();
    }

    public ulong InitialFingerprint() => _initial.Fingerprint();

    /// <summary>
    /// Run schedule <paramref name="index"/> of the run seeded <paramref name="seed"/>: the actor choices go to
    /// <paramref name="choices"/>, each reached world's fingerprint to <paramref name="seen"/>, and a warning-level
    /// finding seen for the first time by this walker to <paramref name="onWarning"/> with the choices so far.
    /// </summary>
    public WalkEnd Walk(FuzzStrategy strategy, ulong seed, long index, int depth, int k, int maxSteps,
        List<int> choices, DistinctCounter? seen, Action<Violation, int[]>? onWarning)
    {
        var m = Machine;
        m.World.RestoreFrom(_initial);
        choices.Clear();
        var rng = new FuzzRandom(seed, (ulong)index);
        var n = m.ActorCount;
        var changes = 0;
        if (strategy == FuzzStrategy.Pct)
        {
            // Initial priorities d..d+n−1 in a random order (Fisher–Yates); change point i (1..d−1) lowers the
            // actor about to take step k_i to priority i, below every initial priority.
            for (var a = 0; a < n; a++) _prio[a] = depth + a;
            for (var a = n - 1; a > 0; a--)
            {
                var j = rng.Below(a + 1);
                (_prio[a], _prio[j]) = (_prio[j], _prio[a]);
            }
            changes = Math.Min(depth - 1, _changeAt.Length);
            for (var i = 0; i < changes; i++) _changeAt[i] = 1 + rng.Below(Math.Max(1, k));
        }
        var last = -1;
        for (var step = 1; ; step++)
        {
            var count = EnabledAfterStep(last);
            if (count == 0) return new WalkEnd(_checker.AtQuiescent(), "quiescence (the liveness drain)", false, step - 1);
            if (step > maxSteps) return new WalkEnd(null, "", true, step - 1);

            int actor;
            if (strategy == FuzzStrategy.Random)
            {
                actor = _enabled[rng.Below(count)];
            }
            else
            {
                actor = Highest(count);
                for (var i = 0; i < changes; i++)
                {
                    if (_changeAt[i] != step) continue;
                    _prio[actor] = i + 1;
                    actor = Highest(count);
                }
            }

            var location = LocationBefore(actor);
            m.Step(actor);
            last = actor;
            choices.Add(actor);
            // The walk's previous state passed every check (a finding ends the walk; the root is checked by the fuzzer).
            var v = _checker.AfterStepFromPassingState();
            if (_checker.TakeNewWarning() is { } w) onWarning?.Invoke(w, [.. choices]);
            // A kernel assertion stops the kernel at this step: the world it lands in is not a reached state (as in the explorer).
            if (v is not { Kind: ViolationKind.KernelAssertion }) seen?.Add(m.World.Fingerprint());
            if (v != null) return new WalkEnd(v, location ?? LocationAfter(actor), false, step);
        }
    }

    private int Highest(int count)
    {
        var best = _enabled[0];
        for (var i = 1; i < count; i++)
            if (_prio[_enabled[i]] > _prio[best]) best = _enabled[i];
        return best;
    }

    /// <summary>The path the actor is in when it takes the step (null when it starts a new activity).</summary>
    private string? LocationBefore(int a)
    {
        var w = Machine.World;
        var d = w.Actors[a].Depth;
        return d > 0 ? w.Frames[a * w.MaxDepth + d - 1].Path.ToString() : null;
    }

    /// <summary>A step that starts an activity is located by the path it entered.</summary>
    private string LocationAfter(int a)
    {
        var w = Machine.World;
        var d = w.Actors[a].Depth;
        return d > 0 ? w.Frames[w.MaxDepth * a].Path.ToString() : $"{Machine.Actor(a).Kind} activity";
    }
}
