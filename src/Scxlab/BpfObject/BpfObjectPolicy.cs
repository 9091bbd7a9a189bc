using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.BpfObject;

/// <summary>
/// A sched_ext scheduler loaded from a <c>.bpf.o</c>: its struct_ops callbacks run in the
/// <see cref="Interpreter"/>. Maps and writable global data live in the world's map arena (copied,
/// fingerprinted, compared with the rest of the world); <c>.rodata</c> is fixed at load.
/// </summary>
public sealed class BpfObjectPolicy : ScxOps, IDeclaresCallbacks
{
    private readonly BpfObjectFile _obj;
    private MapHandle[] _maps = [];
    private MapHandle[] _globals = [];
    private MapHandle[] _hashIndex = [];
    private Interpreter _vm = null!;
    private int _taskCount;
    private int _cpuCount;
    /// <summary>Each timer: its map, the entry (the key its callback gets) and its byte offset in the map's memory.</summary>
    private readonly List<(int Map, int Entry, int ByteOffset)> _timers = [];
    private int[] _timerWords = [];

    /// <summary>At most this many timers get actors (each is one more actor in every interleaving): bounds: bpf_timers.</summary>
    public int MaxTimers { get; private set; } = ModelConfig.DefaultBpfTimers;

    public BpfObjectPolicy(BpfObjectFile obj) => _obj = obj;

    public BpfObjectFile Object => _obj;

    public override string Name => _obj.Ops.Name.Length > 0 ? _obj.Ops.Name : _obj.Ops.MapName;
    public override OpsFlags Flags => (OpsFlags)_obj.Ops.Flags;
    public override int DispatchMaxBatch => _obj.Ops.DispatchMaxBatch;
    public override int TimeoutMs => _obj.Ops.TimeoutMs;

    // ops.enable runs at init time (see Init), so an object with only ops.enable still needs the init step.
    public bool Implements(ScxCallback cb) =>
        _obj.Ops.Callbacks.ContainsKey(cb) || (cb == ScxCallback.ExitTask && _obj.Ops.ExitTask != null) || (cb == ScxCallback.Disable && _obj.Ops.Disable != null)
        || (cb == ScxCallback.Init && (_obj.Ops.Enable != null || _obj.Ops.InitTask != null || _obj.Ops.CgroupInit != null)) || (cb == ScxCallback.Timer && _timerWords.Length > 0);

    public override IReadOnlyList<int> TimerWords => _timerWords;

    public override bool CountsContextSwitches => _obj.ReadsSwitchCounts;

    public override bool ReadsEventCounters => _obj.KfuncsUsed.Contains("scx_bpf_events");

