using System.Diagnostics;
using Scxlab.Checks;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Exploration;

/// <summary>
/// Layer-parallel breadth-first search (<c>--jobs N</c>, N &gt; 1): the same search as <see cref="BfsSearch"/>,
/// with the expensive work of each layer spread over N workers and every decision taken in one fixed order,
/// so the states, transitions, verdict, findings and traces are the same for every N.
/// </summary>
/// <remarks>
/// Each layer runs in three phases.
/// <list type="number">
/// <item>Expand (parallel): the frontier is cut into N contiguous ranges; each worker, with its own machine,
/// checker and worlds, steps every enabled actor of each of its states, checks the step (kernel assertions,
/// exits, safety invariants, warnings), fingerprints the child and saves it.</item>
/// <item>Merge (one thread, in frontier order, then actor order — the order of the sequential BFS): transitions
/// are counted, children inserted in the visited set, nodes numbered, findings recorded. The same state can be
/// produced by two workers; only its first occurrence in that order is new, as in the sequential search.</item>
/// <item>Quiescent (parallel): the liveness drain of each new state in which no actor is enabled.</item>
/// </list>
/// Workers never touch the visited set, so it needs no locks. Warnings are deduplicated at the merge (by key),
/// since a worker's checker cannot know whether the state it saw a warning in is new.
/// </remarks>
internal sealed class ParallelBfsSearch(Machine m, World initial, ExploreOptions o, ExploreStats stats, Stopwatch clock, IVisitedSet visited, int jobs)
{
    private readonly BfsTree _tree = new(stats);
    private readonly HashSet<string> _warningKeys = [];
    private double _nextProgress = 1.0;

    public string? Incomplete { get; private set; }
    public List<FoundViolation> Warnings { get; } = [];

    /// <summary>What a worker learned about one transition.</summary>
    private struct Child
    {
        public int Parent;
        public int Actor;
        public ulong Fingerprint;
        /// <summary>A kernel assertion of the step (the child is neither stored nor expanded), or the child's exit / invariant violation.</summary>
        public Violation? Finding;
        public bool IsAssertion;
        public Violation? Warning;
        public bool Quiescent;
        public long Offset;
        public int Length;
    }

    private sealed class Worker
    {
        public required Machine M;
        public required StateChecker Checker;
        public required World State;
        public required World Child;
        public readonly GrowBuffer Out = new();
        public readonly List<Child> Children = [];
        /// <summary>Fingerprints this worker produced in the current layer (fingerprint mode only).</summary>
        public readonly HashSet<ulong> LayerSeen = [];
        public Exception? Error;
    }

