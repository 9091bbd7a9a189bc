using System.Globalization;
using System.Text;
using System.Text.Json;
using Scxlab.Reporting;

namespace Scxlab.Simulation;

/// <summary>Renders one or more runs (same workload and seed, one per protocol) as a text table, JSON or CSV.</summary>
public static class SimReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Rows of (metric, value per run); shared by the table and the CSV so both say the same.</summary>
    public static List<(string Metric, string[] Values)> Rows(IReadOnlyList<SimResult> runs)
    {
        var rows = new List<(string, string[])>();
        void Row(string name, Func<SimResult, string> f) => rows.Add((name, runs.Select(f).ToArray()));
        Row("policy", r => Policies.BpfObjectSpec.Short(r.Policy));
        Row("protocol", r => r.Protocol);
        if (runs.Select(r => r.Seed).Distinct().Count() > 1) Row("seed", r => r.Seed.ToString(Inv));
        Row("cpus", r => r.Cpus.ToString(Inv));
        Row("tasks", r => r.Tasks.ToString(Inv));
        Row("virtual time", r => Durations.Format(r.DurationNs));
        // Every metric below is the sched_ext part: up to the first scheduler exit (then the fair
        // class runs the tasks, a different scheduler), so columns with and without an exit compare
        // like with like. The part after an exit has its own labelled rows at the end.
        Row("sched_ext part", r => r.AfterExit == null ? "whole run" : $"0..{Durations.Format(r.ScxPartNs)} (exit)");
        foreach (var cls in runs[0].Latency.Select(l => l.Class))
        {
            LatencySummary? L(SimResult r) => r.Latency.FirstOrDefault(l => l.Class == cls);
            Row($"wakeups [{cls}]", r => (L(r)?.Count ?? 0).ToString(Inv));
            Row($"latency p50 [{cls}]", r => Ns(L(r)?.P50));
            Row($"latency p99 [{cls}]", r => Ns(L(r)?.P99));
            Row($"latency p99.9 [{cls}]", r => Ns(L(r)?.P999));
            Row($"latency max [{cls}]", r => Ns(L(r)?.Max));
        }
        Row("wakeups/s", r => PerSecond(r.Wakeups, r.ScxPartNs));
        Row("cpu utilisation (mean)", r => Pct(r.MeanUtilisation));
        Row("cpu utilisation (min..max)", r => $"{Pct(r.CpuUtilisation.Min())}..{Pct(r.CpuUtilisation.Max())}");
        Row("runqueue length (mean)", r => r.RqLenMean.ToString("0.00", Inv));
        Row("runqueue length (max)", r => r.RqLenMax.ToString(Inv));
        Row("context switches", r => r.ContextSwitches.ToString(Inv));
        Row("preemptions", r => r.Preemptions.ToString(Inv));
        Row("migrations", r => r.Migrations.ToString(Inv));
        Row("affinity changes", r => r.AffinityChanges.ToString(Inv));
        Row("fairness (Jain, runtime/weight)", r => r.Fairness.ToString("0.0000", Inv));
        foreach (var cls in runs[0].FairnessByClass.Select(f => f.Class))
            Row($"fairness [{cls}]", r => r.FairnessByClass.FirstOrDefault(f => f.Class == cls).Jain.ToString("0.0000", Inv));
        Row("dispatches dropped", r => r.DispatchesDropped.ToString(Inv));
        Row("re-enqueues", r => r.Reenqueues.ToString(Inv));
        Row("fallback-DSQ uses", r => r.FallbackDsqUses.ToString(Inv));
        Row("fallback re-enqueues", r => r.FallbackReenqueues.ToString(Inv));
        Row("watchdog stalls", r => r.WatchdogStalls.ToString(Inv));
        Row("scheduler exits", r => r.Exits.Count == 0 ? "none" : string.Join("; ", r.Exits.Select(e => $"{e.Kind} at {Durations.Format(e.AtNs)}")));
        Row("kernel assertions", r => r.Findings.Count == 0 ? "none" : string.Join("; ", r.Findings.Select(f => $"{f.Check} ×{f.Count}")));
        if (runs.Any(r => r.ModelLimit != null)) Row("not modelled", r => r.ModelLimit is { } l ? $"stopped at {Durations.Format(l.AtNs)}" : "none");
        if (runs.Any(r => r.AfterExit != null)) AfterExitRows(runs, Row);
        Row("model steps", r => r.Steps.ToString(Inv));
        Row("events/s (wall)", r => r.EventsPerSecond.ToString("N0", Inv));
        Row("wall time", r => $"{r.WallSeconds:0.00}s");
        return rows;
    }

    /// <summary>Prefix of the rows about the part of a run after a scheduler exit.</summary>
    public const string AfterLabel = "after exit";

    private static void AfterExitRows(IReadOnlyList<SimResult> runs, Action<string, Func<SimResult, string>> row)
    {
        void A(string name, Func<SimPart, string> f) => row($"{AfterLabel}: {name}", r => r.AfterExit is { } a ? f(a) : "-");
        A("span (fair class)", a => $"{Durations.Format(a.FromNs)}..{Durations.Format(a.ToNs)}");
        A("wakeups", a => a.Wakeups.ToString(Inv));
        A("wakeups/s", a => PerSecond(a.Wakeups, a.SpanNs));
        A("latency p50", a => Ns(a.Latency[0].P50));
        A("latency p99", a => Ns(a.Latency[0].P99));
        A("latency max", a => Ns(a.Latency[0].Max));
        A("cpu utilisation (mean)", a => Pct(a.MeanUtilisation));
        A("context switches", a => a.ContextSwitches.ToString(Inv));
        A("preemptions", a => a.Preemptions.ToString(Inv));
        A("migrations", a => a.Migrations.ToString(Inv));
        A("affinity changes", a => a.AffinityChanges.ToString(Inv));
        A("fairness (Jain, runtime/weight)", a => a.Fairness.ToString("0.0000", Inv));
    }

    /// <param name="table">How the metrics are drawn (default <see cref="TextTables.Plain"/>: one row per metric, one column per run).</param>
    /// <summary>The text report's lines for a run's saved finding (<c>simulate --out</c>).</summary>
    public static string SavedText(SimResult r, SimSaved s)
    {
        var sb = new StringBuilder();
        var label = $"{r.Protocol} seed {r.Seed}";
        sb.Append(CultureInfo.InvariantCulture, $"\n{label}: {s.Finding} at {Durations.Format(s.AtNs)}\n");
        if (s.ScenarioFile != null)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  saved as {s.ScenarioFile} (scxlab check): {s.Cpus} CPU(s), {s.Tasks} task(s), {s.ScriptActors} script actor(s); trace {s.TraceFile} ({s.Steps} steps, scxlab replay); {s.Replays} replays of shrinking\n");
            if (s.OriginalTraceFile != null) sb.Append(CultureInfo.InvariantCulture, $"  the run's own steps: {s.OriginalTraceFile}\n");
            foreach (var l in s.Log) sb.Append("    ").Append(l).Append('\n');
        }
        else
        {
            sb.Append(CultureInfo.InvariantCulture, $"  not saved: {s.Failure}\n");
            if (s.OriginalTraceFile != null) sb.Append(CultureInfo.InvariantCulture, $"  the run's own steps: {s.OriginalTraceFile}\n");
            sb.Append(CultureInfo.InvariantCulture, $"  (the run itself is reproducible with --seed {r.Seed})\n");
        }
        return sb.ToString();
    }

    public static string Table(string workload, IReadOnlyList<SimResult> runs, TableWriter? table = null)
    {
        var rows = Rows(runs);
        var sb = new StringBuilder();
        var seeds = runs.Select(r => r.Seed).Distinct().ToList();
        sb.Append(CultureInfo.InvariantCulture, $"simulate {workload} · {(seeds.Count == 1 ? $"seed {seeds[0]}" : $"{seeds.Count} seeds")}\n");
        // The runs are told apart by the policy/protocol/seed rows; the header stays empty.
        (table ?? TextTables.Plain)(sb, [.. Enumerable.Repeat("", runs.Count + 1)], [.. rows.Select(r => (string[])[r.Metric, .. r.Values])], 1);
        foreach (var r in runs)
        {
            foreach (var e in r.Exits)
                sb.Append(CultureInfo.InvariantCulture, $"[{r.Protocol}{(seeds.Count > 1 ? $" seed {r.Seed}" : "")}] scheduler exit at {Durations.Format(e.AtNs)} ({e.AtNs} ns virtual): {e.Kind}: {e.Message}\n");
            foreach (var f in r.Findings)
                sb.Append(CultureInfo.InvariantCulture, $"[{r.Protocol}{(seeds.Count > 1 ? $" seed {r.Seed}" : "")}] {f.Check} ×{f.Count}, first at {Durations.Format(f.FirstAtNs)}: {f.FirstMessage}\n");
            if (r.ModelLimit is { } l)
                sb.Append(CultureInfo.InvariantCulture, $"[{r.Protocol}{(seeds.Count > 1 ? $" seed {r.Seed}" : "")}] not modelled at {Durations.Format(l.AtNs)} ({l.AtNs} ns virtual): {l.Message}; the model stopped the scheduler there, so the run is incomplete from then on (not a scheduler exit)\n");
        }
        return sb.ToString();
    }

    /// <summary>
    /// One row per run, one numeric column per metric in base units, the unit in the column name
    /// (<c>_ns</c>, <c>_fraction</c>, <c>_per_s</c>; a bare name is a count): ready for a spreadsheet or pandas.
    /// Metrics are the sched_ext part's (as in the table); kernel event counters under their SCX_EV_* names.
    /// </summary>
    public static string Csv(IReadOnlyList<SimResult> runs)
    {
        var cols = new List<(string Name, Func<SimResult, string> Value)>();
        void C(string name, Func<SimResult, string> f) => cols.Add((name, f));
        static string N(long v) => v.ToString(Inv);
        static string F(double v) => v.ToString("0.######", Inv);
        C("workload", r => Esc(r.Workload));
        C("policy", r => Esc(r.Policy));
        C("protocol", r => Esc(r.Protocol));
        C("seed", r => r.Seed.ToString(Inv));
        C("cpus", r => N(r.Cpus));
        C("tasks", r => N(r.Tasks));
        C("duration_ns", r => N(r.DurationNs));
        C("scx_part_ns", r => N(r.ScxPartNs));
        foreach (var cls in runs[0].Latency.Select(l => l.Class))
        {
            LatencySummary? L(SimResult r) => r.Latency.FirstOrDefault(l => l.Class == cls);
            var k = Key(cls);
            C($"wakeups_{k}", r => N(L(r)?.Count ?? 0));
            C($"latency_p50_{k}_ns", r => L(r) is { Count: > 0 } l ? N(l.P50) : "");
            C($"latency_p99_{k}_ns", r => L(r) is { Count: > 0 } l ? N(l.P99) : "");
            C($"latency_p999_{k}_ns", r => L(r) is { Count: > 0 } l ? N(l.P999) : "");
            C($"latency_max_{k}_ns", r => L(r) is { Count: > 0 } l ? N(l.Max) : "");
            C($"latency_mean_{k}_ns", r => L(r) is { Count: > 0 } l ? F(l.Mean) : "");
        }
        C("wakeups_per_s", r => F(r.ScxPartNs > 0 ? r.Wakeups * 1e9 / r.ScxPartNs : 0));
        C("cpu_utilisation_mean_fraction", r => F(r.MeanUtilisation));
        C("cpu_utilisation_min_fraction", r => F(r.CpuUtilisation.Min()));
        C("cpu_utilisation_max_fraction", r => F(r.CpuUtilisation.Max()));
        C("runqueue_length_mean", r => F(r.RqLenMean));
        C("runqueue_length_max", r => N(r.RqLenMax));
        C("context_switches", r => N(r.ContextSwitches));
        C("preemptions", r => N(r.Preemptions));
        C("migrations", r => N(r.Migrations));
        C("affinity_changes", r => N(r.AffinityChanges));
        C("fairness_jain", r => F(r.Fairness));
        foreach (var cls in runs[0].FairnessByClass.Select(f => f.Class))
            C($"fairness_jain_{Key(cls)}", r => F(r.FairnessByClass.FirstOrDefault(f => f.Class == cls).Jain));
        C("dispatches_dropped", r => N(r.DispatchesDropped));
        C("reenqueues", r => N(r.Reenqueues));
        C("fallback_dsq_uses", r => N(r.FallbackDsqUses));
        C("fallback_reenqueues", r => N(r.FallbackReenqueues));
        C("watchdog_stalls", r => N(r.WatchdogStalls));
        C("scheduler_exits", r => N(r.Exits.Count));
        C("first_exit_ns", r => r.Exits.Count > 0 ? N(r.Exits[0].AtNs) : "");
        C("kernel_assertions", r => N(r.Findings.Sum(f => f.Count)));
        foreach (var e in runs[0].KernelEvents.Keys)
            if (Stepping.ScxEvents.KernelName(e) is { } name) C(name, r => N(r.KernelEvents[e]));
        C("model_steps", r => N(r.Steps));
        C("wall_seconds", r => F(r.WallSeconds));

        var sb = new StringBuilder();
        sb.AppendJoin(',', cols.Select(c => c.Name)).Append('\n');
        foreach (var r in runs) sb.AppendJoin(',', cols.Select(c => c.Value(r))).Append('\n');
        return sb.ToString();
    }

    /// <summary>A class name as a column-name part: lower case, anything but letters and digits as '_'.</summary>
    private static string Key(string s) => new([.. s.ToLowerInvariant().Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '_')]);

    private static string Esc(string s) => s.IndexOfAny([',', '"', '\n']) < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";

    /// <summary>The DESIGN.md result object (verdict, complete, scenario, protocol, policy, violations, stats) plus per-run metrics.</summary>
    /// <param name="saved">With <c>--out</c>: per run, what was saved of its first finding (null for a run without one); each run then has a <c>reproduction</c> field.</param>
    /// <param name="sweep">With <c>--seeds A..B</c>: the range, the shard of it and the settings every run shared (what <c>scxlab merge</c> checks the shards agree on).</param>
    public static string Json(string workload, IReadOnlyList<SimResult> runs, double seconds, IReadOnlyList<SimSaved?>? saved = null, SimSweep? sweep = null)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            var violated = runs.Any(r => r.Exits.Count > 0 || r.Findings.Count > 0);
            j.WriteStartObject();
            j.WriteString("schema", Reporting.JsonContract.SchemaId("simulate"));
            j.WriteString("scxlab_version", Reporting.JsonContract.ToolVersion);
            // A simulation samples one timeline per run: nothing seen is "none-found", never "holds".
            var limited = runs.Any(r => r.ModelLimit != null);
            j.WriteString("verdict", violated ? Reporting.JsonContract.Violation : limited ? Reporting.JsonContract.Incomplete : Reporting.JsonContract.NoneFound);
            j.WriteBoolean("complete", !limited);
            j.WriteString("scenario", workload);
            // The protocols in run order, each once (a seed sweep runs every protocol for each seed).
            j.WriteString("protocol", string.Join(",", runs.Select(r => r.Protocol).Distinct()));
            j.WriteString("policy", runs[0].Policy);
            if (sweep == null)
            {
                j.WriteNull("seeds");
                j.WriteNull("shard");
                j.WriteNull("settings");
            }
            else
            {
                j.WriteStartObject("seeds");
                j.WriteNumber("from", sweep.From);
                j.WriteNumber("to", sweep.To);
                j.WriteEndObject();
                if (sweep.ShardCount == 1) j.WriteNull("shard");
                else
                {
                    j.WriteStartObject("shard");
                    j.WriteNumber("index", sweep.ShardIndex + 1);
                    j.WriteNumber("count", sweep.ShardCount);
                    j.WriteEndObject();
                }
                j.WriteStartObject("settings");
                foreach (var (name, value) in sweep.Settings)
                {
                    if (value == null) j.WriteNull(name);
                    else j.WriteString(name, value);
                }
                j.WriteEndObject();
            }
            j.WriteStartArray("violations");
            foreach (var r in runs)
            {
                foreach (var e in r.Exits)
                {
                    j.WriteStartObject();
                    j.WriteString("exit", e.Kind);
                    j.WriteString("message", e.Message);
                    j.WriteString("protocol", r.Protocol);
                    j.WriteNumber("seed", r.Seed);
                    j.WriteNumber("at_ns", e.AtNs);
                    j.WriteEndObject();
                }
                foreach (var f in r.Findings)
                {
                    j.WriteStartObject();
                    j.WriteString("invariant", f.Check);
                    j.WriteString("message", f.FirstMessage);
                    j.WriteString("protocol", r.Protocol);
                    j.WriteNumber("seed", r.Seed);
                    j.WriteNumber("at_ns", f.FirstAtNs);
                    j.WriteNumber("count", f.Count);
                    j.WriteEndObject();
                }
            }
            j.WriteEndArray();
            j.WriteStartObject("stats");
            j.WriteNumber("executions", runs.Count);
            j.WriteNumber("transitions", runs.Sum(r => r.Steps));
            j.WriteNumber("seconds", Math.Round(seconds, 3));
            j.WriteEndObject();
            j.WriteStartArray("runs");
            for (var i = 0; i < runs.Count; i++) WriteRun(j, runs[i], saved, saved != null ? saved[i] : null);
            j.WriteEndArray();
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteRun(Utf8JsonWriter j, SimResult r, IReadOnlyList<SimSaved?>? saving, SimSaved? saved)
    {
        void Str(string name, string? v)
        {
            if (v == null) j.WriteNull(name);
            else j.WriteString(name, v);
        }
        void Num(string name, int? v)
        {
            if (v == null) j.WriteNull(name);
            else j.WriteNumber(name, v.Value);
        }
        j.WriteStartObject();
        j.WriteString("workload", r.Workload);
        j.WriteString("policy", r.Policy);
        j.WriteString("protocol", r.Protocol);
        j.WriteNumber("cpus", r.Cpus);
        j.WriteNumber("tasks", r.Tasks);
        j.WriteNumber("duration_ns", r.DurationNs);
        j.WriteNumber("seed", r.Seed);
        // The metrics below are the sched_ext part (0..scx_part_ns); after_exit holds the same
        // metrics for the rest of the run when the scheduler exited, else null.
        j.WriteNumber("scx_part_ns", r.ScxPartNs);
        WritePartMetrics(j, r.Latency, r.CpuUtilisation, r.MeanUtilisation, r.RqLenMean, r.RqLenMax, r.ContextSwitches, r.Preemptions,
            r.Migrations, r.AffinityChanges, r.Wakeups, r.Fairness, r.FairnessByClass);
        j.WriteNumber("dispatches_dropped", r.DispatchesDropped);
        j.WriteNumber("reenqueues", r.Reenqueues);
        j.WriteNumber("fallback_dsq_uses", r.FallbackDsqUses);
        j.WriteNumber("fallback_reenqueues", r.FallbackReenqueues);
        j.WriteNumber("watchdog_stalls", r.WatchdogStalls);
        WriteEvents(j, r.KernelEvents);
        WriteTaskRuntimes(j, r.TaskRuntimes);
        if (r.AfterExit is { } a)
        {
            j.WriteStartObject("after_exit");
            j.WriteNumber("from_ns", a.FromNs);
            j.WriteNumber("to_ns", a.ToNs);
            // No runqueue length: the model's fair class does not keep rq->nr_running.
            WritePartMetrics(j, a.Latency, a.CpuUtilisation, a.MeanUtilisation, null, null, a.ContextSwitches, a.Preemptions,
                a.Migrations, a.AffinityChanges, a.Wakeups, a.Fairness, a.FairnessByClass);
            WriteEvents(j, a.KernelEvents);
            WriteTaskRuntimes(j, a.TaskRuntimes);
            j.WriteEndObject();
        }
        else j.WriteNull("after_exit");
        if (r.ModelLimit is { } limit)
        {
            j.WriteStartObject("model_limit");
            j.WriteNumber("at_ns", limit.AtNs);
            j.WriteString("message", limit.Message);
            j.WriteEndObject();
        }
        else j.WriteNull("model_limit");
        j.WriteStartArray("exits");
        foreach (var e in r.Exits)
        {
            j.WriteStartObject();
            j.WriteNumber("at_ns", e.AtNs);
            j.WriteString("kind", e.Kind);
            j.WriteString("message", e.Message);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteStartArray("findings");
        foreach (var f in r.Findings)
        {
            j.WriteStartObject();
            j.WriteString("check", f.Check);
            j.WriteString("message", f.FirstMessage);
            j.WriteNumber("first_at_ns", f.FirstAtNs);
            j.WriteNumber("count", f.Count);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        if (saving != null)
        {
            if (saved == null) j.WriteNull("reproduction");
            else
            {
                j.WriteStartObject("reproduction");
                j.WriteString("finding", saved.Finding);
                j.WriteNumber("at_ns", saved.AtNs);
                Str("scenario_file", saved.ScenarioFile);
                Str("trace_file", saved.TraceFile);
                Str("original_trace_file", saved.OriginalTraceFile);
                Num("cpus", saved.Cpus);
                Num("tasks", saved.Tasks);
                Num("script_actors", saved.ScriptActors);
                Num("steps", saved.Steps);
                j.WriteNumber("replays", saved.Replays);
                Str("failure", saved.Failure);
                j.WriteEndObject();
            }
        }
        j.WriteNumber("model_steps", r.Steps);
        j.WriteNumber("engine_events", r.EngineEvents);
        j.WriteNumber("wall_seconds", Math.Round(r.WallSeconds, 3));
        j.WriteNumber("events_per_second", Math.Round(r.EventsPerSecond));
        j.WriteEndObject();
    }

    private static void WriteTaskRuntimes(Utf8JsonWriter j, IReadOnlyList<TaskRuntime> runtimes)
    {
        j.WriteStartObject("runtime_ns_by_task");
        foreach (var t in runtimes) j.WriteNumber(t.Name, t.RuntimeNs);
        j.WriteEndObject();
        j.WriteStartArray("per_task");
        foreach (var t in runtimes)
        {
            j.WriteStartObject();
            j.WriteString("name", t.Name);
            j.WriteString("class", t.Class);
            j.WriteNumber("weight", t.Weight);
            j.WriteNumber("runtime_ns", t.RuntimeNs);
            j.WriteNumber("wait_ns", t.WaitNs);
            j.WriteNumber("wakeups", t.Wakeups);
            j.WriteNumber("migrations", t.Migrations);
            j.WriteEndObject();
        }
        j.WriteEndArray();
    }

    /// <summary>
    /// <c>kernel_events</c>: the counters of the kernel's <c>struct scx_event_stats</c> the model keeps, under the
    /// names <c>/sys/kernel/sched_ext/*/events</c> prints; <c>model_events</c>: the model's own counters.
    /// </summary>
    private static void WriteEvents(Utf8JsonWriter j, IReadOnlyDictionary<string, long> events)
    {
        j.WriteStartObject("kernel_events");
        foreach (var (k, v) in events)
            if (Stepping.ScxEvents.KernelName(k) is { } name) j.WriteNumber(name, v);
        j.WriteEndObject();
        j.WriteStartObject("model_events");
        foreach (var (k, v) in events)
            if (Stepping.ScxEvents.KernelName(k) is null) j.WriteNumber(Stepping.ScxEvents.SnakeName(k), v);
        j.WriteEndObject();
    }

    private static void WritePartMetrics(Utf8JsonWriter j, IReadOnlyList<LatencySummary> latency, double[] utilisation, double meanUtilisation,
        double? rqLenMean, int? rqLenMax, long contextSwitches, long preemptions, long migrations, long affinityChanges, long wakeups,
        double fairness, IReadOnlyList<(string Class, double Jain)> fairnessByClass)
    {
        j.WriteStartObject("latency_ns");
        foreach (var l in latency)
        {
            j.WriteStartObject(l.Class);
            j.WriteNumber("count", l.Count);
            j.WriteNumber("p50", l.P50);
            j.WriteNumber("p99", l.P99);
            j.WriteNumber("p99_9", l.P999);
            j.WriteNumber("max", l.Max);
            j.WriteNumber("mean", Math.Round(l.Mean, 1));
            j.WriteEndObject();
        }
        j.WriteEndObject();
        j.WriteStartArray("cpu_utilisation");
        foreach (var u in utilisation) j.WriteNumberValue(Math.Round(u, 4));
        j.WriteEndArray();
        j.WriteNumber("cpu_utilisation_mean", Math.Round(meanUtilisation, 4));
        if (rqLenMean is { } mean) j.WriteNumber("runqueue_length_mean", Math.Round(mean, 3));
        if (rqLenMax is { } max) j.WriteNumber("runqueue_length_max", max);
        j.WriteNumber("context_switches", contextSwitches);
        j.WriteNumber("preemptions", preemptions);
        j.WriteNumber("migrations", migrations);
        j.WriteNumber("affinity_changes", affinityChanges);
        j.WriteNumber("wakeups", wakeups);
        j.WriteNumber("fairness_jain", Math.Round(fairness, 6));
        j.WriteStartObject("fairness_by_class");
        foreach (var (cls, v) in fairnessByClass) j.WriteNumber(cls, Math.Round(v, 6));
        j.WriteEndObject();
    }

    public static string Ns(long? ns) => ns is null ? "-" : ns.Value >= 1_000_000_000 ? $"{ns.Value / 1e9:0.000}s" : ns.Value >= 1_000_000 ? $"{ns.Value / 1e6:0.000}ms" : $"{ns.Value / 1e3:0.0}us";

    private static string PerSecond(long count, long spanNs) => spanNs > 0 ? (count * 1e9 / spanNs).ToString("N0", Inv) : "-";

    private static string Pct(double v) => (v * 100).ToString("0.0", Inv) + "%";
}
