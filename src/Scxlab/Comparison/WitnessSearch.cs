using System.Diagnostics;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Comparison;

/// <summary>The result of a witness search: the shortest trace found, or why there is none.</summary>
public sealed record Witness(IReadOnlyList<int>? Trace, bool Complete, long States, string? MatchedNote);

/// <summary>
/// Reachability of a narrated event: a breadth-first search over every interleaving for the
/// shortest trace in which some step's kernel narration contains a given text (e.g. a ghOSt
/// commit answered <c>TargetStale</c>, a dispatch <c>dropped</c>). It answers "can this protocol's
/// rejection actually happen here?", which a cell that holds does not show by itself. States are
/// cached by fingerprint; states after a scheduler exit are not expanded. Narration is on for
/// every step, so this is for the small seed scenarios, not the explorer's hot path.
/// </summary>
public static class WitnessSearch
{
    public static Witness Find(ModelConfig config, string text, long maxStates = 200_000, double? budgetSeconds = 10)
    {
        var clock = Stopwatch.StartNew();
        var m = new Machine(config);
        var sink = new Sink();
        var root = m.World.Clone();
        var visited = new HashSet<ulong> { root.Fingerprint() };
        var nodes = new List<(World World, int Parent, int Actor)> { (root, -1, -1) };
        for (var head = 0; head < nodes.Count; head++)
        {
            if (visited.Count >= maxStates || (budgetSeconds is { } b && clock.Elapsed.TotalSeconds >= b))
                return new Witness(null, false, visited.Count, null);
            var w = nodes[head].World;
            if (w.Sched.ExitKind != ExitKind.None) continue;
            for (var a = 0; a < m.ActorCount; a++)
            {
                m.World = w;
                if (!m.IsEnabled(a)) continue;
                var child = w.Clone();
                m.World = child;
                sink.Notes.Clear();
                m.Trace = sink;
                m.Step(a);
                m.Trace = null;
                var hit = sink.Notes.FirstOrDefault(n => n.Contains(text, StringComparison.Ordinal));
                if (hit != null)
                {
                    var path = new List<int> { a };
                    for (var i = head; nodes[i].Parent >= 0; i = nodes[i].Parent) path.Add(nodes[i].Actor);
                    path.Reverse();
                    return new Witness(path, true, visited.Count, hit);
                }
                if (visited.Add(child.Fingerprint())) nodes.Add((child, head, a));
            }
            nodes[head] = (null!, nodes[head].Parent, nodes[head].Actor); // expanded: only the links are needed now
        }
        return new Witness(null, true, visited.Count, null);
    }

    private sealed class Sink : ITraceSink
    {
        public readonly List<string> Notes = [];
        public void Note(int actor, string text) => Notes.Add(text);
    }
}
