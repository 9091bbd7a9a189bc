using System.Globalization;
using Scxlab.Bpf;
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
    public const string Usage =
        "usage: scxlab simulate WORKLOAD [--policy X] [--rodata NAME=VALUE]... [--protocol P | --protocols a,b,c] [--cpus N] [--tasks N] [--duration D]\n" +
        "                       [--seed N | --seeds A..B [--shard K/N]] [--hz N] [--watchdog-timeout D] [--no-jitter] [--irq-rate N/s] [--irq-mean D] [--perfetto F.pftrace] [--perfetto-json F.json] [--plot F.png|F.svg]\n" +
        "                       [--html F] [--json] [--csv] [--progress] [--fail-on-violation]\n" +
        "WORKLOAD: a generator (cpu-bound, mixed, pingpong, affinity-churn), a built-in workload file name, or a .yaml/.json file\n" +
        "          (native format or the rt-app JSON subset; see docs/simulation.md)";

    private sealed class Opts
    {
        public string? Workload;
        public string Policy = "simple";
        public List<string> Rodata = [];
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
    }

    private sealed class UsageError(string message) : Exception(message);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        Opts o;
        try
        {
            o = Parse(args);
        }
        catch (UsageError e)
        {
            if (e.Message == "help")
            {
                stdout.WriteLine(Usage);
                return 0;
            }
            stderr.WriteLine($"scxlab simulate: {e.Message}");
            return 1;
        }

        Workload workload;
        Func<ScxOps> policy;
        try
        {
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
        try
        {
            var (shardIndex, shardCount) = FuzzCommand.ParseShard(o.Shard);
            seeds = o.Seeds is var (from, to)
                ? [.. Enumerable.Range(0, (int)(to - from + 1)).Where(k => k % shardCount == shardIndex).Select(k => from + (ulong)k)]
                : [o.Seed];
            if (seeds.Count == 0) throw new UsageException($"shard {shardIndex + 1}/{shardCount} of --seeds {o.Seeds!.Value.From}..{o.Seeds.Value.To} has no seed");
            if (o.Html != null) OutputFiles.CheckFile("--html", o.Html);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"scxlab simulate: {e.Message}");
            return 1;
        }

        var wall = System.Diagnostics.Stopwatch.StartNew();
        var interrupted = false;
        var results = new List<SimResult>();
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
                        Progress = showProgress ? f => DrawProgress(stderr, protoName, f, runClock.Elapsed.TotalSeconds) : null,
                        Cancel = Program.Interrupt,
                    });
                    var r = sim.Run();
                    if (sim.Interrupted) interrupted = true;
                    if (showProgress && r.WallSeconds >= 1) stderr.Write("\r" + new string(' ', 60) + "\r");
                    results.Add(r);
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

        if (o.Json) stdout.Write(SimReport.Json(workload.Name, results, wall.Elapsed.TotalSeconds));
        else if (o.Csv) stdout.Write(SimReport.Csv(results));
        else stdout.Write(SimReport.Table(workload.Name, results));
        if (o.Json && o.Csv) stderr.Write(SimReport.Csv(results));
        var violated = results.Any(r => r.Exits.Count > 0 || r.Findings.Count > 0);
        if (interrupted)
        {
            // Ctrl-C: the report above covers the virtual time simulated before it; exit 4 (incomplete).
            stderr.WriteLine($"scxlab simulate: interrupted (Ctrl-C) at {Durations.Format(results[^1].DurationNs)} of virtual time; the report covers that much");
            return 4;
        }
        return o.FailOnViolation && violated ? 2 : 0;
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

    private static Opts Parse(string[] args)
    {
        var o = new Opts();
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            string Val()
            {
                if (i + 1 >= args.Length) throw new UsageError($"{a} needs a value");
                return args[++i];
            }
            switch (a)
            {
                case "-h":
                case "--help":
                    throw new UsageError("help");
                case "--policy": o.Policy = Val(); break;
                case "--rodata": o.Rodata.Add(Val()); break;
                case "--protocol":
                case "--protocols":
                    foreach (var p in Val().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (!Protocols.TryParse(p, out var proto)) throw new UsageError($"unknown protocol '{p}' ({string.Join(", ", Protocols.All.Select(x => x.Name))})");
                        if (!o.Protocols.Contains(proto)) o.Protocols.Add(proto);
                    }
                    break;
                case "--cpus": o.Cpus = IntOpt(a, Val(), 1, ScxConst.MaxCpus); break;
                case "--tasks": o.Tasks = IntOpt(a, Val(), 1, 1_000_000); break;
                case "--hz": o.Hz = IntOpt(a, Val(), 1, 10_000); break;
                case "--seed":
                    var sv = Val();
                    if (!ulong.TryParse(sv, NumberStyles.None, CultureInfo.InvariantCulture, out o.Seed)) throw new UsageError($"--seed: expected a non-negative integer, got '{sv}'");
                    break;
                case "--duration": o.DurationNs = DurOpt(a, Val()); break;
                case "--watchdog-timeout": o.WatchdogNs = DurOpt(a, Val()); break;
                case "--no-jitter": o.Jitter = false; break;
                case "--irq-rate": o.IrqRate = IntOpt(a, Val(), 0, 10_000_000); break;
                case "--irq-mean": o.IrqMeanNs = DurOpt(a, Val()); break;
                case "--perfetto": o.Perfetto = Val(); break;
                case "--perfetto-json": o.Perfetto = Val(); o.PerfettoJson = true; break;
                case "--plot": o.Plot = Val(); break;
                case "--html": o.Html = Val(); break;
                case "--shard": o.Shard = Val(); break;
                case "--seeds":
                {
                    var v = Val();
                    var dots = v.IndexOf("..", StringComparison.Ordinal);
                    if (dots <= 0 || !ulong.TryParse(v[..dots], NumberStyles.None, CultureInfo.InvariantCulture, out var from) || !ulong.TryParse(v[(dots + 2)..], NumberStyles.None, CultureInfo.InvariantCulture, out var to) || to < from)
                        throw new UsageError($"--seeds: expected A..B with A ≤ B (e.g. 1..100), got '{v}'");
                    if (to - from >= 100_000) throw new UsageError($"--seeds: at most 100000 seeds in one run (got {to - from + 1}); split the range with --shard");
                    o.Seeds = (from, to);
                    break;
                }
                case "--json": o.Json = true; break;
                case "--csv": o.Csv = true; break;
                case "--progress": o.Progress = true; break;
                case "--fail-on-violation": o.FailOnViolation = true; break;
                default:
                    if (a.StartsWith('-')) throw new UsageError($"unknown option '{a}' (see 'scxlab simulate --help')");
                    if (o.Workload != null) throw new UsageError($"one workload only (got '{o.Workload}' and '{a}')");
                    o.Workload = a;
                    break;
            }
        }
        if (o.Workload == null) throw new UsageError("missing WORKLOAD (see 'scxlab simulate --help')");
        if (o.Shard != null && o.Seeds == null) throw new UsageError("--shard splits a --seeds A..B range; give the range");
        if (o.Seeds != null && o.Perfetto != null) throw new UsageError("--perfetto writes one run's trace: use --seed N, not --seeds");
        return o;
    }

    private static int IntOpt(string name, string v, int min, int max)
    {
        if (!int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
            throw new UsageError($"{name}: expected an integer {min}..{max}, got '{v}'");
        return n;
    }

    private static long DurOpt(string name, string v)
    {
        if (!Durations.TryParse(v, out var ns, out var why)) throw new UsageError($"{name}: {why}");
        if (ns <= 0) throw new UsageError($"{name}: must be positive");
        return ns;
    }
}
