using System.Runtime.CompilerServices;
using Scxlab.Bpf;
using Scxlab.Stepping;

namespace Scxlab.Kernel;

public enum ActorKind
{
    /// <summary>A CPU running its scheduling loop (and its own irq_work / deferred work).</summary>
    Cpu,
    /// <summary>A scripted external actor performing syscalls and events.</summary>
    Script,
    /// <summary>The helper kthread that disables a failed scheduler (and boots the model).</summary>
    Helper,
    /// <summary>A BPF timer (hrtimer softirq): fires when armed, running the timer's callback.</summary>
    Timer,
}

public sealed record ActorInfo(int Id, ActorKind Kind, string Name, int Cpu, ScriptSpec? Script);

/// <summary>A kernel assertion (BUG/WARN) reached, or another named finding raised by a step.</summary>
public readonly record struct Finding(string Check, string Message);

/// <summary>
/// The sched_ext kernel model: the world value plus the code of every path as explicit step
/// machines. An actor's step runs from one interleaving point to the next: a lock acquisition
/// (the step's guard), an ops_state atomic, or a policy kfunc. Drivers (the schedule driver,
/// the explorer, the simulator) only call <see cref="IsEnabled"/>, <see cref="Step"/> and
/// copy <see cref="World"/>.
/// </summary>
public sealed partial class Machine
{
    public readonly ModelConfig Config;
    public readonly ScxOps Ops;
    /// <summary>The policy reads p->nvcsw/nivcsw, so __schedule() counts context switches (<see cref="ScxOps.CountsContextSwitches"/>).</summary>
    private readonly bool _countsSwitches;
    /// <summary>The policy reads the event counters (<see cref="ScxOps.ReadsEventCounters"/>): they are state.</summary>
    private readonly bool _eventsVisible;
    public readonly OpsTable Has;
    public readonly MapBuilder MapLayout;
    public readonly int N;                 // CPU count
    public readonly int DspMaxBatch;
    public readonly long WatchdogTimeoutNs;
    public World World;
    private readonly ActorInfo[] _actors;
    private readonly BpfContext[] _contexts;
    private readonly int _helper;

    /// <summary>The model is setting up the scenario's initial state: the kernel's enable path, run by the helper actor.</summary>
    internal bool Booting { get; private set; }
    private readonly int _timerBase;

    // Per-step scratch (not state).
    private int _cur;
    private bool _stepDone;
    private Footprint _fp;
    internal BpfContext? RunningContext;
    /// <summary>This machine's slot in the wall-clock guard for stuck callbacks (<see cref="CallbackGuard"/>).</summary>
    internal readonly CallbackGuard.Slot Guard = new();
    internal bool FaultPending;
    public readonly List<Finding> StepFindings = [];
    public Footprint LastFootprint => _fp;

    /// <summary>When set, steps narrate what they do (for traces); null on the hot path.</summary>
    public ITraceSink? Trace { get; set; }

    /// <summary>
    /// The policy's <see cref="ScxOps.HoldsTask"/> (the forgotten-task check's view of its maps), with
    /// an exception from policy code turned into a one-line <see cref="Policies.PolicyLoadException"/>.
    /// </summary>
    public bool? PolicyHoldsTask(World w, int t)
    {
        try
        {
            return Ops.HoldsTask(new MapView(w.Maps), new TaskRef(t), Config.Tasks[t].Pid);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new Policies.PolicyLoadException($"policy {Config.PolicyName}: HoldsTask({TaskName(t)}) failed: {e.GetType().Name}: {Scenarios.InputText.OneLine(e.Message)}");
        }
    }

    public Machine(ModelConfig config)
    {
        Config = config;
        N = config.CpuCount;
        if (N < 1 || N > ScxConst.MaxCpus) throw new ArgumentOutOfRangeException(nameof(config), $"cpus must be 1..{ScxConst.MaxCpus}");
        Ops = config.PolicyFactory();
        Has = new OpsTable(Ops);
        MapLayout = new MapBuilder(config.Tasks.Count, N) { BpfCpumasks = config.MaxBpfCpumasks, ArenaPages = config.MaxArenaPages, HashElems = config.MaxHashElems, BpfTimers = config.MaxBpfTimers };
        try
        {
            Ops.DeclareMaps(MapLayout);
        }
        catch (Exception e) when (e is not (Policies.PolicyLoadException or OutOfMemoryException))
        {
            // The policy's own code failed before it ran: like a BPF program the kernel refuses to
            // load, a load error (exit 1), not an error of scxlab.
            throw new Policies.PolicyLoadException($"policy {config.PolicyName}: DeclareMaps() failed: {e.GetType().Name}: {Scenarios.InputText.OneLine(e.Message)}");
        }
        DspMaxBatch = Ops.DispatchMaxBatch > 0 ? Ops.DispatchMaxBatch : ScxConst.DspDflMaxBatch;
        _countsSwitches = Ops.CountsContextSwitches;
        _eventsVisible = Ops.ReadsEventCounters;
        WatchdogTimeoutNs = config.WatchdogTimeoutNs ?? (Ops.TimeoutMs > 0 ? Math.Min(Ops.TimeoutMs * 1_000_000L, ScxConst.WatchdogMaxTimeoutNs) : ScxConst.WatchdogMaxTimeoutNs);

        var actors = new List<ActorInfo>();
        for (var c = 0; c < N; c++) actors.Add(new ActorInfo(actors.Count, ActorKind.Cpu, $"CPU{c}", c, null));
        foreach (var s in config.Scripts) actors.Add(new ActorInfo(actors.Count, ActorKind.Script, s.Name, s.Cpu, s));
        _helper = actors.Count;
        actors.Add(new ActorInfo(actors.Count, ActorKind.Helper, "scx_disable", 0, null));
        // One actor per BPF timer. Its callback runs in softirq context on CPU 0: the CPU the model boots
        // the scheduler on (ops.init, where schedulers arm their timers, runs there), which is where a
        // timer pinned with BPF_F_TIMER_CPU_PIN at init fires.
        _timerBase = actors.Count;
        for (var i = 0; i < Ops.TimerWords.Count; i++)
            actors.Add(new ActorInfo(actors.Count, ActorKind.Timer, Ops.TimerActorName(i) ?? (Ops.TimerWords.Count == 1 ? "bpf_timer" : $"bpf_timer{i}"), 0, null));
        _actors = [.. actors];

        var nCallbacks = Enum.GetValues<ScxCallback>().Length;
        _contexts = new BpfContext[_actors.Length * nCallbacks];
        for (var a = 0; a < _actors.Length; a++)
            foreach (var cb in Enum.GetValues<ScxCallback>())
                _contexts[a * nCallbacks + (int)cb] = cb switch
                {
                    ScxCallback.Init => new InitContext(),
                    ScxCallback.SelectCpu => new SelectCpuContext(),
                    ScxCallback.Enqueue => new EnqueueContext(),
                    ScxCallback.Dispatch => new DispatchContext(),
                    ScxCallback.CpuRelease => new CpuReleaseContext(),
                    _ => new TaskContext(),
                };

        // The action mask table is filled from the configuration, in script order, before any step: a world holds
        // indices into it (SetCpusAllowed's MaskIndex), which must not depend on which actor happened to run
        // first, or two machines of one configuration would give one state two fingerprints.
        foreach (var s in config.Scripts)
            foreach (var action in s.Actions)
                if (action.Kind == ActionKind.SetAffinity) MaskIndex(action.Mask);
        Bits = new ResourceBits(ResourceCounts(), ResourcesByUse());
        World = new World(config.Tasks.Count, N, DsqSlotCount, DspMaxBatch, MapLayout.Words, _actors.Length, config.MaxFrameDepth, 2 * (config.CallBudget + 2))
        {
            HashEvents = _eventsVisible,
        };
        foreach (var (word, value) in MapLayout.Initial) World.Maps[word] = value;
        World.Sched.Clock = ModelConfig.AttachClockNs;
        Booting = true;
        Boot();
        Booting = false;
        World.Layout = FingerprintLayoutOf(World.Shape);
    }

