using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Comparison;

/// <summary>One step of the replay the explanation points at.</summary>
public sealed record ExplainedStep(int Index, string Actor, IReadOnlyList<string> Notes);

/// <summary>
/// Why a task was forgotten, read off a replay of the trace: which step took it out of the
/// policy's maps (the policy's own <see cref="ScxOps.HoldsTask"/> evaluated after every step),
/// which step dropped its dispatch (ops_state DISPATCHING → QUEUED), and whether any
/// ops.enqueue() for it followed — in the rest of the trace and in a continuation of the run to
/// quiescence (every actor finishing what it has left, round robin).
/// </summary>
public sealed record ForgottenTaskExplanation(
    string Task,
    string FinalState,
    ExplainedStep? RemovedFromPolicy,
    ExplainedStep? DispatchDropped,
    IReadOnlyList<ExplainedStep> EnqueuesAfterDrop,
    int TraceSteps,
    int ContinuationSteps,
    bool ReachedQuiescence)
{
    /// <summary>Steps the continuation may take to reach quiescence.</summary>
    private const int ContinuationLimit = 10_000;

    /// <summary>Replay <paramref name="trace"/> and explain the first forgotten task it leaves, or null when it leaves none.</summary>
    public static ForgottenTaskExplanation? Explain(ModelConfig config, IReadOnlyList<int> trace)
    {
        var m = new Machine(config);
        var sink = new Sink();
        m.Trace = sink;
        var steps = new List<(ExplainedStep Step, bool[] HoldsAfter, OpsState[] StateAfter)>();
        var holds = Holds(m);
        var states = States(m);
        var holdsBefore = new List<bool[]>();
        var statesBefore = new List<OpsState[]>();
        for (var i = 0; i < trace.Count; i++)
        {
            var a = trace[i];
            if (!m.IsEnabled(a)) throw new InvalidOperationException($"trace does not replay: step {i}: {m.Actor(a).Name} is not enabled");
            sink.Notes.Clear();
            holdsBefore.Add(holds);
            statesBefore.Add(states);
            m.Step(a);
            holds = Holds(m);
            states = States(m);
            steps.Add((new ExplainedStep(i, m.Actor(a).Name, [.. sink.Notes]), holds, states));
        }
        var lost = CellClassifier.ForgottenTasks(m, strict: false);
        if (lost.Count == 0) return null;
        var t = lost[0];
        var name = m.TaskName(t);
        var finalState = CellClassifier.Forgotten(m, t);

        ExplainedStep? removed = null, dropped = null;
        for (var i = steps.Count - 1; i >= 0 && removed == null; i--)
            if (holdsBefore[i][t] && !steps[i].HoldsAfter[t]) removed = steps[i].Step;
        var dropIndex = -1;
        for (var i = steps.Count - 1; i >= 0 && dropIndex < 0; i--)
            if (statesBefore[i][t] == OpsState.Dispatching && steps[i].StateAfter[t] == OpsState.Queued) dropIndex = i;
        if (dropIndex >= 0) dropped = steps[dropIndex].Step;

        var enqueueNote = $"ops.{ScxCallbacks.OpName(ScxCallback.Enqueue)}({name})";
        var enqueues = new List<ExplainedStep>();
        for (var i = Math.Max(0, dropIndex + 1); i < steps.Count; i++)
            if (steps[i].Step.Notes.Any(x => x.StartsWith(enqueueNote, StringComparison.Ordinal))) enqueues.Add(steps[i].Step);

        // Continue the run to quiescence: does anything ever hand the task back to the policy?
        var extra = 0;
        var cur = trace.Count > 0 ? trace[^1] : -1;
        while (extra < ContinuationLimit && m.AnyEnabled())
        {
            var next = cur >= 0 && m.World.Actors[cur].Depth > 0 && m.IsEnabled(cur) ? cur : -1;
            for (var i = 1; next < 0 && i <= m.ActorCount; i++)
            {
                var a = ((cur + i) % m.ActorCount + m.ActorCount) % m.ActorCount;
                if (m.IsEnabled(a)) next = a;
            }
            sink.Notes.Clear();
            var enqueueFrame = HasEnqueueFrame(m, t);
            m.Step(next);
            cur = next;
            if (sink.Notes.Any(x => x.StartsWith(enqueueNote, StringComparison.Ordinal)) || (!enqueueFrame && HasEnqueueFrame(m, t)))
                enqueues.Add(new ExplainedStep(trace.Count + extra, m.Actor(next).Name, [.. sink.Notes]));
            extra++;
        }
        return new ForgottenTaskExplanation(name, finalState, removed, dropped, enqueues, trace.Count, extra, !m.AnyEnabled());
    }

    private static bool HasEnqueueFrame(Machine m, int t)
    {
        var w = m.World;
        for (var a = 0; a < w.Actors.Length; a++)
            for (var i = 0; i < w.Actors[a].Depth; i++)
            {
                ref var f = ref w.Frames[a * w.MaxDepth + i];
                if (f.Path == PathId.Callback && f.I0 == (int)ScxCallback.Enqueue && f.Task == t) return true;
            }
        return false;
    }

    private static bool[] Holds(Machine m)
    {
        var r = new bool[m.World.Tasks.Length];
        for (var t = 0; t < r.Length; t++) r[t] = CellClassifier.PolicyHolds(m, t) == true;
        return r;
    }

    private static OpsState[] States(Machine m)
    {
        var r = new OpsState[m.World.Tasks.Length];
        for (var t = 0; t < r.Length; t++) r[t] = OpsWord.State(m.World.Tasks[t].OpsState);
        return r;
    }

    /// <summary>The explanation as a few lines of text.</summary>
    public IEnumerable<string> Lines()
    {
        static string Say(ExplainedStep s) => $"step {s.Index} on {s.Actor}: {string.Join(" / ", s.Notes)}";
        yield return RemovedFromPolicy != null
            ? $"- {Task} left the policy's queue at {Say(RemovedFromPolicy)} (the policy's HoldsTask turns false after it)."
            : $"- {Task} was never held by the policy's maps in this trace.";
        yield return DispatchDropped != null
            ? $"- Its dispatch was dropped at {Say(DispatchDropped)}: ops_state went DISPATCHING → QUEUED, so the kernel counts it as in BPF custody again."
            : $"- No step moved {Task} from DISPATCHING back to QUEUED.";
        if (EnqueuesAfterDrop.Count == 0)
        {
            yield return $"- No ops.enqueue({Task}) followed: none in the remaining {TraceSteps - 1 - (DispatchDropped?.Index ?? -1)} step(s) of the trace, " +
                         $"and none in {ContinuationSteps} more step(s) run to {(ReachedQuiescence ? "quiescence" : "the step limit")}. " +
                         $"The policy had removed it expecting the insert to hand it to the kernel; the kernel handed it back without telling the policy.";
        }
        else
        {
            foreach (var e in EnqueuesAfterDrop) yield return $"- ops.enqueue({Task}) did follow at {Say(e)}.";
        }
        yield return $"- End state: {FinalState}: nobody will dispatch it.";
    }

    private sealed class Sink : ITraceSink
    {
        public readonly List<string> Notes = [];
        public void Note(int actor, string text) => Notes.Add(text);
    }
}
