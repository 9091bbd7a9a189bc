using System.Diagnostics;
using System.Numerics;
using HdrHistogram;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Simulation;

/// <summary>
/// The discrete-event simulator: drives the kernel model (<see cref="Machine"/>) in virtual time.
/// </summary>
/// <remarks>
/// <para>Actors: one per CPU (its scheduling loop and irq_work), and per CPU a "syscall" script
/// actor (wakeups issued by tasks running there, affinity and weight changes) and a "timer" script
/// actor (the scheduler tick, hrtimer wakeups of sleeping tasks); one more script actor performs the
/// instantaneous "task blocks/exits at its next schedule-out" marks; the model's helper actor
/// (scx_disable) runs after a scheduler exit.</para>
/// <para>Time: every model step has a cost (<see cref="StepCosts"/>, classified from the actor's top
/// frame before it runs); an actor's next step is due when its previous step's cost has elapsed.
/// An actor whose step is not enabled (a lock held elsewhere, a spin-wait) is parked and re-checked
/// after every step, so lock hand-offs follow virtual time. Ties between equal times are broken by the
/// seeded choice source. A CPU starts __schedule() when need_resched is set (after an IPI delay), or to
/// run pending irq_work / deferred work. Ticks come every 1/HZ on CPUs running a task.</para>
/// <para>Tasks follow their workload programs (run / sleep / timer / wake / suspend / exit); the
/// simulator watches rq->curr after each CPU step to know when a task starts and stops running,
/// which is where run phases progress and wakeup latency, runtime, migrations and context switches
/// are measured.</para>
/// </remarks>
public sealed class Simulator
{
    private enum TState : byte { NotStarted, Blocked, Active, SleepPending, ExitPending, Dead }

    private struct SimTask
    {
        public int Group;
        public int Instance;
        public int PhaseIdx;
        public int LoopsLeft;         // -1 = forever
        public long Remaining;        // CPU time left in the current run phase
        public bool NeedAdvance;      // start the program at the next switch-in
        public TState State;
        public int Gen;               // invalidates PhaseEnd / TimedWake events
        public long RunStart;         // -1 when not running
        public long PhaseClock;       // since when the current run phase's Remaining has been counting down
        public int RunCpu;
        public int LastCpu;
        public long LastEnd;
        public long WakeIssued;       // -1 = none pending
        public long SleepNs;          // Sleep: relative; Timer: absolute deadline in WakeAt
        public long WakeAt;           // absolute wake deadline for Timer (-1 = none)
        public long TimerBase;        // first timer phase start (-1)
        public long Runtime;
        public long RuntimeAfterExit;  // the part of Runtime run after the scheduler exit
        public int ClassIdx;
        public bool AffinityAll;      // SingleOrAll churn alternation
        public long StartedAt;        // when the task first woke (rt-app's t_first), -1 before
        public long WallDeadline;     // RunWall: the phase ends at this virtual time
        public long RtTimerNext;      // RtAppTimer with a private ("unique") timer: next expiry, -1 before first use
        public int AffinityPhase;     // the SetAffinity phase whose mask is in force, -1 = the group's mask
        public int Weight;            // current weight as the program set it (SetWeight)
        public bool WaitsOnSync;      // blocked in a lock, condition wait or barrier (a resume does not wake it)
        public long WaitSince;        // runnable and not running since (woken or preempted), -1 otherwise
        // Per part (sched_ext, after an exit): wakeups issued, runnable-but-waiting time, migrations.
        public long Wakeups, WakeupsAfterExit, WaitNs, WaitNsAfterExit, Migrations, MigrationsAfterExit;
    }

    private struct Pending
    {
        public ScriptAction Action;
        public int Task;              // for Wake completion handling (-1 otherwise)
    }

    private readonly Workload _workload;
    private readonly SimOptions _o;
    private readonly Machine _m;
    private readonly int _n;
    private readonly SimRandom _rng;
    private readonly EventQueue _q = new();
    private readonly StepCosts _c;
    private readonly ISimTraceSink? _trace;

    // actors
    private readonly int _sysBase, _timerBase, _instantActor, _helper, _actorCount;
    private readonly bool[] _scheduled;
    // Per BPF timer: the expiry its pending event is for (-1: none) and that event's generation.
    private readonly long[] _bpfTimerAt;
    private readonly int[] _bpfTimerGen;
    private readonly List<int> _blocked = [];
    private readonly bool[] _isBlocked;
    private readonly Queue<Pending>[] _pending;      // per script actor (index = actor - _sysBase)
    private readonly Pending[] _current;              // action in progress per script actor

    // tasks
    private readonly SimTask[] _t;
    private readonly TaskGroup[] _groupOf;
    private readonly int[] _groupFirst;               // first task index of each group
    private readonly string[] _classes;
    private readonly ScriptAction[] _wakeAction, _sleepAction, _exitAction;
    private readonly ScriptAction[] _tickAction;
    private readonly Dictionary<long, ScriptAction> _affinityActions = [];
    private readonly Dictionary<long, ScriptAction> _weightActions = [];
    private readonly CpuMask[] _groupMask;
    private readonly int[][] _groupCpus;
    private readonly int[][] _wakeTarget;             // [group][phase] → target group of a Wake phase
    private readonly CpuMask[][] _phaseMask;          // [group][phase] → mask of a SetAffinity phase
    private readonly Dictionary<string, long> _sharedTimers = []; // rt-app timers shared by ref: next expiry
    private readonly Dictionary<(int Task, int Phase), ScriptAction> _phaseAffinityActions = [];

    // rt-app's mutexes, conditions and barriers, by name (each kind its own namespace, as in rt-app's
    // resource table, where a name has one type).
    private readonly Dictionary<string, int> _mutexOwner = [];             // -1 = free
    private readonly Dictionary<string, Queue<int>> _mutexWaiters = [];
    private readonly Dictionary<string, Queue<(int Task, string Mutex)>> _condWaiters = [];
    private readonly Dictionary<string, List<int>> _barrierWaiting = [];
    private readonly Dictionary<string, int> _barrierUsers = [];           // threads whose program uses the barrier

    // cpus
    private readonly int[] _curr;                     // shadow rq->curr
    private readonly ulong _rqBits;
    private readonly int[][] _cpusByBit;

    // metrics, each split in two parts: [0] the sched_ext part (until the first scheduler exit, or
    // the whole run), [1] after the exit (the fair class runs the tasks). A span of running is split
    // at the exit time; a wakeup (count and latency) belongs to the part in which it was issued.
    private const int Scx = 0, After = 1;
    private readonly LongHistogram[] _latAll;
    private readonly LongHistogram[][] _latClass;
    private readonly long[][] _busy;
    private readonly double[][] _utilSeries;
    private readonly long _bucketNs;
    private readonly long[] _rqSamples = new long[2], _rqSum = new long[2];
    private readonly int[] _rqMax = new int[2];
    private readonly long[] _migrations = new long[2], _ctxsw = new long[2], _preempt = new long[2], _affChanges = new long[2], _wakeups = new long[2];
    private readonly List<SimExit> _exits = [];
    private SimExit? _modelLimit;
    private bool _exitSeen;
    private long _exitAt = -1;                        // virtual time of the first exit, -1 = none
    private bool[]? _aliveAtExit;                      // tasks started and not exited at the exit (fairness of the sched_ext part)
    private long[]? _eventsAtExit;                     // SCX_EV_* counters at the exit
    private readonly Dictionary<string, (string Msg, long At, long Count)> _findings = [];
    private readonly long[] _eventSnap;
    private long _steps, _events;