    /// <summary>
    /// Per fingerprint chunk of this machine's worlds, the write-footprint bits of what it stores: a task's fields and
    /// pi_lock, an rq and its lock, a DSQ and its lock, a CPU's dispatch buffer (and its rq, which holds the cursor),
    /// a kicker's ksyncs row. World.Fingerprint rehashes only the chunks a step's write footprint names. Map words are
    /// the exception: a step names the blocks of them it wrote (<see cref="TouchMap"/>, <see cref="WroteMapWords"/>).
    /// </summary>
    private FingerprintLayout FingerprintLayoutOf(ChunkShape sh)
    {
        var masks = new ulong[sh.Count];
        for (var t = 0; t < sh.FirstCpu; t++) masks[t] = Bits.Of(Resource.Task, t) | Bits.Of(Resource.PiLock, t);
        for (var c = 0; c < N; c++)
        {
            masks[sh.FirstCpu + c] = Bits.Of(Resource.Rq, c) | Bits.Of(Resource.Lock, c);
            masks[sh.FirstDsp + c] = Bits.Of(Resource.Buffer, c) | Bits.Of(Resource.Rq, c);
            masks[sh.FirstKickRow + c] = Bits.Of(Resource.KickSync, c);
        }
        for (var d = 0; d < sh.FirstDsp - sh.FirstDsq; d++) masks[sh.FirstDsq + d] = Bits.Of(Resource.Dsq, d) | Bits.Of(Resource.DsqLock, d);
        // struct scx_sched and the exit message: written only through Sch() (ScxExit sets the message beside it). The
        // event counters hashed with them when the policy reads them are bumped without a footprint, so World rehashes
        // this chunk at every fingerprint then.
        masks[sh.Sched] = Bits.Of(Resource.Sched, 0);
        // Map words: each map's range is [its offset, the next map's offset); a word outside every range (none today)
        // would make its block rehash on any map write.
        // Map words are not tracked by footprint bit: a step names the blocks it wrote (TouchMap: all of a map's, a
        // word-precise write: its own), since a BPF object's maps and arena can make tens of thousands of blocks. A
        // map's blocks are those of [its offset, the next map's offset); words before the first map belong to it too.
        var starts = MapLayout.Maps.Select((m, id) => (m.Handle.Offset, Id: id)).OrderBy(x => x.Offset).ToList();
        _mapBlocks = new (int, int)[MapLayout.Maps.Count];
        _mapWrittenAt = new long[MapLayout.Maps.Count];
        for (var i = 0; i < starts.Count; i++)
        {
            var from = i == 0 ? 0 : starts[i].Offset;
            var to = i + 1 < starts.Count ? starts[i + 1].Offset : World.Maps.Length;
            _mapBlocks[starts[i].Id] = to > from
                ? (sh.FirstMapBlock + from / ChunkShape.MapBlockWords, sh.FirstMapBlock + (to - 1) / ChunkShape.MapBlockWords + 1)
                : (sh.FirstMapBlock, sh.FirstMapBlock);
        }
        return new FingerprintLayout(masks);
    }

    public int ActorCount => _actors.Length;
    public ActorInfo Actor(int a) => _actors[a];
    public IReadOnlyList<ActorInfo> Actors => _actors;
    public int HelperActor => _helper;

    /// <summary>The first BPF timer actor (one per <see cref="ScxOps.TimerWords"/> entry, in that order).</summary>
    public int FirstBpfTimerActor => _timerBase;
    public int BpfTimerCount => Ops.TimerWords.Count;

    /// <summary>
    /// Timer <paramref name="slot"/>'s armed word: 0 when idle; else, in a clocked run, its expiry (virtual ns) + 1
    /// (in an exploration any non-zero value: a timer may fire at any point once armed).
    /// </summary>
    public long BpfTimerArmed(int slot) => World.Maps[Ops.TimerWords[slot] + 1];

    /// <summary>This machine's footprint bit of each resource (<see cref="ResourceBits"/>).</summary>
    public ResourceBits Bits { get; }

    private Dictionary<Resource, int> ResourceCounts() => new()
    {
        [Resource.Task] = Config.Tasks.Count,
        [Resource.PiLock] = Config.Tasks.Count,
        [Resource.Rq] = N,
        [Resource.Lock] = N,
        [Resource.Buffer] = N,
        [Resource.KickSync] = N,
        [Resource.Dsq] = DsqSlotCount,
        [Resource.DsqLock] = DsqSlotCount,
        [Resource.Map] = MapLayout.Maps.Count,
        [Resource.Sched] = 1,
        [Resource.Events] = 1,
    };

