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
    /// <summary>
    /// rt-app "runtime": busy-loop until <see cref="Phase.Ns"/> of wall-clock time has passed since the
    /// phase began, whether or not the task had the CPU meanwhile (unlike <see cref="Run"/>, which
    /// counts only CPU time).
    /// </summary>
    RunWall,
    /// <summary>
    /// rt-app "timer": advance the timer's next expiry by <see cref="Phase.Ns"/> (it starts at the
    /// thread's start time) and sleep until it; on an overrun, don't sleep, and in relative mode
    /// (rt-app's default) restart the timer from now. <see cref="Phase.Target"/> names a timer shared by
    /// every thread using the same ref; null is rt-app's "unique" (one per thread).
    /// </summary>
    RtAppTimer,
    /// <summary>
    /// rt-app per-phase <c>cpus</c>: sched_setaffinity() on itself to <see cref="Phase.Target"/>
    /// (a CPU list; null = the task's own cpus, or every CPU) when it differs from the current mask.
    /// </summary>
    SetAffinity,
    /// <summary>rt-app per-phase <c>priority</c>: sched_setattr() on itself to the weight <see cref="Phase.Ns"/>.</summary>
    SetWeight,
    /// <summary>rt-app "lock": take mutex <see cref="Phase.Target"/>, blocking while another task holds it.</summary>
    Lock,
    /// <summary>rt-app "unlock": release mutex <see cref="Phase.Target"/>, handing it to the first waiter.</summary>
    Unlock,
    /// <summary>rt-app "wait": pthread_cond_wait() on condition <see cref="Phase.Target"/> with mutex <see cref="Phase.Mutex"/>.</summary>
    CondWait,
    /// <summary>rt-app "signal": wake one waiter of condition <see cref="Phase.Target"/>.</summary>
    CondSignal,
    /// <summary>rt-app "broad": wake every waiter of condition <see cref="Phase.Target"/>.</summary>
    CondBroadcast,
    /// <summary>rt-app "sync": signal condition <see cref="Phase.Target"/>, then wait on it with mutex <see cref="Phase.Mutex"/>.</summary>
    CondSync,
    /// <summary>rt-app "barrier": block until every thread that uses barrier <see cref="Phase.Target"/> has reached it.</summary>
    Barrier,
}

/// <param name="Absolute">For <see cref="PhaseKind.RtAppTimer"/>: rt-app's <c>"mode": "absolute"</c> (an overrun keeps the old expiry).</param>
/// <param name="At">Where the phase was written (<c>file:line:col</c>), for errors found once the CPU count is known.</param>
/// <param name="Mutex">For <see cref="PhaseKind.CondWait"/> and <see cref="PhaseKind.CondSync"/>: the mutex released while waiting.</param>
public readonly record struct Phase(PhaseKind Kind, long Ns = 0, string? Target = null, bool Absolute = false, string? At = null, string? Mutex = null);

/// <summary>A group of identical tasks.</summary>
public sealed class TaskGroup
{
    public required string Name { get; init; }
    /// <summary>Task class for per-class metrics (e.g. interactive, batch).</summary>
    public string Class { get; init; } = "default";
    /// <summary>Tasks created at the start; 0 for an rt-app task that only a fork would create.</summary>
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
    /// <summary>
    /// What the loader accepted but the simulator does not act on, each as <c>file:line:col: message</c>
    /// (rt-app ignores keys it does not use; so does the simulator, but it says so).
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public int TaskCount => Groups.Sum(g => g.Count);
}

/// <summary>A workload file error, already formatted as <c>file:line:col: message</c>.</summary>
public sealed class WorkloadException(string message) : Exception(message);
