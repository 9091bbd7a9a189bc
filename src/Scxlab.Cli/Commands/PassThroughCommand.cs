using System.CommandLine;

namespace Scxlab.Cli.Commands;

/// <summary>
/// A subcommand that parses its own options (check, replay): System.CommandLine routes every
/// token after the command name to the command's <c>Run(args, stdout, stderr)</c>.
/// </summary>
internal static class PassThroughCommand
{
    public static ScxCommand Create(string name, string description, string usage, IReadOnlyList<string> examples, Func<string[], TextWriter, TextWriter, int> run)
    {
        var rest = new Argument<string[]>("arguments")
        {
            Description = usage,
            Arity = ArgumentArity.ZeroOrMore,
        };
        var cmd = new ScxCommand(name, description) { Examples = examples, TreatUnmatchedTokensAsErrors = false };
        cmd.Arguments.Add(rest);
        cmd.SetAction(r =>
        {
            var tokens = ExpandEquals((r.GetValue(rest) ?? []).Concat(r.UnmatchedTokens));
            return run(tokens, r.InvocationConfiguration.Output, new OneLineMessages(r.InvocationConfiguration.Error));
        });
        return cmd;
    }

    /// <summary><c>--name=value</c> as <c>--name value</c>, the spelling System.CommandLine accepts for the other commands.</summary>
    internal static string[] ExpandEquals(IEnumerable<string> tokens)
    {
        var list = new List<string>();
        foreach (var t in tokens)
        {
            var eq = t.IndexOf('=');
            if (t.StartsWith("--", StringComparison.Ordinal) && eq > 2)
            {
                list.Add(t[..eq]);
                list.Add(t[(eq + 1)..]);
            }
            else list.Add(t);
        }
        return [.. list];
    }
}

/// <summary>
/// Keeps every message written with WriteLine on one line (an exception message may quote a file's
/// content), so errors stay one line on stderr whatever produced them.
/// </summary>
internal sealed class OneLineMessages(TextWriter inner) : TextWriter
{
    public override System.Text.Encoding Encoding => inner.Encoding;
    public override void Write(char value) => inner.Write(value);
    public override void Write(string? value) => inner.Write(value);
    public override void WriteLine(string? value) =>
        inner.WriteLine(value == null ? null : Scenarios.InputText.OneLine(value));
    public override void Flush() => inner.Flush();
}
