using System.CommandLine;
using System.Globalization;
using Scxlab.Bpf;
using Scxlab.Scenarios;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Reporting;
using Scxlab.Simulation;

namespace Scxlab.Cli.Commands;

/// <summary>
/// <c>scxlab simulate WORKLOAD</c>: run a workload on the kernel model in virtual time and report
/// latency, utilisation, fairness, migrations, re-enqueues, drops and scheduler exits. Thin: option
/// parsing and output only; the engine is <see cref="Simulator"/>.
/// </summary>
public static class SimulateCommand
{
    private sealed class Opts
    {
        public string? Workload;
        public string Policy = "simple";
        public List<string> Rodata = [];
        public string? LoadFrom;
        public List<Protocol> Protocols = [];
        public int? Cpus, Tasks;
        public long? DurationNs, WatchdogNs;
        public ulong Seed = 1;
        public int Hz = 250;
        public bool Jitter = true, Json, Csv, Progress, FailOnViolation;
        public string? Perfetto, Plot, Html, Shard;
        /// <summary>--seeds A..B: one run per seed (and protocol); with --shard K/N the seeds ≡ K−1 (mod N) of the range.</summary>
        public (ulong From, ulong To)? Seeds;
        /// <summary>--perfetto-json: the Chrome trace-event JSON instead of the native protobuf trace.</summary>
        public bool PerfettoJson;
        public double? IrqRate;
        public long? IrqMeanNs;
        /// <summary>--out DIR: each run's first finding as a scenario and traces (<see cref="Fuzzing.SimulationRepro"/>).</summary>
        public string? Out;
        public bool Minimize = true;
        public int MinimizeBudget = 20_000;
    }