    /// <summary>
    /// Every resource, the ones most steps touch first: the scheduler state, the tasks, the rqs and what goes with a
    /// CPU, the global and local DSQs, the policy's maps and its first user DSQs; then the ksyncs rows, the per-CPU
    /// lists and DSQs only some paths use (deferred locals, fallback, bypass, reenq scratch), the event counters, the
    /// other user DSQs, and last the DSQ lock words no DSQ of that kind has (local DSQs use the rq lock). With more
    /// than 64, the last share bits with the first.
    /// </summary>
    private IEnumerable<(Resource, int)> ResourcesByUse()
    {
        var tasks = Config.Tasks.Count;
        yield return (Resource.Sched, 0);
        for (var t = 0; t < tasks; t++) yield return (Resource.Task, t);
        for (var t = 0; t < tasks; t++) yield return (Resource.PiLock, t);
        for (var c = 0; c < N; c++)
        {
            yield return (Resource.Rq, c);
            yield return (Resource.Lock, c);
            yield return (Resource.Buffer, c);
        }
        yield return (Resource.Dsq, GlobalSlot);
        yield return (Resource.DsqLock, GlobalSlot);
        for (var c = 0; c < N; c++) yield return (Resource.Dsq, LocalSlot(c));
        for (var m = 0; m < MapLayout.Maps.Count; m++) yield return (Resource.Map, m);
        // The first user DSQs a policy creates (slots are taken in creation order); a BPF scheduler's bound of hundreds
        // (bounds: user_dsqs) lists the rest after the per-CPU ones below, so they do not push those past bit 63.
        const int earlyUserDsqs = 8;
        for (var i = 0; i < Math.Min(earlyUserDsqs, Config.MaxUserDsqs); i++)
        {
            yield return (Resource.Dsq, UserSlot(i));
            yield return (Resource.DsqLock, UserSlot(i));
        }
        for (var c = 0; c < N; c++) yield return (Resource.KickSync, c);
        for (var c = 0; c < N; c++)
        {
            yield return (Resource.Dsq, DeferredSlot(c));
            yield return (Resource.Dsq, FallbackSlot(c));
            yield return (Resource.DsqLock, FallbackSlot(c));
            yield return (Resource.Dsq, BypassSlot(c));
            yield return (Resource.DsqLock, BypassSlot(c));
            yield return (Resource.Dsq, ReenqSlot(c));
        }
        yield return (Resource.Events, 0);
        for (var i = earlyUserDsqs; i < Config.MaxUserDsqs; i++)
        {
            yield return (Resource.Dsq, UserSlot(i));
            yield return (Resource.DsqLock, UserSlot(i));
        }
        for (var s = 0; s < DsqSlotCount; s++)
            if (!HasDsqLock(s)) yield return (Resource.DsqLock, s);
    }

    // ---------------------------------------------------------------- DSQ slots
    // global | local[N] | ddsp_deferred_locals[N] | fallback[N] | bypass[N] | reenq scratch[N] | user[MaxUserDsqs]
    public const int GlobalSlot = 0;
    public int LocalSlot(int cpu) => 1 + cpu;
    public int DeferredSlot(int cpu) => 1 + N + cpu;
    public int FallbackSlot(int cpu) => 1 + 2 * N + cpu;
    public int BypassSlot(int cpu) => 1 + 3 * N + cpu;
    public int ReenqSlot(int cpu) => 1 + 4 * N + cpu;
    public int UserSlot(int i) => 1 + 5 * N + i;
    public int DsqSlotCount => 1 + 5 * N + Config.MaxUserDsqs;
    public bool IsLocalSlot(int s) => s >= 1 && s <= N;
    public int LocalSlotCpu(int s) => s - 1;
    public bool IsUserSlot(int s) => s >= UserSlot(0);
    public bool IsBypassSlot(int s) => s >= BypassSlot(0) && s < ReenqSlot(0);
    public bool IsFallbackSlot(int s) => s >= FallbackSlot(0) && s < BypassSlot(0);
    /// <summary>DSQs with a lock of their own (local DSQs use the rq lock; the private lists none).</summary>
    public bool HasDsqLock(int s) => s == GlobalSlot || IsUserSlot(s) || IsBypassSlot(s) || IsFallbackSlot(s);

    public string SlotName(int s)
    {
        if (s == GlobalSlot) return "SCX_DSQ_GLOBAL";
        if (IsLocalSlot(s)) return $"local[{LocalSlotCpu(s)}]";
        if (s < FallbackSlot(0)) return $"ddsp_deferred_locals[{s - DeferredSlot(0)}]";
        if (IsFallbackSlot(s)) return $"fallback[{s - FallbackSlot(0)}]";
        if (IsBypassSlot(s)) return $"bypass[{s - BypassSlot(0)}]";
        if (s < UserSlot(0)) return $"reenq[{s - ReenqSlot(0)}]";
        return $"DSQ 0x{World.Dsqs[s].Id:x}";
    }

    public string TaskName(int t) => t < 0 ? "NULL" : $"{Config.Tasks[t].Name}[{Config.Tasks[t].Pid}]";

