using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Scxlab.Bpf;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Scenarios;
using Scxlab.Simulation;

namespace Scxlab.Benchmarks;

/// <summary>
/// A BPF object against its C# twin (issue 11's performance lines): the exhaustive search of scale-3cpu
/// under dequeue-sync (states/s: the BPF object's should be at least half the C# policy's) and a
/// simulation of web-and-batch under simple (events/s). The objects come from examples/bpf/build.sh
/// (clang-19), run once in GlobalSetup. Divide the counters printed in GlobalSetup by the mean time.
/// </summary>
[MemoryDiagnoser]
public class BpfPolicyBenchmarks
{
    private ModelConfig _explore = null!;
    private Workload _workload = null!;
    private Func<ScxOps> _simPolicy = null!;

    [Params("csharp", "bpf")]
    public string Policy { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var objects = BpfObjects.Build();
        var scenario = ScenarioLoader.Resolve("scale-3cpu");
        _explore = scenario.ToConfig(Policy == "bpf" ? Path.Combine(objects, "dequeue_sync.bpf.o") : "dequeue-sync");
        _workload = BuiltinWorkloads.TryLoad("web-and-batch") ?? throw new InvalidOperationException("web-and-batch workload missing");
        _simPolicy = PolicyRegistry.Resolve(Policy == "bpf" ? Path.Combine(objects, "simple.bpf.o") : "simple");
        var insn0 = Scxlab.BpfObject.Interpreter.TotalInstructions;
        var r = Explore();
        var insn1 = Scxlab.BpfObject.Interpreter.TotalInstructions;
        Console.WriteLine($"// scale-3cpu dequeue-sync ({Policy}): {r.Stats.States} states, {r.Stats.Transitions} transitions in {r.Stats.Seconds:0.00} s = {r.Stats.States / r.Stats.Seconds:0} states/s"
            + (Policy == "bpf" ? $"; {insn1 - insn0} BPF instructions = {(insn1 - insn0) / r.Stats.Seconds:0} insn/s within the search" : ""));
        var s = Simulate();
        var insn2 = Scxlab.BpfObject.Interpreter.TotalInstructions;
        Console.WriteLine($"// web-and-batch simple ({Policy}), 8 CPUs, 300 ms: {s.Steps + s.EngineEvents} events in {s.WallSeconds:0.00} s = {s.EventsPerSecond:0} events/s"
            + (Policy == "bpf" ? $"; {insn2 - insn1} BPF instructions = {(insn2 - insn1) / s.WallSeconds:0} insn/s within the simulation" : ""));
        if (Policy == "bpf") InterpreterRate.Print(objects);
    }

    private ExploreResult Explore() => new Explorer(new Machine(_explore), new ExploreOptions { Strategy = Strategy.Reduced, ShortestTraces = false }).Run();

    private SimResult Simulate() =>
        new Simulator(_workload, new SimOptions { Cpus = 8, DurationNs = 300_000_000, Seed = 1, Policy = _simPolicy, PolicyName = Policy }).Run();

    [Benchmark]
    public long ExploreScale3cpu() => Explore().Stats.States;

    [Benchmark]
    public long SimulateWebAndBatch()
    {
        var r = Simulate();
        return r.Steps + r.EngineEvents;
    }
}

/// <summary>Builds examples/bpf into examples/bpf/out once (clang-19 must be installed: .ci/run does it).</summary>
internal static class BpfObjects
{
    public static string Build()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d != null && !File.Exists(Path.Combine(d.FullName, "Scxlab.slnx"))) d = d.Parent;
        var root = d?.FullName ?? throw new InvalidOperationException("repository root (Scxlab.slnx) not found");
        using var p = Process.Start(new ProcessStartInfo("/bin/sh", [Path.Combine(root, "examples", "bpf", "build.sh")]) { RedirectStandardError = true })!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"examples/bpf/build.sh failed: {err}");
        return Path.Combine(root, "examples", "bpf", "out");
    }
}

/// <summary>
/// The interpreter alone: examples/bpf's spin object (ops.init runs a loop of about 700 000 instructions with no kfunc call in it,
/// so nothing but instruction dispatch runs), timed over a few searches of seed-race-r1 (the loop dominates them).
/// </summary>
internal static class InterpreterRate
{
    public static void Print(string objects)
    {
        // Compiled here, beside the examples' objects, with their header (spin.bpf.c lives with the benchmarks).
        var source = Path.Combine(AppContext.BaseDirectory, "spin.bpf.c");
        var spin = Path.Combine(objects, "spin.bpf.o");
        var include = Path.Combine(objects, "..", "include");
        using (var clang = Process.Start(new ProcessStartInfo("clang-19", $"-g -O2 -target bpf -mcpu=v3 -I{include} -c {source} -o {spin}")))
            clang!.WaitForExit();
        if (!File.Exists(spin)) return;
        var scenario = ScenarioLoader.Resolve("seed-race-r1");
        var config = scenario.ToConfig(spin);
        // ops.init runs in the first step of a search; the scheduler then has no enqueue, so little else runs.
        ExploreResult Run() => new Explorer(new Machine(config), new ExploreOptions { Checks = scenario.Checks }).Run();
        for (var i = 0; i < 40; i++) Run(); // warm-up: let tiered JIT reach the optimized interpreter loop
        var before = Scxlab.BpfObject.Interpreter.TotalInstructions;
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < 40; i++) Run();
        sw.Stop();
        var n = Scxlab.BpfObject.Interpreter.TotalInstructions - before;
        Console.WriteLine($"// interpreter alone (spin.bpf.o, ops.init loop): {n} instructions in {sw.Elapsed.TotalSeconds:0.000} s = {n / sw.Elapsed.TotalSeconds:0} insn/s");
    }
}

/// <summary>
/// A BPF arena against a queue map: local_on_pop with its FIFO as a list of arena pages (local_on_pop_arena.bpf.o)
/// against local_on_pop.bpf.o, the exhaustive search of scale-3cpu. The arena version has more interleaving points
/// (its lock, the list's loads and stores, the page allocations), so more states; states/s shows what an arena access
/// costs the search. The counters are printed in GlobalSetup.
/// </summary>
[MemoryDiagnoser]
public class BpfArenaBenchmarks
{
    private ModelConfig _explore = null!;

    [Params("queue", "arena")]
    public string Memory { get; set; } = "";

    /// <summary>Callbacks go on from the interpreter's checkpoints (true) or replay their prefix at every step (false).</summary>
    [Params(true, false)]
    public bool Checkpoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var objects = BpfObjects.Build();
        _explore = ScenarioLoader.Resolve("scale-3cpu").ToConfig(Path.Combine(objects, Memory == "arena" ? "local_on_pop_arena.bpf.o" : "local_on_pop.bpf.o"))
            .WithBpfCheckpoints(Checkpoints);
        var r = Explore();
        Console.WriteLine($"// scale-3cpu local_on_pop ({Memory}, checkpoints {(Checkpoints ? "on" : "off")}): {r.Stats.States} states, {r.Stats.Transitions} transitions in {r.Stats.Seconds:0.00} s = {r.Stats.States / r.Stats.Seconds:0} states/s");
    }

    private ExploreResult Explore() => new Explorer(new Machine(_explore), new ExploreOptions { Strategy = Strategy.Reduced, ShortestTraces = false }).Run();

    [Benchmark]
    public long ExploreScale3cpu() => Explore().Stats.States;
}
