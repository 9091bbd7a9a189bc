using Scxlab.Bpf;

namespace Scxlab.BpfObject;

/// <summary>What a pointer points into. A pointer is (region, index, offset); see <see cref="Mem"/>.</summary>
public enum Region : byte
{
    None = 0,
    Stack,        // index: call frame (512 bytes each), private to the program run
    Ctx,          // the struct_ops argument array (u64 per argument)
    Map,          // a map itself (the ld_imm64 map pointer); never dereferenced
    Global,       // .data/.bss/.data.*: shared, lives in the world's map arena
    Rodata,       // .rodata*: constant after load
    MapValue,     // an array map's value area: shared, in the arena
    Task,         // a task_struct (index: the model's task index)
    TaskCpumask,  // p->cpus_ptr of task index
    Func,         // a BPF function (ld_imm64 of a callback); index: its entry instruction
    ExitInfo,     // the struct scx_exit_info passed to ops.exit; index: the exit kind
    IdleCpumask,  // scx_bpf_get_idle_cpumask()/get_idle_smtmask(): the idle CPUs, read through bpf_cpumask_test_cpu
    OnlineCpumask, // scx_bpf_get_online_cpumask(): every CPU (the model has no hotplug)
    BpfCpumask,   // a struct bpf_cpumask from bpf_cpumask_create(); index: its slot in the policy's pool
    EmptyCpumask, // cpu_none_mask: what the idle-mask kfuncs hand back after an argument error
    RingbufRecord, // a record bpf_ringbuf_reserve() handed out; index: the record in this run (private until submitted)
}

/// <summary>
/// Pointer encoding: the kernel's pointers are addresses, so the interpreter's are too, in a
/// range no scalar the examples compute reaches: 0xF in the top nibble, the region in the next,
/// a 24-bit index and a 32-bit byte offset. NULL is 0; pointer arithmetic moves the offset.
/// </summary>
public static class Mem
{
    private const ulong Tag = 0xFUL << 60;

    public static ulong Addr(Region r, int index, int offset) => Tag | ((ulong)r << 56) | ((ulong)(uint)index << 32) | (uint)offset;

    public static bool IsPointer(ulong v) => (v >> 60) == 0xF;
    public static Region RegionOf(ulong v) => IsPointer(v) ? (Region)((v >> 56) & 0xf) : Region.None;
    public static int Index(ulong v) => (int)((v >> 32) & 0xffffff);
    public static int Offset(ulong v) => (int)(uint)v;
}

/// <summary>The kfuncs the model implements, under their current and older names.</summary>
public enum Kfunc
{
    DsqInsert, DsqInsertVtime, DsqMoveToLocal, CreateDsq, SelectCpuDfl, KickCpu, DispatchNrSlots, DispatchCancel,
    DsqNrQueued, TaskRunning, TaskCpu, Now, ErrorBstr, ExitBstr, CpumaskTestCpu, TaskFromPid, TaskAcquire, TaskRelease, NrCpuIds,
    PickIdleCpu, PickAnyCpu, TestAndClearCpuIdle, DestroyDsq, DsqPeek, ReenqueueLocal, IterNumNew, IterNumNext, IterNumDestroy, RcuReadLock, RcuReadUnlock, TaskSetSlice, TaskSetDsqVtime,
    GetIdleCpumask, GetOnlineCpumask, PutCpumask, DsqMoveToLocalFlags,
    CpumaskCreate, CpumaskAcquire, CpumaskRelease, CpumaskSetCpu, CpumaskClearCpu, CpumaskTestAndSetCpu, CpumaskTestAndClearCpu,
    CpumaskSetall, CpumaskClear, CpumaskAnd, CpumaskOr, CpumaskXor, CpumaskCopy, CpumaskFirst, CpumaskFirstZero, CpumaskFirstAnd,
    CpumaskWeight, CpumaskEmpty, CpumaskFull, CpumaskIntersects, CpumaskSubset, CpumaskEqual,
    SelectCpuAnd, SelectCpuAndArgs, DsqInsertVtimeArgs, NrNodeIds, CpuNode, GetIdleCpumaskNode, CpuperfSet, CpuperfCur, CpuperfCap,
    DsqIterNew, DsqIterNext, DsqIterDestroy, DsqMove, DsqMoveVtime, CpuCurr, CpumaskAnyDistribute, DumpBstr, DsqReenq, ReenqueueLocalAnywhere, DsqMoveSetSlice, DsqMoveSetVtime,
    PickIdleCpuNode, PickAnyCpuNode, CpumaskAnyAndDistribute, CpuRq, LockedRq, Events,
    ArenaAllocPages, ArenaFreePages, PreemptDisable, PreemptEnable, StreamVprintk,
    CgroupAcquire, CgroupRelease, CgroupAncestor, CgroupFromId, TaskUnderCgroup, TaskCgroup,
}

