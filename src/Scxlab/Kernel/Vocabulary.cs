namespace Scxlab.Kernel;

/// <summary>The low two bits of <c>p->scx.ops_state</c> (kernel enum <c>scx_ops_state</c>).</summary>
/// <remarks>
/// Who owns the task in each state (ext_internal.h, V-B):
/// <code>
///   NONE ──T1──▶ QUEUEING|q ──T2──▶ QUEUED|q ──T4──▶ DISPATCHING ──T6──▶ NONE
///    ▲              │ T3 (direct dispatch)   │ T5 (ops_dequeue)
///    └──────────────┴────────────────────────┘
///   NONE: the kernel owns it.  QUEUEING: being handed to ops.enqueue (rq lock held).
///   QUEUED: the BPF scheduler owns this instance, branded with qseq q.
///   DISPATCHING: a CPU won the T4 compare-exchange and is moving it (qseq bits zero).
/// </code>
/// There is no DISPATCHING → QUEUED edge upstream; the <c>qseq-invalidate</c> variant adds one.
/// </remarks>
public enum OpsState : long
{
    None = 0,
    Queueing = 1,
    Queued = 2,
    Dispatching = 3,
}

/// <summary>ops_state word helpers: <c>SCX_OPSS_STATE_MASK</c>, <c>SCX_OPSS_QSEQ_SHIFT</c>.</summary>
public static class OpsWord
{
    public const int QseqShift = 2;
    public const long StateMask = 3;
    public static OpsState State(long word) => (OpsState)(word & StateMask);
    public static long Qseq(long word) => word & ~StateMask;
    public static long Make(OpsState s, long qseq) => qseq | (long)s;
    public static string Format(long word) => State(word) switch
    {
        OpsState.None => "NONE",
        OpsState.Queueing => $"QUEUEING|q{Qseq(word) >> QseqShift}",
        OpsState.Queued => $"QUEUED|q{Qseq(word) >> QseqShift}",
        OpsState.Dispatching => "DISPATCHING",
        _ => throw new System.Diagnostics.UnreachableException("ops_state has two bits"),
    };
}

/// <summary>DSQ ids (include/linux/sched/ext.h): bit 63 marks built-ins, bit 62 LOCAL_ON with the CPU in the low 32 bits.</summary>
public static class DsqId
{
    public const ulong FlagBuiltin = 1UL << 63;
    public const ulong FlagLocalOn = 1UL << 62;
    public const ulong LocalCpuMask = 0xffffffffUL;
    public const ulong Invalid = FlagBuiltin | 0;
    public const ulong Global = FlagBuiltin | 1;
    public const ulong Local = FlagBuiltin | 2;
    public const ulong Bypass = FlagBuiltin | 3;
    public static ulong LocalOn(int cpu) => FlagBuiltin | FlagLocalOn | (uint)cpu;
    public static bool IsBuiltin(ulong id) => (id & FlagBuiltin) != 0;
    public static bool IsLocalOn(ulong id) => (id & (FlagBuiltin | FlagLocalOn)) == (FlagBuiltin | FlagLocalOn);

    public static string Name(ulong id) => id switch
    {
        Invalid => "SCX_DSQ_INVALID",
        Global => "SCX_DSQ_GLOBAL",
        Local => "SCX_DSQ_LOCAL",
        Bypass => "SCX_DSQ_BYPASS",
        _ when IsLocalOn(id) => $"SCX_DSQ_LOCAL_ON|{id & LocalCpuMask}",
        _ => $"0x{id:x}",
    };
}

/// <summary><c>enum scx_enq_flags</c> (V-B values).</summary>
[Flags]
public enum EnqFlags : long
{
    None = 0,
    Wakeup = 1L << 0,        // SCX_ENQ_WAKEUP (ENQUEUE_WAKEUP)
    Head = 1L << 4,          // SCX_ENQ_HEAD
    CpuSelected = 1L << 10,  // SCX_ENQ_CPU_SELECTED
    Preempt = 1L << 32,      // SCX_ENQ_PREEMPT
    Immed = 1L << 33,        // SCX_ENQ_IMMED (7.1)
    Reenq = 1L << 40,        // SCX_ENQ_REENQ
    Last = 1L << 41,         // SCX_ENQ_LAST
    ClearOpss = 1L << 56,    // SCX_ENQ_CLEAR_OPSS (internal)
    DsqPriq = 1L << 57,      // SCX_ENQ_DSQ_PRIQ (internal)
    Nested = 1L << 58,       // SCX_ENQ_NESTED (internal)
    GdsqFallback = 1L << 59, // SCX_ENQ_GDSQ_FALLBACK (internal, 7.1)
}

