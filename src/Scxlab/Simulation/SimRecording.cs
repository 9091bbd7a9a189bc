using Scxlab.Checks;
using Scxlab.Kernel;

namespace Scxlab.Simulation;

/// <summary>
/// What a simulation did to the model up to its first finding, in the terms of an exploration: the actor of
/// every step (<see cref="Choices"/>) and, per script actor, the external actions the workload started on it
/// (<see cref="Actions"/>), in order. A scenario whose script actors perform exactly these actions, driven by
/// these choices, runs the same steps on the model — except where the simulation's virtual clock decided
/// something (runtime charged between ticks, <c>scx_bpf_now()</c>): an exploration is unclocked. So a
/// recording is a candidate reproduction that <see cref="SimulationRepro"/> re-checks on the unclocked model,
/// never a claim by itself.
/// </summary>
/// <remarks>
/// Recording stops at the first finding a step raises (a scheduler exit, or the step's first kernel assertion
/// or warning). An exit the watchdog raised between steps (<c>SCX_EXIT_ERROR_STALL</c>) stops it too, with no
/// finding to reproduce: a stall is a matter of virtual time, which an exploration does not have (it reports a
/// task nothing will run as <c>RunnableEventuallyRuns</c> instead).
/// </remarks>
public sealed class SimRecording
{
    private readonly List<int> _choices = [];
    private readonly List<ScriptAction>[] _actions;
    private readonly int[] _activityStarts;

    /// <summary>Steps a recording keeps before it gives up (80 MB of choices).</summary>
    public const int MaxSteps = 20_000_000;

    public SimRecording(int actors)
    {
        _actions = new List<ScriptAction>[actors];
        for (var a = 0; a < actors; a++) _actions[a] = [];
        _activityStarts = new int[actors];
    }

    /// <summary>The actor of every step up to and including the one that raised <see cref="Finding"/>.</summary>
    public IReadOnlyList<int> Choices => _choices;

    /// <summary>Per actor id: the external actions started on it, in order (empty for CPUs and timers).</summary>
    public IReadOnlyList<ScriptAction> Actions(int actor) => _actions[actor];

    /// <summary>Per actor id: steps that started an activity (a CPU's __schedule() or irq_work, a timer's callback): an upper bound on its rounds.</summary>
    public int ActivityStarts(int actor) => _activityStarts[actor];

    /// <summary>The first finding a step raised, as an exploration reports it; null when there was none.</summary>
    public Violation? Finding { get; private set; }

    /// <summary>Virtual time of <see cref="Finding"/> (or of the watchdog's exit).</summary>
    public long FindingAtNs { get; private set; } = -1;

    /// <summary>Why recording stopped without a reproducible finding (the watchdog's exit), or null.</summary>
    public string? NotReproducible { get; private set; }

    public bool Stopped => Finding != null || NotReproducible != null;

    internal void Action(int actor, ScriptAction action)
    {
        if (!Stopped) _actions[actor].Add(action);
    }

    /// <summary>Actor <paramref name="actor"/> took a step (<paramref name="startedActivity"/>: from depth 0); then look for a finding.</summary>
    internal void Step(Machine m, int actor, bool startedActivity, long now)
    {
        if (Stopped) return;
        if (_choices.Count >= MaxSteps)
        {
            NotReproducible = $"no finding in the first {MaxSteps} steps, the most a recording keeps (4 bytes a step); a later finding is not saved: fewer CPUs or tasks make it come sooner";
            FindingAtNs = now;
            return;
        }
        _choices.Add(actor);
        if (startedActivity) _activityStarts[actor]++;
        if (m.StepFindings.Count > 0)
        {
            var f = m.StepFindings[0];
            Finding = new Violation(ViolationKind.KernelAssertion, f.Check, f.Message);
        }
        else if (m.World.Sched.ModelLimit)
        {
            NotReproducible = $"the run reached something the model does not cover ({m.World.ExitMessage}): there is no finding to save";
            FindingAtNs = now;
            return;
        }
        else if (m.World.Sched.ExitKind != ExitKind.None)
            Finding = new Violation(ViolationKind.Exit, ExitKinds.KernelName(m.World.Sched.ExitKind), m.World.ExitMessage ?? "");
        if (Finding != null) FindingAtNs = now;
    }

    /// <summary>The watchdog ended the scheduler between steps.</summary>
    internal void ExitBetweenSteps(Machine m, long now)
    {
        if (Stopped || m.World.Sched.ExitKind == ExitKind.None) return;
        NotReproducible = $"{ExitKinds.KernelName(m.World.Sched.ExitKind)} was raised by the watchdog, not by a step: a stall depends on virtual time, which an exploration does not have (check reports a task nothing will run as RunnableEventuallyRuns)";
        FindingAtNs = now;
    }
}
