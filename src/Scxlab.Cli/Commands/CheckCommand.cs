using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Reporting;
using Scxlab.Scenarios;

namespace Scxlab.Cli.Commands;

/// <summary>
/// <c>scxlab check SCENARIO [--protocol P] [--policy X] [--strategy dfs|reduced|bfs] [--max-preemptions N]
/// [--budget SECONDS] [--max-steps N] [--trace-out F] [--exact] [--granularity normal|fine] [--json]</c>: explore every interleaving.
/// Exit codes: 0 holds (complete), 2 violation or scheduler exit, 4 incomplete, 1 bad input, 3 internal error.
/// </summary>
public static class CheckCommand
{
    internal static ScxCommand Create()
    {
        var scenarioArg = CliOptions.Scenario();
        var protocol = CliOptions.Protocol();
        var policy = CliOptions.Policy("the policy (overrides the scenario's): a built-in name (scxlab list policies), X.bpf.o[@name=value,...], or path.dll:Namespace.Type");
        var load = new CliOptions.BpfLoad();
        var strategyOpt = new Option<string?>("--strategy")
        {
            Description = "dfs (every interleaving) | reduced (sleep sets: the same states and verdicts, fewer transitions) | bfs (layer by layer). Default: reduced, or dfs with --max-preemptions",
            HelpName = "dfs|reduced|bfs",
        };
        strategyOpt.AcceptOnlyFromAmong("dfs", "reduced", "bfs");
        var maxPreOpt = CliOptions.Int("--max-preemptions", 0, 1000, "bound the preemptions per path (a bounded search: holds means holds within the bound)");
        var budgetOpt = CliOptions.Budget("stop the search after this long (exit 4, incomplete); default: the scenario's bounds.budget_seconds, else none");
        var maxStepsOpt = CliOptions.Long("--max-steps", 1, "stop after this many transitions (exit 4, incomplete)");
        var traceOutOpt = CliOptions.OutputFile("--trace-out", "write the first finding's trace (JSON, for scxlab replay); with several findings, FILE-2.json … for the others");
        var exactOpt = CliOptions.Flag("--exact", "store whole states instead of 64-bit fingerprints (no collision can hide a state; more memory)");
        var granularityOpt = CliOptions.OneOf("--granularity", "step size: normal, or fine (a step per lock operation, to check that normal loses nothing)", "normal", "normal", "fine");
        var kernelOpt = CliOptions.Kernel();
        var memoryOpt = CliOptions.Size("--memory", "RAM for the stored states (default: 6GiB, at most half the machine's); beyond it they spill to disk (--spill-dir) and the search goes on with the same states and verdict; with --exact, the search stops there (exit 4)");
        var spillDirOpt = new Option<string?>("--spill-dir") { Description = "where stored states spill beyond --memory (default: the temp directory); the files are removed when the search ends", HelpName = "DIR" };
        var jobsOpt = CliOptions.Int("--jobs", 1, 256, "worker threads: dfs and reduced run a parallel DFS (reduced shares its sleep sets), bfs the layer-parallel BFS; the same states and verdict for every N, and with dfs and bfs the same transitions (docs/exploration.md); default: one thread, and all cores once a search passes 1 000 000 transitions (a --shard stays on one thread unless --jobs is given)");
        var shardOpt = CliOptions.Shard("search shard K of N (a BFS frontier split by fingerprint; the shards' findings together are the unsharded run's, and scxlab merge combines their --json reports, docs/scale-out.md); with N alone, K−1 comes from JOB_COMPLETION_INDEX");
        var htmlOpt = CliOptions.OutputFile("--html", "also write a self-contained HTML page: the verdict, the search and each finding's trace in CPU columns");
        var jsonOpt = CliOptions.Flag("--json", "print one JSON object on stdout (schema scxlab/check/v1, docs/json.md)");
        var cmd = new ScxCommand("check", "Explore every interleaving of a scenario (a built-in name or a YAML file) and report holds / violation / incomplete.")
        {
            Examples =
            [
                "scxlab check seed-race-r2                          # the seed email's race under today's kernel: exit 2",
                "scxlab check seed-race-r2 --protocol qseq-invalidate   # the v1 fix: the task is forgotten",
                "scxlab check seed-race-synced                      # dequeue-sync: holds (complete search)",
                "scxlab check seed-race-r2 --json --trace-out r2.json",
                "scxlab check central-remote --policy scx_central.bpf.o --rodata nr_cpu_ids=3 --rodata 'cpu_gimme_task[]=3'",
            ],
        };
        cmd.Arguments.Add(scenarioArg);
        foreach (var o in (Option[])[protocol, policy, .. load.All, strategyOpt, maxPreOpt, budgetOpt, maxStepsOpt, traceOutOpt, exactOpt, granularityOpt, kernelOpt, memoryOpt, spillDirOpt, jobsOpt, shardOpt, htmlOpt, jsonOpt])
            cmd.Options.Add(o);
        cmd.SetAction(r => Execute(new Args
        {
            Scenario = r.GetValue(scenarioArg)!,
            Protocol = r.GetValue(protocol),
            Policy = r.GetValue(policy),
            Rodata = load.Items(r),
            Strategy = r.GetValue(strategyOpt) switch
            {
                "dfs" => Strategy.Dfs,
                "reduced" => Strategy.Reduced,
                "bfs" => Strategy.Bfs,
                _ => null,
            },
            MaxPreemptions = r.GetValue(maxPreOpt),
            Budget = r.GetValue(budgetOpt),
            MaxSteps = r.GetValue(maxStepsOpt),
            TraceOut = r.GetValue(traceOutOpt),
            Exact = r.GetValue(exactOpt),
            Granularity = r.GetValue(granularityOpt) == "fine" ? Granularity.Fine : Granularity.Normal,
            Kernel = r.GetValue(kernelOpt),
            Jobs = r.GetValue(jobsOpt),
            Memory = r.GetValue(memoryOpt),
            SpillDir = r.GetValue(spillDirOpt),
            Shard = r.GetValue(shardOpt),
            Html = r.GetValue(htmlOpt),
            Json = r.GetValue(jsonOpt),
        }, r.InvocationConfiguration.Output, r.InvocationConfiguration.Error));
        return cmd;
    }

