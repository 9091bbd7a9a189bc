using System.Runtime.InteropServices;

namespace Scxlab.Stepping;

/// <summary>What an actor's top frame waits for before its next step can run (the step's guard).</summary>
public enum WaitKind : byte
{
    None = 0,
    /// <summary>raw_spin_rq_lock(cpu): acquired at the start of the step.</summary>
    RqLock,
    /// <summary>raw_spin_lock(&amp;dsq->lock): acquired at the start of the step.</summary>
    DsqLock,
    /// <summary>raw_spin_lock(&amp;p->pi_lock): acquired at the start of the step.</summary>
    PiLock,
    /// <summary>wait_ops_state(): spin while p->scx.ops_state still equals WaitWord.</summary>
    OpsStateChange,
    /// <summary>bpf_spin_lock(): acquired at the start of the step.</summary>
    BpfSpinLock,
    /// <summary>SCX_KICK_WAIT: spin until the target CPU's kick_sync moves past WaitWord.</summary>
    KickSync,
    /// <summary>task_rq_lock()'s retry: wait until task_on_rq_migrating(p) is false.</summary>
    TaskNotMigrating,
    /// <summary>
    /// affine_move_task()'s wait_for_completion(&amp;pending->done): sleep until the stopper queued on CPU
    /// WaitArg for task WaitWord has run (neither pending nor still naming that task).
    /// </summary>
    StopperDone,
    /// <summary>
    /// A BPF program spinning on a word of shared memory (a spin lock written in BPF: scx's arena qspinlock, a
    /// cond_break loop): its last read (the last entry of its log) came back to the same program state as the read
    /// before it, so every further iteration is a step that changes nothing. It waits until the word (map WaitArg,
    /// low 30 bits; an arena read when bit 30 is set; the read's key in WaitWord) differs from the value it last read;
    /// then that read is dropped and made again (Machine.Step).
    /// </summary>
    BpfSpinRead,
}

/// <summary>
/// One activation record of a kernel path or a policy callback. An actor's position is a
/// stack of these; everything a path carries across an interleaving point lives here.
/// </summary>
/// <remarks>
/// <see cref="Pc"/> holds the path's resume point: each path declares an enum named for the kernel
/// statement where a step resumes (e.g. <c>FinishDispatchAt.AfterClaim</c>) and switches on it.
/// <see cref="Task"/>, <see cref="Cpu"/> and <see cref="Dsq"/> are the arguments every path shares (the
/// checks read <see cref="Task"/> to see which task a path carries). A path's other locals live in the
/// register block from <see cref="L0"/> to <see cref="I2"/> (36 bytes, 8-aligned), read through a
/// typed view: <c>ref var fd = ref f.Locals&lt;FinishDispatchLocals&gt;()</c>. The view is a
/// reinterpretation of the same bytes, so copying, hashing and comparing frames are unchanged and it
/// costs nothing on the hot path.
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
public struct Frame
{
    public PathId Path;
    public int Pc;
    public int Task;
    public int Cpu;
    public int Dsq;
    public int WaitArg;
    // The register block (typed views overlay it from L0): keep L0 8-aligned and the block contiguous.
    public long L0, L1, L2;
    public int I0, I1, I2;
    public WaitKind Wait;
    public long WaitWord;
    /// <summary>Policy callback frames: where this callback's recorded kfunc results start in the actor's log.</summary>
    public int LogStart;
}

/// <summary>Per-actor position data besides the frame stack.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ActorState
{
    public int Depth;
    public int LogLen;
    public int ScriptPc;
    public int RoundsLeft;
    public int TicksLeft;
    public long Ret;               // return register: set by a returning frame, read by its caller
    public int DdspMarker;         // direct_dispatch_task: task+1, 0 = NULL, -1 = ERR_PTR (already dispatched)
    public bool Done;
}

/// <summary>Every kernel path and the policy-callback frame kind. Names follow ext.c and core.c.</summary>
public enum PathId : byte
{
    None = 0,
    // CPU actor
    Schedule,                 // __schedule(): put_prev/pick/set_next around balance_one
    BalanceOne,               // balance_one(): the dispatch loop
    FlushDispatchBuf,         // flush_dispatch_buf()
    FinishDispatch,           // finish_dispatch()
    DispatchToLocalDsq,       // dispatch_to_local_dsq()
    MoveRemoteTaskToLocalDsq, // move_remote_task_to_local_dsq()
    ConsumeDispatchQ,         // consume_dispatch_q() / scx_bpf_dsq_move_to_local()
    DsqMove,                  // scx_bpf_dsq_move() from an iterator
    GhostCommit,              // ghOSt: _ghost_commit_txn() (ghost protocol only)
    ReenqueueLocal,           // scx_bpf_reenqueue_local() / deferred dsq_reenq
    ReenqueueUser,            // process_deferred_reenq_users() / reenq_user(): deferred dsq_reenq of user DSQs
    TaskTick,                 // task_tick_scx()
    KickCpusIrqWork,          // kick_cpus_irq_workfn()
    ProcessDdspDeferredLocals,// process_ddsp_deferred_locals()
    PutPrevTask,              // put_prev_task_scx()
    SetNextTask,              // set_next_task_scx()
    // shared task paths
    EnqueueTask,              // enqueue_task_scx()
    DoEnqueueTask,            // do_enqueue_task()
    DirectDispatch,           // direct_dispatch()
    DequeueTask,              // dequeue_task_scx()
    OpsDequeue,               // ops_dequeue()
    DispatchDequeue,          // dispatch_dequeue()
    DispatchEnqueue,          // dispatch_enqueue()
    // syscalls and external events
    SetCpusAllowed,           // __set_cpus_allowed_ptr() → set_cpus_allowed_scx()
    SetWeight,                // set_user_nice()/sched_setattr() → reweight_task_scx()
    Wakeup,                   // try_to_wake_up() → select_task_rq_scx() + enqueue
    MigrateQueued,            // move_queued_task() after an affinity change
    MigrationCpuStop,         // migration_cpu_stop(): the stopper moves a running task off a CPU it may no longer use
    KickFromUser,             // an external scx_bpf_kick_cpu()-equivalent
    // helper kthread
    DisableScheduler,         // scx_disable_workfn() / scx_root_disable()
    // policy callback (replayed)
    Callback,
    // CPU actor, after its final switch away from a dead task
    SchedExtDead,             // sched_ext_dead(): scx_exit_task() → ops.disable, ops.exit_task
}

/// <summary>Typed views of a frame's register block (see <see cref="Frame"/>).</summary>
public static class FrameLocals
{
    /// <summary>Bytes a path's locals may use: L0..L2 and I0..I2.</summary>
    public const int Capacity = 3 * sizeof(long) + 3 * sizeof(int);

    /// <summary>The path-local variables of <paramref name="f"/> as <typeparamref name="T"/> (at most <see cref="Capacity"/> bytes).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static ref T Locals<T>(ref this Frame f) where T : unmanaged
    {
        if (!Fits<T>.Ok) throw new InvalidOperationException($"{typeof(T).Name} is {System.Runtime.CompilerServices.Unsafe.SizeOf<T>()} bytes; a frame's locals hold {Capacity}");
        return ref System.Runtime.CompilerServices.Unsafe.As<long, T>(ref f.L0);
    }

    private static class Fits<T> where T : unmanaged
    {
        // A static readonly the JIT folds into a constant: the check is free after the first call.
        public static readonly bool Ok = System.Runtime.CompilerServices.Unsafe.SizeOf<T>() <= Capacity;
    }
}
