namespace Scxlab.BpfObject;

/// <summary>What a task_struct field read/write means in the model (each maps to a model field or a ctx call).</summary>
public enum TaskField : byte { Pid, NrCpusAllowed, MigrationDisabled, CpusPtr, Comm, DsqVtime, Slice, Weight, Flags, ScxFlags, Tgid, Disallow, Utime, Stime, SumExecRuntime, Nvcsw, Nivcsw, Policy, StaticPrio, RealParent, Parent, State, CpusMask, Prio }

/// <summary>A field of a modelled kernel struct, at the offset the model gives it.</summary>
public sealed record ModelField(string Name, int Offset, int Size, bool Signed, string? Struct = null, TaskField? Task = null, int ArrayLen = 0);

public sealed record ModelStruct(string Name, int Size, ModelField[] Fields)
{
    public ModelField? Field(string name) => Fields.FirstOrDefault(f => f.Name == name);
}

/// <summary>
/// The type table CO-RE relocations resolve against: scxlab's own layout of the kernel objects it
/// models (not the kernel's offsets, which the program never sees: every access of a
/// <c>preserve_access_index</c> struct is relocated). A field the model lacks "does not exist"
/// (<c>bpf_core_field_exists()</c> is 0; reading it is a load error naming type and access string).
/// </summary>
public static class ModelTypes
{
    public const int TaskSize = 192;

    /// <summary>p->cpus_mask, which p->cpus_ptr points at (the model does not swap cpus_ptr for migrate_disable()).</summary>
    public const int CpusMaskOffset = 152;

    /// <summary>The fair-class entity: only its runtime, which the model keeps (p->se.sum_exec_runtime).</summary>
    public static readonly ModelStruct SchedEntity = new("sched_entity", 8,
    [
        new("sum_exec_runtime", 0, 8, false, Task: TaskField.SumExecRuntime),
    ]);

    public static readonly ModelStruct SchedExtEntity = new("sched_ext_entity", 32,
    [
        new("dsq_vtime", 0, 8, false, Task: TaskField.DsqVtime),
        new("slice", 8, 8, false, Task: TaskField.Slice),
        new("weight", 16, 4, false, Task: TaskField.Weight),
        new("flags", 20, 4, false, Task: TaskField.ScxFlags),
        // Set by ops.init_task() to keep a task out of sched_ext; the model's tasks all run on it (reads 0).
        new("disallow", 24, 1, false, Task: TaskField.Disallow),
    ]);

