using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Scxlab.Checks;
using Scxlab.Exploration;
using Scxlab.Fuzzing;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Reporting;
using Scxlab.Scenarios;

namespace Scxlab.Cli.Commands;

/// <summary>
/// <c>scxlab fuzz SCENARIO [--strategy random|pct] [--depth d] [--runs R] [--budget S] [--seed N] [--jobs N]
/// [--minimize true|false] [--out DIR] [--json]</c>: random walks or PCT schedules of a scenario too big to
/// enumerate, every schedule determined by (seed, index); violations deduplicated by invariant and
/// location, then shrunk to a short trace (and scenario) that replay and check reproduce.
/// Exit codes as check: 2 a violation or exit found, 4 the budget stopped it first, 0 otherwise.
/// </summary>
internal static class FuzzCommand
{
    public static ScxCommand Create()
    {
        var scenarioArg = CliOptions.Scenario();
        var strategy = new Option<string>("--strategy") { Description = "random (uniform among enabled actors at every step) | pct (random priorities, d−1 change points)", DefaultValueFactory = _ => "random", HelpName = "random|pct" };
        strategy.AcceptOnlyFromAmong("random", "pct");
        var depth = new Option<int>("--depth") { Description = "PCT bug depth d: d−1 priority change points per schedule", DefaultValueFactory = _ => 3, HelpName = "d" };
        var runs = new Option<long>("--runs") { Description = "schedules to run (indices 0..R−1)", DefaultValueFactory = _ => 1000, HelpName = "R" };
        var budget = CliOptions.Budget("stop after this long (seconds, or 5s, 2500ms, 1m): exit 4 when fewer than --runs ran and nothing was found");
        var seed = new Option<ulong>("--seed") { Description = "the run's seed: schedule i is determined by (seed, i)", DefaultValueFactory = _ => 1, HelpName = "N" };
        var jobs = new Option<int>("--jobs") { Description = "parallel workers over disjoint schedule indices (the report is the same for every N)", DefaultValueFactory = _ => Environment.ProcessorCount, HelpName = "N" };
        var maxSteps = new Option<int>("--max-steps") { Description = "steps after which a walk is abandoned (counted as truncated)", DefaultValueFactory = _ => 100_000, HelpName = "N" };
        var minimize = new Option<bool>("--minimize") { Description = "shrink each violation's schedule and scenario (--minimize false to skip)", DefaultValueFactory = _ => true };
        var minBudget = new Option<int>("--minimize-budget") { Description = "replays (and search walks) of shrinking per violation: a count, not seconds, so the result is the same on every machine", DefaultValueFactory = _ => 20_000, HelpName = "N" };
        var outDir = new Option<string?>("--out") { Description = "write each violation's trace (violation-N.trace.json, for scxlab replay) and shrunk scenario (violation-N.yaml, for scxlab check) here", HelpName = "DIR" };
        var policy = CliOptions.Policy("the policy (overrides the scenario's): a built-in name (scxlab list policies), X.bpf.o[@name=value,...], or path.dll:Namespace.Type");
        var load = new CliOptions.BpfLoad();
        var protocol = CliOptions.Protocol();
        var kernel = CliOptions.Kernel();
        var json = new Option<bool>("--json") { Description = "print one JSON object on stdout" };
        var shard = new Option<string?>("--shard") { Description = "run shard K of N (the schedules ≡ K−1 mod N; `scxlab merge` combines the shards' --json files); with N alone, K−1 is read from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)", HelpName = "K/N" };
        var cmd = new ScxCommand("fuzz", "Run random or PCT schedules of a scenario too big to explore exhaustively; report violations (deduplicated by invariant and location), shrunk to short traces.")
        {
            Examples =
            [
                "scxlab fuzz churn-8cpu --policy local-on-peek --protocol qseq-invalidate --out out/   # the forgotten task, shrunk",
                "scxlab fuzz seed-race-r2 --strategy pct --depth 2 --runs 200",
                "scxlab fuzz churn-64cpu --budget 30 --json",
                "scxlab replay out/violation-1.trace.json && scxlab check out/violation-1.yaml",
            ],
        };
        cmd.Arguments.Add(scenarioArg);
        foreach (var o in (Option[])[policy, .. load.All, protocol, kernel, strategy, depth, runs, budget, seed, jobs, maxSteps, minimize, minBudget, outDir, shard, json]) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var stdout = r.InvocationConfiguration.Output;
            var d = r.GetValue(depth);
            if (d < 1 || d > 64) throw new UsageException($"--depth needs an integer in 1..64 (got {d})");
            var nRuns = r.GetValue(runs);
            if (nRuns < 1) throw new UsageException($"--runs needs a positive integer (got {nRuns})");
            var b = r.GetValue(budget);
            var j = r.GetValue(jobs);
            if (j < 1 || j > 1024) throw new UsageException($"--jobs needs an integer in 1..1024 (got {j})");
            var ms = r.GetValue(maxSteps);
            if (ms < 1) throw new UsageException($"--max-steps needs a positive integer (got {ms})");
            var mb = r.GetValue(minBudget);
            if (mb < 1) throw new UsageException($"--minimize-budget needs a positive number of replays (got {mb})");

            var (shardIndex, shardCount) = ParseShard(r.GetValue(shard));

            Scenario scenario;
            ModelConfig config;
            try
            {
                scenario = ScenarioLoader.Resolve(r.GetValue(scenarioArg)!);
                Protocol? proto = null;
                if (r.GetValue(protocol) is { } pn)
                    proto = ProtocolNames.TryParse(pn, out var p) ? p : throw new ScenarioException($"unknown protocol '{pn}' (expected {ProtocolNames.Expected})");
                KernelEra? era = null;
                if (r.GetValue(kernel) is { } kn)
                    era = KernelEras.TryParse(kn, out var e) ? e : throw new ScenarioException($"unknown kernel '{kn}' (expected {KernelEras.Expected})");
                var policyArg = r.GetValue(policy);
                var loadItems = load.Items(r);
                if (loadItems.Length > 0) policyArg = BpfObjectSpec.With(policyArg ?? scenario.Policy, [.. loadItems]);
                config = scenario.ToConfig(policyArg, proto, Granularity.Normal, era);
            }
            catch (ScenarioException e)
            {
                throw new UsageException(e.Message);
            }

            var strat = r.GetValue(strategy) switch
            {
                "random" => FuzzStrategy.Random,
                "pct" => FuzzStrategy.Pct,
                var s => throw new UsageException($"unknown strategy '{s}' (expected random | pct)"),
            };
            var fuzzSeed = r.GetValue(seed);
            var result = new Fuzzer(config, new FuzzOptions
            {
                Strategy = strat,
                Runs = nRuns,
                BudgetSeconds = b,
                Depth = d,
                Seed = fuzzSeed,
                Jobs = j,
                MaxStepsPerWalk = ms,
                Checks = scenario.Checks,
                ShardIndex = shardIndex,
                ShardCount = shardCount,
            }).Run();

            var dir = r.GetValue(outDir);
            if (dir != null) Directory.CreateDirectory(dir);
            var reports = new List<Report>();
            var minClock = System.Diagnostics.Stopwatch.StartNew();
            var actorNames = new Machine(config).Actors.Select(a => a.Name).ToList();
            for (var i = 0; i < result.Findings.Count; i++)
            {
                var f = result.Findings[i];
                // A violation of the initial state has nothing to shrink. A shrunk exit or assertion counts as the same
                // finding up to names and numbers, as the report deduplicates them: a dropped CPU renumbers the CPUs above
                // it, so an exact match could never drop a CPU below the one the message names.
                MinimizeResult? min = r.GetValue(minimize) && f.Choices.Count > 0
                    ? new Minimizer(config, scenario.Checks, fuzzSeed, mb) { MatchMasked = true }.Run(scenario, f.Violation, f.Choices)
                    : null;
                string? traceFile = null, yamlFile = null, originalFile = null;
                if (dir != null)
                {
                    originalFile = Path.Combine(dir, $"violation-{i + 1}.original.trace.json");
                    Trace(scenario, config, f.Violation, f.Choices, actorNames).Save(originalFile);
                    if (min != null)
                    {
                        traceFile = Path.Combine(dir, $"violation-{i + 1}.trace.json");
                        yamlFile = Path.Combine(dir, $"violation-{i + 1}.yaml");
                        File.WriteAllText(yamlFile, min.Scenario.Text);
                        Trace(min.Scenario, min.Config, min.Violation, min.Choices, [.. new Machine(min.Config).Actors.Select(a => a.Name)]).Save(traceFile);
                    }
                    else traceFile = originalFile;
                }
                var run = min != null ? TraceRunner.Run(min.Config, min.Choices, min.Scenario.Checks) : TraceRunner.Run(config, f.Choices, scenario.Checks);
                reports.Add(new Report(f, min, run, traceFile, yamlFile, originalFile));
            }
            var minSeconds = minClock.Elapsed.TotalSeconds;

            if (r.GetValue(json)) stdout.WriteLine(JsonContract.Stamp("fuzz", Json(scenario, config, result, nRuns, reports, actorNames, minSeconds)).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            else Text(stdout, scenario, config, result, reports, minSeconds);
            return result.Findings.Count > 0 ? ExitCodes.Violation : result.Incomplete ? ExitCodes.Incomplete : ExitCodes.Ok;
        });
        return cmd;
    }

    private sealed record Report(FuzzFinding Finding, MinimizeResult? Min, TraceRun Run, string? TraceFile, string? ScenarioFile, string? OriginalFile);

    /// <summary>A fuzz or simulate finding as a trace file (<paramref name="text"/>: the scenario's file text when <see cref="Scenario.Text"/> is not it).</summary>
    internal static TraceFile Trace(Scenario s, ModelConfig c, Violation v, IReadOnlyList<int> choices, IReadOnlyList<string> actors, string strategy = "fuzz", string? text = null) => new()
    {
        ScenarioName = s.Name,
        ScenarioSource = s.Source,
        ScenarioText = text ?? s.Text,
        Policy = c.PolicyName,
        Protocol = ProtocolNames.Name(c.Protocol),
        Checks = s.Checks,
        Strategy = strategy,
        Granularity = c.Granularity == Granularity.Fine ? "fine" : "normal",
        Kernel = KernelEras.Name(c.Kernel),
        Violation = v,
        Actors = actors,
        Choices = choices,
    };

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Bound(FuzzResult r) => r.Strategy == FuzzStrategy.Pct
        ? Inv($"each schedule hits a given bug of depth {r.Depth} with probability ≥ 1/(n·k^(d−1)) = 1/({r.Actors}·{r.PctLength}^{r.Depth - 1}) = {r.PctBound:0.###E+0}; over {r.Runs} schedules ≥ {r.PctBoundOverRuns:0.###E+0}")
        : "none (random walks; --strategy pct gives 1/(n·k^(d−1)) per schedule)";

    private static void Text(TextWriter o, Scenario scenario, ModelConfig config, FuzzResult r, List<Report> reports, double minSeconds)
    {
        var strategy = r.Strategy == FuzzStrategy.Pct ? Inv($"pct (depth {r.Depth}, k = {r.PctLength} steps)") : "random";
        if (r.ShardCount > 1) o.WriteLine($"shard {r.ShardIndex + 1}/{r.ShardCount}: the schedules ≡ {r.ShardIndex} (mod {r.ShardCount})");
        o.WriteLine($"fuzz {scenario.Name} ({scenario.Source}): {config.CpuCount} CPUs, {config.Tasks.Count} task(s), {r.Actors} actors, policy {BpfObjectSpec.Short(config.PolicyName)}, protocol {ProtocolNames.Name(config.Protocol)}, kernel {KernelEras.Name(config.Kernel)}, strategy {strategy}, seed {r.Seed}");
        o.WriteLine(Inv($"schedules: {r.Runs} of {r.RunsRequested} run{(r.StoppedByBudget ? " (stopped by the budget)" : "")}, {r.Steps} steps, longest {r.MaxWalkLength} steps, {r.Truncated} truncated"));
        o.WriteLine(Inv($"distinct fingerprints seen: ≈ {r.DistinctFingerprints}"));
        o.WriteLine($"PCT bound: {Bound(r)}");
        for (var i = 0; i < reports.Count; i++)
        {
            var (f, min, run, traceFile, yamlFile, originalFile) = reports[i];
            o.WriteLine();
            o.WriteLine($"violation {i + 1}: {f.Violation}");
            o.WriteLine(Inv($"  at {f.Location}; first hit by schedule #{f.FirstIndex} ({f.Choices.Count} steps), hit by {f.Hits} of {r.Runs} schedules"));
            if (min != null)
            {
                o.WriteLine($"  minimised ({min.Tests} replays): {min.Config.CpuCount} CPU(s), {min.Config.Tasks.Count} task(s), {min.Scenario.Actors.Count} script actor(s), {min.Choices.Count} steps");
                if (min.Violation.Key != f.Violation.Key)
                    o.WriteLine($"  the shrunk scenario reaches {min.Violation} (the same finding up to task names, pids and numbers)");
                foreach (var l in min.Log) o.WriteLine($"    {l}");
            }
            if (traceFile != null) o.WriteLine($"  trace: {traceFile} (scxlab replay){(yamlFile != null ? $"; scenario: {yamlFile} (scxlab check); unshrunk: {originalFile}" : "")}");
            o.WriteLine();
            o.Write(CounterexampleRenderer.Render(run));
            if (run.Divergence != null) o.WriteLine($"warning: the trace did not reproduce: {run.Divergence}");
        }
        foreach (var w in r.Warnings)
            o.WriteLine($"{Environment.NewLine}{w.Violation} (schedule #{w.FirstIndex}, after {w.Choices.Count} steps; does not change the verdict)");
        foreach (var l in r.ModelLimits)
            o.WriteLine($"{Environment.NewLine}{l.Violation} (schedule #{l.FirstIndex}, after {l.Choices.Count} steps, {l.Hits} schedule(s); not a finding: those walks stopped there)");
        o.WriteLine();
        o.WriteLine(r.Findings.Count > 0
            ? $"verdict: violation ({r.Findings.Count} distinct finding{(r.Findings.Count == 1 ? "" : "s")} by invariant and location)"
            : r.ModelLimits.Count > 0 ? $"verdict: incomplete — {ModelLimits.Reason([.. r.ModelLimits.Select(l => l.Violation)])}; nothing violated in {r.Runs} schedules"
            : r.StoppedByBudget ? $"verdict: incomplete — the budget stopped the run after {r.Runs} of {r.RunsRequested} schedules; nothing violated in them"
            : $"verdict: nothing violated in {r.Runs} schedules (not a proof: scxlab check explores every interleaving)");
        // Timing last and alone on its line: everything above is determined by the seed.
        o.WriteLine(Inv($"time: {r.Seconds:0.###} s fuzzing ({r.SchedulesPerSecond:0} schedules/s){(r.FirstFindingSeconds is { } ff ? $", first finding after {ff:0.###} s" : "")}, {minSeconds:0.###} s minimising"));
    }

    /// <summary><c>K/N</c>, or <c>N</c> with K−1 from JOB_COMPLETION_INDEX; (0, 1) when absent.</summary>
    internal static (int Index, int Count) ParseShard(string? spec)
    {
        if (spec == null) return (0, 1);
        var parts = spec.Split('/');
        static int? Int(string s) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
        if (parts.Length == 2 && Int(parts[0]) is { } k && Int(parts[1]) is { } n && n >= 1 && k >= 1 && k <= n) return (k - 1, n);
        if (parts.Length == 1 && Int(parts[0]) is { } count && count >= 1)
        {
            var env = Environment.GetEnvironmentVariable("JOB_COMPLETION_INDEX");
            if (env == null) throw new UsageException($"--shard {spec} names no shard index and JOB_COMPLETION_INDEX is not set (use --shard K/{count})");
            return Int(env) is { } i && i < count ? (i, count) : throw new UsageException($"JOB_COMPLETION_INDEX={env} is not an index in 0..{count - 1}");
        }
        throw new UsageException($"--shard needs K/N with 1 ≤ K ≤ N, or N with JOB_COMPLETION_INDEX set (got '{spec}')");
    }

    private static JsonObject Json(Scenario scenario, ModelConfig config, FuzzResult r, long runsRequested, List<Report> reports, List<string> actors, double minSeconds)
    {
        JsonArray Steps(IReadOnlyList<int> choices, IReadOnlyList<string> names) => new([.. choices.Select(a => (JsonNode?)names[a])]);
        return new JsonObject
        {
            ["verdict"] = r.Findings.Count > 0 ? "violation" : r.Incomplete ? "incomplete" : "none-found",
            ["scenario"] = scenario.Name,
            ["source"] = scenario.Source,
            ["policy"] = config.PolicyName,
            ["protocol"] = ProtocolNames.Name(config.Protocol),
            ["kernel"] = KernelEras.Name(config.Kernel),
            ["strategy"] = r.Strategy == FuzzStrategy.Pct ? "pct" : "random",
            ["seed"] = r.Seed,
            ["runs_requested"] = runsRequested,
            ["runs"] = r.Runs,
            ["stopped_by_budget"] = r.StoppedByBudget,
            ["steps"] = r.Steps,
            ["longest_walk"] = r.MaxWalkLength,
            ["truncated"] = r.Truncated,
            ["distinct_fingerprints"] = r.DistinctFingerprints,
            ["actors"] = r.Actors,
            ["pct"] = r.Strategy == FuzzStrategy.Pct
                ? new JsonObject { ["depth"] = r.Depth, ["k"] = r.PctLength, ["bound_per_schedule"] = r.PctBound, ["bound_over_runs"] = r.PctBoundOverRuns }
                : null,
            ["violations"] = new JsonArray([.. reports.Select(rep =>
            {
                var v = TraceFile.ViolationJson(rep.Finding.Violation);
                v["key"] = rep.Finding.Key;
                v["location"] = rep.Finding.Location;
                v["first_schedule"] = rep.Finding.FirstIndex;
                v["hits"] = rep.Finding.Hits;
                v["steps"] = Steps(rep.Finding.Choices, actors);
                v["trace_file"] = rep.TraceFile;
                if (rep.Min is { } m)
                {
                    var names = new Machine(m.Config).Actors.Select(a => a.Name).ToList();
                    v["minimized"] = new JsonObject
                    {
                        ["cpus"] = m.Config.CpuCount,
                        ["tasks"] = m.Config.Tasks.Count,
                        ["script_actors"] = m.Scenario.Actors.Count,
                        // What the shrunk scenario reaches: the finding's key up to task names, pids and numbers.
                        ["key"] = m.Violation.Key,
                        ["steps"] = Steps(m.Choices, names),
                        ["replays"] = m.Tests,
                        ["scenario_file"] = rep.ScenarioFile,
                        ["scenario"] = m.Scenario.Text,
                    };
                }
                return (JsonNode?)v;
            })]),
            ["warnings"] = new JsonArray([.. r.Warnings.Select(w =>
            {
                var v = TraceFile.ViolationJson(w.Violation);
                v["key"] = w.Key;
                v["first_schedule"] = w.FirstIndex;
                v["steps"] = Steps(w.Choices, actors);
                return (JsonNode?)v;
            })]),
            // Walks cut where the model stops covering what the scheduler did: why a run with no violation is incomplete.
            ["model_limits"] = new JsonArray([.. r.ModelLimits.Select(l =>
            {
                var v = TraceFile.ViolationJson(l.Violation);
                v["key"] = l.Key;
                v["first_schedule"] = l.FirstIndex;
                v["hits"] = l.Hits;
                v["steps"] = Steps(l.Choices, actors);
                return (JsonNode?)v;
            })]),
            ["shard"] = r.ShardCount == 1 ? null : new JsonObject { ["index"] = r.ShardIndex + 1, ["count"] = r.ShardCount, ["runs_requested"] = r.RunsRequested },
            // The HyperLogLog registers, so `scxlab merge` counts the shards' distinct fingerprints as one run would.
            ["distinct_sketch"] = r.ShardCount == 1 ? null : Convert.ToBase64String(r.DistinctSketch),
            // Wall-clock measurements: the only part of the report that depends on the machine and --jobs.
            ["timing"] = new JsonObject
            {
                ["seconds"] = Math.Round(r.Seconds, 4),
                ["schedules_per_second"] = Math.Round(r.SchedulesPerSecond, 1),
                ["first_finding_seconds"] = r.FirstFindingSeconds is { } ff ? Math.Round(ff, 4) : null,
                ["minimize_seconds"] = Math.Round(minSeconds, 4),
            },
        };
    }
}