    private long _now;
    // Not readonly: an interrupt ends the run early, and the metrics cover the time actually simulated.
    private long _end;
    private readonly long _tickNs;

    private static readonly int[] ChurnWeights = [25, 50, 100, 200, 400];

    public Machine Machine => _m;

    public Simulator(Workload workload, SimOptions options)
    {
        _workload = workload;
        _o = options;
        _n = options.Cpus;
        if (_n < 1 || _n > ScxConst.MaxCpus) throw new ArgumentOutOfRangeException(nameof(options), $"cpus must be 1..{ScxConst.MaxCpus}");
        if (options.Hz < 1 || options.Hz > 10_000) throw new ArgumentOutOfRangeException(nameof(options), "hz must be 1..10000");
        _c = options.Costs;
        _trace = options.Trace;
        _rng = new SimRandom(options.Seed);
        _end = options.DurationNs;
        _tickNs = 1_000_000_000L / options.Hz;

        // ---- tasks
        var groups = workload.Groups;
        var total = workload.TaskCount;
        _t = new SimTask[total];
        _groupOf = new TaskGroup[total];
        _groupFirst = new int[groups.Count];
        _groupMask = new CpuMask[groups.Count];
        _groupCpus = new int[groups.Count][];
        var classList = new List<string>();
        var specs = new List<TaskSpec>(total);
        var idx = 0;
        for (var g = 0; g < groups.Count; g++)
        {
            var grp = groups[g];
            _groupFirst[g] = idx;
            List<int> cpus;
            if (grp.Cpus == null) cpus = Enumerable.Range(0, _n).ToList();
            else
            {
                var at = grp.CpusAt != null ? grp.CpusAt + ": " : "";
                if (!CpuLists.TryParse(grp.Cpus, 256, out cpus, out var why)) throw new WorkloadException($"{at}task group '{grp.Name}': {why}");
                // A CPU the machine does not have is an error, not silently dropped: the group would
                // run on fewer CPUs than its file says.
                if (cpus.FirstOrDefault(c => c >= _n, -1) is var missing and >= 0)
                    throw new WorkloadException($"{at}task group '{grp.Name}': CPU {missing} does not exist on a {_n}-CPU machine (cpus '{grp.Cpus}'; set --cpus or the workload's cpus:)");
                cpus = cpus.Distinct().Order().ToList();
            }
            _groupCpus[g] = [.. cpus];
            var mask = default(CpuMask);
            foreach (var c in cpus) mask.Set(c);
            _groupMask[g] = mask;
            var cls = classList.IndexOf(grp.Class);
            if (cls < 0)
            {
                classList.Add(grp.Class);
                cls = classList.Count - 1;
            }
            for (var k = 0; k < grp.Count; k++, idx++)
            {
                var name = grp.Count > 1 ? $"{grp.Name}-{k}" : grp.Name;
                specs.Add(new TaskSpec(name, 1000 + idx, mask, cpus[idx % cpus.Count], InitialTaskState.Sleeping, grp.Weight));
                _groupOf[idx] = grp;
                _t[idx] = new SimTask
                {
                    Group = g, Instance = k, LoopsLeft = grp.Loop, RunStart = -1, LastCpu = -1, WakeIssued = -1, WaitSince = -1, WakeAt = -1, TimerBase = -1,
                    ClassIdx = cls, State = TState.NotStarted, RunCpu = -1, StartedAt = -1, RtTimerNext = -1, AffinityPhase = -1, Weight = grp.Weight,
                    PhaseIdx = grp.StartSuspended && grp.Phases[0].Kind == PhaseKind.Suspend ? 1 : 0,
                };
            }
        }
        _classes = [.. classList];
        _wakeTarget = new int[groups.Count][];
        _phaseMask = new CpuMask[groups.Count][];
        for (var g = 0; g < groups.Count; g++)
        {
            _wakeTarget[g] = new int[groups[g].Phases.Count];
            _phaseMask[g] = new CpuMask[groups[g].Phases.Count];
            for (var p = 0; p < groups[g].Phases.Count; p++)
            {
                var ph = groups[g].Phases[p];
                if (ph.Kind == PhaseKind.SetAffinity) _phaseMask[g][p] = PhaseMask(groups[g], ph);
                if (ph.Kind != PhaseKind.Wake) continue;
                var target = -1;
                for (var x = 0; x < groups.Count; x++)
                    if (groups[x].Name == ph.Target) target = x;
                // -1: an rt-app resume of a name that is no task's (the loader warned); it wakes no one.
                _wakeTarget[g][p] = target;
            }
        }

        // rt-app's barrier waits for every thread that uses it (its resource counts the users at parse time).
        for (var g = 0; g < groups.Count; g++)
            foreach (var name in groups[g].Phases.Where(p => p.Kind == PhaseKind.Barrier).Select(p => p.Target!).Distinct())
                _barrierUsers[name] = _barrierUsers.GetValueOrDefault(name) + groups[g].Count;

        // ---- actors: CPUs, then N syscall, N timer, 1 instant, then the model's helper
        var scripts = new List<ScriptSpec>();
        // A syscall is made by the task running on its CPU, a timer interrupts it: `current` is that task.
        for (var c = 0; c < _n; c++) scripts.Add(new ScriptSpec($"syscall{c}", c, [], ActsForCpuCurrent: true));
        for (var c = 0; c < _n; c++) scripts.Add(new ScriptSpec($"timer{c}", c, [], ActsForCpuCurrent: true));
        scripts.Add(new ScriptSpec("task", 0, []));
        _m = new Machine(new ModelConfig
        {
            CpuCount = _n,
            Tasks = specs,
            PolicyFactory = options.Policy,
            PolicyName = options.PolicyName,
            Protocol = options.Protocol,
            Rounds = Enumerable.Repeat(-1, _n).ToArray(),
            Scripts = scripts,
            TickNs = _tickNs,
            Clocked = true,
            WatchdogTimeoutNs = options.WatchdogTimeoutNs,
            // The exploration bounds size every copied world; a simulation never copies its one world, so it can give
            // real schedulers room: a DSQ per CPU and per node (scx_bpfland), a DSQ per CPU plus 64 overflow DSQs
            // (scx_pandemonium), and ops.init with init_task for every task of a large workload in one callback.
            MaxUserDsqs = Math.Max(ModelConfig.DefaultMaxUserDsqs, 4 * _n + 128),
            // An arena scheduler's ops.init initialises its allocator's pages a word at a time (scx_cake: some 50 000 accesses).
            CallBudget = Math.Max(ModelConfig.DefaultCallBudget, 200_000),
            // An arena scheduler's allocator and task contexts (scx_cake's sdt allocator takes about 60 pages for two CPUs).
            MaxArenaPages = 256,
            // Hash maps keyed by pid or CPU: room for every task of a large workload.
            MaxHashElems = 16_384,
            // A timer per CPU and a few global ones (scx_nest, scx_tickless): a timer is an event source here, not a
            // branching point.
            MaxBpfTimers = Math.Max(ModelConfig.DefaultBpfTimers, _n + 8),
        });
        _sysBase = _n;
        _timerBase = 2 * _n;
        _instantActor = 3 * _n;
        _helper = _m.HelperActor;
        _actorCount = _m.ActorCount;
        if (options.Record) Recording = new SimRecording(_actorCount);
        _scheduled = new bool[_actorCount];
        _bpfTimerAt = new long[_m.BpfTimerCount];
        Array.Fill(_bpfTimerAt, -1);
        _bpfTimerGen = new int[_m.BpfTimerCount];
        _isBlocked = new bool[_actorCount];
        _pending = new Queue<Pending>[2 * _n + 1];
        for (var i = 0; i < _pending.Length; i++) _pending[i] = new Queue<Pending>(16);
        _current = new Pending[2 * _n + 1];

        _wakeAction = new ScriptAction[total];
        _sleepAction = new ScriptAction[total];
        _exitAction = new ScriptAction[total];
        for (var i = 0; i < total; i++)
        {
            _wakeAction[i] = new ScriptAction(ActionKind.Wake, Task: i);
            _sleepAction[i] = new ScriptAction(ActionKind.Sleep, Task: i);
            _exitAction[i] = new ScriptAction(ActionKind.Exit, Task: i);
        }
        _tickAction = new ScriptAction[_n];
        for (var c = 0; c < _n; c++) _tickAction[c] = new ScriptAction(ActionKind.Tick, Cpu: c);

        _curr = new int[_n];
        Array.Fill(_curr, -1);
        _cpusByBit = new int[64][];
        var byBit = new List<int>[64];
        for (var b = 0; b < 64; b++) byBit[b] = [];
        for (var c = 0; c < _n; c++)
        {
            var bit = _m.Bits.Of(Resource.Rq, c);
            _rqBits |= bit;
            byBit[BitOperations.TrailingZeroCount(bit)].Add(c);
        }
        for (var b = 0; b < 64; b++) _cpusByBit[b] = [.. byBit[b]];

        _latAll = [NewHistogram(), NewHistogram()];
        _latClass = new LongHistogram[2][];
        _busy = new long[2][];
        for (var ph = 0; ph < 2; ph++)
        {
            _latClass[ph] = new LongHistogram[_classes.Length];
            for (var i = 0; i < _classes.Length; i++) _latClass[ph][i] = NewHistogram();
            _busy[ph] = new long[_n];
        }
        var buckets = Math.Max(1, options.UtilBuckets);
        _bucketNs = Math.Max(1, (_end + buckets - 1) / buckets);
        _utilSeries = new double[_n][];
        for (var c = 0; c < _n; c++) _utilSeries[c] = new double[buckets];
        _eventSnap = new long[_m.World.Events.Length];
    }

