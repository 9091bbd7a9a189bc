using System.Diagnostics;
using Scxlab.Checks;
using Scxlab.Kernel;

namespace Scxlab.Fuzzing;

/// <summary>
/// Swarm fuzzing: many single schedules of a scenario, each determined by (seed, index) alone, for
/// models far too big to enumerate. Workers take disjoint index classes (worker j runs the indices
/// ≡ j mod Jobs) and their results are merged by index, so a run of R schedules gives the same
/// report for every worker count: each finding's first schedule is the lowest index that hit it.
/// </summary>
public sealed class Fuzzer(ModelConfig config, FuzzOptions options)
{
    /// <summary>Calibration walks that estimate PCT's schedule length k (the longest of them).</summary>
    public const int CalibrationWalks = 16;
    private const ulong CalibrationStream = 0x5CA1AB1E_0000_0000UL;

    public FuzzResult Run()
    {
        if (options.Runs < 0) throw new ArgumentOutOfRangeException(nameof(options), "runs must be non-negative");
        if (options.ShardCount < 1 || options.ShardIndex < 0 || options.ShardIndex >= options.ShardCount) throw new ArgumentOutOfRangeException(nameof(options), "shard index must be in 0..count−1");
        var jobs = Math.Max(1, options.Jobs);
        var clock = Stopwatch.StartNew();
        var probe = new Walker(config, options.Checks);
        var n = probe.Machine.ActorCount;
        var depth = Math.Max(1, options.Depth);
        var k = 0;
        if (options.Strategy == FuzzStrategy.Pct) k = options.PctLength ?? EstimateLength(probe);

        var root = probe.CheckInitial();
        if (root != null)
        {
            // The initial state violates: every schedule would report it before its first step.
            List<FuzzFinding> at = [new FuzzFinding(root, "initial state", 0, [], 1)];
            var limit = root.Kind == ViolationKind.ModelLimit;
            return Result(limit ? null : 0, limit ? [] : at, [], limit ? at : [], 0, 0, 0, 0, new DistinctCounter(), n, depth, k, clock);
        }

        var workers = new Worker[jobs];
        for (var j = 0; j < jobs; j++) workers[j] = new Worker(j == 0 ? probe : new Walker(config, options.Checks));
        workers[0].Seen.Add(probe.InitialFingerprint());
        void RunWorker(int j)
        {
            var w = workers[j];
            var choices = new List<int>();
            foreach (var i in Indices(options.Runs, options.ShardIndex, options.ShardCount, j, jobs))
            {
                if (options.BudgetSeconds is { } b && clock.Elapsed.TotalSeconds >= b) break;
                var end = w.Walker.Walk(options.Strategy, options.Seed, i, depth, k, options.MaxStepsPerWalk, choices, w.Seen,
                    (v, path) => w.Warning(v, "", i, path));
                w.Runs++;
                w.Steps += end.Steps;
                if (end.Steps > w.MaxLen) w.MaxLen = end.Steps;
                if (end.Truncated) w.Truncated++;
                // A walk that ended at a model limit is cut, not a finding: kept apart, it makes the run incomplete.
                if (end.Violation is { Kind: ViolationKind.ModelLimit }) w.Finding(w.Limits, end.Violation, end.Location, i, choices);
                else if (end.Violation != null && w.Finding(w.Findings, end.Violation, end.Location, i, choices)) w.FirstSeconds ??= clock.Elapsed.TotalSeconds;
            }
        }
        if (jobs == 1) RunWorker(0);
        else
        {
            var threads = Enumerable.Range(0, jobs).Select(j => new Thread(() => RunWorker(j), 16 << 20) { IsBackground = true }).ToArray();
            foreach (var t in threads) t.Start();
            foreach (var t in threads) t.Join();
        }

        var seen = new DistinctCounter();
        foreach (var w in workers) seen.MergeFrom(w.Seen);
        var first = workers.Select(w => w.FirstSeconds).Where(x => x != null).Min();
        return Result(first, Merge(workers.Select(w => w.Findings)), Merge(workers.Select(w => w.Warnings), sumHits: false), Merge(workers.Select(w => w.Limits)),
            workers.Sum(w => w.Runs), workers.Sum(w => w.Steps), workers.Sum(w => w.Truncated), workers.Max(w => w.MaxLen), seen, n, depth, k, clock);
    }

    private FuzzResult Result(double? firstSeconds, List<FuzzFinding> findings, List<FuzzFinding> warnings, List<FuzzFinding> limits, long runs, long steps, long truncated, int maxLen,
        DistinctCounter seen, int n, int depth, int k, Stopwatch clock) => new()
    {
        Strategy = options.Strategy,
        Seed = options.Seed,
        RunsRequested = ShardShare(options.Runs, options.ShardIndex, options.ShardCount),
        ShardIndex = options.ShardIndex,
        ShardCount = options.ShardCount,
        DistinctSketch = seen.Registers(),
        Runs = runs,
        Steps = steps,
        Truncated = truncated,
        MaxWalkLength = maxLen,
        DistinctFingerprints = seen.Estimate(),
        Actors = n,
        Depth = options.Strategy == FuzzStrategy.Pct ? depth : 0,
        PctLength = k,
        PctBound = options.Strategy == FuzzStrategy.Pct ? PctLowerBound(n, k, depth) : 0,
        Findings = findings,
        Warnings = warnings,
        ModelLimits = limits,
        Seconds = clock.Elapsed.TotalSeconds,
        FirstFindingSeconds = firstSeconds,
    };

