using System.Runtime.CompilerServices;
using Scxlab.Kernel;

namespace Scxlab.Bpf;

/// <summary>Every kfunc, map operation and task-field read a policy can make; each is one interleaving point.</summary>
public enum CallKind : byte
{
    None = 0,
    TaskFromPid, TaskPid, TaskTestCpu, TaskCpu, TaskNrCpusAllowed, TaskWeight, TaskDsqVtime, TaskSlice, TaskMigrationDisabled, TaskRunning,
    DsqInsert, DsqInsertVtime, DispatchNrSlots, DispatchCancel, DsqMoveToLocal, DsqIterNext, DsqMove,
    KickCpu, DsqNrQueued, DsqPeek, CreateDsq, DestroyDsq, SelectCpuDfl, PickIdleCpu, PickAnyCpu, TestAndClearCpuIdle,
    ReenqueueLocal, DsqReenq, Error, Exit, Prandom, Now, TaskSetSlice, TaskSetDsqVtime,
    MapPush, MapPop, MapPeek, ListRemove, ListContains, HashLookup, HashUpdate, HashDelete,
    ArrayGet, ArraySet, ArrayAdd, TaskStorageGet, TaskStorageSet, SpinLock, SpinUnlock,
    CpumaskTest, CpumaskSet, CpumaskClear, TaskGetCookie, DsqInsertCookie,
    GhostTaskBarrier, GhostCommit,
    /// <summary>A BPF object's store or atomic on shared memory (a global or map value word): one interleaving point.</summary>
    MemWrite,
    /// <summary>bpf_cpumask_test_cpu() on the idle cpumask.</summary>
    CpuIdleTest,
    /// <summary>A BPF hash map's bucket operations (BpfObject): lookup, reserve an element, publish it, delete.</summary>
    BpfHashLookup, BpfHashReserve, BpfHashPublish, BpfHashDelete,
    /// <summary>bpf_printk(): a line in the trace.</summary>
    Printk,
    /// <summary>A whole cpumask read in one access (bpf_cpumask_* on p->cpus_ptr or the idle mask).</summary>
    TaskCpusMask, IdleMaskBits,
    /// <summary>A read of a task's CPU time (p->utime: se.sum_exec_runtime in the model).</summary>
    TaskRuntime,
    /// <summary>scx_bpf_cpu_curr(): rq->curr of a CPU.</summary>
    CpuCurr,
    /// <summary>A read of p->scx.flags (enum scx_ent_flags with the scx_task_state bits).</summary>
    TaskScxFlags,
    /// <summary>scx_bpf_select_cpu_and(): scx_bpf_select_cpu_dfl()'s search within an extra allowed mask.</summary>
    SelectCpuAnd,
    /// <summary>bpf_iter_scx_dsq_new(): find_user_dsq() and the DSQ's seq snapshot.</summary>
    DsqIterNew,
    /// <summary>A kfunc's argument check failed (ops_cpu_valid(), validate_node(), …): scx_error().</summary>
    KernelError,
    /// <summary>bpf_map_update_elem() on a per-CPU hash: the whole update under the bucket lock (BpfObject).</summary>
    BpfHashPercpuUpdate,
    /// <summary>A read of p->nvcsw (b = 1) or p->nivcsw (b = 0): the task's context-switch counts.</summary>
    TaskSwitchCount,
    /// <summary>cpumask_any[_and]_distribute() over mask bits the program read: the next CPU after this CPU's rotor.</summary>
    AnyDistribute,
    /// <summary>scx_bpf_pick_idle_cpu() (b = 0) / scx_bpf_pick_any_cpu() (b = 1) on mask bits the program read.</summary>
    PickCpuInBits,
    /// <summary>scx_bpf_events(): one counter (a = its ScxEvent) of the snapshot it copies out.</summary>
    EventCounter,
    /// <summary>A read of p->__state (TASK_RUNNING, TASK_INTERRUPTIBLE or TASK_DEAD).</summary>
    TaskRunState,
    /// <summary>A BPF object's load from its arena (BPF_MAP_TYPE_ARENA): one interleaving point.</summary>
    ArenaLoad,
    /// <summary>A store or atomic on arena memory, or bpf_arena_alloc_pages()/free_pages(): one interleaving point.</summary>
    ArenaWrite,
}

/// <summary>Maps an instruction index of a loaded BPF object to its source line ("file.bpf.c:17"), or null.</summary>
public interface ISourceMap
{
    string? SourceLine(int pc);
}

/// <summary>
/// A BPF DSQ iterator (<c>bpf_iter_scx_dsq</c>): sees only tasks inserted before it began. Like the
/// kernel's, its cursor lives with the program (on the BPF stack) and keeps its place when the
/// current task leaves the DSQ.
/// </summary>
/// <remarks>
/// The kernel keeps a cursor node in the DSQ list right after the last task returned
/// (nldsq_cursor_next_task()). Tasks queued before the iteration began keep their relative order
/// while they stay on the DSQ, and the cursor never skips one of them, so "before the cursor" is
/// exactly "already returned": <see cref="Visited"/> (a bit per task index) stands for the cursor node.
/// </remarks>
public readonly record struct DsqIter(ulong DsqId, long Seq, int Current, bool Started, UInt128 Visited = default, bool Rev = false)
{
    /// <summary>Tasks the cursor can stand for: one bit of <see cref="Visited"/> each.</summary>
    public const int MaxTasks = 128;

    public TaskRef Task => new(Current);
    public bool Done => Started && Current < 0;
    public bool HasVisited(int task) => (uint)task < MaxTasks && (Visited & (UInt128.One << task)) != UInt128.Zero;
}

/// <summary>
/// Kfuncs callable from any sched_ext callback, plus map operations and task-field reads.
/// A context is only valid inside the callback it was passed to.
/// </summary>
/// <remarks>
/// Replay protocol: a run of the callback sees the results recorded so far (replayed without
/// effect), executes at most one new call (the live one), and stops at the call after it. The
/// recorded (kind, result) pairs are the callback's position, part of the world value.
/// </remarks>
public class BpfContext
{
    internal Machine M = null!;
    internal int ActorId;
    internal int FrameIndex;
    internal ScxCallback Callback;
    internal bool Active;
    internal int Cursor;
    internal int Recorded;
    internal int LogBase;
    internal bool LiveAllowed;
    internal bool LiveUsed;
    internal bool Suspended;
    internal bool Misused;
    internal bool DeferredStarted;
    internal CallKind PendingKind;
    internal long PendingA;
    internal long PendingB;
    internal long LiveA;
    internal long LiveB;
    internal int Calls;
    /// <summary>
    /// Set by a BPF program just before a read that repeats the step's live read from the same program state (a spin
    /// loop's next iteration); if that read suspends the step, the actor waits for the word to change (WaitKind.BpfSpinRead).
    /// </summary>
    internal bool SpinRead;
    /// <summary>A loaded BPF object's line table and the instruction making the current call (traces show the source line).</summary>
    internal ISourceMap? SourceMap;
    internal int SourcePc = -1;

