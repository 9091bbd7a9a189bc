using Scxlab.Checks;
using Scxlab.Exploration;
using Scxlab.Fuzzing;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Scenarios;
using Scxlab.Simulation;
using Scxlab.Tests.Cli;

namespace Scxlab.Tests.Simulation;

/// <summary>simulate --out: a simulation's first finding saved as a scenario that check explores and a trace that replay runs.</summary>
public class SimulationReproTests
{
    /// <summary>
    /// The first seed whose 4-CPU affinity churn under upstream ends in local-on-peek's remote-dispatch exit within 60 ms
    /// of virtual time. Which seeds exit, and when, depends on every placement the model makes (a fidelity fix to a CPU
    /// pick moves them), so the tests look for one instead of pinning it; none among 100 seeds fails them.
    /// </summary>
    private static int ExitingSeed => ExitingSeedLazy.Value;

    private static readonly Lazy<int> ExitingSeedLazy = new(() =>
    {
        for (var seed = 1; seed <= 100; seed++)
        {
            var sim = Simulate("affinity-churn", 4, 4, "local-on-peek", Protocol.Upstream, 60_000_000, seed: seed);
            if (sim.Recording?.Finding is { Kind: ViolationKind.Exit }) return seed;
        }
        throw new InvalidOperationException("no seed in 1..100 ends the 4-CPU affinity churn in an exit within 60 ms");
    });

    private static Simulator Simulate(string generator, int cpus, int tasks, string policy, Protocol protocol, long durationNs, bool record = true, int seed = 1)
    {
        var sim = new Simulator(Generators.Create(generator, cpus, tasks), new SimOptions
        {
            Cpus = cpus,
            DurationNs = durationNs,
            Seed = (ulong)seed,
            Policy = PolicyRegistry.Resolve(policy),
            PolicyName = policy,
            Protocol = protocol,
            Record = record,
        });
        sim.Run();
        return sim;
    }

    [Fact]
    public void Should_SaveAShrunkScenarioThatCheckExploresToTheSameExit_When_ASimulationExits()
    {
        // Given the affinity churn under upstream: local-on-peek's remote dispatch races the mask change (an exit within 60 ms)
        var sim = Simulate("affinity-churn", 4, 4, "local-on-peek", Protocol.Upstream, 200_000_000, seed: ExitingSeed);
        var rec = sim.Recording!;
        Assert.NotNull(rec.Finding);
        Assert.Equal(ViolationKind.Exit, rec.Finding!.Kind);

        // When it is turned into a scenario and shrunk
        var rep = SimulationRepro.FromRun(sim, "affinity-churn", (ulong)ExitingSeed, minimize: true, minimizeBudget: 3000);

        // Then the shrunk scenario is smaller, its trace replays to the same exit (up to names and numbers) ...
        Assert.Null(rep.Failure);
        var min = rep.Min!;
        Assert.True(min.Choices.Count < rec.Choices.Count / 10, $"{min.Choices.Count} of {rec.Choices.Count} steps: {string.Join("; ", rep.Log)}");
        Assert.True(min.Config.Tasks.Count < 4, string.Join("; ", rep.Log));
        var run = TraceRunner.Run(min.Config, min.Choices, min.Scenario.Checks);
        Assert.Null(run.Divergence);
        Assert.Equal(FuzzFinding.Mask(rec.Finding.Key), FuzzFinding.Mask(run.Outcome!.Key));
        // ... and the file check reads is explored, completely, to that exit
        var reread = ScenarioLoader.Parse(min.Scenario.Text, "saved.yaml");
        var check = new Explorer(new Machine(reread.ToConfig()), new ExploreOptions { Checks = reread.Checks }).Run();
        Assert.True(check.Complete, check.IncompleteReason);
        Assert.Contains(check.Violations, v => FuzzFinding.Mask(v.Violation.Key) == FuzzFinding.Mask(rec.Finding.Key));
    }