    public override void DeclareMaps(MapBuilder maps)
    {
        _maps = new MapHandle[_obj.Maps.Count];
        for (var i = 0; i < _obj.Maps.Count; i++)
        {
            var m = _obj.Maps[i];
            _maps[i] = m.Type switch
            {
                MapTypes.Queue => maps.Queue(m.Name, m.MaxEntries),
                MapTypes.Stack => maps.Stack(m.Name, m.MaxEntries),
                MapTypes.Array => maps.Array(m.Name, Math.Max(1, m.MaxEntries * Interpreter.MapStride(m) / 8)),
                // The values (max_entries + one element per CPU, as the kernel preallocates); the index is separate.
                MapTypes.Hash or MapTypes.LruHash => maps.Array(m.Name, Math.Max(1, Interpreter.HashSlots(m, maps.CpuCount, maps.HashElems) * Interpreter.MapStride(m) / 8)),
                // A value per CPU in each element, element-major.
                MapTypes.PercpuHash or MapTypes.LruPercpuHash => maps.Array(m.Name, Math.Max(1, Interpreter.HashSlots(m, maps.CpuCount, maps.HashElems) * maps.CpuCount * Interpreter.MapStride(m) / 8)),
                // One copy of the array per CPU, CPU-major.
                MapTypes.PercpuArray => maps.Array(m.Name, Math.Max(1, maps.CpuCount * m.MaxEntries * Interpreter.MapStride(m) / 8)),
                // Per-task values, laid out like an array indexed by task (word-addressed like every shared value).
                MapTypes.TaskStorage => maps.Array(m.Name, Math.Max(1, maps.TaskCount * Interpreter.MapStride(m) / 8)),
                // Its slots are fixed at load (a program cannot update a map-in-map): one constant word stands in.
                MapTypes.ArrayOfMaps => maps.Array(m.Name, 1),
                // The root cgroup's value, the only cgroup the model has.
                MapTypes.CgrpStorage => maps.Array(m.Name, Math.Max(1, Interpreter.MapStride(m) / 8)),
                // No perf events: the helpers that read one are refused wherever a program can reach them.
                MapTypes.PerfEventArray => maps.Array(m.Name, 1),
                // No user space to read it: its records live in the program's run until submitted (Interpreter).
                MapTypes.RingBuf => maps.Array(m.Name, 1),
                // Page slots for the pages that differ from libbpf's start (ArenaOps); the globals' initial bytes stay in the object.
                MapTypes.Arena => maps.Arena(m.Name, new ArenaShape(m.MaxEntries, (int)(_obj.ArenaGlobalOffset / ArenaShape.PageSize), _obj.ArenaGlobals, maps.ArenaPages)),
                _ => throw new BpfLoadException($"map {m.Name}: map type {MapTypes.Name(m.Type)} is not supported by the model"),
            };
        }
        _hashIndex = new MapHandle[_obj.Maps.Count];
        for (var i = 0; i < _obj.Maps.Count; i++)
            if (MapTypes.IsHash(_obj.Maps[i].Type))
            {
                if (_obj.Maps[i].KeySize < 1) throw new BpfLoadException($"map {_obj.Maps[i].Name}: {MapTypes.Name(_obj.Maps[i].Type)} needs a key (key_size {_obj.Maps[i].KeySize})");
                _hashIndex[i] = maps.Array(_obj.Maps[i].Name + "#index", Interpreter.HashIndexWords(_obj.Maps[i], maps.CpuCount, maps.HashElems));
            }
        WriteMapInits(maps);
        _globals = new MapHandle[_obj.Globals.Count];
        for (var i = 0; i < _obj.Globals.Count; i++)
        {
            var g = _obj.Globals[i];
            if (g.ReadOnly) continue;
            var h = maps.Array(g.Name, Math.Max(1, (g.Init.Length + 7) / 8));
            _globals[i] = h;
            for (var w = 0; w * 8 < g.Init.Length; w++)
            {
                long v = 0;
                for (var k = 0; k < 8 && w * 8 + k < g.Init.Length; k++) v |= (long)g.Init[w * 8 + k] << (8 * k);
                if (v != 0) maps.Initial.Add((h.Offset + w, v));
            }
        }
        var locks = new Dictionary<(int, int), MapHandle>();
        for (var i = 0; i < _obj.Globals.Count; i++)
            foreach (var off in _obj.Globals[i].Locks)
                locks[(i, off)] = maps.SpinLock($"{_obj.Globals[i].Name}+{off}");
        // A bpf_spin_lock in a map value: one lock per element the value region has, keyed (-1 - map, byte offset).
        for (var i = 0; i < _obj.Maps.Count; i++)
        {
            var m = _obj.Maps[i];
            if (m.LockOffsets is not { Count: > 0 } offsets) continue;
            var elements = m.Type switch
            {
                MapTypes.Array => m.MaxEntries,
                MapTypes.TaskStorage => maps.TaskCount,
                MapTypes.CgrpStorage => 1,
                _ => Interpreter.HashSlots(m, maps.CpuCount, maps.HashElems),
            };
            var stride = Interpreter.MapStride(m);
            for (var e = 0; e < elements; e++)
                foreach (var off in offsets)
                    locks[(Interpreter.MapValueLockKey(i), e * stride + off)] = maps.SpinLock($"{m.Name}[{e}]+{off}");
        }
        _vm = new Interpreter(_obj, _maps, _globals, locks, maps.TaskCount, maps.CpuCount, _hashIndex) { HashBound = maps.HashElems };
        // struct bpf_cpumask objects, only for an object that can create them (a slot each: [refcount, bits]).
        if (_obj.KfuncsUsed.Contains("bpf_cpumask_create"))
        {
            _vm.CpumaskPoolSize = maps.BpfCpumasks ?? Interpreter.CpumaskPoolSlots(maps.TaskCount, maps.CpuCount);
            _vm.CpumaskPool = maps.Array("bpf_cpumask#pool", Interpreter.PoolStrideFor(maps.CpuCount) * _vm.CpumaskPoolSize);
        }
        // Local storage: whether each task's (each cgroup's: the root's) storage exists (created by a get with F_CREATE, removed by delete).
        _vm.StorageState = new MapHandle[_obj.Maps.Count];
        for (var i = 0; i < _obj.Maps.Count; i++)
            if (_obj.Maps[i].Type == MapTypes.TaskStorage) _vm.StorageState[i] = maps.Array(_obj.Maps[i].Name + "#exists", Math.Max(1, maps.TaskCount));
            else if (_obj.Maps[i].Type == MapTypes.CgrpStorage) _vm.StorageState[i] = maps.Array(_obj.Maps[i].Name + "#exists", 1);
        _vm.IdleSlices = maps.Array("swapper#scx.slice", Math.Max(1, maps.CpuCount));
        _taskCount = maps.TaskCount;
        _cpuCount = maps.CpuCount;

        // Every struct bpf_timer in every entry of an array map gets a timer actor. Per-CPU timer arrays are sized for
        // the largest machine (scx_tickless, scx_nest: one per possible CPU); only MaxTimers instances get actors, and
        // initializing another one ends the run at a model limit (Interpreter.TimerHasActor) rather than leave an armed
        // timer that never fires. They are handed out entry by entry across the maps — every map's entry 0, then every
        // map's entry 1, … — so a lone timer (scx_nest's stats timer) is not crowded out by a per-CPU array.
        var timerMaps = new List<(int Map, int Entries, IReadOnlyList<int> Offsets)>();
        for (var i = 0; i < _obj.Maps.Count; i++)
        {
            var m = _obj.Maps[i];
            if (m.TimerOffsets is not { Count: > 0 } offsets) continue;
            if (m.Type != MapTypes.Array) throw new BpfLoadException($"map {m.Name}: struct bpf_timer in a {MapTypes.Name(m.Type)} map is not modelled (only in BPF_MAP_TYPE_ARRAY values)");
            timerMaps.Add((i, m.MaxEntries, offsets));
        }
        MaxTimers = maps.BpfTimers;
        for (var e = 0; _timers.Count < MaxTimers && timerMaps.Any(t => e < t.Entries); e++)
            foreach (var (i, entries, offsets) in timerMaps)
                if (e < entries)
                    foreach (var off in offsets)
                        if (_timers.Count < MaxTimers) _timers.Add((i, e, e * Interpreter.MapStride(_obj.Maps[i]) + off));
        _vm.TimerActors = MaxTimers;
        _vm.TimerHasActor = (map, byteOffset) => _timers.Contains((map, byteOffset / Interpreter.MapStride(_obj.Maps[map]), byteOffset));
        _timerWords = [.. _timers.Select(t => _maps[t.Map].Offset + t.ByteOffset / 8)];
        // A syscall program user space runs while the scheduler is attached behaves like a one-shot timer armed at
        // load: an actor that may run it at any point once (a clocked run: right after boot). Its two words are the
        // timer's [state, armed].
        _attached = [.. _obj.Syscalls.Select((s, i) => (s, i)).Where(x => x.s.Attached).Select(x => x.i)];
        foreach (var i in _attached)
        {
            var h = maps.Array($"syscall#{_obj.Syscalls[i].Program.Name}", 2);
            maps.Initial.Add((h.Offset + 1, 1));
            _timerWords = [.. _timerWords, h.Offset];
        }
    }