    internal void Bind(Machine m, int actor, int frameIndex, ScxCallback cb, int logBase, int recorded, bool live)
    {
        M = m;
        ActorId = actor;
        FrameIndex = frameIndex;
        Callback = cb;
        Active = true;
        Cursor = 0;
        Recorded = recorded;
        LogBase = logBase;
        LiveAllowed = live;
        LiveUsed = false;
        Suspended = false;
        Misused = false;
        DeferredStarted = false;
        PendingKind = CallKind.None;
        Calls = 0;
        SpinRead = false;
        SourceMap = null;
        SourcePc = -1;
    }

    /// <summary>0 = replayed (value in <paramref name="v"/>), 1 = execute now, 2 = suspend here.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private protected int Enter(CallKind k, long a, long b, out long v)
    {
        v = 0;
        // Every API entry checks the stack: a policy recursing without bound ends its scheduler
        // (the BPF verifier rejects such a program) instead of taking the process down.
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack()) throw new PolicyStackOverflowException();
        if (!Active || M.RunningContext != this)
        {
            M.PolicyMisuse(this, $"{KfuncName(k)}() called from outside ops.{ScxCallbacks.OpName(Callback)}(): the context is only valid while its callback runs");
            return 2;
        }
        if (Suspended)
        {
            Misused = true;
            return 2;
        }
        var i = Cursor++;
        if (i < Recorded)
        {
            var logKind = M.World.Logs[LogBase + 2 * i];
            if (logKind != (long)k)
            {
                M.PolicyMisuse(this, $"non-deterministic policy: call {i} was {KfuncName((CallKind)logKind)}() when recorded but {KfuncName(k)}() on replay");
                Suspended = true;
                return 2;
            }
            v = M.World.Logs[LogBase + 2 * i + 1];
            return 0;
        }
        if (LiveAllowed && !LiveUsed)
        {
            LiveUsed = true;
            LiveA = a;
            LiveB = b;
            return 1;
        }
        Suspended = true;
        PendingKind = k;
        PendingA = a;
        PendingB = b;
        return 2;
    }

    private protected void Record(CallKind k, long v) => M.AppendLog(this, k, v);

    /// <summary>After a live call: record its result unless it ended the callback with a fault.</summary>
    private protected bool Commit(CallKind k, long v)
    {
        if (M.FaultPending)
        {
            Suspended = true;
            return false;
        }
        Record(k, v);
        return true;
    }

    /// <summary>Immediate call helper: replay, or execute <paramref name="exec"/> and record.</summary>
    private protected bool Run(CallKind k, long a, long b, out long v, Func<BpfContext, long, long, long> exec)
    {
        switch (Enter(k, a, b, out v))
        {
            case 0: return true;
            case 1:
                v = exec(this, a, b);
                return Commit(k, v);
            default: return false;
        }
    }

    public static string KfuncName(CallKind k) => k switch
    {
        CallKind.TaskFromPid => "bpf_task_from_pid",
        CallKind.TaskPid => "read p->pid",
        CallKind.TaskTestCpu => "bpf_cpumask_test_cpu",
        CallKind.TaskCpu => "scx_bpf_task_cpu",
        CallKind.TaskNrCpusAllowed => "read p->nr_cpus_allowed",
        CallKind.TaskWeight => "read p->scx.weight",
        CallKind.TaskScxFlags => "read p->scx.flags",
        CallKind.TaskSwitchCount => "read p->nvcsw/nivcsw",
        CallKind.TaskRuntime => "read p->utime",
        CallKind.CpuCurr => "scx_bpf_cpu_curr",
        CallKind.AnyDistribute => "cpumask_any_and_distribute",
        CallKind.PickCpuInBits => "scx_bpf_pick_idle_cpu",
        CallKind.EventCounter => "scx_bpf_events",
        CallKind.TaskRunState => "read p->__state",
        CallKind.TaskDsqVtime => "read p->scx.dsq_vtime",
        CallKind.TaskSlice => "read p->scx.slice",
        CallKind.TaskMigrationDisabled => "is_migration_disabled",
        CallKind.TaskRunning => "scx_bpf_task_running",
        CallKind.DsqInsert => "scx_bpf_dsq_insert",
        CallKind.DsqInsertVtime => "scx_bpf_dsq_insert_vtime",
        CallKind.DispatchNrSlots => "scx_bpf_dispatch_nr_slots",
        CallKind.DispatchCancel => "scx_bpf_dispatch_cancel",
        CallKind.DsqMoveToLocal => "scx_bpf_dsq_move_to_local",
        CallKind.DsqIterNext => "bpf_iter_scx_dsq_next",
        CallKind.DsqIterNew => "bpf_iter_scx_dsq_new",
        CallKind.SelectCpuAnd => "scx_bpf_select_cpu_and",
        CallKind.KernelError => "scx_error",
        CallKind.DsqMove => "scx_bpf_dsq_move",
        CallKind.KickCpu => "scx_bpf_kick_cpu",
        CallKind.DsqNrQueued => "scx_bpf_dsq_nr_queued",
        CallKind.DsqPeek => "scx_bpf_dsq_peek",
        CallKind.CreateDsq => "scx_bpf_create_dsq",
        CallKind.DestroyDsq => "scx_bpf_destroy_dsq",
        CallKind.SelectCpuDfl => "scx_bpf_select_cpu_dfl",
        CallKind.PickIdleCpu => "scx_bpf_pick_idle_cpu",
        CallKind.PickAnyCpu => "scx_bpf_pick_any_cpu",
        CallKind.TestAndClearCpuIdle => "scx_bpf_test_and_clear_cpu_idle",
        CallKind.CpuIdleTest => "bpf_cpumask_test_cpu",
        CallKind.Printk => "bpf_trace_printk",
        CallKind.TaskCpusMask => "read p->cpus_ptr",
        CallKind.IdleMaskBits => "read the idle cpumask",
        CallKind.BpfHashLookup => "bpf_map_lookup_elem",
        CallKind.BpfHashReserve or CallKind.BpfHashPublish or CallKind.BpfHashPercpuUpdate => "bpf_map_update_elem",
        CallKind.BpfHashDelete => "bpf_map_delete_elem",
        CallKind.ReenqueueLocal => "scx_bpf_reenqueue_local",
        CallKind.DsqReenq => "scx_bpf_dsq_reenq",
        CallKind.Error => "scx_bpf_error",
        CallKind.Exit => "scx_bpf_exit",
        CallKind.Prandom => "bpf_get_prandom_u32",
        CallKind.Now => "scx_bpf_now",
        CallKind.TaskSetSlice => "scx_bpf_task_set_slice",
        CallKind.TaskSetDsqVtime => "scx_bpf_task_set_dsq_vtime",
        CallKind.MapPush => "bpf_map_push_elem",
        CallKind.MapPop => "bpf_map_pop_elem",
        CallKind.MapPeek => "bpf_map_peek_elem",
        CallKind.ListRemove => "list remove",
        CallKind.ListContains => "list lookup",
        CallKind.HashLookup => "bpf_map_lookup_elem",
        CallKind.HashUpdate => "bpf_map_update_elem",
        CallKind.HashDelete => "bpf_map_delete_elem",
        CallKind.ArrayGet => "bpf_map_lookup_elem",
        CallKind.ArraySet => "bpf_map_update_elem",
        CallKind.ArrayAdd => "__sync_fetch_and_add",
        CallKind.TaskStorageGet => "bpf_task_storage_get",
        CallKind.TaskStorageSet => "task storage write",
        CallKind.SpinLock => "bpf_spin_lock",
        CallKind.SpinUnlock => "bpf_spin_unlock",
        CallKind.CpumaskTest => "bpf_cpumask_test_cpu",
        CallKind.CpumaskSet => "bpf_cpumask_set_cpu",
        CallKind.CpumaskClear => "bpf_cpumask_clear_cpu",
        CallKind.TaskGetCookie => "scx_bpf_task_get_cookie",
        CallKind.DsqInsertCookie => "scx_bpf_dsq_insert_cookie",
        CallKind.GhostTaskBarrier => "read status_word.barrier",
        CallKind.GhostCommit => "GHOST_IOC_COMMIT_TXN",
        CallKind.MemWrite => "store",
        CallKind.ArenaLoad => "arena load",
        CallKind.ArenaWrite => "arena store",
        _ => k.ToString(),
    };

    private protected static BpfCall<T> Ready<T>(T v) => new(v);

    // ---- immutable task identity: not interleaving points ----

    /// <summary><c>p->pid</c> (never changes, so reading it cannot race).</summary>
    public long Pid(TaskRef p) => p.IsNone ? 0 : M.Config.Tasks[p.Index].Pid;

    /// <summary><c>nr_cpu_ids</c>: a load-time constant (BPF schedulers get it as <c>const volatile</c> rodata), not an interleaving point.</summary>
    public int NrCpuIds => M.N;

    /// <summary><c>p->comm[pid]</c> as kernel messages print it.</summary>
    public string Comm(TaskRef p) => M.TaskName(p.Index);

    /// <summary>The line the next <see cref="Printk"/> writes (set by the caller just before: the call itself carries only numbers).</summary>
    internal string PrintkText = "";

    /// <summary>bpf_printk() / bpf_trace_printk(): <paramref name="text"/> becomes a line of the trace (no state changes).</summary>
    public BpfCall<long> Printk(string text)
    {
        PrintkText = text;
        return Run(CallKind.Printk, System.Text.Encoding.UTF8.GetByteCount(text), 0, out var v, static (c, a, _) =>
        {
            c.M.Trace?.Note(c.ActorId, $"bpf_printk: {c.PrintkText}");
            // bpf_trace_printk()/bpf_trace_vprintk() return bstr_printf()'s count: the characters, not the NUL.
            return a;
        }) ? Ready(v) : default;
    }

    /// <summary><c>p->comm</c> itself: the task's name (at most TASK_COMM_LEN - 1 = 15 bytes are readable).</summary>
    public string TaskComm(TaskRef p) => M.Config.Tasks[p.Index].Name;

    /// <summary>
    /// Word <paramref name="word"/> of <c>p->cpus_ptr</c> (CPU 64·word + i = bit i): one read, as the kernel's bitmap code
    /// reads an unsigned long at a time. Machines of up to 64 CPUs have only word 0.
    /// </summary>
    public BpfCall<long> TaskCpusMask(TaskRef p, int word = 0) => Run(CallKind.TaskCpusMask, p.Index, word, out var v, static (c, a, b) => c.M.KfTaskCpusMask(c, (int)a, (int)b)) ? Ready(v) : default;

    /// <summary>Word <paramref name="word"/> of the idle cpumask, read as one access.</summary>
    public BpfCall<long> IdleMaskBits(int word = 0) => Run(CallKind.IdleMaskBits, word, 0, out var v, static (c, a, _) => c.M.KfIdleMaskBits(c, (int)a)) ? Ready(v) : default;

    /// <summary>
    /// The mask argument of the call being made (<see cref="AnyDistribute(in CpuMask)"/>, <see cref="PickCpuInMask"/>,
    /// <see cref="EnqueueContext.SelectCpuAnd(TaskRef, int, in CpuMask)"/>): set just before it, as <see cref="PrintkText"/>
    /// is, since a call carries two numbers and a mask of 256 CPUs is four words. A replayed call returns its logged
    /// result without reading it.
    /// </summary>
    internal CpuMask CallMask;

    /// <summary>bpf_cpumask_test_cpu() on the mask scx_bpf_get_idle_cpumask() returned: is <paramref name="cpu"/> idle now.</summary>
    public BpfCall<bool> TestCpuIdle(int cpu) => Run(CallKind.CpuIdleTest, cpu, 0, out var v, static (c, a, _) => c.M.KfTestCpuIdle(c, (int)a)) ? Ready(v != 0) : default;

    /// <summary>
    /// <c>bpf_task_from_pid()</c>: tasks are never reaped inside a run, so the lookup cannot race
    /// with anything the model does; it is therefore not an interleaving point.
    /// </summary>
    public TaskRef TaskFromPid(long pid)
    {
        var cfg = M.Config.Tasks;
        for (var i = 0; i < cfg.Count; i++)
            if (cfg[i].Pid == pid) return new TaskRef(i);
        return TaskRef.None;
    }

    // ---- task-field reads (each an interleaving point: the reader holds no lock of p) ----

    /// <summary><c>bpf_cpumask_test_cpu(cpu, p->cpus_ptr)</c>.</summary>
    public BpfCall<bool> TaskTestCpu(TaskRef p, int cpu) => Run(CallKind.TaskTestCpu, p.Index, cpu, out var v, static (c, a, b) => c.M.KfTaskTestCpu(c, (int)a, (int)b)) ? Ready(v != 0) : default;
    public BpfCall<int> TaskCpu(TaskRef p) => Run(CallKind.TaskCpu, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskField(c, (int)a, CallKind.TaskCpu)) ? Ready((int)v) : default;
    public BpfCall<int> TaskNrCpusAllowed(TaskRef p) => Run(CallKind.TaskNrCpusAllowed, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskField(c, (int)a, CallKind.TaskNrCpusAllowed)) ? Ready((int)v) : default;
    /// <summary><c>scx_bpf_cpu_curr(cpu)</c>: the task running on <paramref name="cpu"/>, -1 for its idle task, -2 after an invalid CPU (NULL).</summary>
    /// <summary>cpumask_any_distribute() over CPUs 0..63 given as bits (<see cref="AnyDistribute(in CpuMask)"/> for any machine).</summary>
    public BpfCall<int> AnyDistribute(ulong bits) => AnyDistribute(CpuMask.FromBits(bits));

    /// <summary>
    /// cpumask_any_and_distribute(cpu_online_mask, <paramref name="mask"/>): the next CPU of the mask after this CPU's
    /// rotor, remembered; -1 when there is none.
    /// </summary>
    public BpfCall<int> AnyDistribute(in CpuMask mask)
    {
        CallMask = mask;
        return Run(CallKind.AnyDistribute, (long)mask.Word(0), 0, out var v, static (c, _, _) => c.M.DistributeMask(c.CallMask)) ? Ready((int)v) : default;
    }

    /// <summary><see cref="PickCpuInMask"/> on CPUs 0..63 given as bits.</summary>
    public BpfCall<int> PickCpuInBits(ulong bits, bool any) => PickCpuInMask(CpuMask.FromBits(bits), any);

    /// <summary>scx_bpf_pick_idle_cpu() (<paramref name="any"/>: scx_bpf_pick_any_cpu()) on a mask other than a task's cpus_ptr.</summary>
    public BpfCall<int> PickCpuInMask(in CpuMask mask, bool any)
    {
        CallMask = mask;
        return Run(CallKind.PickCpuInBits, (long)mask.Word(0), any ? 1 : 0, out var v, static (c, _, b) => c.M.KfPickCpuInBits(c, c.CallMask, b != 0)) ? Ready((int)v) : default;
    }
    public BpfCall<long> TaskRunState(TaskRef p) => Run(CallKind.TaskRunState, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskRunState(c, (int)a)) ? Ready(v) : default;
    public BpfCall<long> EventCounter(int e) => Run(CallKind.EventCounter, e, 0, out var v, static (c, a, _) => c.M.KfEventCounter(c, (int)a)) ? Ready(v) : default;
    public BpfCall<int> CpuCurr(int cpu) => Run(CallKind.CpuCurr, cpu, 0, out var v, static (c, a, _) => c.M.KfCpuCurr(c, (int)a)) ? Ready((int)v) : default;
    public BpfCall<long> TaskRuntime(TaskRef p) => Run(CallKind.TaskRuntime, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskField(c, (int)a, CallKind.TaskRuntime)) ? Ready(v) : default;
    public BpfCall<int> TaskScxFlags(TaskRef p) => Run(CallKind.TaskScxFlags, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskField(c, (int)a, CallKind.TaskScxFlags)) ? Ready((int)v) : default;
    /// <summary>p->nvcsw (<paramref name="voluntary"/>) or p->nivcsw: context switches away from p that blocked it, or not.</summary>
    public BpfCall<long> TaskSwitchCount(TaskRef p, bool voluntary) => Run(CallKind.TaskSwitchCount, p.Index, voluntary ? 1 : 0, out var v, static (c, a, b) => c.M.KfTaskSwitchCount(c, (int)a, b != 0)) ? Ready(v) : default;
    public BpfCall<int> TaskWeight(TaskRef p) => Run(CallKind.TaskWeight, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskField(c, (int)a, CallKind.TaskWeight)) ? Ready((int)v) : default;
    public BpfCall<long> TaskDsqVtime(TaskRef p) => Run(CallKind.TaskDsqVtime, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskField(c, (int)a, CallKind.TaskDsqVtime)) ? Ready(v) : default;
    public BpfCall<long> TaskSlice(TaskRef p) => Run(CallKind.TaskSlice, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskField(c, (int)a, CallKind.TaskSlice)) ? Ready(v) : default;
    public BpfCall<bool> TaskMigrationDisabled(TaskRef p) => Run(CallKind.TaskMigrationDisabled, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskField(c, (int)a, CallKind.TaskMigrationDisabled)) ? Ready(v != 0) : default;
    public BpfCall<bool> TaskRunning(TaskRef p) => Run(CallKind.TaskRunning, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskField(c, (int)a, CallKind.TaskRunning)) ? Ready(v != 0) : default;
    public BpfCall<long> TaskPid(TaskRef p) => Run(CallKind.TaskPid, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskField(c, (int)a, CallKind.TaskPid)) ? Ready(v) : default;
    public BpfCall<bool> TaskSetSlice(TaskRef p, long slice) => Run(CallKind.TaskSetSlice, p.Index, slice, out var v, static (c, a, b) => c.M.KfTaskSet(c, (int)a, CallKind.TaskSetSlice, b)) ? Ready(v != 0) : default;
    public BpfCall<bool> TaskSetDsqVtime(TaskRef p, long vtime) => Run(CallKind.TaskSetDsqVtime, p.Index, vtime, out var v, static (c, a, b) => c.M.KfTaskSet(c, (int)a, CallKind.TaskSetDsqVtime, b)) ? Ready(v != 0) : default;

    // ---- kfuncs legal in every callback ----

    public BpfCall<bool> KickCpu(int cpu, KickFlags flags = KickFlags.None) => Run(CallKind.KickCpu, cpu, (long)flags, out var v, static (c, a, b) => c.M.KfKickCpu(c, (int)a, (KickFlags)b)) ? Ready(v != 0) : default;
    public BpfCall<int> DsqNrQueued(ulong dsqId) => Run(CallKind.DsqNrQueued, (long)dsqId, 0, out var v, static (c, a, _) => c.M.KfDsqNrQueued(c, (ulong)a)) ? Ready((int)v) : default;
    public BpfCall<TaskRef> DsqPeek(ulong dsqId) => Run(CallKind.DsqPeek, (long)dsqId, 0, out var v, static (c, a, _) => c.M.KfDsqPeek(c, (ulong)a)) ? Ready(new TaskRef((int)v)) : default;
    public BpfCall<bool> DestroyDsq(ulong dsqId) => Run(CallKind.DestroyDsq, (long)dsqId, 0, out var v, static (c, a, _) => c.M.KfDestroyDsq(c, (ulong)a)) ? Ready(v != 0) : default;
    public BpfCall<bool> DsqReenq(ulong dsqId) => Run(CallKind.DsqReenq, (long)dsqId, 0, out var v, static (c, a, _) => c.M.KfDsqReenq(c, (ulong)a)) ? Ready(v != 0) : default;
    /// <summary><c>scx_bpf_error()</c>: ends the scheduler with SCX_EXIT_ERROR_BPF; the program itself continues.</summary>
    public BpfCall<bool> Error(string message) => Run(CallKind.Error, 0, 0, out var v, (c, _, _) => c.M.KfExit(c, ExitKind.ErrorBpf, 0, message)) ? Ready(true) : default;
    /// <summary><c>scx_bpf_exit()</c>: ends the scheduler with SCX_EXIT_UNREG_BPF and the given code.</summary>
    public BpfCall<bool> Exit(long code, string message) => Run(CallKind.Exit, code, 0, out var v, (c, a, _) => c.M.KfExit(c, ExitKind.UnregBpf, a, message)) ? Ready(true) : default;
    public BpfCall<uint> PrandomU32() => Run(CallKind.Prandom, 0, 0, out var v, static (c, _, _) => c.M.KfPrandom()) ? Ready((uint)v) : default;
    public BpfCall<long> Now() => Run(CallKind.Now, 0, 0, out var v, static (c, _, _) => c.M.SchR().Clock) ? Ready(v) : default;
    public BpfCall<int> PickIdleCpu(TaskRef p) => Run(CallKind.PickIdleCpu, p.Index, 0, out var v, static (c, a, _) => c.M.KfPickIdleCpu(c, (int)a, clear: true)) ? Ready((int)v) : default;
    public BpfCall<int> PickAnyCpu(TaskRef p) => Run(CallKind.PickAnyCpu, p.Index, 0, out var v, static (c, a, _) => c.M.KfPickAnyCpu(c, (int)a)) ? Ready((int)v) : default;
    public BpfCall<bool> TestAndClearCpuIdle(int cpu) => Run(CallKind.TestAndClearCpuIdle, cpu, 0, out var v, static (c, a, _) => c.M.KfTestAndClearCpuIdle(c, (int)a)) ? Ready(v != 0) : default;
    /// <summary><c>scx_bpf_create_dsq()</c> from an unlocked context (a BPF timer callback, a syscall program): as from ops.init.</summary>
    internal BpfCall<bool> CreateDsqUnlocked(ulong dsqId) => Run(CallKind.CreateDsq, (long)dsqId, -1, out var v, static (c, a, _) => c.M.KfCreateDsq(c, (ulong)a)) ? Ready(v != 0) : default;

    /// <summary>The expected value of the 64-bit compare-and-swap MemWrite being made (BPF objects' cmpxchg on shared memory).</summary>
    internal long CmpxchgExpected;

    /// <summary>A kfunc's own argument check failing: the kernel's scx_error() (SCX_EXIT_ERROR) with its message.</summary>
    public BpfCall<bool> KernelError(string message) => Run(CallKind.KernelError, 0, 0, out var v, (c, _, _) => { c.M.ScxError(message); return 0; }) ? Ready(true) : default;
    /// <summary>
    /// <c>bpf_iter_scx_dsq_new(it, dsq_id, 0)</c>: the DSQ's seq at this moment (tasks inserted later are not
    /// visited), or -ENOENT when <paramref name="dsqId"/> is no user DSQ (find_user_dsq()).
    /// </summary>
    public BpfCall<long> DsqIterNew(ulong dsqId) => Run(CallKind.DsqIterNew, (long)dsqId, 0, out var v, static (c, a, _) => c.M.KfDsqIterNew(c, (ulong)a)) ? Ready(v) : default;
    /// <summary><c>bpf_for_each(scx_dsq, …)</c> step: the next task after <paramref name="it"/> inserted before the iteration began.</summary>
    public BpfCall<DsqIter> DsqIterNext(DsqIter it)
    {
        long v;
        switch (Enter(CallKind.DsqIterNext, (long)it.DsqId, it.Started ? it.Current : -2, out v))
        {
            case 0: break;
            case 1:
                v = M.KfDsqIterNext(this, it);
                if (!Commit(CallKind.DsqIterNext, v)) return default;
                break;
            default: return default;
        }
        // Result word: iterator seq snapshot << 16 | next task (or 0xffff for none).
        var seq = it.Started ? it.Seq : v >> 16;
        var task = (int)(v & 0xffff);
        if (task == 0xffff) return new BpfCall<DsqIter>(it with { Seq = seq, Current = -1, Started = true });
        // The cursor moves past the returned task (list_move() of the cursor node after it).
        return new BpfCall<DsqIter>(it with { Seq = seq, Current = task, Started = true, Visited = it.Visited | (UInt128.One << task) });
    }
    /// <summary>Cookie variant only: <c>scx_bpf_task_get_cookie(p)</c>, p's current qseq.</summary>
    public BpfCall<long> TaskGetCookie(TaskRef p) => Run(CallKind.TaskGetCookie, p.Index, 0, out var v, static (c, a, _) => c.M.KfTaskGetCookie(c, (int)a)) ? Ready(v) : default;

    /// <summary>ghost protocol only: the task's status-word barrier as the agent reads it (<c>task->seqnum</c>).</summary>
    public BpfCall<long> GhostTaskBarrier(TaskRef p) => Run(CallKind.GhostTaskBarrier, p.Index, 0, out var v, static (c, a, _) => c.M.KfGhostTaskBarrier(c, (int)a)) ? Ready(v) : default;

    // ---- maps ----

    public BpfCall<bool> Push(MapHandle m, long value) => Push(m, value, replace: false);

    /// <summary>
    /// bpf_map_push_elem(): false when the map is full (-E2BIG), unless <paramref name="replace"/> (BPF_EXIST), which
    /// drops the oldest element to make room, as queue_stack_maps.c does.
    /// </summary>
    public BpfCall<bool> Push(MapHandle m, long value, bool replace) =>
        Run(CallKind.MapPush, m.Id + (replace ? ReplaceBit : 0), value, out var v,
            static (c, a, b) => c.M.KfMap(c, CallKind.MapPush, (int)(a & ~ReplaceBit), b, (a & ReplaceBit) != 0 ? 1 : 0)) ? Ready(v != 0) : default;

    /// <summary>Push's BPF_EXIST, carried beside the map id in the call's first argument (which the replay log compares).</summary>
    private const long ReplaceBit = 1L << 32;
    public BpfCall<MapValue> Pop(MapHandle m) => RunValue(CallKind.MapPop, m.Id, 0, 0);
    public BpfCall<MapValue> Peek(MapHandle m) => RunValue(CallKind.MapPeek, m.Id, 0, 0);
    public BpfCall<bool> ListRemove(MapHandle m, long value) => Run(CallKind.ListRemove, m.Id, value, out var v, static (c, a, b) => c.M.KfMap(c, CallKind.ListRemove, (int)a, b, 0)) ? Ready(v != 0) : default;
    public BpfCall<bool> ListContains(MapHandle m, long value) => Run(CallKind.ListContains, m.Id, value, out var v, static (c, a, b) => c.M.KfMap(c, CallKind.ListContains, (int)a, b, 0)) ? Ready(v != 0) : default;
    public BpfCall<MapValue> Lookup(MapHandle m, long key) => RunValue(CallKind.HashLookup, m.Id, key, 0);
    public BpfCall<bool> Update(MapHandle m, long key, long value) => MapCall(CallKind.HashUpdate, m.Id, key, value, out var v) ? Ready(v != 0) : default;
    public BpfCall<bool> Delete(MapHandle m, long key) => Run(CallKind.HashDelete, m.Id, key, out var v, static (c, a, b) => c.M.KfMap(c, CallKind.HashDelete, (int)a, b, 0)) ? Ready(v != 0) : default;
    public BpfCall<long> Get(MapHandle m, long index) => Run(CallKind.ArrayGet, m.Id, index, out var v, static (c, a, b) => c.M.KfMap(c, CallKind.ArrayGet, (int)a, b, 0)) ? Ready(v) : default;
    public BpfCall<bool> Set(MapHandle m, long index, long value) => MapCall(CallKind.ArraySet, m.Id, index, value, out _) ? Ready(true) : default;
    /// <summary><c>__sync_fetch_and_add(&amp;arr[index], delta)</c>: returns the old value.</summary>
    public BpfCall<long> FetchAdd(MapHandle m, long index, long delta) => MapCall(CallKind.ArrayAdd, m.Id, index, delta, out var v) ? Ready(v) : default;
    public BpfCall<long> TaskGet(MapHandle m, TaskRef p, int field) => Run(CallKind.TaskStorageGet, m.Id, ((long)p.Index << 16) | (uint)field, out var v, static (c, a, b) => c.M.KfMap(c, CallKind.TaskStorageGet, (int)a, b, 0)) ? Ready(v) : default;
    public BpfCall<bool> TaskSet(MapHandle m, TaskRef p, int field, long value) => MapCall(CallKind.TaskStorageSet, m.Id, ((long)p.Index << 16) | (uint)field, value, out _) ? Ready(true) : default;

    /// <summary>
    /// A BPF object's sub-word store or atomic read-modify-write on array word <c>key &amp; 0xffffffff</c>
    /// (byte offset, size and operation packed above it; see BpfObject.Interpreter): returns the old bytes.
    /// </summary>
    public BpfCall<long> MemWrite(MapHandle m, long key, long value) => MapCall(CallKind.MemWrite, m.Id, key, value, out var v) ? Ready(v) : default;
    /// <summary>A load from arena page and offset <paramref name="key"/> (BpfObject.ArenaOps.Key).</summary>
    public BpfCall<long> ArenaLoad(MapHandle m, long key) => Run(CallKind.ArenaLoad, m.Id, key, out var v, static (c, a, b) => c.M.KfMap(c, CallKind.ArenaLoad, (int)a, b, 0)) ? Ready(v) : default;
    /// <summary>A store, atomic, allocation or free on an arena (BpfObject.ArenaOps.Write); a compare-and-swap's expected value rides on <see cref="CmpxchgExpected"/>.</summary>
    public BpfCall<long> ArenaWrite(MapHandle m, long key, long value) => MapCall(CallKind.ArenaWrite, m.Id, key, value, out var v) ? Ready(v) : default;

    private bool MapCall(CallKind k, int mapId, long key, long value, out long v)
    {
        switch (Enter(k, mapId, key, out v))
        {
            case 0: return true;
            case 1:
                v = M.KfMap(this, k, mapId, key, value);
                return Commit(k, v);
            default: return false;
        }
    }
    /// <summary>A hashtab.c map's index operation (<see cref="Kernel.Machine.KfBpfHash"/>), its map and arguments in <paramref name="a"/>.</summary>
    public BpfCall<long> BpfHash(CallKind k, MapHandle index, in BpfHashArgs a)
    {
        switch (Enter(k, index.Id, 0, out var v))
        {
            case 0: return Ready(v);
            case 1:
                v = M.KfBpfHash(this, k, index.Id, in a);
                return Commit(k, v) ? Ready(v) : default;
            default: return default;
        }
    }

    public BpfCall<bool> Lock(MapHandle l) => Run(CallKind.SpinLock, l.Id, 0, out var v, static (c, a, _) => c.M.KfMap(c, CallKind.SpinLock, (int)a, 0, 0)) ? Ready(true) : default;
    public BpfCall<bool> Unlock(MapHandle l) => Run(CallKind.SpinUnlock, l.Id, 0, out var v, static (c, a, _) => c.M.KfMap(c, CallKind.SpinUnlock, (int)a, 0, 0)) ? Ready(true) : default;
    public BpfCall<bool> CpumaskTest(MapHandle m, int cpu) => Run(CallKind.CpumaskTest, m.Id, cpu, out var v, static (c, a, b) => c.M.KfMap(c, CallKind.CpumaskTest, (int)a, b, 0)) ? Ready(v != 0) : default;
    public BpfCall<bool> CpumaskSet(MapHandle m, int cpu) => Run(CallKind.CpumaskSet, m.Id, cpu, out var v, static (c, a, b) => c.M.KfMap(c, CallKind.CpumaskSet, (int)a, b, 0)) ? Ready(true) : default;
    public BpfCall<bool> CpumaskClear(MapHandle m, int cpu) => Run(CallKind.CpumaskClear, m.Id, cpu, out var v, static (c, a, b) => c.M.KfMap(c, CallKind.CpumaskClear, (int)a, b, 0)) ? Ready(true) : default;

    // Pop/peek/lookup results carry two facts (found, value) in one log word.
    private BpfCall<MapValue> RunValue(CallKind k, int mapId, long key, long unused)
    {
        switch (Enter(k, mapId, key, out var v))
        {
            case 0: return Ready(DecodeValue(v));
            case 1:
                var r = M.KfMapValue(this, k, mapId, key);
                if (M.FaultPending) { Suspended = true; return default; }
                Record(k, EncodeValue(r));
                return Ready(r);
            default: return default;
        }
    }

    // Values stored in maps by policies are pids, counters, vtimes: 62 bits are plenty; the
    // top bit says "found".
    private static long EncodeValue(MapValue r) => r.Found ? (long)(((ulong)r.Value & ~(1UL << 63)) | (1UL << 63)) : 0;
    private static MapValue DecodeValue(long v) => v == 0 ? new(false, 0) : new(true, (v << 1) >> 1);

    // ---- deferred kfuncs: kernel paths that run as their own steps ----

    private protected BpfCall<T> Deferred<T>(CallKind k, long a, long b, long c3, long d4, long e5, Func<long, T> decode)
    {
        switch (Enter(k, a, b, out var v))
        {
            case 0: return Ready(decode(v));
            case 1:
                if (M.StartDeferredKfunc(this, k, a, b, c3, d4, e5, out var immediate))
                {
                    DeferredStarted = true;
                    Suspended = true;
                    return default;
                }
                return Commit(k, immediate) ? Ready(decode(immediate)) : default;
            default: return default;
        }
    }
}

