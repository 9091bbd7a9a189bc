using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Scxlab.Comparison;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Reporting;
using Scxlab.Scenarios;

namespace Scxlab.Cli.Commands;

/// <summary>
/// <c>scxlab compare [SCENARIO...] [--protocols a,b] [--policies x,y] [--kernels 7.1,7.2] [--budget S] [--traces DIR]
/// [--witness TEXT] [--json] [--markdown] [--fail-on-violation]</c>: the protocol × policy verdict
/// matrix. Findings are the content: exit 0 when it completes, 2 with --fail-on-violation and a
/// violating cell.
/// </summary>
internal static class CompareCommand
{
    /// <summary>
    /// <c>compare</c>, or with <paramref name="report"/> <c>report</c>: the same comparison, whose product is the
    /// self-contained HTML page (<c>--html</c>, default <c>scxlab-report.html</c>) instead of the text matrix.
    /// </summary>
    public static ScxCommand Create(bool report = false)
    {
        var scenarios = new Argument<string[]>("SCENARIO")
        {
            Description = "built-in scenario names or YAML files (default: every built-in scenario with a compare: list, except those tagged long)",
            Arity = ArgumentArity.ZeroOrMore,
            HelpName = "SCENARIO",
        }.CompletingWith(Scxlab.Scenarios.ScenarioLoader.BuiltInNames);
        var protocols = new Option<string?>("--protocols") { Description = $"comma-separated protocols (default all: {string.Join(", ", Protocols.All.Select(p => p.Name))})", HelpName = "P,..." };
        var policies = new Option<string?>("--policies") { Description = "comma-separated policies to compare in every scenario (default: each scenario's compare: list)", HelpName = "X,..." };
        var budget = CliOptions.Budget("time budget per cell (seconds, or 5s, 2500ms, 1m; default 10): a cell over budget is reported incomplete");
        var traces = new Option<string?>("--traces") { Description = "directory for the violating cells' trace files (default: a new temporary directory, printed at the end)", HelpName = "DIR" };
        var witness = new Option<string?>("--witness") { Description = "also search each cell that holds for the shortest trace whose kernel narration contains TEXT (e.g. TargetStale) and print it", HelpName = "TEXT" };
        var json = new Option<bool>("--json") { Description = "print one JSON object on stdout" };
        var markdown = new Option<bool>("--markdown") { Description = "print the matrix as a Markdown table" };
        var failOn = new Option<bool>("--fail-on-violation") { Description = "exit 2 when any cell has a violation or a scheduler exit" };
        var html = new Option<string?>("--html")
        {
            Description = report
                ? "the HTML file to write (default: scxlab-report.html): the matrix, each violating cell linked to its counterexample in CPU columns, the forgotten-task explanations; self-contained, viewable offline"
                : "also write the comparison as one self-contained HTML page (as scxlab report does)",
            HelpName = "FILE",
        };
        var cmd = report
            ? new ScxCommand("report", "Run the protocol comparison and write it as one self-contained HTML page: the verdict matrix, each violating cell linked to its shortest counterexample drawn in CPU columns, and why a forgotten task is forgotten.")
            {
                Examples =
                [
                    "scxlab report                                    # the built-in race scenarios → scxlab-report.html",
                    "scxlab report seed-race-r2 --html r2.html --protocols upstream,qseq-invalidate",
                ],
            }
            : new ScxCommand("compare", "Explore every scenario × protocol × policy and print the verdict matrix (holds / exit / task forgotten / violation / incomplete), with a trace file per violating cell.")
        {
            Examples =
            [
                "scxlab compare                                   # the built-in race scenarios, every protocol",
                "scxlab compare seed-race-r2 --markdown           # one scenario, as a Markdown table",
                "scxlab compare seed-race-r2 --protocols upstream,qseq-invalidate --policies local-on-peek",
                "scxlab compare seed-race-r2 --protocols ghost --policies ghost-peek --witness TargetStale",
                "scxlab compare --kernels 7.1,7.2                       # the matrix under each kernel release (docs/eras.md)",
                "scxlab compare --json --traces out/              # machine-readable, traces kept in out/",
                "scxlab compare seed-race-r2 --html r2.html       # also a self-contained HTML page (see scxlab report)",
            ],
        };
        cmd.Arguments.Add(scenarios);
        var kernels = new Option<string?>("--kernels") { Description = $"comma-separated kernel releases; the matrix is run once per release ({KernelEras.Expected}; default: each scenario's kernel:, else 7.1; docs/eras.md)", HelpName = "E,..." };
        foreach (var o in new Option[] { protocols, policies, kernels, budget, traces, witness, json, markdown, failOn, html }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var stdout = r.InvocationConfiguration.Output;
            var stderr = r.InvocationConfiguration.Error;
            var b = r.GetValue(budget) ?? 10;
            if (r.GetValue(json) && r.GetValue(markdown)) throw new UsageException("--json and --markdown are exclusive");
            var list = ParseProtocols(r.GetValue(protocols));
            List<KernelEra?> eras = [null];
            if (r.GetValue(kernels) is { } kn)
            {
                eras = [.. Split(kn).Select(n => KernelEras.TryParse(n, out var e) ? (KernelEra?)e : throw new UsageException($"unknown kernel '{n}' (expected {KernelEras.Expected})"))];
                if (eras.Count == 0) throw new UsageException("--kernels needs at least one kernel release");
            }
            var pols = SplitPolicies(r.GetValue(policies));
            foreach (var p in pols) PolicyRegistry.Resolve(p); // unknown: one line, exit 1, before any work
            var scs = Scenarios(r.GetValue(scenarios) ?? []);
            foreach (var s in scs)
                foreach (var p in ProtocolComparison.PoliciesOf(s, pols)) PolicyRegistry.Resolve(p);
            if (r.GetValue(traces) is { } given) OutputFiles.CheckDirectory("--traces", given);
            var htmlFile = r.GetValue(html) ?? (report ? "scxlab-report.html" : null);
            if (htmlFile != null) OutputFiles.CheckFile("--html", htmlFile);
            var htmlRuns = new List<HtmlReport.Run>();
            var dir = r.GetValue(traces) ?? Directory.CreateTempSubdirectory("scxlab-compare-").FullName;

            var text = r.GetValue(witness);
            var anyViolation = false;
            var jsonRuns = new JsonArray();
            foreach (var era in eras)
            {
                var progress = new Progress(stderr);
                var result = ProtocolComparison.Run(new ComparisonOptions
                {
                    Scenarios = scs,
                    Protocols = list,
                    Policies = pols,
                    Kernel = era,
                    BudgetSeconds = b,
                    // One trace folder per release when several are compared (the file names are per cell).
                    TraceDirectory = eras.Count > 1 ? Path.Combine(dir, $"kernel-{KernelEras.Name(era!.Value)}") : dir,
                    CellStarted = progress.Cell,
                    Progress = progress.Search,
                });
                progress.Clear();
                anyViolation |= result.AnyViolation;
                htmlRuns.Add(new HtmlReport.Run(era, result));
                if (report) continue;

                var witnesses = text == null ? [] : Witnesses(result, text, b);
                if (r.GetValue(json))
                {
                    var o = MatrixReport.Json(result, b);
                    if (era is { } k) o["kernel"] = KernelEras.Name(k);
                    if (text != null) o["witnesses"] = new JsonArray([.. witnesses.Select(w => (JsonNode?)WitnessJson(w, text))]);
                    jsonRuns.Add(o);
                }
                else
                {
                    if (era is { } k) stdout.WriteLine($"kernel {KernelEras.Name(k)} (docs/eras.md)");
                    stdout.Write(r.GetValue(markdown) ? MatrixReport.Markdown(result) : MatrixReport.Text(result, b, TerminalTables.ForStdout()));
                    if (text != null) PrintWitnesses(stdout, witnesses, text);
                    if (eras.Count > 1) stdout.WriteLine();
                }
            }
            if (htmlFile != null)
            {
                OutputFiles.WriteAllText(htmlFile, HtmlReport.Compare(htmlRuns, $"scxlab protocol comparison ({htmlRuns.Sum(x => x.Result.Cells.Count)} cells)"));
                (report ? stdout : stderr).WriteLine($"html report: {htmlFile}");
            }
            if (report) return r.GetValue(failOn) && anyViolation ? ExitCodes.Violation : ExitCodes.Ok;
            if (r.GetValue(json))
            {
                // One result object: the matrix itself for one release, or {"kernels": [matrix per release]}.
                var o = jsonRuns.Count == 1 ? jsonRuns[0]!.DeepClone().AsObject() : new JsonObject { ["kernels"] = jsonRuns };
                if (jsonRuns.Count > 1)
                {
                    // The verdict over every release: the worst one.
                    var verdicts = jsonRuns.Select(x => (string?)x!["verdict"]).ToList();
                    o["verdict"] = verdicts.Contains(JsonContract.Violation) ? JsonContract.Violation : verdicts.Contains(JsonContract.Incomplete) ? JsonContract.Incomplete : JsonContract.Holds;
                    o["complete"] = jsonRuns.All(x => (bool)x!["complete"]!);
                }
                stdout.WriteLine(JsonContract.Stamp("compare", o).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            return r.GetValue(failOn) && anyViolation ? ExitCodes.Violation : ExitCodes.Ok;
        });
        return cmd;
    }

    private static List<string> Split(string? s) =>
        s == null ? [] : [.. s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>
    /// --policies: comma-separated, where a BPF object spec's own settings are comma-separated too
    /// (<c>x.bpf.o@a=1,b=2,local-on-peek</c>): a piece that names no policy of its own — not a built-in name, an object
    /// or an assembly — is one more setting of the BPF object spec before it.
    /// </summary>
    internal static List<string> SplitPolicies(string? s)
    {
        var list = new List<string>();
        foreach (var piece in Split(s))
        {
            var startsPolicy = PolicyRegistry.BuiltIn.Any(p => p.Name == piece) || BpfObjectSpec.TryParse(piece, out _, out _)
                || piece.Contains(".dll:", StringComparison.Ordinal);
            if (!startsPolicy && list.Count > 0 && BpfObjectSpec.TryParse(list[^1], out _, out _))
                list[^1] += (list[^1].Contains(".o@", StringComparison.Ordinal) ? "," : "@") + piece;
            else list.Add(piece);
        }
        return list;
    }

    private static List<Protocol> ParseProtocols(string? s)
    {
        var list = new List<Protocol>();
        foreach (var name in Split(s))
        {
            if (!Protocols.TryParse(name, out var p)) throw new UsageException($"unknown protocol '{name}' (one of: {string.Join(", ", Protocols.All.Select(x => x.Name))})");
            if (!list.Contains(p)) list.Add(p);
        }
        if (s != null && list.Count == 0) throw new UsageException("--protocols needs at least one protocol");
        return list;
    }

    private static List<Scenario> Scenarios(string[] specs)
    {
        try
        {
            var list = specs.Select(ScenarioLoader.Resolve).ToList();
            foreach (var s in list) s.RequireExplorable();
            return list;
        }
        catch (ScenarioException e)
        {
            throw new UsageException(e.Message);
        }
    }

    internal sealed record CellWitness(ComparisonCell Cell, Witness Witness, TraceRun? Run);

    private static List<CellWitness> Witnesses(ComparisonResult result, string text, double budget)
    {
        var list = new List<CellWitness>();
        foreach (var c in result.Cells.Where(c => c.Outcome == CellOutcome.Holds))
        {
            var config = c.Scenario.ToConfig(c.Policy, c.Protocol);
            var w = WitnessSearch.Find(config, text, budgetSeconds: budget);
            list.Add(new CellWitness(c, w, w.Trace is { } t ? TraceRunner.Run(config, t, c.Scenario.Checks) : null));
        }
        return list;
    }

    private static void PrintWitnesses(TextWriter o, List<CellWitness> witnesses, string text)
    {
        o.WriteLine();
        o.WriteLine($"witnesses: the shortest trace, in each cell that holds, whose kernel narration contains \"{text}\"");
        foreach (var (c, w, run) in witnesses)
        {
            var where = $"{c.Scenario.Name} × {c.Policy} × {Protocols.Name(c.Protocol)}";
            if (run == null)
            {
                o.WriteLine($"  {where}: {(w.Complete ? "not reachable" : "not found (budget)")} ({w.States} states searched)");
                continue;
            }
            o.WriteLine();
            o.WriteLine($"  {where}: reachable in {w.Trace!.Count} steps — \"{w.MatchedNote}\"");
            o.WriteLine();
            o.Write(CounterexampleRenderer.Render(run));
        }
    }

    private static JsonObject WitnessJson(CellWitness cw, string text) => new()
    {
        ["scenario"] = cw.Cell.Scenario.Name,
        ["policy"] = cw.Cell.Policy,
        ["protocol"] = Protocols.Name(cw.Cell.Protocol),
        ["text"] = text,
        ["reachable"] = cw.Witness.Trace != null,
        ["complete"] = cw.Witness.Complete,
        ["states"] = cw.Witness.States,
        ["note"] = cw.Witness.MatchedNote,
        ["steps"] = cw.Witness.Trace == null ? null : new JsonArray([.. cw.Witness.Trace.Select(a => (JsonNode?)cw.Cell.Actors[a])]),
    };

    /// <summary>One progress line on stderr, shown once the whole run has lasted a second.</summary>
    internal sealed class Progress(TextWriter stderr)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private string _cell = "";
        private bool _shown;

        public void Cell(int index, int count, string what)
        {
            _cell = $"[{index + 1}/{count}] {what}";
            Show("");
        }

        public void Search(ExploreStats s) => Show(string.Create(CultureInfo.InvariantCulture, $"  {s.Seconds,5:0.0} s {s.States,10:N0} states"));

        private void Show(string tail)
        {
            if (_clock.Elapsed.TotalSeconds < 1) return;
            _shown = true;
            var line = $"{_cell}{tail}";
            stderr.Write($"\r{line,-100}");
        }

        public void Clear()
        {
            if (_shown) stderr.Write($"\r{new string(' ', 100)}\r");
        }
    }
}
