using Scxlab.Checks;

namespace Scxlab.Fuzzing;

/// <summary>How a fuzz walk chooses the next actor among the enabled ones.</summary>
public enum FuzzStrategy
{
    /// <summary>Uniformly at random among the enabled actors, at every step.</summary>
    Random,
    /// <summary>
    /// Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010):
    /// random distinct priorities per actor, the highest-priority enabled actor runs, and d−1 random
    /// change points over the estimated schedule length k lower the running actor's priority.
    /// </summary>
    Pct,
}

public sealed class FuzzOptions
{
    public FuzzStrategy Strategy { get; init; } = FuzzStrategy.Random;
    /// <summary>Schedules to run (indices 0..Runs−1).</summary>
    public long Runs { get; init; } = 1000;
    /// <summary>Wall-clock budget; when it stops the run first, the result says how many schedules ran.</summary>
    public double? BudgetSeconds { get; init; }
    /// <summary>PCT bug depth d (d−1 priority change points). Ignored by the random strategy.</summary>
    public int Depth { get; init; } = 3;
    public ulong Seed { get; init; } = 1;
    /// <summary>Parallel workers; worker j runs the indices ≡ j (mod Jobs). The result does not depend on it.</summary>
    public int Jobs { get; init; } = 1;
    /// <summary>Steps after which a walk is abandoned (counted as truncated, never as a finding).</summary>
    public int MaxStepsPerWalk { get; init; } = 100_000;
    /// <summary>Selected check names; empty = all (as <c>check</c>).</summary>
    public IReadOnlyList<string> Checks { get; init; } = [];
    /// <summary>This process runs shard <see cref="ShardIndex"/> (0-based) of <see cref="ShardCount"/>: the indices ≡ ShardIndex (mod ShardCount) below <see cref="Runs"/>.</summary>
    public int ShardIndex { get; init; }
    public int ShardCount { get; init; } = 1;
    /// <summary>Schedule length k for PCT; null = estimated from calibration walks (see <see cref="Fuzzer"/>).</summary>
    public int? PctLength { get; init; }
}

/// <summary>
/// One deduplicated finding: the violation (invariant or exit, with its message from the first schedule
/// that hit it), where it was raised, the lowest schedule index that hit it and its actor choices, and
/// how many schedules hit it.
/// </summary>
public sealed record FuzzFinding(Violation Violation, string Location, long FirstIndex, IReadOnlyList<int> Choices, long Hits)
{
    /// <summary>
    /// Deduplication identity: the invariant (or exit kind, or assertion site) and the location. Exit and
    /// assertion messages are compared with task names, pids and numbers masked, so the same race hit on
    /// p2[103] and on p5[106], or against CPU 0 and CPU 3, is one finding.
    /// </summary>
    public string Key => DedupKey(Violation, Location);

    public static string DedupKey(Violation v, string location) => v.Kind switch
    {
        ViolationKind.Invariant or ViolationKind.Liveness => $"{v.Name} @ {location}",
        ViolationKind.Exit or ViolationKind.KernelAssertion or ViolationKind.Warning or ViolationKind.ModelLimit => $"{v.Name}: {Mask(v.Message)} @ {location}",
        _ => throw new System.Diagnostics.UnreachableException($"violation kind {v.Kind}"),
    };

    /// <summary>The message with task names and pids (<c>name[pid]</c> → T) and then every number (→ N) masked.</summary>
    public static string Mask(string message) =>
        System.Text.RegularExpressions.Regex.Replace(
            System.Text.RegularExpressions.Regex.Replace(message, @"[A-Za-z_][A-Za-z0-9_-]*\[\d+\]", "T"), @"\d+", "N");
}

public sealed class FuzzResult
{
    public required FuzzStrategy Strategy { get; init; }
    public required ulong Seed { get; init; }
    /// <summary>Schedules this process was asked for: <see cref="FuzzOptions.Runs"/>, or its shard's share of them.</summary>
    public required long RunsRequested { get; init; }
    public int ShardIndex { get; init; }
    public int ShardCount { get; init; } = 1;
    /// <summary>The distinct-fingerprint sketch (HyperLogLog registers), so shards' counts can be merged exactly as workers' are.</summary>
    public required byte[] DistinctSketch { get; init; }
    /// <summary>Schedules that ran to their end (a finding, quiescence, or the step cap).</summary>
    public required long Runs { get; init; }
    /// <summary>True when the budget stopped the run before <see cref="RunsRequested"/> schedules.</summary>
    public bool StoppedByBudget => Runs < RunsRequested;
    public required long Steps { get; init; }
    /// <summary>Walks cut by <see cref="FuzzOptions.MaxStepsPerWalk"/>.</summary>
    public required long Truncated { get; init; }
    public required int MaxWalkLength { get; init; }
    /// <summary>Estimated distinct world fingerprints seen along all walks (HyperLogLog, ≈0.8% standard error; exact below a few hundred).</summary>
    public required long DistinctFingerprints { get; init; }
    public required int Actors { get; init; }
    /// <summary>PCT: depth d and schedule length k used; the per-schedule lower bound 1/(n·k^(d−1)).</summary>
    public int Depth { get; init; }
    public int PctLength { get; init; }
    public double PctBound { get; init; }
    public required IReadOnlyList<FuzzFinding> Findings { get; init; }
    public required IReadOnlyList<FuzzFinding> Warnings { get; init; }
    /// <summary>Walks that ended where the scheduler reached something the model does not cover (<see cref="ViolationKind.ModelLimit"/>), deduplicated as findings are; any makes the run incomplete.</summary>
    public IReadOnlyList<FuzzFinding> ModelLimits { get; init; } = [];
    /// <summary>The run covered less than asked: the budget stopped it, or walks ended at model limits.</summary>
    public bool Incomplete => StoppedByBudget || ModelLimits.Count > 0;
    public required double Seconds { get; init; }
    /// <summary>Wall-clock seconds until the first finding was recorded (any worker), or null; timing, like <see cref="Seconds"/>.</summary>
    public double? FirstFindingSeconds { get; init; }
    public double SchedulesPerSecond => Seconds > 0 ? Runs / Seconds : 0;

    /// <summary>Lower bound on the probability that at least one of the schedules run hits a given bug of depth d.</summary>
    public double PctBoundOverRuns => PctBound <= 0 ? 0 : 1 - Math.Pow(1 - PctBound, Runs);
}
