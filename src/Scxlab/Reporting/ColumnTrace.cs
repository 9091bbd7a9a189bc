using System.Text;
using Scxlab.Driving;
using Scxlab.Kernel;

namespace Scxlab.Reporting;

/// <summary>
/// The CPU-column text trace, drawn the way the seed email draws races: one column per CPU and
/// one per external actor, time flowing down, each row one step of one actor with its narration.
/// A pure function of the steps.
/// </summary>
public static class ColumnTrace
{
    private const string Sep = " | ";
    private const int MinColumn = 18;

    /// <summary>
    /// Render <paramref name="steps"/> in columns. Every CPU and script actor gets a column; the
    /// helper actor (scx_disable) only if it stepped. Notes longer than a column wrap at spaces;
    /// continuation lines are indented by two. <paramref name="width"/> is the target line width.
    /// </summary>
    public static string Render(IReadOnlyList<ActorInfo> actors, IReadOnlyList<StepRecord> steps, int width = 120)
    {
        var stepped = new bool[actors.Count];
        foreach (var s in steps) stepped[s.Actor] = true;
        var cols = new List<int>();
        for (var a = 0; a < actors.Count; a++)
            if (actors[a].Kind != ActorKind.Helper || stepped[a]) cols.Add(a);

        // Columns that never stepped only need their name; the others share the rest.
        var indexWidth = Math.Max(1, (steps.Count - 1).ToString(System.Globalization.CultureInfo.InvariantCulture).Length);
        var colWidth = new int[actors.Count];
        var fixedWidth = indexWidth;
        var flex = 0;
        foreach (var a in cols)
        {
            fixedWidth += Sep.Length;
            if (stepped[a]) flex++;
            else fixedWidth += colWidth[a] = actors[a].Name.Length;
        }
        var share = flex == 0 ? 0 : Math.Max(MinColumn, (width - fixedWidth) / flex);
        foreach (var a in cols)
            if (stepped[a]) colWidth[a] = Math.Max(share, actors[a].Name.Length);

        var sb = new StringBuilder();
        var cells = new string[actors.Count];
        Array.Fill(cells, "");
        foreach (var a in cols) cells[a] = actors[a].Name;
        AppendRow(sb, "#".PadLeft(indexWidth), cols, colWidth, cells);
        sb.Append(new string('-', indexWidth));
        foreach (var a in cols) sb.Append("-+-").Append(new string('-', colWidth[a]));
        TrimEnd(sb);
        sb.Append('\n');

        foreach (var s in steps)
        {
            var lines = new List<string>();
            if (s.Notes.Count == 0) lines.Add("(step)");
            foreach (var note in s.Notes) Wrap(note, colWidth[s.Actor], lines);
            for (var i = 0; i < lines.Count; i++)
            {
                Array.Fill(cells, "");
                cells[s.Actor] = lines[i];
                var index = i == 0 ? s.Index.ToString(System.Globalization.CultureInfo.InvariantCulture) : "";
                AppendRow(sb, index.PadLeft(indexWidth), cols, colWidth, cells);
            }
        }
        return sb.ToString();
    }

    private static void AppendRow(StringBuilder sb, string index, List<int> cols, int[] colWidth, string[] cells)
    {
        sb.Append(index);
        foreach (var a in cols) sb.Append(Sep).Append(cells[a].PadRight(colWidth[a]));
        TrimEnd(sb);
        sb.Append('\n');
    }

    private static void TrimEnd(StringBuilder sb)
    {
        var n = sb.Length;
        while (n > 0 && sb[n - 1] == ' ') n--;
        sb.Length = n;
    }

    /// <summary>Word-wrap <paramref name="text"/> to <paramref name="width"/>, keeping its indentation; continuation lines are indented, words longer than a line are cut.</summary>
    internal static void Wrap(string text, int width, List<string> into)
    {
        // A note's leading spaces (narration nests callbacks and kfuncs under kernel paths) are kept,
        // up to half the column; continuation lines go two further.
        var lead = Math.Min(text.Length - text.TrimStart(' ').Length, width / 2);
        var prefix = new string(' ', lead);
        var indent = prefix + "  ";
        var cur = new StringBuilder();
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var w = word;
            while (w.Length > 0)
            {
                var avail = Math.Max(1, width - prefix.Length);
                var need = cur.Length == 0 ? w.Length : cur.Length + 1 + w.Length;
                if (need <= avail)
                {
                    if (cur.Length > 0) cur.Append(' ');
                    cur.Append(w);
                    break;
                }
                if (cur.Length > 0)
                {
                    into.Add(prefix + cur);
                    cur.Clear();
                    prefix = indent;
                    continue;
                }
                into.Add(prefix + w[..avail]);
                prefix = indent;
                w = w[avail..];
            }
        }
        if (cur.Length > 0) into.Add(prefix + cur);
    }
}
