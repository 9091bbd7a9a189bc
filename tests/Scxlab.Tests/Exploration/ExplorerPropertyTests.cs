using CsCheck;
using Scxlab.Bpf;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Stepping;

namespace Scxlab.Tests.Exploration;

/// <summary>Random small scenarios: the reduced search against plain DFS, footprint independence, and replay of every violation.</summary>
public class ExplorerPropertyTests
{
    private static readonly string[] Policies = ["local-on-pop", "local-on-peek", "dequeue-sync", "insert-recheck-cancel", "central", "qmap", "simple", "userspace"];

    /// <summary>One scripted action: kind 0 set_affinity, 1 wake, 2 sleep, 3 set_weight, 4 kick (preempt|wait), 5 tick.</summary>
    public sealed record Act(int Kind, int Task, int Mask, int Cpu);

    public sealed record Small(int Policy, int[] Allowed, int[] Cpu, int[] State, Act[] Acts, int Cpu0Rounds, int Cpu1Rounds, int Protocol)
    {
        public ModelConfig Config(Granularity granularity = Granularity.Normal)
        {
            var tasks = new List<TaskSpec>();
            for (var i = 0; i < Allowed.Length; i++)
                tasks.Add(new TaskSpec(i == 0 ? "p" : "q", 101 + i, Mask(Allowed[i]), Cpu[i], (InitialTaskState)State[i]));
            var scripts = new List<ScriptSpec>();
            for (var i = 0; i < Acts.Length; i++)
            {
                var x = Acts[i];
                var t = x.Task % Allowed.Length;
                var action = x.Kind switch
                {
                    0 => new ScriptAction(ActionKind.SetAffinity, Task: t, Mask: Mask(x.Mask)),
                    1 => new ScriptAction(ActionKind.Wake, Task: t),
                    2 => new ScriptAction(ActionKind.Sleep, Task: t),
                    3 => new ScriptAction(ActionKind.SetWeight, Task: t, Weight: 50 * x.Mask),
                    4 => new ScriptAction(ActionKind.Kick, Cpu: x.Cpu, KickFlags: x.Mask == 1 ? KickFlags.Wait : KickFlags.Preempt),
                    _ => new ScriptAction(ActionKind.Tick, Cpu: x.Cpu),
                };
                scripts.Add(new ScriptSpec($"script{i}", x.Cpu, [action]));
            }
            return new ModelConfig
            {
                CpuCount = 2,
                Tasks = tasks,
                PolicyFactory = PolicyRegistry.Resolve(Policies[Policy]),
                PolicyName = Policies[Policy],
                Protocol = (Protocol)Protocol,
                Granularity = granularity,
                Rounds = [Cpu0Rounds, Cpu1Rounds],
                Scripts = scripts,
            };
        }

        private static CpuMask Mask(int bits) => bits switch { 1 => CpuMask.Of(0), 2 => CpuMask.Of(1), _ => CpuMask.Of(0, 1) };

        public override string ToString() =>
            $"policy={Policies[Policy]} allowed=[{string.Join(",", Allowed)}] cpu=[{string.Join(",", Cpu)}] state=[{string.Join(",", State)}] acts=[{string.Join(" ", Acts.Select(a => $"{a.Kind}/{a.Task}/{a.Mask}/{a.Cpu}"))}] rounds={Cpu0Rounds},{Cpu1Rounds} protocol={(Protocol)Protocol}";
    }

    private static readonly Gen<Act> GenAct =
        from kind in Gen.Frequency((4, Gen.Const(0)), (1, Gen.Int[1, 5]))
        from task in Gen.Int[0, 1]
        from mask in Gen.Int[1, 3]
        from cpu in Gen.Int[0, 1]
        select new Act(kind, task, mask, cpu);