    public static readonly ModelStruct TaskStruct = new("task_struct", TaskSize,
    [
        new("pid", 0, 4, true, Task: TaskField.Pid),
        new("nr_cpus_allowed", 4, 4, true, Task: TaskField.NrCpusAllowed),
        new("migration_disabled", 8, 2, false, Task: TaskField.MigrationDisabled),
        // PF_* flags: the model's tasks are user threads that never set one (docs/bpf.md).
        new("flags", 12, 4, false, Task: TaskField.Flags),
        new("cpus_ptr", 16, 8, false, Task: TaskField.CpusPtr),
        new("comm", 24, 1, true, Task: TaskField.Comm, ArrayLen: 16),
        new("scx", 40, 32, false, Struct: "sched_ext_entity"),
        // Every model task is its own thread-group leader: tgid = pid.
        new("tgid", 72, 4, true, Task: TaskField.Tgid),
        // CPU time: the model charges all of a task's runtime as user time (utime = se.sum_exec_runtime, stime = 0).
        new("utime", 80, 8, false, Task: TaskField.Utime),
        new("stime", 88, 8, false, Task: TaskField.Stime),
        new("se", 96, 8, false, Struct: "sched_entity"),
        // Context switches away from the task: blocked (nvcsw) or not (nivcsw), counted as __schedule() does, and
        // only for a policy that reads them (ScxOps.CountsContextSwitches).
        new("nvcsw", 104, 8, false, Task: TaskField.Nvcsw),
        new("nivcsw", 112, 8, false, Task: TaskField.Nivcsw),
        // SCHED_NORMAL, or SCHED_EXT under SCX_OPS_SWITCH_PARTIAL (the model's tasks all run on sched_ext).
        new("policy", 120, 4, false, Task: TaskField.Policy),
        // 120 + nice, the nice level whose weight the task has (a weight no nice level gives ends the scheduler).
        new("static_prio", 124, 4, true, Task: TaskField.StaticPrio),
        // The parent process of a model task is outside the model: init (pid 1), whose identity a program may read
        // (Interpreter.ParentTask); its other fields and its task storage are a model limit.
        new("real_parent", 128, 8, false, Task: TaskField.RealParent),
        new("parent", 136, 8, false, Task: TaskField.Parent),
        // TASK_RUNNING, TASK_INTERRUPTIBLE (set before the task blocks) or TASK_DEAD (its last schedule): a read of the
        // task's state, an interleaving point.
        new("__state", 144, 4, false, Task: TaskField.State),
        // The mask itself: p->cpus_ptr == &p->cpus_mask (schedulers test it to see whether the affinity is the task's own);
        // its bits are read through the cpumask kfuncs, not directly.
        new("cpus_mask", CpusMaskOffset, 32, false, Struct: "cpumask", Task: TaskField.CpusMask),
        // The dynamic priorities: static_prio's value, since the model has no RT/deadline tasks and no priority
        // inheritance (scx's rt_or_dl_task() reads prio < MAX_RT_PRIO: false for every model task).
        new("prio", 184, 4, true, Task: TaskField.Prio),
        new("normal_prio", 188, 4, true, Task: TaskField.Prio),
    ]);

    public static readonly ModelStruct Cpumask = new("cpumask", 32, []);

    /// <summary>
    /// Fields of modelled structs that every kernel has and the model deliberately leaves out, with why: the object loads
    /// (libbpf resolves them against the kernel), and a run that reaches one stops there at a model limit. Any other
    /// missing field is a relocation libbpf could not resolve either: a load error, or a poisoned path.
    /// </summary>
    public static readonly IReadOnlyDictionary<(string Struct, string Field), string> LeftOut = new Dictionary<(string, string), string>
    {
        [("task_struct", "cgroups")] = "the model has no css_set (its one cgroup, the root, is reached through ops.init_task's and ops.cgroup_init's arguments and the cgroup kfuncs)",
    };

    /// <summary>
    /// Structs the model has only a few fields of, standing for a kernel object it keeps only in part: any other field is
    /// one every kernel has, so the object loads and a run that reaches the field stops at a model limit (as for
    /// <see cref="LeftOut"/>). struct cgroup: the model has the root cgroup alone (scx_lavd's cgroup bandwidth library
    /// walks a hierarchy through css fields when cpu.max is in use; scx_lavd leaves it off by default).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> PartlyModelled = new Dictionary<string, string>
    {
        ["cgroup"] = "the model has one cgroup, the root, and only its kernfs node and level",
    };

    /// <summary>
    /// struct rq, as far as a program reaches it through scx_bpf_cpu_rq(): its current task (read unlocked, a read of
    /// the CPU's state) and its CPU number. Every other field does not exist in the model (a load error naming it).
    /// </summary>
    public static readonly ModelStruct Rq = new("rq", 56,
    [
        new("curr", RqCurr, 8, false),
        new("cpu", RqCpu, 4, true),
        // The rq clocks (scx's scx_clock_task()/scx_clock_pelt(), scx_lavd): the model keeps one clock, the one
        // scx_bpf_now() reads (which the kernel takes from the rq clock too), as if update_rq_clock() had just run; no
        // IRQ or steal time is accounted and every CPU runs at full capacity, so clock_task and clock_pelt equal it.
        new("clock", RqClock, 8, false),
        new("clock_task", RqClockTask, 8, false),
        new("clock_pelt", RqClockPelt, 8, false),
        new("lost_idle_time", RqLostIdleTime, 8, false),
        new("prev_steal_time_rq", RqPrevStealTime, 8, false),
    ]);