    /// <summary>The command line as <c>scxlab check ARGS</c> would run it (for tests and embedding).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Program.Run(["check", .. args], stdout, stderr);

    private sealed class Args
    {
        public required string Scenario;
        public string? Protocol, Policy, TraceOut, Kernel, Shard, Html, SpillDir;
        public long? Memory;
        public string[] Rodata = [];
        public Strategy? Strategy;
        public int? MaxPreemptions;
        public double? Budget;
        public long? MaxSteps;
        public bool Exact, Json;
        public Granularity Granularity;
        /// <summary>--jobs; null: one thread, all cores for a search that outgrows one (<see cref="ExploreOptions.AutoJobs"/>).</summary>
        public int? Jobs;
    }

    /// <summary>6 GiB, or half of the memory this process may use when that is less (containers included).</summary>
    private static long DefaultMemory() => Math.Min(6L << 30, Math.Max(64L << 20, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2));

    private static int Execute(Args a, TextWriter stdout, TextWriter stderr)
    {
        string scenarioArg = a.Scenario;
        string? protocolArg = a.Protocol, policyArg = a.Policy, traceOut = a.TraceOut;
        // Default: sleep sets (same states and verdicts as dfs, fewer transitions; docs/exploration.md),
        // or plain DFS under a preemption bound, which the reduced search does not combine with.
        Strategy? strategyArg = a.Strategy;
        int? maxPre = a.MaxPreemptions;
        var jobs = a.Jobs ?? ExploreOptions.AutoJobs;
        double? budget = a.Budget;
        long? maxSteps = a.MaxSteps;
        bool exact = a.Exact, json = a.Json;
        var granularity = a.Granularity;
        int shardIndex, shardCount;
        string? kernelArg = a.Kernel, htmlOut = a.Html;
        var rodata = a.Rodata.ToList();
        var memory = a.Memory ?? DefaultMemory();
        var spillDir = a.SpillDir ?? Path.GetTempPath();
        try
        {
            (shardIndex, shardCount) = FuzzCommand.ParseShard(a.Shard);
            // Refused now, not at the first spill minutes into the search.
            try
            {
                Directory.CreateDirectory(spillDir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new UsageException($"--spill-dir {spillDir}: {e.Message}");
            }
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"scxlab check: {e.Message} (see 'scxlab check --help')");
            return 1;
        }

        var strategy = strategyArg ?? (maxPre != null ? Strategy.Dfs : Strategy.Reduced);
        Scenario scenario;
        ModelConfig config;
        Protocol? protocol = null;
        try
        {
            scenario = ScenarioLoader.Resolve(scenarioArg);
            if (protocolArg != null)
            {
                if (!ProtocolNames.TryParse(protocolArg, out var p)) throw new ScenarioException($"unknown protocol '{protocolArg}' (expected {ProtocolNames.Expected})");
                protocol = p;
            }
            KernelEra? kernel = null;
            if (kernelArg != null)
                kernel = KernelEras.TryParse(kernelArg, out var ke) ? ke : throw new ScenarioException($"unknown kernel '{kernelArg}' (expected {KernelEras.Expected})");
            if (rodata.Count > 0) policyArg = BpfObjectSpec.With(policyArg ?? scenario.Policy, rodata);
            scenario.RequireExplorable();
            config = scenario.ToConfig(policyArg, protocol, granularity, kernel);
            // Before the search: a trace path that cannot be written must not cost the run.
            if (traceOut != null) OutputFiles.CheckFile("--trace-out", traceOut);
            if (htmlOut != null) OutputFiles.CheckFile("--html", htmlOut);
        }
        catch (Exception e) when (e is ScenarioException or PolicyLoadException or UsageException)
        {
            stderr.WriteLine($"scxlab check: {e.Message}");
            return 1;
        }

        try
        {
            var machine = new Machine(config);
            var progress = new Progress(stderr);
            var options = new ExploreOptions
            {
                Strategy = strategy,
                Exact = exact,
                MaxPreemptions = maxPre ?? scenario.MaxPreemptions,
                Jobs = jobs,
                BudgetSeconds = budget ?? scenario.BudgetSeconds,
                MaxTransitions = maxSteps,
                Checks = scenario.Checks,
                Progress = progress.Report,
                Cancel = Program.Interrupt,
                ShardIndex = shardIndex,
                ShardCount = shardCount,
                MaxMemoryBytes = memory,
                SpillDirectory = spillDir,
            };
            var result = new Explorer(machine, options).Run();
            progress.Clear();

            var policyName = config.PolicyName;
            // Traces record an assembly policy by absolute path and hash, so they replay from anywhere.
            var (tracePolicy, policySha) = PolicyRegistry.Locate(policyName);
            var protocolName = ProtocolNames.Name(config.Protocol);
            var traces = new List<(FoundViolation Found, TraceRun Run, string? File)>();
            for (var i = 0; i < result.Violations.Count; i++)
            {
                var f = result.Violations[i];
                var run = TraceRunner.Run(config, f.Trace, scenario.Checks);
                string? file = null;
                if (traceOut != null)
                {
                    file = i == 0 || OutputFiles.IsSpecial(Path.GetFullPath(traceOut)) ? traceOut : Path.ChangeExtension(traceOut, null) + $".{i + 1}" + (Path.GetExtension(traceOut) is { Length: > 0 } ext ? ext : ".json");
                    var traceFile = new TraceFile
                    {
                        ScenarioName = scenario.Name,
                        ScenarioSource = scenario.Source,
                        ScenarioText = scenario.Text,
                        Policy = tracePolicy,
                        PolicySha256 = policySha,
                        Protocol = protocolName,
                        Checks = scenario.Checks,
                        Strategy = result.Strategy.ToString().ToLowerInvariant(),
                        Exact = exact,
                        MaxPreemptions = options.MaxPreemptions,
                        Granularity = granularity == Granularity.Fine ? "fine" : "normal",
                        Kernel = KernelEras.Name(config.Kernel),
                        Violation = f.Violation,
                        Actors = [.. machine.Actors.Select(a => a.Name)],
                        Choices = f.Trace,
                    };
                    OutputFiles.Write(file, traceFile.Save);
                }
                traces.Add((f, run, file));
            }

            if (json)
            {
                var o = new JsonObject
                {
                    ["verdict"] = result.Verdict.ToString().ToLowerInvariant(),
                    ["complete"] = result.Complete,
                    ["scenario"] = scenario.Name,
                    ["source"] = scenario.Source,
                    ["protocol"] = protocolName,
                    ["policy"] = policyName,
                    ["strategy"] = result.Strategy.ToString().ToLowerInvariant(),
                    ["exact"] = exact,
                    ["granularity"] = granularity == Granularity.Fine ? "fine" : "normal",
                    ["kernel"] = KernelEras.Name(config.Kernel),
                    ["violations"] = new JsonArray([.. traces.Select(t =>
                    {
                        var v = TraceFile.ViolationJson(t.Found.Violation);
                        v["trace"] = new JsonObject
                        {
                            ["file"] = t.File,
                            ["steps"] = new JsonArray([.. t.Found.Trace.Select(a => (JsonNode?)machine.Actor(a).Name)]),
                        };
                        return (JsonNode?)v;
                    })]),
                    ["stats"] = new JsonObject
                    {
                        ["executions"] = result.Stats.Executions,
                        ["states"] = result.Stats.States,
                        ["transitions"] = result.Stats.Transitions,
                        ["max_depth"] = result.Stats.MaxDepth,
                        ["seconds"] = Math.Round(result.Stats.Seconds, 4),
                        ["collision_probability"] = result.Stats.CollisionProbability,
                        ["bytes_per_state"] = Math.Round(result.Stats.BytesPerState, 2),
                        ["spilled_states"] = result.Stats.SpilledStates,
                        ["spill_bytes"] = result.Stats.SpillBytes,
                    },
                    ["incomplete_reason"] = result.IncompleteReason,
                    ["shard"] = shardCount == 1 ? null : new JsonObject
                    {
                        ["index"] = shardIndex + 1,
                        ["count"] = shardCount,
                        ["depth"] = result.Stats.ShardDepth,
                        ["frontier_states"] = result.Stats.ShardFrontierStates,
                        ["own_states"] = result.Stats.ShardOwnStates,
                    },
                    // The stored states' HyperLogLog registers (base64): scxlab merge estimates the shards' union from them.
                    ["distinct_sketch"] = result.Stats.DistinctSketch is { } sketch ? Convert.ToBase64String(sketch) : null,
                    ["notes"] = new JsonArray([.. result.Notes.Select(n => (JsonNode?)n)]),
                    // Paths that ended where the model stops covering what the scheduler did: why the search is incomplete.
                    ["model_limits"] = new JsonArray([.. result.ModelLimits.Select(f =>
                    {
                        var v = TraceFile.ViolationJson(f.Violation);
                        v["trace"] = new JsonObject { ["steps"] = new JsonArray([.. f.Trace.Select(a => (JsonNode?)machine.Actor(a).Name)]) };
                        return (JsonNode?)v;
                    })]),
                    // Warning-level findings: reported, but they do not change the verdict or the exit code.
                    ["warnings"] = new JsonArray([.. result.Warnings.Select(f =>
                    {
                        var v = TraceFile.ViolationJson(f.Violation);
                        v["trace"] = new JsonObject { ["steps"] = new JsonArray([.. f.Trace.Select(a => (JsonNode?)machine.Actor(a).Name)]) };
                        return (JsonNode?)v;
                    })]),
                };
                stdout.WriteLine(JsonContract.Stamp("check", o).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                stdout.WriteLine($"scenario {scenario.Name} ({scenario.Source}): {config.CpuCount} CPUs, {config.Tasks.Count} task(s), policy {BpfObjectSpec.Short(policyName)}, protocol {protocolName}, strategy {result.Strategy.ToString().ToLowerInvariant()}{(exact ? ", exact states" : "")}");
                foreach (var n in result.Notes) stdout.WriteLine($"note: {n}");
                if (shardCount > 1)
                    stdout.WriteLine(result.Stats.ShardDepth > 0
                        ? $"shard {shardIndex + 1}/{shardCount}: frontier at depth {result.Stats.ShardDepth}, this shard expands {result.Stats.ShardOwnStates} of its {result.Stats.ShardFrontierStates} states; with --json, scxlab merge combines the shards' reports (docs/scale-out.md)"
                        : $"shard {shardIndex + 1}/{shardCount}: no BFS layer reached the frontier size, so nothing was split: this shard searched everything");
                for (var i = 0; i < traces.Count; i++)
                {
                    var (f, run, file) = traces[i];
                    stdout.WriteLine();
                    stdout.WriteLine($"violation {i + 1}: {f.Violation}");
                    stdout.WriteLine($"shortest trace found: {f.Trace.Count} steps{(file != null ? $" (saved to {file})" : "")}");
                    stdout.WriteLine();
                    stdout.Write(CounterexampleRenderer.Render(run));
                    if (run.Divergence != null) stdout.WriteLine($"warning: the trace did not reproduce: {run.Divergence}");
                }
                foreach (var w in result.Warnings)
                    stdout.WriteLine($"{Environment.NewLine}{w.Violation} (after {w.Trace.Count} steps; does not change the verdict)");
                for (var i = 0; i < result.ModelLimits.Count; i++)
                {
                    // The first limit with the path that reached it, so the user sees where the model stops; the others in a line each.
                    var l = result.ModelLimits[i];
                    stdout.WriteLine();
                    stdout.WriteLine($"{l.Violation} (a path of {l.Trace.Count} steps; not a finding: the search does not go past it)");
                    if (i > 0) continue;
                    stdout.WriteLine();
                    stdout.Write(CounterexampleRenderer.Render(TraceRunner.Run(config, l.Trace, scenario.Checks)));
                }
                stdout.WriteLine();
                stdout.WriteLine(result.Verdict switch
                {
                    Verdict.Holds => "verdict: holds (complete search)",
                    Verdict.Violation => $"verdict: violation ({result.Violations.Count} distinct finding{(result.Violations.Count == 1 ? "" : "s")}; search {(result.Complete ? "complete" : $"incomplete: {result.IncompleteReason}")})",
                    Verdict.Incomplete => $"verdict: incomplete — {result.IncompleteReason}; nothing violated in what was covered",
                    _ => throw new System.Diagnostics.UnreachableException(),
                });
                var s = result.Stats;
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"stats: {s.States} distinct states, {s.Transitions} transitions, {s.Executions} executions, max depth {s.MaxDepth}, {s.Seconds:0.###} s, {s.BytesPerState:0.#} bytes/state, P(fingerprint collision hid a state) ≈ {s.CollisionProbability:0.##E+0}"));
                if (scenario.Expect is { } ex)
                {
                    var verdict = result.Verdict.ToString().ToLowerInvariant();
                    if (ex.Verdict != null && ex.Verdict != verdict) stdout.WriteLine($"note: the scenario expects verdict {ex.Verdict}");
                    if (ex.Exit != null && !result.Violations.Any(v => v.Violation.Message.Contains(ex.Exit, StringComparison.Ordinal))) stdout.WriteLine($"note: the scenario expects an exit \"{ex.Exit}\"");
                }
            }
            if (htmlOut != null)
            {
                OutputFiles.WriteAllText(htmlOut, HtmlReport.Check(scenario, config, result, scenario.Checks));
                stderr.WriteLine($"html report: {htmlOut}");
            }
            return result.Verdict switch { Verdict.Holds => 0, Verdict.Violation => 2, Verdict.Incomplete => 4, _ => 3 };
        }
        catch (Exception e) when (e is PolicyLoadException or IOException)
        {
            // The policy's constructor or DeclareMaps failed, or an output could not be written: the
            // user's input, not a bug in scxlab.
            stderr.WriteLine($"scxlab check: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stderr.WriteLine($"scxlab check: internal error: {e.GetType().Name}: {e.Message}");
            return 3;
        }
    }

    /// <summary>A budget as a number of seconds (<c>5</c>) or a duration with a unit (<c>5s</c>, <c>2500ms</c>, <c>1m</c>), as durations are written everywhere else.</summary>
    /// <summary>A one-line progress display on stderr, for runs longer than a second.</summary>
    private sealed class Progress(TextWriter stderr)
    {
        private bool _shown;

        public void Report(ExploreStats s)
        {
            // A line redrawn with \r is for a terminal; a file or a pipe gets only the final stats line.
            if (!Program.ProgressOnStderr) return;
            _shown = true;
            var rate = s.Seconds > 0 ? s.States / s.Seconds : 0;
            stderr.Write(string.Create(CultureInfo.InvariantCulture, $"\r  {s.Seconds,6:0.0} s  {s.States,12:N0} states ({rate,9:N0}/s)  {s.Transitions,14:N0} transitions  depth {s.MaxDepth}   "));
        }

        public void Clear()
        {
            if (_shown) stderr.WriteLine();
        }
    }
}

