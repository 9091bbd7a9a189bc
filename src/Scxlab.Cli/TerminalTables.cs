using Scxlab.Reporting;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Scxlab.Cli;

/// <summary>
/// Tables for a terminal, drawn with Spectre.Console: boxed, fitted to the terminal's width (long cells
/// wrap instead of pushing columns off screen), verdict words coloured. Output that is not a terminal
/// gets <see cref="TextTables.Plain"/>, so files, pipes and tests see stable, greppable text.
/// </summary>
public static class TerminalTables
{
    /// <summary>The table writer for this run's stdout: boxed on a terminal, plain otherwise.</summary>
    internal static TableWriter ForStdout() =>
        Program.TablesOnStdout ? Boxed(SafeWidth(), colour: !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null) : TextTables.Plain;

    /// <summary>Boxed tables at most <paramref name="width"/> columns wide.</summary>
    /// When even whole words do not fit (every column at its longest word, plus the box), the table is
    /// written plain: a terminal wraps long lines, which beats words broken across cells.
    public static TableWriter Boxed(int width, bool colour = false) => (sb, header, rows, rightAlignFrom) =>
    {
        if (MinimumWidth(header, rows, Math.Min(rightAlignFrom, 2)) > width)
        {
            TextTables.Plain(sb, header, rows, rightAlignFrom);
            return;
        }
        var buffer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(buffer),
            Ansi = colour ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = colour ? ColorSystemSupport.Standard : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = width;
        var table = new Table().Border(TableBorder.Rounded);
        if (header.All(h => h.Length == 0)) table.HideHeaders();
        // Names (the label columns) never break mid-word; value cells wrap at spaces when the terminal is narrow.
        var labels = Math.Min(rightAlignFrom, 2);
        for (var i = 0; i < header.Length; i++)
        {
            var column = new TableColumn(new Text(header[i], new Style(decoration: Decoration.Bold))) { Alignment = i >= rightAlignFrom ? Justify.Right : Justify.Left };
            if (i < labels) column.NoWrap();
            table.AddColumn(column);
        }
        string? last = null;
        foreach (var row in rows)
        {
            var cells = new IRenderable[header.Length];
            for (var i = 0; i < header.Length; i++)
            {
                var text = i < row.Length ? row[i] : "";
                if (i == 0 && text == last) text = ""; // the scenario once per group, as in the plain table
                cells[i] = new Text(text, colour ? StyleOf(text) : Style.Plain);
            }
            last = row.Length > 0 ? row[0] : null;
            table.AddRow(cells);
        }
        console.Write(table);
        sb.Append(buffer.ToString());
    };

    /// <summary>The narrowest box that breaks no word: label columns whole, the others at their longest word.</summary>
    private static int MinimumWidth(string[] header, IReadOnlyList<string[]> rows, int labels)
    {
        var total = 3 * header.Length + 1; // "│ " before each column, " " after, and the closing "│"
        for (var i = 0; i < header.Length; i++)
        {
            var cells = rows.Select(r => i < r.Length ? r[i] : "").Prepend(header[i]);
            total += i < labels
                ? cells.Max(c => c.Length)
                : cells.SelectMany(c => c.Split(' ')).Max(w => w.Length);
        }
        return total;
    }

    /// <summary>Verdict words: green holds, yellow exit/incomplete, red for a forgotten task or a violation.</summary>
    private static Style StyleOf(string cell) => cell.Split(' ')[0] switch
    {
        "holds" => new Style(Color.Green),
        "exit" or "incomplete" => new Style(Color.Yellow),
        "FORGOTTEN" or "VIOLATION" => new Style(Color.Red, decoration: Decoration.Bold),
        _ => Style.Plain,
    };

    private static int SafeWidth()
    {
        try
        {
            var w = Console.WindowWidth;
            return w >= 40 ? w : 120;
        }
        catch (IOException)
        {
            return 120;
        }
    }
}
