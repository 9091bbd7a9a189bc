using CsCheck;
using Scxlab.Bpf;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Tests.Exploration;

/// <summary>Random small scenarios: the reduced search against plain DFS, and replay of every violation.</summary>
public class ExplorerPropertyTests
{
    public sealed record Small(int Policy, int[] Allowed, int[] Cpu, int[] Changes, int[] ChangeTask, int Cpu0Rounds, int Cpu1Rounds, int Protocol)
    {
        public ModelConfig Config()
        {
            string[] names = ["local-on-pop", "local-on-peek", "dequeue-sync"];
            var tasks = new List<TaskSpec>();
            for (var i = 0; i < Allowed.Length; i++)
                tasks.Add(new TaskSpec(i == 0 ? "p" : "q", 101 + i, Mask(Allowed[i]), Cpu[i], InitialTaskState.Queued));
            var scripts = new List<ScriptSpec>();
            for (var i = 0; i < Changes.Length; i++)
                scripts.Add(new ScriptSpec($"taskset{i}", 1, [new ScriptAction(ActionKind.SetAffinity, Task: ChangeTask[i] % Allowed.Length, Mask: Mask(Changes[i]))]));
            return new ModelConfig
            {
                CpuCount = 2,
                Tasks = tasks,
                PolicyFactory = PolicyRegistry.Resolve(names[Policy]),
                PolicyName = names[Policy],
                Protocol = (Protocol)Protocol,
                Rounds = [Cpu0Rounds, Cpu1Rounds],
                Scripts = scripts,
            };
        }

        private static CpuMask Mask(int bits) => bits switch { 1 => CpuMask.Of(0), 2 => CpuMask.Of(1), _ => CpuMask.Of(0, 1) };

        public override string ToString() =>
            $"policy={Policy} allowed=[{string.Join(",", Allowed)}] cpu=[{string.Join(",", Cpu)}] changes=[{string.Join(",", Changes)}] on=[{string.Join(",", ChangeTask)}] rounds={Cpu0Rounds},{Cpu1Rounds} protocol={Protocol}";
    }

    public static readonly Gen<Small> GenSmall =
        from policy in Gen.Int[0, 2]
        from nTasks in Gen.Int[1, 2]
        from allowed in Gen.Int[1, 3].Array[nTasks]
        from cpu in Gen.Int[0, 1].Array[nTasks]
        from nChanges in Gen.Int[0, 2]
        from changes in Gen.Int[1, 3].Array[nChanges]
        from changeTask in Gen.Int[0, 1].Array[nChanges]
        from r0 in Gen.Int[1, 2]
        from r1 in Gen.Int[0, 1]
        select new Small(policy, allowed, cpu, changes, changeTask, r0, r1, 0);

    private static ExploreResult Explore(ModelConfig cfg, Strategy s) =>
        new Explorer(new Machine(cfg), new ExploreOptions { Strategy = s, ShortestTraces = s != Strategy.Bfs }).Run();

    [Fact]
    public void Should_ReportSameViolationsAndStates_When_ReducedAndPlainDfsExploreTheSameScenario()
    {
        GenSmall.Sample(sc =>
        {
            var cfg = sc.Config();
            var dfs = Explore(cfg, Strategy.Dfs);
            var red = Explore(cfg, Strategy.Reduced);
            Assert.Equal(dfs.Violations.Select(v => v.Violation.Key).Order(), red.Violations.Select(v => v.Violation.Key).Order());
            Assert.Equal(dfs.Stats.States, red.Stats.States);
            Assert.True(red.Stats.Transitions <= dfs.Stats.Transitions);
            Assert.Equal(dfs.Verdict, red.Verdict);
        }, iter: 60, threads: 1, print: s => s.ToString());
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
