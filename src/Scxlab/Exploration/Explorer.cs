using System.Diagnostics;
using Scxlab.Checks;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Exploration;

/// <summary>
/// Exhaustive exploration of every interleaving of the actors' steps from the machine's initial
/// world. Strategies: plain DFS (the reference), DFS with sleep sets (<see cref="Strategy.Reduced"/>)
/// and BFS. Safety checks run on every new state; the liveness check on every quiescent one; a
/// violating state is terminal (its successors are not explored). Verdict <c>holds</c> only when
/// the search finished with no bound or budget cutting it.
/// </summary>
/// <remarks>
/// <para><b>Reduction.</b> Sleep sets (Godefroid, PhD thesis 1996, ch. 5) over the step footprints:
/// after exploring actor b from s, a later sibling a carries b in its child's sleep set if b's and
/// a's footprints at s do not conflict; a sleeping actor is not explored there because every
/// interleaving that starts with it was covered from s·b. Sleep sets prune transitions, never
/// states: every reachable state is still visited, which is why the safety and liveness verdicts
/// equal plain DFS's (the property tests check that the state counts are equal too).</para>
/// <para><b>With state caching</b> the naive combination is unsound; we do it the sound way: each
/// stored state keeps the sleep set it was explored with; when it is reached again with sleep set
/// Z and its stored set H is not a subset of Z, the actors in H \ Z (pruned then, not pruned now)
/// are explored from it and H becomes H ∩ Z.</para>
/// <para><b>Footprints.</b> Every read and write of shared state inside a step goes through the
/// machine's recording accessors, so <see cref="Machine.LastFootprint"/> is complete; it includes the
/// step's guard (<see cref="Machine.GuardFootprint"/>: taking a lock writes the lock word, waiting on
/// ops_state or kick_sync reads it, an idle actor's choice of activity reads its rq or the scheduler
/// state), so "a enables or disables b" is a conflict too. Two steps are independent when neither
/// writes what the other reads or writes.</para>
/// <para><b>Terminal states.</b> A violating state is not expanded, which breaks commutation in two
/// ways the search repairs: the step that reaches a violating state conflicts with every step
/// (<see cref="Footprint.Everything"/>); and an invariant violation (a predicate later steps can make
/// true again) taints the DFS stack, so no step whose subtree was cut by it keeps a later sibling
/// asleep, and a path merging into a tainted state taints its own stack.</para>
/// </remarks>
public sealed class Explorer
{
    /// <summary>Most actors (CPUs, scripted actors and scx_disable) one exploration takes; scenario loading checks it.</summary>
    public const int MaxActors = 63;

    private readonly Machine _m;
    private readonly World _initial;
    private readonly ExploreOptions _o;
    private readonly StateChecker _checker;
    private readonly int _n;
    private readonly Stopwatch _clock = new();
    private readonly ExploreStats _stats = new();
    private readonly Dictionary<string, FoundViolation> _found = [];
    private readonly List<FoundViolation> _warnings = [];
    private readonly List<string> _notes = [];
    private string? _incomplete;
    private double _nextProgress = 1.0;

    public Explorer(Machine machine, ExploreOptions options)
    {
        _m = machine;
        _initial = machine.World.Clone();
        _o = options;
        _checker = new StateChecker(machine, options.Checks);
        _n = machine.ActorCount;
        if (options.ShardCount > 1 && (options.ShardIndex < 0 || options.ShardIndex >= options.ShardCount))
            throw new ArgumentOutOfRangeException(nameof(options), "shard index must be in 0..count−1");
        // The scenario loader refuses too many CPUs and scripted actors; a BPF object's timers add actors of their own.
        if (_n > MaxActors)
            throw new Policies.PolicyLoadException($"exhaustive search takes at most {MaxActors} actors: {machine.N} CPUs, {machine.Config.Scripts.Count} scripted, scx_disable and {machine.BpfTimerCount} BPF timer(s) are {_n} (use 'scxlab fuzz')");
    }

