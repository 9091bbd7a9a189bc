using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Simulation;

/// <summary>
/// Virtual ns one model step costs, by the kind of step (classified from the actor's top frame
/// before it runs). Defaults are order-of-magnitude figures for a modern x86 core: an uncontended
/// spinlock ~40 ns, a BPF kfunc ~50 ns, a kernel path segment between two interleaving points
/// ~80 ns, entering __schedule() or a syscall ~250 ns, an IPI until the target reschedules ~1 µs.
/// With <see cref="Jitter"/> each step's cost is the base times an Exp(1) draw (mean = the base),
/// standing in for cache misses and interrupts; this spread is what lets a long step on one CPU
/// overlap several short steps on another, so races fire at a realistic rate.
/// </summary>
public sealed record StepCosts
{
    public long LockNs { get; init; } = 40;
    public long SpinNs { get; init; } = 20;
    public long KfuncNs { get; init; } = 50;
    public long PathNs { get; init; } = 80;
    public long ScheduleEntryNs { get; init; } = 250;
    public long SyscallEntryNs { get; init; } = 250;
    /// <summary>From a remote CPU setting need_resched (IPI) until the target enters __schedule().</summary>
    public long ReschedIpiNs { get; init; } = 1_000;
    /// <summary>From a CPU setting its own need_resched until it enters __schedule().</summary>
    public long ReschedLocalNs { get; init; } = 100;
    public bool Jitter { get; init; } = true;
    /// <summary>
    /// Hardware interrupts (timer, IPIs, devices, RCU) arrive on each CPU as a Poisson process at this
    /// rate; a step they hit is stretched by the handler's run time. This heavy tail — not the
    /// average cost — is what opens a kernel race window wide enough for another CPU to complete
    /// a whole path inside it. 0 disables.
    /// </summary>
    public double IrqPerSecond { get; init; } = 10_000;
    /// <summary>Mean interrupt handler time (exponentially distributed).</summary>
    public long IrqMeanNs { get; init; } = 3_000;
}

/// <summary>Everything that fixes one simulation run (with the workload).</summary>
public sealed record SimOptions
{
    public int Cpus { get; init; } = 8;
    public long DurationNs { get; init; } = 10_000_000_000;
    public ulong Seed { get; init; } = 1;
    public required Func<ScxOps> Policy { get; init; }
    public string PolicyName { get; init; } = "";
    public Protocol Protocol { get; init; } = Protocol.Upstream;
    public int Hz { get; init; } = 250;
    /// <summary>Overrides ops.timeout_ms for the watchdog (null: the policy's, else SCX_WATCHDOG_MAX_TIMEOUT = 30 s).</summary>
    public long? WatchdogTimeoutNs { get; init; }
    public StepCosts Costs { get; init; } = new();
    /// <summary>Buckets of the per-CPU utilisation time series (fixed, so memory stays flat).</summary>
    public int UtilBuckets { get; init; } = 200;
    /// <summary>Receives the timeline (Perfetto); null = none.</summary>
    public ISimTraceSink? Trace { get; init; }
    /// <summary>Called about ten times a second of wall time with the fraction of virtual time done (after the first second).</summary>
    public Action<double>? Progress { get; init; }
    /// <summary>
    /// Record the run up to its first finding (<see cref="Simulator.Recording"/>) so that the finding can be saved as a
    /// scenario for <c>scxlab check</c> (<see cref="SimulationRepro"/>). Off by default: a long run's recording grows
    /// with every step until a finding.
    /// </summary>
    public bool Record { get; init; }
    /// <summary>Cancelled by the user (Ctrl-C): the run ends at the current virtual time, reported as such.</summary>
    public CancellationToken Cancel { get; init; }
}

/// <summary>A timeline consumer (the Perfetto writer implements it). Calls come in virtual-time order per CPU.</summary>
public interface ISimTraceSink
{
    void Begin(int cpus, IReadOnlyList<string> taskNames, string title);
    /// <summary>Task <paramref name="task"/> ran on <paramref name="cpu"/> from <paramref name="startNs"/> to <paramref name="endNs"/>.</summary>
    void TaskSlice(int cpu, int task, long startNs, long endNs, bool preempted);
    /// <summary>Task moved: its last slice ended on <paramref name="fromCpu"/> at <paramref name="fromNs"/>, the next starts on <paramref name="toCpu"/> at <paramref name="toNs"/>.</summary>
    void Migration(int task, int fromCpu, long fromNs, int toCpu, long toNs);
    /// <summary>A point event on a CPU track (<paramref name="cpu"/> ≥ 0) or global (-1).</summary>
    void Instant(int cpu, long ns, string name, string detail);
    /// <summary>Task <paramref name="task"/>, blocked (or not started yet), is woken towards <paramref name="cpu"/>.</summary>
    void Wakeup(int task, int cpu, long ns) { }
    void End(long ns);
}
