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
    public const string Usage = "usage: scxlab check SCENARIO [--protocol P] [--policy X] [--strategy dfs|reduced|bfs] [--max-preemptions N] [--budget D (5, 5s, 2500ms)] [--max-steps N] [--trace-out F] [--exact] [--granularity normal|fine] [--kernel 7.1|7.2|7.3] [--rodata NAME=VALUE]... [--jobs N] [--shard K/N] [--html F] [--json]";

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? scenarioArg = null, protocolArg = null, policyArg = null, traceOut = null;
        // Default: sleep sets (same states and verdicts as dfs, fewer transitions; docs/exploration.md),
        // or plain DFS under a preemption bound, which the reduced search does not combine with.
        Strategy? strategyArg = null;
        int? maxPre = null;
        var jobs = 1;
        double? budget = null;
        long? maxSteps = null;
        bool exact = false, json = false;
        var granularity = Granularity.Normal;
        int shardIndex = 0, shardCount = 1;
        string? kernelArg = null, shardArg = null, htmlOut = null;
        var rodata = new List<string>();
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                string Val() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--protocol": protocolArg = Val(); break;
                    case "--policy": policyArg = Val(); break;
                    case "--rodata": rodata.Add(Val()); break;
                    case "--strategy":
                        strategyArg = Val() switch
                        {
                            "dfs" => Strategy.Dfs,
                            "reduced" => Strategy.Reduced,
                            "bfs" => Strategy.Bfs,
                            var s => throw new UsageException($"unknown strategy '{s}' (expected dfs | reduced | bfs)"),
                        };
                        break;
                    case "--max-preemptions": maxPre = int.TryParse(Val(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var mp) && mp >= 0 ? mp : throw new UsageException("--max-preemptions needs a non-negative integer"); break;
                    case "--budget": budget = BudgetSeconds(Val()); break;
                    case "--max-steps": maxSteps = long.TryParse(Val(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) && ms > 0 ? ms : throw new UsageException("--max-steps needs a positive integer"); break;
                    case "--trace-out": traceOut = Val(); break;
                    case "--exact": exact = true; break;
                    case "--jobs": jobs = int.TryParse(Val(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var j) && j >= 1 && j <= 256 ? j : throw new UsageException("--jobs needs an integer from 1 to 256"); break;
                    case "--kernel": kernelArg = Val(); break;
                    case "--granularity":
                        granularity = Val() switch
                        {
                            "normal" => Granularity.Normal,
                            "fine" => Granularity.Fine,
                            var g => throw new UsageException($"unknown granularity '{g}' (expected normal | fine)"),
                        };
                        break;
                    case "--json": json = true; break;
                    case "--shard": shardArg = Val(); break;
                    case "--html": htmlOut = Val(); break;
                    case "-h" or "--help": stdout.WriteLine(Usage); return 0;
                    default:
                        if (args[i].StartsWith('-')) throw new UsageException($"unknown option '{args[i]}'");
                        if (scenarioArg != null) throw new UsageException($"unexpected argument '{args[i]}' (one scenario per check)");
                        scenarioArg = args[i];
                        break;
                }
            }
            if (scenarioArg == null) throw new UsageException("missing SCENARIO (a file or a built-in name; see scxlab list scenarios)");
            (shardIndex, shardCount) = FuzzCommand.ParseShard(shardArg);
        }
        catch (UsageException e)
        {
            // One line: the problem, and where the full usage is.
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
                    ["notes"] = new JsonArray([.. result.Notes.Select(n => (JsonNode?)n)]),
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
                stdout.WriteLine($"scenario {scenario.Name} ({scenario.Source}): {config.CpuCount} CPUs, {config.Tasks.Count} task(s), policy {policyName}, protocol {protocolName}, strategy {result.Strategy.ToString().ToLowerInvariant()}{(exact ? ", exact states" : "")}");
                foreach (var n in result.Notes) stdout.WriteLine($"note: {n}");
                if (shardCount > 1)
                    stdout.WriteLine(result.Stats.ShardDepth > 0
                        ? $"shard {shardIndex + 1}/{shardCount}: frontier at depth {result.Stats.ShardDepth}, this shard expands {result.Stats.ShardOwnStates} of its {result.Stats.ShardFrontierStates} states (docs/scale-out.md)"
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
    internal static double BudgetSeconds(string v)
    {
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 && double.IsFinite(s)) return s;
        if (Simulation.Durations.TryParse(v, out var ns, out _) && ns > 0) return ns / 1e9;
        throw new UsageException($"--budget needs a positive duration (seconds, or with a unit: 5s, 2500ms, 1m), got '{v}'");
    }

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