    public ExploreResult Run()
    {
        if (_o.Jobs == ExploreOptions.AutoJobs) return RunAutoJobs();
        _clock.Start();
        var strategy = _o.Strategy;
        // Syscall programs run while attached are one-shot timer actors named "syscall PROG" (BpfObjectPolicy).
        var syscallRuns = _m.Actors.Count(a => a.Kind == ActorKind.Timer && a.Name.StartsWith("syscall ", StringComparison.Ordinal));
        var timers = _m.BpfTimerCount - syscallRuns;
        if (timers > 0)
            _notes.Add($"{timers} BPF timer(s): each fires at most {_m.Config.TimerFires} time(s) per path (bounds: timer_fires), at any point once armed; the liveness check lets armed timers keep firing");
        if (syscallRuns > 0)
            _notes.Add($"{syscallRuns} syscall program run(s) while attached: each runs once, at any point after ops.init");
        if (strategy == Strategy.Reduced && _o.MaxPreemptions != null)
        {
            _notes.Add("--max-preemptions: the reduced search is not combined with a preemption bound; plain DFS was used");
            strategy = Strategy.Dfs;
        }
        // Parallel DFS (dfs or reduced with --jobs): one visited set that the workers insert into at once.
        var parallelDfs = _o.Jobs > 1 && _o.MaxPreemptions == null && _o.ShardCount == 1 && strategy != Strategy.Bfs;
        IVisitedSet visited = parallelDfs ? NewConcurrentSet(_o, _n) : NewVisitedSet(_o, _n);
        try
        {
            return Search(visited, strategy);
        }
        finally
        {
            (visited as IDisposable)?.Dispose();
            _rerunSet?.Dispose();
        }
    }

    /// <summary>
    /// <see cref="ExploreOptions.AutoJobs"/>: a trial on one thread, bounded at <see cref="ExploreOptions.AutoJobsAfter"/>
    /// transitions, and when that does not finish, the search again with a worker per core and what is left of the
    /// time budget. The states and the verdict are the search's either way (the parallel search finds the same); the
    /// discarded trial costs about a second. Bounded or sharded searches, and one-core machines, run on one thread (a
    /// shard with an explicit --jobs N runs the layer-parallel BFS, which measured no faster on scale-4cpu and used more
    /// memory: docs/scale-out.md).
    /// </summary>
    private ExploreResult RunAutoJobs()
    {
        var cores = _o.AutoJobsCores;
        if (cores < 2 || _o.MaxPreemptions != null || _o.ShardCount > 1 || (_o.MaxTransitions is { } mt && mt <= _o.AutoJobsAfter))
            return new Explorer(_m, _o with { Jobs = 1 }).Run();
        var clock = Stopwatch.StartNew();
        // The trial leaves the shortest traces for later: a discarded trial would have paid for them for nothing.
        var trialExplorer = new Explorer(_m, _o with { Jobs = 1, MaxTransitions = _o.AutoJobsAfter, ShortestTraces = false });
        var trial = trialExplorer.Run();
        var outgrown = !trial.Complete && !_o.Cancel.IsCancellationRequested && trial.IncompleteReason == TransitionBudgetReason(_o.AutoJobsAfter);
        if (!outgrown)
        {
            if (!_o.ShortestTraces || trial.Strategy == Strategy.Bfs || trial.Violations.Count == 0) return trial;
            var shortest = trialExplorer.Shortest(trial.Violations, trial.Complete, out var cut);
            return trial with { Violations = InReportOrder(shortest), Notes = cut == null ? trial.Notes : [.. trial.Notes, cut] };
        }
        var trialSeconds = clock.Elapsed.TotalSeconds;
        var left = _o.BudgetSeconds is { } b ? Math.Max(0.001, b - trialSeconds) : (double?)null;
        var result = new Explorer(_m, _o with { Jobs = cores, BudgetSeconds = left }).Run();
        return result with
        {
            Notes = [$"{_o.AutoJobsAfter} transitions on one thread did not finish the search, so it ran again with {cores} workers (--jobs; the {trialSeconds:0.##} s before that are not in the stats)", .. result.Notes],
        };
    }