    [Fact]
    public void Should_ReplayTheRecordedStepsToTheFinding_When_NotShrunk()
    {
        // Given the same run, saved as recorded (--minimize false)
        var sim = Simulate("affinity-churn", 4, 4, "local-on-peek", Protocol.Upstream, 200_000_000, seed: ExitingSeed);
        var rep = SimulationRepro.FromRun(sim, "affinity-churn", (ulong)ExitingSeed, minimize: false, minimizeBudget: 1);

        // Then the scenario has every action the workload started, and the run's steps reach the identical exit
        Assert.Null(rep.Failure);
        Assert.Equal(sim.Recording!.Choices.Count, rep.Choices.Count);
        var run = TraceRunner.Run(rep.Config!, rep.Choices, rep.Scenario!.Checks);
        Assert.Equal(sim.Recording.Finding!.Key, run.Outcome?.Key);
        // ... and the file it would write is the run's scenario under its own name, said to be unshrunk
        Assert.Equal(rep.Scenario.Name, rep.Min!.Scenario.Name);
        Assert.Contains("(not shrunk)", rep.Min.Scenario.Description);
        Assert.Equal(rep.Choices.Count, rep.Min.Choices.Count);
    }

    [Fact]
    public void Should_RecordNothingToSave_When_TheRunHasNoFinding()
    {
        // Given a run with no exit and no assertion (fallback-dsq repairs the race)
        var sim = Simulate("affinity-churn", 4, 4, "local-on-peek", Protocol.FallbackDsq, 30_000_000);
        Assert.Null(sim.Recording!.Finding);

        var rep = SimulationRepro.FromRun(sim, "affinity-churn", 1, minimize: true, minimizeBudget: 100);
        Assert.Null(rep.Min);
        Assert.Equal("the run had no finding", rep.Failure);
    }

    [Fact]
    public void Should_NotRecord_When_OutIsNotAsked()
    {
        var sim = Simulate("affinity-churn", 2, 2, "local-on-peek", Protocol.Upstream, 5_000_000, record: false);
        Assert.Null(sim.Recording);
    }

    [Fact]
    public void Should_WriteTheScenarioAndTraces_When_SimulateIsGivenOut()
    {
        var dir = Directory.CreateTempSubdirectory("scxlab-sim-out").FullName;
        try
        {
            var r = CliResult.Run("simulate", "affinity-churn", "--policy", "local-on-peek", "--cpus", "4", "--tasks", "4", "--duration", "60ms", "--seed", $"{ExitingSeed}", "--minimize-budget", "2000", "--out", dir);
            Assert.Equal(0, r.ExitCode);
            var yaml = Path.Combine(dir, $"affinity-churn-upstream-seed{ExitingSeed}.yaml");
            Assert.Contains($"saved as {yaml} (scxlab check)", r.Stdout);
            Assert.True(File.Exists(Path.Combine(dir, $"affinity-churn-upstream-seed{ExitingSeed}.trace.json")));
            Assert.True(File.Exists(Path.Combine(dir, $"affinity-churn-upstream-seed{ExitingSeed}.original.trace.json")));
            Assert.Equal(2, CliResult.Run("check", yaml).ExitCode);
            var replay = CliResult.Run("replay", Path.Combine(dir, $"affinity-churn-upstream-seed{ExitingSeed}.trace.json"));
            Assert.Contains("outcome (reproduced)", replay.Stdout);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Should_RefuseMinimizeOptions_When_OutIsNotGiven()
    {
        var r = CliResult.Run("simulate", "mixed", "--cpus", "2", "--duration", "10ms", "--minimize", "false");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("give --out DIR", r.Stderr);
    }

    [Fact]
    public void Should_WriteAbsolutePolicyPaths_When_APolicyFileIsNamedRelatively()
    {
        // A saved scenario is read again from wherever check or replay runs next: its policy path must not depend on the directory.
        var dir = Directory.CreateTempSubdirectory("scxlab-rooted").FullName;
        try
        {
            var obj = Path.Combine(dir, "x.bpf.o");
            File.WriteAllBytes(obj, [0]);
            var relative = Path.GetRelativePath(Environment.CurrentDirectory, obj);
            Assert.False(Path.IsPathRooted(relative));
            Assert.Equal(obj + "@slice_ns=5", BpfObjectSpec.Rooted(relative + "@slice_ns=5"));
            Assert.Equal("local-on-peek", BpfObjectSpec.Rooted("local-on-peek"));
            Assert.Equal("missing/y.bpf.o", BpfObjectSpec.Rooted("missing/y.bpf.o")); // left for the loader's own error
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