    /// <summary>Mostly the seed-race shape (queued tasks, affinity changes), sometimes running/sleeping tasks and other events.</summary>
    public static readonly Gen<Small> GenSmall =
        from policy in Gen.Int[0, Policies.Length - 1]
        from nTasks in Gen.Int[1, 2]
        from allowed in Gen.Int[1, 3].Array[nTasks]
        from cpu in Gen.Int[0, 1].Array[nTasks]
        from state in Gen.Frequency((3, Gen.Const(0)), (1, Gen.Int[0, 2])).Array[nTasks]
        from nActs in Gen.Int[0, 2]
        from acts in GenAct.Array[nActs]
        from r0 in Gen.Int[1, 2]
        from r1 in Gen.Int[0, 1]
        from protocol in Gen.Int[0, 2]
        where Distinct(cpu, state) && OnAllowedCpus(allowed, cpu)
        select new Small(policy, allowed, cpu, state, acts, r0, r1, protocol);

    /// <summary>At most one initially running task per CPU.</summary>
    private static bool Distinct(int[] cpu, int[] state) => !(cpu.Length == 2 && cpu[0] == cpu[1] && state[0] == 1 && state[1] == 1);

    /// <summary>
    /// Every task starts on a CPU of its mask: the kernel cannot produce a task queued or running on a CPU
    /// outside cpus_ptr without a pending migration, and such a start state makes findings depend on where
    /// a step happens to end (fine granularity exposes the task on that CPU's local DSQ mid-step).
    /// </summary>
    private static bool OnAllowedCpus(int[] allowed, int[] cpu)
    {
        for (var i = 0; i < allowed.Length; i++)
            if ((allowed[i] & (1 << cpu[i])) == 0) return false;
        return true;
    }

    private static ExploreResult Explore(ModelConfig cfg, Strategy s, bool shortest = true, long? maxTransitions = null) =>
        new Explorer(new Machine(cfg), new ExploreOptions { Strategy = s, ShortestTraces = shortest && s != Strategy.Bfs, MaxTransitions = maxTransitions }).Run();

    /// <summary>
    /// Sleep sets prune transitions, never states: on every random scenario whose plain DFS completes
    /// within the budget, the reduced search visits exactly as many states, finds the same violations
    /// and gives the same verdict, with no more transitions.
    /// </summary>
    [Fact]
    public void Should_ReportSameViolationsAndStates_When_ReducedAndPlainDfsExploreTheSameScenario()
    {
        var compared = 0;
        var total = 0;
        long dfsTransitions = 0, reducedTransitions = 0;
        GenSmall.Sample(sc =>
        {
            total++;
            var cfg = sc.Config();
            var dfs = Explore(cfg, Strategy.Dfs, shortest: false, maxTransitions: 40_000);
            if (!dfs.Complete) return;
            compared++;
            var red = Explore(cfg, Strategy.Reduced, shortest: false);
            Assert.True(red.Complete);
            Assert.Equal(dfs.Violations.Select(v => v.Violation.Key).Order(), red.Violations.Select(v => v.Violation.Key).Order());
            Assert.Equal(dfs.Stats.States, red.Stats.States);
            Assert.True(red.Stats.Transitions <= dfs.Stats.Transitions);
            Assert.Equal(dfs.Verdict, red.Verdict);
            dfsTransitions += dfs.Stats.Transitions;
            reducedTransitions += red.Stats.Transitions;
        }, iter: 1000, threads: 1, print: s => s.ToString());
        Assert.True(compared >= total * 3 / 4, $"only {compared} of {total} scenarios completed within the budget");
        Assert.True(reducedTransitions < dfsTransitions, "sleep sets pruned nothing");
    }

    [Fact]
    public void Should_ReproduceEveryViolation_When_ItsTraceIsReplayed()
    {
        GenSmall.Sample(sc =>
        {
            var cfg = sc.Config();
            foreach (var f in Explore(cfg, Strategy.Reduced).Violations)
            {
                var run = TraceRunner.Run(cfg, f.Trace, []);
                Assert.Null(run.Divergence);
                Assert.Equal(f.Violation.Key, run.Outcome?.Key);
            }
        }, iter: 40, threads: 1, print: s => s.ToString());
    }

