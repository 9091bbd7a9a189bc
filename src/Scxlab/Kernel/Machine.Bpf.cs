using Scxlab.Bpf;
using Scxlab.Stepping;

namespace Scxlab.Kernel;

/// <summary>Policy callbacks (replayed) and the kfuncs that run inside one step.</summary>
public sealed partial class Machine
{
    private static readonly int CallbackKinds = Enum.GetValues<ScxCallback>().Length;

    private BpfContext ContextFor(int actor, ScxCallback cb) => _contexts[actor * CallbackKinds + (int)cb];

    /// <summary>
    /// SCX_CALL_OP(): push a callback frame if the policy implements <paramref name="cb"/>. Returns
    /// false (and the caller continues at <paramref name="returnPc"/> in the same step) when the op is absent.
    /// </summary>
    private bool Invoke(ref Frame caller, int returnPc, ScxCallback cb, int task, int cpu, long a0 = 0, long a1 = 0)
    {
        caller.Pc = returnPc;
        if (!Has.Has(cb)) return false;
        var logStart = Act.LogLen;
        ref var f = ref Push(PathId.Callback);
        f.I0 = (int)cb;
        f.Task = task;
        f.Cpu = cpu;
        f.L0 = a0;
        f.L1 = a1;
        f.LogStart = logStart;
        f.I2 = 1; // first run: stop at the first kfunc without executing it
        Trace?.Note(_cur, task >= 0 ? $"ops.{ScxCallbacks.OpName(cb)}({TaskName(task)})" : $"ops.{ScxCallbacks.OpName(cb)}(cpu={cpu})");
        return true;
    }

    private void RunCallbackFrame(ref Frame f)
    {
        var cb = (ScxCallback)f.I0;
        bool live;
        if (f.I1 != 0)
        {
            // A deferred kfunc (a kernel path) just returned: record its result, then stop at the next call.
            AppendLogRaw((CallKind)f.I1, Act.Ret);
            f.I1 = 0;
            live = false;
        }
        else if (f.I2 == 1)
        {
            f.I2 = 0;
            live = false;
        }
        else
        {
            live = true;
        }

        var recorded = (Act.LogLen - f.LogStart) / 2;
        if (live && recorded >= Config.CallBudget)
        {
            // A BPF program always ends (the verifier bounds it), so there the budget is only the model's bound: a gap in
            // coverage. A C# policy may loop forever, which the kernel would not load: there it is the policy's fault.
            ScxExit(ExitKind.Error, 0, $"{ScxCallbacks.Label(cb)}() exceeded its step budget ({Config.CallBudget} calls; a model bound: bounds: {{ call_budget: N }})",
                modelLimit: Ops is BpfObject.BpfObjectPolicy);
            EndCallback(ref f, DefaultReturn(ref f));
            return;
        }

        var ctx = ContextFor(_cur, cb);
        ctx.Bind(this, _cur, TopFrameIndex, cb, _cur * World.LogCapacity + f.LogStart, recorded, live);
        RunningContext = ctx;
        BpfTaskStatus status;
        Exception? error = null;
        long ret = 0;
        CallbackGuard.Enter(this, cb);
        try
        {
            (status, error, ret) = InvokeOps(cb, ctx, ref f);
        }
        catch (Exception e)
        {
            status = BpfTaskStatus.Faulted;
            error = e;
        }
        finally
        {
            CallbackGuard.Exit(this);
            RunningContext = null;
            ctx.Active = false;
        }

        if (FaultPending || status == BpfTaskStatus.Faulted) ReleaseHeldBpfLocks();
        if (FaultPending)
        {
            FaultPending = false;
            EndCallback(ref f, DefaultReturn(ref f));
            return;
        }
        switch (status)
        {
            case BpfTaskStatus.Faulted when error is ModelLimitException limit:
                ModelLimit($"{ScxCallbacks.Label(cb)}(): {limit.Message}");
                EndCallback(ref f, DefaultReturn(ref f));
                return;
            case BpfTaskStatus.Faulted:
                var msg = error is KernelErrorException ke
                    ? ke.Message
                    : error is PolicyMisuseException pm
                    ? $"{ScxCallbacks.Label(cb)}(): {pm.Message}"
                    : error is PolicyStackOverflowException so
                    ? $"{ScxCallbacks.Label(cb)}() failed: {so.Message}"
                    : $"{ScxCallbacks.Label(cb)}() failed: {error!.GetType().Name}: {error.Message}";
                ScxExit(error is PolicyMisuseException or KernelErrorException ? ExitKind.Error : ExitKind.ErrorBpf, 0, msg);
                EndCallback(ref f, DefaultReturn(ref f));
                return;
            case BpfTaskStatus.Completed:
                if (ctx.Suspended || ctx.Misused)
                {
                    ScxError($"{ScxCallbacks.Label(cb)}() returned without awaiting {BpfContext.KfuncName(ctx.PendingKind)}(): every kfunc must be awaited");
                    EndCallback(ref f, DefaultReturn(ref f));
                    return;
                }
                EndCallback(ref f, ret);
                return;
            case BpfTaskStatus.Suspended:
                if (ctx.Misused)
                {
                    ScxError($"{ScxCallbacks.Label(cb)}() called a kfunc without awaiting {BpfContext.KfuncName(ctx.PendingKind)}()");
                    EndCallback(ref f, DefaultReturn(ref f));
                    return;
                }
                if (ctx.DeferredStarted) return; // the kfunc's kernel frame is on top now; keep running it
                if (ctx.PendingKind == CallKind.SpinLock)
                {
                    var h = MapLayout.Maps[(int)ctx.PendingA].Handle;
                    f.Wait = WaitKind.BpfSpinLock;
                    f.WaitArg = h.Offset;
                }
                else if (ctx.SpinRead && ctx.PendingKind is CallKind.ArrayGet or CallKind.ArenaLoad or CallKind.MemWrite or CallKind.ArenaWrite)
                {
                    // The program spins on the word it just read, or failed to swap (BpfObject's spin check): it waits
                    // for the word to change.
                    f.Wait = WaitKind.BpfSpinRead;
                    f.WaitArg = (int)ctx.PendingA | ctx.PendingKind switch
                    {
                        CallKind.ArenaLoad or CallKind.ArenaWrite => SpinReadArena,
                        CallKind.MemWrite => SpinReadSubword,
                        _ => 0,
                    };
                    f.WaitWord = ctx.PendingB;
                    Trace?.Note(_cur, "  (spinning: waits until the word it reads changes)");
                }
                _stepDone = true;
                return;
            case BpfTaskStatus.Pending:
            default:
                throw new System.Diagnostics.UnreachableException($"callback ended in state {status}");
        }
    }

    /// <summary>
    /// The kfunc the actor's top callback frame will call next (None if the top frame is not a
    /// suspended callback). Found by a replay that executes nothing, so it has no effect.
    /// </summary>
    public CallKind PeekPendingCall(int actor)
    {
        ref var act = ref World.Actors[actor];
        if (act.Depth == 0) return CallKind.None;
        ref var f = ref FrameAt(actor, act.Depth - 1);
        if (f.Path != PathId.Callback || f.I1 != 0 || f.I2 == 1) return CallKind.None;
        var cb = (ScxCallback)f.I0;
        var ctx = ContextFor(actor, cb);
        var saveCur = _cur;
        _cur = actor;
        ctx.Bind(this, actor, actor * World.MaxDepth + act.Depth - 1, cb, actor * World.LogCapacity + f.LogStart, (act.LogLen - f.LogStart) / 2, live: false);
        RunningContext = ctx;
        try
        {
            InvokeOps(cb, ctx, ref f);
        }
        catch (Exception)
        {
            return CallKind.None;
        }
        finally
        {
            RunningContext = null;
            ctx.Active = false;
            _cur = saveCur;
            FaultPending = false;
        }
        return ctx.PendingKind;
    }

    private static long DefaultReturn(ref Frame f) => (ScxCallback)f.I0 == ScxCallback.SelectCpu ? f.Cpu : 0;

    private void EndCallback(ref Frame f, long ret)
    {
        if (TopFrameIndex != World.Frames.Length && !System.Runtime.CompilerServices.Unsafe.AreSame(ref f, ref Top))
            throw new InvalidOperationException("callback frame is not on top at its end");
        World.SetLogLen(_cur, f.LogStart);
        Return(ret);
    }