    /// <summary>The visited set of a parallel reduced search's second pass (see <see cref="Search"/>), disposed with the first.</summary>
    private ConcurrentVisitedSet? _rerunSet;

    /// <summary>The parallel DFS's shared store (<see cref="ConcurrentVisitedSet.Create"/>).</summary>
    private static ConcurrentVisitedSet NewConcurrentSet(ExploreOptions o, int actors) => ConcurrentVisitedSet.Create(o, actors, o.Jobs);

    /// <summary>The state store the options ask for: whole states, fingerprints in RAM, or fingerprints that spill to disk.</summary>
    internal static IVisitedSet NewVisitedSet(ExploreOptions o, int actors, long? memory = null, int initialCapacityLog2 = 10) =>
        o.Exact ? new ExactSet()
        : o.SpillDirectory != null ? new SpillingFingerprintSet(actors, memory ?? o.MaxMemoryBytes, o.SpillDirectory)
        : new FingerprintSet(actors, initialCapacityLog2, memory ?? o.MaxMemoryBytes);

    private ExploreResult Search(IVisitedSet visited, Strategy strategy)
    {
        if (_o.Jobs > 1 && _o.MaxPreemptions != null && _o.ShardCount == 1)
            _notes.Add($"--jobs {_o.Jobs}: not combined with a preemption bound; one thread was used");
        if (_o.ShardCount > 1)
        {
            // A shard is a BFS cut at its frontier layer (the sequential or, with --jobs, the layer-parallel one: the
            // same layers, so the same frontier); the DFS strategies do not split.
            if (strategy != Strategy.Bfs || _o.MaxPreemptions != null)
                _notes.Add($"--shard: the BFS was used (a shard splits the BFS frontier){(_o.MaxPreemptions != null ? "; the preemption bound is not applied" : "")}");
            strategy = Strategy.Bfs;
            // Every stored fingerprint also goes into a HyperLogLog sketch: the shards' cones overlap below the
            // frontier, so only the union of their sketches tells how many states they stored together (scxlab merge).
            var sketch = new Fuzzing.DistinctCounter();
            var onStore = _o.OnStore;
            var so = _o with { OnStore = fp => { sketch.Add(fp); onStore?.Invoke(fp); } };
            if (_o.Jobs > 1)
            {
                var pbfs = new ParallelBfsSearch(_m, _initial, so, _stats, _clock, visited, _o.Jobs);
                foreach (var f in pbfs.Run(null)) _found.TryAdd(f.Violation.Key, f);
                _incomplete = pbfs.Incomplete;
                _warnings.AddRange(pbfs.Warnings);
            }
            else
            {
                var sbfs = new BfsSearch(_m, _initial, _checker, so, _stats, _clock, visited);
                foreach (var f in sbfs.Run(null)) _found.TryAdd(f.Violation.Key, f);
                _incomplete = sbfs.Incomplete;
                _warnings.AddRange(sbfs.Warnings);
            }
            _stats.DistinctSketch = sketch.Registers();
        }
        else if (visited is ConcurrentVisitedSet shared)
        {
            var pdfs = new ParallelDfsSearch(_m, _initial, _o, _stats, _clock, shared, _o.Jobs, reduced: strategy == Strategy.Reduced);
            pdfs.Run();
            if (pdfs.SawInvariantViolation && pdfs.Incomplete == null)
            {
                // The parallel sleep sets cannot be repaired for an invariant violation (ParallelDfsSearch.SawInvariantViolation):
                // search again without them, over a fresh visited set, for the findings and counts of the plain DFS.
                _notes.Add($"--jobs {_o.Jobs}: an invariant violation was reached, which the parallel reduced search cannot account for; searched again as the parallel plain DFS (same states and verdict, more transitions)");
                _stats.Transitions = 0;
                _stats.Executions = 0;
                _stats.MaxDepth = 0;
                var again = NewConcurrentSet(_o, _n);
                _rerunSet = again;
                visited = again;
                strategy = Strategy.Dfs;
                pdfs = new ParallelDfsSearch(_m, _initial, _o, _stats, _clock, again, _o.Jobs);
                pdfs.Run();
            }
            foreach (var f in pdfs.Found) _found.TryAdd(f.Violation.Key, f);
            _incomplete = pdfs.Incomplete;
            _warnings.AddRange(pdfs.Warnings);
        }
        else if (_o.Jobs > 1 && _o.MaxPreemptions == null)
        {
            // The layer-parallel BFS: the same states and shortest traces directly.
            var pbfs = new ParallelBfsSearch(_m, _initial, _o, _stats, _clock, visited, _o.Jobs);
            foreach (var f in pbfs.Run(null)) _found.TryAdd(f.Violation.Key, f);
            _incomplete = pbfs.Incomplete;
            _warnings.AddRange(pbfs.Warnings);
        }
        else if (strategy == Strategy.Bfs)
        {
            var bfs = new BfsSearch(_m, _initial, _checker, _o, _stats, _clock, visited);
            foreach (var f in bfs.Run(null)) _found.TryAdd(f.Violation.Key, f);
            _incomplete = bfs.Incomplete;
            _warnings.AddRange(bfs.Warnings);
        }
        else
        {
            Dfs(visited, strategy == Strategy.Reduced);
        }
        _stats.Seconds = _clock.Elapsed.TotalSeconds;
        FinishStats(visited);

        // A path that ended at a model limit is a gap in what was covered, not a finding: the verdict cannot be
        // holds, and it is no violation either (a violation found elsewhere still stands).
        var limits = _found.Values.Where(f => f.Violation.Kind == ViolationKind.ModelLimit).OrderBy(f => f.Trace.Count).ToList();
        foreach (var l in limits) _found.Remove(l.Violation.Key);
        if (limits.Count > 0) _incomplete ??= ModelLimits.Reason([.. limits.Select(l => l.Violation)]);
        var violations = _found.Values.ToList();
        if (violations.Count > 0 && strategy != Strategy.Bfs && _o.ShortestTraces)
        {
            // The search's own store is done with (its figures are in the stats): the shortening search's takes its place,
            // not a second budget's worth beside it.
            (visited as IDisposable)?.Dispose();
            violations = [.. Shortest(violations, _incomplete == null, out var cut)];
            if (cut != null) _notes.Add(cut);
        }
        _m.World.CopyFrom(_initial);

        var complete = _incomplete == null;
        var verdict = violations.Count > 0 ? Verdict.Violation : complete ? Verdict.Holds : Verdict.Incomplete;
        return new ExploreResult
        {
            Verdict = verdict,
            Complete = complete,
            Strategy = strategy,
            Violations = InReportOrder(violations),
            Stats = _stats,
            IncompleteReason = _incomplete,
            ModelLimits = limits,
            Notes = _notes,
            Warnings = [.. _warnings],
        };
    }