    public const int RqCurr = 0, RqCpu = 8, RqClock = 16, RqClockTask = 24, RqClockPelt = 32, RqLostIdleTime = 40, RqPrevStealTime = 48;

    /// <summary>
    /// struct scx_event_stats as scx_bpf_events() fills it: one s64 per kernel counter the model keeps, in ScxEvent
    /// order (<see cref="Stepping.ScxEvents.KernelName"/>). The kernel's others (SCX_EV_BYPASS_DURATION,
    /// SCX_EV_BYPASS_ACTIVATE, …) do not exist here: scx's scx_read_event() reads them as 0 through
    /// bpf_core_field_exists(); a direct read is a load error naming the field.
    /// </summary>
    public static readonly ModelStruct ScxEventStats = new("scx_event_stats", 8 * Stepping.ScxEvents.KernelCount,
        [.. Enumerable.Range(0, Stepping.ScxEvents.KernelCount).Select(i => new ModelField(Stepping.ScxEvents.KernelName(((Stepping.ScxEvent)i).ToString())!, 8 * i, 8, true))]);

    /// <summary>
    /// What ops.exit() gets: the exit kind, exit_code, and reason/msg/dump pointers. The model
    /// hands empty strings for reason, msg and dump (docs/bpf.md): only user space reads them.
    /// </summary>
    public static readonly ModelStruct ScxExitInfo = new("scx_exit_info", ExitInfoSize,
    [
        new("kind", 0, 4, false),
        new("exit_code", 8, 8, true),
        new("reason", 16, 8, false),
        new("msg", 24, 8, false),
        new("dump", 32, 8, false),
    ]);

    /// <summary>
    /// ops.init_task()'s second argument: fork false (the model's tasks exist at load) and the task's cgroup, the root
    /// (the model is a CONFIG_EXT_GROUP_SCHED kernel, as distributions build it, with no cgroup but the root).
    /// </summary>
    public static readonly ModelStruct ScxInitTaskArgs = new("scx_init_task_args", 16,
    [
        new("fork", 0, 1, false),
        new("cgroup", InitTaskArgsCgroup, 8, false),
    ]);

    public const int InitTaskArgsCgroup = 8;

    /// <summary>
    /// struct cgroup, for the one cgroup the model has: the root (level 0), whose kernfs node carries its id. Its other
    /// fields do not exist here (a load error naming the field, or a poisoned path).
    /// </summary>
    public static readonly ModelStruct Cgroup = new("cgroup", 16,
    [
        new("kn", CgroupKn, 8, false),
        new("level", CgroupLevel, 4, true),
    ]);

    public const int CgroupKn = 0, CgroupLevel = 8;

    /// <summary>struct kernfs_node: the id (cgroup_id(); 1 for the root cgroup of the unified hierarchy).</summary>
    public static readonly ModelStruct KernfsNode = new("kernfs_node", 8, [new("id", 0, 8, false)]);

    /// <summary>
    /// ops.cgroup_init()'s second argument for the root cgroup, as scx_tg_init() set it: cpu.weight 100
    /// (CGROUP_WEIGHT_DFL), the default bandwidth period (100 ms), no quota (RUNTIME_INF) and no burst.
    /// </summary>
    public static readonly ModelStruct ScxCgroupInitArgs = new("scx_cgroup_init_args", 32,
    [
        new("weight", CgroupArgsWeight, 4, false),
        new("bw_period_us", CgroupArgsPeriod, 8, false),
        new("bw_quota_us", CgroupArgsQuota, 8, false),
        new("bw_burst_us", CgroupArgsBurst, 8, false),
    ]);

    public const int CgroupArgsWeight = 0, CgroupArgsPeriod = 8, CgroupArgsQuota = 16, CgroupArgsBurst = 24;

