using HdrHistogram;

namespace Scxlab.Simulation;

/// <summary>Wakeup-to-run latency of one task class (or overall), in ns.</summary>
public sealed record LatencySummary(string Class, long Count, long P50, long P99, long P999, long Max, double Mean);

/// <summary>A scheduler exit seen during the run.</summary>
public sealed record SimExit(long AtNs, string Kind, string Message);

/// <summary>A kernel assertion (BUG/WARN) or other named finding reached during the run.</summary>
/// <summary>
/// A run's first finding saved by <c>simulate --out</c>: its key (as <c>check</c> reports it), its virtual time, the files
/// written (null when not written) and the shrunk scenario's size, or why it could not be saved (<see cref="Failure"/>).
/// </summary>
public sealed record SimSaved(string Finding, long AtNs, string? ScenarioFile, string? TraceFile, string? OriginalTraceFile,
    int? Cpus, int? Tasks, int? ScriptActors, int? Steps, int Replays, string? Failure, IReadOnlyList<string> Log);

/// <summary>
/// A <c>simulate --seeds From..To</c> sweep: shard <see cref="ShardIndex"/> (0-based) of <see cref="ShardCount"/> ran the seeds
/// ≡ ShardIndex (mod ShardCount) of the range, and <see cref="Settings"/> names every command-line setting that shapes a run
/// besides the workload, policy, protocols and seed (CPUs, duration and tick rate as resolved; the others as given, null
/// when not given).
/// </summary>
public sealed record SimSweep(ulong From, ulong To, int ShardIndex, int ShardCount, IReadOnlyList<(string Name, string? Value)> Settings);

public sealed record SimFinding(string Check, string FirstMessage, long FirstAtNs, long Count);

/// <summary>
/// One task's share of a part of a run: CPU time received (ns), the weight it started with, wakeups
/// issued to it, time it spent runnable but not running (ns: from a wakeup or a preemption until it ran
/// again) and migrations (runs on another CPU than its previous run).
/// </summary>
public sealed record TaskRuntime(string Name, string Class, int Weight, long RuntimeNs)
{
    public long Wakeups { get; init; }
    public long WaitNs { get; init; }
    public long Migrations { get; init; }
}

/// <summary>
/// The metrics of one part of a run: the sched_ext part (from 0 to the first scheduler exit, or the
/// whole run) or the part after the exit, when the fair class runs the tasks. Utilisation is over the
/// part's own span; a wakeup (count and latency) belongs to the part in which it was issued.
/// </summary>
public sealed class SimPart
{
    public required long FromNs { get; init; }
    public required long ToNs { get; init; }
    public long SpanNs => ToNs - FromNs;
    public required IReadOnlyList<LatencySummary> Latency { get; init; }     // overall first, then per class
    public required double[] CpuUtilisation { get; init; }                   // per CPU, 0..1 of the span
    public double MeanUtilisation => CpuUtilisation.Length == 0 ? 0 : CpuUtilisation.Average();
    /// <summary>rq->nr_running sampled at ticks; meaningless after an exit (the model's fair class does not keep it).</summary>
    public required double RqLenMean { get; init; }
    public required int RqLenMax { get; init; }
    public required long Migrations { get; init; }
    public required long ContextSwitches { get; init; }
    public required long Preemptions { get; init; }
    public required long AffinityChanges { get; init; }
    public required long Wakeups { get; init; }
    public required double Fairness { get; init; }
    public required IReadOnlyList<(string Class, double Jain)> FairnessByClass { get; init; }
    public required IReadOnlyList<TaskRuntime> TaskRuntimes { get; init; }
    public required IReadOnlyDictionary<string, long> KernelEvents { get; init; }
}

/// <summary>
/// Everything one run measured. The metrics are those of the sched_ext part (until the first
/// scheduler exit, <see cref="ScxPartNs"/>; the whole run when there was none); what happened after
/// an exit is in <see cref="AfterExit"/>. A pure function of (workload, options).
/// </summary>
public sealed class SimResult
{
    public required string Workload { get; init; }
    public required string Policy { get; init; }
    public required string Protocol { get; init; }
    public required int Cpus { get; init; }
    public required int Tasks { get; init; }
    public required long DurationNs { get; init; }
    public required ulong Seed { get; init; }
    /// <summary>Length of the sched_ext part: the first exit's time, or <see cref="DurationNs"/>.</summary>
    public required long ScxPartNs { get; init; }
    /// <summary>The part after the first scheduler exit (fair class); null when the scheduler never exited.</summary>
    public SimPart? AfterExit { get; init; }

    public required IReadOnlyList<LatencySummary> Latency { get; init; }     // overall first, then per class
    public required double[] CpuUtilisation { get; init; }                   // per CPU, 0..1
    public double MeanUtilisation => CpuUtilisation.Length == 0 ? 0 : CpuUtilisation.Average();
    public required double RqLenMean { get; init; }                          // mean nr_running per CPU at ticks
    public required int RqLenMax { get; init; }
    public required long Migrations { get; init; }
    public required long ContextSwitches { get; init; }
    public required long Preemptions { get; init; }                          // switched out while still runnable
    public required double Fairness { get; init; }                           // Jain over runtime/weight, all live tasks
    public required IReadOnlyList<(string Class, double Jain)> FairnessByClass { get; init; }
    /// <summary>Runtime of every task, in task order.</summary>
    public required IReadOnlyList<TaskRuntime> TaskRuntimes { get; init; }
    public required IReadOnlyDictionary<string, long> KernelEvents { get; init; }
    public long DispatchesDropped => KernelEvents["DispatchDroppedQseq"] + KernelEvents["DispatchDroppedState"];
    public long Reenqueues => KernelEvents["ReenqKfunc"] + KernelEvents["ReenqImmed"] + KernelEvents["FallbackReenq"];
    public long FallbackDsqUses => KernelEvents["FallbackDsqUse"];
    public long FallbackReenqueues => KernelEvents["FallbackReenq"];
    public required IReadOnlyList<SimExit> Exits { get; init; }
    /// <summary>
    /// Where the scheduler reached something the model does not cover (kind <c>not-modelled</c>): the model stopped it
    /// there as an exit would, so the run is <c>incomplete</c> from that time on; not a scheduler exit, not a finding.
    /// </summary>
    public SimExit? ModelLimit { get; init; }
    public long WatchdogStalls => Exits.Count(e => e.Kind == "SCX_EXIT_ERROR_STALL");
    public required IReadOnlyList<SimFinding> Findings { get; init; }
    public required long AffinityChanges { get; init; }
    public required long Wakeups { get; init; }

    public required long Steps { get; init; }                                // model steps
    public required long EngineEvents { get; init; }                         // events popped from the queue
    public required double WallSeconds { get; init; }
    public double EventsPerSecond => WallSeconds > 0 ? (Steps + EngineEvents) / WallSeconds : 0;

    /// <summary>Overall latency histogram of the sched_ext part (for CDF plots).</summary>
    public required LongHistogram LatencyHistogram { get; init; }
    /// <summary>Per-CPU utilisation over time, the whole run (an exit shows in it): [cpu][bucket], 0..1; bucket width = DurationNs / buckets.</summary>
    public required double[][] UtilisationSeries { get; init; }
}