/// <summary>Callbacks with no kfuncs of their own beyond the common set (runnable, running, stopping, quiescent, tick, set_weight, set_cpumask, dequeue).</summary>
public sealed class TaskContext : BpfContext;

/// <summary>ops.init: may create DSQs (the unlocked, sleepable kfunc set).</summary>
public sealed class InitContext : BpfContext
{
    public BpfCall<bool> CreateDsq(ulong dsqId, int node = -1) => Run(CallKind.CreateDsq, (long)dsqId, node, out var v, static (c, a, _) => c.M.KfCreateDsq(c, (ulong)a)) ? new BpfCall<bool>(v != 0) : default;
}

/// <summary>ops.enqueue: the enqueue/dispatch kfunc set (insert = direct dispatch here).</summary>
public class EnqueueContext : BpfContext
{
    public BpfCall<bool> DsqInsert(TaskRef p, ulong dsqId, long slice, EnqFlags enqFlags = EnqFlags.None) =>
        Insert(CallKind.DsqInsert, p, dsqId, slice, enqFlags, 0, false, 0);

    private protected BpfCall<bool> Insert(CallKind k, TaskRef p, ulong dsqId, long slice, EnqFlags enqFlags, long vtime, bool priq, long cookie)
    {
        switch (Enter(k, p.Index, (long)dsqId, out var v))
        {
            case 0: return new BpfCall<bool>(v != 0);
            case 1:
                v = M.KfDsqInsert(this, p.Index, dsqId, slice, (long)enqFlags, vtime, priq, cookie);
                return Commit(k, v) ? new BpfCall<bool>(v != 0) : default;
            default: return default;
        }
    }

