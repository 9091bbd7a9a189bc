using Scxlab.Bpf;
using Scxlab.Checks;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Reporting;
using Scxlab.Stepping;

namespace Scxlab.Comparison;

/// <summary>
/// Classifies a violation by replaying its trace on a fresh machine and reading the world it
/// leaves — never by the names of the policy or protocol. A scheduler exit is followed a little
/// further (the path that raised scx_error finishes, as it does in the kernel) to say where the
/// task was parked; an ownership or liveness failure is a forgotten task when the replayed world
/// has a runnable task in BPF custody that the policy's maps do not hold, or one that no one owns.
/// </summary>
public static class CellClassifier
{
    /// <summary>Steps the erroring actor may take to finish the path that raised the exit.</summary>
    private const int AftermathSteps = 64;

    public static (CellOutcome Outcome, IReadOnlyList<string> TaskEnds) Classify(ModelConfig config, FoundViolation found)
    {
        var m = new Machine(config);
        foreach (var a in found.Trace)
        {
            if (!m.IsEnabled(a)) throw new InvalidOperationException($"trace does not replay: {m.Actor(a).Name} is not enabled");
            m.Step(a);
        }
        var v = found.Violation;
        switch (v.Kind)
        {
            case ViolationKind.Exit:
            {
                if (found.Trace.Count > 0) FinishPath(m, found.Trace[^1]);
                return (CellOutcome.SchedulerExit, [.. WaitingTasks(m).Select(t => Whereabouts.Of(m, t))]);
            }
            case ViolationKind.Invariant or ViolationKind.Liveness
                when v.Name is nameof(TaskHasExactlyOneOwner) or InvariantCatalog.RunnableEventuallyRuns:
            {
                var lost = ForgottenTasks(m, strict: v.Kind == ViolationKind.Invariant);
                if (lost.Count > 0) return (CellOutcome.TaskForgotten, [.. lost.Select(t => Forgotten(m, t))]);
                return (CellOutcome.OtherViolation, [.. WaitingTasks(m).Select(t => Whereabouts.Of(m, t))]);
            }
            case ViolationKind.Invariant or ViolationKind.Liveness or ViolationKind.KernelAssertion:
                return (CellOutcome.OtherViolation, [.. WaitingTasks(m).Select(t => Whereabouts.Of(m, t))]);
            default:
                throw new System.Diagnostics.UnreachableException($"violation kind {v.Kind}");
        }
    }

    /// <summary>
    /// Runnable sched_ext tasks nobody will dispatch: SCX_TASK_QUEUED, not current, on no list, and either
    /// QUEUED in BPF custody while the policy's maps do not hold it (with <paramref name="strict"/>: the policy
    /// must say so; otherwise "cannot say" counts too, because the liveness drain already showed it never runs),
    /// or NONE with no kernel path or transfer carrying it.
    /// </summary>
    public static List<int> ForgottenTasks(Machine m, bool strict)
    {
        var w = m.World;
        var lost = new List<int>();
        for (var t = 0; t < w.Tasks.Length; t++)
        {
            ref var p = ref w.Tasks[t];
            if (p.Run != RunState.Runnable || p.Class != SchedClass.Ext || (p.Flags & TaskFlags.Queued) == 0) continue;
            if (p.ListOn >= 0 || WorldQueries.CurrentOn(w, t) >= 0 || WorldQueries.InDispatchBuffer(w, t)) continue;
            var st = OpsWord.State(p.OpsState);
            if (st == OpsState.Queued)
            {
                var holds = PolicyHolds(m, t);
                if (holds == false || (!strict && holds == null)) lost.Add(t);
            }
            else if (st == OpsState.None && p.HoldingCpu < 0 && p.StickyCpu < 0 && !p.Migrating && !WorldQueries.PathHoldsTask(w, t))
            {
                lost.Add(t);
            }
        }
        return lost;
    }

    public static bool? PolicyHolds(Machine m, int t) => m.PolicyHoldsTask(m.World, t);

    /// <summary>The one-line end state of a forgotten task.</summary>
    public static string Forgotten(Machine m, int t)
    {
        var p = m.World.Tasks[t];
        var ops = OpsWord.Format(p.OpsState);
        return OpsWord.State(p.OpsState) == OpsState.Queued
            ? $"{m.TaskName(t)}: {ops} (BPF custody), on no DSQ, and the policy's maps do not hold it"
            : $"{m.TaskName(t)}: runnable, {ops}, on no DSQ and in no one's hands";
    }

    /// <summary>Let the actor that raised the exit finish the kernel path it was in (its frame and the callees it pushes).</summary>
    private static void FinishPath(Machine m, int actor)
    {
        var depth = m.World.Actors[actor].Depth;
        for (var i = 0; i < AftermathSteps && depth > 0 && m.World.Actors[actor].Depth >= depth && m.IsEnabled(actor); i++)
            m.Step(actor);
    }

    /// <summary>Runnable sched_ext tasks that are not running: the ones whose whereabouts matter.</summary>
    private static IEnumerable<int> WaitingTasks(Machine m)
    {
        var w = m.World;
        for (var t = 0; t < w.Tasks.Length; t++)
            if (w.Tasks[t].Run == RunState.Runnable && WorldQueries.CurrentOn(w, t) < 0) yield return t;
    }
}
