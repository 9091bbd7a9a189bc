using System.Diagnostics;
using Scxlab.Checks;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Exploration;

/// <summary>
/// Parallel depth-first search (<c>check --jobs N</c> with the dfs or reduced strategy), swarm style: N workers,
/// each with its own machine, checker and world stack, run DFS from the root over one shared visited set
/// (<see cref="ConcurrentVisitedSet"/>), each trying the actors of a state in its own order. A worker expands the
/// states it inserted and skips those another worker inserted, so every state is expanded once.
/// </summary>
/// <remarks>
/// <para><b>Same answer for every N.</b> Every worker starts at the root; a worker expands every state it inserts,
/// stepping each enabled actor; each child is either inserted by that worker (and expanded by it) or was inserted
/// by some worker (who expands it). So the stored states are exactly the reachable ones, and (plain DFS) each
/// state's transitions are generated once — except the root's, which every worker generates: only the worker
/// holding the primary root piece counts them. Findings are recorded as the sequential search records them (a
/// kernel assertion before the visited test, the state's exit and invariants once, when it is stored, the liveness
/// drain at a new quiescent state), so with dfs the states, transitions and findings are those of the sequential
/// plain DFS (<c>ParallelDfsTests</c>). Executions (paths that ended) are derived as the sequential search counts
/// them: revisits (transitions − kernel assertions − new states) + assertions + new terminal states + new
/// quiescent states; a revisit itself depends on which worker got to a state first. Which trace reaches a finding
/// first, and the deepest DFS path (max_depth), depend on timing; the shortest traces the explorer reports come
/// from the sequential BFS that follows.</para>
/// <para><b>Sleep sets (reduced).</b> As in the sequential reduced search, each stored state carries the sleep set it
/// was first reached with, and a revisit with a sleep set that lacks some of the stored actors tries those and
/// narrows the stored set to the intersection; here that read-modify-write is atomic per state
/// (<see cref="ConcurrentVisitedSet.AddOrNarrow"/>), so no two workers take the same actor of a state. A new state is
/// stored pending while its inserter checks it, then given its sleep set or the terminal mark of a violating
/// state; a worker meeting it pending waits. Sleep sets prune transitions, never states, and a smaller sleep set
/// only explores more: a piece handed to another worker starts with none. So the states, verdict and findings are
/// the sequential reduced search's; the transitions depend on timing (at most the plain DFS's). What does not carry
/// over is the sequential search's repair for an invariant violation (Explorer.Dfs's taint): it marks the states on
/// the DFS stack, relying on every revisit of a state coming after the state's subtree is done, while a parallel
/// worker can revisit a state another is still expanding. So a parallel reduced search that reaches an invariant
/// violation reports it (<see cref="SawInvariantViolation"/>) and the explorer searches again as the parallel plain
/// DFS. Exits and kernel assertions need no repair (one step raises them, and it commutes with the others).</para>
/// <para><b>Balance.</b> Worker k tries the actors of each state starting at a rotation drawn from the state's
/// fingerprint and k (worker 0: no rotation, the sequential order), so the workers leave the root by different
/// branches and keep diverging wherever they meet. A worker whose DFS is exhausted while others still work asks
/// for a piece: a worker that has done at least <see cref="ShareEvery"/> transitions since it last gave hands over
/// the untried actors of its shallowest frame. Each (state, actor) pair is tried by one worker either way.
/// (Handing out work on every request was measured: on scale-3cpu the pieces are mostly visited already and the
/// workers passed 100 000+ of them back and forth.)</para>
/// </remarks>
internal sealed class ParallelDfsSearch(Machine m, World initial, ExploreOptions o, ExploreStats stats, Stopwatch clock, ConcurrentVisitedSet visited, int jobs, bool reduced = false)
{
    /// <summary>Transitions a worker does between two pieces it gives away.</summary>
    private const int ShareEvery = 4096;

    private readonly Dictionary<string, FoundViolation> _found = [];
    private readonly HashSet<string> _warningKeys = [];
    private long _transitions;
    private long _newTerminal;
    private long _newQuiescent;
    private int _maxDepth;
    private int _stop; // set when a budget ran out or Ctrl-C (reason in _incomplete), or a worker failed
    private int _sawInvariant; // the reduced search reached an invariant violation (see SawInvariantViolation)
    private string? _incomplete;
    private double _nextProgress = 1.0;

    public string? Incomplete => _incomplete;

    /// <summary>
    /// The reduced search reached an invariant violation. Its sleep sets are then not to be trusted: the sequential
    /// search repairs them along its stack (Explorer.Dfs's taint), which needs every revisit of a state to come after
    /// the state's subtree is done, and a parallel worker can revisit a state another is still expanding. The caller
    /// searches again without sleep sets.
    /// </summary>
    public bool SawInvariantViolation => Volatile.Read(ref _sawInvariant) != 0;
    public List<FoundViolation> Warnings { get; } = [];
    public IReadOnlyCollection<FoundViolation> Found => _found.Values;