    private (BpfTaskStatus, Exception?, long) InvokeOps(ScxCallback cb, BpfContext ctx, ref Frame f)
    {
        var p = new TaskRef(f.Task);
        BpfTask t;
        switch (cb)
        {
            case ScxCallback.SelectCpu:
                var ts = Ops.SelectCpu((SelectCpuContext)ctx, p, f.Cpu, (WakeFlags)f.L0);
                return (ts.Status, ts.Error, ts.Status == BpfTaskStatus.Completed ? ts.Result : 0);
            case ScxCallback.Init: t = Ops.Init((InitContext)ctx); break;
            case ScxCallback.Enqueue: t = Ops.Enqueue((EnqueueContext)ctx, p, (EnqFlags)f.L0); break;
            case ScxCallback.Dequeue: t = Ops.Dequeue((TaskContext)ctx, p, (DeqFlags)f.L0); break;
            case ScxCallback.Dispatch: t = Ops.Dispatch((DispatchContext)ctx, f.Cpu, p); break;
            case ScxCallback.Tick: t = Ops.Tick((TaskContext)ctx, p); break;
            case ScxCallback.Runnable: t = Ops.Runnable((TaskContext)ctx, p, (EnqFlags)f.L0); break;
            case ScxCallback.Running: t = Ops.Running((TaskContext)ctx, p); break;
            case ScxCallback.Stopping: t = Ops.Stopping((TaskContext)ctx, p, f.L0 != 0); break;
            case ScxCallback.Quiescent: t = Ops.Quiescent((TaskContext)ctx, p, (DeqFlags)f.L0); break;
            case ScxCallback.SetWeight: t = Ops.SetWeight((TaskContext)ctx, p, (int)f.L0); break;
            case ScxCallback.SetCpumask: t = Ops.SetCpumask((TaskContext)ctx, p); break;
            case ScxCallback.CpuRelease: t = Ops.CpuRelease((CpuReleaseContext)ctx, f.Cpu); break;
            case ScxCallback.CpuAcquire: t = Ops.CpuAcquire((TaskContext)ctx, f.Cpu); break;
            case ScxCallback.Disable: t = Ops.Disable((TaskContext)ctx, p); break;
            case ScxCallback.ExitTask: t = Ops.ExitTask((TaskContext)ctx, p); break;
            case ScxCallback.UpdateIdle: t = Ops.UpdateIdle((TaskContext)ctx, f.Cpu, f.L0 != 0); break;
            case ScxCallback.Exit: t = Ops.Exit(ctx, (ExitKind)f.L0); break;
            case ScxCallback.Timer: t = Ops.Timer(ctx, (int)f.L0); break;
            default: throw new System.Diagnostics.UnreachableException($"callback {cb}");
        }
        return (t.Status, t.Error, 0);
    }

    /// <summary>
    /// A callback the model stopped (a fault, a misuse, a model limit) may hold bpf_spin_locks: the kernel's programs
    /// cannot (the verifier refuses an exit under a lock), and the scheduler is going down, so they are let go — else
    /// the teardown (or the next callback) would wait on a lock no one will release.
    /// </summary>
    private void ReleaseHeldBpfLocks()
    {
        foreach (var (_, h) in MapLayout.Maps)
            if (h.Kind == MapKind.SpinLock && World.Maps[h.Offset] == _cur + 1)
            {
                World.Maps[h.Offset] = 0;
                TouchMap(h.Id, true);
            }
    }

    internal void AppendLog(BpfContext ctx, CallKind k, long v)
    {
        if (ctx.ActorId != _cur) throw new InvalidOperationException("kfunc result recorded for another actor");
        AppendLogRaw(k, v);
        if (Trace == null) return;
        var src = ctx.SourceMap?.SourceLine(ctx.SourcePc) is { } line ? $"  [{line}]" : "";
        if (ctx.SourceMap != null && k is CallKind.ArrayGet or CallKind.ArraySet or CallKind.MemWrite)
        {
            // A BPF object's load or store of shared memory: name the map and byte offset, not a map helper.
            var name = (ulong)ctx.LiveA < (ulong)MapLayout.Maps.Count ? MapLayout.Maps[(int)ctx.LiveA].Name : $"map{ctx.LiveA}";
            var off = 8 * (ctx.LiveB & 0xffffffff) + ((ctx.LiveB >> 32) & 0xff);
            var what = k == CallKind.ArrayGet ? "load" : k == CallKind.ArraySet ? "store" : ((ctx.LiveB >> 48) & 0xff) == 0 ? "store" : "atomic";
            Trace.Note(_cur, $"  {what} {name}+{off}{(k == CallKind.ArrayGet ? $" = {v}" : "")}{src}");
            return;
        }
        if (ctx.SourceMap != null && k is CallKind.ArenaLoad or CallKind.ArenaWrite)
        {
            // Page and byte of the arena; an allocation or free names its pages.
            var key = ctx.LiveB;
            var (pgoff, at, op) = (key & 0xffffffff, (key >> 32) & 0xfff, (key >> 52) & 0xff);
            var what = k == CallKind.ArenaLoad ? $"arena load page {pgoff}+{at} = {v}"
                : op == BpfObject.ArenaOps.OpAlloc ? $"bpf_arena_alloc_pages({(pgoff == 0 ? "anywhere" : $"at page {pgoff - 1}")}) = {(v < 0 ? "NULL" : $"page {v}")}"
                : op == BpfObject.ArenaOps.OpFree ? $"bpf_arena_free_pages(from page {pgoff})"
                : $"arena {(op == 0 ? "store" : "atomic")} page {pgoff}+{at}";
            Trace.Note(_cur, $"  {what}{src}");
            return;
        }
        Trace.Note(_cur, $"  {BpfContext.KfuncName(k)}({FormatArgs(ctx, k)}) = {FormatResult(k, v)}{src}");
    }

    private void AppendLogRaw(CallKind k, long v)
    {
        ref var act = ref Act;
        var at = _cur * World.LogCapacity + act.LogLen;
        World.Logs[at] = (long)k;
        World.Logs[at + 1] = v;
        act.LogLen += 2;
    }

    private string FormatArgs(BpfContext ctx, CallKind k)
    {
        var a = ctx.LiveA;
        var b = ctx.LiveB;
        string Map() => (ulong)a < (ulong)MapLayout.Maps.Count ? MapLayout.Maps[(int)a].Name : $"map{a}";
        return k switch
        {
            CallKind.DsqInsert or CallKind.DsqInsertVtime or CallKind.DsqInsertCookie => $"{TaskName((int)a)}, {DsqId.Name((ulong)b)}",
            CallKind.TaskTestCpu => $"{b}, {TaskName((int)a)}->cpus_ptr",
            CallKind.TaskSwitchCount => $"{TaskName((int)a)}, {(b != 0 ? "nvcsw" : "nivcsw")}",
            CallKind.TaskCpu or CallKind.TaskNrCpusAllowed or CallKind.TaskWeight or CallKind.TaskScxFlags or CallKind.TaskRuntime or CallKind.TaskDsqVtime or CallKind.TaskSlice
                or CallKind.TaskMigrationDisabled or CallKind.TaskRunning or CallKind.TaskPid or CallKind.TaskGetCookie or CallKind.GhostTaskBarrier => TaskName((int)a),
            CallKind.MapPush or CallKind.ListRemove or CallKind.ListContains or CallKind.HashLookup or CallKind.HashUpdate or CallKind.HashDelete
                or CallKind.ArrayGet or CallKind.ArraySet or CallKind.ArrayAdd or CallKind.CpumaskTest or CallKind.CpumaskSet or CallKind.CpumaskClear => $"{Map()}, {b}",
            CallKind.MapPop or CallKind.MapPeek or CallKind.SpinLock or CallKind.SpinUnlock => Map(),
            CallKind.TaskStorageGet or CallKind.TaskStorageSet => $"{Map()}, {TaskName((int)(b >> 16))}, {b & 0xffff}",
            CallKind.KickCpu => $"{a}, {(KickFlags)b}",
            CallKind.DsqNrQueued or CallKind.DsqPeek or CallKind.CreateDsq or CallKind.DestroyDsq or CallKind.DsqReenq => DsqId.Name((ulong)a),
            _ => "",
        };
    }

