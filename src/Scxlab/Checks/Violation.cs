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
        ViolationKind.Exit or ViolationKind.KernelAssertion or ViolationKind.Warning => $"{Name}: {Message}",
        _ => throw new System.Diagnostics.UnreachableException($"violation kind {Kind}"),
    };

    public string KindName => Kind switch
    {
        ViolationKind.Invariant => "invariant",
        ViolationKind.KernelAssertion => "kernel-assertion",
        ViolationKind.Exit => "exit",
        ViolationKind.Liveness => "liveness",
        ViolationKind.Warning => "warning",
        _ => throw new System.Diagnostics.UnreachableException($"violation kind {Kind}"),
    };

    public override string ToString() => Kind switch
    {
        ViolationKind.Exit => $"scheduler exit {Name}: {Message}",
        ViolationKind.Warning => $"warning {Name}: {Message}",
        _ => $"{Name}: {Message}",
    };
}
