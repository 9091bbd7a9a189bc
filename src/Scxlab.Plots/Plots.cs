using Scxlab.Simulation;
using ScottPlot;

namespace Scxlab.Reporting;

/// <summary>
/// PNG/SVG plots of simulation results (ScottPlot 5 on SkiaSharp): the wakeup-latency CDF with one
/// line per protocol, and per-CPU utilisation over time as a heatmap (one file per protocol).
/// </summary>
public static class Plots
{
    /// <summary>
    /// Writes <c>BASE.latency-cdf.EXT</c> and <c>BASE.cpu-util[.PROTOCOL].EXT</c> next to
    /// <paramref name="path"/> (EXT = png or svg, from <paramref name="path"/>); returns the files.
    /// </summary>
    public static IReadOnlyList<string> Write(string path, string workload, IReadOnlyList<SimResult> runs)
    {
        var ext = System.IO.Path.GetExtension(path).ToLowerInvariant();
        var stem = path[..^ext.Length];
        var files = new List<string>();
        var cdf = stem + ".latency-cdf" + ext;
        Save(LatencyCdf(workload, runs), cdf, ext, 900, 550);
        files.Add(cdf);
        foreach (var r in runs)
        {
            var f = stem + ".cpu-util" + (runs.Count > 1 ? "." + r.Protocol : "") + ext;
            Save(Utilisation(workload, r, vector: ext == ".svg"), f, ext, 1000, Math.Clamp(120 + 12 * r.Cpus, 300, 1400));
            files.Add(f);
        }
        return files;
    }

    private static readonly object FontLock = new();
    private static bool _fontsReady;

