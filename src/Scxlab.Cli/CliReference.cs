using System.CommandLine;
using System.Text;

namespace Scxlab.Cli;

/// <summary>
/// docs/cli.md, generated from the same declarations the parser uses (a test fails when the file is
/// stale; <c>SCXLAB_UPDATE_DOCS=1 dotnet test --filter CliReferenceTests</c> rewrites it).
/// </summary>
public static class CliReference
{
    public static string Markdown()
    {
        var root = Program.BuildRoot();
        var b = new StringBuilder();
        b.Append("# scxlab command line\n\n");
        b.Append("<!-- Generated from the parser's declarations (src/Scxlab.Cli/CliReference.cs); do not edit by hand. -->\n\n");
        b.Append(root.Description).Append("\n\n");
        b.Append("Every command: `--help` shows this page's section with examples; `--name value` and `--name=value` are the same; ");
        b.Append("durations take units (`5s`, `250ms`, `100us`; a `--budget` without one is seconds). ");
        b.Append("Bad input is one line on stderr, `scxlab COMMAND: what (see 'scxlab COMMAND --help')`, and exit code 1.\n\n");
        b.Append("Exit codes: 0 ran and nothing violated, 1 bad input or usage, 2 violation or scheduler exit found, ");
        b.Append("3 internal error, 4 incomplete (a budget or bound stopped the search, or the scheduler reached something the model does not cover).\n\n");
        b.Append("Shell completion: `eval \"$(scxlab completions bash)\"` (or `zsh`, `fish`).\n\n");
        b.Append("| command | what it does |\n|---|---|\n");
        foreach (var c in root.Subcommands) b.Append($"| [`{c.Name}`](#scxlab-{c.Name}) | {Cell(c.Description)} |\n");
        b.Append('\n');
        foreach (var c in root.Subcommands) Command(b, c);
        return b.ToString();
    }

    private static void Command(StringBuilder b, Command c)
    {
        b.Append($"## scxlab {c.Name}\n\n{c.Description}\n\n");
        var args = string.Concat(c.Arguments.Select(a => a.Arity.MinimumNumberOfValues == 0 ? $" [{a.Name}]" : $" {a.Name}"));
        b.Append($"```\nscxlab {c.Name}{args}{(c.Options.Any(o => o is not System.CommandLine.Help.HelpOption) ? " [options]" : "")}\n```\n\n");
        if (c.Arguments.Count > 0)
        {
            b.Append("| argument | |\n|---|---|\n");
            foreach (var a in c.Arguments) b.Append($"| `{a.Name}` | {Cell(a.Description)} |\n");
            b.Append('\n');
        }
        var options = c.Options.Where(o => o is not System.CommandLine.Help.HelpOption).ToList();
        if (options.Count > 0)
        {
            b.Append("| option | |\n|---|---|\n");
            foreach (var o in options)
            {
                var value = o.Arity.MaximumNumberOfValues == 0 || o.ValueType == typeof(bool) ? "" : $" {o.HelpName ?? "VALUE"}";
                var repeat = o.Arity.MaximumNumberOfValues > 1 ? " (repeatable)" : "";
                b.Append($"| `{Cell(o.Name + value)}` | {Cell(o.Description)}{repeat} |\n");
            }
            b.Append('\n');
        }
        if (c is ScxCommand { Examples.Count: > 0 } sc)
        {
            b.Append("```sh\n");
            foreach (var e in sc.Examples) b.Append(e).Append('\n');
            b.Append("```\n\n");
        }
        foreach (var sub in c.Subcommands) Command(b, sub);
    }

    private static string Cell(string? s) => (s ?? "").Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