    /// <summary>Findings as a result lists them: shortest trace first, then by key.</summary>
    private static List<FoundViolation> InReportOrder(IEnumerable<FoundViolation> found) =>
        [.. found.OrderBy(v => v.Trace.Count).ThenBy(v => v.Violation.Key, StringComparer.Ordinal)];

    /// <summary>
    /// The shortest trace to each finding of <paramref name="found"/> (a BFS that stops once every one has been
    /// reached), or its own trace when that is as short. For a result found with <see cref="ExploreOptions.ShortestTraces"/>
    /// off, e.g. a search that may be discarded; the machine's world is left as the explorer found it.
    /// </summary>
    /// <remarks>
    /// The BFS keeps to the search's budgets: what is left of its time budget and the same memory budget, and after a
    /// search that was cut short (<paramref name="searchComplete"/> false) a step budget of its own as large as the
    /// search's. A search cut short may have found a violation deep in a space much bigger than what it covered, and a
    /// BFS to that depth would cover all of it (a DFS stopped at 150 000 transitions was followed by a BFS that filled a
    /// 24 GB machine); after a complete search the BFS covers at most the states the search already stored. When the
    /// BFS stops first, each finding keeps the trace the search found, and <paramref name="cut"/> says so (a note for
    /// the result).
    /// </remarks>
    public IReadOnlyList<FoundViolation> Shortest(IReadOnlyList<FoundViolation> found, bool searchComplete, out string? cut)
    {
        cut = null;
        if (found.Count == 0) return found;
        var bfsStats = new ExploreStats();
        var left = _o.BudgetSeconds is { } b ? Math.Max(0.001, b - _clock.Elapsed.TotalSeconds) : (double?)null;
        var bfsOptions = new ExploreOptions
        {
            Checks = _o.Checks, Exact = _o.Exact, MaxMemoryBytes = _o.MaxMemoryBytes, SpillDirectory = _o.SpillDirectory, MaxFrontierBytes = _o.MaxFrontierBytes,
            BudgetSeconds = left, MaxTransitions = searchComplete ? null : _o.MaxTransitions, Cancel = _o.Cancel,
        };
        var bfsVisited = NewVisitedSet(bfsOptions, _n);
        List<FoundViolation> shortest;
        try
        {
            var bfs = new BfsSearch(_m, _initial, _checker, bfsOptions, bfsStats, Stopwatch.StartNew(), bfsVisited);
            shortest = bfs.Run([.. found.Select(f => f.Violation.Key)]);
            if (bfs.Incomplete is { } why && shortest.Count < found.Count)
                cut = $"the traces shown are the search's own, not confirmed to be the shortest: the breadth-first search for shorter ones stopped at depth {bfs.Depth} ({why})";
        }
        finally
        {
            (bfsVisited as IDisposable)?.Dispose();
            _m.World.CopyFrom(_initial);
        }
        var best = found.ToDictionary(f => f.Violation.Key);
        foreach (var s in shortest)
            if (best.TryGetValue(s.Violation.Key, out var old) && s.Trace.Count <= old.Trace.Count) best[s.Violation.Key] = s;
        return [.. found.Select(f => best[f.Violation.Key])];
    }

