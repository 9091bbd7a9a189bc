using System.Runtime.InteropServices;
using Scxlab.Kernel;

namespace Scxlab.Stepping;

/// <summary>What a task is doing from the core scheduler's point of view.</summary>
public enum RunState : byte
{
    Sleeping = 0,
    /// <summary>on_rq: runnable (queued or current).</summary>
    Runnable = 1,
    Dead = 2,
}

public enum SchedClass : byte
{
    Ext = 0,
    Fair = 1,
}

/// <summary>One task: <c>task_struct</c> fields the model needs plus <c>p->scx</c> (<c>struct sched_ext_entity</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct TaskState
{
    public long OpsState;          // p->scx.ops_state (state | qseq)
    public TaskFlags Flags;        // p->scx.flags
    public int StickyCpu;          // p->scx.sticky_cpu
    public int HoldingCpu;         // p->scx.holding_cpu
    public int Dsq;                // p->scx.dsq as a DSQ slot, -1 = NULL
    public int ListOn;             // list the dsq_list node is linked on (DSQ or deferred-locals slot), -1
    public int Next, Prev;         // dsq_list links (task indices)
    public long DsqSeq;            // p->scx.dsq_seq
    public long DsqVtime;          // p->scx.dsq_vtime
    public long Slice;             // p->scx.slice
    public int Weight;             // p->scx.weight
    public int Cpu;                // task_cpu(p)
    public CpuMask CpusPtr;        // p->cpus_ptr
    public long RunnableAt;        // p->scx.runnable_at (virtual ns)
    public long RunnableOrder;     // position on rq->scx.runnable_list (ordering key), 0 = not on it
    public ulong DdspDsqId;        // p->scx.ddsp_dsq_id
    public long DdspEnqFlags;      // p->scx.ddsp_enq_flags
    public long AffinityGen;       // qseq-invalidate: bumped by every affinity change
    public long Barrier;           // ghost: the status-word barrier, bumped by every task message
    public long Runtime;           // p->se.sum_exec_runtime (virtual ns)
    public long ExecStart;         // p->se.exec_start: clock of the last runtime charge (clocked runs; 0 in exploration)
    public int SelectedCpu;        // p->scx.selected_cpu
    public int PiLock;             // owner actor, -1
    public int Nvcsw, Nivcsw;      // p->nvcsw, p->nivcsw: counted only when the policy reads them (ScxOps.CountsContextSwitches)
    public RunState Run;
    public SchedClass Class;
    public bool MigrationDisabled;
    public bool Migrating;         // task_on_rq_migrating(p)
    public bool OnPriq;            // SCX_TASK_DSQ_ON_PRIQ
    public bool Exiting;           // PF_EXITING
    public bool WantsSleep;        // the task will block at its next schedule-out
    public bool FairQueued;        // runnable in the fair class (after the scheduler was disabled)
}

[Flags]
public enum RqFlags
{
    None = 0,
    Online = 1 << 0,        // SCX_RQ_ONLINE
    BalKeep = 1 << 2,       // SCX_RQ_BAL_KEEP
    InWakeup = 1 << 4,      // SCX_RQ_IN_WAKEUP
    InBalance = 1 << 5,     // SCX_RQ_IN_BALANCE
}