    /// <summary>
    /// The map contents user space writes before attaching (<see cref="BpfObjectFile.MapInits"/>), as initial words:
    /// an array's value at its index (a per-CPU array's on every CPU); a hash map's keys take the elements in order of
    /// first appearance, as bpf_map_update_elem() from an empty map would, with the count and the index entries the
    /// helpers read (<c>Machine.KfBpfHash</c>).
    /// </summary>
    private void WriteMapInits(MapBuilder maps)
    {
        var cpus = maps.CpuCount;
        foreach (var group in _obj.MapInits.GroupBy(x => x.Map))
        {
            var m = _obj.Maps[group.Key];
            var stride = Interpreter.MapStride(m);
            var values = new byte[_maps[group.Key].Capacity * 8];
            var perCpu = MapTypes.IsPerCpu(m.Type);
            var slots = new List<long>(); // hash: the keys in element order
            foreach (var init in group)
            {
                int element;
                if (MapTypes.IsHash(m.Type))
                {
                    element = slots.IndexOf(init.Key);
                    if (element < 0)
                    {
                        if (slots.Count >= m.MaxEntries) throw new BpfLoadException($"--map '{init.Spec}': map {m.Name} holds at most {m.MaxEntries} elements (max_entries); bpf_map_update_elem() would fail with -E2BIG");
                        if (slots.Count >= Interpreter.HashSlots(m, cpus, maps.HashElems))
                            throw new BpfLoadException($"--map '{init.Spec}': map {m.Name}: the model backs {Interpreter.HashSlots(m, cpus, maps.HashElems)} of its elements (raise bounds: {{ hash_elems: N }})");
                        slots.Add(init.Key);
                        element = slots.Count - 1;
                    }
                }
                else element = (int)init.Key;
                for (var c = 0; c < (perCpu ? cpus : 1); c++)
                {
                    // Per-CPU arrays are CPU-major, per-CPU hash values element-major (Interpreter's layouts).
                    var at = (m.Type == MapTypes.PercpuArray ? c * m.MaxEntries + element : perCpu ? element * cpus + c : element) * stride + init.Offset;
                    for (var b = 0; b < init.Size; b++) values[at + b] = (byte)(init.Value >> (8 * b));
                }
            }
            AddInitialWords(maps, _maps[group.Key], values);
            if (!MapTypes.IsHash(m.Type)) continue;
            var index = new long[_hashIndex[group.Key].Capacity];
            var e = 1 + Interpreter.KeyWords(m);
            index[0] = slots.Count;
            for (var s = 0; s < slots.Count; s++)
            {
                index[1 + e * s] = 1; // a live element
                index[2 + e * s] = slots[s];
            }
            for (var w = 0; w < index.Length; w++)
                if (index[w] != 0) maps.Initial.Add((_hashIndex[group.Key].Offset + w, index[w]));
        }
    }