    /// <summary>ops.exit_task()'s second argument (cancelled: false).</summary>
    public static readonly ModelStruct ScxExitTaskArgs = new("scx_exit_task_args", 1,
    [
        new("cancelled", 0, 1, false),
    ]);

    /// <summary>v6.19's packed arguments of __scx_bpf_select_cpu_and() (the program fills them on its stack).</summary>
    public static readonly ModelStruct ScxSelectCpuAndArgs = new("scx_bpf_select_cpu_and_args", 24,
    [
        new("prev_cpu", 0, 4, true),
        new("wake_flags", 8, 8, false),
        new("flags", 16, 8, false),
    ]);

    /// <summary>v6.19's packed arguments of __scx_bpf_dsq_insert_vtime().</summary>
    public static readonly ModelStruct ScxDsqInsertVtimeArgs = new("scx_bpf_dsq_insert_vtime_args", 32,
    [
        new("dsq_id", 0, 8, false),
        new("slice", 8, 8, false),
        new("vtime", 16, 8, false),
        new("enq_flags", 24, 8, false),
    ]);

    /// <summary>scx_exit_info's fields, then one NUL byte: the empty string its pointers point to.</summary>
    public const int ExitInfoSize = 40, ExitInfoEmptyString = 40;

    /// <summary>
    /// The kernel's atomic types (include/linux/types.h: a struct of one counter since 2.6), which scx's arena spin lock
    /// reaches through CO-RE (vmlinux.h marks every struct preserve_access_index) on memory of the program's own.
    /// </summary>
    public static readonly ModelStruct AtomicT = new("atomic_t", 4, [new("counter", 0, 4, true)]);
    public static readonly ModelStruct Atomic64T = new("atomic64_t", 8, [new("counter", 0, 8, true)]);
    public static readonly ModelStruct AtomicLongT = new("atomic_long_t", 8, [new("counter", 0, 8, true)]);

    public static readonly IReadOnlyDictionary<string, ModelStruct> Structs = new Dictionary<string, ModelStruct>
    {
        [AtomicT.Name] = AtomicT,
        [Atomic64T.Name] = Atomic64T,
        [AtomicLongT.Name] = AtomicLongT,
        [TaskStruct.Name] = TaskStruct,
        [SchedExtEntity.Name] = SchedExtEntity,
        [SchedEntity.Name] = SchedEntity,
        [Cpumask.Name] = Cpumask,
        [Rq.Name] = Rq,
        [ScxEventStats.Name] = ScxEventStats,
        [ScxExitInfo.Name] = ScxExitInfo,
        [ScxInitTaskArgs.Name] = ScxInitTaskArgs,
        [Cgroup.Name] = Cgroup,
        [KernfsNode.Name] = KernfsNode,
        [ScxCgroupInitArgs.Name] = ScxCgroupInitArgs,
        [ScxExitTaskArgs.Name] = ScxExitTaskArgs,
        [ScxSelectCpuAndArgs.Name] = ScxSelectCpuAndArgs,
        [ScxDsqInsertVtimeArgs.Name] = ScxDsqInsertVtimeArgs,
    };

    /// <summary>The task field at byte <paramref name="offset"/> of a task_struct, or null.</summary>
    public static (TaskField Field, int Size, int Within)? TaskFieldAt(int offset)
    {
        foreach (var f in TaskStruct.Fields)
        {
            if (f.Struct != null)
            {
                var s = Structs[f.Struct];
                if (offset < f.Offset || offset >= f.Offset + s.Size) continue;
                if (s.Fields.Length == 0 && f.Task is { } whole) return (whole, s.Size, offset - f.Offset);
                foreach (var g in s.Fields)
                    if (offset >= f.Offset + g.Offset && offset < f.Offset + g.Offset + g.Size) return (g.Task!.Value, g.Size, offset - f.Offset - g.Offset);
                return null;
            }
            var len = f.Size * Math.Max(1, f.ArrayLen);
            if (offset >= f.Offset && offset < f.Offset + len) return (f.Task!.Value, len, offset - f.Offset);
        }
        return null;
    }
}
