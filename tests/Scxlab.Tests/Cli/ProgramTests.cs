using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Tests.Cli;

public class ProgramTests
{
    [Fact]
    public void Should_ListEveryBuiltInPolicyOnOneLine_When_ListPolicies()
    {
        var r = CliResult.Run("list", "policies");

        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stderr);
        var lines = r.StdoutLines;
        Assert.Equal(PolicyRegistry.BuiltIn.Count, lines.Length);
        foreach (var p in PolicyRegistry.BuiltIn)
        {
            var line = Assert.Single(lines, l => l.StartsWith(p.Name + " ", StringComparison.Ordinal));
            Assert.Contains(p.Description, line);
        }
    }

    [Fact]
    public void Should_ListEveryProtocolByItsKebabName_When_ListProtocols()
    {
        var r = CliResult.Run("list", "protocols");

        Assert.Equal(0, r.ExitCode);
        var lines = r.StdoutLines;
        Assert.Equal(Enum.GetValues<Protocol>().Length, lines.Length);
        foreach (var p in Enum.GetValues<Protocol>())
            Assert.Single(lines, l => l.StartsWith(Protocols.Name(p) + " ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("qseq-invalidate ", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_PrintEverySection_When_ListWithoutArgument()
    {
        var r = CliResult.Run("list");

        Assert.Equal(0, r.ExitCode);
        foreach (var section in new[] { "policies:", "protocols:", "scenarios:", "invariants:" })
            Assert.Contains(section, r.StdoutLines);
    }

    [Theory]
    [InlineData("bogus")]
    [InlineData("list", "bogus")]
    [InlineData("demo", "--frob")]
    [InlineData("demo", "--width", "abc")]
    [InlineData("demo", "--width", "10")]
    [InlineData("demo", "--protocol", "nope")]
    [InlineData("demo", "--policy", "nope")]
    [InlineData("demo", "--policy", "missing.dll:Ns.Type")]
    [InlineData("list", "policies", "extra")]
    [InlineData]
    public void Should_ExitOneWithOneLineOnStderr_When_UsageIsBad(params string[] args)
    {
        var r = CliResult.Run(args);

        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.StderrLines);
        // Named after the command the line selected: "scxlab demo: ...", "scxlab: ..." for the root.
        Assert.Matches(args.Length > 0 && args[0] is "demo" or "list" ? $"^scxlab {args[0]}: " : "^scxlab: ", line);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.DoesNotContain("internal error", r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void Should_NameTheUnknownToken_When_CommandIsUnknown()
    {
        var r = CliResult.Run("frobnicate");

        Assert.Contains("'frobnicate'", Assert.Single(r.StderrLines));
    }

    [Fact]
    public void Should_ExitZeroAndPrintTheKernelError_When_DemoScripted()
    {
        var r = CliResult.Run("demo", "--scripted");

        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stderr);
        Assert.Contains($"SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for p[{TestModels.PidP}]", r.Stdout);
        Assert.Contains("outcome: scheduler exit SCX_EXIT_ERROR", r.Stdout);
        Assert.Contains("outcome: no scheduler exit", r.Stdout); // the late change
        Assert.Contains("p[101]: on SCX_DSQ_GLOBAL", r.Stdout);
        // The trace has one column per CPU and one per script actor.
        Assert.Contains(r.StdoutLines, l => l.Contains("| CPU0 ", StringComparison.Ordinal) && l.Contains("| CPU1 ", StringComparison.Ordinal) && l.Contains("| taskset", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_KeepEveryTraceLineWithinTheWidth_When_DemoWidthIsGiven()
    {
        var r = CliResult.Run("demo", "--scripted", "--width", "80");

        Assert.Equal(0, r.ExitCode);
        foreach (var l in r.StdoutLines.Where(l => l.Contains(" | ", StringComparison.Ordinal)))
            Assert.True(l.Length <= 80, $"{l.Length} > 80: {l}");
    }

    [Fact]
    public void Should_ListTheCommandsAndExamples_When_Help()
    {
        var r = CliResult.Run("--help");

        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stderr);
        Assert.Contains("Usage:", r.Stdout);
        Assert.Contains(r.StdoutLines, l => l.TrimStart().StartsWith("demo ", StringComparison.Ordinal));
        Assert.Contains(r.StdoutLines, l => l.TrimStart().StartsWith("list ", StringComparison.Ordinal));
        Assert.Contains("Examples:", r.Stdout);
        Assert.Contains("scxlab demo", r.Stdout);
        Assert.Contains("Exit codes:", r.Stdout);
    }

    [Fact]
    public void Should_ShowTheCommandsOwnOptionsAndExamples_When_CommandHelp()
    {
        var r = CliResult.Run("demo", "--help");

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("--protocol", r.Stdout);
        Assert.Contains("--policy", r.Stdout);
        Assert.Contains("--scripted", r.Stdout);
    }

    [Fact]
    public void Should_PrintTheVersion_When_Version()
    {
        var r = CliResult.Run("--version");

        Assert.Equal(0, r.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", r.Stdout);
    }
}