    private static string StrategyName(Strategy s) => s switch
    {
        Strategy.Dfs => "dfs",
        Strategy.Reduced => "reduced",
        Strategy.Bfs => "bfs",
        _ => throw new UnreachableException($"strategy {s}"),
    };

    private void FinishStats(IVisitedSet visited)
    {
        _stats.States = visited.Count;
        _stats.StoreBytes = visited.Bytes;
        _stats.BytesPerState = visited.Count == 0 ? 0 : (double)visited.Bytes / visited.Count;
        _stats.CollisionProbability = _o.Exact ? 0 : (double)_stats.Transitions * visited.Count / Math.Pow(2, 64);
        SpillingFingerprintSet[] spills = visited switch
        {
            SpillingFingerprintSet one => [one],
            ConcurrentVisitedSet shared => [.. shared.SpillingShards],
            _ => [],
        };
        _stats.SpilledStates = spills.Sum(s => s.SpilledStates);
        _stats.SpillRuns = spills.Sum(s => s.RunsWritten);
        _stats.SpillBytes = spills.Sum(s => s.DiskBytes);
        if (_stats.SpillRuns > 0)
            _notes.Add($"stored states beyond --memory {_o.MaxMemoryBytes >> 20} MiB spilled to disk: {_stats.SpilledStates} states in {spills.Sum(s => s.RunCount)} run file(s) ({_stats.SpillBytes >> 20} MiB; {_stats.SpillRuns} written with merges)");
    }

    /// <summary>The incomplete reason of a search stopped by <see cref="ExploreOptions.MaxTransitions"/> (every strategy words it so; the auto-jobs trial recognises its own bound by it).</summary>
    internal static string TransitionBudgetReason(long max) => $"step budget of {max} transitions exhausted";

