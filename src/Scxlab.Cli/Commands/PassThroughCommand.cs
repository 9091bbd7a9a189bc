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
            var tokens = (r.GetValue(rest) ?? []).Concat(r.UnmatchedTokens).ToArray();
            return run(tokens, r.InvocationConfiguration.Output, r.InvocationConfiguration.Error);
        });
        return cmd;
    }
}