    internal static ScxCommand Create()
    {
        var workloadArg = new Argument<string>("WORKLOAD")
        {
            HelpName = "WORKLOAD",
            Description = "a generator (" + string.Join(", ", Generators.All.Select(g => g.Name)) + "), a built-in workload name, or a .yaml/.json file (native format or rt-app's JSON; docs/simulation.md)",
        }.CompletingWith(() => Generators.All.Select(g => g.Name).Concat(BuiltinWorkloads.Names));
        var policy = CliOptions.Policy("the policy (default simple): a built-in name (scxlab list policies), X.bpf.o[@name=value,...], or path.dll:Namespace.Type");
        var load = new CliOptions.BpfLoad();
        var loadFrom = new Option<string?>("--load-from")
        {
            Description = "take a BPF object's load settings from a scenario (a built-in name or a .yaml file): its rodata:, maps:, holds:, ops:, syscalls: and syscalls_attached: (what its user space does before and after load); --rodata, --map and the other flags here apply after them",
            HelpName = "SCENARIO",
        };
        var protocol = CliOptions.Protocol("--protocol", list: true, description: $"the kernel protocol(s), comma-separated: one run each ({ProtocolNames.Expected}; default upstream)");
        var protocols = CliOptions.Protocol("--protocols", list: true, description: "the same as --protocol");
        var cpus = CliOptions.Int("--cpus", 1, ScxConst.MaxCpus, "CPUs (default: the workload's, else 8)");
        var tasks = CliOptions.Int("--tasks", 1, 1_000_000, "tasks a generator creates (default: its own)");
        var duration = CliOptions.Duration("--duration", "virtual time to simulate (10s, 250ms, …; default: the workload's, else 10s)");
        var seed = new Option<ulong>("--seed") { Description = "the random seed (jitter, irqs, generators): the same seed gives the same run", DefaultValueFactory = _ => 1, HelpName = "N" };
        var seedsOpt = new Option<string?>("--seeds")
        {
            Description = "one run per seed A, A+1, …, B (≤ 100000; with --shard K/N only the seeds ≡ K−1 mod N)",
            HelpName = "A..B",
            CustomParser = r =>
            {
                var v = r.Tokens[^1].Value;
                var dots = v.IndexOf("..", StringComparison.Ordinal);
                if (dots <= 0 || !ulong.TryParse(v[..dots], NumberStyles.None, CultureInfo.InvariantCulture, out var from) || !ulong.TryParse(v[(dots + 2)..], NumberStyles.None, CultureInfo.InvariantCulture, out var to) || to < from)
                    r.AddError($"--seeds: expected A..B with A ≤ B (e.g. 1..100), got '{v}'");
                else if (to - from >= 100_000)
                    r.AddError($"--seeds: at most 100000 seeds in one run (got {to - from + 1}); split the range with --shard");
                return v;
            },
        };
        var shard = CliOptions.Shard("run shard K of N of a --seeds range; with N alone, K−1 comes from JOB_COMPLETION_INDEX");
        var hz = CliOptions.Int("--hz", 1, 10_000, "scheduler ticks per second (default 250)");
        var watchdog = CliOptions.Duration("--watchdog-timeout", "the sched_ext watchdog timeout (default: the policy's timeout_ms, at most and else 30s, SCX_WATCHDOG_MAX_TIMEOUT)");
        var noJitter = CliOptions.Flag("--no-jitter", "exact kernel step costs (by default each step costs its base times an Exp(1) draw, standing in for cache misses)");
        var irqRate = CliOptions.Int("--irq-rate", 0, 10_000_000, "hardware interrupts per second per CPU (Poisson; default 10000, 0 disables): a step they hit is stretched by the handler", "N/s");
        var irqMean = CliOptions.Duration("--irq-mean", "mean interrupt handler time, exponentially distributed (default 3us)");
        var perfetto = CliOptions.OutputFile("--perfetto", "write a native Perfetto trace (open it in ui.perfetto.dev); with several protocols, one file each", "F.pftrace");
        var perfettoJson = CliOptions.OutputFile("--perfetto-json", "write the trace as Chrome trace-event JSON instead", "F.json");
        var plot = CliOptions.OutputFile("--plot", "write latency CDFs and a utilisation heatmap", "F.png|F.svg");
        var html = CliOptions.OutputFile("--html", "write a self-contained HTML report (metrics, exits, inline SVG plots)");
        var json = CliOptions.Flag("--json", "print one JSON object on stdout (schema scxlab/simulate/v1, docs/json.md)");
        var csv = CliOptions.Flag("--csv", "print the metrics as CSV (base units: ns, counts, fractions; units in the header)");
        var progress = CliOptions.Flag("--progress", "show progress on stderr even when it is not a terminal");
        var failOn = CliOptions.Flag("--fail-on-violation", "exit 2 when a run found a violation or scheduler exit (default: exit 0 and report it)");
        var outDir = new Option<string?>("--out")
        {
            Description = "save each run's first scheduler exit or kernel assertion here as a shrunk scenario (NAME.yaml, for scxlab check) and traces (NAME.trace.json, NAME.original.trace.json, for scxlab replay), NAME = WORKLOAD-PROTOCOL-seedN; the run's steps are replayed on the unclocked model, so a finding that needs the simulation's clock (a watchdog stall) is reported as not saved",
            HelpName = "DIR",
        };
        var minimize = new Option<bool>("--minimize") { Description = "with --out: shrink the saved scenario and schedule (--minimize false saves the run's steps as recorded)", DefaultValueFactory = _ => true };
        var minBudget = new Option<int>("--minimize-budget") { Description = "with --out: replays of shrinking per saved finding (a count, not seconds: the same result on every machine)", DefaultValueFactory = _ => 20_000, HelpName = "N" };
        var cmd = new ScxCommand("simulate", "Run a workload on the model in virtual time and report latency, utilisation, fairness, drops, re-enqueues and scheduler exits.")
        {
            Examples =
            [
                "scxlab simulate affinity-churn --policy local-on-peek --protocol upstream --cpus 8 --duration 10s",
                "scxlab simulate affinity-churn --policy local-on-peek --protocols upstream,fallback-dsq --cpus 8 --duration 10s",
                "scxlab simulate mixed --cpus 64 --duration 5s --perfetto trace.pftrace --plot latency.png",
                "scxlab simulate mixed --policy scx_simple.bpf.o --rodata fifo_sched=1 --cpus 4 --duration 2s",
                "scxlab simulate affinity-churn --seeds 1..100 --shard 2/4 --json",
                "scxlab simulate affinity-churn --policy local-on-peek --cpus 4 --tasks 4 --duration 1s --out out/   # the exit, as a scenario",
            ],
        };
        cmd.Arguments.Add(workloadArg);
        foreach (var o in (Option[])[policy, .. load.All, loadFrom, protocol, protocols, cpus, tasks, duration, seed, seedsOpt, shard, hz, watchdog, noJitter, irqRate, irqMean, perfetto, perfettoJson, plot, html, outDir, minimize, minBudget, json, csv, progress, failOn])
            cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var o = new Opts
            {
                Workload = r.GetValue(workloadArg),
                Policy = r.GetValue(policy) ?? "simple",
                Rodata = [.. load.Items(r)],
                LoadFrom = r.GetValue(loadFrom),
                Cpus = r.GetValue(cpus),
                Tasks = r.GetValue(tasks),
                DurationNs = r.GetValue(duration),
                WatchdogNs = r.GetValue(watchdog),
                Seed = r.GetValue(seed),
                Hz = r.GetValue(hz) ?? 250,
                Jitter = !r.GetValue(noJitter),
                Json = r.GetValue(json),
                Csv = r.GetValue(csv),
                Progress = r.GetValue(progress),
                FailOnViolation = r.GetValue(failOn),
                Perfetto = r.GetValue(perfetto) ?? r.GetValue(perfettoJson),
                PerfettoJson = r.GetValue(perfettoJson) != null,
                Plot = r.GetValue(plot),
                Html = r.GetValue(html),
                Shard = r.GetValue(shard),
                IrqRate = r.GetValue(irqRate),
                IrqMeanNs = r.GetValue(irqMean),
                Out = r.GetValue(outDir),
                Minimize = r.GetValue(minimize),
                MinimizeBudget = r.GetValue(minBudget),
            };
            foreach (var list in new[] { r.GetValue(protocol), r.GetValue(protocols) })
                foreach (var name in (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    if (Protocols.TryParse(name, out var proto) && !o.Protocols.Contains(proto)) o.Protocols.Add(proto);
            if (r.GetValue(seedsOpt) is { } range)
            {
                var dots = range.IndexOf("..", StringComparison.Ordinal);
                o.Seeds = (ulong.Parse(range[..dots], CultureInfo.InvariantCulture), ulong.Parse(range[(dots + 2)..], CultureInfo.InvariantCulture));
            }
            var stderr = r.InvocationConfiguration.Error;
            string? problem =
                r.GetValue(perfetto) != null && r.GetValue(perfettoJson) != null ? "--perfetto and --perfetto-json: give one (one trace per run)"
                : o.Shard != null && o.Seeds == null ? "--shard splits a --seeds A..B range; give the range"
                : o.Seeds != null && o.Perfetto != null ? "--perfetto writes one run's trace: use --seed N, not --seeds"
                : o.MinimizeBudget < 1 ? $"--minimize-budget needs a positive number of replays (got {o.MinimizeBudget})"
                : o.Out == null && (r.GetResult(minimize) is { Implicit: false } || r.GetResult(minBudget) is { Implicit: false }) ? "--minimize and --minimize-budget shrink what --out saves; give --out DIR"
                : null;
            if (problem != null)
            {
                stderr.WriteLine($"scxlab simulate: {problem} (see 'scxlab simulate --help')");
                return ExitCodes.BadInput;
            }
            return Execute(o, r.InvocationConfiguration.Output, stderr);
        });
        return cmd;
    }

