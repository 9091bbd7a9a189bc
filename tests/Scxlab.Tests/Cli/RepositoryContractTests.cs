using System.Text.RegularExpressions;

namespace Scxlab.Tests.Cli;

/// <summary>The README's promises about set-up that CI must keep.</summary>
public partial class RepositoryContractTests
{
    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Scxlab.slnx"))) return d.FullName;
        throw new InvalidOperationException("repository root (Scxlab.slnx) not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^(dotnet [^#\n]*?)\s+#", RegexOptions.Multiline)]
    private static partial Regex ReadmeCommand();

    [Fact]
    public void Should_RunTheReadmesCommands_When_CiRuns()
    {
        var root = RepoRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var ci = File.ReadAllLines(Path.Combine(root, ".ci", "run")).Select(l => l.Trim()).ToList();

        var commands = ReadmeCommand().Matches(readme).Select(m => m.Groups[1].Value.Trim()).ToList();
        Assert.Contains("dotnet test", commands);
        Assert.Contains("dotnet run --project src/Scxlab.Cli -- demo", commands);
        Assert.Contains("dotnet test", ci); // the same string, as its own line
        Assert.Contains(ci, l => l.Contains("dotnet run --project src/Scxlab.Cli -- demo", StringComparison.Ordinal));
        Assert.Contains("set -euo pipefail", ci);
    }
}

/// <summary>examples/selftests: the scenarios the kernel's selftests run on load, and the runner says what it lacks.</summary>
public class SelftestExamplesTests
{
    private static string Dir()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d != null && !File.Exists(Path.Combine(d.FullName, "Scxlab.slnx"))) d = d.Parent;
        return Path.Combine(d!.FullName, "examples", "selftests");
    }

    [Theory]
    [InlineData("wakeup.yaml")]
    [InlineData("wakeup-1024-dsqs.yaml")]
    [InlineData("wakeup-one-round.yaml")]
    [InlineData("cyclic-kick-wait.yaml")]
    public void Should_LoadAndHold_When_ASelftestScenarioRunsTheSimplePolicy(string file)
    {
        var r = CliResult.Run("check", Path.Combine(Dir(), file));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("verdict: holds", r.Stdout);
    }

    [Fact]
    public void Should_ReportEachSelftestAsNotBuilt_When_TheDirectoryIsEmpty()
    {
        var empty = Directory.CreateTempSubdirectory("scxlab-selftests-").FullName;
        var psi = new System.Diagnostics.ProcessStartInfo("/bin/sh", [Path.Combine(Dir(), "run.sh"), empty]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        Assert.Contains("ddsp_bogus_dsq_fail", output);
        Assert.Contains("(not built)", output);
    }
}
