using System.Text;
using Scxlab.Cli;
using Scxlab.Reporting;

namespace Scxlab.Tests.Cli;

/// <summary>Tables: boxed and fitted to a terminal's width (Spectre.Console), plain text for files and pipes.</summary>
public class TerminalTablesTests
{
    private static readonly string[] Header = ["scenario", "policy", "upstream", "qseq-invalidate", "fallback-dsq"];

    private static readonly string[][] Rows =
    [
        ["seed-race-r2", "local-on-pop", "exit [1]", "holds", "holds"],
        ["seed-race-r2", "local-on-peek", "exit [1]", "FORGOTTEN [2]", "n/a: needs cookie"],
    ];

    [Theory]
    [InlineData(60)]
    [InlineData(80)]
    [InlineData(200)]
    public void Should_FitTheWidthAndKeepEveryWord_When_BoxedForATerminal(int width)
    {
        var sb = new StringBuilder();
        TerminalTables.Boxed(width)(sb, Header, Rows, Header.Length);
        var lines = sb.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (width >= 80) Assert.All(lines, l => Assert.True(l.TrimEnd('\r').Length <= width, $"{l.Length} > {width}: {l}"));
        var text = sb.ToString();
        // Boxed when whole words fit (at 60 they do not: then plain, which the terminal wraps).
        Assert.Equal(width >= 80, lines[0].StartsWith('╭'));
        // Names are never broken; the scenario is written once for its group of rows.
        Assert.Contains("local-on-peek", text);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, "seed-race-r2"));
        foreach (var word in new[] { "FORGOTTEN", "exit", "holds" }) Assert.Contains(word, text);
    }

    [Fact]
    public void Should_WriteNoBoxOrEscapeCodes_When_Plain()
    {
        var sb = new StringBuilder();
        TextTables.Plain(sb, Header, Rows, Header.Length);
        var text = sb.ToString();
        Assert.DoesNotContain("╭", text);
        Assert.DoesNotContain("\u001b", text);
        Assert.StartsWith("scenario      policy", text);
    }

    [Fact]
    public void Should_PrintPlainTables_When_StdoutIsNotATerminal()
    {
        var r = CliResult.Run("compare", "seed-race-r1", "--budget", "5");
        Assert.Equal(0, r.ExitCode);
        Assert.DoesNotContain("╭", r.Stdout);
        Assert.Contains("seed-race-r1  local-on-pop  exit [1]", r.Stdout);
    }
}