public static class Kfuncs
{
    private static readonly Dictionary<string, Kfunc> ByName = new(StringComparer.Ordinal)
    {
        ["scx_bpf_dsq_insert"] = Kfunc.DsqInsert,
        ["scx_bpf_dsq_insert___v2___compat"] = Kfunc.DsqInsert,
        ["scx_bpf_dispatch"] = Kfunc.DsqInsert,
        ["scx_bpf_dsq_insert_vtime"] = Kfunc.DsqInsertVtime,
        ["scx_bpf_dispatch_vtime"] = Kfunc.DsqInsertVtime,
        ["scx_bpf_dsq_move_to_local"] = Kfunc.DsqMoveToLocal,
        ["scx_bpf_consume"] = Kfunc.DsqMoveToLocal,
        // scx's compat.bpf.h (v7.1 added @enq_flags): tried in this order through bpf_ksym_exists().
        ["scx_bpf_dsq_move_to_local___v2"] = Kfunc.DsqMoveToLocalFlags,
        ["scx_bpf_dsq_move_to_local___v1"] = Kfunc.DsqMoveToLocal,
        ["scx_bpf_consume___old"] = Kfunc.DsqMoveToLocal,
        ["scx_bpf_create_dsq"] = Kfunc.CreateDsq,
        ["scx_bpf_select_cpu_dfl"] = Kfunc.SelectCpuDfl,
        ["scx_bpf_kick_cpu"] = Kfunc.KickCpu,
        ["scx_bpf_dispatch_nr_slots"] = Kfunc.DispatchNrSlots,
        ["scx_bpf_dispatch_cancel"] = Kfunc.DispatchCancel,
        ["scx_bpf_dsq_nr_queued"] = Kfunc.DsqNrQueued,
        ["scx_bpf_task_running"] = Kfunc.TaskRunning,
        ["scx_bpf_task_cpu"] = Kfunc.TaskCpu,
        ["scx_bpf_now"] = Kfunc.Now,
        ["scx_bpf_error_bstr"] = Kfunc.ErrorBstr,
        ["scx_bpf_exit_bstr"] = Kfunc.ExitBstr,
        ["bpf_cpumask_test_cpu"] = Kfunc.CpumaskTestCpu,
        ["bpf_task_from_pid"] = Kfunc.TaskFromPid,
        ["bpf_task_acquire"] = Kfunc.TaskAcquire,
        ["bpf_cgroup_acquire"] = Kfunc.CgroupAcquire,
        ["bpf_cgroup_release"] = Kfunc.CgroupRelease,
        ["bpf_cgroup_ancestor"] = Kfunc.CgroupAncestor,
        ["bpf_cgroup_from_id"] = Kfunc.CgroupFromId,
        ["bpf_task_under_cgroup"] = Kfunc.TaskUnderCgroup,
        ["scx_bpf_task_cgroup"] = Kfunc.TaskCgroup,
        ["bpf_task_release"] = Kfunc.TaskRelease,
        ["scx_bpf_nr_cpu_ids"] = Kfunc.NrCpuIds,
        ["scx_bpf_pick_idle_cpu"] = Kfunc.PickIdleCpu,
        ["scx_bpf_pick_any_cpu"] = Kfunc.PickAnyCpu,
        ["scx_bpf_test_and_clear_cpu_idle"] = Kfunc.TestAndClearCpuIdle,
        ["scx_bpf_destroy_dsq"] = Kfunc.DestroyDsq,
        ["scx_bpf_dsq_peek"] = Kfunc.DsqPeek,
        ["scx_bpf_reenqueue_local"] = Kfunc.ReenqueueLocal,
        ["bpf_iter_num_new"] = Kfunc.IterNumNew,
        ["bpf_iter_num_next"] = Kfunc.IterNumNext,
        ["bpf_iter_num_destroy"] = Kfunc.IterNumDestroy,
        ["bpf_rcu_read_lock"] = Kfunc.RcuReadLock,
        ["bpf_rcu_read_unlock"] = Kfunc.RcuReadUnlock,
        ["bpf_arena_alloc_pages"] = Kfunc.ArenaAllocPages,
        ["bpf_arena_free_pages"] = Kfunc.ArenaFreePages,
        ["bpf_preempt_disable"] = Kfunc.PreemptDisable,
        ["bpf_preempt_enable"] = Kfunc.PreemptEnable,
        // BPF streams (v6.17): text for user space to read, like bpf_printk; v6.18 renamed it with an aux argument.
        ["bpf_stream_vprintk"] = Kfunc.StreamVprintk,
        ["bpf_stream_vprintk_impl"] = Kfunc.StreamVprintk,
        // v6.19; scx's compat.bpf.h declares them with the ___new flavor, falling back to a field write.
        ["scx_bpf_task_set_slice"] = Kfunc.TaskSetSlice,
        ["scx_bpf_task_set_slice___new"] = Kfunc.TaskSetSlice,
        ["scx_bpf_task_set_dsq_vtime"] = Kfunc.TaskSetDsqVtime,
        ["scx_bpf_task_set_dsq_vtime___new"] = Kfunc.TaskSetDsqVtime,
        ["scx_bpf_get_idle_cpumask"] = Kfunc.GetIdleCpumask,
        // Without SMT siblings (the model's CPUs are one thread per core) the kernel hands the idle cpumask.
        ["scx_bpf_get_idle_smtmask"] = Kfunc.GetIdleCpumask,
        ["scx_bpf_get_online_cpumask"] = Kfunc.GetOnlineCpumask,
        // No hotplug: every possible CPU is online.
        ["scx_bpf_get_possible_cpumask"] = Kfunc.GetOnlineCpumask,
        // Only ops.dump*() may call it, and the model never runs them (StructOps.NeverCalled).
        ["scx_bpf_dump_bstr"] = Kfunc.DumpBstr,
        ["scx_bpf_put_idle_cpumask"] = Kfunc.PutCpumask,
        ["scx_bpf_put_cpumask"] = Kfunc.PutCpumask,
        ["bpf_cpumask_create"] = Kfunc.CpumaskCreate,
        ["bpf_cpumask_acquire"] = Kfunc.CpumaskAcquire,
        ["bpf_cpumask_release"] = Kfunc.CpumaskRelease,
        ["bpf_cpumask_set_cpu"] = Kfunc.CpumaskSetCpu,
        ["bpf_cpumask_clear_cpu"] = Kfunc.CpumaskClearCpu,
        ["bpf_cpumask_test_and_set_cpu"] = Kfunc.CpumaskTestAndSetCpu,
        ["bpf_cpumask_test_and_clear_cpu"] = Kfunc.CpumaskTestAndClearCpu,
        ["bpf_cpumask_setall"] = Kfunc.CpumaskSetall,
        ["bpf_cpumask_clear"] = Kfunc.CpumaskClear,
        ["bpf_cpumask_and"] = Kfunc.CpumaskAnd,
        ["bpf_cpumask_or"] = Kfunc.CpumaskOr,
        ["bpf_cpumask_xor"] = Kfunc.CpumaskXor,
        ["bpf_cpumask_copy"] = Kfunc.CpumaskCopy,
        ["bpf_cpumask_first"] = Kfunc.CpumaskFirst,
        ["bpf_cpumask_first_zero"] = Kfunc.CpumaskFirstZero,
        ["bpf_cpumask_first_and"] = Kfunc.CpumaskFirstAnd,
        ["bpf_cpumask_weight"] = Kfunc.CpumaskWeight,
        ["bpf_cpumask_empty"] = Kfunc.CpumaskEmpty,
        ["bpf_cpumask_full"] = Kfunc.CpumaskFull,
        ["bpf_cpumask_intersects"] = Kfunc.CpumaskIntersects,
        ["bpf_cpumask_subset"] = Kfunc.CpumaskSubset,
        ["bpf_cpumask_equal"] = Kfunc.CpumaskEqual,
        // Older names scx's compat.bpf.h declares as weak ___compat flavors (libbpf strips the flavor).
        ["scx_bpf_dispatch___compat"] = Kfunc.DsqInsert,
        ["scx_bpf_dsq_insert_vtime___compat"] = Kfunc.DsqInsertVtime,
        ["scx_bpf_dispatch_vtime___compat"] = Kfunc.DsqInsertVtime,
        // u32 scx_bpf_reenqueue_local(void), ops.cpu_release only (v6.19 added the void form below).
        ["scx_bpf_reenqueue_local___v1"] = Kfunc.ReenqueueLocal,
        // v7.1: scx_bpf_dsq_reenq(dsq_id, reenq_flags) on SCX_DSQ_LOCAL[_ON] and user DSQs (deferred to a CPU's reenq work), and
        // the void scx_bpf_reenqueue_local() callable from anywhere, which does that for the current CPU.
        ["scx_bpf_dsq_reenq"] = Kfunc.DsqReenq,
        ["scx_bpf_dsq_reenq___compat"] = Kfunc.DsqReenq, // __COMPAT_has_generic_reenq() tests this flavor
        ["scx_bpf_reenqueue_local___v2___compat"] = Kfunc.ReenqueueLocalAnywhere,
        ["scx_bpf_reenqueue_local___v2"] = Kfunc.ReenqueueLocalAnywhere,
        // v6.16 scx_bpf_select_cpu_and(p, prev_cpu, wake_flags, cpus_allowed, flags), and the v6.19 form with
        // the scalars packed in struct scx_bpf_select_cpu_and_args (also __scx_bpf_dsq_insert_vtime's).
        ["scx_bpf_select_cpu_and"] = Kfunc.SelectCpuAnd,
        ["scx_bpf_select_cpu_and___compat"] = Kfunc.SelectCpuAnd,
        ["__scx_bpf_select_cpu_and"] = Kfunc.SelectCpuAndArgs,
        ["__scx_bpf_dsq_insert_vtime"] = Kfunc.DsqInsertVtimeArgs,
        // One NUMA node (node 0) holds every CPU of the model.
        ["scx_bpf_nr_node_ids"] = Kfunc.NrNodeIds,
        ["scx_bpf_cpu_node"] = Kfunc.CpuNode,
        ["scx_bpf_get_idle_cpumask_node"] = Kfunc.GetIdleCpumaskNode,
        ["scx_bpf_get_idle_smtmask_node"] = Kfunc.GetIdleCpumaskNode,
        ["scx_bpf_pick_idle_cpu_node"] = Kfunc.PickIdleCpuNode,
        ["scx_bpf_pick_any_cpu_node"] = Kfunc.PickAnyCpuNode,
        // cpufreq is not modelled: every CPU runs at SCX_CPUPERF_ONE and a target changes no scheduling decision.
        ["scx_bpf_cpuperf_set"] = Kfunc.CpuperfSet,
        ["scx_bpf_cpuperf_cur"] = Kfunc.CpuperfCur,
        ["scx_bpf_cpuperf_cap"] = Kfunc.CpuperfCap,
        ["bpf_iter_scx_dsq_new"] = Kfunc.DsqIterNew,
        ["bpf_iter_scx_dsq_next"] = Kfunc.DsqIterNext,
        ["bpf_iter_scx_dsq_destroy"] = Kfunc.DsqIterDestroy,
        ["scx_bpf_dsq_move"] = Kfunc.DsqMove,
        ["scx_bpf_dispatch_from_dsq"] = Kfunc.DsqMove,
        ["scx_bpf_dsq_move_vtime"] = Kfunc.DsqMoveVtime,
        ["scx_bpf_dispatch_vtime_from_dsq"] = Kfunc.DsqMoveVtime,
        ["scx_bpf_dsq_move___new"] = Kfunc.DsqMove,
        ["scx_bpf_dispatch_from_dsq___old"] = Kfunc.DsqMove,
        ["scx_bpf_dsq_move_vtime___new"] = Kfunc.DsqMoveVtime,
        ["scx_bpf_dispatch_vtime_from_dsq___old"] = Kfunc.DsqMoveVtime,
        ["scx_bpf_cpu_curr"] = Kfunc.CpuCurr,
        ["scx_bpf_cpu_rq"] = Kfunc.CpuRq,
        ["scx_bpf_locked_rq"] = Kfunc.LockedRq,
        ["scx_bpf_events"] = Kfunc.Events,
        ["scx_bpf_dsq_move_set_slice"] = Kfunc.DsqMoveSetSlice,
        ["scx_bpf_dsq_move_set_slice___new"] = Kfunc.DsqMoveSetSlice,
        ["scx_bpf_dispatch_from_dsq_set_slice"] = Kfunc.DsqMoveSetSlice,
        ["scx_bpf_dispatch_from_dsq_set_slice___old"] = Kfunc.DsqMoveSetSlice,
        ["scx_bpf_dispatch_from_dsq_set_slice___compat"] = Kfunc.DsqMoveSetSlice,
        ["scx_bpf_dsq_move_set_vtime"] = Kfunc.DsqMoveSetVtime,
        ["scx_bpf_dsq_move_set_vtime___new"] = Kfunc.DsqMoveSetVtime,
        ["scx_bpf_dispatch_from_dsq_set_vtime"] = Kfunc.DsqMoveSetVtime,
        ["scx_bpf_dispatch_from_dsq_set_vtime___old"] = Kfunc.DsqMoveSetVtime,
        ["scx_bpf_dispatch_from_dsq_set_vtime___compat"] = Kfunc.DsqMoveSetVtime,
        ["scx_bpf_dispatch_from_dsq___compat"] = Kfunc.DsqMove,
        ["scx_bpf_dispatch_vtime_from_dsq___compat"] = Kfunc.DsqMoveVtime,
        ["bpf_cpumask_any_distribute"] = Kfunc.CpumaskAnyDistribute,
        ["bpf_cpumask_any_and_distribute"] = Kfunc.CpumaskAnyAndDistribute,
    };