    private static void AddInitialWords(MapBuilder maps, MapHandle h, byte[] bytes)
    {
        for (var w = 0; w * 8 < bytes.Length; w++)
        {
            var v = BitConverter.ToInt64(bytes, w * 8);
            if (v != 0) maps.Initial.Add((h.Offset + w, v));
        }
    }

    /// <summary>Indices in BpfObjectFile.Syscalls of the runs made while attached, one pseudo-timer each after the real timers.</summary>
    private int[] _attached = [];

    public override string? TimerActorName(int slot) =>
        slot >= _timers.Count ? $"syscall {_obj.Syscalls[_attached[slot - _timers.Count]].Program.Name}" : null;

    /// <summary>
    /// A BPF object cannot declare which tasks it holds, but it can only reach a task in its custody
    /// through a pid it stored (no task iterator is modelled): the task is held exactly when its pid
    /// is in a queue/stack map or in some 32-bit half of a word of its shared memory (globals, array
    /// and task-storage values). A coincidental equal value only makes the answer "held", which
    /// leaves the case to the liveness drain (docs/bpf.md).
    /// </summary>
    /// <remarks>With places named (<see cref="BpfObjectFile.Holds"/>: <c>--holds</c>, scenario <c>holds:</c>), only
    /// those are searched, and a hash map's live elements only: the user's statement of where the scheduler keeps
    /// its tasks turns a forgotten task into the immediate safety violation (a pid left elsewhere no longer hides it).</remarks>
    public override bool? HoldsTask(MapView maps, TaskRef p, long pid)
    {
        if (_obj.Holds.Count > 0)
        {
            foreach (var place in _obj.Holds)
                if (PlaceHolds(maps, place, pid)) return true;
            return false;
        }
        foreach (var h in _maps)
        {
            if (h.Kind is MapKind.Queue or MapKind.Stack)
            {
                if (maps.Contains(h, pid)) return true;
                continue;
            }
            if (h.Kind == MapKind.Arena ? ScanArena(maps, h, pid) : ScanWords(maps, h, pid)) return true;
        }
        for (var i = 0; i < _globals.Length; i++)
            if (!_obj.Globals[i].ReadOnly && ScanWords(maps, _globals[i], pid)) return true;
        // A hash map holds a task when a live element's key is its pid, or has it in a word (values are scanned above).
        for (var i = 0; i < _hashIndex.Length; i++)
        {
            var h = _hashIndex[i];
            if (!MapTypes.IsHash(_obj.Maps[i].Type)) continue;
            var e = 1 + Interpreter.KeyWords(_obj.Maps[i]);
            for (var s = 0; 1 + e * s < h.Capacity; s++)
            {
                if (maps.Get(h, 1 + e * s) != 1) continue;
                for (var w = 1; w < e; w++)
                {
                    var v = maps.Get(h, 1 + e * s + w);
                    if (v == pid || (int)v == pid || (int)(v >> 32) == pid) return true;
                }
            }
        }
        return false;
    }