/// <summary><c>enum scx_deq_flags</c>.</summary>
[Flags]
public enum DeqFlags : long
{
    None = 0,
    Sleep = 1L << 0,            // SCX_DEQ_SLEEP (DEQUEUE_SLEEP)
    CoreSchedExec = 1L << 32,   // SCX_DEQ_CORE_SCHED_EXEC
    SchedChange = 1L << 33,     // SCX_DEQ_SCHED_CHANGE (7.0, commit ebf1ccff79c4)
}

/// <summary><c>enum scx_kick_flags</c>.</summary>
[Flags]
public enum KickFlags : long
{
    None = 0,
    Idle = 1L << 0,
    Preempt = 1L << 1,
    Wait = 1L << 2,
}

/// <summary>Bits of <c>p->scx.flags</c> the model carries.</summary>
[Flags]
public enum TaskFlags
{
    None = 0,
    Queued = 1 << 0,            // SCX_TASK_QUEUED
    ResetRunnableAt = 1 << 2,   // SCX_TASK_RESET_RUNNABLE_AT
    DeqdForSleep = 1 << 3,      // SCX_TASK_DEQD_FOR_SLEEP
    InCustody = 1 << 4,         // SCX_TASK_IN_CUSTODY (V-B)
    /// <summary>
    /// SCX_TASK_IMMED (7.1): inserted into a local DSQ with SCX_ENQ_IMMED. Set by dsq_inc_nr(), cleared only by the next
    /// fresh do_enqueue_task(), so it stays on while the task runs and across an internal move.
    /// </summary>
    Immed = 1 << 5,
    // v7.1: bits 12-13 carry the reenqueue reason while ops.enqueue runs for a re-enqueue.
    ReenqKfunc = 1 << 12,       // SCX_TASK_REENQ_KFUNC: scx_bpf_dsq_reenq() and friends
    ReenqImmed = 2 << 12,       // SCX_TASK_REENQ_IMMED: an IMMED task found its CPU busy
#pragma warning disable CA1069 // the kernel's last reason value is all of the reason field's bits
    ReenqPreempted = 3 << 12,   // SCX_TASK_REENQ_PREEMPTED: a running IMMED task preempted by a higher class
    ReenqReasonMask = 3 << 12,  // SCX_TASK_REENQ_REASON_MASK (REENQ_REASON_BITS = 2)
#pragma warning restore CA1069
}

/// <summary><c>enum scx_exit_kind</c>.</summary>
public enum ExitKind
{
    None = 0,
    Done = 1,
    Unreg = 64,
    UnregBpf = 65,
    UnregKern = 66,
    SysRq = 67,
    Error = 1024,
    ErrorBpf = 1025,
    ErrorStall = 1026,
}

public static class ExitKinds
{
    public static string KernelName(ExitKind k) => k switch
    {
        ExitKind.None => "SCX_EXIT_NONE",
        ExitKind.Done => "SCX_EXIT_DONE",
        ExitKind.Unreg => "SCX_EXIT_UNREG",
        ExitKind.UnregBpf => "SCX_EXIT_UNREG_BPF",
        ExitKind.UnregKern => "SCX_EXIT_UNREG_KERN",
        ExitKind.SysRq => "SCX_EXIT_SYSRQ",
        ExitKind.Error => "SCX_EXIT_ERROR",
        ExitKind.ErrorBpf => "SCX_EXIT_ERROR_BPF",
        ExitKind.ErrorStall => "SCX_EXIT_ERROR_STALL",
        _ => throw new System.Diagnostics.UnreachableException($"exit kind {(int)k}"),
    };

    /// <summary>The reason string scx_exit_reason() prints.</summary>
    public static string Reason(ExitKind k) => k switch
    {
        ExitKind.Unreg => "unregistered from user space",
        ExitKind.UnregBpf => "unregistered from BPF",
        ExitKind.UnregKern => "unregistered from the main kernel",
        ExitKind.SysRq => "disabled by sysrq-S",
        ExitKind.Error => "runtime error",
        ExitKind.ErrorBpf => "scx_bpf_error",
        ExitKind.ErrorStall => "runnable task stall",
        _ => "<UNKNOWN>",
    };

    public static bool IsError(ExitKind k) => k >= ExitKind.Error;
}

/// <summary>Scheduling constants (include/linux/sched/ext.h, ext.c).</summary>
public static class ScxConst
{
    public const long SliceDfl = 20_000_000;        // SCX_SLICE_DFL, 20 ms
    public const long SliceBypass = 5_000_000;      // SCX_SLICE_BYPASS, 5 ms
    public const long SliceInf = long.MaxValue;     // SCX_SLICE_INF (U64_MAX)
    public const int DspDflMaxBatch = 32;           // SCX_DSP_DFL_MAX_BATCH
    public const int DspMaxLoops = 32;              // SCX_DSP_MAX_LOOPS
    public const long WatchdogMaxTimeoutNs = 30_000_000_000; // SCX_WATCHDOG_MAX_TIMEOUT
    public const int WeightDfl = 100;
    public const int MaxCpus = 256;
}