    /// <summary>The command line as <c>scxlab simulate ARGS</c> would run it (for tests and embedding).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Program.Run(["simulate", .. args], stdout, stderr);

    private static int Execute(Opts o, TextWriter stdout, TextWriter stderr)
    {
        Workload workload;
        Func<ScxOps> policy;
        try
        {
            if (o.LoadFrom != null)
            {
                // The scenario's settings first, the command line's after them (they win), as check applies them.
                try { o.Rodata = [.. ScenarioLoader.Resolve(o.LoadFrom).Rodata, .. o.Rodata]; }
                catch (ScenarioException e)
                {
                    stderr.WriteLine($"scxlab simulate: --load-from: {e.Message}");
                    return 1;
                }
            }
            o.Policy = BpfObjectSpec.With(o.Policy, o.Rodata);
            policy = PolicyRegistry.Resolve(o.Policy);
            workload = ResolveWorkload(o.Workload!, o.Cpus ?? 8, o.Tasks);
        }
        catch (PolicyLoadException e)
        {
            stderr.WriteLine($"scxlab simulate: {e.Message}");
            return 1;
        }
        catch (WorkloadException e)
        {
            stderr.WriteLine($"scxlab simulate: {e.Message}");
            return 1;
        }
        // What the file says that the simulator accepts but does not act on (rt-app keys it ignores).
        foreach (var warning in workload.Warnings) stderr.WriteLine($"scxlab simulate: warning: {warning}");
        var cpus = o.Cpus ?? workload.Cpus ?? 8;
        if (workload.Cpus != null && o.Cpus == null && Generators.Exists(o.Workload!)) cpus = workload.Cpus.Value;
        var duration = o.DurationNs ?? workload.DurationNs ?? 10_000_000_000L;
        if (o.Protocols.Count == 0) o.Protocols.Add(Protocol.Upstream);
        if (o.Plot != null && Path.GetExtension(o.Plot).ToLowerInvariant() is not (".png" or ".svg"))
        {
            stderr.WriteLine("scxlab simulate: --plot needs a .png or .svg file name");
            return 1;
        }
        // Output paths before the run: a typo must not cost a long simulation.
        try
        {
            if (o.Perfetto != null)
                foreach (var proto in o.Protocols) OutputFiles.CheckFile("--perfetto", o.Protocols.Count == 1 ? o.Perfetto : Suffixed(o.Perfetto, Protocols.Name(proto)));
            if (o.Plot != null) OutputFiles.CheckFile("--plot", o.Plot);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"scxlab simulate: {e.Message}");
            return 1;
        }