    public static bool Supported(string name) => ByName.ContainsKey(name);

    /// <summary>
    /// Kfuncs every kernel the model stands for has and the model does not implement: libbpf resolves them, so an object
    /// that declares them loads, and the verifier refuses only a call it can reach — as the loader does (a poisoned
    /// call, refused at load when reachable). Any other unknown extern function is a load error, as libbpf reports a
    /// name missing from the kernel's BTF (or a function another object defines: link it first).
    /// </summary>
    public static readonly IReadOnlySet<string> KernelOnly = new HashSet<string>(StringComparer.Ordinal)
    {
        // cgroups beyond the root one the model has: walking the hierarchy (scx_lavd's cgroup bandwidth library).
        "bpf_iter_css_new", "bpf_iter_css_next", "bpf_iter_css_destroy",
        "bpf_iter_css_task_new", "bpf_iter_css_task_next", "bpf_iter_css_task_destroy",
        // Iterators over every task of the system (most outside the model).
        "bpf_iter_task_new", "bpf_iter_task_next", "bpf_iter_task_destroy",
        // Others scx's library declares.
        "bpf_cpumask_populate",
    };

    public static int Resolve(string name) =>
        ByName.TryGetValue(name, out var k) ? (int)k : throw new BpfLoadException($"unknown func {name} (a kfunc the model does not implement)");
}

