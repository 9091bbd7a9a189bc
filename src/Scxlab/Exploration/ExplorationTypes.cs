using Scxlab.Stepping;
using Scxlab.Checks;

namespace Scxlab.Exploration;

public enum Strategy
{
    /// <summary>Plain depth-first search with a visited set: the reference.</summary>
    Dfs,
    /// <summary>Depth-first search with sleep sets on step footprints, combined soundly with state caching.</summary>
    Reduced,
    /// <summary>Breadth-first search: finds the shortest trace to each violation first.</summary>
    Bfs,
}

public enum Verdict
{
    Holds,
    Violation,
    Incomplete,
}

public sealed record ExploreOptions
{
    public Strategy Strategy { get; init; } = Strategy.Reduced;
    /// <summary>Store full states instead of 64-bit fingerprints.</summary>
    public bool Exact { get; init; }
    /// <summary>Bound on preemptions (a switch away from an actor that is mid-activity and still enabled).</summary>
    public int? MaxPreemptions { get; init; }
    public double? BudgetSeconds { get; init; }
    public long? MaxTransitions { get; init; }
    /// <summary>Bytes of RAM the visited set may hold. Beyond it, states spill to <see cref="SpillDirectory"/>, or the search stops as incomplete when there is none.</summary>
    public long MaxMemoryBytes { get; init; } = 6L << 30;
    /// <summary>
    /// Where stored states go once <see cref="MaxMemoryBytes"/> is reached (<see cref="SpillingFingerprintSet"/>):
    /// the search goes on with the same states and verdict. Null: nowhere. Ignored with <see cref="Exact"/>.
    /// </summary>
    public string? SpillDirectory { get; init; }
    /// <summary>
    /// Bytes a BFS may hold in its frontier (the encoded states of the layer it expands and the one it builds, and their
    /// item lists) and its parent links, beyond
    /// <see cref="MaxMemoryBytes"/>; past it the search stops as incomplete instead of running the machine out of
    /// memory. Null: three quarters of the memory the runtime sees, less <see cref="MaxMemoryBytes"/>, at least 1 GiB.
    /// </summary>
    public long? MaxFrontierBytes { get; init; }

    /// <summary><see cref="MaxFrontierBytes"/>, or its default for this machine.</summary>
    internal long FrontierLimit => MaxFrontierBytes ?? Math.Max(1L << 30, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4 * 3 - MaxMemoryBytes);

    /// <summary>Why a BFS stops when its frontier holds <paramref name="bytes"/> bytes at <paramref name="depth"/>.</summary>
    internal string FrontierReason(long bytes, int depth) =>
        $"the BFS frontier outgrew the memory left for it ({bytes >> 20} MiB of encoded states, their lists and parent links at depth {depth}, {FrontierLimit >> 20} MiB allowed: " +
        "three quarters of this machine's memory less --memory); the default strategy (reduced, a DFS) keeps no frontier";
    /// <summary>Selected check names; empty = all.</summary>
    public IReadOnlyList<string> Checks { get; init; } = [];
    /// <summary>Compute the shortest trace (BFS) for each violation a DFS found.</summary>
    public bool ShortestTraces { get; init; } = true;
    /// <summary>
    /// Worker threads. 1 = the sequential strategies; more = the parallel DFS or the layer-parallel BFS
    /// (<see cref="ParallelBfsSearch"/>), which give the same states, verdict and findings for every value;
    /// <see cref="AutoJobs"/> = one thread, and every core for a search that passes <see cref="AutoJobsAfter"/> transitions.
    /// </summary>
    public int Jobs { get; init; } = 1;

    /// <summary>
    /// <see cref="Jobs"/>' "as many as pay": the search starts on one thread (a small one is faster that way: no workers
    /// to start and feed); one that passes <see cref="AutoJobsAfter"/> transitions starts again with a worker per core.
    /// </summary>
    public const int AutoJobs = 0;

    /// <summary>Transitions an <see cref="AutoJobs"/> search runs on one thread before it starts again on every core.</summary>
    internal long AutoJobsAfter { get; init; } = 1_000_000;