        List<ulong> seeds;
        SimSweep? sweep = null;
        try
        {
            var (shardIndex, shardCount) = FuzzCommand.ParseShard(o.Shard);
            if (o.Seeds is var (sweepFrom, sweepTo))
            {
                static string? S<T>(T? v) where T : struct, IFormattable => v?.ToString(null, CultureInfo.InvariantCulture);
                sweep = new SimSweep(sweepFrom, sweepTo, shardIndex, shardCount,
                [
                    ("cpus", S<int>(cpus)),
                    ("tasks", S(o.Tasks)),
                    ("duration_ns", S<long>(duration)),
                    ("hz", S<int>(o.Hz)),
                    ("watchdog_ns", S(o.WatchdogNs)),
                    ("jitter", o.Jitter ? "true" : "false"),
                    ("irq_per_second", S(o.IrqRate)),
                    ("irq_mean_ns", S(o.IrqMeanNs)),
                    ("load_from", o.LoadFrom),
                ]);
            }
            seeds = o.Seeds is var (from, to)
                ? [.. Enumerable.Range(0, (int)(to - from + 1)).Where(k => k % shardCount == shardIndex).Select(k => from + (ulong)k)]
                : [o.Seed];
            if (seeds.Count == 0) throw new UsageException($"shard {shardIndex + 1}/{shardCount} of --seeds {o.Seeds!.Value.From}..{o.Seeds.Value.To} has no seed");
            if (o.Html != null) OutputFiles.CheckFile("--html", o.Html);
            if (o.Out != null) Directory.CreateDirectory(o.Out);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"scxlab simulate: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"scxlab simulate: --out {o.Out}: {FirstLine(e.Message)}");
            return 1;
        }

