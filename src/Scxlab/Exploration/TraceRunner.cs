using Scxlab.Bpf;
using Scxlab.Checks;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Exploration;

/// <summary>One step of a replayed trace: who moved, what it narrated, and which visible state changed.</summary>
public sealed record TraceRow(int Index, int Actor, string ActorName, IReadOnlyList<string> Notes, IReadOnlyList<string> Changes);

/// <summary>The result of running a list of actor choices from the initial state.</summary>
public sealed record TraceRun(IReadOnlyList<TraceRow> Rows, Violation? Outcome, int? OutcomeStep, string? Divergence, IReadOnlyList<string> Columns, IReadOnlyList<int> ColumnActors)
{
    /// <summary>Columns left out because their actors took no step (only on machines with more than <see cref="TraceRunner.MaxIdleColumns"/> columns).</summary>
    public int HiddenColumns { get; init; }
}

/// <summary>
/// Re-runs actor choices on a fresh machine with narration on, recording per step the kernel's
/// own narration plus the changes of ops_state/qseq, DSQ contents, rq->curr and the policy's
/// queues. Detects divergence: an actor not enabled at step i, or a violation before the end.
/// </summary>
public static class TraceRunner
{
    /// <summary>Up to this many columns a trace shows every CPU and script actor; past it, only those that step.</summary>
    public const int MaxIdleColumns = 16;

    public static TraceRun Run(ModelConfig config, IReadOnlyList<int> choices, IReadOnlyList<string> checks)
    {
        var m = new Machine(config);
        var sink = new Sink();
        m.Trace = sink;
        var checker = new StateChecker(m, checks);
        var rows = new List<TraceRow>();
        var before = Snapshot(m);
        Violation? outcome = checker.CheckState();
        int? outcomeStep = outcome != null ? -1 : null;
        string? divergence = outcome != null && choices.Count > 0 ? $"the initial state already violates {outcome}" : null;
        for (var i = 0; i < choices.Count && divergence == null; i++)
        {
            var a = choices[i];
            if (a < 0 || a >= m.ActorCount) { divergence = $"step {i}: actor #{a} does not exist (the model has {m.ActorCount} actors)"; break; }
            if (!m.IsEnabled(a)) { divergence = $"step {i}: {m.Actor(a).Name} is not enabled"; break; }
            sink.Notes.Clear();
            var depth = m.World.Actors[a].Depth;
            var path = depth > 0 ? m.World.Frames[a * m.World.MaxDepth + depth - 1].Path : PathId.None;
            m.Step(a);
            if (sink.Notes.Count == 0 && path != PathId.None) sink.Notes.Add($"({path} continues)");
            var after = Snapshot(m);
            rows.Add(new TraceRow(i, a, m.Actor(a).Name, [.. sink.Notes], Diff(before, after)));
            before = after;
            m.Trace = null; // checks must not narrate
            outcome = checker.AfterStep();
            m.Trace = sink;
            if (outcome != null)
            {
                outcomeStep = i;
                if (i != choices.Count - 1) divergence = $"step {i}: the trace reaches {outcome} before its end ({choices.Count} steps)";
                break;
            }
        }
        if (outcome == null && divergence == null && !m.AnyEnabled())
        {
            m.Trace = null;
            outcome = checker.AtQuiescent();
            if (outcome != null) outcomeStep = choices.Count;
        }
        var stepped = new bool[m.ActorCount];
        foreach (var r in rows) stepped[r.Actor] = true;
        var cols = new List<int>();
        for (var a = 0; a < m.ActorCount; a++)
            if (m.Actor(a).Kind != ActorKind.Helper || stepped[a]) cols.Add(a);
        // A big machine's trace keeps only the columns of actors that step: a 256-CPU walk touches a few CPUs, and a
        // column for each of the others made every line thousands of characters wide. A small one keeps them all, as
        // the races are drawn on LKML (an idle CPU is part of the picture).
        var hidden = 0;
        if (cols.Count > MaxIdleColumns)
        {
            hidden = cols.Count(a => !stepped[a]);
            cols.RemoveAll(a => !stepped[a]);
        }
        return new TraceRun(rows, outcome, outcomeStep, divergence, [.. cols.Select(a => m.Actor(a).Name)], cols) { HiddenColumns = hidden };
    }

    private sealed class Sink : ITraceSink
    {
        public readonly List<string> Notes = [];
        public void Note(int actor, string text) => Notes.Add(text);
    }

    /// <summary>Visible state as ordered (label, value) pairs; a step's changes are the pairs whose value differs.</summary>
    private static List<(string Label, string Value)> Snapshot(Machine m)
    {
        var w = m.World;
        var s = new List<(string, string)>();
        for (var t = 0; t < w.Tasks.Length; t++)
        {
            ref var p = ref w.Tasks[t];
            s.Add((m.TaskName(t), $"{OpsWord.Format(p.OpsState)}{((p.Flags & TaskFlags.Queued) != 0 ? "" : " !QUEUED")} cpus={p.CpusPtr}{(p.HoldingCpu >= 0 ? $" holding_cpu={p.HoldingCpu}" : "")}{(p.Run == RunState.Runnable ? "" : $" {p.Run.ToString().ToLowerInvariant()}")}"));
        }
        for (var c = 0; c < w.Cpus.Length; c++)
            s.Add(($"CPU{c} curr", w.Cpus[c].Curr < 0 ? "idle" : m.TaskName(w.Cpus[c].Curr)));
        for (var d = 0; d < w.Dsqs.Length; d++)
        {
            var items = new List<string>();
            var guard = w.Tasks.Length + 1;
            for (var t = w.Dsqs[d].Head; t >= 0 && guard-- > 0; t = w.Tasks[t].Next) items.Add(m.Config.Tasks[t].Name);
            s.Add((m.SlotName(d), $"[{string.Join(", ", items)}]"));
        }
        var per = w.DspBuf.Length / Math.Max(1, w.Cpus.Length);
        for (var c = 0; c < w.Cpus.Length; c++)
        {
            var items = new List<string>();
            for (var i = 0; i < w.Cpus[c].DspCursor; i++)
            {
                var e = w.DspBuf[c * per + i];
                items.Add($"{m.Config.Tasks[e.Task].Name}→{DsqId.Name(e.DsqId)} q{e.Qseq >> OpsWord.QseqShift}");
            }
            s.Add(($"dsp_buf[{c}]", $"[{string.Join(", ", items)}]"));
        }
        var view = new MapView(w.Maps);
        foreach (var (name, h) in m.MapLayout.Maps)
        {
            if (h.Kind is not (MapKind.Queue or MapKind.List or MapKind.Stack)) continue;
            var items = new List<string>();
            for (var i = 0; i < view.Count(h); i++) items.Add(PidName(m, view.At(h, i)));
            s.Add(($"bpf {name}", $"[{string.Join(", ", items)}]"));
        }
        return s;
    }

    private static string PidName(Machine m, long pid)
    {
        foreach (var t in m.Config.Tasks)
            if (t.Pid == pid) return t.Name;
        return pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static List<string> Diff(List<(string Label, string Value)> a, List<(string Label, string Value)> b)
    {
        var d = new List<string>();
        for (var i = 0; i < a.Count; i++)
            if (a[i].Value != b[i].Value) d.Add($"{a[i].Label}: {a[i].Value} → {b[i].Value}");
        return d;
    }
}