    /// <param name="targets">Violation keys to look for (stop when all are found), or null for a full search.</param>
    public List<FoundViolation> Run(HashSet<string>? targets)
    {
        var found = new Dictionary<string, FoundViolation>();
        // check --shard: the same frontier cut as the sequential search's (BfsSearch), on the same layers.
        var sharded = o.ShardCount > 1 && targets == null;
        var frontierSize = o.ShardFrontierStates > 0 ? o.ShardFrontierStates : 16L * o.ShardCount;
        var frontierLimit = o.FrontierLimit;
        var workers = new Worker[jobs];
        for (var k = 0; k < jobs; k++)
        {
            var wm = new Machine(m.Config);
            workers[k] = new Worker
            {
                M = wm,
                Checker = new StateChecker(wm, o.Checks) { ReportEveryWarning = true },
                State = initial.Clone(),
                Child = initial.Clone(),
            };
        }

        // The root, as the sequential search does it.
        var root = initial.Clone();
        var rootChecker = new StateChecker(m, o.Checks);
        m.World = root;
        var rootFp = root.Fingerprint();
        visited.Add(root, rootFp, 0, out _);
        o.OnStore?.Invoke(rootFp);
        var rootViolation = rootChecker.CheckState();
        if (targets == null && rootChecker.TakeNewWarning() is { } rw) AddWarning(rw, 0);
        if (Found(rootViolation, 0)) return [.. found.Values];
        if (!m.AnyEnabled())
        {
            stats.Executions++;
            Found(rootChecker.AtQuiescent(), 0);
            return [.. found.Values];
        }

        var cur = new GrowBuffer();
        var nxt = new GrowBuffer();
        var curItems = new List<(int Index, long Offset, int Length, ulong Fp)>();
        var nxtItems = new List<(int Index, long Offset, int Length, ulong Fp)>();
        var quiescent = new List<(int Index, int Worker, long Offset, int Length)>();
        var rootAt = WorldCodec.Save(root, cur);
        curItems.Add((0, rootAt, (int)(cur.Length - rootAt), rootFp));
        var depth = 0;
        var stop = 0; // set by a worker that ran out of time (1) or saw Ctrl-C (2); read by the others between states
        while (curItems.Count > 0)
        {
            depth++;
            // 1. Expand.
            Parallel.For(0, jobs, new ParallelOptions { MaxDegreeOfParallelism = jobs }, k =>
            {
                var wk = workers[k];
                wk.Out.Clear();
                wk.Children.Clear();
                wk.LayerSeen.Clear();
                var from = (int)((long)curItems.Count * k / jobs);
                var to = (int)((long)curItems.Count * (k + 1) / jobs);
                try
                {
                    for (var i = from; i < to; i++)
                    {
                        if (Volatile.Read(ref stop) != 0) return;
                        if (o.Cancel.IsCancellationRequested)
                        {
                            Volatile.Write(ref stop, 2);
                            return;
                        }
                        if (o.BudgetSeconds is { } b && (i & 63) == 0 && clock.Elapsed.TotalSeconds >= b)
                        {
                            Volatile.Write(ref stop, 1);
                            return;
                        }
                        Expand(wk, curItems[i], cur, visited as IConcurrentLookup);
                    }
                }
                catch (Exception e)
                {
                    wk.Error = e;
                    Volatile.Write(ref stop, 1);
                }
            });
            foreach (var wk in workers)
                if (wk.Error != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(wk.Error);

            // 2. Merge, in the sequential search's order.
            quiescent.Clear();
            for (var k = 0; k < jobs; k++)
            {
                var wk = workers[k];
                foreach (var c in wk.Children)
                {
                    stats.Transitions++;
                    if (o.MaxTransitions is { } mt && stats.Transitions > mt)
                    {
                        stats.Transitions--;
                        Incomplete = Explorer.TransitionBudgetReason(mt);
                        return [.. found.Values];
                    }
                    if (c.IsAssertion)
                    {
                        stats.Executions++;
                        if (Found(c.Finding, _tree.Add(c.Parent, c.Actor, depth))) return [.. found.Values];
                        continue;
                    }
                    if (visited.WouldExceed(o.MaxMemoryBytes))
                    {
                        Incomplete = visited.ExhaustedReason(o.MaxMemoryBytes);
                        return [.. found.Values];
                    }
                    if (c.Length < 0)
                    {
                        // Found in the visited set by the worker (stored in an earlier layer): a revisit.
                        stats.Executions++;
                        continue;
                    }
                    World? exactWorld = null;
                    if (o.Exact)
                    {
                        // The exact set stores the world itself.
                        exactWorld = workers[0].Child;
                        WorldCodec.Load(wk.Out.Slice(c.Offset, c.Length), exactWorld);
                    }
                    if (!visited.Add(exactWorld!, c.Fingerprint, 0, out _))
                    {
                        stats.Executions++;
                        continue;
                    }
                    o.OnStore?.Invoke(c.Fingerprint);
                    var ci = _tree.Add(c.Parent, c.Actor, depth);
                    if (c.Warning != null && targets == null) AddWarning(c.Warning, ci);
                    if (c.Finding != null)
                    {
                        stats.Executions++;
                        if (Found(c.Finding, ci)) return [.. found.Values];
                        continue;
                    }
                    if (c.Quiescent)
                    {
                        quiescent.Add((ci, k, c.Offset, c.Length));
                        continue;
                    }
                    var start = nxt.Append(wk.Out.Slice(c.Offset, c.Length));
                    nxtItems.Add((ci, start, c.Length, c.Fingerprint));
                    if ((nxtItems.Count & 4095) == 0 && BfsSearch.FrontierBytes(cur, nxt, curItems, nxtItems) + workers.Sum(w => w.Out.Allocated) + _tree.Bytes is var held && held > frontierLimit)
                    {
                        Incomplete = o.FrontierReason(held, depth);
                        return [.. found.Values];
                    }
                }
            }
            Progress();
            if (Volatile.Read(ref stop) != 0 || o.Cancel.IsCancellationRequested)
            {
                Incomplete = Volatile.Read(ref stop) == 1 ? $"time budget of {o.BudgetSeconds:0.###} s exhausted" : "interrupted (Ctrl-C)";
                return [.. found.Values];
            }

            // 3. The liveness drain of the new quiescent states.
            if (quiescent.Count > 0)
            {
                var results = new Violation?[quiescent.Count];
                Parallel.For(0, jobs, new ParallelOptions { MaxDegreeOfParallelism = jobs }, k =>
                {
                    var wk = workers[k];
                    var from = (int)((long)quiescent.Count * k / jobs);
                    var to = (int)((long)quiescent.Count * (k + 1) / jobs);
                    try
                    {
                        for (var i = from; i < to; i++)
                        {
                            var q = quiescent[i];
                            WorldCodec.Load(workers[q.Worker].Out.Slice(q.Offset, q.Length), wk.State);
                            wk.M.World = wk.State;
                            results[i] = wk.Checker.AtQuiescent();
                        }
                    }
                    catch (Exception e)
                    {
                        wk.Error = e;
                    }
                });
                foreach (var wk in workers)
                    if (wk.Error != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(wk.Error);
                for (var i = 0; i < quiescent.Count; i++)
                {
                    stats.Executions++;
                    if (Found(results[i], quiescent[i].Index)) return [.. found.Values];
                }
            }

            if (sharded && stats.ShardDepth == 0 && nxtItems.Count >= frontierSize)
            {
                // The frontier (BfsSearch): this shard expands only its share of the layer, which every shard has built alike.
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

        bool Found(Violation? v, int index)
        {
            if (v == null) return false;
            if (targets != null && !targets.Contains(v.Key)) return false;
            if (!found.ContainsKey(v.Key)) found[v.Key] = new FoundViolation(v, _tree.PathTo(index));
            return targets != null && targets.All(found.ContainsKey);
        }
    }

    /// <summary>Step every enabled actor of one frontier state (a worker's part of phase 1).</summary>
    /// <param name="known">The visited set when it can be read concurrently (fingerprints), else null; nobody adds to it during the expand phase.</param>
    private static void Expand(Worker wk, (int Index, long Offset, int Length, ulong Fp) item, GrowBuffer cur, IConcurrentLookup? known)
    {
        var wm = wk.M;
        WorldCodec.Load(cur.Slice(item.Offset, item.Length), wk.State);
        wk.State.FullFingerprint(); // once per expanded state: its children's fingerprints are then incremental
        var n = wm.ActorCount;
        for (var a = 0; a < n; a++)
        {
            wm.World = wk.State;
            if (!wm.IsEnabled(a)) continue;
            wk.Child.RestoreFrom(wk.State);
            wm.World = wk.Child;
            wm.Step(a);
            var writes = wm.LastFootprint.Writes;
            // The step's kernel assertion on every transition; the state's exit and invariants only for a child this
            // worker does not already know to be a revisit (see Explorer.Dfs).
            var v = wk.Checker.StepAssertion();
            var c = new Child { Parent = item.Index, Actor = a, Finding = v };
            if (v != null)
            {
                // A finding of the transition: the kernel stopped here (see Explorer.Dfs).
                c.IsAssertion = true;
                wk.Children.Add(c);
                continue;
            }
            c.Fingerprint = wk.Child.Fingerprint();
            if (known != null && (known.Contains(c.Fingerprint) || !wk.LayerSeen.Add(c.Fingerprint)))
            {
                // Stored in an earlier layer, or produced earlier in this layer by this worker (interleavings
                // meet again: a·b and b·a): the merge handles this worker's children in order, so the first
                // occurrence is stored before this one and this one is a revisit. Skip the encoding.
                c.Length = -1;
                wk.Children.Add(c);
                continue;
            }
            c.Finding = wk.Checker.CheckStateAfterStep(writes); // wk.State, from the frontier, passed every check
            c.Warning = wk.Checker.TakeNewWarning();
            c.Quiescent = c.Finding == null && !wm.AnyEnabled();
            c.Offset = WorldCodec.Save(wk.Child, wk.Out);
            c.Length = (int)(wk.Out.Length - c.Offset);
            wk.Children.Add(c);
        }
    }

    private void AddWarning(Violation w, int index)
    {
        if (_warningKeys.Add(w.Key + "\n" + w.Message)) Warnings.Add(new FoundViolation(w, _tree.PathTo(index)));
    }

    private void Progress()
    {
        if (o.Progress == null) return;
        var s = clock.Elapsed.TotalSeconds;
        if (s < _nextProgress) return;
        _nextProgress = s + 0.5;
        stats.States = visited.Count;
        stats.Seconds = s;
        o.Progress(stats);
    }
}
