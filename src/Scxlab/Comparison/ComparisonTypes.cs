using Scxlab.Checks;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Comparison;

/// <summary>What exploration found in one cell (scenario × policy × protocol), most severe first.</summary>
public enum CellOutcome
{
    /// <summary>A runnable task left in BPF custody (QUEUED) or in no one's hands that nobody will dispatch: lost silently.</summary>
    TaskForgotten,
    /// <summary>A safety invariant, a kernel assertion, or a liveness failure other than a forgotten task (e.g. a deadlock).</summary>
    OtherViolation,
    /// <summary>The scheduler was ended (scx_error and friends): loud, and the task is parked by the kernel, not lost.</summary>
    SchedulerExit,
    /// <summary>A budget stopped the search and nothing was violated in what was covered.</summary>
    Incomplete,
    /// <summary>Complete search, nothing violated.</summary>
    Holds,
    /// <summary>The policy declares a protocol it cannot run without (<see cref="Bpf.ScxOps.RequiresProtocol"/>); not explored.</summary>
    NotApplicable,
}

public static class CellOutcomes
{
    /// <summary>The stable JSON name.</summary>
    public static string JsonName(CellOutcome o) => o switch
    {
        CellOutcome.Holds => "holds",
        CellOutcome.SchedulerExit => "scheduler-exit",
        CellOutcome.TaskForgotten => "task-forgotten",
        CellOutcome.OtherViolation => "violation",
        CellOutcome.Incomplete => "incomplete",
        CellOutcome.NotApplicable => "not-applicable",
        _ => throw new System.Diagnostics.UnreachableException($"cell outcome {o}"),
    };
}

/// <summary>One violation exploration found in a cell, classified from a replay of its shortest trace.</summary>
public sealed record CellFinding
{
    public required CellOutcome Outcome { get; init; }
    public required Violation Violation { get; init; }
    /// <summary>Actor choices from the initial state (the explorer's shortest trace).</summary>
    public required IReadOnlyList<int> Trace { get; init; }
    /// <summary>Where the tasks concerned ended, from the replayed world (for an exit: after the path that raised it finished), e.g. "p[101]: on SCX_DSQ_GLOBAL (…)".</summary>
    public required IReadOnlyList<string> TaskEnds { get; init; }
    /// <summary>The saved trace file (TraceFile format, replayable with <c>scxlab replay</c>), or null when none was written.</summary>
    public string? TraceFile { get; init; }
}

/// <summary>The verdict of one cell and what it cost.</summary>
public sealed record ComparisonCell
{
    public required Scenario Scenario { get; init; }
    public required string Policy { get; init; }
    public required Protocol Protocol { get; init; }
    public required CellOutcome Outcome { get; init; }
    /// <summary>For <see cref="CellOutcome.NotApplicable"/>: the protocol the policy needs.</summary>
    public Protocol? RequiredProtocol { get; init; }
    /// <summary>Every finding, the primary one (the most severe, then the shortest) first.</summary>
    public IReadOnlyList<CellFinding> Findings { get; init; } = [];
    public CellFinding? Primary => Findings.Count > 0 ? Findings[0] : null;
    public bool Complete { get; init; }
    public string? IncompleteReason { get; init; }
    public ExploreStats? Stats { get; init; }
    /// <summary>Wall time of the cell: the search, the shortest-trace pass and the classification.</summary>
    public double Seconds { get; init; }
    /// <summary>Actor names by id, as the model numbered them.</summary>
    public IReadOnlyList<string> Actors { get; init; } = [];
}

public sealed class ComparisonOptions
{
    /// <summary>Scenarios to compare; empty = <see cref="ProtocolComparison.DefaultScenarios"/>.</summary>
    public IReadOnlyList<Scenario> Scenarios { get; init; } = [];
    /// <summary>Protocols (columns); empty = every protocol.</summary>
    public IReadOnlyList<Protocol> Protocols { get; init; } = [];
    /// <summary>Policies to compare in every scenario instead of each scenario's <c>compare:</c> list; empty = the lists.</summary>
    public IReadOnlyList<string> Policies { get; init; } = [];
    /// <summary>Kernel era for every cell; null = each scenario's own <c>kernel:</c> (7.1 by default).</summary>
    public KernelEra? Kernel { get; init; }
    /// <summary>Time budget per cell (seconds); null = unbounded.</summary>
    public double? BudgetSeconds { get; init; } = 10;
    /// <summary>Where violating cells save their traces; null = no files.</summary>
    public string? TraceDirectory { get; init; }
    /// <summary>Called before each cell is explored (index, count, the cell's coordinates).</summary>
    public Action<int, int, string>? CellStarted { get; init; }
    /// <summary>Passed to the explorer: called about twice a second once a cell has run for a second.</summary>
    public Action<ExploreStats>? Progress { get; init; }
}

public sealed record ComparisonResult(
    IReadOnlyList<Scenario> Scenarios,
    IReadOnlyList<Protocol> Protocols,
    IReadOnlyList<ComparisonCell> Cells,
    string? TraceDirectory,
    double Seconds)
{
    /// <summary>The rows: (scenario, policy) in scenario order, then the order of the scenario's list.</summary>
    public IEnumerable<(Scenario Scenario, string Policy)> Rows()
    {
        var seen = new HashSet<(string, string)>();
        foreach (var c in Cells)
            if (seen.Add((c.Scenario.Name, c.Policy))) yield return (c.Scenario, c.Policy);
    }

    public ComparisonCell? Cell(string scenario, string policy, Protocol protocol) =>
        Cells.FirstOrDefault(c => c.Scenario.Name == scenario && c.Policy == policy && c.Protocol == protocol);

    public bool AnyViolation => Cells.Any(c => c.Outcome is CellOutcome.TaskForgotten or CellOutcome.OtherViolation or CellOutcome.SchedulerExit);
}
