using System.Diagnostics;
using Scxlab.Checks;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Exploration;

/// <summary>
/// Breadth-first search over states with parent links (parent index, actor). The first state
/// reached with a given violation is at the least depth, so its trace is a shortest one. Used as
/// a strategy (<c>--strategy bfs</c>) and, after a DFS found violations, to shorten their traces.
/// The frontier is kept as <see cref="WorldCodec"/> bytes, not as World objects.
/// </summary>
internal sealed class BfsSearch(Machine m, World initial, StateChecker checker, ExploreOptions o, ExploreStats stats, Stopwatch clock, IVisitedSet visited)
{
    private readonly BfsTree _tree = new(stats);
    private double _nextProgress = 1.0;

    public string? Incomplete { get; private set; }

    /// <summary>
    /// What two layers of a frontier hold: their encoded states and their item lists (an index, an offset, a length and a
    /// fingerprint per state: 32 bytes, counted with the lists' spare capacity).
    /// </summary>
    internal static long FrontierBytes<T>(GrowBuffer cur, GrowBuffer nxt, List<T> curItems, List<T> nxtItems) =>
        cur.Allocated + nxt.Allocated + ((long)curItems.Capacity + nxtItems.Capacity) * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();

    /// <summary>The depth of the layer being expanded, or that was last (the length of the traces it was looking at).</summary>
    public int Depth { get; private set; }
    /// <summary>Warning-level findings of a full search (none when searching for given targets), each with its shortest trace.</summary>
    public List<FoundViolation> Warnings { get; } = [];

    /// <param name="targets">Violation keys to look for (stop when all are found), or null for a full search.</param>
    public List<FoundViolation> Run(HashSet<string>? targets)
    {
        var found = new Dictionary<string, FoundViolation>();
        var n = m.ActorCount;
        var cur = new GrowBuffer();
        var nxt = new GrowBuffer();
        var curItems = new List<(int Index, long Offset, int Length, ulong Fp)>();
        var nxtItems = new List<(int Index, long Offset, int Length, ulong Fp)>();
        var sharded = o.ShardCount > 1 && targets == null;
        var frontierSize = o.ShardFrontierStates > 0 ? o.ShardFrontierStates : 16L * o.ShardCount;
        var frontierLimit = o.FrontierLimit;
        var state = initial.Clone();
        var child = initial.Clone();

        m.World = state;
        var rootFp = state.Fingerprint();
        visited.Add(state, rootFp, 0, out _);
        o.OnStore?.Invoke(rootFp);
        var rootViolation = checker.CheckState();
        if (targets == null && checker.TakeNewWarning() is { } rw) Warnings.Add(new FoundViolation(rw, []));
        if (Found(rootViolation, 0)) return [.. found.Values];
        if (!m.AnyEnabled())
        {
            stats.Executions++;
            Found(checker.AtQuiescent(), 0);
            return [.. found.Values];
        }
        var rootAt = WorldCodec.Save(state, cur);
        curItems.Add((0, rootAt, (int)(cur.Length - rootAt), rootFp));
        var depth = 0;
        while (curItems.Count > 0)
        {
            depth++;
            Depth = depth;
            foreach (var (index, off, len, _) in curItems)
            {
                WorldCodec.Load(cur.Slice(off, len), state);
                state.FullFingerprint(); // once per expanded state: its children's fingerprints are then incremental
                for (var a = 0; a < n; a++)
                {
                    m.World = state;
                    if (!m.IsEnabled(a)) continue;
                    if (Explorer.OverBudget(o, stats, clock, visited, ref _nextProgress, out var why))
                    {
                        Incomplete = why;
                        return [.. found.Values];
                    }
                    child.RestoreFrom(state);
                    m.World = child;
                    m.Step(a);
                    var writes = m.LastFootprint.Writes;
                    stats.Transitions++;
                    // The step's kernel assertion before the visited test; the state's exit and invariants once, when
                    // it is first stored (a revisit would find what its first visit recorded: see Explorer.Dfs).
                    var v = checker.StepAssertion();
                    if (v != null)
                    {
                        // A finding of the transition, recorded whatever the state it lands in: the kernel
                        // stopped here, so that state is neither stored nor expanded (see Explorer.Dfs).
                        stats.Executions++;
                        if (Found(v, _tree.Add(index, a, depth))) return [.. found.Values];
                        continue;
                    }
                    var fp = child.Fingerprint();
                    if (!visited.Add(child, fp, 0, out _))
                    {
                        stats.Executions++;
                        continue;
                    }
                    // state, expanded from the frontier, passed every check when it was stored.
                    v = checker.CheckStateAfterStep(writes);
                    var warning = checker.TakeNewWarning();
                    o.OnStore?.Invoke(fp);
                    var ci = _tree.Add(index, a, depth);
                    if (warning != null && targets == null) Warnings.Add(new FoundViolation(warning, _tree.PathTo(ci)));
                    if (v != null)
                    {
                        stats.Executions++;
                        if (Found(v, ci)) return [.. found.Values];
                        continue;
                    }
                    if (!m.AnyEnabled())
                    {
                        stats.Executions++;
                        if (Found(checker.AtQuiescent(), ci)) return [.. found.Values];
                        continue;
                    }
                    var start = WorldCodec.Save(child, nxt);
                    nxtItems.Add((ci, start, (int)(nxt.Length - start), fp));
                    if ((nxtItems.Count & 4095) == 0 && FrontierBytes(cur, nxt, curItems, nxtItems) + _tree.Bytes is var held && held > frontierLimit)
                    {
                        Incomplete = o.FrontierReason(held, depth);
                        return [.. found.Values];
                    }
                }
            }
            if (sharded && stats.ShardDepth == 0 && nxtItems.Count >= frontierSize)
            {
                // The frontier: this shard expands only its share of the layer. Every shard has built the
                // same layer, so the shares are disjoint and together the whole layer.
                stats.ShardDepth = depth;
                stats.ShardFrontierStates = nxtItems.Count;
                nxtItems.RemoveAll(item => item.Fp % (ulong)o.ShardCount != (ulong)o.ShardIndex);
                stats.ShardOwnStates = nxtItems.Count;
            }
            (cur, nxt) = (nxt, cur);
            (curItems, nxtItems) = (nxtItems, curItems);
            nxt.Clear();
            nxtItems.Clear();
        }
        return [.. found.Values];

        // Record v (if wanted); true when every target has been found.
        bool Found(Violation? v, int index)
        {
            if (v == null) return false;
            if (targets != null && !targets.Contains(v.Key)) return false;
            if (!found.ContainsKey(v.Key)) found[v.Key] = new FoundViolation(v, _tree.PathTo(index));
            return targets != null && targets.All(found.ContainsKey);
        }
    }
}