    private string FormatResult(CallKind k, long v) => k switch
    {
        CallKind.MapPop or CallKind.MapPeek or CallKind.HashLookup => v == 0 ? "none" : $"{(v << 1) >> 1}",
        _ => v.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>A misuse only run time can see: end the scheduler like scx_error and stop the callback.</summary>
    internal void PolicyMisuse(BpfContext ctx, string message)
    {
        ScxError(message);
        FaultPending = true;
    }

    // ================================================================ kfuncs (immediate)

    private bool ValidTask(BpfContext ctx, int p, string kfunc)
    {
        if (p >= 0 && p < World.Tasks.Length) return true;
        ScxError($"{kfunc}() called with NULL task");
        return false;
    }

    internal long KfTaskTestCpu(BpfContext ctx, int p, int cpu)
    {
        if (!ValidTask(ctx, p, "bpf_cpumask_test_cpu")) return 0;
        return TkR(p).CpusPtr.Test(cpu) ? 1 : 0;
    }

    private const long ScxTaskEnabled = 3;
    private const int ScxTaskStateShift = 8; // enum scx_task_state, SCX_TASK_STATE_SHIFT

    internal long KfTaskField(BpfContext ctx, int p, CallKind k)
    {
        if (!ValidTask(ctx, p, BpfContext.KfuncName(k))) return 0;
        ref readonly var t = ref TkR(p);
        return k switch
        {
            CallKind.TaskCpu => t.Cpu,
            CallKind.TaskNrCpusAllowed => t.CpusPtr.Weight,
            CallKind.TaskWeight => t.Weight,
            CallKind.TaskDsqVtime => t.DsqVtime,
            CallKind.TaskSlice => t.Slice,
            CallKind.TaskMigrationDisabled => t.MigrationDisabled ? 1 : 0,
            CallKind.TaskRunning => RqR(t.Cpu).Curr == p ? 1 : 0,
            CallKind.TaskPid => Config.Tasks[p].Pid,
            CallKind.TaskRuntime => t.Runtime,
            // SCX_TASK_QUEUED/RESET_RUNNABLE_AT/DEQD_FOR_SLEEP and the reenqueue reason as the paths keep them (not the model-only
            // custody bit), and the task state at SCX_TASK_STATE_SHIFT: SCX_TASK_ENABLED while on sched_ext.
            CallKind.TaskScxFlags => (long)(t.Flags & (TaskFlags.Queued | TaskFlags.ResetRunnableAt | TaskFlags.DeqdForSleep | TaskFlags.Immed | TaskFlags.ReenqReasonMask))
                | (t.Class == SchedClass.Ext ? ScxTaskEnabled << ScxTaskStateShift : 0),
            _ => throw new System.Diagnostics.UnreachableException($"task field {k}"),
        };
    }

    /// <summary>
    /// p->nvcsw / p->nivcsw: kept only for a policy that reads them (<see cref="ScxOps.CountsContextSwitches"/>), so
    /// the counters cannot split states for the others; read 0 otherwise, as no such policy can tell.
    /// </summary>
    internal long KfTaskSwitchCount(BpfContext ctx, int p, bool voluntary)
    {
        if (!ValidTask(ctx, p, "read p->nvcsw")) return 0;
        ref readonly var t = ref TkR(p);
        return voluntary ? t.Nvcsw : t.Nivcsw;
    }

    /// <summary>
    /// p->__state as the task itself sets it: TASK_DEAD (0x80) from do_task_dead() on (an exiting task's last
    /// schedule), TASK_INTERRUPTIBLE (1) from set_current_state() before it blocks until a wakeup, else TASK_RUNNING.
    /// </summary>
    internal long KfTaskRunState(BpfContext ctx, int p)
    {
        if (!ValidTask(ctx, p, "read p->__state")) return 0;
        ref readonly var t = ref TkR(p);
        var blocking = t.WantsSleep || t.Run != RunState.Runnable;
        return !blocking ? 0 : t.Exiting ? 0x80 : 1;
    }

    internal long KfTaskSet(BpfContext ctx, int p, CallKind k, long v)
    {
        if (!ValidTask(ctx, p, BpfContext.KfuncName(k))) return 0;
        ref var t = ref Tk(p);
        if (k == CallKind.TaskSetSlice) t.Slice = v;
        else t.DsqVtime = v;
        return 1;
    }

    /// <summary>scx_bpf_dsq_insert[_vtime]() — scx_dsq_insert_preamble() + scx_dsq_insert_commit() (V-B).</summary>
    internal long KfDsqInsert(BpfContext ctx, int p, ulong dsqId, long slice, long enqFlags, long vtime, bool priq, long cookie)
    {
        if (p < 0 || p >= World.Tasks.Length)
        {
            ScxError("called with NULL task");
            return 0;
        }
        if ((enqFlags & unchecked((long)0xff00_0000_0000_0000UL)) != 0)
        {
            ScxError($"invalid enq_flags 0x{enqFlags:x}");
            return 0;
        }
        if (!VetEnqFlags(dsqId, ref enqFlags)) return 0;
        ref var t = ref Tk(p);
        if (cookie != 0 && !CookieInsertCheck(p, cookie)) return 0;
        // ≤7.1: slice and vtime are written at once, even if the dispatch is later discarded.
        if (slice != 0) t.Slice = slice;
        else if (t.Slice == 0) t.Slice = 1;
        if (priq)
        {
            t.DsqVtime = vtime;
            enqFlags |= (long)EnqFlags.DsqPriq;
        }

        ref var act = ref Act;
        if (act.DdspMarker != 0)
        {
            // mark_direct_dispatch(): an insert from select_cpu/enqueue is a direct dispatch verdict.
            var marker = act.DdspMarker;
            act.DdspMarker = -1;
            if (marker != p + 1)
            {
                if (marker == -1) ScxError($"{TaskName(p)} already direct-dispatched");
                else ScxError($"scheduling for {TaskName(marker - 1)} but trying to direct-dispatch {TaskName(p)}");
                return 1;
            }
            if (t.DdspDsqId != DsqId.Invalid) KernelAssert("WARN_ON_ONCE(ddsp_dsq_id)", $"{TaskName(p)} already has a direct-dispatch verdict");
            t.DdspDsqId = dsqId;
            t.DdspEnqFlags = enqFlags;
            return 1;
        }

        var cb = ctx.Callback;
        if (cb != ScxCallback.Dispatch)
        {
            // The verifier only lets select_cpu/enqueue/dispatch call this; outside their insert window the
            // kernel has no direct-dispatch marker and no dispatch context.
            ScxError($"scx_bpf_dsq_insert() called from ops.{ScxCallbacks.OpName(cb)}() outside a direct-dispatch window");
            return 0;
        }
        var cpu = _actors[_cur].Cpu;
        ref var rq = ref Rq(cpu);
        _fp.Writes |= Bits.Of(Resource.Buffer, cpu);
        if (rq.DspCursor >= DspMaxBatch)
        {
            ScxError("dispatch buffer overflow");
            return 1;
        }
        ref var e = ref Dsp(cpu, rq.DspCursor);
        e.Task = p;
        e.Qseq = OpsWord.Qseq(t.OpsState);
        e.DsqId = dsqId;
        e.EnqFlags = enqFlags;
        e.Cookie = cookie;
        e.AffinityGen = t.AffinityGen;
        rq.DspCursor++;
        return 1;
    }

    internal long KfDispatchNrSlots(BpfContext ctx)
    {
        var cpu = _actors[_cur].Cpu;
        _fp.Reads |= Bits.Of(Resource.Buffer, cpu);
        return DspMaxBatch - RqR(cpu).DspCursor;
    }

    internal long KfDispatchCancel(BpfContext ctx)
    {
        var cpu = _actors[_cur].Cpu;
        ref var rq = ref Rq(cpu);
        _fp.Writes |= Bits.Of(Resource.Buffer, cpu);
        if (rq.DspCursor > 0) rq.DspCursor--;
        else ScxError("dispatch buffer underflow");
        return 1;
    }

    internal long KfKickCpu(BpfContext? ctx, int cpu, KickFlags flags)
    {
        if (cpu < 0 || cpu >= N)
        {
            ScxError($"invalid CPU {cpu}");
            return 0;
        }
        if (Bypassing) return 0;
        var self = _actors[_cur].Cpu;
        ref var rq = ref Rq(self);
        if ((flags & KickFlags.Idle) != 0)
        {
            if ((flags & (KickFlags.Preempt | KickFlags.Wait)) != 0) ScxError("PREEMPT/WAIT cannot be used with SCX_KICK_IDLE");
            rq.CpusToKickIfIdle.Set(cpu);
        }
        else
        {
            rq.CpusToKick.Set(cpu);
            if ((flags & KickFlags.Preempt) != 0) rq.CpusToPreempt.Set(cpu);
            if ((flags & KickFlags.Wait) != 0) rq.CpusToWait.Set(cpu);
        }
        rq.KickIrqWork = true;
        return 1;
    }

    internal int FindUserDsq(ulong dsqId)
    {
        for (var i = 0; i < Config.MaxUserDsqs; i++)
        {
            ref readonly var d = ref DqR(UserSlot(i));
            if (d.Created && !d.Destroyed && d.Id == dsqId) return UserSlot(i);
        }
        return -1;
    }

    /// <summary>scx_bpf_dsq_nr_queued(): the local DSQs and user DSQs; anything else (SCX_DSQ_GLOBAL too) is -ENOENT.</summary>
    internal long KfDsqNrQueued(BpfContext ctx, ulong dsqId)
    {
        int s;
        if (dsqId == DsqId.Local) s = LocalSlot(_actors[_cur].Cpu);
        else if (DsqId.IsLocalOn(dsqId))
        {
            var cpu = (int)(uint)(dsqId & DsqId.LocalCpuMask); // s32 in the kernel
            if (cpu < 0 || cpu >= N)
            {
                ScxError($"invalid CPU {cpu}"); // ops_cpu_valid(sch, cpu, NULL)
                return -2;
            }
            s = LocalSlot(cpu);
        }
        else s = FindUserDsq(dsqId);
        if (s < 0) return -2; // -ENOENT
        _fp.Reads |= Bits.Of(Resource.Dsq, s);
        return DqR(s).Nr;
    }

    internal long KfDsqPeek(BpfContext ctx, ulong dsqId)
    {
        var s = FindUserDsq(dsqId);
        if (s < 0)
        {
            ScxError($"peek on non-existent DSQ 0x{dsqId:x}");
            return -1;
        }
        _fp.Reads |= Bits.Of(Resource.Dsq, s);
        return DqR(s).Head;
    }

    internal long KfCreateDsq(BpfContext ctx, ulong dsqId)
    {
        if (DsqId.IsBuiltin(dsqId)) return 0; // -EINVAL
        if (FindUserDsq(dsqId) >= 0) return 0; // -EEXIST
        for (var i = 0; i < Config.MaxUserDsqs; i++)
        {
            ref var d = ref Dq(UserSlot(i));
            // A destroyed DSQ's memory is freed (RCU) once empty; its slot can hold a new DSQ.
            if (d.Created && !(d.Destroyed && d.Nr == 0)) continue;
            d = default;
            d.Created = true;
            d.Id = dsqId;
            d.Head = d.Tail = -1;
            d.Lock = -1;
            return 1;
        }
        // The kernel would allocate one more; the model's table is full. Said as the model's limit, so it is
        // not taken for the scheduler's bug (or for -ENOMEM, which a kernel with memory never returns here).
        ModelLimit($"scxlab: no room for user DSQ 0x{dsqId:x}: the model holds {Config.MaxUserDsqs} user DSQs at once (raise bounds: {{ user_dsqs: N }})");
        return 0;
    }

    internal long KfDestroyDsq(BpfContext ctx, ulong dsqId)
    {
        var s = FindUserDsq(dsqId);
        if (s < 0) return 0;
        ref var d = ref Dq(s);
        if (d.Nr > 0)
        {
            ScxError($"attempting to destroy in-use dsq 0x{dsqId:x16} (nr={d.Nr})");
            return 0;
        }
        d.Destroyed = true;
        return 1;
    }

    internal long KfDsqReenq(BpfContext ctx, ulong dsqId)
    {
        if (dsqId == DsqId.Global || dsqId == DsqId.Bypass)
        {
            ScxError($"DSQ 0x{dsqId:x} not allowed for reenq");
            return 0;
        }
        if (Bypassing) return 0;
        int cpu;
        if (dsqId == DsqId.Local) cpu = _actors[_cur].Cpu;
        else if (DsqId.IsLocalOn(dsqId)) cpu = (int)(dsqId & DsqId.LocalCpuMask);
        else if ((dsqId & DsqId.FlagBuiltin) == 0)
        {
            // schedule_dsq_reenq(): a user DSQ has no rq of its own; the request goes on this CPU's rq
            // (rq->scx.deferred_reenq_users), whose deferred work runs reenq_user() (PathReenqueueUser).
            var s = FindUserDsq(dsqId);
            if (s < 0)
            {
                // find_dsq_for_dispatch(): the first error is the one kept (the global DSQ it falls back to
                // would fail again in schedule_dsq_reenq()).
                ScxError($"non-existent DSQ 0x{dsqId:x}");
                return 0;
            }
            var index = s - UserSlot(0);
            // The kernel takes any user DSQ; the model's limit, not the scheduler's error (an exit here would be a
            // false finding).
            if (index >= 64)
                throw new ModelLimitException($"scxlab: scx_bpf_dsq_reenq(0x{dsqId:x}): the model records deferred user-DSQ re-enqueues for the first 64 user DSQs only");
            Rq(_actors[_cur].Cpu).ReenqUsers |= 1UL << index;
            return 1;
        }
        else
        {
            ScxError($"DSQ 0x{dsqId:x} not allowed for reenq");
            return 0;
        }
        if (cpu >= N)
        {
            ScxError($"invalid CPU {cpu}");
            return 0;
        }
        ScheduleReenqLocal(cpu, ReenqRequest.Any);
        return 1;
    }

    internal long KfExit(BpfContext ctx, ExitKind kind, long code, string message)
    {
        ScxExit(kind, code, message);
        return 1;
    }

    internal long KfPrandom()
    {
        ref var s = ref Sch();
        var x = s.Rng == 0 ? 0x9E3779B97F4A7C15UL : s.Rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.Rng = x;
        return (uint)(x >> 16);
    }

    /// <summary>
    /// scx_builtin_idle_enabled: on unless the policy implements ops.update_idle without SCX_OPS_KEEP_BUILTIN_IDLE
    /// (scx_idle_enable()). Off, the idle mask is no longer updated and the idle kfuncs refuse.
    /// </summary>
    internal bool BuiltinIdle => !Has.Has(ScxCallback.UpdateIdle) || (Ops.Flags & OpsFlags.KeepBuiltinIdle) != 0;

    /// <summary>check_builtin_idle_enabled(): the idle kfuncs' error when built-in idle tracking is off.</summary>
    private bool CheckBuiltinIdle()
    {
        if (BuiltinIdle) return true;
        ScxError("built-in idle tracking is disabled");
        return false;
    }

    /// <summary>scx_select_cpu_dfl() in brief: prev if idle, else the first idle allowed CPU; claims the idle CPU.</summary>
    internal int SelectCpuDflCore(int p, int prev, out bool idle) => SelectCpuDflCore(p, prev, out idle, CpuMask.All);

    /// <param name="allowed">The CPUs the search may pick, within p->cpus_ptr (<see cref="CpuMask.All"/>: p->cpus_ptr alone).</param>
    internal int SelectCpuDflCore(int p, int prev, out bool idle, in CpuMask allowed)
    {
        ref readonly var t = ref TkR(p);
        // scx_select_cpu_dfl() searches allowed ∩ p->cpus_ptr (allowed is p->cpus_ptr itself for select_cpu_dfl).
        if (prev >= 0 && prev < N && allowed.Test(prev) && t.CpusPtr.Test(prev) && RqR(prev).Idle)
        {
            Rq(prev).Idle = false;
            idle = true;
            return prev;
        }
        // scx_pick_idle_cpu(): cpumask_any_and_distribute(idle, allowed), then test-and-clear (one step here, so it
        // never loses the CPU to another and retries).
        var c0 = DistributeFrom();
        for (var step = 1; step <= N; step++)
        {
            var c = (c0 + step) % N;
            if (!allowed.Test(c) || !t.CpusPtr.Test(c) || !RqR(c).Idle) continue;
            DistributeTo(c);
            Rq(c).Idle = false;
            idle = true;
            return c;
        }
        idle = false;
        return prev;
    }

    /// <summary>
    /// The CPU the running code is on (smp_processor_id(): the stepping actor's CPU; scripts, timers and the helper
    /// have one too).
    /// </summary>
    private int ThisCpu => (uint)_actors[_cur].Cpu < (uint)N ? _actors[_cur].Cpu : 0;

    /// <summary>cpumask_any[_and]_distribute()'s search starts after this CPU's distribute_cpu_mask_prev (and wraps).</summary>
    private int DistributeFrom() => RqR(ThisCpu).DistributePrev;

    /// <summary>cpumask_any[_and]_distribute() found <paramref name="cpu"/>: the rotor remembers it.</summary>
    private void DistributeTo(int cpu) => Rq(ThisCpu).DistributePrev = cpu;

    /// <summary>cpumask_any_and_distribute(cpu_online_mask, mask): the next CPU of the mask after this CPU's rotor, remembered; -1 if none.</summary>
    internal int DistributeMask(in CpuMask mask)
    {
        if (mask.IsEmpty) return -1;
        var c0 = DistributeFrom();
        for (var step = 1; step <= N; step++)
        {
            var c = (c0 + step) % N;
            if (!mask.Test(c)) continue;
            DistributeTo(c);
            return c;
        }
        return -1;
    }

    internal long KfSelectCpuDfl(BpfContext ctx, int p, int prev)
    {
        if (!ValidTask(ctx, p, "scx_bpf_select_cpu_dfl") || !SelectKfuncAllowed(ctx, "scx_bpf_select_cpu_dfl") || !CheckBuiltinIdle()) return (long)prev << 1;
        var cpu = SelectCpuFromKfunc(p, prev, null, out var idle);
        return ((long)cpu << 1) | (idle ? 1L : 0);
    }

    /// <summary>SCX_KF_SELECT_CPU | SCX_KF_ENQUEUE: the select kfuncs belong to ops.select_cpu and ops.enqueue.</summary>
    private bool SelectKfuncAllowed(BpfContext ctx, string kfunc)
    {
        if (ctx.Callback is ScxCallback.SelectCpu or ScxCallback.Enqueue) return true;
        PolicyMisuse(ctx, $"calling kernel function {kfunc} is not allowed in ops.{ScxCallbacks.OpName(ctx.Callback)}()");
        return false;
    }

    /// <summary>
    /// select_cpu_from_kfunc(): ops.enqueue may call the select kfuncs too, so a task that can run on one CPU
    /// only (or has migration disabled) gets its prev_cpu if that is in the mask and idle (claimed), else none;
    /// any other task scx_select_cpu_dfl()'s search. (ops.select_cpu never sees such a task: select_task_rq()
    /// is skipped for it.) Returns the CPU, or prev_cpu with <paramref name="idle"/> false when none was claimed.
    /// </summary>
    /// <param name="allowed">scx_bpf_select_cpu_and()'s cpus_allowed; null for scx_bpf_select_cpu_dfl() (p->cpus_ptr).</param>
    private int SelectCpuFromKfunc(int p, int prev, CpuMask? allowed, out bool idle)
    {
        ref readonly var t = ref TkR(p);
        if (t.CpusPtr.Weight == 1 || t.MigrationDisabled)
        {
            var inMask = allowed is { } a ? a.Test(prev) : t.CpusPtr.Test(prev);
            idle = inMask && prev >= 0 && prev < N && RqR(prev).Idle;
            if (idle) Rq(prev).Idle = false;
            return prev;
        }
        return SelectCpuDflCore(p, prev, out idle, allowed ?? CpuMask.All);
    }

    /// <summary>
    /// scx_bpf_select_cpu_and() → select_cpu_from_kfunc(): ops_cpu_valid(prev_cpu) (-EINVAL after the error),
    /// then scx_select_cpu_dfl() within <paramref name="allowed"/>: the claimed idle CPU or -EBUSY (no fallback
    /// to prev_cpu, unlike scx_bpf_select_cpu_dfl()).
    /// </summary>
    internal long KfSelectCpuAnd(BpfContext ctx, int p, int prev, in CpuMask allowed)
    {
        if (!ValidTask(ctx, p, "scx_bpf_select_cpu_and")) return -22;
        if (!SelectKfuncAllowed(ctx, "scx_bpf_select_cpu_and")) return -1; // -EPERM
        if (!CheckBuiltinIdle()) return -16; // -EBUSY
        if (prev < 0 || prev >= N)
        {
            ScxError($"invalid CPU {prev}");
            return -22;
        }
        var cpu = SelectCpuFromKfunc(p, prev, allowed, out var idle);
        return idle ? cpu : -16;
    }

    internal long KfPickIdleCpu(BpfContext ctx, int p, bool clear)
    {
        if (!ValidTask(ctx, p, "scx_bpf_pick_idle_cpu") || !CheckBuiltinIdle()) return -16;
        ref readonly var t = ref TkR(p);
        // scx_pick_idle_cpu(): cpumask_any_and_distribute(idle, p->cpus_ptr), claimed in the same step.
        var c0 = DistributeFrom();
        for (var step = 1; step <= N; step++)
        {
            var c = (c0 + step) % N;
            if (!t.CpusPtr.Test(c) || !RqR(c).Idle) continue;
            DistributeTo(c);
            if (clear) Rq(c).Idle = false;
            return c;
        }
        return -16; // -EBUSY
    }

    internal long KfPickAnyCpu(BpfContext ctx, int p)
    {
        // Without built-in idle tracking: any allowed CPU, no error (scx_bpf_pick_any_cpu() skips the idle search).
        var c = BuiltinIdle ? KfPickIdleCpu(ctx, p, clear: true) : -16;
        if (c >= 0) return c;
        // cpumask_any_distribute(p->cpus_ptr): the same per-CPU rotor.
        var any = DistributeMask(TkR(p).CpusPtr);
        return any >= 0 ? any : -16;
    }

    /// <summary>
    /// scx_bpf_pick_idle_cpu() / scx_bpf_pick_any_cpu() on a mask other than a task's cpus_ptr (a struct bpf_cpumask,
    /// the idle or online mask), read by the program in the step before as <paramref name="bits"/>: the idle CPU
    /// cpumask_any_and_distribute() finds in it, claimed; for pick_any, else the next CPU of the mask.
    /// </summary>
    internal long KfPickCpuInBits(BpfContext ctx, in CpuMask mask, bool any)
    {
        if (!any && !CheckBuiltinIdle()) return -16;
        var bits = mask.Below(N);
        if (BuiltinIdle)
        {
            var idle = default(CpuMask);
            for (var c = 0; c < N; c++)
                if (bits.Test(c) && RqR(c).Idle) idle.Set(c);
            var cpu = DistributeMask(idle);
            if (cpu >= 0)
            {
                Rq(cpu).Idle = false;
                return cpu;
            }
        }
        if (!any) return -16;
        var next = DistributeMask(bits);
        return next >= 0 ? next : -16;
    }

    /// <summary>Word <paramref name="word"/> of p->cpus_ptr (CPUs 64·word..64·word+63 below nr_cpu_ids), read in one access as the kernel reads an unsigned long.</summary>
    internal long KfTaskCpusMask(BpfContext ctx, int p, int word) => (long)(TkR(p).CpusPtr.Word(word) & CpuMask.ValidBits(word, N));

    /// <summary>Word <paramref name="word"/> of the idle CPUs (those rqs' idle flags, read as one access).</summary>
    internal long KfIdleMaskBits(BpfContext ctx, int word)
    {
        if (!CheckBuiltinIdle()) return 0; // cpu_none_mask
        long bits = 0;
        for (var c = 64 * word; c < N && c < 64 * word + 64; c++)
            if (RqR(c).Idle) bits |= 1L << (c & 63);
        return bits;
    }

    /// <summary>bpf_cpumask_test_cpu(cpu, idle mask): false for a CPU outside nr_cpu_ids, as the kfunc's cpu_valid() check.</summary>
    internal long KfTestCpuIdle(BpfContext ctx, int cpu) => CheckBuiltinIdle() && cpu >= 0 && cpu < N && RqR(cpu).Idle ? 1 : 0;

    internal long KfTestAndClearCpuIdle(BpfContext ctx, int cpu)
    {
        if (!CheckBuiltinIdle()) return 0;
        if (cpu < 0 || cpu >= N)
        {
            ScxError($"invalid CPU {cpu}");
            return 0;
        }
        ref var rq = ref Rq(cpu);
        if (!rq.Idle) return 0;
        rq.Idle = false;
        return 1;
    }

    /// <summary>
    /// bpf_iter_scx_dsq_new() on the first call, then bpf_iter_scx_dsq_next() → nldsq_cursor_next_task().
    /// Result word: the iterator's seq snapshot &lt;&lt; 16 | the next task (0xffff: none).
    /// </summary>
    /// <summary>scx_bpf_cpu_curr(): kf_cpu_valid() (an error and NULL: -2), then rcu_dereference(cpu_rq(cpu)->curr) (-1: the idle task).</summary>
    internal long KfCpuCurr(BpfContext ctx, int cpu)
    {
        if (cpu < 0 || cpu >= N)
        {
            ScxError($"invalid CPU {cpu}");
            return -2;
        }
        return RqR(cpu).Curr;
    }

    /// <summary>bpf_iter_scx_dsq_new(): kit->dsq = find_user_dsq(dsq_id) (-ENOENT if none), cursor->priv = READ_ONCE(dsq->seq).</summary>
    internal long KfDsqIterNew(BpfContext ctx, ulong dsqId)
    {
        var s = FindUserDsq(dsqId);
        if (s < 0) return -2;
        _fp.Reads |= Bits.Of(Resource.Dsq, s);
        return DqR(s).Seq;
    }

    internal long KfDsqIterNext(BpfContext ctx, DsqIter it)
    {
        // find_user_dsq() knows no built-in DSQ: bpf_iter_scx_dsq_new() returns -ENOENT without an
        // error and leaves kit->dsq NULL, so every bpf_iter_scx_dsq_next() returns NULL.
        var s = FindUserDsq(it.DsqId);
        if (s < 0) return 0xffff;
        if (World.Tasks.Length > DsqIter.MaxTasks)
        {
            PolicyMisuse(ctx, $"bpf_iter_scx_dsq_next(): the model's DSQ iterator covers at most {DsqIter.MaxTasks} tasks, this model has {World.Tasks.Length}");
            return 0xffff;
        }
        _fp.Reads |= Bits.Of(Resource.Dsq, s);
        // INIT_DSQ_LIST_CURSOR(): cursor->priv = dsq->seq at the first call.
        var seq = it.Started ? it.Seq : DqR(s).Seq;
        // The first task after the cursor that was queued before the iteration began: tasks already
        // returned are exactly the old tasks in front of the cursor (see DsqIter), newer ones are skipped.
        // SCX_DSQ_ITER_REV walks from the tail (nldsq_next_task(dsq, cur, rev)).
        var t = it.Rev ? DqR(s).Tail : DqR(s).Head;
        while (t >= 0 && (TkR(t).DsqSeq > seq || it.HasVisited(t))) t = it.Rev ? TkR(t).Prev : TkR(t).Next;
        return (seq << 16) | (uint)(t < 0 ? 0xffff : t);
    }

    internal long KfGhostTaskBarrier(BpfContext ctx, int p)
    {
        if (Config.Protocol != Protocol.Ghost)
        {
            ScxError("the task status word is not provided by this kernel (protocol ghost only)");
            return 0;
        }
        if (!ValidTask(ctx, p, "status_word")) return 0;
        return TkR(p).Barrier;
    }

    internal long KfTaskGetCookie(BpfContext ctx, int p)
    {
        if (Config.Protocol != Protocol.Cookie)
        {
            ScxError("scx_bpf_task_get_cookie() is not provided by this kernel (protocol cookie only)");
            return 0;
        }
        if (!ValidTask(ctx, p, "scx_bpf_task_get_cookie")) return 0;
        return OpsWord.Qseq(TkR(p).OpsState) >> OpsWord.QseqShift;
    }

    /// <summary>Cookie variant: the synchronous check at insert — p must be QUEUEING/QUEUED with that qseq.</summary>
    private bool CookieInsertCheck(int p, long cookie)
    {
        if (Config.Protocol != Protocol.Cookie)
        {
            ScxError("scx_bpf_dsq_insert_cookie() is not provided by this kernel (protocol cookie only)");
            return false;
        }
        var word = TkR(p).OpsState;
        var st = OpsWord.State(word);
        var want = cookie == long.MinValue ? 0 : cookie;
        return st is OpsState.Queueing or OpsState.Queued && (OpsWord.Qseq(word) >> OpsWord.QseqShift) == want;
    }

    /// <summary>
    /// The hashtab.c maps, as kernel/bpf/hashtab.c's preallocated htab behaves. The index words are
    /// [count, (state, key words) × slots] (state 0 free, 1 in the table, 2 reserved by an update in flight); the
    /// values live in a parallel map the program reads and writes through pointers (a per-CPU flavor: one value
    /// per CPU and element, element-major).
    /// <list type="bullet">
    /// <item>BPF_MAP_TYPE_HASH: an update reserves a free element, copies the value into it (the program's own
    /// stores), then publishes it: under the bucket lock the kernel checks BPF_NOEXIST/BPF_EXIST and max_entries and
    /// replaces an old element with the new one, so a reader never sees a half-written value, and one holding the
    /// old element's pointer keeps reading it until the element is reused. Slots = max_entries + one per CPU (the
    /// kernel's extra elements).</item>
    /// <item>BPF_MAP_TYPE_LRU_HASH: the same three steps (htab_lru_map_update_elem() pops a node before the lock),
    /// max_entries slots, and no max_entries check (the LRU makes room instead). Which element the LRU lists would
    /// evict is not modelled: a pop the kernel could answer by evicting stops the run naming the model's limit
    /// (<see cref="LruMayEvict"/>); before that point an LRU hash is a hash.</item>
    /// <item>BPF_MAP_TYPE_PERCPU_HASH and BPF_MAP_TYPE_LRU_PERCPU_HASH: one step under the bucket lock
    /// (<see cref="CallKind.BpfHashPercpuUpdate"/>): an existing element's copy for this CPU is overwritten in place;
    /// a new element gets the value on this CPU and zeroes on the others before it is linked. No extra elements:
    /// the (max_entries + 1)th key is -E2BIG.</item>
    /// </list>
    /// Returns: lookup the slot or -1; reserve the slot or -errno; publish, update and delete 0 or -errno.
    /// </summary>
    internal long KfBpfHash(BpfContext ctx, CallKind k, int mapId, in BpfHashArgs a)
    {
        var h = MapLayout.Maps[mapId].Handle;
        var m = World.Maps.AsSpan(h.Offset, h.Capacity);
        var kw = a.KeyWords;
        var e = 1 + kw;
        var slots = a.Slots;
        var kernelSlots = a.KernelSlots;
        var mapName = a.Name;
        var key = a.Key;
        int Find(Span<long> w, ReadOnlySpan<long> key)
        {
            for (var i = 0; i < slots; i++)
                if (w[1 + e * i] == 1 && w.Slice(2 + e * i, kw).SequenceEqual(key)) return i;
            return -1;
        }
        int Free(Span<long> w)
        {
            for (var i = 0; i < slots; i++)
                if (w[1 + e * i] == 0) return i;
            // Every element the world backs is taken; the kernel has more (bounds: hash_elems).
            if (slots < kernelSlots)
                throw new ModelLimitException($"scxlab: hash map {mapName}: the model backs {slots} of its {kernelSlots} elements and all are in use (raise bounds: {{ hash_elems: N }})");
            return -1;
        }
        const long ENOENT = 2, ENOMEM = 12, EEXIST = 17, E2BIG = 7;
        var flags = a.Flags;
        long CheckFlags(int old) => (flags & 3) switch
        {
            1 when old >= 0 => -EEXIST,              // BPF_NOEXIST
            2 when old < 0 => -ENOENT,               // BPF_EXIST
            _ => 0,
        };
        switch (k)
        {
            case CallKind.BpfHashLookup:
                TouchMap(mapId, false);
                return Find(m, key);
            case CallKind.BpfHashDelete:
            {
                TouchMap(mapId, true);
                var i = Find(m, key);
                if (i < 0) return -ENOENT;
                m[1 + e * i] = 0;
                m[0]--;
                return 0;
            }
            case CallKind.BpfHashReserve:
            {
                TouchMap(mapId, true);
                if (a.Lru && LruMayEvict(m, e, in a)) return -ENOMEM;
                var i = Free(m);
                if (i < 0) return a.Lru ? -ENOMEM : -E2BIG;
                m[1 + e * i] = 2;
                key.CopyTo(m.Slice(2 + e * i, kw));
                return i;
            }
            case CallKind.BpfHashPublish:
            {
                TouchMap(mapId, true);
                var slot = (int)a.Slot;
                var old = Find(m, m.Slice(2 + e * slot, kw));
                var err = CheckFlags(old);
                if (err == 0 && !a.Lru && old < 0 && m[0] >= a.MaxEntries) err = -E2BIG;
                if (err != 0)
                {
                    m[1 + e * slot] = 0;
                    return err;
                }
                if (old >= 0) m[1 + e * old] = 0;
                else m[0]++;
                m[1 + e * slot] = 1;
                return 0;
            }
            case CallKind.BpfHashPercpuUpdate:
            {
                TouchMap(mapId, true);
                // __htab_lru_percpu_map_update_elem() pops a node before the lock unless the flags are BPF_EXIST.
                if (a.Lru && (a.Flags & 3) != 2 && LruMayEvict(m, e, in a)) return -ENOMEM;
                var old = Find(m, key);
                var err = CheckFlags(old);
                if (err != 0) return err;
                TouchMap(a.ValuesMapId, true);
                var vh = MapLayout.Maps[a.ValuesMapId].Handle;
                var values = World.Maps.AsSpan(vh.Offset, vh.Capacity);
                var vw = a.Value.Length;
                if (old >= 0)
                {
                    a.Value.CopyTo(values.Slice((old * N + a.Cpu) * vw, vw));
                    return 0;
                }
                var i = Free(m);
                if (i < 0) return a.Lru ? -ENOMEM : -E2BIG;
                values.Slice(i * N * vw, N * vw).Clear();
                a.Value.CopyTo(values.Slice((i * N + a.Cpu) * vw, vw));
                key.CopyTo(m.Slice(2 + e * i, kw));
                m[1 + e * i] = 1;
                m[0]++;
                return 0;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"hash op {k}");
        }
    }

    /// <summary>
    /// Whether the kernel's LRU could evict an element to give this pop a node (bpf_lru_list.c), in which case the
    /// run stops naming the model's limit. Common LRU lists: a CPU whose local free list is empty refills it with
    /// target_free = clamp(max_entries / nr_cpus / 2, 1, LOCAL_FREE_TARGET) nodes from the global free list and
    /// shrinks (evicts) when fewer are there. Each other CPU's local free list holds at most target_free nodes, so
    /// the global list holds at least max_entries − in-use − (nr_cpus − 1) × target_free: with at most
    /// max_entries − nr_cpus × target_free elements in use no pop can evict. BPF_F_NO_COMMON_LRU: each CPU owns
    /// max_entries / nr_cpus nodes and evicts when its own are all in use: fewer in use than that cannot.
    /// </summary>
    private bool LruMayEvict(Span<long> m, int e, in BpfHashArgs a)
    {
        var inUse = 0;
        for (var i = 0; i < a.Slots; i++)
            if (m[1 + e * i] != 0) inUse++;
        string why;
        if (a.NoCommonLru)
        {
            var own = a.MaxEntries / N;
            if (inUse < own) return false;
            why = $"BPF_F_NO_COMMON_LRU: {own} nodes per CPU";
        }
        else
        {
            var target = Math.Clamp(a.MaxEntries / N / 2, 1, 128);
            if (inUse <= a.MaxEntries - N * target) return false;
            why = $"target_free {target} per CPU";
        }
        ModelLimit($"scxlab: LRU hash {a.Name}: {inUse} of its {a.MaxEntries} elements in use: from here the kernel's LRU lists may evict an element to make room ({why}), and which one they evict is not modelled (raise max_entries)");
        return true;
    }

    internal long KfMap(BpfContext ctx, CallKind k, int mapId, long key, long value)
    {
        if ((uint)mapId >= (uint)MapLayout.Maps.Count)
        {
            PolicyMisuse(ctx, $"{BpfContext.KfuncName(k)}() on an undeclared map {mapId}");
            return 0;
        }
        var h = MapLayout.Maps[mapId].Handle;
        var m = World.Maps.AsSpan();
        try
        {
            switch (k)
            {
                case CallKind.MapPush:
                    TouchMap(mapId, true);
                    Expect(h, k, MapKind.Queue, MapKind.Stack, MapKind.List);
                    return MapOps.Push(m, h, key, replace: value != 0) ? 1 : 0;
                case CallKind.ListRemove:
                    TouchMap(mapId, true);
                    Expect(h, k, MapKind.List, MapKind.List, MapKind.List);
                    return MapOps.Remove(m, h, key) ? 1 : 0;
                case CallKind.ListContains:
                    TouchMap(mapId, false);
                    return MapOps.Contains(m, h, key) ? 1 : 0;
                case CallKind.HashUpdate:
                    TouchMap(mapId, true);
                    Expect(h, k, MapKind.Hash, MapKind.Hash, MapKind.Hash);
                    return MapOps.HashUpdate(m, h, key, value) ? 1 : 0;
                case CallKind.HashDelete:
                    TouchMap(mapId, true);
                    Expect(h, k, MapKind.Hash, MapKind.Hash, MapKind.Hash);
                    return MapOps.HashDelete(m, h, key) ? 1 : 0;
                case CallKind.ArrayGet:
                    TouchMap(mapId, false);
                    Expect(h, k, MapKind.Array, MapKind.Array, MapKind.Array);
                    return m[MapOps.ArraySlot(h, key)];
                case CallKind.ArraySet:
                {
                    _fp.Writes |= Bits.Of(Resource.Map, mapId);
                    Expect(h, k, MapKind.Array, MapKind.Array, MapKind.Array);
                    var slot = MapOps.ArraySlot(h, key);
                    WroteMapWords(slot, 1);
                    m[slot] = value;
                    return 1;
                }
                case CallKind.ArrayAdd:
                {
                    _fp.Writes |= Bits.Of(Resource.Map, mapId);
                    Expect(h, k, MapKind.Array, MapKind.Array, MapKind.Array);
                    var slot = MapOps.ArraySlot(h, key);
                    WroteMapWords(slot, 1);
                    var old = m[slot];
                    m[slot] = old + value;
                    return old;
                }
                case CallKind.TaskStorageGet:
                    TouchMap(mapId, false);
                    Expect(h, k, MapKind.TaskStorage, MapKind.TaskStorage, MapKind.TaskStorage);
                    return m[MapOps.TaskSlot(h, (int)(key >> 16), (int)(key & 0xffff))];
                case CallKind.TaskStorageSet:
                    TouchMap(mapId, true);
                    Expect(h, k, MapKind.TaskStorage, MapKind.TaskStorage, MapKind.TaskStorage);
                    m[MapOps.TaskSlot(h, (int)(key >> 16), (int)(key & 0xffff))] = value;
                    return 1;
                case CallKind.SpinLock:
                    TouchMap(mapId, true);
                    Expect(h, k, MapKind.SpinLock, MapKind.SpinLock, MapKind.SpinLock);
                    if (m[h.Offset] != 0)
                    {
                        if (m[h.Offset] == _cur + 1) PolicyMisuse(ctx, "bpf_spin_lock() of a lock this CPU already holds (deadlock)");
                        else throw new InvalidOperationException("bpf_spin_lock() executed while held: the step guard should have blocked it");
                        return 0;
                    }
                    m[h.Offset] = _cur + 1;
                    return 1;
                case CallKind.SpinUnlock:
                    TouchMap(mapId, true);
                    Expect(h, k, MapKind.SpinLock, MapKind.SpinLock, MapKind.SpinLock);
                    if (m[h.Offset] != _cur + 1)
                    {
                        PolicyMisuse(ctx, "bpf_spin_unlock() of a lock this program does not hold");
                        return 0;
                    }
                    m[h.Offset] = 0;
                    return 1;
                case CallKind.MemWrite:
                {
                    // The footprint bit first: the reduced search sees the write even when the write fails.
                    _fp.Writes |= Bits.Of(Resource.Map, mapId);
                    Expect(h, k, MapKind.Array, MapKind.Array, MapKind.Array);
                    if ((BpfObject.Interpreter.MemOp)((key >> 48) & 0xff) == BpfObject.Interpreter.MemOp.ClaimPair) TouchMap(mapId, true);
                    var wrote = BpfObject.SharedMemory.Write(m, h, key, value, ctx.CmpxchgExpected, out var word);
                    if (word >= 0) WroteMapWords(word, 1);
                    else TouchMap(mapId, true);
                    return wrote;
                }
                case CallKind.ArenaLoad:
                    TouchMap(mapId, false);
                    Expect(h, k, MapKind.Arena, MapKind.Arena, MapKind.Arena);
                    return BpfObject.ArenaOps.Load(m, h, MapLayout.Arenas[mapId], key);
                case CallKind.ArenaWrite:
                {
                    // A store or atomic names the words it changed (a slot it took: the whole slot); an allocation or
                    // a free may change any slot. The footprint bit is the arena's either way.
                    _fp.Writes |= Bits.Of(Resource.Map, mapId);
                    Expect(h, k, MapKind.Arena, MapKind.Arena, MapKind.Arena);
                    if (((key >> 52) & 0xff) is BpfObject.ArenaOps.OpAlloc or BpfObject.ArenaOps.OpFree) TouchMap(mapId, true); // before: it may stop midway
                    var ret = BpfObject.ArenaOps.Write(m, h, MapLayout.Arenas[mapId], key, value, ctx.CmpxchgExpected, out var from, out var count);
                    if (from < 0) TouchMap(mapId, true);
                    else if (count > 0) WroteMapWords(from, count);
                    return ret;
                }
                case CallKind.CpumaskTest:
                    TouchMap(mapId, false);
                    Expect(h, k, MapKind.Cpumask, MapKind.Cpumask, MapKind.Cpumask);
                    return MapOps.CpumaskTest(m, h, (int)key) ? 1 : 0;
                case CallKind.CpumaskSet:
                case CallKind.CpumaskClear:
                    TouchMap(mapId, true);
                    Expect(h, k, MapKind.Cpumask, MapKind.Cpumask, MapKind.Cpumask);
                    if ((ulong)key >= ScxConst.MaxCpus) return 0;
                    if (k == CallKind.CpumaskSet) m[h.Offset + (int)(key >> 6)] |= 1L << (int)(key & 63);
                    else m[h.Offset + (int)(key >> 6)] &= ~(1L << (int)(key & 63));
                    return 1;
                default:
                    throw new System.Diagnostics.UnreachableException($"map call {k}");
            }
        }
        catch (PolicyMisuseException e)
        {
            PolicyMisuse(ctx, e.Message);
            return 0;
        }
    }

    internal MapValue KfMapValue(BpfContext ctx, CallKind k, int mapId, long key)
    {
        if ((uint)mapId >= (uint)MapLayout.Maps.Count)
        {
            PolicyMisuse(ctx, $"{BpfContext.KfuncName(k)}() on an undeclared map {mapId}");
            return default;
        }
        var h = MapLayout.Maps[mapId].Handle;
        var m = World.Maps.AsSpan();
        try
        {
            switch (k)
            {
                case CallKind.MapPop:
                    TouchMap(mapId, true);
                    Expect(h, k, MapKind.Queue, MapKind.Stack, MapKind.List);
                    return MapOps.Pop(m, h);
                case CallKind.MapPeek:
                    TouchMap(mapId, false);
                    Expect(h, k, MapKind.Queue, MapKind.Stack, MapKind.List);
                    return MapOps.Peek(m, h);
                case CallKind.HashLookup:
                    TouchMap(mapId, false);
                    Expect(h, k, MapKind.Hash, MapKind.Hash, MapKind.Hash);
                    return MapOps.HashLookup(m, h, key);
                default:
                    throw new System.Diagnostics.UnreachableException($"map value call {k}");
            }
        }
        catch (PolicyMisuseException e)
        {
            PolicyMisuse(ctx, e.Message);
            return default;
        }
    }

    private static void Expect(MapHandle h, CallKind k, MapKind a, MapKind b, MapKind c)
    {
        if (h.Kind != a && h.Kind != b && h.Kind != c)
            throw new PolicyMisuseException($"{BpfContext.KfuncName(k)}() on a {h.Kind} map");
    }

    // ================================================================ kfuncs that are kernel paths

    /// <summary>Start a kfunc that is a kernel path of its own; false when it finished at once (result in <paramref name="immediate"/>).</summary>
    internal bool StartDeferredKfunc(BpfContext ctx, CallKind k, long a, long b, long c, long d, long e, out long immediate)
    {
        immediate = 0;
        ref var cbf = ref World.Frames[ctx.FrameIndex];
        var cpu = _actors[_cur].Cpu;
        switch (k)
        {
            case CallKind.DsqMoveToLocal:
            {
                // scx_bpf_dsq_move_to_local(): flush_dispatch_buf() first, then find_user_dsq() (which
                // knows no built-in DSQ, SCX_DSQ_GLOBAL included); both happen in the kernel path.
                // ___v2's enq_flags: SCX_ENQ_HEAD, PREEMPT and IMMED place the consumed task as
                // move_local_task_to_local_dsq() does; the model has no path for others. Vetted as for SCX_DSQ_LOCAL
                // (so SCX_ENQ_IMMED is always allowed there).
                if ((b & ~(long)(EnqFlags.Head | EnqFlags.Preempt | EnqFlags.Immed)) != 0)
                {
                    ModelLimit($"{ScxCallbacks.Label(ctx.Callback)}(): scx_bpf_dsq_move_to_local: enq_flags 0x{b:x} are not modelled");
                    return false;
                }
                if (!VetEnqFlags(DsqId.Local, ref b)) return false;
                cbf.I1 = (int)k;
                PushDsqMoveToLocal(cpu, (ulong)a, b); // the source DSQ id is resolved after the flush
                return true;
            }
            case CallKind.DsqMove:
            {
                // scx_dsq_move() starts from kit->dsq, which bpf_iter_scx_dsq_new() only sets for a user
                // DSQ: after a failed iterator creation (SCX_DSQ_GLOBAL, an unknown id) it returns false
                // without an error ("if (unlikely(!src_dsq)) return false", docs/ext-c-notes.md §15).
                if (!VetEnqFlags((ulong)b, ref c)) return false; // scx_dsq_move(): the flags first
                var src = FindUserDsq((ulong)d);
                if (src < 0) return false;
                // "If the BPF scheduler keeps calling this function repeatedly, it can cause similar
                // live-lock conditions as consume_dispatch_q()": nothing is moved once aborting.
                if (SchR().Aborting) return false;
                if (!ValidTask(ctx, (int)a, "scx_bpf_dsq_move")) return false;
                cbf.I1 = (int)k;
                var overrides = 0;
                if (ctx is DispatchContext dc && dc.MoveOverrides != 0)
                {
                    // The values ride in the callback frame's unused L2/WaitWord until the move is decided (DsqMoveLocals.Moved).
                    overrides = dc.MoveOverrides;
                    cbf.L2 = dc.MoveSlice;
                    cbf.WaitWord = dc.MoveVtime;
                }
                PushDsqMove(cpu, (int)a, src, dstDsqId: (ulong)b, enqFlags: c, iterSeq: e, overrides: overrides);
                return true;
            }
            case CallKind.GhostCommit:
            {
                if (Config.Protocol != Protocol.Ghost)
                {
                    ScxError("GHOST_IOC_COMMIT_TXN is not provided by this kernel (protocol ghost only)");
                    return false;
                }
                if (!ValidTask(ctx, (int)a, "GHOST_IOC_COMMIT_TXN")) return false;
                cbf.I1 = (int)k;
                PushGhostCommit(cpu, (int)a, targetCpu: (int)b, barrier: c);
                return true;
            }
            case CallKind.ReenqueueLocal:
            {
                cbf.I1 = (int)k;
                PushReenqueueLocal(cpu, ReenqMode.Kfunc);
                return true;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"deferred kfunc {k}");
        }
    }
}