    private static LongHistogram NewHistogram() => new(3_600_000_000_000L, 3);

    /// <summary>The mask of a SetAffinity phase: its CPU list, or every CPU of the machine when it has none.</summary>
    private CpuMask PhaseMask(TaskGroup grp, Phase ph)
    {
        var mask = default(CpuMask);
        if (ph.Target == null)
        {
            for (var c = 0; c < _n; c++) mask.Set(c);
            return mask;
        }
        var at = ph.At != null ? ph.At + ": " : "";
        if (!CpuLists.TryParse(ph.Target, 256, out var cpus, out var why)) throw new WorkloadException($"{at}task '{grp.Name}': {why}");
        if (cpus.FirstOrDefault(c => c >= _n, -1) is var missing and >= 0)
            throw new WorkloadException($"{at}task '{grp.Name}': CPU {missing} does not exist on a {_n}-CPU machine (cpus '{ph.Target}'; set --cpus)");
        foreach (var c in cpus) mask.Set(c);
        return mask;
    }

    /// <summary>Phases during which the task needs the CPU.</summary>
    private static bool IsCpuPhase(PhaseKind k) => k is PhaseKind.Run or PhaseKind.RunWall;

    // ================================================================ run

    /// <summary>The model this simulation drives (its configuration and actor names).</summary>
    public Machine Model => _m;

    /// <summary>The steps and external actions up to the first finding, when <see cref="SimOptions.Record"/> asked for them.</summary>
    public SimRecording? Recording { get; }

    /// <summary>True when <see cref="SimOptions.Cancel"/> ended the run before its duration.</summary>
    public bool Interrupted { get; private set; }