    /// <summary>
    /// SkiaSharp's NoDependencies native build has no fontconfig, and a machine may have no fonts at
    /// all: the plots use the DejaVu Sans shipped inside this assembly, so every machine draws the
    /// same text. ScottPlot loads fonts from files, so it is written once to the temporary directory.
    /// </summary>
    private static void EnsureFont()
    {
        lock (FontLock)
        {
            if (_fontsReady) return;
            using var font = typeof(Plots).Assembly.GetManifestResourceStream("Scxlab.Plots.DejaVuSans.ttf")
                ?? throw new System.Diagnostics.UnreachableException("the plots' font is not embedded in Scxlab.Plots");
            var file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"scxlab-DejaVuSans-{font.Length}.ttf");
            if (!File.Exists(file) || new FileInfo(file).Length != font.Length)
            {
                // Another process may write the same file at the same time: write aside, then rename.
                var tmp = file + "." + Environment.ProcessId + ".tmp";
                using (var o = File.Create(tmp)) font.CopyTo(o);
                File.Move(tmp, file, overwrite: true);
            }
            Fonts.AddFontFile("scxlab-sans", file);
            Fonts.Default = "scxlab-sans";
            _fontsReady = true;
        }
    }

    /// <summary>
    /// The plot as inline SVG markup (for HTML pages). The text is measured with the shipped font; the page
    /// names it with a generic fallback, as a browser does not know the name it was registered under.
    /// </summary>
    public static string Svg(Plot p, int w, int h)
    {
        EnsureFont();
        p.Font.Set(Fonts.Default);
        return p.GetSvgHtml(w, h).Replace("scxlab-sans", "DejaVu Sans, Verdana, sans-serif", StringComparison.Ordinal);
    }

    private static void Save(Plot p, string file, string ext, int w, int h)
    {
        EnsureFont();
        p.Font.Set(Fonts.Default);
        // Written aside and renamed when complete, as every other output file: an interrupted or
        // failed run never leaves half a plot under the name the user asked for.
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file))!;
        var tmp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(file)}.{Environment.ProcessId}.tmp{ext}");
        try
        {
            if (ext == ".svg") p.SaveSvg(tmp, w, h);
            else p.SavePng(tmp, w, h);
            File.Move(tmp, file, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>CDF of wakeup-to-run latency on a log10 µs axis, one line per run.</summary>
    public static Plot LatencyCdf(string workload, IReadOnlyList<SimResult> runs)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (var i = 0; i < runs.Count; i++)
        {
            var r = runs[i];
            var h = r.LatencyHistogram;
            if (h.TotalCount == 0) continue;
            var xs = new List<double>();
            var ys = new List<double>();
            double total = h.TotalCount;
            foreach (var v in h.RecordedValues())
            {
                var us = Math.Max(0.01, v.ValueIteratedTo / 1000.0);
                xs.Add(Math.Log10(us));
                ys.Add(v.TotalCountToThisValue / total);
            }
            var line = plt.Add.ScatterLine(xs.ToArray(), ys.ToArray(), palette.GetColor(i));
            line.LineWidth = 2;
            line.LegendText = $"{r.Protocol} ({h.TotalCount:N0} wakeups, p99 {FormatUs(r.Latency[0].P99 / 1000.0)})";
            line.ConnectStyle = ConnectStyle.StepHorizontal;
        }
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = x => FormatUs(Math.Pow(10, x)),
        };
        plt.Title($"Wakeup-to-run latency CDF · {workload} · {runs[0].Policy}");
        plt.XLabel("latency (log scale)");
        plt.YLabel("fraction of wakeups");
        plt.Axes.SetLimitsY(0, 1.02);
        plt.ShowLegend(Alignment.LowerRight);
        return plt;
    }

    private static string FormatUs(double us) =>
        us >= 1_000_000 ? $"{us / 1e6:0.##}s" : us >= 1000 ? $"{us / 1000:0.##}ms" : us >= 1 ? $"{us:0.##}µs" : $"{us * 1000:0}ns";

    /// <summary>
    /// Per-CPU utilisation over virtual time as a heatmap (rows = CPUs, columns = time buckets). With
    /// <paramref name="vector"/> each cell is a rectangle (for SVG: a bitmap heatmap embedded in an SVG
    /// is blurred by every renderer that scales it); otherwise ScottPlot's bitmap heatmap.
    /// </summary>
    public static Plot Utilisation(string workload, SimResult r, bool vector = false)
    {
        var plt = new Plot();
        var series = r.UtilisationSeries;
        var buckets = series.Length == 0 ? 0 : series[0].Length;
        var data = new double[series.Length, buckets];
        for (var c = 0; c < series.Length; c++)
            for (var b = 0; b < buckets; b++)
                data[series.Length - 1 - c, b] = Math.Clamp(series[c][b], 0, 1) * 100;
        var hm = plt.Add.Heatmap(data);
        var colormap = new ScottPlot.Colormaps.Viridis();
        hm.Colormap = colormap;
        hm.ManualRange = new ScottPlot.Range(0, 100);
        var seconds = r.DurationNs / 1e9;
        hm.Extent = new CoordinateRect(0, seconds, -0.5, series.Length - 0.5);
        if (vector && buckets > 0)
        {
            // The heatmap stays as the colour bar's source, drawn as rectangles instead.
            hm.IsVisible = false;
            var width = seconds / buckets;
            for (var c = 0; c < series.Length; c++)
                for (var b = 0; b < buckets; b++)
                {
                    var rect = plt.Add.Rectangle(b * width, (b + 1) * width, c - 0.5, c + 0.5);
                    rect.FillColor = colormap.GetColor(Math.Clamp(series[c][b], 0, 1));
                    rect.LineWidth = 0;
                }
        }
        var cb = plt.Add.ColorBar(hm);
        cb.Label = "utilisation %";
        plt.Title($"Per-CPU utilisation · {workload} · {r.Policy} · {r.Protocol}");
        plt.XLabel("virtual time (s)");
        plt.YLabel("CPU");
        foreach (var e in r.Exits)
        {
            var vl = plt.Add.VerticalLine(e.AtNs / 1e9, 2, Colors.Red);
            vl.LegendText = "scheduler exit";
        }
        plt.Axes.SetLimits(0, seconds, -0.5, series.Length - 0.5);
        return plt;
    }
}