    /// <summary>Budget and progress; true when the search must stop.</summary>
    internal static bool OverBudget(ExploreOptions o, ExploreStats stats, Stopwatch clock, IVisitedSet visited, ref double nextProgress, out string? why)
    {
        why = null;
        // A volatile read per transition: Ctrl-C stops the search at once, not 1024 transitions later.
        if (o.Cancel.IsCancellationRequested) why = "interrupted (Ctrl-C)";
        else if (o.MaxTransitions is { } mt && stats.Transitions >= mt) why = TransitionBudgetReason(mt);
        else if ((stats.Transitions & 1023) == 0)
        {
            var s = clock.Elapsed.TotalSeconds;
            if (o.BudgetSeconds is { } b && s >= b) why = $"time budget of {b:0.###} s exhausted";
            else if (visited.WouldExceed(o.MaxMemoryBytes)) why = visited.ExhaustedReason(o.MaxMemoryBytes);
            if (o.Progress != null && s >= nextProgress)
            {
                nextProgress = s + 0.5;
                stats.States = visited.Count;
                stats.Seconds = s;
                o.Progress(stats);
            }
        }
        return why != null;
    }

    private void Record(Violation v, ReadOnlySpan<int> path)
    {
        if (_found.ContainsKey(v.Key)) return;
        _found[v.Key] = new FoundViolation(v, path.ToArray());
    }