    /// <summary>Is <paramref name="pid"/> in the named place: a global's 32-bit fields, a queue's entries, an array's values, a hash map's live keys or values?</summary>
    private bool PlaceHolds(MapView maps, BpfHolds place, long pid)
    {
        if (place.Map < 0)
        {
            // The variable's own bytes only, as 32-bit fields (a pid is a pid_t).
            var g = _globals[place.Global];
            for (var at = (place.Offset + 3) / 4 * 4; at + 4 <= place.Offset + place.Size; at += 4)
            {
                var v = maps.Get(g, at / 8);
                if ((int)(at % 8 == 0 ? v : v >> 32) == pid) return true;
            }
            return false;
        }
        var m = _obj.Maps[place.Map];
        var values = _maps[place.Map];
        if (values.Kind is MapKind.Queue or MapKind.Stack) return maps.Contains(values, pid);
        if (values.Kind == MapKind.Arena) return ScanArena(maps, values, pid);
        if (!MapTypes.IsHash(m.Type)) return ScanWords(maps, values, pid);
        var index = _hashIndex[place.Map];
        var e = 1 + Interpreter.KeyWords(m);
        var strideWords = Interpreter.MapStride(m) / 8;
        var copies = MapTypes.IsPerCpu(m.Type) ? _cpuCount : 1;
        for (var s = 0; 1 + e * s < index.Capacity; s++)
        {
            if (maps.Get(index, 1 + e * s) != 1) continue; // not a live element
            if (place.Where != HoldsWhere.Values)
                for (var w = 1; w < e; w++)
                    if (IsPid(maps.Get(index, 1 + e * s + w), pid)) return true;
            if (place.Where != HoldsWhere.Keys)
                for (var w = s * copies * strideWords; w < (s + 1) * copies * strideWords; w++)
                    if (IsPid(maps.Get(values, w), pid)) return true;
        }
        return false;
    }

    private static bool IsPid(long v, long pid) => v == pid || (int)v == pid || (int)(v >> 32) == pid;

    private static bool ScanWords(MapView maps, MapHandle h, long pid)
    {
        for (var w = 0; w < h.Capacity; w++)
        {
            var v = maps.Get(h, w);
            if (v == pid || (int)v == pid || (int)(v >> 32) == pid) return true;
        }
        return false;
    }

    /// <summary>The arena pages the world backs (a page libbpf initialised and the program never wrote holds no task).</summary>
    private static bool ScanArena(MapView maps, MapHandle h, long pid)
    {
        for (var s = 0; s < h.Capacity; s++)
        {
            var at = s * ArenaShape.SlotWords;
            if (maps.Word(h, at) == 0) continue; // a free slot
            for (var w = 1; w < ArenaShape.SlotWords; w++)
                if (IsPid(maps.Word(h, at + w), pid)) return true;
        }
        return false;
    }