/// <summary>The BPF helpers (<c>enum bpf_func_id</c>) the model implements.</summary>
public static class Helpers
{
    public const int ProbeReadKernel = 113, RingbufOutput = 130, RingbufReserve = 131, RingbufSubmit = 132, RingbufDiscard = 133, RingbufQuery = 134, TraceVprintk = 177, PerCpuPtr = 153, ThisCpuPtr = 154;
    public const int MapLookupElem = 1, MapUpdateElem = 2, MapDeleteElem = 3, KtimeGetNs = 5, GetPrandomU32 = 7,
        GetSmpProcessorId = 8, ProbeReadKernelStr = 115, Strncmp = 182, TracePrintk = 6, GetCurrentTaskBtf = 158, KptrXchg = 194, Loop = 181, ForEachMapElem = 164,
        GetCurrentPidTgid = 14, GetCurrentComm = 16, GetNumaNodeId = 42, Jiffies64 = 118, KtimeGetBootNs = 125, MapLookupPercpuElem = 195, TimerInit = 169, TimerSetCallback = 170, TimerStart = 171, TimerCancel = 172, MapPushElem = 87, MapPopElem = 88, MapPeekElem = 89, SpinLock = 93, SpinUnlock = 94, TaskStorageGet = 156, TaskStorageDelete = 157, CgrpStorageGet = 210, CgrpStorageDelete = 211;

