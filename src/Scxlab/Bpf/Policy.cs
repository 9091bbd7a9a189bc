using Scxlab.Kernel;

namespace Scxlab.Bpf;

/// <summary>A task as a policy sees it (a <c>struct task_struct *</c>). <see cref="None"/> is NULL.</summary>
public readonly record struct TaskRef(int Index)
{
    public static TaskRef None => new(-1);
    public bool IsNone => Index < 0;
    public override string ToString() => IsNone ? "NULL" : $"task#{Index}";
}

/// <summary>A map lookup/pop result: <c>Found</c> is false where BPF gets NULL or -ENOENT.</summary>
public readonly record struct MapValue(bool Found, long Value);

/// <summary><c>enum scx_ops_flags</c> the model honours.</summary>
[Flags]
public enum OpsFlags : long
{
    None = 0,
    KeepBuiltinIdle = 1L << 0,     // SCX_OPS_KEEP_BUILTIN_IDLE
    EnqLast = 1L << 1,             // SCX_OPS_ENQ_LAST
    EnqExiting = 1L << 2,          // SCX_OPS_ENQ_EXITING
    SwitchPartial = 1L << 3,       // SCX_OPS_SWITCH_PARTIAL
    EnqMigrationDisabled = 1L << 4,// SCX_OPS_ENQ_MIGRATION_DISABLED
    /// <summary>Per-node idle cpumasks: the model has one node, so this only decides which idle kfuncs are allowed.</summary>
    BuiltinIdlePerNode = 1L << 6,  // SCX_OPS_BUILTIN_IDLE_PER_NODE
    /// <summary>7.1: every insert into a local DSQ through a kfunc (insert, move, move_to_local) is SCX_ENQ_IMMED.</summary>
    AlwaysEnqImmed = 1L << 7,      // SCX_OPS_ALWAYS_ENQ_IMMED
}

/// <summary>Wake flags passed to ops.select_cpu (<c>SCX_WAKE_*</c>).</summary>
[Flags]
public enum WakeFlags : long
{
    None = 0,
    Fork = 0x04,   // SCX_WAKE_FORK
    Ttwu = 0x08,   // SCX_WAKE_TTWU
    Sync = 0x10,   // SCX_WAKE_SYNC
}

/// <summary>The <c>sched_ext_ops</c> callbacks, as the model names them.</summary>
public enum ScxCallback : byte
{
    Init,
    SelectCpu,
    Enqueue,
    Dequeue,
    Dispatch,
    Tick,
    Runnable,
    Running,
    Stopping,
    Quiescent,
    SetWeight,
    SetCpumask,
    CpuRelease,
    /// <summary>ops.update_idle(cpu, idle): the CPU enters or leaves the idle task (not for idle-to-idle refreshes).</summary>
    UpdateIdle,
    Exit,
    /// <summary>A BPF timer's callback (bpf_timer_set_callback), run when the timer fires; not a sched_ext_ops member.</summary>
    Timer,
    /// <summary>ops.cpu_acquire(cpu, NULL): the CPU is back from a higher sched class (balance_one(), after ops.cpu_release).</summary>
    CpuAcquire,
    /// <summary>ops.disable(p): p leaves the scheduler — here at its death (sched_ext_dead() → scx_disable_task()).</summary>
    Disable,
    /// <summary>ops.exit_task(p, args): p is freed from the scheduler's point of view (sched_ext_dead() → scx_exit_task()).</summary>
    ExitTask,
}