    // ---------------------------------------------------------------- state access (records the footprint)
    // Every read or write of shared state inside a step goes through one of these, so a step's
    // footprint is complete: Tk/Rq/Dq/Sch/Dsp/KickSyncW/MapsW record a write (a read-modify-write
    // is a write), the ...R forms a read. Actor-private state (the actor's frames, kfunc log and
    // ActorState) is not shared and not recorded. Lock words are resources of their own
    // (Resource.Lock/DsqLock/PiLock): only the lock and unlock helpers and the step guard touch them.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref TaskState Tk(int t)
    {
        _fp.Writes |= Bits.Of(Resource.Task, t);
        return ref World.Tasks[t];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref readonly TaskState TkR(int t)
    {
        _fp.Reads |= Bits.Of(Resource.Task, t);
        return ref World.Tasks[t];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref CpuState Rq(int c)
    {
        _fp.Writes |= Bits.Of(Resource.Rq, c);
        return ref World.Cpus[c];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref readonly CpuState RqR(int c)
    {
        _fp.Reads |= Bits.Of(Resource.Rq, c);
        return ref World.Cpus[c];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref DsqState Dq(int s)
    {
        _fp.Writes |= Bits.Of(Resource.Dsq, s);
        return ref World.Dsqs[s];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref readonly DsqState DqR(int s)
    {
        _fp.Reads |= Bits.Of(Resource.Dsq, s);
        return ref World.Dsqs[s];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref SchedState Sch()
    {
        _fp.Writes |= Bits.Of(Resource.Sched, 0);
        return ref World.Sched;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref readonly SchedState SchR()
    {
        _fp.Reads |= Bits.Of(Resource.Sched, 0);
        return ref World.Sched;
    }

    /// <summary>Entry <paramref name="i"/> of CPU <paramref name="cpu"/>'s dispatch buffer, for writing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref DspEntry Dsp(int cpu, int i)
    {
        _fp.Writes |= Bits.Of(Resource.Buffer, cpu);
        return ref World.DspBuf[cpu * DspMaxBatch + i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref readonly DspEntry DspR(int cpu, int i)
    {
        _fp.Reads |= Bits.Of(Resource.Buffer, cpu);
        return ref World.DspBuf[cpu * DspMaxBatch + i];
    }

    /// <summary>ksyncs[kicker][target]: the kicker's record of the target's kick_sync.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ref long KickSyncW(int kicker, int target)
    {
        _fp.Writes |= Bits.Of(Resource.KickSync, kicker);
        return ref World.KickSyncs[kicker * N + target];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal long KickSyncR(int kicker, int target)
    {
        _fp.Reads |= Bits.Of(Resource.KickSync, kicker);
        return World.KickSyncs[kicker * N + target];
    }

    internal void TouchMap(int mapId, bool write)
    {
        if (!write)
        {
            _fp.Reads |= Bits.Of(Resource.Map, mapId);
            return;
        }
        _fp.Writes |= Bits.Of(Resource.Map, mapId);
        // The world: every block of the map may have changed (once per step is enough).
        if ((uint)mapId < (uint)_mapBlocks.Length && _mapWrittenAt[mapId] != _mapWriteStamp)
        {
            _mapWrittenAt[mapId] = _mapWriteStamp;
            _wroteBlocks.Add(_mapBlocks[mapId].From);
            _wroteBlocks.Add(_mapBlocks[mapId].To);
        }
    }

    /// <summary>
    /// A write of map word <paramref name="word"/> (of map <paramref name="mapId"/>, whose footprint bit the reduced
    /// search sees): the world copies and rehashes only that word's block, where <see cref="TouchMap"/> names the whole map.
    /// </summary>
    internal void WroteMapWord(int mapId, int word)
    {
        _fp.Writes |= Bits.Of(Resource.Map, mapId);
        WroteMapWords(word, 1);
    }

    /// <summary>Words [<paramref name="word"/>, +<paramref name="count"/>) of the maps changed in this step (the caller sets the footprint bit).</summary>
    internal void WroteMapWords(int word, int count)
    {
        var from = World.Shape.FirstMapBlock + word / ChunkShape.MapBlockWords;
        var to = World.Shape.FirstMapBlock + (word + count - 1) / ChunkShape.MapBlockWords + 1;
        var n = _wroteBlocks.Count;
        if (n >= 2 && _wroteBlocks[n - 2] <= from && _wroteBlocks[n - 1] >= to) return; // the last range has it
        _wroteBlocks.Add(from);
        _wroteBlocks.Add(to);
    }

    // The map blocks (fingerprint chunks) a step wrote, as [from, to) pairs for World.NoteStep, and which maps it wrote whole.
    private readonly List<int> _wroteBlocks = [];
    private (int From, int To)[] _mapBlocks = [];
    private long[] _mapWrittenAt = [];
    private long _mapWriteStamp;

    private void BeginMapWrites()
    {
        _wroteBlocks.Clear();
        _mapWriteStamp++;
    }

    /// <summary>
    /// The map whose words hold word <paramref name="offset"/> (a BPF spin lock's wait argument, a timer's words): the
    /// one with the highest start at or below it. A lock or timer inside a global struct or a map value is not at its
    /// map's first word; naming only a map that starts there gave its writes the footprint of no map (-1).
    /// </summary>
    public int MapIdAt(int offset)
    {
        var best = -1;
        for (var i = 0; i < MapLayout.Maps.Count; i++)
        {
            var start = MapLayout.Maps[i].Handle.Offset;
            if (start <= offset && (best < 0 || start > MapLayout.Maps[best].Handle.Offset)) best = i;
        }
        return best;
    }

    /// <summary>scx_rq_bypassing(): reads the scheduler's bypass depth (recorded).</summary>
    public bool Bypassing => SchR().BypassDepth > 0;
    public ref ActorState ActorStateOf(int a) => ref World.Actors[a];
    private ref ActorState Act => ref World.Actors[_cur];
    private ref Frame FrameAt(int actor, int depthIndex) => ref World.Frames[actor * World.MaxDepth + depthIndex];
    private ref Frame Top => ref World.Frames[_cur * World.MaxDepth + World.Actors[_cur].Depth - 1];
    internal int TopFrameIndex => _cur * World.MaxDepth + World.Actors[_cur].Depth - 1;
    internal int CurrentActor => _cur;
    internal int ActorCpu(int a) => _actors[a].Cpu;

    // ---------------------------------------------------------------- frames

    private ref Frame Push(PathId path)
    {
        ref var act = ref Act;
        if (act.Depth >= World.MaxDepth) throw new InvalidOperationException($"{_actors[_cur].Name}: kernel path nesting exceeded {World.MaxDepth} frames ({path})");
        act.Depth++;
        ref var f = ref Top;
        f = default;
        f.Path = path;
        f.Task = -1;
        f.Cpu = -1;
        f.Dsq = -1;
        return ref f;
    }

    private void Return(long ret = 0)
    {
        ref var act = ref Act;
        act.Depth--;
        act.Ret = ret;
    }

    /// <summary>End the step here; the path continues at <paramref name="pc"/> next time.</summary>
    private void Yield(ref Frame f, int pc)
    {
        f.Pc = pc;
        _stepDone = true;
    }

    /// <summary>
    /// A store another actor can observe without a lock this actor holds has just been made; under
    /// <see cref="Granularity.Fine"/> the step ends here (the path resumes at <paramref name="pc"/>),
    /// under normal granularity it goes on. Returns true when the step ended. Stores that must end the
    /// step under normal granularity too (a second unprotected access follows) use <see cref="Yield"/>.
    /// </summary>
    private bool PublishCut(ref Frame f, int pc)
    {
        if (Config.Granularity != Granularity.Fine) return false;
        Yield(ref f, pc);
        return true;
    }

    /// <summary>
    /// <see cref="WaitKind.BpfSpinRead"/>'s WaitArg: the map id, and a bit for an arena access (the key is an arena
    /// key) or for a failed compare-and-swap on a word (the key is a MemWrite key, the value its sub-word).
    /// </summary>
    internal const int SpinReadArena = 1 << 30, SpinReadSubword = 1 << 29, SpinReadMapMask = SpinReadSubword - 1;

    /// <summary>The word a spinning BPF program reads: an array word (ArrayGet) or an arena load (ArenaLoad), as the read returns it.</summary>
    private long SpinReadWord(int arg, long key)
    {
        var id = arg & SpinReadMapMask;
        var h = MapLayout.Maps[id].Handle;
        if ((arg & SpinReadArena) != 0) return BpfObject.ArenaOps.Load(World.Maps, h, MapLayout.Arenas[id], key);
        if ((arg & SpinReadSubword) == 0) return World.Maps[MapOps.ArraySlot(h, key)];
        // A MemWrite key: word, byte offset and size (Interpreter.MemWriteKey), as SharedMemory.Write returns the old value.
        var word = (ulong)World.Maps[MapOps.ArraySlot(h, key & 0xffffffff)];
        return (long)BpfObject.Interpreter.Truncate(word >> (8 * (int)((key >> 32) & 0xff)), (int)((key >> 40) & 0xff));
    }

    private void WaitFor(ref Frame f, int pc, WaitKind kind, int arg, long word = 0)
    {
        f.Pc = pc;
        f.Wait = kind;
        f.WaitArg = arg;
        f.WaitWord = word;
        _stepDone = true;
    }

    /// <summary>raw_spin_rq_lock(cpu): the acquisition is the start of the next step.</summary>
    private void LockRq(ref Frame f, int cpu, int pc)
    {
        if (World.Cpus[cpu].RqLock == _cur) throw new InvalidOperationException($"{_actors[_cur].Name}: recursive rq lock of CPU{cpu} in {f.Path}");
        WaitFor(ref f, pc, WaitKind.RqLock, cpu);
    }

    // Whether the current actor holds a lock cannot be changed by another actor, so the ownership
    // checks below need not record a read; taking and dropping a lock writes the lock word only.
    private void UnlockRq(int cpu)
    {
        ref var rq = ref World.Cpus[cpu];
        if (rq.RqLock != _cur) throw new InvalidOperationException($"{_actors[_cur].Name}: unlocking CPU{cpu}'s rq lock it does not hold");
        rq.RqLock = -1;
        _fp.Writes |= Bits.Of(Resource.Lock, cpu);
    }

    /// <summary>
    /// The kernel's lock switch (<c>raw_spin_rq_unlock(from); raw_spin_rq_lock(to)</c>), remembering the
    /// rq now held in <paramref name="held"/>. Returns false when the lock is already the right one (the
    /// caller continues at <paramref name="pc"/> in the same step); true when the step ends waiting for it.
    /// </summary>
    private bool SwitchRqLock(ref Frame f, ref int held, int to, int pc)
    {
        if (held == to) return false;
        UnlockRq(held);
        held = to;
        LockRq(ref f, to, pc);
        return true;
    }

    private void LockDsq(ref Frame f, int slot, int pc) => WaitFor(ref f, pc, WaitKind.DsqLock, slot);

    private void UnlockDsq(int slot)
    {
        ref var d = ref World.Dsqs[slot];
        if (d.Lock != _cur) throw new InvalidOperationException($"{_actors[_cur].Name}: unlocking {SlotName(slot)} lock it does not hold");
        d.Lock = -1;
        _fp.Writes |= Bits.Of(Resource.DsqLock, slot);
    }

    private void UnlockPi(int t)
    {
        ref var p = ref World.Tasks[t];
        if (p.PiLock != _cur) throw new InvalidOperationException($"{_actors[_cur].Name}: unlocking {TaskName(t)}->pi_lock it does not hold");
        p.PiLock = -1;
        _fp.Writes |= Bits.Of(Resource.PiLock, t);
    }

    // ---------------------------------------------------------------- stepping

    /// <summary>Can actor <paramref name="a"/> make a step now?</summary>
    /// <summary>
    /// The CPU whose rq lock actor <paramref name="actor"/> holds, or -1 (what scx_locked_rq() says inside a callback
    /// the actor runs). Only the holder ever changes a lock it holds, so the answer is the actor's own state: it
    /// needs no footprint.
    /// </summary>
    internal int RqLockedBy(int actor)
    {
        for (var c = 0; c < N; c++)
            if (World.Cpus[c].RqLock == actor) return c;
        return -1;
    }

    public bool IsEnabled(int a)
    {
        ref var act = ref World.Actors[a];
        if (act.Depth == 0) return HasActivity(a);
        ref var f = ref FrameAt(a, act.Depth - 1);
        return f.Wait switch
        {
            WaitKind.None => true,
            WaitKind.RqLock => World.Cpus[f.WaitArg].RqLock < 0,
            WaitKind.DsqLock => World.Dsqs[f.WaitArg].Lock < 0,
            WaitKind.PiLock => World.Tasks[f.WaitArg].PiLock < 0,
            WaitKind.OpsStateChange => World.Tasks[f.WaitArg].OpsState != f.WaitWord,
            WaitKind.BpfSpinLock => World.Maps[f.WaitArg] == 0,
            // A waiter spinning in kick_sync_wait_bal_cb bumps its own kick_sync every iteration.
            WaitKind.TaskNotMigrating => !World.Tasks[f.WaitArg].Migrating,
            WaitKind.KickSync => World.Cpus[f.WaitArg].KickSync != f.WaitWord || World.Cpus[f.WaitArg].KickWaiting,
            WaitKind.StopperDone => !World.Cpus[f.WaitArg].StopperPending && World.Cpus[f.WaitArg].StopperTask != f.WaitWord,
            WaitKind.BpfSpinRead => SpinReadWord(f.WaitArg, f.WaitWord) != World.Logs[a * World.LogCapacity + act.LogLen - 1],
            _ => throw new System.Diagnostics.UnreachableException($"wait kind {f.Wait}"),
        };
    }

    /// <summary>
    /// What actor <paramref name="a"/>'s enabledness and next step's guard depend on, as footprint
    /// bits: taking a lock writes the lock word; waiting for an ops_state change or a kick_sync
    /// reads the task or rq; an idle actor's choice of activity reads its rq (a CPU) or the
    /// scheduler state (the helper). Step() adds this to the step's footprint, so that "a step of
    /// b enables or disables a" is a conflict between a's and b's footprints.
    /// </summary>
    public void GuardFootprint(int a, out ulong reads, out ulong writes)
    {
        reads = 0;
        writes = 0;
        ref var act = ref World.Actors[a];
        if (act.Depth == 0)
        {
            var info = _actors[a];
            if (info.Kind == ActorKind.Cpu) reads = Bits.Of(Resource.Rq, info.Cpu);
            else if (info.Kind == ActorKind.Helper) reads = Bits.Of(Resource.Sched, 0);
            else if (info.Kind == ActorKind.Timer) reads = Bits.Of(Resource.Sched, 0) | Bits.Of(Resource.Map, MapIdAt(Ops.TimerWords[a - _timerBase]));
            return;
        }
        ref var f = ref FrameAt(a, act.Depth - 1);
        switch (f.Wait)
        {
            case WaitKind.None: return;
            case WaitKind.RqLock: writes = Bits.Of(Resource.Lock, f.WaitArg); return;
            case WaitKind.DsqLock: writes = Bits.Of(Resource.DsqLock, f.WaitArg); return;
            case WaitKind.PiLock: writes = Bits.Of(Resource.PiLock, f.WaitArg); return;
            case WaitKind.OpsStateChange: reads = Bits.Of(Resource.Task, f.WaitArg); return;
            case WaitKind.BpfSpinLock: writes = Bits.Of(Resource.Map, MapIdAt(f.WaitArg)); return;
            case WaitKind.KickSync: reads = Bits.Of(Resource.Rq, f.WaitArg); return;
            case WaitKind.TaskNotMigrating: reads = Bits.Of(Resource.Task, f.WaitArg); return;
            // The stopper's request and its completion both write the rq (Rq(c)), so they conflict with this read.
            case WaitKind.StopperDone: reads = Bits.Of(Resource.Rq, f.WaitArg); return;
            case WaitKind.BpfSpinRead: reads = Bits.Of(Resource.Map, f.WaitArg & SpinReadMapMask); return;
            default: throw new System.Diagnostics.UnreachableException($"wait kind {f.Wait}");
        }
    }

    /// <summary>Is any actor enabled?</summary>
    public bool AnyEnabled()
    {
        for (var a = 0; a < _actors.Length; a++)
            if (IsEnabled(a)) return true;
        return false;
    }

    /// <summary>Run one step of actor <paramref name="a"/> (which must be enabled).</summary>
    public void Step(int a)
    {
        _cur = a;
        _stepDone = false;
        BeginMapWrites();
        GuardFootprint(a, out _fp.Reads, out _fp.Writes);
        if (StepFindings.Count > 0) StepFindings.Clear();
        ref var act = ref World.Actors[a];
        if (act.Depth == 0)
        {
            StartActivity(a);
        }
        else
        {
            ref var f = ref Top;
            switch (f.Wait)
            {
                case WaitKind.None:
                case WaitKind.OpsStateChange:
                case WaitKind.KickSync:
                case WaitKind.TaskNotMigrating:
                case WaitKind.StopperDone:
                    break;
                case WaitKind.RqLock:
                    World.Cpus[f.WaitArg].RqLock = a;
                    _fp.Writes |= Bits.Of(Resource.Lock, f.WaitArg);
                    Trace?.Note(a, $"raw_spin_rq_lock(CPU{f.WaitArg})");
                    break;
                case WaitKind.DsqLock:
                    World.Dsqs[f.WaitArg].Lock = a;
                    _fp.Writes |= Bits.Of(Resource.DsqLock, f.WaitArg);
                    Trace?.Note(a, $"raw_spin_lock({SlotName(f.WaitArg)}->lock)");
                    break;
                case WaitKind.PiLock:
                    World.Tasks[f.WaitArg].PiLock = a;
                    _fp.Writes |= Bits.Of(Resource.PiLock, f.WaitArg);
                    Trace?.Note(a, $"raw_spin_lock_irqsave({TaskName(f.WaitArg)}->pi_lock)");
                    break;
                case WaitKind.BpfSpinLock:
                    // Taken by the bpf_spin_lock() kfunc the replayed callback runs next (which records the map).
                    break;
                case WaitKind.BpfSpinRead:
                    // The word changed: the spin's last read is dropped, and the replayed callback makes it again.
                    World.SetLogLen(a, World.Actors[a].LogLen - 2);
                    _fp.Reads |= Bits.Of(Resource.Map, f.WaitArg & SpinReadMapMask);
                    break;
                default:
                    throw new System.Diagnostics.UnreachableException($"wait kind {f.Wait}");
            }
            f.Wait = WaitKind.None;
        }
        var guard = 0;
        while (!_stepDone && World.Actors[a].Depth > 0)
        {
            RunFrame(ref Top);
            if (++guard > 1_000_000) throw new InvalidOperationException($"{_actors[a].Name}: a step did not reach an interleaving point (model bug)");
        }
        World.NoteStep(a, _fp.Writes, _wroteBlocks);
    }

    private void RunFrame(ref Frame f)
    {
        switch (f.Path)
        {
            case PathId.Schedule: PathSchedule(ref f); break;
            case PathId.BalanceOne: PathBalanceOne(ref f); break;
            case PathId.FlushDispatchBuf: PathFlushDispatchBuf(ref f); break;
            case PathId.FinishDispatch: PathFinishDispatch(ref f); break;
            case PathId.DispatchToLocalDsq: PathDispatchToLocalDsq(ref f); break;
            case PathId.MoveRemoteTaskToLocalDsq: PathMoveRemoteTaskToLocalDsq(ref f); break;
            case PathId.ConsumeDispatchQ: PathConsumeDispatchQ(ref f); break;
            case PathId.DsqMove: PathDsqMove(ref f); break;
            case PathId.GhostCommit: PathGhostCommit(ref f); break;
            case PathId.ReenqueueLocal: PathReenqueueLocal(ref f); break;
            case PathId.ReenqueueUser: PathReenqueueUser(ref f); break;
            case PathId.TaskTick: PathTaskTick(ref f); break;
            case PathId.KickCpusIrqWork: PathKickCpusIrqWork(ref f); break;
            case PathId.ProcessDdspDeferredLocals: PathProcessDdspDeferredLocals(ref f); break;
            case PathId.PutPrevTask: PathPutPrevTask(ref f); break;
            case PathId.SetNextTask: PathSetNextTask(ref f); break;
            case PathId.EnqueueTask: PathEnqueueTask(ref f); break;
            case PathId.DoEnqueueTask: PathDoEnqueueTask(ref f); break;
            case PathId.DirectDispatch: PathDirectDispatch(ref f); break;
            case PathId.DequeueTask: PathDequeueTask(ref f); break;
            case PathId.OpsDequeue: PathOpsDequeue(ref f); break;
            case PathId.DispatchDequeue: PathDispatchDequeue(ref f); break;
            case PathId.DispatchEnqueue: PathDispatchEnqueue(ref f); break;
            case PathId.SetCpusAllowed: PathSetCpusAllowed(ref f); break;
            case PathId.SetWeight: PathSetWeight(ref f); break;
            case PathId.Wakeup: PathWakeup(ref f); break;
            case PathId.MigrateQueued: PathMigrateQueued(ref f); break;
            case PathId.MigrationCpuStop: PathMigrationCpuStop(ref f); break;
            case PathId.KickFromUser: PathKickFromUser(ref f); break;
            case PathId.DisableScheduler: PathDisableScheduler(ref f); break;
            case PathId.Callback: RunCallbackFrame(ref f); break;
            case PathId.SchedExtDead: PathSchedExtDead(ref f); break;
            case PathId.None:
            default:
                throw new System.Diagnostics.UnreachableException($"frame with path {f.Path}");
        }
    }

    // ---------------------------------------------------------------- top-level activities

    private bool HasActivity(int a)
    {
        var info = _actors[a];
        ref var act = ref World.Actors[a];
        switch (info.Kind)
        {
            case ActorKind.Cpu:
                ref var rq = ref World.Cpus[info.Cpu];
                if (rq.StopperPending || rq.KickIrqWork || rq.DeferredLocals || rq.ReenqRequested != 0 || rq.ReenqUsers != 0) return true;
                return act.RoundsLeft != 0;
            case ActorKind.Script:
                return act.ScriptPc < info.Script!.Actions.Count;
            case ActorKind.Helper:
                return World.Sched.ExitKind != ExitKind.None && !World.Sched.Disabled;
            case ActorKind.Timer:
                // Armed, firings left, and the scheduler still running (scx_disable cancels nothing, but a
                // callback after the exit only meets kfuncs that do nothing).
                return act.RoundsLeft != 0 && World.Maps[Ops.TimerWords[a - _timerBase] + 1] != 0 && World.Sched.ExitKind == ExitKind.None;
            default:
                throw new System.Diagnostics.UnreachableException($"actor kind {info.Kind}");
        }
    }

    private void StartActivity(int a)
    {
        var info = _actors[a];
        ref var act = ref World.Actors[a];
        switch (info.Kind)
        {
            case ActorKind.Cpu:
            {
                ref readonly var rq = ref RqR(info.Cpu);
                if (rq.StopperPending)
                {
                    ref var f = ref Push(PathId.MigrationCpuStop);
                    f.Cpu = info.Cpu;
                }
                else if (rq.KickIrqWork)
                {
                    ref var f = ref Push(PathId.KickCpusIrqWork);
                    f.Cpu = info.Cpu;
                    f.Locals<KickCpusIrqWorkLocals>().NextCpu = 0;
                }
                else if (rq.DeferredLocals)
                {
                    ref var f = ref Push(PathId.ProcessDdspDeferredLocals);
                    f.Cpu = info.Cpu;
                }
                else if (rq.ReenqRequested != 0)
                {
                    PushReenqueueLocal(info.Cpu, ReenqMode.Deferred); // scx_bpf_dsq_reenq: takes the rq lock itself
                }
                else if (rq.ReenqUsers != 0)
                {
                    // run_deferred() drains the local requests before the user ones.
                    ref var f = ref Push(PathId.ReenqueueUser);
                    f.Cpu = info.Cpu;
                }
                else
                {
                    if (act.RoundsLeft > 0) act.RoundsLeft--;
                    // The CPU schedules: a run of deferred re-enqueue passes (one run_deferred() in the kernel) is over.
                    if (rq.ReenqRepeats != 0) Rq(info.Cpu).ReenqRepeats = 0;
                    ref var f = ref Push(PathId.Schedule);
                    f.Cpu = info.Cpu;
                    Trace?.Note(a, "__schedule()");
                }
                break;
            }
            case ActorKind.Script:
            {
                var action = info.Script!.Actions[act.ScriptPc];
                var index = act.ScriptPc;
                act.ScriptPc++;
                Trace?.Note(a, action.Describe(Config));
                StartScriptAction(action, index);
                break;
            }
            case ActorKind.Helper:
            {
                ref var f = ref Push(PathId.DisableScheduler);
                f.Locals<DisableSchedulerLocals>().NextTask = 0;
                break;
            }
            case ActorKind.Timer:
            {
                // The hrtimer expires: the timer is no longer armed (its callback may re-arm it), and
                // bpf_timer_cb() calls the callback.
                if (act.RoundsLeft > 0) act.RoundsLeft--;
                var word = Ops.TimerWords[a - _timerBase];
                World.Maps[word + 1] = 0;
                WroteMapWord(MapIdAt(word), word + 1);
                Trace?.Note(a, "hrtimer expires: bpf_timer_cb()");
                // The callback frame is the activity's only frame: its end returns the actor to idle.
                var logStart = act.LogLen;
                ref var f = ref Push(PathId.Callback);
                f.I0 = (int)ScxCallback.Timer;
                f.Task = -1;
                f.Cpu = info.Cpu;
                f.L0 = a - _timerBase;
                f.LogStart = logStart;
                f.I2 = 1; // first run: stop at the first kfunc without executing it
                break;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"actor kind {info.Kind}");
        }
    }

    /// <summary>Affinity masks named by actions: frames carry an index into this append-only table.</summary>
    private readonly List<CpuMask> _masks = [];

    private int MaskIndex(CpuMask m)
    {
        var i = _masks.IndexOf(m);
        if (i >= 0) return i;
        _masks.Add(m);
        return _masks.Count - 1;
    }

    /// <summary>
    /// Start an external action on an idle script actor now (the simulator's workloads inject
    /// events this way; scenario scripts use the actor's own list). The actor must have no
    /// activity in progress; then step it until its depth returns to 0.
    /// </summary>
    public void StartExternal(int actor, ScriptAction action)
    {
        if (_actors[actor].Kind != ActorKind.Script) throw new ArgumentException($"{_actors[actor].Name} is not a script actor");
        if (World.Actors[actor].Depth != 0) throw new InvalidOperationException($"{_actors[actor].Name} is busy");
        _cur = actor;
        _stepDone = false;
        _fp = default;
        BeginMapWrites();
        Trace?.Note(actor, action.Describe(Config));
        StartScriptAction(action, -1);
        World.NoteStep(actor, _fp.Writes, _wroteBlocks);
    }

    private void StartScriptAction(ScriptAction action, int index)
    {
        switch (action.Kind)
        {
            case ActionKind.SetAffinity:
            {
                ref var f = ref Push(PathId.SetCpusAllowed);
                f.Task = action.Task;
                f.Locals<SchedChangeLocals>().MaskIndex = MaskIndex(action.Mask);
                break;
            }
            case ActionKind.SetWeight:
            {
                ref var f = ref Push(PathId.SetWeight);
                f.Task = action.Task;
                f.Locals<SchedChangeLocals>().Weight = action.Weight;
                break;
            }
            case ActionKind.Wake:
            {
                ref var f = ref Push(PathId.Wakeup);
                f.Task = action.Task;
                break;
            }
            case ActionKind.Sleep:
            case ActionKind.Exit:
            {
                // The task blocks (or exits) the next time its CPU schedules; mark it and resched.
                ref var p = ref Tk(action.Task);
                p.WantsSleep = true;
                if (action.Kind == ActionKind.Exit) p.Exiting = true;
                if (p.Run == RunState.Runnable && RqR(p.Cpu).Curr == action.Task) Rq(p.Cpu).NeedResched = true;
                _stepDone = true;
                break;
            }
            case ActionKind.Kick:
            {
                ref var f = ref Push(PathId.KickFromUser);
                f.Cpu = action.Cpu;
                f.Locals<KickFromUserLocals>().Flags = action.KickFlags;
                break;
            }
            case ActionKind.Tick:
            {
                ref var f = ref Push(PathId.TaskTick);
                f.Cpu = action.Cpu;
                break;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"action {action.Kind}");
        }
    }

    // ---------------------------------------------------------------- findings and exits

    /// <summary>A kernel BUG()/WARN_ON_ONCE() site was reached: a named check, never an exception.</summary>
    internal void KernelAssert(string check, string message)
    {
        StepFindings.Add(new Finding(check, message));
        Trace?.Note(_cur, $"!! {check}: {message}");
    }

    /// <summary>scx_exit(): the first caller claims the exit; later calls are ignored. The calling path continues.</summary>
    internal void ScxExit(ExitKind kind, long code, string message, bool modelLimit = false)
    {
        ref var s = ref Sch();
        if (s.ExitKind != ExitKind.None) return;
        s.ExitKind = kind;
        s.ExitCode = code;
        s.Aborting = true;
        s.ExitCpu = _actors[_cur].Cpu;
        s.ModelLimit = modelLimit;
        World.ExitMessage = message;
        Trace?.Note(_cur, modelLimit ? $"not modelled, so the scheduler is stopped here: {message}" : $"scx_exit({ExitKinds.KernelName(kind)}): {message}");
    }

    /// <summary>scx_error(sch, fmt, …) ≡ scx_exit(sch, SCX_EXIT_ERROR, 0, fmt, …).</summary>
    internal void ScxError(string message) => ScxExit(ExitKind.Error, 0, message);

    /// <summary>
    /// The scheduler reached something the model does not cover: it stops as an scx_error() would (nothing runs past
    /// a point the model cannot follow), and the world says the exit is the model's, not the scheduler's
    /// (<see cref="SchedState.ModelLimit"/>): the checkers report it as <c>ViolationKind.ModelLimit</c>, which ends the
    /// path and makes the verdict <c>incomplete</c>, never <c>violation</c>.
    /// </summary>
    internal void ModelLimit(string message) => ScxExit(ExitKind.Error, 0, message, modelLimit: true);

    internal void Event(ScxEvent e)
    {
        World.Events[(int)e]++;
        if (_eventsVisible && (int)e < ScxEvents.KernelCount) _fp.Writes |= Bits.Of(Resource.Events, 0);
    }

    /// <summary>One counter of scx_bpf_events()'s snapshot (the kfunc reads them one by one, as the kernel sums per-CPU counters).</summary>
    internal long KfEventCounter(BpfContext ctx, int e)
    {
        _fp.Reads |= Bits.Of(Resource.Events, 0);
        return (uint)e < ScxEvents.KernelCount ? World.Events[e] : 0;
    }
}

/// <summary>Receives narration of steps (kernel functions entered, callbacks, kfuncs, state changes).</summary>
public interface ITraceSink
{
    void Note(int actor, string text);
}
