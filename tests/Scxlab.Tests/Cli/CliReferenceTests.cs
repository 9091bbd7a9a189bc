using Scxlab.Cli;

namespace Scxlab.Tests.Cli;

/// <summary>docs/cli.md is generated from the parser's declarations; it must not drift from them.</summary>
public class CliReferenceTests
{
    private static string DocPath()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d != null && !File.Exists(Path.Combine(d.FullName, "Scxlab.slnx"))) d = d.Parent;
        return Path.Combine(d?.FullName ?? throw new InvalidOperationException("repository root not found"), "docs", "cli.md");
    }

    [Fact]
    public void Should_MatchTheParser_When_DocsCliMdIsRead()
    {
        var expected = CliReference.Markdown();
        var path = DocPath();
        if (Environment.GetEnvironmentVariable("SCXLAB_UPDATE_DOCS") == "1") File.WriteAllText(path, expected);
        Assert.True(File.Exists(path), "docs/cli.md is missing: run SCXLAB_UPDATE_DOCS=1 dotnet test --filter CliReferenceTests");
        Assert.True(File.ReadAllText(path) == expected, "docs/cli.md is stale: run SCXLAB_UPDATE_DOCS=1 dotnet test --filter CliReferenceTests");
    }

    [Fact]
    public void Should_DocumentEveryOptionOfEveryCommand_When_Generated()
    {
        var md = CliReference.Markdown();
        foreach (var c in Program.BuildRoot().Subcommands)
        {
            Assert.Contains($"## scxlab {c.Name}", md);
            foreach (var o in c.Options.Where(o => o is not System.CommandLine.Help.HelpOption))
            {
                Assert.Contains($"`{o.Name}", md);
                Assert.False(string.IsNullOrWhiteSpace(o.Description), $"{c.Name} {o.Name} has no description");
            }
        }
    }

    [Theory]
    [InlineData("scxlab ch", "check")]
    [InlineData("scxlab check seed-race-r", "seed-race-r2")]
    [InlineData("scxlab check seed-race-r2 --protocol ", "qseq-invalidate")]
    [InlineData("scxlab check seed-race-r2 --policy ", "local-on-peek")]
    [InlineData("scxlab check seed-race-r2 --kernel ", "7.2")]
    [InlineData("scxlab simulate ", "affinity-churn")]
    [InlineData("scxlab simulate mixed --pro", "--protocols")]
    [InlineData("scxlab fuzz churn-8cpu --strategy ", "pct")]
    public void Should_OfferCompletions_When_TheShellAsksThroughTheSuggestDirective(string line, string offered)
    {
        var r = CliResult.Run($"[suggest:{line.Length}]", line);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains(offered, r.Stdout.Split('\n', StringSplitOptions.TrimEntries));
    }

    [Theory]
    [InlineData("bash", "complete -o filenames -F _scxlab_complete scxlab")]
    [InlineData("zsh", "compdef _scxlab_complete scxlab")]
    [InlineData("fish", "complete -c scxlab")]
    public void Should_PrintAScriptThatAsksScxlab_When_CompletionsAreRequested(string shell, string line)
    {
        var r = CliResult.Run("completions", shell);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains(line, r.Stdout);
        Assert.Contains("[suggest:", r.Stdout);
    }

    [Theory]
    [InlineData("simulate", "mixed", "--cpus=2", "--duration=50ms", "--json")]
    [InlineData("check", "seed-race-r1", "--budget=5s", "--json")]
    [InlineData("check", "seed-race-r1", "--budget", "2500ms", "--json")]
    [InlineData("fuzz", "seed-race-r1", "--runs=5", "--budget=1m", "--jobs=1", "--json")]
    public void Should_AcceptEqualsSpellingAndDurationUnits_When_OptionsAreGiven(params string[] args)
    {
        var r = CliResult.Run(args);
        Assert.True(r.ExitCode is 0 or 2, r.Stderr);
        Assert.StartsWith("{", r.Stdout.TrimStart());
    }

    [Theory]
    [InlineData("check", "seed-race-r1", "--strategy", "bogus")]
    [InlineData("check", "seed-race-r1", "--jobs", "0")]
    [InlineData("simulate", "mixed", "--cpus", "0")]
    [InlineData("simulate", "mixed", "--duration", "-5s")]
    [InlineData("simulate", "mixed", "--frob")]
    [InlineData("replay")]
    [InlineData("inspect")]
    public void Should_NameTheCommandAndPointToItsHelp_When_AnOptionIsBad(params string[] args)
    {
        var r = CliResult.Run(args);
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.StderrLines);
        Assert.StartsWith($"scxlab {args[0]}: ", line);
        Assert.EndsWith($"(see 'scxlab {args[0]} --help')", line);
    }
}