        var wall = System.Diagnostics.Stopwatch.StartNew();
        var interrupted = false;
        var results = new List<SimResult>();
        var saved = new List<SimSaved?>();
        var showProgress = o.Progress || Program.ProgressOnStderr;
        var runClock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            foreach (var (seed, proto) in seeds.SelectMany(seed => o.Protocols.Select(p => (seed, p))))
            {
                if (interrupted) break; // Ctrl-C: the runs not yet made are left out of the report
                var protoName = Protocols.Name(proto) + (seeds.Count > 1 ? $" seed {seed}" : "");
                runClock.Restart();
                ITraceFileWriter? perfetto = null;
                string? perfettoFile = null;
                if (o.Perfetto != null)
                {
                    // Written under a temporary name and renamed when complete: a failed run leaves no
                    // half-written trace under the user's name.
                    perfettoFile = o.Protocols.Count == 1 ? o.Perfetto : Suffixed(o.Perfetto, protoName);
                    var target = OutputFiles.IsSpecial(Path.GetFullPath(perfettoFile)) ? perfettoFile : OutputFiles.TempNameFor(perfettoFile);
                    perfetto = o.PerfettoJson ? new PerfettoWriter(target) : new PerfettoProtoWriter(target);
                }
                var done = false;
                try
                {
                    var sim = new Simulator(workload, new SimOptions
                    {
                        Cpus = cpus,
                        DurationNs = duration,
                        Seed = seed,
                        Policy = policy,
                        PolicyName = o.Policy,
                        Protocol = proto,
                        Hz = o.Hz,
                        WatchdogTimeoutNs = o.WatchdogNs,
                        Costs = new StepCosts { Jitter = o.Jitter, IrqPerSecond = o.IrqRate ?? new StepCosts().IrqPerSecond, IrqMeanNs = o.IrqMeanNs ?? new StepCosts().IrqMeanNs },
                        Trace = perfetto,
                        Record = o.Out != null,
                        Progress = showProgress ? f => DrawProgress(stderr, protoName, f, runClock.Elapsed.TotalSeconds) : null,
                        Cancel = Program.Interrupt,
                    });
                    var r = sim.Run();
                    if (sim.Interrupted) interrupted = true;
                    if (showProgress && r.WallSeconds >= 1) stderr.Write("\r" + new string(' ', 60) + "\r");
                    results.Add(r);
                    var save = o.Out != null && (r.Exits.Count > 0 || r.Findings.Count > 0);
                    if (save && showProgress) stderr.WriteLine($"simulate [{protoName}]: saving the first finding as a scenario{(o.Minimize ? $" (shrinking: at most {o.MinimizeBudget} replays)" : "")}…");
                    saved.Add(save ? Save(sim, o, seed, o.Out!) : null);
                    done = true;
                }
                finally
                {
                    perfetto?.Dispose();
                    if (perfetto != null && perfetto.Path != perfettoFile)
                    {
                        if (done) OutputFiles.Commit(perfetto.Path, perfettoFile!);
                        else if (File.Exists(perfetto.Path)) File.Delete(perfetto.Path);
                    }
                }
                if (perfetto != null && !o.Json) stderr.WriteLine($"perfetto trace: {perfettoFile} (open in ui.perfetto.dev)");
            }
        }
        catch (WorkloadException e)
        {
            stderr.WriteLine($"scxlab simulate: {e.Message}");
            return 1;
        }
        catch (PolicyLoadException e)
        {
            // The policy's constructor or DeclareMaps failed: a load error.
            stderr.WriteLine($"scxlab simulate: {e.Message}");
            return 1;
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"scxlab simulate: {FirstLine(e.Message)}");
            return 1;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"scxlab simulate: {FirstLine(e.Message)}");
            return 1;
        }

        if (o.Plot != null)
        {
            try
            {
                foreach (var f in Plots.Write(o.Plot, workload.Name, results)) if (!o.Json) stderr.WriteLine($"plot: {f}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or TypeInitializationException or DllNotFoundException)
            {
                stderr.WriteLine($"scxlab simulate: cannot write plot: {FirstLine(e.Message)}{(e.InnerException != null ? ": " + FirstLine(e.InnerException.Message) : "")}");
                return 1;
            }
        }

        if (o.Html != null && results.Count > 0)
        {
            try
            {
                OutputFiles.WriteAllText(o.Html, SimulationHtml.Render(workload.Name, results));
                if (!o.Json) stderr.WriteLine($"html report: {o.Html}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or TypeInitializationException or DllNotFoundException)
            {
                stderr.WriteLine($"scxlab simulate: cannot write the HTML report: {FirstLine(e.Message)}");
                return 1;
            }
        }

        if (o.Json) stdout.Write(SimReport.Json(workload.Name, results, wall.Elapsed.TotalSeconds, o.Out != null ? saved : null, sweep));
        else if (o.Csv) stdout.Write(SimReport.Csv(results));
        else
        {
            stdout.Write(SimReport.Table(workload.Name, results, TerminalTables.ForStdout()));
            for (var i = 0; i < saved.Count; i++)
                if (saved[i] is { } sv) stdout.Write(SimReport.SavedText(results[i], sv));
        }
        if (o.Json && o.Csv) stderr.Write(SimReport.Csv(results));
        var violated = results.Any(r => r.Exits.Count > 0 || r.Findings.Count > 0);
        if (interrupted)
        {
            // Ctrl-C: the report above covers the virtual time simulated before it; exit 4 (incomplete).
            stderr.WriteLine($"scxlab simulate: interrupted (Ctrl-C) at {Durations.Format(results[^1].DurationNs)} of virtual time; the report covers that much");
            return 4;
        }
        if (o.FailOnViolation && violated) return 2;
        // A run the model stopped where it could not follow the scheduler covered less than asked: incomplete.
        return results.Any(r => r.ModelLimit != null) ? 4 : 0;
    }

    /// <summary>
    /// --out: the run's first finding as a scenario (<see cref="Fuzzing.SimulationRepro"/>), written as NAME.yaml with
    /// NAME.trace.json (the shrunk schedule) and NAME.original.trace.json (the run's steps on the unshrunk scenario,
    /// when that scenario fits the file format's bounds).
    /// </summary>
    private static SimSaved Save(Simulator sim, Opts o, ulong seed, string dir)
    {
        var rep = Fuzzing.SimulationRepro.FromRun(sim, o.Workload!, seed, o.Minimize, o.MinimizeBudget);
        var key = rep.Finding?.Key ?? sim.Recording!.NotReproducible ?? "";
        if (rep.Scenario == null || rep.Config == null) return new SimSaved(key, rep.FindingAtNs, null, null, null, null, null, null, null, 0, rep.Failure, rep.Log);
        var name = rep.Scenario.Name;
        string? original = null;
        try
        {
            var text = Fuzzing.ScenarioYaml.Write(rep.Scenario, rep.Config.PolicyName, rep.Config.Protocol, rep.Config.Kernel, "violation");
            ScenarioLoader.Parse(text, name + ".original.yaml");
            original = Path.Combine(dir, name + ".original.trace.json");
            FuzzCommand.Trace(rep.Scenario, rep.Config, rep.Finding!, rep.Choices, [.. new Machine(rep.Config).Actors.Select(a => a.Name)], "simulate", text).Save(original);
        }
        catch (ScenarioException)
        {
            // Longer than a scenario file allows (rounds, timer firings): only the shrunk form can be saved.
        }
        if (rep.Min is not { } min) return new SimSaved(key, rep.FindingAtNs, null, null, original, null, null, null, null, 0, rep.Failure, rep.Log);
        var yaml = Path.Combine(dir, name + ".yaml");
        var trace = Path.Combine(dir, name + ".trace.json");
        File.WriteAllText(yaml, min.Scenario.Text);
        FuzzCommand.Trace(min.Scenario, min.Config, min.Violation, min.Choices, [.. new Machine(min.Config).Actors.Select(a => a.Name)], "simulate").Save(trace);
        return new SimSaved(key, rep.FindingAtNs, yaml, trace, original, min.Config.CpuCount, min.Config.Tasks.Count, min.Scenario.Actors.Count, min.Choices.Count, min.Tests, null, min.Log);
    }

    private static string FirstLine(string s)
    {
        var i = s.IndexOfAny(['\r', '\n']);
        return i < 0 ? s : s[..i];
    }

    private static string Suffixed(string path, string suffix)
    {
        var ext = Path.GetExtension(path);
        return path[..^ext.Length] + "." + suffix + ext;
    }

    private static void DrawProgress(TextWriter w, string label, double f, double elapsedSeconds)
    {
        f = Math.Clamp(f, 0, 1);
        var filled = (int)(f * 30);
        // Elapsed wall time and an estimate of the rest, from the virtual time covered so far.
        var left = f > 0.01 ? elapsedSeconds / f * (1 - f) : double.NaN;
        var eta = double.IsNaN(left) ? "" : string.Create(CultureInfo.InvariantCulture, $", ~{left:0}s left");
        w.Write(string.Create(CultureInfo.InvariantCulture, $"\rsimulate [{label}] [{new string('#', filled)}{new string('.', 30 - filled)}] {f * 100,5:0.0}%  {elapsedSeconds:0}s{eta}   "));
        w.Flush();
    }

    /// <summary>A generator name, a built-in workload file name, or a path.</summary>
    public static Workload ResolveWorkload(string spec, int cpus, int? tasks)
    {
        if (Generators.Exists(spec)) return Generators.Create(spec, cpus, tasks);
        if (File.Exists(spec)) return WithTasks(WorkloadLoader.LoadFile(spec), tasks, spec);
        var builtin = BuiltinWorkloads.TryLoad(spec);
        if (builtin != null) return WithTasks(builtin, tasks, spec);
        if (spec.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || spec.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || spec.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            throw new WorkloadException($"{spec}: no such file");
        throw new WorkloadException($"unknown workload '{spec}' (generators: {string.Join(", ", Generators.All.Select(g => g.Name))}; built-in files: {string.Join(", ", BuiltinWorkloads.Names)}; or a .yaml/.json file)");
    }

    private static Workload WithTasks(Workload w, int? tasks, string spec) =>
        tasks == null ? w : throw new WorkloadException($"--tasks applies to generators; {spec} sets its own task counts");
}