public static class ScxCallbacks
{
    /// <summary>The ops field name, as kernel messages print it (<c>ops.select_cpu()</c>).</summary>
    public static string OpName(ScxCallback c) => c switch
    {
        ScxCallback.Init => "init",
        ScxCallback.SelectCpu => "select_cpu",
        ScxCallback.Enqueue => "enqueue",
        ScxCallback.Dequeue => "dequeue",
        ScxCallback.Dispatch => "dispatch",
        ScxCallback.Tick => "tick",
        ScxCallback.Runnable => "runnable",
        ScxCallback.Running => "running",
        ScxCallback.Stopping => "stopping",
        ScxCallback.Quiescent => "quiescent",
        ScxCallback.SetWeight => "set_weight",
        ScxCallback.SetCpumask => "set_cpumask",
        ScxCallback.CpuRelease => "cpu_release",
        ScxCallback.UpdateIdle => "update_idle",
        ScxCallback.Exit => "exit",
        ScxCallback.Timer => "timer_callback",
        ScxCallback.CpuAcquire => "cpu_acquire",
        ScxCallback.Disable => "disable",
        ScxCallback.ExitTask => "exit_task",
        _ => throw new System.Diagnostics.UnreachableException($"callback {(int)c}"),
    };

    /// <summary>How messages name the callback: <c>ops.NAME</c>, or <c>bpf_timer callback</c> (not a sched_ext_ops member).</summary>
    public static string Label(ScxCallback c) => c == ScxCallback.Timer ? "bpf_timer callback" : $"ops.{OpName(c)}";
}

/// <summary>
/// A BPF scheduler written in C#: override the <c>sched_ext_ops</c> callbacks you implement
/// (an absent callback takes the kernel's default path, exactly as an unset ops field does).
/// Like a BPF program, a policy keeps no state in C# fields beyond the map handles it
/// declares in <see cref="DeclareMaps"/>: everything persistent lives in model-owned maps,
/// so the world stays a value that can be copied, hashed and replayed.
/// </summary>
/// <remarks>
/// Each callback receives a context exposing exactly the kfuncs the 7.1 kernel allows there
/// (the verifier's per-op filter); every kfunc, map operation and task-field read is an
/// interleaving point and must be awaited.
/// </remarks>
public abstract class ScxOps
{
    /// <summary><c>ops.name</c>.</summary>
    public virtual string Name => GetType().Name;

    /// <summary><c>ops.flags</c>.</summary>
    public virtual OpsFlags Flags => OpsFlags.None;

    /// <summary><c>ops.dispatch_max_batch</c> (0 = SCX_DSP_DFL_MAX_BATCH).</summary>
    public virtual int DispatchMaxBatch => 0;

    /// <summary><c>ops.timeout_ms</c> (0 = 30 s).</summary>
    public virtual int TimeoutMs => 0;

    /// <summary>
    /// Whether the policy reads p->nvcsw / p->nivcsw: only then does the model count context switches (counters
    /// nobody reads would split states that have the same future).
    /// </summary>
    public virtual bool CountsContextSwitches => false;

    /// <summary>
    /// Whether the policy reads the kernel's event counters (scx_bpf_events()): only then are they part of the state
    /// (hashed, compared, and in the footprints of the steps that count and read them); otherwise they are statistics.
    /// </summary>
    public virtual bool ReadsEventCounters => false;

    /// <summary>
    /// The kernel-side protocol this policy cannot run without (it calls kfuncs only that protocol
    /// provides), or null when it runs on any. Tools that sweep protocols (<c>scxlab compare</c>)
    /// mark the other cells "not applicable" instead of exploring a certain scheduler exit.
    /// </summary>
    public virtual Protocol? RequiresProtocol => null;

    /// <summary>Declare the maps (done once at load, like map creation before the program runs).</summary>
    public virtual void DeclareMaps(MapBuilder maps) { }

    /// <summary>
    /// Optional ownership query for the checker: does the policy's own state (its maps) hold
    /// task <paramref name="p"/> for later dispatch? Return null when the policy cannot say.
    /// A task in BPF custody that the policy does not hold and no running callback holds is
    /// "forgotten". Must be a pure function of the maps.
    /// </summary>
    public virtual bool? HoldsTask(MapView maps, TaskRef p, long pid) => null;

