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
    long Pid,
    string FinalState,
    ExplainedStep? AddedToPolicy,
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
        var steps = new List<(ExplainedStep Step, bool[] HoldsAfter, OpsState[] StateAfter, bool[] BufferedAfter, bool[] LinkedAfter)>();
        var holds = Holds(m);
        var states = States(m);
        var buffered = Buffered(m);
        var holdsBefore = new List<bool[]>();
        var statesBefore = new List<OpsState[]>();
        var bufferedBefore = new List<bool[]>();
        for (var i = 0; i < trace.Count; i++)
        {
            var a = trace[i];
            if (!m.IsEnabled(a)) throw new InvalidOperationException($"trace does not replay: step {i}: {m.Actor(a).Name} is not enabled");
            sink.Notes.Clear();
            holdsBefore.Add(holds);
            statesBefore.Add(states);
            bufferedBefore.Add(buffered);
            m.Step(a);
            holds = Holds(m);
            states = States(m);
            buffered = Buffered(m);
            steps.Add((new ExplainedStep(i, m.Actor(a).Name, [.. sink.Notes.Select(x => x.Trim())]), holds, states, buffered, Linked(m)));
        }
        var lost = CellClassifier.ForgottenTasks(m, strict: false);
        if (lost.Count == 0) return null;
        var t = lost[0];
        var name = m.TaskName(t);
        var finalState = CellClassifier.Forgotten(m, t);

        ExplainedStep? added = null, removed = null, dropped = null;
        var removedIndex = -1;
        for (var i = steps.Count - 1; i >= 0 && removedIndex < 0; i--)
            if (holdsBefore[i][t] && !steps[i].HoldsAfter[t]) removedIndex = i;
        if (removedIndex >= 0) removed = steps[removedIndex].Step;
        for (var i = removedIndex - 1; i >= 0 && added == null; i--)
            if (!holdsBefore[i][t] && steps[i].HoldsAfter[t]) added = steps[i].Step;
        // The drop: ops_state DISPATCHING → QUEUED across a step, or (when finish_dispatch claims and drops
        // within one step) the step that consumed the task's dispatch-buffer entry and left it QUEUED on no list.
        // The revert is preferred: the step that later clears the buffer entry also leaves the task QUEUED.
        var dropIndex = -1;
        for (var i = steps.Count - 1; i >= 0 && dropIndex < 0; i--)
            if (statesBefore[i][t] == OpsState.Dispatching && steps[i].StateAfter[t] == OpsState.Queued) dropIndex = i;
        for (var i = steps.Count - 1; i >= 0 && dropIndex < 0; i--)
        {
            var after = steps[i];
            if (bufferedBefore[i][t] && !after.BufferedAfter[t] && after.StateAfter[t] == OpsState.Queued && !after.LinkedAfter[t]) dropIndex = i;
        }
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
        return new ForgottenTaskExplanation(name, config.Tasks[t].Pid, finalState, added, removed, dropped, enqueues, trace.Count, extra, !m.AnyEnabled());
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

    private static bool[] Buffered(Machine m)
    {
        var r = new bool[m.World.Tasks.Length];
        for (var t = 0; t < r.Length; t++) r[t] = Checks.WorldQueries.InDispatchBuffer(m.World, t);
        return r;
    }

    private static bool[] Linked(Machine m)
    {
        var r = new bool[m.World.Tasks.Length];
        for (var t = 0; t < r.Length; t++) r[t] = m.World.Tasks[t].ListOn >= 0 || Checks.WorldQueries.CurrentOn(m.World, t) >= 0;
        return r;
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
        string Say(ExplainedStep s)
        {
            var pid = Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var about = s.Notes.Where(x => x.Contains(pid, StringComparison.Ordinal)).ToList();
            return $"step {s.Index} on {s.Actor}: {string.Join(" / ", about.Count > 0 ? about : s.Notes)}";
        }
        if (RemovedFromPolicy == null)
        {
            yield return $"- {Task} was never taken out of the policy's maps in this trace.";
        }
        else
        {
            yield return $"- {Task} left the policy's queue at {Say(RemovedFromPolicy)} (the policy's HoldsTask is false from then on).";
            if (AddedToPolicy != null)
                yield return $"  The entry it removed had been put back at {Say(AddedToPolicy)}.";
        }
        yield return DispatchDropped != null
            ? $"- Its dispatch was dropped at {Say(DispatchDropped)}: the kernel took it back to QUEUED (BPF custody) instead of dispatching it."
            : $"- No step dropped a dispatch of {Task}.";
        if (EnqueuesAfterDrop.Count == 0)
        {
            var rest = TraceSteps - 1 - (DispatchDropped?.Index ?? -1);
            yield return $"- No ops.enqueue({Task}) followed: none in the remaining {rest} step(s) of the trace, and none in {ContinuationSteps} more " +
                         $"step(s) run to {(ReachedQuiescence ? "quiescence" : "the step limit")}. The policy had removed it expecting the insert to " +
                         "hand it to the kernel; the kernel handed it back to a scheduler that no longer knows it.";
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