    public BpfCall<bool> DsqInsertVtime(TaskRef p, ulong dsqId, long slice, long vtime, EnqFlags enqFlags = EnqFlags.None) =>
        Insert(CallKind.DsqInsertVtime, p, dsqId, slice, enqFlags, vtime, true, 0);

    /// <summary>
    /// <c>scx_bpf_select_cpu_and(p, prev_cpu, wake_flags, cpus_allowed, flags)</c> (ops.select_cpu and ops.enqueue):
    /// an idle CPU in <paramref name="allowed"/> ∩ p->cpus_ptr, claimed, or -EBUSY. <paramref name="allowed"/> is
    /// the mask's bits (<see cref="ulong.MaxValue"/>: every CPU).
    /// </summary>
    /// <summary>
    /// <c>scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &amp;is_idle)</c> (ops.select_cpu and, since v6.16, ops.enqueue):
    /// the CPU, with the idle flag in <c>IsIdle</c>.
    /// </summary>
    public BpfCall<(int Cpu, bool IsIdle)> SelectCpuDfl(TaskRef p, int prevCpu, WakeFlags wakeFlags)
    {
        if (!Run(CallKind.SelectCpuDfl, p.Index, prevCpu, out var v, static (c, a, b) => c.M.KfSelectCpuDfl(c, (int)a, (int)b))) return default;
        return new BpfCall<(int, bool)>(((int)(v >> 1), (v & 1) != 0));
    }

