using Scxlab.Bpf;
using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Tests.Policies;

/// <summary>
/// Drives a policy in a fixed round-robin: each round drains every CPU's pending irq work and
/// deferred work, runs one <c>__schedule()</c> per CPU (CPU0 first), then ticks every busy CPU
/// once. A tick is a whole slice (TickNs = SCX_SLICE_DFL), so each round rotates the running
/// tasks. Activities run to completion one at a time, so no two paths interleave here; the
/// race tests interleave on purpose with <see cref="Sweep"/>.
/// </summary>
internal sealed class PolicyRun
{
    private readonly int _ext;

    public PolicyRun(Func<ScxOps> policy, int cpus, IReadOnlyList<TaskSpec> tasks)
    {
        var cfg = new ModelConfig
        {
            CpuCount = cpus,
            Tasks = tasks,
            PolicyFactory = policy,
            Protocol = policy().RequiresProtocol ?? Protocol.Upstream, // cookie-peek, ghost-peek: the kernel they are written for
            Rounds = [.. Enumerable.Repeat(-1, cpus)],
            Scripts = [new ScriptSpec("ext", 0, [])],
            TickNs = ScxConst.SliceDfl,
        };
        D = new ScheduleDriver(new Machine(cfg));
        _ext = D.ActorId("ext");
        RanOn = new HashSet<int>[tasks.Count];
        for (var i = 0; i < tasks.Count; i++) RanOn[i] = [];
        Record();
    }

    public ScheduleDriver D { get; }
    public Machine M => D.Machine;
    public World W => M.World;

    /// <summary>For each task, the CPUs it was seen running on after a schedule.</summary>
    public HashSet<int>[] RanOn { get; }

    /// <summary>The order in which CPU0 picked tasks (task index, -1 = idle), one entry per round.</summary>
    public List<int> Cpu0Picks { get; } = [];

    public int Task(string name)
    {
        for (var i = 0; i < M.Config.Tasks.Count; i++)
            if (M.Config.Tasks[i].Name == name) return i;
        throw new ArgumentException($"no task {name}");
    }

    /// <summary>Run one external action (wake, sleep, tick, affinity…) to completion.</summary>
    public void Inject(ScriptAction action)
    {
        M.StartExternal(_ext, action);
        while (W.Actors[_ext].Depth > 0) D.Step(_ext);
    }

    public void Wake(string task) => Inject(new ScriptAction(ActionKind.Wake, Task: Task(task)));
    public void Sleep(string task) => Inject(new ScriptAction(ActionKind.Sleep, Task: Task(task)));

    public void Round()
    {
        for (var c = 0; c < M.N; c++) DrainDeferred(c);
        for (var c = 0; c < M.N; c++)
        {
            DrainDeferred(c);
            D.Finish($"CPU{c}"); // one __schedule()
            if (c == 0) Cpu0Picks.Add(W.Cpus[0].Curr);
            Record();
        }
        for (var c = 0; c < M.N; c++)
            if (W.Cpus[c].Curr >= 0) Inject(new ScriptAction(ActionKind.Tick, Cpu: c));
    }

    public void Rounds(int n)
    {
        for (var i = 0; i < n; i++) Round();
    }

    private void DrainDeferred(int c)
    {
        for (var guard = 0; guard < 16; guard++)
        {
            ref readonly var rq = ref W.Cpus[c];
            if (!rq.KickIrqWork && !rq.DeferredLocals && rq.ReenqRequested == 0) return;
            D.Finish($"CPU{c}");
        }
        throw new InvalidOperationException($"CPU{c}: deferred work does not settle");
    }

    private void Record()
    {
        for (var c = 0; c < M.N; c++)
            if (W.Cpus[c].Curr >= 0) RanOn[W.Cpus[c].Curr].Add(c);
    }

    /// <summary>No scheduler exit and no kernel BUG/WARN reached.</summary>
    public void AssertHealthy()
    {
        Assert.True(W.Sched.ExitKind == ExitKind.None, $"scheduler exited: {W.Sched.ExitKind}: {W.ExitMessage}");
        Assert.Empty(D.Findings);
    }

    /// <summary>Every runnable task is running, on a DSQ, or in BPF custody and held by the policy's maps.</summary>
    public void AssertNothingLost() => AssertNothingLost(M);

    public static void AssertNothingLost(Machine m)
    {
        var w = m.World;
        for (var t = 0; t < w.Tasks.Length; t++)
        {
            ref readonly var p = ref w.Tasks[t];
            if (p.Run != RunState.Runnable) continue;
            var running = false;
            for (var c = 0; c < m.N; c++) running |= w.Cpus[c].Curr == t;
            if (running || p.Dsq >= 0) continue;
            var state = OpsWord.State(p.OpsState);
            Assert.True(state == OpsState.Queued, $"{m.TaskName(t)} is runnable but neither running, on a DSQ nor queued in BPF (ops_state {OpsWord.Format(p.OpsState)})");
            var held = m.Ops.HoldsTask(new MapView(w.Maps), new TaskRef(t), m.Config.Tasks[t].Pid);
            Assert.True(held != false, $"{m.TaskName(t)} is QUEUED in BPF custody but the policy's maps do not hold it");
        }
    }

