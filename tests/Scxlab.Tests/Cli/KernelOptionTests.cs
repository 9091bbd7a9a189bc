using System.Text.Json.Nodes;

namespace Scxlab.Tests.Cli;

/// <summary>--kernel on check and --kernels on compare (docs/eras.md).</summary>
public class KernelOptionTests
{
    [Fact]
    public void Should_RunTheMatrixOncePerRelease_When_CompareIsGivenTwoKernels()
    {
        var dir = Directory.CreateTempSubdirectory("scxlab-kernels-").FullName;
        var r = CliResult.Run("compare", "seed-race-r1", "--protocols", "upstream", "--policies", "local-on-pop", "--kernels", "7.1,7.2", "--traces", dir, "--json");

        Assert.Equal(0, r.ExitCode);
        var runs = JsonNode.Parse(r.Stdout)!["kernels"]!.AsArray();
        Assert.Equal(["7.1", "7.2"], runs.Select(k => (string)k!["kernel"]!));
        // Each release's trace records it, so replay follows the same paths.
        var trace = Directory.GetFiles(Path.Combine(dir, "kernel-7.2"), "*.json").Single();
        Assert.Equal("7.2", (string)JsonNode.Parse(File.ReadAllText(trace))!["settings"]!["kernel"]!);
        Assert.Equal(2, CliResult.Run("replay", trace).ExitCode);
    }

    [Fact]
    public void Should_FailInOneLine_When_TheKernelIsUnknown()
    {
        var compare = CliResult.Run("compare", "seed-race-r1", "--kernels", "6.9");
        var check = CliResult.Run("check", "seed-race-r1", "--kernel", "6.9");

        Assert.Equal(1, compare.ExitCode);
        Assert.Contains("unknown kernel '6.9' (expected 7.1 | 7.2 | 7.3)", Assert.Single(compare.StderrLines), StringComparison.Ordinal);
        Assert.Equal(1, check.ExitCode);
        Assert.Equal("scxlab check: --kernel: unknown kernel '6.9' (expected 7.1 | 7.2 | 7.3) (see 'scxlab check --help')", Assert.Single(check.StderrLines));
    }
}
