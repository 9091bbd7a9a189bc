namespace Scxlab.Checks;

/// <summary>What kind of finding a violation is.</summary>
public enum ViolationKind
{
    /// <summary>A named safety invariant failed on a reached state.</summary>
    Invariant,
    /// <summary>A kernel BUG()/WARN_ON_ONCE() site was reached by a step.</summary>
    KernelAssertion,
    /// <summary>The scheduler exited (scx_error, stall, …): an outcome carrying the kernel's message.</summary>
    Exit,
    /// <summary>The "no task forgotten" liveness check failed on a quiescent state.</summary>
    Liveness,
    /// <summary>
    /// Not a violation: a finding reported alongside the verdict without changing it (a task stranded in BPF
    /// custody until a later scripted action re-enqueues it). Never a terminal state.
    /// </summary>
    Warning,
    /// <summary>
    /// Not a violation: the scheduler reached something the model does not cover (<c>SchedState.ModelLimit</c>), so
    /// the path ends there unexplored. Any search that meets one is <c>incomplete</c> unless it also found a violation.
    /// </summary>
    ModelLimit,
}

/// <summary>One finding: the check (or exit kind) it belongs to and the message.</summary>
public sealed record Violation(ViolationKind Kind, string Name, string Message)
{
    /// <summary>
    /// Identity used to deduplicate findings and to compare strategies: invariants by name, exits
    /// and kernel assertions by kind and message (two different exit messages are two outcomes).
    /// </summary>
    public string Key => Kind switch
    {
        ViolationKind.Invariant or ViolationKind.Liveness => Name,
        ViolationKind.Exit or ViolationKind.KernelAssertion or ViolationKind.Warning or ViolationKind.ModelLimit => $"{Name}: {Message}",
        _ => throw new System.Diagnostics.UnreachableException($"violation kind {Kind}"),
    };

    public string KindName => Kind switch
    {
        ViolationKind.Invariant => "invariant",
        ViolationKind.KernelAssertion => "kernel-assertion",
        ViolationKind.Exit => "exit",
        ViolationKind.Liveness => "liveness",
        ViolationKind.Warning => "warning",
        ViolationKind.ModelLimit => "not-modelled",
        _ => throw new System.Diagnostics.UnreachableException($"violation kind {Kind}"),
    };

    public override string ToString() => Kind switch
    {
        ViolationKind.Exit => $"scheduler exit {Name}: {Message}",
        ViolationKind.Warning => $"warning {Name}: {Message}",
        ViolationKind.ModelLimit => $"not modelled: {Message}",
        _ => $"{Name}: {Message}",
    };
}

public static class ModelLimits
{
    /// <summary>The check name a <see cref="ViolationKind.ModelLimit"/> finding carries.</summary>
    public const string Name = "not-modelled";

    /// <summary>The incomplete reason for a search whose paths ended at model limits (the first one's message, and how many distinct ones).</summary>
    public static string Reason(IReadOnlyCollection<Violation> limits)
    {
        var first = limits.First();
        var more = limits.Count > 1 ? $" (and {limits.Count - 1} other limit{(limits.Count > 2 ? "s" : "")})" : "";
        return $"the scheduler reached something the model does not cover, so the paths through it were not explored: {first.Message}{more}";
    }
}
