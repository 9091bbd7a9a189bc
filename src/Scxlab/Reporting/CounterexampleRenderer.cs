using System.Text;
using Scxlab.Exploration;

namespace Scxlab.Reporting;

/// <summary>
/// Prints a replayed trace the way kernel developers draw races: one column per CPU and one per
/// script actor, time going down, each step's narration in its actor's column followed by the
/// state it changed (ops_state/qseq, DSQ and queue contents), marked with "·".
/// </summary>
public static class CounterexampleRenderer
{
    public const int MaxColumnWidth = 44;

    public static string Render(TraceRun run)
    {
        var sb = new StringBuilder();
        var cols = run.Columns.Count;
        var width = Math.Clamp(200 / Math.Max(1, cols), 30, MaxColumnWidth);
        sb.Append("      ");
        for (var c = 0; c < cols; c++) sb.Append(Pad(run.Columns[c], width));
        sb.AppendLine().Append("      ");
        for (var c = 0; c < cols; c++) sb.Append(Pad(new string('-', width - 2), width));
        sb.AppendLine();
        if (run.HiddenColumns > 0)
            sb.Append("      (").Append(run.HiddenColumns).Append(run.HiddenColumns == 1 ? " CPU or actor" : " CPUs and actors").AppendLine(" that take no step not shown)");
        foreach (var row in run.Rows)
        {
            var col = -1;
            for (var c = 0; c < cols; c++)
                if (run.ColumnActors[c] == row.Actor) col = c;
            var lines = new List<string>();
            foreach (var n in row.Notes) lines.AddRange(Wrap(n, width - 2));
            foreach (var ch in row.Changes) lines.AddRange(Wrap("· " + ch, width - 2));
            if (lines.Count == 0) lines.Add("(step)");
            for (var i = 0; i < lines.Count; i++)
            {
                sb.Append(i == 0 ? $"{row.Index,4}  " : "      ");
                sb.Append(new string(' ', width * Math.Max(0, col)));
                sb.Append(lines[i].TrimEnd());
                sb.AppendLine();
            }
        }
        return sb.ToString();
    }

    private static string Pad(string s, int w) => s.Length >= w ? s[..(w - 1)] + " " : s + new string(' ', w - s.Length);

    private static IEnumerable<string> Wrap(string s, int width)
    {
        var indent = s.StartsWith("· ", StringComparison.Ordinal) ? "    " : "  ";
        var first = true;
        while (s.Length > 0)
        {
            var w = first ? width : width - indent.Length;
            if (s.Length <= w)
            {
                yield return first ? s : indent + s;
                yield break;
            }
            var cut = s.LastIndexOf(' ', w);
            if (cut <= w / 3) cut = w;
            yield return first ? s[..cut] : indent + s[..cut];
            s = s[cut..].TrimStart();
            first = false;
        }
    }
}