    public MapHandle Map(string mapName)
    {
        foreach (var (name, h) in M.MapLayout.Maps)
            if (name == mapName) return h;
        throw new ArgumentException($"no map {mapName}");
    }

    public long MapWord(string mapName, int index) => new MapView(W.Maps).Get(Map(mapName), index);

    public int MapCount(string mapName) => new MapView(W.Maps).Count(Map(mapName));

    public bool? Holds(string task) => M.Ops.HoldsTask(new MapView(W.Maps), new TaskRef(Task(task)), M.Config.Tasks[Task(task)].Pid);

    /// <summary>How many times the policy inserted <paramref name="task"/> (any DSQ), from the narration.</summary>
    public int Inserts(string task)
    {
        var needle = $"({M.TaskName(Task(task))}, ";
        return D.Steps.Sum(s => s.Notes.Count(n => n.Contains("scx_bpf_dsq_insert", StringComparison.Ordinal) && n.Contains(needle, StringComparison.Ordinal)));
    }

    // ------------------------------------------------------------------ race sweeps

    /// <summary>The outcome of one placement of the affinity change inside CPU0's round.</summary>
    /// <param name="RunningBeforeChange">p was already running on CPU0 when set_cpus_allowed_scx() changed its mask.</param>
    public sealed record SweepPoint(int At, ExitKind Exit, string? Message, bool Cancelled, bool RunningBeforeChange, Machine Machine);

    /// <summary>
    /// The seed race family (reference §4.2–§4.3): p queued on CPU1 and allowed on {0,1}; CPU0
    /// runs one scheduling round and "taskset" narrows p to {1}. For every k, CPU0 takes k steps,
    /// then the whole affinity change runs (CPU0 steps only where taskset must wait for it), then
    /// CPU0 finishes and CPU1 gets two rounds. Returns one outcome per k, covering every
    /// interleaving point of CPU0's round.
    /// </summary>
    public static List<SweepPoint> Sweep(Func<ScxOps> policy)
    {
        var alone = new ScheduleDriver(SeedMachine(policy), narrate: false);
        alone.Finish("CPU0");
        var k = alone.Steps.Count;

        var points = new List<SweepPoint>();
        for (var at = 0; at <= k; at++)
        {
            var d = new ScheduleDriver(SeedMachine(policy));
            var cpu0 = d.ActorId("CPU0");
            for (var i = 0; i < at && (i == 0 || d.Machine.World.Actors[cpu0].Depth > 0); i++) d.Step(cpu0);
            FinishHelped(d, "taskset", "CPU0");
            FinishHelped(d, "CPU0", "taskset");
            d.RunToQuiescence(100_000);
            var ranAt = d.Steps.FindIndex(s => s.ActorName == "CPU0" && s.Notes.Any(n => n.StartsWith("runs p[", StringComparison.Ordinal)));
            var changedAt = d.Steps.FindIndex(s => s.ActorName == "taskset" && s.Notes.Any(n => n.StartsWith("set_cpus_allowed_scx(", StringComparison.Ordinal)));
            var runningBefore = ranAt >= 0 && ranAt < changedAt;
            var cancelled = d.Steps.Any(s => s.Notes.Any(n => n.Contains(BpfContext.KfuncName(CallKind.DispatchCancel), StringComparison.Ordinal)));
            points.Add(new SweepPoint(at, d.Machine.World.Sched.ExitKind, d.Machine.World.ExitMessage, cancelled, runningBefore, d.Machine));
        }
        return points;
    }

    private static Machine SeedMachine(Func<ScxOps> policy) => new(new ModelConfig
    {
        CpuCount = 2,
        Tasks = [new TaskSpec("p", TestModels.PidP, CpuMask.Of(0, 1), 1, InitialTaskState.Queued)],
        PolicyFactory = policy,
        Rounds = [1, 2],
        Scripts = [new ScriptSpec("taskset", 1, [new ScriptAction(ActionKind.SetAffinity, Task: 0, Mask: CpuMask.Of(1))])],
    });

    /// <summary>
    /// Finish <paramref name="actor"/>'s current activity, stepping <paramref name="helper"/> only
    /// while the actor waits for it (a lock the helper holds) or spins on it.
    /// </summary>
    private static void FinishHelped(ScheduleDriver d, string actor, string helper)
    {
        var a = d.ActorId(actor);
        var h = d.ActorId(helper);
        var w = d.Machine.World;
        var started = false;
        for (var guard = 0; guard < 100_000; guard++)
        {
            if (w.Actors[a].Depth == 0 && (started || !d.Machine.IsEnabled(a))) return;
            // A path that spins on a retry (task_rq_lock() finding p migrating) stays enabled;
            // let the helper move now and then, as the spinner's cpu_relax() would.
            var spinning = started && guard % 64 == 63 && w.Actors[h].Depth > 0;
            if (d.Machine.IsEnabled(a) && !(spinning && d.Machine.IsEnabled(h)))
            {
                d.Step(a);
                started = true;
            }
            else if (d.Machine.IsEnabled(h)) d.Step(h);
            else throw new InvalidOperationException($"{actor} and {helper} are both blocked");
        }
        throw new InvalidOperationException($"{actor} did not finish");
    }
}