    /// <summary>
    /// The footprints are complete: at every reachable state (up to a bound), whenever two enabled
    /// actors' steps do not conflict, each stays enabled after the other and both orders reach the
    /// same state — the diamond that sleep sets rely on.
    /// </summary>
    [Fact]
    public void Should_Commute_When_TwoStepsFootprintsAreIndependent()
    {
        long pairs = 0, states = 0;
        GenSmall.Sample(sc =>
        {
            var (p, n) = CheckDiamonds(sc.Config(), maxStates: 3000);
            pairs += p;
            states += n;
        }, iter: 300, threads: 1, print: s => s.ToString());
        Assert.True(pairs > 1000, $"only {pairs} independent pairs checked in {states} states");
    }

    /// <summary>
    /// Breadth-first over the scenario's states (up to <paramref name="maxStates"/>): at each, every two enabled actors
    /// whose steps' footprints do not conflict must keep each other enabled and reach the same state in both orders.
    /// Returns the independent pairs checked and the states visited.
    /// </summary>
    internal static (long Pairs, long States) CheckDiamonds(ModelConfig config, int maxStates)
    {
        long pairs = 0, states = 0;
        var m = new Machine(config);
        var n = m.ActorCount;
        var seen = new HashSet<ulong> { m.World.Fingerprint() };
        var queue = new Queue<World>();
        queue.Enqueue(m.World.Clone());
        var sa = m.World.Clone();
        var sb = m.World.Clone();
        var fps = new Footprint[n];
        var enabled = new List<int>();
        while (queue.Count > 0 && seen.Count < maxStates)
        {
            var s0 = queue.Dequeue();
            states++;
            m.World = s0;
            enabled.Clear();
            for (var a = 0; a < n; a++) if (m.IsEnabled(a)) enabled.Add(a);
            foreach (var a in enabled)
            {
                var c = s0.Clone();
                m.World = c;
                m.Step(a);
                fps[a] = m.LastFootprint;
                if (seen.Add(c.Fingerprint())) queue.Enqueue(c);
            }
            foreach (var a in enabled)
                foreach (var b in enabled)
                {
                    if (b <= a || fps[a].DependsOn(fps[b])) continue;
                    pairs++;
                    sa.CopyFrom(s0);
                    m.World = sa;
                    m.Step(a);
                    Assert.True(m.IsEnabled(b), $"{m.Actor(a).Name} disabled {m.Actor(b).Name} but their footprints do not conflict");
                    m.Step(b);
                    sb.CopyFrom(s0);
                    m.World = sb;
                    m.Step(b);
                    Assert.True(m.IsEnabled(a), $"{m.Actor(b).Name} disabled {m.Actor(a).Name} but their footprints do not conflict");
                    m.Step(a);
                    Assert.True(sa.SameStateAs(sb), $"{m.Actor(a).Name} and {m.Actor(b).Name} look independent but do not commute");
                }
        }
        return (pairs, states);
    }

    [Fact]
    public void Should_HaveEqualFingerprints_When_WorldsAreEqualCopies()
    {
        GenSmall.Sample(sc =>
        {
            var m = new Machine(sc.Config());
            var rng = new Random(7);
            for (var i = 0; i < 30 && m.AnyEnabled(); i++)
            {
                var enabled = Enumerable.Range(0, m.ActorCount).Where(m.IsEnabled).ToList();
                m.Step(enabled[rng.Next(enabled.Count)]);
                var copy = m.World.Clone();
                Assert.True(copy.SameStateAs(m.World));
                Assert.Equal(m.World.Fingerprint(), copy.Fingerprint());
                Assert.Equal(m.World.Fingerprint128(), copy.Fingerprint128());
                var other = new Machine(sc.Config()).World;
                other.CopyFrom(m.World);
                Assert.Equal(m.World.Fingerprint(), other.Fingerprint());
            }
        }, iter: 30, threads: 1, print: s => s.ToString());
    }
}
