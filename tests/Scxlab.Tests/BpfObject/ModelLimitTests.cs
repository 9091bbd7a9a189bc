using System.Text.Json.Nodes;
using Scxlab.Checks;
using Scxlab.Exploration;
using Scxlab.Fuzzing;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Scenarios;
using Scxlab.Simulation;
using Scxlab.Tests.Cli;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// programs/not_modelled.bpf.c: a scheduler that reaches something the model has no semantics for
/// (scx_bpf_pick_idle_cpu() with a flag the model does not cover). That is a gap in what the model covers, not a bug of the scheduler: every
/// driver ends the path there and reports <c>incomplete</c> with the model's message, never a violation; a real
/// violation on another path still stands.
/// </summary>
public class ModelLimitTests
{
    private const string TwoDispatchers = """
        name: two-dispatchers
        cpus: 2
        policy: simple
        tasks:
          - { name: p, allowed: [0, 1], cpu: 0, state: queued }
          - { name: q, allowed: [0, 1], cpu: 1, state: queued }
        rounds:
          - { cpu: 0, count: 2 }
          - { cpu: 1, count: 2 }
        check: [all]
        """;

    private static string Object(int mode) => BpfExamples.CompileProgram("not_modelled.bpf.c", "v3") + $"@mode={mode}";

    private static (Scenario Scenario, ModelConfig Config) Load(int mode)
    {
        var s = ScenarioLoader.Parse(TwoDispatchers, "two-dispatchers.yaml");
        return (s, s.ToConfig(Object(mode)));
    }

    private static ExploreResult Explore(int mode, Strategy strategy = Strategy.Reduced, int jobs = 1)
    {
        var (s, config) = Load(mode);
        return new Explorer(new Machine(config), new ExploreOptions { Checks = s.Checks, Strategy = strategy, Jobs = jobs }).Run();
    }

    [Theory]
    [InlineData(Strategy.Dfs, 1)]
    [InlineData(Strategy.Reduced, 1)]
    [InlineData(Strategy.Bfs, 1)]
    [InlineData(Strategy.Reduced, 2)]
    [InlineData(Strategy.Bfs, 2)]
    public void Should_BeIncompleteNotAViolation_When_EveryPathReachesSomethingTheModelDoesNotCover(Strategy strategy, int jobs)
    {
        var r = Explore(3, strategy, jobs);
        Assert.Equal(Verdict.Incomplete, r.Verdict);
        Assert.False(r.Complete);
        Assert.Empty(r.Violations);
        var limit = Assert.Single(r.ModelLimits);
        Assert.Equal(ViolationKind.ModelLimit, limit.Violation.Kind);
        Assert.Contains("scx_bpf_pick_idle_cpu: flags 0x100 are not modelled", limit.Violation.Message);
        Assert.Contains("does not cover", r.IncompleteReason);
        Assert.NotEmpty(limit.Trace);
    }

    [Fact]
    public void Should_KeepTheViolation_When_OtherPathsEndAtAModelLimit()
    {
        // CPU 0's dispatch reaches the limit, CPU 1's calls scx_bpf_error(): whichever dispatches first decides the path.
        var r = Explore(2);
        Assert.Equal(Verdict.Violation, r.Verdict);
        Assert.False(r.Complete);
        Assert.Equal("scheduler exit SCX_EXIT_ERROR_BPF: boom on cpu 1", Assert.Single(r.Violations).Violation.ToString());
        Assert.Single(r.ModelLimits);
    }

    [Fact]
    public void Should_BeIncomplete_When_TheLimitIsReachedAtBoot()
    {
        // Mode 1: ops.enqueue of the boot's queued tasks already reaches it; nothing can be explored.
        var r = Explore(1);
        Assert.Equal(Verdict.Incomplete, r.Verdict);
        Assert.Empty(r.Violations);
        Assert.Empty(Assert.Single(r.ModelLimits).Trace);
    }

    [Fact]
    public void Should_MatchTheSameSearchWithoutTheLimit_When_ComparingWhatWasCovered()
    {
        // Two ways to the same states: mode 3 ends every path at its first dispatch that finds a pid; the states
        // before it are the same as mode 0's up to that point, so mode 3 stores no more states than mode 0.
        var cut = Explore(3, Strategy.Dfs);
        var whole = Explore(0, Strategy.Dfs);
        Assert.Equal(Verdict.Holds, whole.Verdict);
        Assert.True(cut.Stats.States < whole.Stats.States, $"{cut.Stats.States} vs {whole.Stats.States}");
    }

    [Fact]
    public void Should_ReportModelLimitsApartFromFindings_When_Fuzzing()
    {
        var (s, config) = Load(3);
        var r = new Fuzzer(config, new FuzzOptions { Runs = 20, Jobs = 1, Seed = 1, Checks = s.Checks }).Run();
        Assert.Empty(r.Findings);
        Assert.True(r.Incomplete);
        Assert.Equal(20, Assert.Single(r.ModelLimits).Hits);
        Assert.Null(r.FirstFindingSeconds);
    }