/// <summary>Nice levels and load weights (kernel/sched/core.c, sched.h), and the cgroup scale p->scx.weight uses.</summary>
public static class NiceWeights
{
    /// <summary>sched_prio_to_weight[]: the load weight of nice -20..19.</summary>
    public static readonly int[] PrioToWeight =
    [
        88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
        9548, 7620, 6100, 4904, 3906, 3121, 2501, 1991, 1586, 1277,
        1024, 820, 655, 526, 423, 335, 272, 215, 172, 137,
        110, 87, 70, 56, 45, 36, 29, 23, 18, 15,
    ];

    /// <summary>WEIGHT_IDLEPRIO: the load weight of every SCHED_IDLE task, whatever its nice.</summary>
    public const int WeightIdlePrio = 3;

    /// <summary>sched_weight_to_cgroup(): the load weight on the cgroup scale (nice 0 → 100), rounded to the closest, 1..10000.</summary>
    public static int SchedWeightToCgroup(int weight) => (int)Math.Clamp((weight * 100L + 512) / 1024, 1, 10000);

    /// <summary>p->static_prio (120 + nice) of a task whose p->scx.weight is <paramref name="scxWeight"/>, or null when no nice level, or two, give it.</summary>
    public static int? StaticPrioOfScxWeight(int scxWeight)
    {
        int? found = null;
        for (var i = 0; i < PrioToWeight.Length; i++)
        {
            if (SchedWeightToCgroup(PrioToWeight[i]) != scxWeight) continue;
            if (found != null) return null; // two nice levels round to this weight
            found = 100 + i;
        }
        return found;
    }
}

/// <summary>Which sched_ext kernel-side protocol the paths follow (reference §4.4–§4.6).</summary>
public enum Protocol
{
    /// <summary>Today's kernel (V-B): disallowed LOCAL_ON target → scx_error + global DSQ.</summary>
    Upstream,
    /// <summary>v1: affinity generation checked at finish; stale or disallowed dispatch reverted to QUEUED.</summary>
    QseqInvalidate,
    /// <summary>v2: disallowed target parked on a per-rq fallback DSQ, drained from balance with SCX_ENQ_REENQ.</summary>
    FallbackDsq,
    /// <summary>Cookie: scx_bpf_task_get_cookie + scx_bpf_dsq_insert_cookie checked at insert and finish.</summary>
    Cookie,
    /// <summary>ghOSt's commit protocol: per-task barriers bumped by every task message, synchronous transaction commit validated against the agent's barrier (TARGET_STALE), no cpumask test on commit.</summary>
    Ghost,
}

/// <summary>
/// Final states of a ghOSt transaction (<c>GHOST_TXN_*</c>, ghost.h ABI v91) that the model's
/// commit can produce.
/// </summary>
public enum GhostTxnState
{
    Complete = 0,          // GHOST_TXN_COMPLETE
    TargetStale = 1,       // GHOST_TXN_TARGET_STALE: the task's barrier moved since the agent read it
    TargetNotRunnable = 2, // GHOST_TXN_TARGET_NOT_RUNNABLE
    TargetOnCpu = 3,       // GHOST_TXN_TARGET_ONCPU
    InvalidCpu = 4,        // GHOST_TXN_INVALID_CPU
    TargetNotFound = 5,    // GHOST_TXN_TARGET_NOT_FOUND
}

/// <summary>Names and one-line descriptions of the protocols, for the CLI and reports.</summary>
public static class Protocols
{
    public static IReadOnlyList<(Protocol Protocol, string Name, string Description)> All { get; } =
    [
        (Protocol.Upstream, "upstream", "today's kernel (7.1): a disallowed SCX_DSQ_LOCAL_ON target raises scx_error and parks the task on the global DSQ"),
        (Protocol.QseqInvalidate, "qseq-invalidate", "v1: affinity changes invalidate pending dispatches; a stale or disallowed dispatch is dropped back to QUEUED, no ops.enqueue"),
        (Protocol.FallbackDsq, "fallback-dsq", "v2: a disallowed target goes to a per-rq fallback DSQ that balance drains with SCX_ENQ_REENQ"),
        (Protocol.Cookie, "cookie", "scx_bpf_task_get_cookie()/scx_bpf_dsq_insert_cookie(): the decider's qseq checked at insert and at finish"),
        (Protocol.Ghost, "ghost", "ghOSt: task barriers bumped by every task message, synchronous commit rejected with TARGET_STALE"),
    ];

    public static string Name(Protocol p) => All.First(x => x.Protocol == p).Name;

    public static bool TryParse(string name, out Protocol protocol)
    {
        foreach (var x in All)
        {
            if (!string.Equals(x.Name, name, StringComparison.OrdinalIgnoreCase)) continue;
            protocol = x.Protocol;
            return true;
        }
        protocol = default;
        return false;
    }
}