    public BpfCall<int> SelectCpuAnd(TaskRef p, int prevCpu, ulong allowed) =>
        SelectCpuAnd(p, prevCpu, allowed == ulong.MaxValue ? CpuMask.All : CpuMask.FromBits(allowed));

    /// <summary><c>scx_bpf_select_cpu_and()</c> within <paramref name="allowed"/> (<see cref="CpuMask.All"/>: every CPU), on a machine of any size.</summary>
    public BpfCall<int> SelectCpuAnd(TaskRef p, int prevCpu, in CpuMask allowed)
    {
        CallMask = allowed;
        return Run(CallKind.SelectCpuAnd, ((long)prevCpu << 32) | (uint)p.Index, (long)allowed.Word(0), out var v,
            static (c, a, _) => c.M.KfSelectCpuAnd(c, (int)(uint)a, (int)(a >> 32), c.CallMask)) ? Ready((int)v) : default;
    }
}

/// <summary>ops.select_cpu: the enqueue set (whose select kfuncs ops.enqueue may call too).</summary>
public sealed class SelectCpuContext : EnqueueContext
{
    // The select kfuncs (EnqueueContext.SelectCpuDfl/SelectCpuAnd) serve ops.enqueue too since v6.16.
}

/// <summary>ops.dispatch: the enqueue set (inserts go to the dispatch buffer) plus the dispatch-only kfuncs.</summary>
public sealed class DispatchContext : EnqueueContext
{
    public BpfCall<int> DispatchNrSlots() => Run(CallKind.DispatchNrSlots, 0, 0, out var v, static (c, _, _) => c.M.KfDispatchNrSlots(c)) ? new BpfCall<int>((int)v) : default;
    public BpfCall<bool> DispatchCancel() => Run(CallKind.DispatchCancel, 0, 0, out var v, static (c, _, _) => c.M.KfDispatchCancel(c)) ? new BpfCall<bool>(true) : default;
    /// <summary><c>scx_bpf_dsq_move_to_local(dsq_id)</c>: flush the buffer, then consume one task this CPU can run.</summary>
    public BpfCall<bool> DsqMoveToLocal(ulong dsqId) => DsqMoveToLocal(dsqId, EnqFlags.None);
    /// <summary>
    /// v7.1's <c>scx_bpf_dsq_move_to_local(dsq_id, enq_flags)</c> (<c>___v2</c>): the consumed task is inserted with
    /// <paramref name="enqFlags"/> (<see cref="EnqFlags.Immed"/>: it runs now or goes back to ops.enqueue).
    /// </summary>
    public BpfCall<bool> DsqMoveToLocal(ulong dsqId, EnqFlags enqFlags) => Deferred(CallKind.DsqMoveToLocal, (long)dsqId, (long)enqFlags, 0, 0, 0, static v => v != 0);
    public static DsqIter DsqIterBegin(ulong dsqId) => new(dsqId, 0, -1, false);
    /// <summary><c>scx_bpf_dsq_move(it, p, dsq_id, enq_flags)</c>.</summary>
    /// <remarks>
    /// <paramref name="slice"/> and <paramref name="vtime"/>: what <c>scx_bpf_dsq_move_set_slice/vtime()</c> put on the
    /// iterator; the move applies them to p once it has checked p is still where the iterator saw it.
    /// </remarks>
    public BpfCall<bool> DsqMove(DsqIter it, TaskRef p, ulong dsqId, EnqFlags enqFlags = EnqFlags.None, long? slice = null, long? vtime = null)
    {
        MoveSlice = slice ?? 0;
        MoveVtime = vtime ?? 0;
        MoveOverrides = (slice != null ? 1 : 0) | (vtime != null ? 2 : 0);
        return Deferred(CallKind.DsqMove, p.Index, (long)dsqId, (long)enqFlags, (long)it.DsqId, it.Seq, static v => v != 0);
    }

