using System.Globalization;
using System.Net;
using System.Text;
using Scxlab.Comparison;
using Scxlab.Exploration;
using Scxlab.Kernel;

namespace Scxlab.Reporting;

/// <summary>
/// One self-contained HTML page for a protocol comparison (<c>scxlab report</c>, <c>compare --html</c>):
/// the verdict matrix, each violating cell linked to its counterexample drawn in CPU columns (one table
/// column per actor, time going down, as <see cref="CounterexampleRenderer"/> prints it), and for a forgotten
/// task the explanation read off the replay. Inline CSS, no script and no external resource, so the file
/// opens anywhere, offline, and a browser has nothing to fetch or run.
/// </summary>
public static class HtmlReport
{
    /// <summary>A comparison run, with the kernel release it was run for (null = each scenario's own).</summary>
    public sealed record Run(KernelEra? Kernel, ComparisonResult Result);

    /// <summary>The start of a page: doctype, title, the shared inline style, the heading.</summary>
    public static StringBuilder Begin(string title)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        sb.Append("<title>").Append(E(title)).Append("</title>\n<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n");
        sb.Append("<h1 id=\"top\">").Append(E(title)).Append("</h1>\n");
        return sb;
    }

    public static string End(StringBuilder sb) => sb.Append("</body>\n</html>\n").ToString();

    /// <summary>
    /// <c>check --html</c>: the verdict and what the search covered, and each violation's shortest trace replayed
    /// and drawn in CPU columns.
    /// </summary>
    public static string Check(Scenarios.Scenario scenario, ModelConfig config, ExploreResult result, IReadOnlyList<string> checks)
    {
        var sb = Begin($"scxlab check {scenario.Name}");
        if (!string.IsNullOrEmpty(scenario.Description)) sb.Append("<p>").Append(E(scenario.Description)).Append("</p>\n");
        var verdict = result.Verdict switch
        {
            Verdict.Holds => "holds",
            Verdict.Violation => "violation",
            Verdict.Incomplete => "incomplete",
            _ => throw new System.Diagnostics.UnreachableException($"verdict {result.Verdict}"),
        };
        sb.Append("<table class=\"matrix\"><tbody>\n");
        void Row(string k, string v, string cls = "") => sb.Append("<tr><th scope=\"row\">").Append(E(k)).Append("</th><td").Append(cls.Length > 0 ? $" class=\"{cls}\"" : "").Append('>').Append(E(v)).Append("</td></tr>\n");
        Row("verdict", verdict, verdict == "holds" ? "holds" : verdict == "violation" ? "violation" : "incomplete");
        Row("policy", Policies.BpfObjectSpec.Short(config.PolicyName));
        Row("protocol", Protocols.Name(config.Protocol));
        Row("kernel", KernelEras.Name(config.Kernel));
        Row("search", string.Create(CultureInfo.InvariantCulture, $"{result.Strategy.ToString().ToLowerInvariant()}: {result.Stats.States:N0} states, {result.Stats.Transitions:N0} transitions, {result.Stats.Seconds:0.00} s"));
        if (result.IncompleteReason != null) Row("incomplete", result.IncompleteReason);
        sb.Append("</tbody></table>\n");
        var n = 0;
        foreach (var (title, found) in result.Violations.Select(v => ("violation", v)).Concat(result.Warnings.Select(w => ("warning", w))))
        {
            var run = TraceRunner.Run(config, found.Trace, checks);
            sb.Append("<section id=\"finding-").Append(++n).Append("\" class=\"counterexample\">\n<h2>").Append(title).Append(": ")
              .Append(E(found.Violation.Name)).Append("</h2>\n<p class=\"finding ").Append(title).Append("\">").Append(E(found.Violation.Message)).Append("</p>\n");
            sb.Append("<p>Shortest trace: ").Append(found.Trace.Count.ToString(CultureInfo.InvariantCulture)).Append(" steps.</p>\n");
            Trace(sb, run);
            if (run.Divergence != null) sb.Append("<p class=\"warning\">The trace did not reproduce: ").Append(E(run.Divergence)).Append("</p>\n");
            sb.Append("</section>\n");
        }
        return End(sb);
    }

    public static string Compare(IReadOnlyList<Run> runs, string title)
    {
        var sb = Begin(title);
        sb.Append("<p class=\"lede\">Every cell is an exhaustive exploration of the scenario under the protocol with the policy. ")
          .Append("A cell with a finding links to its shortest counterexample, replayed on the model and drawn one column per CPU.</p>\n");
        var cellNo = 0;
        var sections = new StringBuilder();
        foreach (var run in runs)
        {
            var r = run.Result;
            if (run.Kernel is { } k) sb.Append("<h2>kernel ").Append(E(KernelEras.Name(k))).Append("</h2>\n");
            sb.Append("<table class=\"matrix\">\n<thead><tr><th>scenario</th><th>policy</th>");
            foreach (var p in r.Protocols) sb.Append("<th>").Append(E(Protocols.Name(p))).Append("</th>");
            sb.Append("</tr></thead>\n<tbody>\n");
            foreach (var (scenario, policy) in r.Rows())
            {
                sb.Append("<tr><th scope=\"row\">").Append(E(scenario.Name)).Append("</th><td>").Append(E(policy)).Append("</td>");
                foreach (var p in r.Protocols)
                {
                    var c = r.Cell(scenario.Name, policy, p);
                    if (c == null)
                    {
                        sb.Append("<td></td>");
                        continue;
                    }
                    var cls = CellOutcomes.JsonName(c.Outcome);
                    var word = Word(c);
                    var cost = c.Stats == null ? "" : string.Create(CultureInfo.InvariantCulture, $"<span class=\"cost\">{c.Stats.States:N0} states, {c.Seconds:0.00} s</span>");
                    if (c.Primary is { } f)
                    {
                        var id = $"cell-{++cellNo}";
                        sb.Append("<td class=\"").Append(cls).Append("\"><a href=\"#").Append(id).Append("\">").Append(E(word)).Append("</a>").Append(cost).Append("</td>");
                        Section(sections, id, run.Kernel, c, f);
                    }
                    else
                    {
                        var tip = c.Outcome == CellOutcome.Incomplete ? $" title=\"{E(c.IncompleteReason ?? "")}\"" : "";
                        sb.Append("<td class=\"").Append(cls).Append('"').Append(tip).Append('>').Append(E(word)).Append(cost).Append("</td>");
                    }
                }
                sb.Append("</tr>\n");
            }
            sb.Append("</tbody>\n</table>\n");
        }
        sb.Append("<p class=\"legend\"><span class=\"holds\">holds</span> complete search, nothing violated · ")
          .Append("<span class=\"scheduler-exit\">exit</span> the scheduler was ended (loud; the kernel parks the task) · ")
          .Append("<span class=\"task-forgotten\">FORGOTTEN</span> a runnable task nobody will dispatch (silent) · ")
          .Append("<span class=\"violation\">VIOLATION</span> another invariant or a kernel assertion · ")
          .Append("<span class=\"incomplete\">incomplete</span> a budget stopped the search · ")
          .Append("<span class=\"not-applicable\">n/a</span> the policy needs another protocol</p>\n");
        sb.Append(sections);
        return End(sb);
    }

    private static string Word(ComparisonCell c) => c.Outcome switch
    {
        CellOutcome.Holds => "holds",
        CellOutcome.SchedulerExit => "exit",
        CellOutcome.TaskForgotten => "FORGOTTEN",
        CellOutcome.OtherViolation => "VIOLATION",
        CellOutcome.Incomplete => "incomplete",
        CellOutcome.NotApplicable => $"n/a: needs {Protocols.Name(c.RequiredProtocol!.Value)}",
        _ => throw new System.Diagnostics.UnreachableException($"cell outcome {c.Outcome}"),
    };

    private static void Section(StringBuilder sb, string id, KernelEra? kernel, ComparisonCell c, CellFinding f)
    {
        var config = c.Scenario.ToConfig(c.Policy, c.Protocol, kernel: kernel);
        var run = TraceRunner.Run(config, f.Trace, c.Scenario.Checks);
        sb.Append("<section id=\"").Append(id).Append("\" class=\"counterexample\">\n");
        sb.Append("<h2>").Append(E(c.Scenario.Name)).Append(" · ").Append(E(c.Policy)).Append(" · ").Append(E(Protocols.Name(c.Protocol)));
        if (kernel is { } k) sb.Append(" · kernel ").Append(E(KernelEras.Name(k)));
        sb.Append(" <a class=\"back\" href=\"#top\">↑ matrix</a></h2>\n");
        if (!string.IsNullOrEmpty(c.Scenario.Description)) sb.Append("<p>").Append(E(c.Scenario.Description)).Append("</p>\n");
        sb.Append("<p class=\"finding ").Append(CellOutcomes.JsonName(f.Outcome)).Append("\">").Append(E(MatrixReport.FindingText(f))).Append("</p>\n");
        sb.Append("<p>Shortest trace: ").Append(f.Trace.Count.ToString(CultureInfo.InvariantCulture)).Append(" steps");
        if (f.TraceFile != null) sb.Append(", saved as <code>").Append(E(Path.GetFileName(f.TraceFile))).Append("</code> (<code>scxlab replay FILE</code>)");
        sb.Append(".</p>\n");
        Trace(sb, run);
        if (run.Divergence != null) sb.Append("<p class=\"warning\">The trace did not reproduce: ").Append(E(run.Divergence)).Append("</p>\n");
        if (f.Outcome == CellOutcome.TaskForgotten && ForgottenTaskExplanation.Explain(config, f.Trace) is { } why)
        {
            sb.Append("<h3>Why the task is forgotten</h3>\n<ul class=\"why\">\n");
            foreach (var line in why.Lines()) sb.Append("<li>").Append(E(line.TrimStart('-', ' '))).Append("</li>\n");
            sb.Append("</ul>\n");
        }
        else if (f.TaskEnds.Count > 0)
        {
            sb.Append("<h3>Where the tasks ended</h3>\n<ul>\n");
            foreach (var e in f.TaskEnds) sb.Append("<li>").Append(E(e)).Append("</li>\n");
            sb.Append("</ul>\n");
        }
        sb.Append("</section>\n");
    }

    /// <summary>The counterexample as a table: one column per actor (CPUs first), one row per step.</summary>
    public static void Trace(StringBuilder sb, TraceRun run)
    {
        sb.Append("<table class=\"trace\">\n<thead><tr><th>step</th>");
        foreach (var col in run.Columns) sb.Append("<th>").Append(E(col)).Append("</th>");
        sb.Append("</tr></thead>\n<tbody>\n");
        foreach (var row in run.Rows)
        {
            var outcome = run.OutcomeStep == row.Index;
            sb.Append(outcome ? "<tr class=\"outcome\">" : "<tr>").Append("<td class=\"step\">").Append(row.Index.ToString(CultureInfo.InvariantCulture)).Append("</td>");
            for (var c = 0; c < run.Columns.Count; c++)
            {
                if (run.ColumnActors[c] != row.Actor)
                {
                    sb.Append("<td></td>");
                    continue;
                }
                sb.Append("<td class=\"act\">");
                foreach (var n in row.Notes) sb.Append("<div>").Append(E(n)).Append("</div>");
                foreach (var ch in row.Changes) sb.Append("<div class=\"change\">· ").Append(E(ch)).Append("</div>");
                if (row.Notes.Count == 0 && row.Changes.Count == 0) sb.Append("<div>(step)</div>");
                sb.Append("</td>");
            }
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody>\n</table>\n");
        if (run.HiddenColumns > 0)
            sb.Append("<p>").Append(run.HiddenColumns.ToString(CultureInfo.InvariantCulture)).Append(" CPUs and actors that take no step are not shown.</p>\n");
    }

    public static string E(string s) => WebUtility.HtmlEncode(s);

    private const string Css = """
        body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em 2em; color: #1b1b1b; }
        h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1em; }
        table { border-collapse: collapse; margin: 0.8em 0; }
        th, td { border: 1px solid #c8c8c8; padding: 0.3em 0.6em; vertical-align: top; text-align: left; }
        thead th { background: #f0f0f0; }
        .matrix td a { font-weight: 600; color: inherit; }
        .cost { display: block; font-size: 0.8em; color: #555; }
        .holds { background: #e3f5e1; } .scheduler-exit { background: #fff1cc; }
        .task-forgotten { background: #f9c9c9; } .violation { background: #f4b4e0; }
        .incomplete { background: #e4e4f4; } .not-applicable { background: #f4f4f4; color: #777; }
        .legend span { padding: 0 0.3em; }
        .trace { font: 12px/1.35 ui-monospace, monospace; }
        .trace td.act { background: #fafafa; min-width: 18em; }
        .trace td.step { color: #777; text-align: right; }
        .trace .change { color: #3451a1; }
        .trace tr.outcome td.act { outline: 2px solid #c0392b; }
        .finding { font-weight: 600; padding: 0.4em 0.6em; }
        .warning { color: #a40000; }
        .metrics td { text-align: right; font-variant-numeric: tabular-nums; }
        figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
        a.back { font-size: 0.75em; font-weight: normal; margin-left: 1em; }
        """;
}
