using Scxlab.Bpf;
using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Stepping;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Small helpers shared by the conformance and path tests: building a model, driving it
/// (by actor, round-robin, or to quiescence) and reading back what the kernel did.
/// </summary>
internal static class Harness
{
    public static TaskSpec Sleeping(string name, int pid, int cpu, params int[] allowed) =>
        new(name, pid, CpuMask.Of(allowed), cpu, InitialTaskState.Sleeping);

    public static TaskSpec Queued(string name, int pid, int cpu, params int[] allowed) =>
        new(name, pid, CpuMask.Of(allowed), cpu, InitialTaskState.Queued);

    public static TaskSpec Running(string name, int pid, int cpu, params int[] allowed) =>
        new(name, pid, CpuMask.Of(allowed), cpu, InitialTaskState.Running);

    public static ScriptAction Wake(int task) => new(ActionKind.Wake, Task: task);
    public static ScriptAction Sleep(int task) => new(ActionKind.Sleep, Task: task);
    public static ScriptAction Affinity(int task, params int[] cpus) => new(ActionKind.SetAffinity, Task: task, Mask: CpuMask.Of(cpus));
    public static ScriptAction Tick(int cpu) => new(ActionKind.Tick, Cpu: cpu);
    public static ScriptAction Kick(int cpu, KickFlags flags) => new(ActionKind.Kick, Cpu: cpu, KickFlags: flags);

    public static ScheduleDriver Driver(Func<ScxOps> policy, int cpus, IReadOnlyList<TaskSpec> tasks, IReadOnlyList<int>? rounds = null,
        IReadOnlyList<ScriptSpec>? scripts = null, long tickNs = 4_000_000, bool narrate = true, int maxUserDsqs = 8,
        Protocol protocol = Protocol.Upstream) =>
        new(new Machine(new ModelConfig
        {
            CpuCount = cpus,
            Protocol = protocol,
            Tasks = tasks,
            PolicyFactory = policy,
            Rounds = rounds ?? [],
            Scripts = scripts ?? [],
            TickNs = tickNs,
            MaxUserDsqs = maxUserDsqs,
        }), narrate);

    /// <summary>Step <paramref name="actor"/> for as long as it is enabled (a script: all its actions; a CPU: all its rounds).</summary>
    public static void RunActor(ScheduleDriver d, string actor, int max = 100_000)
    {
        var a = d.ActorId(actor);
        for (var i = 0; i < max; i++)
        {
            if (!d.Machine.IsEnabled(a)) return;
            d.Step(a);
        }
        throw new InvalidOperationException($"{actor} still enabled after {max} steps");
    }

    /// <summary>Give every enabled actor one step in turn until none is enabled: scripts interleave with CPUs.</summary>
    public static void RoundRobin(ScheduleDriver d, int max = 500_000)
    {
        var m = d.Machine;
        var next = 0;
        for (var i = 0; i < max; i++)
        {
            var stepped = false;
            for (var k = 0; k < m.ActorCount; k++)
            {
                var a = (next + k) % m.ActorCount;
                if (!m.IsEnabled(a)) continue;
                d.Step(a);
                next = a + 1;
                stepped = true;
                break;
            }
            if (!stepped) return;
        }
        throw new InvalidOperationException($"no quiescence within {max} steps");
    }

    /// <summary>Every narration line of the run, in order.</summary>
    public static List<string> Notes(ScheduleDriver d) => [.. d.Steps.SelectMany(s => s.Notes)];

    /// <summary>The policy callbacks invoked, in order (as narrated: <c>ops.enqueue(p[101])</c>).</summary>
    public static List<string> Callbacks(ScheduleDriver d) => [.. Notes(d).Where(n => n.StartsWith("ops.", StringComparison.Ordinal))];

    public static int Count(ScheduleDriver d, string callbackPrefix) => Callbacks(d).Count(n => n.StartsWith(callbackPrefix, StringComparison.Ordinal));

    /// <summary>The tasks on a DSQ slot, head first, by name.</summary>
    public static List<string> Dsq(Machine m, int slot)
    {
        var r = new List<string>();
        for (var t = m.World.Dsqs[slot].Head; t >= 0; t = m.World.Tasks[t].Next) r.Add(m.Config.Tasks[t].Name);
        return r;
    }

    public static int UserDsq(Machine m, ulong id)
    {
        var s = m.FindUserDsq(id);
        if (s < 0) throw new InvalidOperationException($"no user DSQ 0x{id:x}");
        return s;
    }

    public static List<string> UserDsqTasks(Machine m, ulong id) => Dsq(m, UserDsq(m, id));

    public static ref TaskState Task(Machine m, string name)
    {
        for (var t = 0; t < m.Config.Tasks.Count; t++)
            if (m.Config.Tasks[t].Name == name) return ref m.World.Tasks[t];
        throw new ArgumentException($"no task {name}");
    }

    public static OpsState State(Machine m, string name) => OpsWord.State(Task(m, name).OpsState);

    public static long Get(Machine m, MapHandle h, long index) => new MapView(m.World.Maps).Get(h, index);

    public static long TaskGet(Machine m, MapHandle h, int task, int field) => new MapView(m.World.Maps).TaskGet(h, task, field);

    /// <summary>The kernel path on top of <paramref name="actor"/>'s stack (None when idle).</summary>
    public static PathId TopPath(ScheduleDriver d, string actor)
    {
        var a = d.ActorId(actor);
        var depth = d.Machine.World.Actors[a].Depth;
        return depth == 0 ? PathId.None : d.Machine.World.Frames[a * d.Machine.World.MaxDepth + depth - 1].Path;
    }

    /// <summary>Is any frame of <paramref name="actor"/>'s stack in <paramref name="path"/>?</summary>
    public static bool InPath(ScheduleDriver d, string actor, PathId path)
    {
        var a = d.ActorId(actor);
        var w = d.Machine.World;
        for (var i = 0; i < w.Actors[a].Depth; i++)
            if (w.Frames[a * w.MaxDepth + i].Path == path) return true;
        return false;
    }

    public static void AssertNoFindings(ScheduleDriver d) =>
        Assert.True(d.Findings.Count == 0, string.Join("\n", d.Findings.Select(f => $"{f.Check}: {f.Message}")));

    /// <summary>Nothing lost after a disable: every live task is running somewhere or queued in the fair class.</summary>
    public static void AssertNothingLost(Machine m)
    {
        for (var t = 0; t < m.World.Tasks.Length; t++)
        {
            ref readonly var p = ref m.World.Tasks[t];
            Assert.Equal(SchedClass.Fair, p.Class);
            if (p.Run != RunState.Runnable) continue;
            var running = false;
            for (var c = 0; c < m.N; c++) running |= m.World.Cpus[c].Curr == t;
            Assert.True(running || p.FairQueued, $"{m.TaskName(t)} is runnable but neither running nor fair-queued");
        }
    }
}
