using System.Text;

namespace Scxlab.Reporting;

/// <summary>
/// Writes a table of strings into a report. The reports (the comparison matrix and its cost table,
/// the simulation report) hand their rows to one of these, so the CLI can draw boxed tables that fit
/// a terminal while files and pipes get <see cref="TextTables.Plain"/>.
/// </summary>
/// <param name="rightAlignFrom">The first column whose cells are right-aligned (numbers); header.Length for none.</param>
public delegate void TableWriter(StringBuilder sb, string[] header, IReadOnlyList<string[]> rows, int rightAlignFrom);

public static class TextTables
{
    /// <summary>
    /// Plain text for files and pipes: columns padded with spaces, a dashed rule under the header (none
    /// when the header is empty), a first-column value repeated on consecutive rows written once.
    /// </summary>
    public static readonly TableWriter Plain = (sb, header, rows, rightAlignFrom) =>
    {
        var n = header.Length;
        var widths = new int[n];
        foreach (var row in rows.Prepend(header))
            for (var i = 0; i < n && i < row.Length; i++) widths[i] = Math.Max(widths[i], row[i].Length);
        void Line(string[] cells) => sb.AppendLine(string.Join("  ", cells.Select((x, i) => i >= rightAlignFrom ? x.PadLeft(widths[i]) : x.PadRight(widths[i]))).TrimEnd());
        if (header.Any(h => h.Length > 0))
        {
            Line(header);
            Line([.. widths.Select(w => new string('-', w))]);
        }
        string? last = null;
        foreach (var row in rows)
        {
            Line(row[0] == last ? ["", .. row[1..]] : row);
            last = row[0];
        }
    };
}
