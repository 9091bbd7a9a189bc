using System.Text;
using Scxlab.Simulation;

namespace Scxlab.Reporting;

/// <summary>
/// <c>simulate --html</c>: the report's metrics table (the rows the text report prints, one column per run),
/// the scheduler exits, and the plots inline as SVG (vector: the latency CDF and each run's utilisation
/// heatmap), in one self-contained page like <see cref="HtmlReport"/>.
/// </summary>
public static class SimulationHtml
{
    public static string Render(string workload, IReadOnlyList<SimResult> runs)
    {
        var sb = HtmlReport.Begin($"scxlab simulate {workload}");
        sb.Append("<p>").Append(HtmlReport.E($"policy {runs[0].Policy}, {runs[0].Cpus} CPUs, {runs[0].Tasks} tasks, {Durations.Format(runs[0].DurationNs)} of virtual time, seed {runs[0].Seed}")).Append("</p>\n");
        sb.Append("<table class=\"metrics\">\n<thead><tr><th>metric</th>");
        foreach (var r in runs) sb.Append("<th>").Append(HtmlReport.E(r.Protocol)).Append("</th>");
        sb.Append("</tr></thead>\n<tbody>\n");
        foreach (var (metric, values) in SimReport.Rows(runs))
        {
            sb.Append("<tr><th scope=\"row\">").Append(HtmlReport.E(metric)).Append("</th>");
            foreach (var v in values) sb.Append("<td>").Append(HtmlReport.E(v)).Append("</td>");
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody>\n</table>\n");
        var exits = runs.SelectMany(r => r.Exits.Select(e => (r.Protocol, e))).ToList();
        if (exits.Count > 0)
        {
            sb.Append("<h2>Scheduler exits</h2>\n<ul>\n");
            foreach (var (protocol, e) in exits)
                sb.Append("<li class=\"scheduler-exit\">").Append(HtmlReport.E($"{protocol}: at {Durations.Format(e.AtNs)}: {e.Kind}: {e.Message}")).Append("</li>\n");
            sb.Append("</ul>\n");
        }
        sb.Append("<h2>Wakeup-to-run latency</h2>\n<figure>").Append(Plots.Svg(Plots.LatencyCdf(workload, runs), 900, 550)).Append("</figure>\n");
        foreach (var r in runs)
        {
            sb.Append("<h2>Per-CPU utilisation · ").Append(HtmlReport.E(r.Protocol)).Append("</h2>\n<figure>")
              .Append(Plots.Svg(Plots.Utilisation(workload, r, vector: true), 1000, Math.Clamp(120 + 12 * r.Cpus, 300, 1400))).Append("</figure>\n");
        }
        return HtmlReport.End(sb);
    }
}