/// <summary>One CPU: its <c>struct rq</c> lock, current task and <c>rq->scx</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct CpuState
{
    public int RqLock;             // owner actor, -1 = free
    public int Curr;               // rq->curr as a task, -1 = idle
    public RqFlags Flags;
    public long OpsQseq;           // rq->scx.ops_qseq
    public int NrRunning;
    public int DspCursor;          // scx_dsp_ctx.cursor
    public int DspNrTasks;         // scx_dsp_ctx.nr_tasks
    public long KickSync;          // rq->scx.kick_sync
    public CpuMask CpusToKick, CpusToKickIfIdle, CpusToPreempt, CpusToWait;
    public bool NeedResched;       // TIF_NEED_RESCHED on curr
    public bool KickIrqWork;       // kick_cpus_irq_work queued on this CPU
    public bool DeferredLocals;    // deferred ddsp work queued for this rq
    public bool Idle;              // in the built-in idle cpumask
    public bool CpuReleased;       // rq->scx.cpu_released
    public int ReenqRequested;     // 7.1 deferred reenq of the local DSQ requested: ReenqRequest bits (the request's reenq_flags)
    public int NrImmed;            // 7.1 rq->scx.nr_immed: SCX_TASK_IMMED tasks linked on the local DSQ
    /// <summary>
    /// deferred_reenq_local's cnt: passes in a row whose re-enqueues queued another pass (the kernel runs them in one
    /// run_deferred(); the model from one __schedule() to the next). Past SCX_REENQ_LOCAL_MAX_REPEAT, scx_error.
    /// </summary>
    public int ReenqRepeats;
    /// <summary>
    /// rq->next_class as 7.1's rq_is_open() reads it: the class of the task the last pick chose (the stopper's when it
    /// preempted), raised by a wakeup onto this rq (wakeup_preempt()), never lowered but by a pick.
    /// </summary>
    public NextClass NextClass;
    public ulong ReenqUsers;       // 7.1 rq->scx.deferred_reenq_users: bit i = user DSQ slot i has a request on this rq
    public CpuMask CpusToSync;     // rq->scx.cpus_to_sync (KICK_WAIT targets)
    public bool KickSyncPending;   // rq->scx.kick_sync_pending
    public bool KickWaiting;       // in kick_sync_wait_bal_cb (spinning; its own kick_sync keeps moving)
    public bool StopperPending;    // migration_cpu_stop queued on this CPU's stopper
    public int StopperTask;        // the running task it must move off this CPU
    public int StopperDest;        // its migration_arg's dest_cpu (pending->arg.dest_cpu); 0 when there is none
    /// <summary>
    /// This CPU's <c>distribute_cpu_mask_prev</c>: the rotor of <c>cpumask_any[_and]_distribute()</c>, which
    /// scx_pick_idle_cpu(), scx_bpf_pick_any_cpu() and the bpf_cpumask_any*_distribute() kfuncs advance on the
    /// CPU that runs them (per-CPU kernel memory; 0 at boot, so the first pick skips CPU 0).
    /// </summary>
    public int DistributePrev;
}

/// <summary>Where rq->next_class stands against ext_sched_class (stop > dl > rt > fair > ext > idle).</summary>
public enum NextClass : byte
{
    /// <summary>The idle class: below ext.</summary>
    BelowExt = 0,
    Ext = 1,
    /// <summary>The fair class, or the stopper: above ext.</summary>
    AboveExt = 2,
}

/// <summary>One dispatch queue, or another list that uses the dsq_list node (ddsp_deferred_locals).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DsqState
{
    public ulong Id;
    public int Head, Tail, Nr;
    public long Seq;               // dsq->seq
    public int Lock;               // owner actor, -1 (unused for local DSQs: they use the rq lock)
    public int PriqCount;          // tasks linked with ON_PRIQ
    public bool Created;
    public bool Destroyed;
}

/// <summary>An entry of the per-CPU dispatch buffer (<c>struct scx_dsp_buf_ent</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DspEntry
{
    public int Task;
    public long Qseq;
    public ulong DsqId;
    public long EnqFlags;
    public long Cookie;            // cookie variant: the decider's token (0 = none)
    public long AffinityGen;       // qseq-invalidate variant: generation seen at insert
}

/// <summary>Scheduler-instance state (<c>struct scx_sched</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SchedState
{
    public ExitKind ExitKind;
    public long ExitCode;
    public bool Aborting;
    public bool Disabled;          // the helper finished scx_disable_workfn
    public bool WarnedZeroSlice;   // sch->warned_zero_slice: the pick-time zero-slice warning was printed
    /// <summary>
    /// Not kernel state: the exit above was raised because the scheduler reached something the model does not cover
    /// (<see cref="Scxlab.Kernel.Machine.ModelLimit"/>), so it is no outcome of the scheduler and no verdict rests on it.
    /// </summary>
    public bool ModelLimit;
    public int BypassDepth;
    public long Clock;             // virtual ns (simulator); 0 in exploration
    public ulong Rng;              // bpf_get_prandom_u32 state
    public long RunnableSeq;       // source of RunnableOrder
    public int ExitCpu;            // CPU/actor that claimed the exit
}