    /// <summary>The iterator overrides of the DsqMove call being started (read by the kernel path's start).</summary>
    internal long MoveSlice, MoveVtime;
    internal int MoveOverrides;
    /// <summary>
    /// ghost protocol only: open a transaction for <paramref name="p"/> on <paramref name="cpu"/> with the
    /// barrier the agent saw, and commit it synchronously (claim, validate, latch). Returns the final state.
    /// </summary>
    public BpfCall<GhostTxnState> GhostCommit(TaskRef p, int cpu, long taskBarrier) =>
        Deferred(CallKind.GhostCommit, p.Index, cpu, taskBarrier, 0, 0, static v => (GhostTxnState)v);

    /// <summary>Cookie variant: <c>scx_bpf_dsq_insert_cookie(p, dsq_id, slice, enq_flags, cookie)</c>.</summary>
    public BpfCall<bool> DsqInsertCookie(TaskRef p, ulong dsqId, long slice, EnqFlags enqFlags, long cookie) =>
        Insert(CallKind.DsqInsertCookie, p, dsqId, slice, enqFlags, 0, false, cookie == 0 ? long.MinValue : cookie);
}

/// <summary>ops.cpu_release: may re-enqueue the local DSQ.</summary>
public sealed class CpuReleaseContext : BpfContext
{
    public BpfCall<int> ReenqueueLocal() => Deferred(CallKind.ReenqueueLocal, 0, 0, 0, 0, 0, static v => (int)v);
}

