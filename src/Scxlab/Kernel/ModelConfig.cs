using Scxlab.Bpf;
using Scxlab.Stepping;

namespace Scxlab.Kernel;

/// <summary>How a task starts.</summary>
public enum InitialTaskState
{
    /// <summary>Runnable and enqueued through ops.enqueue at start (the policy's maps hold it).</summary>
    Queued,
    /// <summary>Running on its CPU.</summary>
    Running,
    /// <summary>Blocked; a script can wake it.</summary>
    Sleeping,
}

public sealed record TaskSpec(string Name, int Pid, CpuMask Allowed, int Cpu, InitialTaskState State, int Weight = ScxConst.WeightDfl, long Slice = ScxConst.SliceDfl, bool MigrationDisabled = false);

public enum ActionKind
{
    SetAffinity,
    Wake,
    Sleep,
    Exit,
    SetWeight,
    Kick,
    Tick,
}

/// <summary>One scripted external event (a syscall or an interrupt) performed by a script actor.</summary>
public sealed record ScriptAction(ActionKind Kind, int Task = -1, CpuMask Mask = default, int Weight = 0, int Cpu = -1, KickFlags KickFlags = KickFlags.None)
{
    public string Describe(ModelConfig cfg) => Kind switch
    {
        ActionKind.SetAffinity => $"sched_setaffinity({cfg.Tasks[Task].Name}, {Mask})",
        ActionKind.Wake => $"wake_up_process({cfg.Tasks[Task].Name})",
        ActionKind.Sleep => $"{cfg.Tasks[Task].Name} blocks",
        ActionKind.Exit => $"{cfg.Tasks[Task].Name} exits",
        ActionKind.SetWeight => $"set weight({cfg.Tasks[Task].Name}, {Weight})",
        ActionKind.Kick => $"kick CPU{Cpu} {KickFlags}",
        ActionKind.Tick => $"tick on CPU{Cpu}",
        _ => throw new System.Diagnostics.UnreachableException(),
    };
}

public sealed record ScriptSpec(string Name, int Cpu, IReadOnlyList<ScriptAction> Actions);

/// <summary>
/// Where the model cuts steps. <see cref="Normal"/>: a step holds at most one access to a word another
/// actor reads or waits on without a lock this actor holds (Lipton's reduction: lock acquisitions move
/// right, releases move left, accesses under a held lock commute, so a step of the shape
/// acquire* · one unprotected access · release* is atomic for every observer). <see cref="Fine"/>: every
/// store to such a word (ops_state, holding_cpu, sticky_cpu, the dispatch-buffer cursor, kick and
/// resched flags) ends a step of its own, the reference that normal granularity is tested against.
/// </summary>
public enum Granularity
{
    Normal,
    Fine,
}

/// <summary>Everything that is fixed for a run: the machine, the tasks, the policy, the protocol and the scripts.</summary>
public sealed class ModelConfig
{
    public required int CpuCount { get; init; }
    public required IReadOnlyList<TaskSpec> Tasks { get; init; }
    public required Func<ScxOps> PolicyFactory { get; init; }
    public string PolicyName { get; init; } = "";
    public Protocol Protocol { get; init; } = Protocol.Upstream;
    /// <summary>Step granularity (see <see cref="Kernel.Granularity"/>); fine is for cross-checking normal.</summary>
    public Granularity Granularity { get; init; } = Granularity.Normal;
    /// <summary>Scheduling rounds (balance_one + pick) per CPU; -1 = unbounded (simulation).</summary>
    public IReadOnlyList<int> Rounds { get; init; } = [];
    public IReadOnlyList<ScriptSpec> Scripts { get; init; } = [];
    /// <summary>Maximum kfunc calls one callback invocation may make before the scheduler is ended.</summary>
    public int CallBudget { get; init; } = 256;
    public int MaxUserDsqs { get; init; } = 8;
    public int MaxFrameDepth { get; init; } = 24;
    /// <summary>Virtual ns one tick charges to the running task (1/HZ, HZ=250) when the run is not clocked.</summary>
    public long TickNs { get; init; } = 4_000_000;
    /// <summary>
    /// The driver advances <c>SchedState.Clock</c> (the simulator): runtime is charged as the kernel's
    /// update_curr_scx() does, the clock time since <c>exec_start</c>, at every tick, balance_one(),
    /// put_prev_task_scx() and dequeue of the running task. Unclocked (exploration, clock 0), a tick
    /// charges <see cref="TickNs"/> and nothing else charges runtime.
    /// </summary>
    public bool Clocked { get; init; }
    /// <summary>Watchdog timeout overriding ops.timeout_ms (clocked drivers); null = the policy's, else SCX_WATCHDOG_MAX_TIMEOUT.</summary>
    public long? WatchdogTimeoutNs { get; init; }
}