    [Fact]
    public void Should_NotCountAsASchedulerExit_When_ASimulationReachesAModelLimit()
    {
        var workload = WorkloadLoader.Parse("w.yaml", """
            name: two-hogs
            cpus: 2
            tasks:
              - { name: hog, count: 6, phases: [ { run: 5ms }, { sleep: 1ms } ] }
            """);
        var r = new Simulator(workload, new SimOptions { Cpus = 2, DurationNs = 20_000_000, Policy = PolicyRegistry.Resolve(Object(3)), PolicyName = Object(3) }).Run();
        Assert.Empty(r.Exits);
        Assert.Empty(r.Findings);
        var limit = Assert.IsType<SimExit>(r.ModelLimit);
        Assert.Contains("are not modelled", limit.Message);
    }

    [Fact]
    public void Should_ExitFourAndListTheLimit_When_CheckMeetsAModelLimit()
    {
        var dir = Directory.CreateTempSubdirectory("scxlab-model-limit-").FullName;
        try
        {
            var scenario = Path.Combine(dir, "two-dispatchers.yaml");
            File.WriteAllText(scenario, TwoDispatchers);
            var obj = BpfExamples.CompileProgram("not_modelled.bpf.c", "v3");
            var text = CliResult.Run("check", scenario, "--policy", obj, "--rodata", "mode=3");
            Assert.True(text.ExitCode == 4, $"exit {text.ExitCode}: {text.Stderr}");
            Assert.Contains("not modelled: ops.dispatch(): BPF program", text.Stdout);
            Assert.Contains("verdict: incomplete — the scheduler reached something the model does not cover", text.Stdout);

            var json = CliResult.Run("check", scenario, "--policy", obj, "--rodata", "mode=3", "--json");
            Assert.Equal(4, json.ExitCode);
            var o = JsonNode.Parse(json.Stdout)!;
            Assert.Equal("incomplete", (string?)o["verdict"]);
            Assert.Empty(o["violations"]!.AsArray());
            Assert.Equal("not-modelled", (string?)o["model_limits"]![0]!["kind"]);

            var fuzz = CliResult.Run("fuzz", scenario, "--policy", obj, "--rodata", "mode=3", "--runs", "10");
            Assert.Equal(4, fuzz.ExitCode);
            Assert.Contains("verdict: incomplete", fuzz.Stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// simulate --load-from takes a BPF object's load settings from a scenario file (here rodata mode 3: the run
    /// reaches the model limit, exit 4); the command line's own flags apply after them; a bad file is a load error.
    /// </summary>
    [Fact]
    public void Should_TakeTheScenariosLoadSettings_When_SimulateIsGivenLoadFrom()
    {
        var dir = Directory.CreateTempSubdirectory("scxlab-load-from-").FullName;
        try
        {
            var scenario = Path.Combine(dir, "mode3.yaml");
            File.WriteAllText(scenario, TwoDispatchers + "\nrodata: { mode: 3 }\n");
            var obj = BpfExamples.CompileProgram("not_modelled.bpf.c", "v3");
            string[] run = ["simulate", "mixed", "--policy", obj, "--cpus", "2", "--duration", "20ms", "--json"];

            var plain = CliResult.Run(run);
            Assert.True(plain.ExitCode == 0, $"exit {plain.ExitCode}: {plain.Stderr}");
            var loaded = CliResult.Run([.. run, "--load-from", scenario]);
            Assert.True(loaded.ExitCode == 4, $"exit {loaded.ExitCode}: {loaded.Stderr}");
            Assert.Equal("incomplete", (string?)JsonNode.Parse(loaded.Stdout)!["verdict"]);
            var overridden = CliResult.Run([.. run, "--load-from", scenario, "--rodata", "mode=0"]);
            Assert.True(overridden.ExitCode == 0, $"exit {overridden.ExitCode}: {overridden.Stderr}");

            var bad = Path.Combine(dir, "bad.yaml");
            File.WriteAllText(bad, "name: bad\ncpus: two\n");
            var refused = CliResult.Run([.. run, "--load-from", bad]);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("--load-from: ", refused.Stderr);
            Assert.Contains("bad.yaml:2:", refused.Stderr);
            Assert.DoesNotContain("   at ", refused.Stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Should_DropTheOldest_When_APushWithBpfExistFindsTheQueueFull()
    {
        // queue_stack_maps.c: a full queue refuses a plain push (-E2BIG = -7); BPF_EXIST advances the tail over the
        // oldest (1) and succeeds; BPF_NOEXIST is -EINVAL (-22). What is left: 2, then 3, then nothing (-ENOENT = -2).
        var r = Explore(4);
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: full=-7 replaced=0 noexist=-22 x=2 y=3 empty=-2", Assert.Single(r.Violations).Violation.ToString());
    }
}