    public virtual BpfTask Init(InitContext ctx) => BpfTask.CompletedTask;
    public virtual BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags) => prevCpu;
    public virtual BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => BpfTask.CompletedTask;
    public virtual BpfTask Dequeue(TaskContext ctx, TaskRef p, DeqFlags deqFlags) => BpfTask.CompletedTask;
    public virtual BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) => BpfTask.CompletedTask;
    public virtual BpfTask Tick(TaskContext ctx, TaskRef p) => BpfTask.CompletedTask;
    public virtual BpfTask Runnable(TaskContext ctx, TaskRef p, EnqFlags enqFlags) => BpfTask.CompletedTask;
    public virtual BpfTask Running(TaskContext ctx, TaskRef p) => BpfTask.CompletedTask;
    public virtual BpfTask Stopping(TaskContext ctx, TaskRef p, bool runnable) => BpfTask.CompletedTask;
    public virtual BpfTask Quiescent(TaskContext ctx, TaskRef p, DeqFlags deqFlags) => BpfTask.CompletedTask;
    public virtual BpfTask SetWeight(TaskContext ctx, TaskRef p, int weight) => BpfTask.CompletedTask;
    public virtual BpfTask SetCpumask(TaskContext ctx, TaskRef p) => BpfTask.CompletedTask;
    public virtual BpfTask CpuRelease(CpuReleaseContext ctx, int cpu) => BpfTask.CompletedTask;
    public virtual BpfTask CpuAcquire(TaskContext ctx, int cpu) => BpfTask.CompletedTask;
    public virtual BpfTask Disable(TaskContext ctx, TaskRef p) => BpfTask.CompletedTask;
    public virtual BpfTask ExitTask(TaskContext ctx, TaskRef p) => BpfTask.CompletedTask;
    /// <summary>
    /// ops.update_idle(cpu, idle): <paramref name="cpu"/> switches to the idle task (idle) or away from it, with its rq
    /// locked, after the built-in idle mask was updated. Implementing it turns built-in idle tracking off unless
    /// <see cref="OpsFlags.KeepBuiltinIdle"/> is set (the idle kfuncs then end the scheduler, as in the kernel).
    /// </summary>
    public virtual BpfTask UpdateIdle(TaskContext ctx, int cpu, bool idle) => BpfTask.CompletedTask;
    public virtual BpfTask Exit(BpfContext ctx, ExitKind kind) => BpfTask.CompletedTask;

    /// <summary>
    /// The policy's timers (struct bpf_timer instances in its maps), each as the world map word where the
    /// timer's state starts (available after <see cref="DeclareMaps"/>). Each gets a timer actor that may fire
    /// whenever the timer is armed (the word after it is non-zero); firing runs <see cref="Timer"/>.
    /// </summary>
    public virtual IReadOnlyList<int> TimerWords => [];

    /// <summary>The actor name for timer <paramref name="slot"/> in traces, or null for the default (bpf_timer, bpf_timerN).</summary>
    public virtual string? TimerActorName(int slot) => null;

    /// <summary>Timer <paramref name="slot"/> (an index into <see cref="TimerWords"/>) fired: run its callback.</summary>
    public virtual BpfTask Timer(BpfContext ctx, int slot) => BpfTask.CompletedTask;
}

/// <summary>A policy whose callbacks are not known from its C# overrides (a loaded BPF object).</summary>
public interface IDeclaresCallbacks
{
    bool Implements(ScxCallback cb);
}

/// <summary>Which callbacks a policy overrides: the kernel's <c>SCX_HAS_OP()</c>.</summary>
public sealed class OpsTable
{
    private readonly bool[] _has = new bool[Enum.GetValues<ScxCallback>().Length];

    public OpsTable(ScxOps ops)
    {
        if (ops is IDeclaresCallbacks d)
        {
            // A loaded BPF object overrides every method; its struct_ops map says which ops are set.
            foreach (var cb in Enum.GetValues<ScxCallback>()) _has[(int)cb] = d.Implements(cb);
            return;
        }
        var t = ops.GetType();
        foreach (var cb in Enum.GetValues<ScxCallback>())
        {
            var name = cb.ToString();
            var m = t.GetMethods().FirstOrDefault(m => m.Name == name && m.IsVirtual);
            _has[(int)cb] = m != null && m.GetBaseDefinition().DeclaringType == typeof(ScxOps) && m.DeclaringType != typeof(ScxOps);
        }
    }

    public bool Has(ScxCallback cb) => _has[(int)cb];
}
