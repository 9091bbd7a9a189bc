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

/// <param name="ActsForCpuCurrent">
/// The actor's actions are work its CPU does for the task running there: a syscall that task makes, or a timer interrupt
/// taking that CPU (the simulator's syscallN/timerN actors). Then `current`, as a BPF program sees it, is that CPU's
/// current task (its idle task when idle). A scenario's scripted actor (a taskset, a renice) is a process the model does
/// not have: false.
/// </param>
public sealed record ScriptSpec(string Name, int Cpu, IReadOnlyList<ScriptAction> Actions, bool ActsForCpuCurrent = false);

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

/// <summary>
/// The kernel release whose ext.c the model follows where releases differ (docs/eras.md). Each era is a
/// set of points of variation in the same paths, named after the commit that introduced it.
/// </summary>
public enum KernelEra
{
    /// <summary>7.1: dispatch_to_local_dsq() checks the target before releasing DISPATCHING, under the dispatching rq lock only.</summary>
    V7_1,
    /// <summary>7.2: the target check runs after the switch to the task's rq lock (holding_cpu reset, global fallback).</summary>
    V7_2,
    /// <summary>7.3: 7de9a6fb, the reenqueue paths wait out DISPATCHING (observable through the fallback-dsq drain; docs/eras.md).</summary>
    V7_3,
}

/// <summary>Era names as the CLI and scenario files spell them.</summary>
public static class KernelEras
{
    public static IReadOnlyList<(KernelEra Era, string Name)> All { get; } = [(KernelEra.V7_1, "7.1"), (KernelEra.V7_2, "7.2"), (KernelEra.V7_3, "7.3")];
    public static string Name(KernelEra e) => All.First(x => x.Era == e).Name;
    public static string Expected => string.Join(" | ", All.Select(x => x.Name));

    public static bool TryParse(string name, out KernelEra era)
    {
        foreach (var x in All)
            if (x.Name == name) { era = x.Era; return true; }
        era = default;
        return false;
    }

    /// <summary>dispatch_to_local_dsq() runs task_can_run_on_remote_rq(enforce) under the task's rq lock, after releasing DISPATCHING (7.2+).</summary>
    public static bool ChecksTargetUnderTaskRqLock(this KernelEra e) => e >= KernelEra.V7_2;

    /// <summary>7de9a6fb: reenq_local() waits out SCX_OPSS_DISPATCHING before taking a task off the DSQ (7.3+).</summary>
    public static bool ReenqWaitsOutDispatching(this KernelEra e) => e >= KernelEra.V7_3;
}

/// <summary>Everything that is fixed for a run: the machine, the tasks, the policy, the protocol and the scripts.</summary>
/// <summary>
/// Where balance_one() drains the per-rq fallback DSQ (v2), and whether the drain skips a task whose
/// migration is pending as reenq_local() does.
/// </summary>
/// <param name="BeforeKeepPrev">
/// Drain before the keep-prev test (<c>SCX_RQ_BAL_KEEP</c>) instead of after it. Default false: the drain sits
/// where the kernel looks for new work, after keeping a previous task that still has slice.
/// </param>
/// <param name="SkipMigrationPending">
/// Skip tasks with <c>p->migration_pending</c>, as reenq_local() does (the stopper is about to move them).
/// Default true: v2 describes the drain as reenq_local()'s re-enqueue with SCX_ENQ_REENQ.
/// </param>
public readonly record struct FallbackDrainChoices(bool BeforeKeepPrev, bool SkipMigrationPending)
{
    public static FallbackDrainChoices Default => new(BeforeKeepPrev: false, SkipMigrationPending: true);
}

public sealed class ModelConfig
{
    public required int CpuCount { get; init; }
    public required IReadOnlyList<TaskSpec> Tasks { get; init; }
    public required Func<ScxOps> PolicyFactory { get; init; }
    public string PolicyName { get; init; } = "";
    public Protocol Protocol { get; init; } = Protocol.Upstream;
    /// <summary>Step granularity (see <see cref="Kernel.Granularity"/>); fine is for cross-checking normal.</summary>
    public Granularity Granularity { get; init; } = Granularity.Normal;

