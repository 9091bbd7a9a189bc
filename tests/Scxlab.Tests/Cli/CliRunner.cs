namespace Scxlab.Tests.Cli;

/// <summary>Runs the scxlab entry point in-process and captures what it prints.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StdoutLines => Stdout.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
    public string[] StderrLines => Stderr.Length == 0 ? [] : Stderr.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');

    public static CliResult Run(params string[] args) => Run(CancellationToken.None, args);

    /// <summary>Run with an interrupt token: a cancelled token is what Ctrl-C does to a real run.</summary>
    public static CliResult Run(CancellationToken interrupt, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var code = Scxlab.Cli.Program.Run(args, o, e, interrupt);
        return new CliResult(code, o.ToString(), e.ToString());
    }
}
