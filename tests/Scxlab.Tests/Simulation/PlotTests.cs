using System.Text.RegularExpressions;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Reporting;
using Scxlab.Simulation;

namespace Scxlab.Tests.Simulation;

public class PlotTests
{
    private static SimResult Run(Protocol protocol) =>
        new Simulator(Generators.Create("mixed", 2, 8), new SimOptions
        {
            Cpus = 2, DurationNs = 100_000_000, Seed = 3, UtilBuckets = 50,
            Policy = PolicyRegistry.Resolve("simple"), PolicyName = "simple", Protocol = protocol,
        }).Run();

    private static string TempBase() => Path.Combine(Path.GetTempPath(), $"scxlab-plot-{Guid.NewGuid():N}");

    [Fact]
    public void Should_WritePredictablyNamedFiles_When_SeveralProtocolsArePlotted()
    {
        var stem = TempBase();
        var files = Plots.Write(stem + ".png", "mixed", [Run(Protocol.Upstream), Run(Protocol.QseqInvalidate)]);
        try
        {
            Assert.Equal([stem + ".latency-cdf.png", stem + ".cpu-util.upstream.png", stem + ".cpu-util.qseq-invalidate.png"], files);
            Assert.All(files, f => Assert.True(new FileInfo(f).Length > 1000, f));
        }
        finally
        {
            foreach (var f in files) File.Delete(f);
        }
    }

    [Fact]
    public void Should_DrawEveryUtilisationCellAsAVectorRectangle_When_ThePlotIsSvg()
    {
        var stem = TempBase();
        var r = Run(Protocol.Upstream);
        var files = Plots.Write(stem + ".svg", "mixed", [r]);
        try
        {
            var svg = File.ReadAllText(stem + ".cpu-util.svg");
            // 2 CPUs × 50 buckets, plus the frame's own rectangles
            Assert.True(Regex.Count(svg, "<rect") >= 2 * 50, $"{Regex.Count(svg, "<rect")} rectangles");
            // The only bitmap left is the colour bar's 1-pixel-wide gradient, never the heatmap's grid.
            foreach (Match m in Regex.Matches(svg, "<image[^>]*width=\"(\\d+)\""))
                Assert.Equal("1", m.Groups[1].Value);
        }
        finally
        {
            foreach (var f in files) File.Delete(f);
        }
    }

    [Fact]
    public void Should_ShowTheSampleCountAndMicroseconds_When_TheLatencyCdfHasALegend()
    {
        var stem = TempBase();
        var r = Run(Protocol.Upstream);
        var files = Plots.Write(stem + ".svg", "mixed", [r]);
        try
        {
            var svg = File.ReadAllText(stem + ".latency-cdf.svg");
            Assert.Contains($"upstream ({r.LatencyHistogram.TotalCount:N0} wakeups, p99 ", svg);
            Assert.Contains("µs", svg);
            Assert.DoesNotMatch(new Regex(">[0-9.]+us<"), svg);
        }
        finally
        {
            foreach (var f in files) File.Delete(f);
        }
    }

    [Fact]
    public void Should_ShipItsOwnFont_When_TheMachineHasNone()
    {
        // The plots never look for system fonts: the font is a resource of the plots assembly.
        using var font = typeof(Plots).Assembly.GetManifestResourceStream("Scxlab.Plots.DejaVuSans.ttf");
        Assert.NotNull(font);
        var header = new byte[4];
        font!.ReadExactly(header);
        Assert.Equal(new byte[] { 0, 1, 0, 0 }, header); // a TrueType outline font
    }
}
