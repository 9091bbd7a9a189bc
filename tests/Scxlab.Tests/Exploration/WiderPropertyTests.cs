using CsCheck;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// The explorer's independent ways to one answer, on random scenarios wider than <see cref="ExplorerPropertyTests"/>'
/// (three CPUs, up to three tasks and three scripted events, every built-in policy): plain DFS, the reduced search,
/// BFS and the two-worker parallel search store the same states and find the same violations. A sleep set that
/// prunes a state, a footprint that misses a write, or a parallel search that loses one shows up as a difference.
/// </summary>
/// <remarks>
/// Bounded for CI (<see cref="Iterations"/>); <c>SCXLAB_WIDE_ITER=N</c> runs N scenarios instead, for a longer hunt,
/// <c>SCXLAB_WIDE_CPUS=N</c> makes them N-CPU machines (2–6; the BPF twin and fuzz hunts use these scenarios too), and
/// <c>SCXLAB_WIDE_LAST=FILE</c> has the replay test write each scenario there before it runs it, so that a hunt the OOM
/// killer ends still names its scenario (that is how <see cref="ShortestTraceBudgetTests"/>' case was found).
/// </remarks>
[Trait("Category", "Long")]
public sealed class WiderPropertyTests
{
    private static int Iterations => HuntIterations("SCXLAB_WIDE_ITER", 40);