    private void Dfs(IVisitedSet visited, bool reduced)
    {
        var n = _n;
        var all = n == 64 ? ulong.MaxValue : (1UL << n) - 1;
        var worlds = new List<World> { _initial.Clone() };
        var cap = 64;
        var next = new int[cap];
        var sleep = new ulong[cap];
        var done = new ulong[cap];
        var allow = new ulong[cap];
        var lastActor = new int[cap];
        var preempt = new int[cap];
        var fps = new Footprint[cap * n];
        var path = new int[cap];
        var slots = new long[cap];
        var bound = _o.MaxPreemptions;
        // Aux bit of a stored state whose explored subtree reached an invariant violation (see Taint).
        var taintBit = n <= 7 ? 1UL << 7 : 1UL << 63;
        // Aux of a stored violating (terminal) state: every actor asleep, which no reached state's sleep set can be
        // (it never holds the actor whose step reached the state, and a revisit only narrows it).
        var terminalMark = all;

        // The root.
        _m.World = worlds[0];
        var rootKey = Key(worlds[0], -1, 0, bound != null);
        visited.Add(worlds[0], rootKey, 0, out slots[0]);
        var rv = _checker.CheckState();
        if (_checker.TakeNewWarning() is { } rw) _warnings.Add(new FoundViolation(rw, []));
        if (rv != null)
        {
            Record(rv, []);
            _stats.Executions++;
            return;
        }
        if (!_m.AnyEnabled()) { Quiescent(0, path); return; }
        next[0] = 0; sleep[0] = 0; done[0] = 0; allow[0] = all; lastActor[0] = -1; preempt[0] = 0;
        var d = 0;
        while (d >= 0)
        {
            if (OverBudget(_o, _stats, _clock, visited, ref _nextProgress, out var why)) { _incomplete = why; break; }
            var w = worlds[d];
            _m.World = w;
            var a = next[d];
            var blocked = sleep[d] | done[d] | ~allow[d];
            while (a < n && (((blocked >> a) & 1) != 0 || !_m.IsEnabled(a))) a++;
            if (a >= n) { d--; continue; }
            // The next actor after a, looked for now rather than when the search comes back here (w does not change in
            // between, and done[d] only grows): when there is none, a's step is this state's last, and it can be taken on
            // w itself instead of a copy (below).
            var after = a + 1;
            while (after < n && (((blocked >> after) & 1) != 0 || !_m.IsEnabled(after))) after++;
            next[d] = after;

            var pre = preempt[d];
            if (bound != null)
            {
                var last = lastActor[d];
                if (last >= 0 && last != a && w.Actors[last].Depth > 0 && _m.IsEnabled(last)) pre++;
                if (pre > bound.Value)
                {
                    _incomplete ??= $"preemption bound {bound.Value} cut the search";
                    continue;
                }
            }

            if (d + 1 >= cap)
            {
                cap *= 2;
                Array.Resize(ref next, cap);
                Array.Resize(ref sleep, cap);
                Array.Resize(ref done, cap);
                Array.Resize(ref allow, cap);
                Array.Resize(ref lastActor, cap);
                Array.Resize(ref preempt, cap);
                Array.Resize(ref fps, cap * n);
                Array.Resize(ref path, cap);
                Array.Resize(ref slots, cap);
            }
            // After a's step nothing reads w when it is the last (coming back, the search finds next[d] = n and leaves),
            // unless an observer wants the parent.
            var child = ChildWorld(worlds, d, lastStep: after >= n && _o.OnTransition == null);
            _m.World = child;
            _m.Step(a);
            _stats.Transitions++;
            // The child's key first, and its slot's cache line requested, so the visited set's miss overlaps the
            // bookkeeping below (a kernel assertion's child is not stored: then the key is not used).
            var key = Key(child, a, pre, bound != null);
            visited.Prefetch(key);
            // The step's footprint: everything its code read and wrote through the recording accessors,
            // plus its guard (Machine.GuardFootprint), so enabling/disabling shows up as a conflict too.
            var fp = _m.LastFootprint;
            // Only the step's own finding (a kernel assertion) is checked before the visited test; the state's
            // findings (an exit, an invariant) are a function of the state, so they are checked once, when the
            // state is first stored, and a stored violating state carries a mark that says so (terminalMark).
            var assertion = _checker.StepAssertion();
            // A violating state is terminal: the step that reached it disables every actor, so it conflicts
            // with every other step, even one that touches no shared state (else a sibling b would keep it
            // asleep and miss s·b·a, itself terminal and distinct from s·a).
            if (assertion != null) fp = Footprint.Everything;
            var bit = 1UL << a;
            fps[d * n + a] = fp;
            done[d] |= bit;
            path[d] = a;

            var childSleep = 0UL;
            if (reduced) childSleep = SleepSets.Child((sleep[d] | done[d]) & ~bit, fps.AsSpan(d * n, n), fp);

            _o.OnTransition?.Invoke(w, a, child, childSleep);
            // Findings are recorded before the visited test: a kernel assertion is raised by this transition,
            // and the state it lands in may have been reached before by another one.
            if (assertion != null)
            {
                Record(assertion, path.AsSpan(0, d + 1));
                // The kernel stopped at this step; the state it lands in is not a reached state of the
                // model. It is not stored, so a step that reaches the same world without the assertion
                // still stores and expands it.
                _stats.Executions++;
                if (d + 1 > _stats.MaxDepth) _stats.MaxDepth = d + 1;
                continue;
            }
            if (!visited.Add(child, key, childSleep, out var slot))
            {
                _stats.Executions++;
                if (!reduced) continue;
                var stored = visited.GetAux(slot);
                var h = stored & ~taintBit;
                if (h == terminalMark)
                {
                    // A violating state, stored (and its finding recorded) on its first visit: terminal, and it
                    // conflicts with every sibling, as above; an invariant violation taints the stack (Taint).
                    fps[d * n + a] = Footprint.Everything;
                    if ((stored & taintBit) != 0) Taint(d);
                    continue;
                }
                if ((stored & taintBit) != 0) Taint(d);
                if ((h & ~childSleep) == 0) continue;
                visited.SetAux(slot, (h & childSleep) | (stored & taintBit));
                Push(ref d, childSleep, h & ~childSleep);
                slots[d] = slot;
                continue;
            }
            if (d + 1 > _stats.MaxDepth) _stats.MaxDepth = d + 1;
            // w, the state a's step started from, was stored and passed every check (or it would not be expanded).
            var v = _checker.CheckStateAfterStep(fp.Writes);
            if (_checker.TakeNewWarning() is { } wv) _warnings.Add(new FoundViolation(wv, path.AsSpan(0, d + 1).ToArray()));
            if (v != null)
            {
                Record(v, path.AsSpan(0, d + 1));
                fps[d * n + a] = Footprint.Everything;
                // Terminal: never re-expanded on a revisit. An invariant violation's mark carries the taint bit,
                // so a revisit taints its own stack as the first visit did.
                var invariant = v.Kind == ViolationKind.Invariant;
                visited.SetAux(slot, terminalMark | (invariant ? taintBit : 0));
                if (reduced && invariant) Taint(d);
                _stats.Executions++;
                continue;
            }
            if (!_m.AnyEnabled())
            {
                Quiescent(d + 1, path);
                continue;
            }
            Push(ref d, childSleep, all);
            slots[d] = slot;
            continue;

            // An invariant violation is a state predicate that later steps can make true again, and the
            // search stops at it. Then a sleeping actor's cover (the subtree explored after it at an
            // ancestor, where it ran first) may have been cut at a violating state that the sleeping
            // order would pass by. So once a violation is reached below an ancestor, the step taken
            // there conflicts with every later sibling, and the states on the stack are marked, so a
            // later path that merges into one of them does the same. (Exits and kernel assertions
            // need none of this: they are raised by one step, which commutes with the others.)
            void Taint(int depth)
            {
                for (var k = 0; k <= depth; k++)
                {
                    fps[k * n + path[k]] = Footprint.Everything;
                    visited.SetAux(slots[k], visited.GetAux(slots[k]) | taintBit);
                }
            }

            void Push(ref int depth, ulong childSleepSet, ulong allowed)
            {
                var nd = depth + 1;
                next[nd] = 0;
                sleep[nd] = childSleepSet;
                done[nd] = 0;
                allow[nd] = allowed;
                lastActor[nd] = a;
                preempt[nd] = pre;
                SleepSets.Inherit(childSleepSet, fps.AsSpan(nd * n, n), fps.AsSpan(depth * n, n));
                depth = nd;
            }
        }
    }