    /// <summary>
    /// The schedule indices worker <paramref name="job"/> of <paramref name="jobs"/> runs in shard <paramref name="shard"/>
    /// of <paramref name="shards"/>: the shard owns the indices ≡ shard (mod shards) below <paramref name="runs"/>, and
    /// its worker j runs every jobs-th of them, starting at its j-th. Ascending, so a worker's first hit of a finding is its lowest.
    /// </summary>
    public static IEnumerable<long> Indices(long runs, int shard, int shards, int job, int jobs)
    {
        for (long i = shard + (long)shards * job; i < runs; i += (long)shards * jobs) yield return i;
    }

    /// <summary>How many of the indices 0..runs−1 are ≡ shard (mod count).</summary>
    public static long ShardShare(long runs, int shard, int count) => runs <= shard ? 0 : (runs - shard + count - 1) / count;

    /// <summary>The distinct-fingerprint estimate of several runs' sketches together (shards of one run); null if one is not a sketch.</summary>
    public static long? MergeDistinct(IEnumerable<byte[]> sketches)
    {
        var all = new DistinctCounter();
        foreach (var s in sketches)
        {
            if (DistinctCounter.FromRegisters(s) is not { } c) return null;
            all.MergeFrom(c);
        }
        return all.Estimate();
    }

    /// <summary>PCT's guarantee (Burckhardt et al., Theorem 6): one schedule hits a given bug of depth d with probability at least 1/(n·k^(d−1)).</summary>
    public static double PctLowerBound(int n, int k, int depth) => 1.0 / (n * Math.Pow(Math.Max(1, k), depth - 1));

    /// <summary>k: the longest of <see cref="CalibrationWalks"/> random walks (their own seed stream, so still determined by the seed).</summary>
    private int EstimateLength(Walker w)
    {
        var choices = new List<int>();
        var k = 1;
        for (var i = 0; i < CalibrationWalks; i++)
        {
            var end = w.Walk(FuzzStrategy.Random, options.Seed ^ CalibrationStream, i, 1, 1, options.MaxStepsPerWalk, choices, null, null);
            k = Math.Max(k, end.Steps);
        }
        return k;
    }

    /// <summary>
    /// Per key: the finding from the lowest schedule index, with the hits summed over workers. Warnings are
    /// reported once per site by each worker's checker, so their hit counts would depend on the worker count:
    /// they are not summed (1 each).
    /// </summary>
    private static List<FuzzFinding> Merge(IEnumerable<Dictionary<string, FuzzFinding>> parts, bool sumHits = true)
    {
        var all = new Dictionary<string, FuzzFinding>(StringComparer.Ordinal);
        foreach (var part in parts)
            foreach (var (key, f) in part)
            {
                if (!all.TryGetValue(key, out var old)) all[key] = f;
                else all[key] = (f.FirstIndex < old.FirstIndex ? f : old) with { Hits = sumHits ? old.Hits + f.Hits : 1 };
            }
        return [.. all.Values.OrderBy(f => f.FirstIndex).ThenBy(f => f.Key, StringComparer.Ordinal)];
    }

    private sealed class Worker(Walker walker)
    {
        public readonly Walker Walker = walker;
        public readonly DistinctCounter Seen = new();
        public readonly Dictionary<string, FuzzFinding> Findings = new(StringComparer.Ordinal);
        public readonly Dictionary<string, FuzzFinding> Warnings = new(StringComparer.Ordinal);
        public readonly Dictionary<string, FuzzFinding> Limits = new(StringComparer.Ordinal);
        public long Runs, Steps, Truncated;
        public int MaxLen;

        public double? FirstSeconds;

        /// <summary>Record a finding; true when its key is new to this worker.</summary>
        public bool Finding(Dictionary<string, FuzzFinding> into, Violation v, string location, long index, List<int> choices)
        {
            var key = FuzzFinding.DedupKey(v, location);
            // Indices grow within a worker, so the first entry of a key is this worker's lowest index.
            if (into.TryGetValue(key, out var old))
            {
                into[key] = old with { Hits = old.Hits + 1 };
                return false;
            }
            into[key] = new FuzzFinding(v, location, index, [.. choices], 1);
            return true;
        }

        public void Warning(Violation v, string location, long index, int[] choices)
        {
            var f = new FuzzFinding(v, location, index, choices, 1);
            Warnings.TryAdd(f.Key, f);
        }
    }
}