    /// <summary>
    /// The fallback-dsq (v2) choices the thread leaves open (the patch body was not published); only read
    /// under <see cref="Protocol.FallbackDsq"/>. docs/protocols.md says what each means and which test shows
    /// the verdicts do not depend on them.
    /// </summary>
    public FallbackDrainChoices FallbackDrain { get; init; } = FallbackDrainChoices.Default;
    /// <summary>The kernel release whose behaviour the paths follow where releases differ.</summary>
    public KernelEra Kernel { get; init; } = KernelEra.V7_1;
    /// <summary>Scheduling rounds (balance_one + pick) per CPU; -1 = unbounded (simulation).</summary>
    public IReadOnlyList<int> Rounds { get; init; } = [];
    public IReadOnlyList<ScriptSpec> Scripts { get; init; } = [];
    /// <summary>Maximum kfunc calls one callback invocation may make before the scheduler is ended.</summary>
    public int CallBudget { get; init; } = DefaultCallBudget;
    public const int DefaultCallBudget = 256;
    /// <summary>
    /// How many times each BPF timer may fire in an exploration (a periodic timer re-arms itself forever,
    /// so firings are bounded as dispatch rounds are; docs/bpf.md). The liveness drain is not bounded by it.
    /// </summary>
    public int TimerFires { get; init; } = DefaultTimerFires;
    public const int DefaultTimerFires = 1;
    /// <summary>
    /// User DSQs that can exist at once (each is a slot in every state). The kernel has no such limit; a
    /// scx_bpf_create_dsq() past it ends the run with a message naming the model's limit (not a kernel error).
    /// </summary>
    public int MaxUserDsqs { get; init; } = DefaultMaxUserDsqs;
    public const int DefaultMaxUserDsqs = 8;
    /// <summary>
    /// struct bpf_cpumask objects a BPF object may hold at once (each a slot in every state); null: 16 + 2 per task +
    /// 4 per CPU. A bpf_cpumask_create() past it ends the run naming the model's limit (the kernel's allocator has none).
    /// </summary>
    public int? MaxBpfCpumasks { get; init; }
    /// <summary>
    /// Pages of a BPF arena the world backs at once (each a slot of 4 KiB in every state): the pages allocated and the
    /// global pages written. An allocation or a first write past it ends the run naming the model's limit.
    /// </summary>
    public int MaxArenaPages { get; init; } = DefaultArenaPages;
    public const int DefaultArenaPages = 8;
    /// <summary>
    /// Elements of each BPF hash map the world backs (at most the kernel's preallocated max_entries, plus one per CPU
    /// for a plain hash). An update that needs one more ends the run naming the model's limit.
    /// </summary>
    public int MaxHashElems { get; init; } = DefaultHashElems;
    public const int DefaultHashElems = 256;
    /// <summary>
    /// struct bpf_timer instances of a BPF object that get an actor (each one more actor in every interleaving): a
    /// bpf_timer_init() of another ends the run naming the model's limit, rather than leave a timer that never fires.
    /// </summary>
    public int MaxBpfTimers { get; init; } = DefaultBpfTimers;
    public const int DefaultBpfTimers = 8;
    public int MaxFrameDepth { get; init; } = 24;
    /// <summary>Virtual ns one tick charges to the running task (1/HZ, HZ=250) when the run is not clocked.</summary>
    public long TickNs { get; init; } = DefaultTickNs;
    public const long DefaultTickNs = 4_000_000;
    /// <summary>
    /// The rq clock (<c>SchedState.Clock</c>, what <c>scx_bpf_now()</c> and <c>bpf_ktime_get_ns()</c> read) when the
    /// scheduler attaches: 100 s after boot. A kernel's clocks count from boot and a scheduler is loaded well after it,
    /// so a program comparing a zero-initialised timestamp with now (scx_pair's "has this batch expired?") sees a long
    /// time gone by, never 0 − 0. Exploration keeps the clock here; the simulator's clock is this plus its time.
    /// </summary>
    public const long AttachClockNs = 100_000_000_000;

    /// <summary>
    /// The driver advances <c>SchedState.Clock</c> (the simulator): runtime is charged as the kernel's
    /// update_curr_scx() does, the clock time since <c>exec_start</c>, at every tick, balance_one(),
    /// put_prev_task_scx() and dequeue of the running task. Unclocked (exploration: the clock stays at
    /// <see cref="AttachClockNs"/>), a tick
    /// charges <see cref="TickNs"/> and nothing else charges runtime.
    /// </summary>
    public bool Clocked { get; init; }
    /// <summary>Watchdog timeout overriding ops.timeout_ms (clocked drivers); null = the policy's, else SCX_WATCHDOG_MAX_TIMEOUT.</summary>
    public long? WatchdogTimeoutNs { get; init; }

    /// <summary>
    /// A BPF object's callbacks go on from a checkpoint of the interpreter where the last step stopped (true), or are
    /// replayed from their first instruction at every step (false: slower, the same states; for cross-checks).
    /// The environment variable <c>SCXLAB_BPF_CHECKPOINTS=0</c> makes false the default.
    /// </summary>
    public bool BpfCheckpoints { get => _bpfCheckpoints; init => _bpfCheckpoints = value; }
    private bool _bpfCheckpoints = Environment.GetEnvironmentVariable("SCXLAB_BPF_CHECKPOINTS") != "0";

    /// <summary>
    /// Recorded calls from which a BPF callback's step looks a checkpoint up instead of replaying (a short prefix
    /// replays faster). The cross-checks set 1: every step that can resume does.
    /// </summary>
    internal int BpfCheckpointMinCalls { get; private set; } = BpfObject.Interpreter.MinCallsToResume;

    /// <summary>This configuration with <see cref="BpfCheckpoints"/> set to <paramref name="on"/> (and, for tests, the calls from which steps resume).</summary>
    public ModelConfig WithBpfCheckpoints(bool on, int? minCalls = null)
    {
        var c = (ModelConfig)MemberwiseClone();
        c._bpfCheckpoints = on;
        if (minCalls is { } n) c.BpfCheckpointMinCalls = Math.Max(1, n);
        return c;
    }
}