    /// <summary>Steps whose callback went on from a checkpoint, and runs replayed from their first instruction (tests, benchmarks).</summary>
    internal (long Hits, long Misses) CheckpointStats => _vm == null ? (0, 0) : (_vm.CheckpointHits, _vm.CheckpointMisses);

    private static ulong Task(TaskRef p) => p.IsNone ? 0 : Mem.Addr(Region.Task, p.Index, 0);

    private BpfTask<long> Call(BpfContext ctx, ScxCallback cb, params ulong[] args) =>
        _vm.Run(ctx, _obj.Ops.Callbacks[cb].Entry, args);

    public override async BpfTask Init(InitContext ctx)
    {
        // User space runs its syscall programs after load, before attaching (and so before ops.init); one that
        // fails makes it give up, so the scheduler never runs.
        for (var i = 0; i < _obj.Syscalls.Count; i++)
        {
            var run = _obj.Syscalls[i];
            if (run.Attached) continue;
            var rc = (int)await _vm.Run(ctx, run.Program.Entry, [], [Mem.Addr(Region.Ctx, Interpreter.SyscallCtx + i, 0)]);
            if (rc != 0) throw new KernelErrorException($"syscall program {run.Program.Name} ({run.Text}) returned {rc}: user space would not attach the scheduler");
        }
        var ret = _obj.Ops.Callbacks.ContainsKey(ScxCallback.Init) ? await Call(ctx, ScxCallback.Init) : 0;
        if ((int)ret != 0) throw new KernelErrorException($"ops.init() failed ({SanitizeErr("init", (int)ret)})");
        // scx_cgroup_init(): after ops.init, ops.cgroup_init for every online cgroup — the model's one, the root, with
        // the settings scx_tg_init() gave it. A failure is scx_error("ops.cgroup_init() failed (%d)") (no
        // ops_sanitize_err() on this path).
        if (_obj.Ops.CgroupInit is { } cgroupInit)
        {
            var r = (int)await _vm.Run(ctx, cgroupInit.Entry, [Interpreter.RootCgroup, Interpreter.RootCgroupArgs]);
            if (r != 0) throw new KernelErrorException($"ops.cgroup_init() failed ({r})");
        }
        // scx_enable(): then ops.init_task for every task (fork = false: the tasks exist at
        // load), then ops.enable for every task as it is switched into the scheduler, before any other
        // callback sees it. The model's tasks all exist at load and none is created later, so running
        // them here, in that order, is the kernel's order.
        if (_obj.Ops.InitTask is { } initTask)
            for (var t = 0; t < _taskCount; t++)
            {
                var r = (int)await _vm.Run(ctx, initTask.Entry, [Task(new TaskRef(t)), Mem.Addr(Region.Ctx, Interpreter.TaskArgsCtx, 0)]);
                if (r != 0) throw new KernelErrorException($"ops.init_task() failed ({SanitizeErr("init_task", r)}) for {ctx.Comm(new TaskRef(t))}");  // "%s[%d]", p->comm, p->pid
            }
        if (_obj.Ops.Enable is { } enable)
            for (var t = 0; t < _taskCount; t++)
                await _vm.Run(ctx, enable.Entry, [Task(new TaskRef(t))]);
    }

    /// <summary>
    /// ops_sanitize_err(): a negative errno passes; anything else is "ops.X() returned an invalid errno N"
    /// in the kernel, which then uses -EPROTO. The model keeps the first message, as scx_error() does.
    /// </summary>
    private static int SanitizeErr(string op, int ret) =>
        ret is < 0 and >= -4095 ? ret : throw new KernelErrorException($"ops.{op}() returned an invalid errno {ret}");