    /// <summary>
    /// The world a depth-first search steps a child of <c>worlds[d]</c> in. The last step from a state needs no copy:
    /// nothing reads the state's world after it, so the step is taken on that world itself, which moves to depth d + 1,
    /// and depth d gets the world that was there — the next state pushed at depth d restores it whole, since its base is
    /// no longer that state's parent. That trade pays for a small world (the C# policies': a few KB, copied whole on
    /// every restore whose source changed anyway), not for a large one (a BPF object's maps and arena: megabytes, which
    /// otherwise restore by the few chunks a step changed): there the child's world is restored from the parent, as
    /// for every other step.
    /// </summary>
    internal static World ChildWorld(List<World> worlds, int d, bool lastStep)
    {
        var w = worlds[d];
        if (lastStep && worlds.Count > d + 1 && !w.RestoresByHistory)
        {
            (worlds[d], worlds[d + 1]) = (worlds[d + 1], w);
            return w;
        }
        if (worlds.Count <= d + 1) worlds.Add(w.Clone()); // a copy of the parent: the restore below then copies nothing
        var child = worlds[d + 1];
        child.RestoreFrom(w);
        return child;
    }

    private void Quiescent(int depth, int[] path)
    {
        _stats.Executions++;
        var lv = _checker.AtQuiescent();
        if (lv != null) Record(lv, path.AsSpan(0, depth));
    }

    /// <summary>The visited-set key: the state's fingerprint, plus the scheduling context when a preemption bound makes it matter.</summary>
    private static ulong Key(World w, int lastActor, int preemptions, bool bounded)
    {
        var h = w.Fingerprint();
        if (!bounded) return h;
        return h ^ (((ulong)(uint)(lastActor + 1) * 0x9E3779B97F4A7C15UL) + ((ulong)(uint)preemptions * 0xC2B2AE3D27D4EB4FUL));
    }
}