/// <summary>One hashtab.c map and one operation's arguments, as <see cref="Kernel.Machine.KfBpfHash"/> takes them.</summary>
public readonly struct BpfHashArgs
{
    /// <summary>The map's name (for the model-limit message).</summary>
    public string Name { get; init; }
    /// <summary>key_size rounded up to 8-byte words: the key is compared word by word.</summary>
    public int KeyWords { get; init; }
    public int MaxEntries { get; init; }
    /// <summary>Preallocated elements: max_entries, plus one per CPU for BPF_MAP_TYPE_HASH.</summary>
    public int Slots { get; init; }
    /// <summary>The kernel's preallocated elements, when the model backs fewer (<see cref="Slots"/>, bounds: hash_elems).</summary>
    public int KernelSlots { get; init; }
    public bool Lru { get; init; }
    /// <summary>BPF_F_NO_COMMON_LRU: per-CPU LRU lists.</summary>
    public bool NoCommonLru { get; init; }
    /// <summary>The key (lookup, delete, reserve, per-CPU update), <see cref="KeyWords"/> words.</summary>
    public long[] Key { get; init; }
    /// <summary>Publish: the reserved element.</summary>
    public long Slot { get; init; }
    /// <summary>Publish and per-CPU update: BPF_ANY, BPF_NOEXIST or BPF_EXIST.</summary>
    public long Flags { get; init; }
    /// <summary>Per-CPU update: the value's words (the program's value, read before the call), the values map and the CPU.</summary>
    public long[] Value { get; init; }
    public int ValuesMapId { get; init; }
    public int Cpu { get; init; }
}