    public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags) =>
        (int)await Call(ctx, ScxCallback.SelectCpu, Task(p), (ulong)prevCpu, (ulong)wakeFlags);

    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await Call(ctx, ScxCallback.Enqueue, Task(p), (ulong)enqFlags);
    public override async BpfTask Dequeue(TaskContext ctx, TaskRef p, DeqFlags deqFlags) => await Call(ctx, ScxCallback.Dequeue, Task(p), (ulong)deqFlags);
    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) => await Call(ctx, ScxCallback.Dispatch, (ulong)cpu, Task(prev));
    public override async BpfTask Tick(TaskContext ctx, TaskRef p) => await Call(ctx, ScxCallback.Tick, Task(p));
    public override async BpfTask Runnable(TaskContext ctx, TaskRef p, EnqFlags enqFlags) => await Call(ctx, ScxCallback.Runnable, Task(p), (ulong)enqFlags);
    public override async BpfTask Running(TaskContext ctx, TaskRef p) => await Call(ctx, ScxCallback.Running, Task(p));
    public override async BpfTask Stopping(TaskContext ctx, TaskRef p, bool runnable) => await Call(ctx, ScxCallback.Stopping, Task(p), runnable ? 1UL : 0);
    public override async BpfTask Quiescent(TaskContext ctx, TaskRef p, DeqFlags deqFlags) => await Call(ctx, ScxCallback.Quiescent, Task(p), (ulong)deqFlags);
    public override async BpfTask SetWeight(TaskContext ctx, TaskRef p, int weight) => await Call(ctx, ScxCallback.SetWeight, Task(p), (ulong)weight);
    public override async BpfTask SetCpumask(TaskContext ctx, TaskRef p) =>
        await Call(ctx, ScxCallback.SetCpumask, Task(p), p.IsNone ? 0 : Mem.Addr(Region.TaskCpumask, p.Index, 0));
    public override async BpfTask CpuRelease(CpuReleaseContext ctx, int cpu) => await Call(ctx, ScxCallback.CpuRelease, (ulong)cpu, 0);
    public override async BpfTask CpuAcquire(TaskContext ctx, int cpu) => await Call(ctx, ScxCallback.CpuAcquire, (ulong)cpu, 0);
    public override async BpfTask Disable(TaskContext ctx, TaskRef p) => await _vm.Run(ctx, _obj.Ops.Disable!.Entry, [Task(p)]);
    // scx_exit_task_args.cancelled is false: the task was enabled (ops.init_task and ops.enable ran at load).
    public override async BpfTask ExitTask(TaskContext ctx, TaskRef p) =>
        await _vm.Run(ctx, _obj.Ops.ExitTask!.Entry, [Task(p), Mem.Addr(Region.Ctx, Interpreter.TaskArgsCtx, 0)]);
    public override async BpfTask UpdateIdle(TaskContext ctx, int cpu, bool idle) => await Call(ctx, ScxCallback.UpdateIdle, (ulong)cpu, idle ? 1UL : 0);
    /// <summary>
    /// bpf_timer_cb(): the timer's callback, called as callback(map, key, timer) — a BPF function, not a
    /// struct_ops program, so its arguments are in r1..r3. The key pointer points at the entry index.
    /// </summary>
    public override async BpfTask Timer(BpfContext ctx, int slot)
    {
        if (slot >= _timers.Count)
        {
            var i = _attached[slot - _timers.Count];
            // BPF_PROG_TEST_RUN: the program's return value goes back to user space, not to the scheduler.
            await _vm.Run(ctx, _obj.Syscalls[i].Program.Entry, [], [Mem.Addr(Region.Ctx, Interpreter.SyscallCtx + i, 0)]);
            return;
        }
        var (map, entry, offset) = _timers[slot];
        var state = await ctx.Get(_maps[map], offset / 8);
        var callback = (int)(uint)state - 1;
        if (callback < 0) return; // armed without a callback cannot happen: bpf_timer_start() refuses it
        await _vm.Run(ctx, callback, [(ulong)entry],
            [Mem.Addr(Region.Map, map, 0), Mem.Addr(Region.Ctx, Interpreter.TimerKeyCtx, 0), Mem.Addr(Region.MapValue, map, offset)]);
    }

    public override async BpfTask Exit(BpfContext ctx, ExitKind kind) => await Call(ctx, ScxCallback.Exit, Mem.Addr(Region.ExitInfo, (int)kind, 0));
}