    /// <summary>The cores an <see cref="AutoJobs"/> search uses (tests set it; default: the machine's).</summary>
    internal int AutoJobsCores { get; init; } = Environment.ProcessorCount;
    /// <summary>Called about twice a second once a run has lasted a second.</summary>
    public Action<ExploreStats>? Progress { get; init; }
    /// <summary>Cancelled by the user (Ctrl-C): the search stops as incomplete ("interrupted"), with what it covered.</summary>
    public CancellationToken Cancel { get; init; }
    /// <summary>
    /// Shard <see cref="ShardIndex"/> (0-based) of <see cref="ShardCount"/> (<c>check --shard K/N</c>): a BFS whose
    /// first layer with at least <see cref="ShardFrontierStates"/> states (the frontier; every shard computes the
    /// same one, as the search up to it is deterministic) keeps only the states whose fingerprint ≡ ShardIndex
    /// (mod ShardCount); below them the shard is exhaustive. The frontiers of the shards are disjoint and cover
    /// the whole layer, so together the shards reach every state the unsharded search reaches (docs/scale-out.md).
    /// </summary>
    public int ShardIndex { get; init; }
    public int ShardCount { get; init; } = 1;
    /// <summary>Frontier size that fixes the shard depth; 0 = 16 × <see cref="ShardCount"/>.</summary>
    public int ShardFrontierStates { get; init; }
    /// <summary>Test hook: the fingerprint of every state a search stores. Null on the hot path.</summary>
    internal Action<ulong>? OnStore { get; init; }
    /// <summary>Test hook: every transition of a DFS (parent world, actor, child world, child's sleep set). Null on the hot path.</summary>
    internal Action<World, int, World, ulong>? OnTransition { get; init; }
}

public sealed class ExploreStats
{
    /// <summary>Paths that ended: at a quiescent state, at a violating state, or by merging into a visited state.</summary>
    public long Executions { get; set; }
    public long States { get; set; }
    /// <summary>Steps executed by the search (generated transitions).</summary>
    public long Transitions { get; set; }
    public int MaxDepth { get; set; }
    public double Seconds { get; set; }
    /// <summary>Estimated probability that a fingerprint collision hid a state: n·m / 2^64 (TLC's estimate).</summary>
    public double CollisionProbability { get; set; }
    public double BytesPerState { get; set; }
    public long StoreBytes { get; set; }
    /// <summary>Sharded search: the frontier's depth (0 = no layer was big enough, so nothing was split), its states, and this shard's share.</summary>
    public int ShardDepth { get; set; }
    public long ShardFrontierStates { get; set; }
    public long ShardOwnStates { get; set; }
    /// <summary>Sharded search: a HyperLogLog sketch of the fingerprints this shard stored (the union of the shards' sketches estimates the states of them all).</summary>
    public byte[]? DistinctSketch { get; set; }
    /// <summary>States stored on disk at the end (a search that spilled), the run files written, and their bytes.</summary>
    public long SpilledStates { get; set; }
    public int SpillRuns { get; set; }
    public long SpillBytes { get; set; }
}

/// <summary>A violation and the actor choices that reach it from the initial state.</summary>
public sealed record FoundViolation(Violation Violation, IReadOnlyList<int> Trace);

public sealed record ExploreResult
{
    public required Verdict Verdict { get; init; }
    public required bool Complete { get; init; }
    public required Strategy Strategy { get; init; }
    public required IReadOnlyList<FoundViolation> Violations { get; init; }
    public required ExploreStats Stats { get; init; }
    /// <summary>Why the search is incomplete (budget or bound), or null.</summary>
    public string? IncompleteReason { get; init; }
    /// <summary>
    /// Paths that ended where the scheduler reached something the model does not cover (<see cref="ViolationKind.ModelLimit"/>),
    /// one per distinct message with the shortest trace the search saw; any makes the search incomplete.
    /// </summary>
    public IReadOnlyList<FoundViolation> ModelLimits { get; init; } = [];
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>Warning-level findings (<see cref="ViolationKind.Warning"/>) with a trace each; they do not change the verdict.</summary>
    public IReadOnlyList<FoundViolation> Warnings { get; init; } = [];
}