    public void Run()
    {
        var root = initial.Clone();
        var rootChecker = new StateChecker(m, o.Checks);
        m.World = root;
        visited.Add(root, root.Fingerprint(), 0, out _);
        var rv = rootChecker.CheckState();
        if (rootChecker.TakeNewWarning() is { } rw) AddWarning(rw, []);
        if (rv != null)
        {
            Record(rv, []);
            stats.Executions++;
            return;
        }
        if (!m.AnyEnabled())
        {
            stats.Executions++;
            if (rootChecker.AtQuiescent() is { } lv) Record(lv, []);
            return;
        }

        // One root piece per worker; the first is the primary one, whose root transitions count.
        for (var k = jobs - 1; k >= 0; k--) _pool.Push(new Piece(root, AllActors(m.ActorCount), [], DuplicateRoot: k > 0));
        _poolCount = _pool.Count;
        var errors = new Exception?[jobs];
        var threads = new Thread[jobs];
        for (var k = 0; k < jobs; k++)
        {
            var worker = k;
            // A thread of its own (not the pool's): each runs for the whole search.
            threads[k] = new Thread(() =>
            {
                try { Worker(worker); }
                catch (Exception e)
                {
                    errors[worker] = e;
                    Volatile.Write(ref _stop, 1);
                }
            }, 16 << 20) { IsBackground = true, Name = $"scxlab dfs worker {k}" };
            threads[k].Start();
        }
        foreach (var t in threads) t.Join();
        foreach (var e in errors)
            if (e != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        var newStates = visited.Count - 1;
        stats.Transitions = _transitions;
        stats.Executions += _transitions - newStates + _newTerminal + _newQuiescent;
        stats.MaxDepth = Math.Max(stats.MaxDepth, _maxDepth);
    }

    /// <summary>
    /// Work for one worker: a state (a copy), the actors still to be tried from it, and the path from the root to it.
    /// A duplicate root piece (every worker but one starts with the root) tries the root's actors without counting
    /// those transitions: the primary piece counts them.
    /// </summary>
    private sealed record Piece(World State, ulong Actors, int[] Path, bool DuplicateRoot = false);

    private static ulong AllActors(int n) => n >= 64 ? ulong.MaxValue : (1UL << n) - 1;

    private readonly Stack<Piece> _pool = new();
    private int _poolCount; // _pool.Count, readable without the lock
    private int _idle;      // workers waiting for a piece (changed under the lock)
    private bool _done;

    /// <summary>
    /// Wait for a piece of work; null when every worker is idle with nothing left (the search is over) or it stopped.
    /// An idle worker spins (yielding its core) rather than sleeping: a sleeping thread takes tens of microseconds to wake.
    /// </summary>
    private Piece? Take()
    {
        lock (_pool) _idle++;
        var spin = new SpinWait();
        while (true)
        {
            if (Volatile.Read(ref _stop) != 0 || Volatile.Read(ref _done)) return null;
            if (Volatile.Read(ref _poolCount) > 0 || Volatile.Read(ref _idle) == jobs)
            {
                lock (_pool)
                {
                    if (_pool.Count > 0)
                    {
                        _idle--;
                        var p = _pool.Pop();
                        _poolCount = _pool.Count;
                        return p;
                    }
                    // Everyone idle and nothing to take: nobody can give any more (only a working worker gives).
                    if (_idle == jobs)
                    {
                        _done = true;
                        return null;
                    }
                }
            }
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    private void Give(Piece piece)
    {
        lock (_pool)
        {
            _pool.Push(piece);
            _poolCount = _pool.Count;
        }
    }

    private void Worker(int k)
    {
        var wm = new Machine(m.Config);
        var checker = new StateChecker(wm, o.Checks);
        var n = wm.ActorCount;
        var worlds = new List<World> { initial.Clone() };
        var cap = 64;
        var todo = new ulong[cap];    // actors not yet tried at each depth of the local stack
        var rotation = new int[cap];  // where each depth's order starts
        var path = new int[cap];
        // The reduced search's sleep sets (as Explorer.Dfs): each depth's sleep set, the actors tried there, and the
        // footprint of each actor's step there (fps[d * n + b]).
        var sleep = new ulong[cap];
        var done = new ulong[cap];
        var fps = new Footprint[cap * n];
        var all = AllActors(n);
        var terminalMark = all; // the aux of a stored violating state (see Explorer.Dfs)
        var pendingMark = ConcurrentVisitedSet.PendingMark(n); // a new state whose own findings are being checked (no taint bit here)
        long transitions = 0, newTerminal = 0, newQuiescent = 0, sinceCheck = 0, sinceShare = 0;
        var checks = 0;
        var maxDepth = 0;
        while (Take() is { } piece)
        {
            var baseDepth = piece.Path.Length; // the piece's state is at this depth of the path from the root
            EnsureCapacity(baseDepth + 1);
            piece.Path.CopyTo(path, 0);
            worlds[0].CopyFrom(piece.State);
            todo[0] = piece.Actors;
            // A piece starts with an empty sleep set: smaller sleep sets only explore more, so this stays sound.
            sleep[0] = 0;
            done[0] = 0;
            rotation[0] = Rotation(k, piece.State.Fingerprint(), n);
            var d = 0;
            while (d >= 0)
            {
                if (sinceCheck >= 256)
                {
                    sinceCheck = 0;
                    Publish();
                    if (ShouldStop(k, checks++)) break;
                }
                if (sinceShare >= ShareEvery && Volatile.Read(ref _idle) > 0 && Volatile.Read(ref _poolCount) == 0 && Share(d, piece.DuplicateRoot)) sinceShare = 0;
                var w = worlds[d];
                wm.World = w;
                var a = -1;
                while (todo[d] != 0)
                {
                    var c = NextActor(todo[d], rotation[d], n);
                    todo[d] &= ~(1UL << c);
                    if (wm.IsEnabled(c)) { a = c; break; }
                }
                if (a < 0) { d--; continue; }
                // Is a's step this state's last? The untried actors found disabled now stay so (w does not change
                // between its steps), so they are dropped here rather than when the search comes back.
                var last = true;
                for (var rest = todo[d]; rest != 0; rest &= rest - 1)
                {
                    var c = System.Numerics.BitOperations.TrailingZeroCount(rest);
                    if (wm.IsEnabled(c)) { last = false; break; }
                    todo[d] &= ~(1UL << c);
                }

                EnsureCapacity(baseDepth + d + 2);
                // The last step is taken on w itself (Explorer.ChildWorld): depth d, with nothing left to try (todo[d] = 0),
                // is never read or shared again.
                var child = Explorer.ChildWorld(worlds, d, last);
                wm.World = child;
                wm.Step(a);
                var writes = wm.LastFootprint.Writes;
                // The child's key first, its slot requested, so the shared set's miss overlaps the bookkeeping below.
                var key = child.Fingerprint();
                visited.Prefetch(key);
                // A duplicate root piece's own transitions are the primary piece's to count.
                var counted = !(piece.DuplicateRoot && d == 0);
                if (counted) transitions++;
                sinceCheck++;
                sinceShare++;
                // Only the step's kernel assertion before the visited test; the state's own findings once, by the worker
                // that stores it (see Explorer.Dfs). In the reduced search a new state is stored pending until they are
                // checked, then given its sleep set or, if it violates, the terminal mark; a worker that finds it
                // pending waits for that (AddOrNarrow).
                var assertion = checker.StepAssertion();
                var depth = baseDepth + d + 1;
                path[depth - 1] = a;
                var childSleep = 0UL;
                if (reduced)
                {
                    var stepFp = assertion != null ? Footprint.Everything : wm.LastFootprint;
                    var bit = 1UL << a;
                    fps[d * n + a] = stepFp;
                    done[d] |= bit;
                    childSleep = SleepSets.Child((sleep[d] | done[d]) & ~bit, fps.AsSpan(d * n, n), stepFp);
                }
                if (assertion != null)
                {
                    Record(assertion, path.AsSpan(0, depth));
                    // The kernel stopped at this step: the state it lands in is not stored (see Explorer.Dfs).
                    if (depth > maxDepth) maxDepth = depth;
                    continue;
                }
                ulong explore = 0;
                var terminal = false;
                var added = reduced
                    ? visited.AddOrNarrow(k, child, key, childSleep, pendingMark, terminalMark, ref _stop, out explore, out terminal)
                    : visited.Add(k, child, key);
                if (!added)
                {
                    if (terminal) fps[d * n + a] = Footprint.Everything;
                    // Revisited with a sleep set that lacks some of the stored one's actors: try those from here.
                    if (explore != 0) PushFrame(explore, childSleep, key);
                    continue;
                }
                if (depth > maxDepth) maxDepth = depth;
                var v = checker.CheckStateAfterStep(writes); // w was expanded, so it passed every check
                if (checker.TakeNewWarning() is { } wv) AddWarning(wv, path.AsSpan(0, depth));
                if (reduced) visited.Resolve(k, child, key, v != null ? terminalMark : childSleep);
                if (v != null)
                {
                    Record(v, path.AsSpan(0, depth));
                    if (reduced)
                    {
                        fps[d * n + a] = Footprint.Everything;
                        if (v.Kind == ViolationKind.Invariant) Volatile.Write(ref _sawInvariant, 1);
                    }
                    newTerminal++;
                    continue;
                }
                if (!wm.AnyEnabled())
                {
                    newQuiescent++;
                    if (checker.AtQuiescent() is { } lv) Record(lv, path.AsSpan(0, depth));
                    continue;
                }
                PushFrame(all & ~childSleep, childSleep, key);
                continue;

                // The next depth: its untried actors, its order, its sleep set and the footprints its sleepers keep.
                void PushFrame(ulong actors, ulong sleepSet, ulong stateKey)
                {
                    var nd = d + 1;
                    todo[nd] = actors;
                    rotation[nd] = Rotation(k, stateKey, n);
                    sleep[nd] = sleepSet;
                    done[nd] = 0;
                    SleepSets.Inherit(sleepSet, fps.AsSpan(nd * n, n), fps.AsSpan(d * n, n));
                    d = nd;
                }
            }
            if (Volatile.Read(ref _stop) != 0) break;

            // Hand the untried actors of the shallowest frame that has some (the biggest subtrees) to an idle worker.
            bool Share(int top, bool duplicateRoot)
            {
                for (var s = duplicateRoot ? 1 : 0; s <= top; s++)
                {
                    if (todo[s] == 0) continue;
                    Give(new Piece(worlds[s].Clone(), todo[s], path.AsSpan(0, baseDepth + s).ToArray()));
                    todo[s] = 0;
                    return true;
                }
                return false;
            }
        }
        Publish();
        lock (_found)
        {
            if (maxDepth > _maxDepth) _maxDepth = maxDepth;
        }

        void Publish()
        {
            Interlocked.Add(ref _transitions, transitions);
            Interlocked.Add(ref _newTerminal, newTerminal);
            Interlocked.Add(ref _newQuiescent, newQuiescent);
            transitions = newTerminal = newQuiescent = 0;
        }

        void EnsureCapacity(int size)
        {
            if (size < cap) return;
            while (cap <= size) cap *= 2;
            Array.Resize(ref todo, cap);
            Array.Resize(ref rotation, cap);
            Array.Resize(ref path, cap);
            Array.Resize(ref sleep, cap);
            Array.Resize(ref done, cap);
            Array.Resize(ref fps, cap * n);
        }
    }

    /// <summary>The first actor of <paramref name="mask"/> at or after <paramref name="start"/>, cyclically.</summary>
    private static int NextActor(ulong mask, int start, int n)
    {
        for (var i = 0; i < n; i++)
        {
            var c = start + i;
            if (c >= n) c -= n;
            if (((mask >> c) & 1) != 0) return c;
        }
        return -1;
    }

    private static int Rotation(int worker, ulong fp, int n) =>
        worker == 0 ? 0 : (int)(((fp ^ ((ulong)worker * 0x9E3779B97F4A7C15UL)) * 0xC2B2AE3D27D4EB4FUL >> 33) % (ulong)n);

    /// <summary>Budgets, Ctrl-C and progress, every 256 transitions of a worker (after it published its counts).</summary>
    private bool ShouldStop(int k, int check)
    {
        if (Volatile.Read(ref _stop) != 0) return true;
        var total = Volatile.Read(ref _transitions);
        string? why = null;
        if (o.Cancel.IsCancellationRequested) why = "interrupted (Ctrl-C)";
        else if (o.MaxTransitions is { } mt && total >= mt) why = Explorer.TransitionBudgetReason(mt);
        else if (o.BudgetSeconds is { } b && clock.Elapsed.TotalSeconds >= b) why = $"time budget of {b:0.###} s exhausted";
        else if ((check & 15) == 0 && visited.WouldExceed(o.MaxMemoryBytes)) why = visited.ExhaustedReason(o.MaxMemoryBytes);
        if (why != null)
        {
            lock (_found) _incomplete ??= why;
            Volatile.Write(ref _stop, 1);
            return true;
        }
        if (k == 0 && o.Progress != null && clock.Elapsed.TotalSeconds >= _nextProgress)
        {
            _nextProgress = clock.Elapsed.TotalSeconds + 0.5;
            o.Progress(new ExploreStats { States = visited.Count, Transitions = total, Seconds = clock.Elapsed.TotalSeconds });
        }
        return false;
    }

    private void Record(Violation v, ReadOnlySpan<int> path)
    {
        lock (_found)
            if (!_found.ContainsKey(v.Key)) _found[v.Key] = new FoundViolation(v, path.ToArray());
    }

    private void AddWarning(Violation w, ReadOnlySpan<int> path)
    {
        lock (_found)
            if (_warningKeys.Add(w.Key + "\n" + w.Message)) Warnings.Add(new FoundViolation(w, path.ToArray()));
    }
}