    public static bool Supported(int id) => id is MapLookupElem or MapUpdateElem or MapDeleteElem or KtimeGetNs or GetPrandomU32
        or GetSmpProcessorId or MapPushElem or MapPopElem or MapPeekElem or SpinLock or SpinUnlock or TaskStorageGet
        or ProbeReadKernelStr or MapLookupPercpuElem or TimerInit or TimerSetCallback or TimerStart or TimerCancel or Strncmp
        or TracePrintk or GetCurrentTaskBtf or KptrXchg or Loop or ForEachMapElem or TaskStorageDelete or CgrpStorageGet or CgrpStorageDelete
        or GetCurrentPidTgid or GetCurrentComm or GetNumaNodeId or Jiffies64 or KtimeGetBootNs
        or ProbeReadKernel or RingbufOutput or RingbufReserve or RingbufSubmit or RingbufDiscard or RingbufQuery or TraceVprintk or PerCpuPtr or ThisCpuPtr;

    public static string Name(int id) => id switch
    {
        MapLookupElem => "bpf_map_lookup_elem",
        CgrpStorageGet => "bpf_cgrp_storage_get",
        CgrpStorageDelete => "bpf_cgrp_storage_delete",
        MapUpdateElem => "bpf_map_update_elem",
        MapDeleteElem => "bpf_map_delete_elem",
        KtimeGetNs => "bpf_ktime_get_ns",
        TracePrintk => "bpf_trace_printk",
        TraceVprintk => "bpf_trace_vprintk",
        GetCurrentTaskBtf => "bpf_get_current_task_btf",
        KptrXchg => "bpf_kptr_xchg",
        GetPrandomU32 => "bpf_get_prandom_u32",
        GetSmpProcessorId => "bpf_get_smp_processor_id",
        MapPushElem => "bpf_map_push_elem",
        MapPopElem => "bpf_map_pop_elem",
        MapPeekElem => "bpf_map_peek_elem",
        93 => "bpf_spin_lock",
        94 => "bpf_spin_unlock",
        156 => "bpf_task_storage_get",
        TaskStorageDelete => "bpf_task_storage_delete",
        ProbeReadKernelStr => "bpf_probe_read_kernel_str",
        MapLookupPercpuElem => "bpf_map_lookup_percpu_elem",
        TimerInit => "bpf_timer_init",
        TimerSetCallback => "bpf_timer_set_callback",
        TimerStart => "bpf_timer_start",
        TimerCancel => "bpf_timer_cancel",
        Loop => "bpf_loop",
        ForEachMapElem => "bpf_for_each_map_elem",
        Strncmp => "bpf_strncmp",
        // Helpers the model lacks, named so a load error says which one.
        GetCurrentPidTgid => "bpf_get_current_pid_tgid",
        GetCurrentComm => "bpf_get_current_comm",
        GetNumaNodeId => "bpf_get_numa_node_id",
        Jiffies64 => "bpf_jiffies64",
        35 => "bpf_get_current_task",
        ProbeReadKernel => "bpf_probe_read_kernel",
        KtimeGetBootNs => "bpf_ktime_get_boot_ns",
        RingbufOutput => "bpf_ringbuf_output",
        RingbufReserve => "bpf_ringbuf_reserve",
        RingbufSubmit => "bpf_ringbuf_submit",
        RingbufDiscard => "bpf_ringbuf_discard",
        RingbufQuery => "bpf_ringbuf_query",
        153 => "bpf_per_cpu_ptr",
        154 => "bpf_this_cpu_ptr",
        _ => "unknown",
    };
}

public static class Callbacks
{
    /// <summary>The model's callback for a sched_ext_ops member name, or null if the model has no such callback.</summary>
    public static ScxCallback? FromMember(string member)
    {
        foreach (var cb in Enum.GetValues<ScxCallback>())
            if (ScxCallbacks.OpName(cb) == member) return cb;
        return null;
    }
}