    /// <summary>How many scenarios a bounded hunt samples: <paramref name="variable"/> when set to a positive count (a longer hunt), else <paramref name="bounded"/>.</summary>
    internal static int HuntIterations(string variable, int bounded) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), out var n) && n > 0 ? n : bounded;

    /// <summary>CPUs of the scenarios: three, or <c>SCXLAB_WIDE_CPUS</c> (2–6) for a hunt on other machine sizes.</summary>
    private static readonly int Cpus = Math.Clamp(HuntIterations("SCXLAB_WIDE_CPUS", 3), 2, 6);
    private static readonly int AllCpus = (1 << Cpus) - 1;

    /// <summary>A plain DFS past this many transitions is not compared (the scenario is too big for a test).</summary>
    private const long Budget = 150_000;

    public sealed record Act(int Kind, int Task, int Mask, int Cpu);

    public sealed record Wide(int Policy, int Protocol, int[] Allowed, int[] Cpu, int[] State, Act[] Acts, int[] Rounds)
    {
        /// <param name="policySpec">Another policy in the built-in's place (a BPF object's spec, as <c>--policy</c> takes it).</param>
        /// <param name="granularity">Where steps end (fine: at every store another actor can observe).</param>
        public ModelConfig Config(string? policySpec = null, Granularity granularity = Granularity.Normal)
        {
            var info = PolicyRegistry.BuiltIn[Policy];
            var tasks = Allowed.Select((m, i) => new TaskSpec($"t{i}", 101 + i, Mask(m), Cpu[i], (InitialTaskState)State[i])).ToList();
            var scripts = Acts.Select((x, i) =>
            {
                var t = x.Task % Allowed.Length;
                var action = x.Kind switch
                {
                    0 => new ScriptAction(ActionKind.SetAffinity, Task: t, Mask: Mask(x.Mask)),
                    1 => new ScriptAction(ActionKind.Wake, Task: t),
                    2 => new ScriptAction(ActionKind.Sleep, Task: t),
                    3 => new ScriptAction(ActionKind.SetWeight, Task: t, Weight: 50 * (1 + x.Mask % 3)),
                    4 => new ScriptAction(ActionKind.Kick, Cpu: x.Cpu, KickFlags: x.Mask % 2 == 1 ? KickFlags.Wait : KickFlags.Preempt),
                    _ => new ScriptAction(ActionKind.Tick, Cpu: x.Cpu),
                };
                return new ScriptSpec($"script{i}", x.Cpu, [action]);
            }).ToList();
            return new ModelConfig
            {
                CpuCount = Rounds.Length,
                Tasks = tasks,
                PolicyFactory = policySpec == null ? info.Create : PolicyRegistry.Resolve(policySpec),
                PolicyName = policySpec ?? info.Name,
                Protocol = (Protocol)Protocol,
                Rounds = Rounds,
                Scripts = scripts,
                Granularity = granularity,
            };
        }

        private static CpuMask Mask(int bits) => CpuMask.Of([.. Enumerable.Range(0, 31).Where(c => (bits >> c & 1) != 0)]);

        public override string ToString() =>
            $"policy={PolicyRegistry.BuiltIn[Policy].Name} protocol={(Protocol)Protocol} allowed=[{string.Join(",", Allowed)}] cpu=[{string.Join(",", Cpu)}] " +
            $"state=[{string.Join(",", State)}] acts=[{string.Join(" ", Acts.Select(a => $"{a.Kind}/{a.Task}/{a.Mask}/{a.Cpu}"))}] rounds=[{string.Join(",", Rounds)}]";
    }

    /// <summary>The protocols a policy runs under: the cookie and ghOSt policies need their own; the others any of the first three.</summary>
    private static Gen<int> GenProtocol(int policy) => PolicyRegistry.BuiltIn[policy].Name switch
    {
        "cookie-peek" => Gen.Const((int)Protocol.Cookie),
        "ghost-peek" => Gen.Const((int)Protocol.Ghost),
        _ => Gen.Int[0, 2],
    };

    private static readonly Gen<Act> GenAct =
        from kind in Gen.Frequency((4, Gen.Const(0)), (2, Gen.Int[1, 2]), (1, Gen.Int[3, 5]))
        from task in Gen.Int[0, 2]
        from mask in Gen.Int[1, AllCpus]
        from cpu in Gen.Int[0, Cpus - 1]
        select new Act(kind, task, mask, cpu);

    private static readonly Gen<Wide> GenWide = Scenarios(Gen.Int[0, PolicyRegistry.BuiltIn.Count - 1]);

    /// <summary>Wider scenarios whose policy (an index into <see cref="PolicyRegistry.BuiltIn"/>) comes from <paramref name="policies"/>.</summary>
    internal static Gen<Wide> Scenarios(Gen<int> policies) =>
        from policy in policies
        from protocol in GenProtocol(policy)
        from nTasks in Gen.Int[1, 3]
        from allowed in Gen.Int[1, AllCpus].Array[nTasks]
        from cpu in Gen.Int[0, Cpus - 1].Array[nTasks]
        from state in Gen.Frequency((3, Gen.Const(0)), (1, Gen.Int[1, 2])).Array[nTasks]
        from nActs in Gen.Int[0, 3]
        from acts in GenAct.Array[nActs]
        from rounds in Gen.Int[0, 2].Array[Cpus]
        where rounds.Sum() > 0 && OnAllowedCpus(allowed, cpu) && OneRunningPerCpu(cpu, state)
        select new Wide(policy, protocol, allowed, cpu, state, acts, rounds);

    private static bool OnAllowedCpus(int[] allowed, int[] cpu) => allowed.Zip(cpu).All(p => (p.First >> p.Second & 1) != 0);

    private static bool OneRunningPerCpu(int[] cpu, int[] state) =>
        cpu.Where((c, i) => state[i] == (int)InitialTaskState.Running).GroupBy(c => c).All(g => g.Count() == 1);

    private static ExploreResult Explore(ModelConfig cfg, Strategy s, int jobs = 1, long? maxTransitions = null) =>
        new Explorer(new Machine(cfg), new ExploreOptions { Strategy = s, Jobs = jobs, ShortestTraces = false, MaxTransitions = maxTransitions }).Run();

    private static string[] Keys(ExploreResult r) => [.. r.Violations.Select(v => v.Violation.Key).Order(StringComparer.Ordinal)];

    [Fact]
    public void Should_StoreTheSameStatesAndFindTheSameViolations_When_EverySearchExploresAWiderScenario()
    {
        int total = 0, compared = 0, violating = 0;
        GenWide.Sample(sc =>
        {
            total++;
            var cfg = sc.Config();
            var dfs = Explore(cfg, Strategy.Dfs, maxTransitions: Budget);
            if (!dfs.Complete) return;
            compared++;
            if (dfs.Violations.Count > 0) violating++;
            foreach (var (name, other) in new[]
            {
                ("reduced", Explore(cfg, Strategy.Reduced)),
                ("bfs", Explore(cfg, Strategy.Bfs)),
                ("dfs --jobs 2", Explore(cfg, Strategy.Dfs, jobs: 2)),
                ("reduced --jobs 2", Explore(cfg, Strategy.Reduced, jobs: 2)),
            })
            {
                Assert.True(other.Complete, $"{name}: {other.IncompleteReason}");
                Assert.Equal(dfs.Verdict, other.Verdict);
                Assert.Equal(Keys(dfs), Keys(other));
                Assert.True(dfs.Stats.States == other.Stats.States, $"{name} stored {other.Stats.States} states, plain DFS {dfs.Stats.States}");
            }
        }, iter: Iterations, threads: 1, print: s => s.ToString());
        Assert.True(compared >= total / 2, $"only {compared} of {total} scenarios completed within the budget");
        Assert.True(violating > 0, "no scenario violated anything: the comparison never covered a finding");
    }

    /// <summary>
    /// Normal granularity fuses a step's accesses only where no other actor can tell (GranularityPropertyTests), on the
    /// wider scenarios too: where the fine-grained search completes, both give the same verdict and findings, and the
    /// normal one stores no more states.
    /// </summary>
    [Fact]
    public void Should_GiveTheSameVerdictAndFindings_When_FineAndNormalGranularityExploreAWiderScenario()
    {
        int total = 0, compared = 0;
        GenWide.Sample(sc =>
        {
            total++;
            var fine = Explore(sc.Config(granularity: Granularity.Fine), Strategy.Reduced, maxTransitions: Budget);
            if (!fine.Complete) return;
            compared++;
            var normal = Explore(sc.Config(), Strategy.Reduced);
            Assert.True(normal.Complete, normal.IncompleteReason);
            Assert.Equal(fine.Verdict, normal.Verdict);
            Assert.Equal(Keys(fine), Keys(normal));
            Assert.True(normal.Stats.States <= fine.Stats.States, $"normal granularity stored {normal.Stats.States} states, fine {fine.Stats.States}");
        }, iter: Iterations, threads: 1, print: s => s.ToString());
        Assert.True(compared >= total / 3, $"only {compared} of {total} scenarios completed within the budget");
    }

    /// <summary>
    /// The footprints are complete on the wider scenarios too: at every reachable state (up to a bound), two enabled
    /// actors whose steps do not conflict keep each other enabled and reach the same state in both orders — the
    /// diamond the sleep sets and the incremental fingerprint and restore rest on.
    /// </summary>
    [Fact]
    public void Should_Commute_When_TwoStepsFootprintsAreIndependentOnAWiderScenario()
    {
        long pairs = 0;
        GenWide.Sample(sc =>
        {
            pairs += ExplorerPropertyTests.CheckDiamonds(sc.Config(), maxStates: 1500).Pairs;
        }, iter: Math.Max(1, Iterations / 2), threads: 1, print: s => s.ToString());
        Assert.True(pairs > 1000, $"only {pairs} independent pairs checked");
    }

    /// <summary>Every violation any search reports on a wider scenario replays to the same finding.</summary>
    [Fact]
    public void Should_ReproduceEveryViolation_When_ItsTraceFromAWiderScenarioIsReplayed()
    {
        var replayed = 0;
        GenWide.Sample(sc =>
        {
            if (Environment.GetEnvironmentVariable("SCXLAB_WIDE_LAST") is { } lastFile) File.WriteAllText(lastFile, sc.ToString());
            var cfg = sc.Config();
            var r = new Explorer(new Machine(cfg), new ExploreOptions { MaxTransitions = Budget }).Run();
            foreach (var f in r.Violations)
            {
                var run = TraceRunner.Run(cfg, f.Trace, []);
                Assert.Null(run.Divergence);
                Assert.Equal(f.Violation.Key, run.Outcome?.Key);
                replayed++;
            }
        }, iter: Iterations, threads: 1, print: s => s.ToString());
        Assert.True(replayed > 0, "no violation to replay");
    }
}
