namespace Scxlab.Simulation;

/// <summary>One step of a task's program (rt-app calls these events).</summary>
public enum PhaseKind
{
    /// <summary>Run on a CPU for <see cref="Phase.Ns"/> of CPU time.</summary>
    Run,
    /// <summary>Block for <see cref="Phase.Ns"/> of virtual time, then a timer wakes the task.</summary>
    Sleep,
    /// <summary>Block until the next multiple of <see cref="Phase.Ns"/> since the task's first timer (rt-app "timer").</summary>
    Timer,
    /// <summary>Wake the task(s) of group <see cref="Phase.Target"/> (instance k wakes instance k mod count).</summary>
    Wake,
    /// <summary>Block until another task wakes this one (rt-app "suspend").</summary>
    Suspend,
    /// <summary>Exit (the task becomes dead at its next schedule-out).</summary>
    Exit,
}

public readonly record struct Phase(PhaseKind Kind, long Ns = 0, string? Target = null);

/// <summary>A group of identical tasks.</summary>
public sealed class TaskGroup
{
    public required string Name { get; init; }
    /// <summary>Task class for per-class metrics (e.g. interactive, batch).</summary>
    public string Class { get; init; } = "default";
    public int Count { get; init; } = 1;
    /// <summary>sched_ext weight (1..10000, default 100).</summary>
    public int Weight { get; init; } = 100;
    /// <summary>Allowed CPUs as a list form ("0-3,6"), null = every CPU.</summary>
    public string? Cpus { get; init; }
    /// <summary>Where <see cref="Cpus"/> was written (<c>file:line:col</c>), for errors found once the CPU count is known.</summary>
    public string? CpusAt { get; init; }
    public required IReadOnlyList<Phase> Phases { get; init; }
    /// <summary>How many times the phase list runs; -1 = forever.</summary>
    public int Loop { get; init; } = -1;
    /// <summary>First wakeup at this virtual time (plus a seeded offset in [0, StartSpreadNs)).</summary>
    public long StartNs { get; init; }
    public long StartSpreadNs { get; init; }
    /// <summary>Start blocked: the first wakeup comes from another task's wake phase.</summary>
    public bool StartSuspended { get; init; }
    /// <summary>Every task of the group gets a new affinity mask every this many ns (0 = never).</summary>
    public long AffinityChurnNs { get; init; }
    public AffinityChurnMode AffinityChurnMode { get; init; } = AffinityChurnMode.SingleCpu;
    /// <summary>Every task of the group gets a new weight every this many ns (0 = never).</summary>
    public long WeightChurnNs { get; init; }
}

public enum AffinityChurnMode
{
    /// <summary>Pin to one CPU chosen uniformly from the group's allowed CPUs (stress-ng --affinity --affinity-rand).</summary>
    SingleCpu,
    /// <summary>Alternate: a random single CPU, then the group's whole mask again.</summary>
    SingleOrAll,
}

/// <summary>A workload: task groups and their programs, plus defaults the command line may override.</summary>
public sealed class Workload
{
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    public int? Cpus { get; init; }
    public long? DurationNs { get; init; }
    public required IReadOnlyList<TaskGroup> Groups { get; init; }

    public int TaskCount => Groups.Sum(g => g.Count);
}

/// <summary>A workload file error, already formatted as <c>file:line:col: message</c>.</summary>
public sealed class WorkloadException(string message) : Exception(message);