    public SimResult Run()
    {
        var wall = Stopwatch.StartNew();
        _trace?.Begin(_n, _m.Config.Tasks.Select(t => t.Name).ToArray(), $"{_workload.Name} · {_o.PolicyName} · {_o.Protocol}");

        // Initial events: task starts, churn timers, ticks (staggered per CPU), the watchdog.
        for (var i = 0; i < _t.Length; i++)
        {
            var g = _groupOf[i];
            if (!g.StartSuspended)
            {
                var at = g.StartNs + (g.StartSpreadNs > 0 ? _rng.NextLong(g.StartSpreadNs) : 0);
                Push(at, EvKind.Start, i);
            }
            else
            {
                _t[i].State = TState.Blocked;
                _t[i].NeedAdvance = true;
            }
            if (g.AffinityChurnNs > 0) Push(g.StartNs + _rng.NextLong(g.AffinityChurnNs), EvKind.AffinityChurn, i);
            if (g.WeightChurnNs > 0) Push(g.StartNs + _rng.NextLong(g.WeightChurnNs), EvKind.WeightChurn, i);
        }
        for (var c = 0; c < _n; c++) Push(_rng.NextLong(_tickNs) + 1, EvKind.Tick, c);
        var wdPeriod = Math.Max(1, _m.WatchdogTimeoutNs / 2);
        Push(wdPeriod, EvKind.Watchdog, 0);
        if (_bpfTimerAt.Length > 0) ScheduleBpfTimers(); // timers ops.init armed at boot

        var nextProgressCheck = 0L;
        long lastReport = 0;
        while (_q.Count > 0)
        {
            if (_q.Peek().Time > _end) break;
            if (_o.Cancel.IsCancellationRequested)
            {
                Interrupted = true;
                _end = Math.Max(_now, 1);
                break;
            }
            var e = _q.Pop();
            _now = e.Time;
            _events++;
            switch (e.Kind)
            {
                case EvKind.Step: StepActor(e.A); break;
                case EvKind.Tick: OnTick(e.A); break;
                case EvKind.PhaseEnd: OnPhaseEnd(e.A, e.B); break;
                case EvKind.TimedWake: OnTimedWake(e.A, e.B); break;
                case EvKind.Start: OnStart(e.A); break;
                case EvKind.AffinityChurn: OnAffinityChurn(e.A); break;
                case EvKind.WeightChurn: OnWeightChurn(e.A); break;
                case EvKind.BpfTimer: OnBpfTimer(e.A, e.B); break;
                case EvKind.Watchdog:
                    _m.World.Sched.Clock = ModelConfig.AttachClockNs + _now;
                    _m.CheckWatchdog();
                    Recording?.ExitBetweenSteps(_m, _now);
                    CheckExit();
                    Push(_now + wdPeriod, EvKind.Watchdog, 0);
                    break;
                default:
                    throw new UnreachableException($"event kind {e.Kind}");
            }
            if (_events >= nextProgressCheck && _o.Progress != null)
            {
                nextProgressCheck = _events + 20_000;
                var ms = wall.ElapsedMilliseconds;
                if (ms >= 1000 && ms - lastReport >= 100)
                {
                    lastReport = ms;
                    _o.Progress((double)_now / _end);
                }
            }
        }
        _now = _end;
        for (var c = 0; c < _n; c++)
            if (_curr[c] >= 0) SwitchOut(c, _curr[c], final: true);
        _trace?.End(_end);
        if (_o.Progress != null && wall.ElapsedMilliseconds >= 1000) _o.Progress(1.0);
        wall.Stop();
        return BuildResult(wall.Elapsed.TotalSeconds);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private void Push(long time, EvKind kind, int a, int b = 0) =>
        _q.Push(new Ev { Time = time, Tie = _rng.NextU64(), Kind = kind, A = a, B = b });

    private long Cost(long baseNs)
    {
        if (!_c.Jitter) return Math.Max(1, baseNs);
        var cost = Math.Max(1, (long)(baseNs * _rng.NextExp()));
        // P(an interrupt lands inside this step) = rate × duration.
        if (_c.IrqPerSecond > 0 && _rng.NextUnit() < cost * _c.IrqPerSecond * 1e-9)
            cost += (long)(_c.IrqMeanNs * _rng.NextExp());
        return cost;
    }

    private void ScheduleActor(int a, long at)
    {
        if (_scheduled[a]) return;
        _scheduled[a] = true;
        Push(at, EvKind.Step, a);
    }

    // ================================================================ stepping

    private long ClassifyCost(int a)
    {
        var w = _m.World;
        var d = w.Actors[a].Depth;
        if (d == 0) return a < _n ? _c.ScheduleEntryNs : _c.SyscallEntryNs;
        ref readonly var f = ref w.Frames[a * w.MaxDepth + d - 1];
        return f.Wait switch
        {
            WaitKind.RqLock or WaitKind.DsqLock or WaitKind.PiLock or WaitKind.BpfSpinLock => _c.LockNs,
            WaitKind.OpsStateChange or WaitKind.KickSync or WaitKind.BpfSpinRead => _c.SpinNs,
            _ => f.Path == PathId.Callback ? _c.KfuncNs : _c.PathNs,
        };
    }

    private void StepActor(int a)
    {
        _scheduled[a] = false;
        if (!_m.IsEnabled(a))
        {
            if (!_isBlocked[a])
            {
                _isBlocked[a] = true;
                _blocked.Add(a);
            }
            return;
        }
        var w = _m.World;
        var cost = Cost(ClassifyCost(a));
        w.Sched.Clock = ModelConfig.AttachClockNs + _now;
        if (_trace != null) w.Events.AsSpan().CopyTo(_eventSnap);
        var fromIdle = w.Actors[a].Depth == 0;
        _m.Step(a);
        _steps++;
        Recording?.Step(_m, a, fromIdle, _now);
        AfterStep(a);
        if (w.Actors[a].Depth > 0) ScheduleActor(a, _now + cost);
        else ActivityDone(a, cost);
    }

    /// <summary>Bookkeeping after any step (or instantaneous external action) of actor <paramref name="a"/>.</summary>
    private void AfterStep(int a)
    {
        var w = _m.World;
        // Read this step's footprint first: a switch below may perform an instantaneous mark
        // (MarkNow), which replaces the model's last footprint with its own.
        var wr = _m.LastFootprint.Writes & _rqBits;
        if (a < _n)
        {
            var now = w.Cpus[a].Curr;
            if (now != _curr[a]) OnSwitch(a, _curr[a], now);
        }
        // CPUs whose rq this step wrote may now need to schedule or run irq_work.
        while (wr != 0)
        {
            var b = BitOperations.TrailingZeroCount(wr);
            wr &= wr - 1;
            foreach (var c in _cpusByBit[b]) CheckCpu(c, a);
        }
        if (_blocked.Count > 0) Unblock();
        if (_m.StepFindings.Count > 0) RecordFindings();
        if (!_exitSeen && w.Sched.ExitKind != ExitKind.None) CheckExit();
        if (_trace != null) TraceEventDeltas(a);
        if (_bpfTimerAt.Length > 0) ScheduleBpfTimers();
    }

    /// <summary>
    /// Each idle BPF timer that is armed gets one expiry event at its expiry time (the step that armed, re-armed or
    /// cancelled it makes the older event stale). A timer whose callback is running is looked at when it ends.
    /// </summary>
    private void ScheduleBpfTimers()
    {
        var first = _m.FirstBpfTimerActor;
        for (var slot = 0; slot < _bpfTimerAt.Length; slot++)
        {
            var a = first + slot;
            if (_m.World.Actors[a].Depth > 0 || _scheduled[a] || _isBlocked[a]) continue;
            var armed = _m.BpfTimerArmed(slot);
            // The armed word holds expiry + 1 on the kernel's clock, which is the simulator's time + AttachClockNs.
            var at = armed == 0 ? -1 : Math.Max(_now, armed - 1 - ModelConfig.AttachClockNs);
            if (at == _bpfTimerAt[slot]) continue;
            _bpfTimerAt[slot] = at;
            _bpfTimerGen[slot]++;
            if (at >= 0) Push(at, EvKind.BpfTimer, a, _bpfTimerGen[slot]);
        }
    }

    /// <summary>A BPF timer's expiry: the hrtimer fires and its callback starts (unless re-armed or cancelled since).</summary>
    private void OnBpfTimer(int a, int gen)
    {
        var slot = a - _m.FirstBpfTimerActor;
        if (gen != _bpfTimerGen[slot]) return;
        _bpfTimerAt[slot] = -1;
        if (!_m.IsEnabled(a)) return; // the scheduler exited
        StepActor(a);
    }

    private void Unblock()
    {
        for (var i = _blocked.Count - 1; i >= 0; i--)
        {
            var b = _blocked[i];
            if (!_m.IsEnabled(b)) continue;
            _isBlocked[b] = false;
            _blocked[i] = _blocked[^1];
            _blocked.RemoveAt(_blocked.Count - 1);
            ScheduleActor(b, _now + Cost(_c.SpinNs));
        }
    }

    private void CheckCpu(int c, int byActor)
    {
        if (_scheduled[c] || _isBlocked[c]) return;
        var w = _m.World;
        if (w.Actors[c].Depth != 0) return;
        ref readonly var rq = ref w.Cpus[c];
        if (!(rq.NeedResched || rq.KickIrqWork || rq.DeferredLocals || rq.ReenqRequested != 0 || rq.ReenqUsers != 0)) return;
        var local = byActor == c || (byActor >= _n && byActor < _instantActor && _m.Actor(byActor).Cpu == c);
        ScheduleActor(c, _now + Cost(local ? _c.ReschedLocalNs : _c.ReschedIpiNs));
    }

    private void ActivityDone(int a, long cost)
    {
        if (a < _n)
        {
            CheckCpu(a, a);
            return;
        }
        if (a == _helper) return;
        if (a >= _m.FirstBpfTimerActor)
        {
            ScheduleBpfTimers(); // the callback may have re-armed its timer
            return;
        }
        var slot = a - _sysBase;
        var done = _current[slot];
        _current[slot] = default;
        if (done.Action is { Kind: ActionKind.Wake }) WakeCompleted(done.Task);
        if (_pending[slot].Count > 0) StartPending(a, _now + cost);
    }

    // ================================================================ script actors

    private void Issue(int actor, ScriptAction action, int task)
    {
        var slot = actor - _sysBase;
        var busy = _current[slot].Action != null || _scheduled[actor] || _isBlocked[actor] || _m.World.Actors[actor].Depth != 0;
        _pending[slot].Enqueue(new Pending { Action = action, Task = task });
        if (!busy) StartPending(actor, _now);
    }

    private void StartPending(int actor, long at)
    {
        var slot = actor - _sysBase;
        var p = _pending[slot].Dequeue();
        _current[slot] = p;
        _m.World.Sched.Clock = ModelConfig.AttachClockNs + _now;
        _m.StartExternal(actor, p.Action);
        RecordExternal(actor, p.Action);
        if (_m.World.Actors[actor].Depth > 0)
        {
            ScheduleActor(actor, Math.Max(at, _now) + Cost(_c.SyscallEntryNs));
        }
        else
        {
            AfterStep(actor);
            ActivityDone(actor, 0);
        }
    }

    /// <summary>
    /// An external action started on a script actor: in an exploration the actor's step that starts it is the
    /// action's first step, so an action that completed at once (depth 0: the marks) is a step of its own.
    /// </summary>
    private void RecordExternal(int actor, ScriptAction action)
    {
        if (Recording == null) return;
        Recording.Action(actor, action);
        if (_m.World.Actors[actor].Depth == 0) Recording.Step(_m, actor, startedActivity: true, _now);
    }

    /// <summary>Sleep/Exit marks are instantaneous (no step): performed on the dedicated actor right now.</summary>
    private void MarkNow(ScriptAction action)
    {
        _m.World.Sched.Clock = ModelConfig.AttachClockNs + _now;
        _m.StartExternal(_instantActor, action);
        RecordExternal(_instantActor, action);
        AfterStep(_instantActor);
    }

    // ================================================================ task programs

    private void OnStart(int t)
    {
        ref var s = ref _t[t];
        if (s.State != TState.NotStarted) return;
        s.State = TState.Blocked;
        s.NeedAdvance = true;
        s.StartedAt = _now;
        IssueWake(t, _timerBase + _m.World.Tasks[t].Cpu);
    }

    private void IssueWake(int t, int viaActor)
    {
        ref var s = ref _t[t];
        switch (s.State)
        {
            case TState.Blocked:
                if (s.WakeIssued < 0) s.WakeIssued = _now;
                if (s.WaitSince < 0) s.WaitSince = _now;
                s.Gen++; // a pending timed wake is superseded
                _wakeups[Part]++;
                if (Part == Scx) s.Wakeups++; else s.WakeupsAfterExit++;
                _trace?.Wakeup(t, _m.World.Tasks[t].Cpu, _now);
                Issue(viaActor, _wakeAction[t], t);
                break;
            case TState.SleepPending:
                // try_to_wake_up() on a task that has not blocked yet: ttwu_runnable() keeps it running.
                Issue(viaActor, _wakeAction[t], t);
                break;
            case TState.NotStarted:
            case TState.Active:
            case TState.ExitPending:
            case TState.Dead:
                break; // nobody is waiting (rt-app resume of a running task is lost too)
            default:
                throw new UnreachableException($"task state {s.State}");
        }
    }

    private void WakeCompleted(int t)
    {
        ref var s = ref _t[t];
        ref readonly var k = ref _m.World.Tasks[t];
        if (k.Run != RunState.Runnable) return;
        if (s.State == TState.Blocked)
        {
            s.State = TState.Active;
        }
        else if (s.State == TState.Active && s.NeedAdvance && s.RunStart >= 0)
        {
            s.NeedAdvance = false;
            Advance(t, s.RunCpu);
        }
        else if (s.State == TState.SleepPending && !k.WantsSleep)
        {
            s.State = TState.Active;
            s.WakeAt = -1;
            if (s.RunStart >= 0) Advance(t, s.RunCpu);
            else s.NeedAdvance = true;
        }
    }

    private void OnTimedWake(int t, int gen)
    {
        ref var s = ref _t[t];
        if (s.Gen != gen || s.State != TState.Blocked) return;
        var cpu = s.LastCpu >= 0 ? s.LastCpu : _m.World.Tasks[t].Cpu;
        IssueWake(t, _timerBase + cpu);
    }

    private void OnPhaseEnd(int t, int gen)
    {
        ref var s = ref _t[t];
        if (s.Gen != gen || s.RunStart < 0 || s.State != TState.Active) return;
        s.Remaining = 0;
        s.PhaseIdx++;
        Advance(t, s.RunCpu);
    }

    /// <summary>Run the task's program from its current phase until it runs, blocks or exits. The task is running on <paramref name="cpu"/>.</summary>
    private void Advance(int t, int cpu)
    {
        ref var s = ref _t[t];
        var phases = _groupOf[t].Phases;
        for (var guard = 0; guard < 10_000; guard++)
        {
            if (s.PhaseIdx >= phases.Count)
            {
                if (s.LoopsLeft == 1)
                {
                    s.State = TState.ExitPending;
                    MarkNow(_exitAction[t]);
                    return;
                }
                if (s.LoopsLeft > 0) s.LoopsLeft--;
                s.PhaseIdx = 0;
            }
            var ph = phases[s.PhaseIdx];
            switch (ph.Kind)
            {
                case PhaseKind.Run:
                    s.Remaining = ph.Ns;
                    s.PhaseClock = _now;
                    s.Gen++;
                    Push(_now + s.Remaining, EvKind.PhaseEnd, t, s.Gen);
                    return;
                case PhaseKind.RunWall:
                    s.WallDeadline = _now + ph.Ns;
                    s.Remaining = ph.Ns;
                    s.PhaseClock = _now;
                    s.Gen++;
                    Push(_now + s.Remaining, EvKind.PhaseEnd, t, s.Gen);
                    return;
                case PhaseKind.Wake:
                {
                    var tg = _wakeTarget[s.Group][s.PhaseIdx];
                    s.PhaseIdx++;
                    if (tg < 0) continue;
                    var count = _workload.Groups[tg].Count;
                    if (count == 0) continue; // an rt-app task with no instance: nobody waits to be resumed
                    var target = _groupFirst[tg] + s.Instance % count;
                    // rt-app's resume signals the target's own suspend condition: a thread blocked
                    // in a mutex, a condition wait or a barrier is not woken by it.
                    if (target != t && !_t[target].WaitsOnSync) IssueWake(target, _sysBase + cpu);
                    continue;
                }
                case PhaseKind.Lock:
                    s.PhaseIdx++;
                    if (_mutexOwner.GetValueOrDefault(ph.Target!, -1) < 0)
                    {
                        _mutexOwner[ph.Target!] = t;
                        continue;
                    }
                    Waiters(ph.Target!).Enqueue(t);
                    BlockOnSync(t);
                    return;
                case PhaseKind.Unlock:
                    s.PhaseIdx++;
                    Unlock(ph.Target!, cpu);
                    continue;
                case PhaseKind.CondSignal:
                case PhaseKind.CondBroadcast:
                    s.PhaseIdx++;
                    Signal(ph.Target!, all: ph.Kind == PhaseKind.CondBroadcast, cpu);
                    continue;
                case PhaseKind.CondWait:
                case PhaseKind.CondSync:
                {
                    s.PhaseIdx++;
                    // pthread_cond_wait(): release the mutex and sleep on the condition in one step;
                    // rt-app's sync signals the condition first.
                    if (ph.Kind == PhaseKind.CondSync) Signal(ph.Target!, all: false, cpu);
                    Unlock(ph.Mutex!, cpu);
                    if (!_condWaiters.TryGetValue(ph.Target!, out var q)) _condWaiters[ph.Target!] = q = new Queue<(int, string)>();
                    q.Enqueue((t, ph.Mutex!));
                    BlockOnSync(t);
                    return;
                }
                case PhaseKind.Barrier:
                {
                    s.PhaseIdx++;
                    if (!_barrierWaiting.TryGetValue(ph.Target!, out var waiting)) _barrierWaiting[ph.Target!] = waiting = [];
                    if (waiting.Count + 1 < _barrierUsers[ph.Target!])
                    {
                        waiting.Add(t);
                        BlockOnSync(t);
                        return;
                    }
                    // The last thread to arrive releases the others and goes on.
                    foreach (var w in waiting) WakeFromSync(w, cpu);
                    waiting.Clear();
                    continue;
                }
                case PhaseKind.RtAppTimer:
                {
                    // rt-app's timer event: the expiry starts at the thread's start and advances by
                    // the period at every use; sleep to it, or on an overrun go on at once (relative
                    // mode restarts the timer from now, absolute mode keeps the missed expiry).
                    var shared = ph.Target;
                    var next = shared == null ? s.RtTimerNext : _sharedTimers.GetValueOrDefault(shared, -1);
                    if (next < 0) next = s.StartedAt >= 0 ? s.StartedAt : _now;
                    next += ph.Ns;
                    s.PhaseIdx++;
                    var sleep = _now < next;
                    if (!sleep && !ph.Absolute) next = _now;
                    if (shared == null) s.RtTimerNext = next;
                    else _sharedTimers[shared] = next;
                    if (!sleep) continue;
                    s.WakeAt = next;
                    s.SleepNs = 0;
                    BeginSleep(t);
                    return;
                }
                case PhaseKind.SetAffinity:
                {
                    // rt-app calls sched_setaffinity() only when the phase's mask differs from the current one.
                    var phase = s.PhaseIdx;
                    s.PhaseIdx++;
                    var current = s.AffinityPhase < 0 ? _groupMask[s.Group] : _phaseMask[s.Group][s.AffinityPhase];
                    var want = _phaseMask[s.Group][phase];
                    if (want.Equals(current)) continue;
                    s.AffinityPhase = phase;
                    if (!_phaseAffinityActions.TryGetValue((t, phase), out var action))
                    {
                        action = new ScriptAction(ActionKind.SetAffinity, Task: t, Mask: want);
                        _phaseAffinityActions[(t, phase)] = action;
                    }
                    _affChanges[Part]++;
                    Issue(_sysBase + cpu, action, -1);
                    continue;
                }
                case PhaseKind.SetWeight:
                {
                    s.PhaseIdx++;
                    var weight = (int)ph.Ns;
                    if (weight == s.Weight) continue;
                    s.Weight = weight;
                    var id = ((long)t << 16) | (uint)weight;
                    if (!_weightActions.TryGetValue(id, out var action))
                    {
                        action = new ScriptAction(ActionKind.SetWeight, Task: t, Weight: weight);
                        _weightActions[id] = action;
                    }
                    Issue(_sysBase + cpu, action, -1);
                    continue;
                }
                case PhaseKind.Sleep:
                    s.SleepNs = ph.Ns;
                    s.WakeAt = -1;
                    s.PhaseIdx++;
                    BeginSleep(t);
                    return;
                case PhaseKind.Timer:
                {
                    if (s.TimerBase < 0) s.TimerBase = _now;
                    var k = (_now - s.TimerBase) / ph.Ns + 1;
                    s.WakeAt = s.TimerBase + k * ph.Ns;
                    s.SleepNs = 0;
                    s.PhaseIdx++;
                    BeginSleep(t);
                    return;
                }
                case PhaseKind.Suspend:
                    s.SleepNs = -1;
                    s.WakeAt = -1;
                    s.PhaseIdx++;
                    BeginSleep(t);
                    return;
                case PhaseKind.Exit:
                    s.State = TState.ExitPending;
                    MarkNow(_exitAction[t]);
                    return;
                default:
                    throw new UnreachableException($"phase {ph.Kind}");
            }
        }
        throw new InvalidOperationException($"task {_m.TaskName(t)}: its program has no run, sleep or suspend phase");
    }

    private Queue<int> Waiters(string mutex)
    {
        if (!_mutexWaiters.TryGetValue(mutex, out var q)) _mutexWaiters[mutex] = q = new Queue<int>();
        return q;
    }

    /// <summary>Block in a mutex, condition or barrier: only the object's release wakes the task.</summary>
    private void BlockOnSync(int t)
    {
        ref var s = ref _t[t];
        s.SleepNs = -1;
        s.WakeAt = -1;
        s.WaitsOnSync = true;
        BeginSleep(t);
    }

    private void WakeFromSync(int t, int cpu)
    {
        _t[t].WaitsOnSync = false;
        IssueWake(t, _sysBase + cpu);
    }

    /// <summary>
    /// Release a mutex. The first waiter gets it directly (FIFO hand-off) and is woken; glibc lets a
    /// running thread take it first instead, which changes who waits, not what the scheduler sees.
    /// </summary>
    private void Unlock(string mutex, int cpu)
    {
        if (_mutexWaiters.TryGetValue(mutex, out var q) && q.Count > 0)
        {
            var next = q.Dequeue();
            _mutexOwner[mutex] = next;
            WakeFromSync(next, cpu);
        }
        else _mutexOwner[mutex] = -1;
    }

    /// <summary>Wake one (or every) waiter of a condition; each must take its mutex back before it runs on.</summary>
    private void Signal(string cond, bool all, int cpu)
    {
        if (!_condWaiters.TryGetValue(cond, out var q)) return;
        for (var n = all ? q.Count : Math.Min(1, q.Count); n > 0; n--)
        {
            var (w, mutex) = q.Dequeue();
            if (_mutexOwner.GetValueOrDefault(mutex, -1) < 0)
            {
                _mutexOwner[mutex] = w;
                WakeFromSync(w, cpu);
            }
            else Waiters(mutex).Enqueue(w); // still blocked, now on the mutex
        }
    }

    private void BeginSleep(int t)
    {
        _t[t].State = TState.SleepPending;
        MarkNow(_sleepAction[t]);
    }

    // ================================================================ switches (rq->curr changes)

    private void OnSwitch(int c, int prev, int next)
    {
        if (prev >= 0) SwitchOut(c, prev, final: false);
        _curr[c] = next;
        if (next >= 0) SwitchIn(c, next);
    }

    private void SwitchIn(int c, int t)
    {
        ref var s = ref _t[t];
        s.RunStart = _now;
        s.RunCpu = c;
        _ctxsw[Part]++;
        if (s.WakeIssued >= 0)
        {
            var lat = Math.Max(0, _now - s.WakeIssued);
            var ph = _exitAt >= 0 && s.WakeIssued >= _exitAt ? After : Scx;
            _latAll[ph].RecordValue(lat);
            _latClass[ph][s.ClassIdx].RecordValue(lat);
            s.WakeIssued = -1;
        }
        if (s.WaitSince >= 0)
        {
            // Charged to the part it ends in (as runtime is), so the parts add up to the task's total.
            if (Part == Scx) s.WaitNs += _now - s.WaitSince; else s.WaitNsAfterExit += _now - s.WaitSince;
            s.WaitSince = -1;
        }
        if (s.LastCpu >= 0 && s.LastCpu != c)
        {
            _migrations[Part]++;
            if (Part == Scx) s.Migrations++; else s.MigrationsAfterExit++;
            _trace?.Migration(t, s.LastCpu, s.LastEnd, c, _now);
        }
        // Running means awake, even if the waker's try_to_wake_up() has not returned yet.
        if (s.State == TState.Blocked) s.State = TState.Active;
        if (s.State is TState.SleepPending or TState.ExitPending && _m.World.Tasks[t].WantsSleep)
        {
            // Preempted (the stopper, a higher class) after it set its sleep state but before its
            // schedule(): it resumes right there and calls schedule() again, which blocks it now.
            // Without this it would run on, doing nothing, until its slice ran out.
            MarkNow(s.State == TState.ExitPending ? _exitAction[t] : _sleepAction[t]);
            return;
        }
        if (s.State != TState.Active) return;
        if (s.NeedAdvance)
        {
            s.NeedAdvance = false;
            Advance(t, c);
        }
        else if (s.PhaseIdx < _groupOf[t].Phases.Count && IsCpuPhase(_groupOf[t].Phases[s.PhaseIdx].Kind))
        {
            // A wall-clock run phase ends at its deadline: whatever time is left when the task gets
            // the CPU back (none, if the deadline passed while it waited).
            if (_groupOf[t].Phases[s.PhaseIdx].Kind == PhaseKind.RunWall) s.Remaining = Math.Max(0, s.WallDeadline - _now);
            s.PhaseClock = _now;
            s.Gen++;
            Push(_now + s.Remaining, EvKind.PhaseEnd, t, s.Gen);
        }
    }

    private void SwitchOut(int c, int t, bool final)
    {
        ref var s = ref _t[t];
        if (s.RunStart < 0) return;
        var start = s.RunStart;
        var elapsed = _now - start;
        var after = _exitAt < 0 ? 0 : _now - Math.Max(start, _exitAt);
        if (after < 0) after = 0;
        s.Runtime += elapsed;
        s.RuntimeAfterExit += after;
        _busy[Scx][c] += elapsed - after;
        _busy[After][c] += after;
        AddUtil(c, start, _now);
        ref readonly var k = ref _m.World.Tasks[t];
        _trace?.TaskSlice(c, t, start, _now, !final && k.Run == RunState.Runnable);
        s.RunStart = -1;
        s.LastCpu = c;
        s.LastEnd = _now;
        if (final) return;
        if (s.State == TState.Active && s.PhaseIdx < _groupOf[t].Phases.Count && IsCpuPhase(_groupOf[t].Phases[s.PhaseIdx].Kind))
        {
            // Only the time since this phase began (or since the switch-in, if later) counts: the
            // slice may have started in an earlier phase of the program.
            s.Gen++;
            s.Remaining = Math.Max(0, s.Remaining - (_now - Math.Max(start, s.PhaseClock)));
        }
        switch (k.Run)
        {
            case RunState.Runnable:
                _preempt[Part]++;
                s.WaitSince = _now;
                break;
            case RunState.Sleeping:
                s.Gen++;
                s.State = TState.Blocked;
                s.NeedAdvance = true; // the program resumes after the sleep when the task runs again
                if (s.WakeAt >= 0) Push(Math.Max(_now, s.WakeAt), EvKind.TimedWake, t, s.Gen);
                else if (s.SleepNs > 0) Push(_now + s.SleepNs, EvKind.TimedWake, t, s.Gen);
                s.WakeAt = -1;
                break;
            case RunState.Dead:
                s.State = TState.Dead;
                s.Gen++;
                break;
            default:
                throw new UnreachableException($"run state {k.Run}");
        }
    }

    private void AddUtil(int c, long from, long to)
    {
        var series = _utilSeries[c];
        while (from < to)
        {
            var b = (int)Math.Min(series.Length - 1, from / _bucketNs);
            var bucketEnd = (b + 1) * _bucketNs;
            var seg = Math.Min(to, bucketEnd) - from;
            if (b == series.Length - 1) seg = to - from;
            series[b] += (double)seg / _bucketNs;
            from += seg;
        }
    }

    // ================================================================ periodic events

    private void OnTick(int c)
    {
        Push(_now + _tickNs, EvKind.Tick, c);
        ref readonly var rq = ref _m.World.Cpus[c];
        var part = Part;
        _rqSamples[part]++;
        _rqSum[part] += rq.NrRunning;
        if (rq.NrRunning > _rqMax[part]) _rqMax[part] = rq.NrRunning;
        // NOHZ: an idle CPU takes no tick. The tick is the timer actor's (it may be busy with an hrtimer wake: queued).
        if (_curr[c] < 0)
        {
            if (_m.World.Sched.Disabled) FairIdleBalance(c);
            return;
        }
        var timer = _timerBase + c;
        var slot = timer - _sysBase;
        if (_current[slot].Action is { Kind: ActionKind.Tick }) return; // the previous tick is still running
        Issue(timer, _tickAction[c], -1);
    }

    /// <summary>
    /// After the scheduler was disabled the fair class runs the tasks; an idle CPU pulls waiting fair
    /// work at its (nohz) idle-balance point, modelled at tick granularity: it enters __schedule(),
    /// whose fair pick takes any queued task allowed there.
    /// </summary>
    private void FairIdleBalance(int c)
    {
        var w = _m.World;
        if (_scheduled[c] || _isBlocked[c] || w.Actors[c].Depth != 0) return;
        for (var t = 0; t < w.Tasks.Length; t++)
        {
            ref readonly var p = ref w.Tasks[t];
            if (p.FairQueued && p.CpusPtr.Test(c))
            {
                ScheduleActor(c, _now + Cost(_c.ReschedIpiNs));
                return;
            }
        }
    }

    private void OnAffinityChurn(int t)
    {
        ref var s = ref _t[t];
        if (s.State == TState.Dead) return;
        var g = _groupOf[t];
        Push(_now + g.AffinityChurnNs, EvKind.AffinityChurn, t);
        var cpus = _groupCpus[s.Group];
        CpuMask mask;
        int key;
        if (g.AffinityChurnMode == AffinityChurnMode.SingleOrAll && !s.AffinityAll)
        {
            mask = _groupMask[s.Group];
            key = -1;
        }
        else
        {
            var cpu = cpus[_rng.NextInt(cpus.Length)];
            mask = CpuMask.Of(cpu);
            key = cpu;
        }
        if (g.AffinityChurnMode == AffinityChurnMode.SingleOrAll) s.AffinityAll = !s.AffinityAll;
        var id = ((long)t << 16) | (uint)(key + 1);
        if (!_affinityActions.TryGetValue(id, out var action))
        {
            action = new ScriptAction(ActionKind.SetAffinity, Task: t, Mask: mask);
            _affinityActions[id] = action;
        }
        _affChanges[Part]++;
        Issue(_sysBase + _rng.NextInt(_n), action, -1);
    }

    private void OnWeightChurn(int t)
    {
        ref var s = ref _t[t];
        if (s.State == TState.Dead) return;
        Push(_now + _groupOf[t].WeightChurnNs, EvKind.WeightChurn, t);
        var weight = ChurnWeights[_rng.NextInt(ChurnWeights.Length)];
        var id = ((long)t << 16) | (uint)weight;
        if (!_weightActions.TryGetValue(id, out var action))
        {
            action = new ScriptAction(ActionKind.SetWeight, Task: t, Weight: weight);
            _weightActions[id] = action;
        }
        Issue(_sysBase + _rng.NextInt(_n), action, -1);
    }

    // ================================================================ exits, findings, trace

    /// <summary>The metrics part an event happening now belongs to.</summary>
    private int Part => _exitAt < 0 ? Scx : After;

    private void CheckExit()
    {
        var w = _m.World;
        if (_exitSeen || w.Sched.ExitKind == ExitKind.None) return;
        _exitSeen = true;
        _exitAt = _now;
        _aliveAtExit = new bool[_t.Length];
        for (var t = 0; t < _t.Length; t++) _aliveAtExit[t] = _t[t].State is not (TState.NotStarted or TState.Dead or TState.ExitPending);
        _eventsAtExit = (long[])w.Events.Clone();
        var kind = ExitKinds.KernelName(w.Sched.ExitKind);
        var msg = w.ExitMessage ?? "";
        if (w.Sched.ModelLimit)
        {
            // Not the scheduler's outcome: the model stopped it where it could not follow. The run goes on as after
            // an exit (so the timeline stays whole), and the result says what was not covered.
            _modelLimit = new SimExit(_now, Checks.ModelLimits.Name, msg);
            _trace?.Instant(-1, _now, "not modelled: the scheduler was stopped", msg);
        }
        else
        {
            _exits.Add(new SimExit(_now, kind, msg));
            _trace?.Instant(-1, _now, $"scheduler exit: {kind}", msg);
        }
        // scx_disable_workfn(): every task returns to the fair class and the run goes on.
        ScheduleActor(_helper, _now + Cost(_c.SyscallEntryNs));
    }

    private void RecordFindings()
    {
        foreach (var f in _m.StepFindings)
        {
            if (_findings.TryGetValue(f.Check, out var v)) _findings[f.Check] = (v.Msg, v.At, v.Count + 1);
            else
            {
                _findings[f.Check] = (f.Message, _now, 1);
                _trace?.Instant(-1, _now, f.Check, f.Message);
            }
        }
    }

    private void TraceEventDeltas(int a)
    {
        var ev = _m.World.Events;
        var cpu = _m.Actor(a).Cpu;
        for (var i = 0; i < ev.Length; i++)
        {
            if (ev[i] == _eventSnap[i]) continue;
            var e = (ScxEvent)i;
            if (e is ScxEvent.DispatchDroppedQseq or ScxEvent.DispatchDroppedState or ScxEvent.FallbackDsqUse or ScxEvent.FallbackReenq or ScxEvent.ReenqKfunc or ScxEvent.InsertNotOwned or ScxEvent.ReenqImmed or ScxEvent.ReenqLocalRepeat)
                _trace!.Instant(cpu, _now, e.ToString(), $"+{ev[i] - _eventSnap[i]}");
            _eventSnap[i] = ev[i];
        }
    }

    // ================================================================ result

    private SimResult BuildResult(double wallSeconds)
    {
        var w = _m.World;
        var scxEnd = _exitAt >= 0 ? _exitAt : _end;
        var atExit = _eventsAtExit ?? w.Events;
        var scx = BuildPart(Scx, 0, scxEnd, i => atExit[i]);
        var after = _exitAt < 0 ? null : BuildPart(After, _exitAt, _end, i => w.Events[i] - atExit[i]);
        return new SimResult
        {
            Workload = _workload.Name,
            Policy = _o.PolicyName,
            Protocol = Protocols.Name(_o.Protocol),
            Cpus = _n,
            Tasks = _t.Length,
            DurationNs = _end,
            Seed = _o.Seed,
            ScxPartNs = scxEnd,
            Latency = scx.Latency,
            CpuUtilisation = scx.CpuUtilisation,
            RqLenMean = scx.RqLenMean,
            RqLenMax = scx.RqLenMax,
            Migrations = scx.Migrations,
            ContextSwitches = scx.ContextSwitches,
            Preemptions = scx.Preemptions,
            Fairness = scx.Fairness,
            FairnessByClass = scx.FairnessByClass,
            TaskRuntimes = scx.TaskRuntimes,
            KernelEvents = scx.KernelEvents,
            Exits = _exits,
            ModelLimit = _modelLimit,
            Findings = _findings.OrderBy(kv => kv.Value.At).Select(kv => new SimFinding(kv.Key, kv.Value.Msg, kv.Value.At, kv.Value.Count)).ToList(),
            AffinityChanges = scx.AffinityChanges,
            Wakeups = scx.Wakeups,
            AfterExit = after,
            Steps = _steps,
            EngineEvents = _events,
            WallSeconds = wallSeconds,
            LatencyHistogram = _latAll[Scx],
            UtilisationSeries = _utilSeries,
        };
    }

    private SimPart BuildPart(int ph, long from, long to, Func<int, long> eventCount)
    {
        var span = to - from;
        var lat = new List<LatencySummary> { Summ("all", _latAll[ph]) };
        for (var i = 0; i < _classes.Length; i++) lat.Add(Summ(_classes[i], _latClass[ph][i]));
        var util = new double[_n];
        for (var c = 0; c < _n; c++) util[c] = span > 0 ? (double)_busy[ph][c] / span : 0;
        var events = new Dictionary<string, long>();
        for (var i = 0; i < (int)ScxEvent.Count; i++) events[((ScxEvent)i).ToString()] = eventCount(i);
        var byClass = new List<(string, double)>();
        for (var ci = 0; ci < _classes.Length; ci++) byClass.Add((_classes[ci], Jain(ci, ph)));
        return new SimPart
        {
            FromNs = from,
            ToNs = to,
            Latency = lat,
            CpuUtilisation = util,
            RqLenMean = _rqSamples[ph] > 0 ? (double)_rqSum[ph] / _rqSamples[ph] : 0,
            RqLenMax = _rqMax[ph],
            Migrations = _migrations[ph],
            ContextSwitches = _ctxsw[ph],
            Preemptions = _preempt[ph],
            AffinityChanges = _affChanges[ph],
            Wakeups = _wakeups[ph],
            Fairness = Jain(-1, ph),
            FairnessByClass = byClass,
            TaskRuntimes = Enumerable.Range(0, _t.Length).Select(t => new TaskRuntime(_m.TaskName(t), _classes[_t[t].ClassIdx], _groupOf[t].Weight, PartRuntime(t, ph))
            {
                Wakeups = ph == Scx ? _t[t].Wakeups : _t[t].WakeupsAfterExit,
                WaitNs = ph == Scx ? _t[t].WaitNs : _t[t].WaitNsAfterExit,
                Migrations = ph == Scx ? _t[t].Migrations : _t[t].MigrationsAfterExit,
            }).ToList(),
            KernelEvents = events,
        };
    }

    private long PartRuntime(int t, int ph) => ph == Scx ? _t[t].Runtime - _t[t].RuntimeAfterExit : _t[t].RuntimeAfterExit;

    private static LatencySummary Summ(string cls, LongHistogram h) =>
        h.TotalCount == 0
            ? new LatencySummary(cls, 0, 0, 0, 0, 0, 0)
            : new LatencySummary(cls, h.TotalCount, h.GetValueAtPercentile(50), h.GetValueAtPercentile(99), h.GetValueAtPercentile(99.9), h.GetMaxValue(), h.GetMean());

    /// <summary>
    /// Jain's index over runtime/weight in part <paramref name="ph"/> of the tasks alive at the end of
    /// that part (started and not exited; class -1 = all).
    /// </summary>
    private double Jain(int cls, int ph)
    {
        double sum = 0, sq = 0;
        var n = 0;
        for (var t = 0; t < _t.Length; t++)
        {
            ref readonly var s = ref _t[t];
            if (cls >= 0 && s.ClassIdx != cls) continue;
            var alive = ph == Scx && _aliveAtExit != null ? _aliveAtExit[t] : s.State is not (TState.NotStarted or TState.Dead or TState.ExitPending);
            if (!alive) continue;
            var x = (double)PartRuntime(t, ph) / Math.Max(1, _groupOf[t].Weight);
            sum += x;
            sq += x * x;
            n++;
        }
        return n == 0 || sq == 0 ? 1.0 : sum * sum / (n * sq);
    }
}

