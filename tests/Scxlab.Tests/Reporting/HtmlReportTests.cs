using System.Diagnostics;
using System.Text.RegularExpressions;
using Scxlab.Comparison;
using Scxlab.Kernel;
using Scxlab.Reporting;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Reporting;

/// <summary><c>scxlab report</c> / <c>compare --html</c>: one self-contained page, checked as text and in headless Chromium.</summary>
public class HtmlReportTests
{
    private static string Report() =>
        HtmlReport.Compare(
            [new HtmlReport.Run(null, ProtocolComparison.Run(new ComparisonOptions
            {
                Scenarios = [ScenarioLoader.Resolve("seed-race-r2")],
                Protocols = [Protocol.Upstream, Protocol.QseqInvalidate],
                Policies = ["local-on-peek", "central"],
                BudgetSeconds = 30,
            }))],
            "test report");

    [Fact]
    public void Should_LinkEveryViolatingCellToItsCounterexample_When_TheComparisonHasFindings()
    {
        var html = Report();
        var links = Regex.Matches(html, "href=\"#(cell-\\d+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(links);
        foreach (var id in links) Assert.Contains($"<section id=\"{id}\"", html);
        // The counterexample is drawn with one column per CPU.
        Assert.Matches(new Regex("<table class=\"trace\">\\s*<thead><tr><th>step</th><th>CPU0</th>"), html);
        // local-on-peek under upstream exits the scheduler with the kernel's error
        Assert.Contains("not allowed for p[101]", html);
    }

    private static string SimulationPage() =>
        SimulationHtml.Render("mixed", [.. new[] { Protocol.Upstream, Protocol.QseqInvalidate }.Select(p =>
            new Scxlab.Simulation.Simulator(Scxlab.Simulation.Generators.Create("mixed", 2, 8), new Scxlab.Simulation.SimOptions
            {
                Cpus = 2, DurationNs = 50_000_000, Seed = 1, UtilBuckets = 40,
                Policy = Scxlab.Policies.PolicyRegistry.Resolve("simple"), PolicyName = "simple", Protocol = p,
            }).Run())]);

    private static string CheckPage()
    {
        var scenario = ScenarioLoader.Resolve("seed-race-r2");
        var config = scenario.ToConfig();
        var result = new Scxlab.Exploration.Explorer(new Machine(config), new Scxlab.Exploration.ExploreOptions { Checks = scenario.Checks }).Run();
        return HtmlReport.Check(scenario, config, result, scenario.Checks);
    }

    [Fact]
    public void Should_InlineTheMetricsAndTheVectorPlots_When_ASimulationIsWrittenAsHtml()
    {
        var html = SimulationPage();
        Assert.Contains("<table class=\"metrics\">", html);
        Assert.Contains("<th>upstream</th><th>qseq-invalidate</th>", html);
        Assert.Equal(3, Regex.Count(html, "<svg"));                 // the CDF and one heatmap per run
        Assert.True(Regex.Count(html, "<rect") >= 2 * 2 * 40, "the heatmaps are vector rectangles");
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Should_DrawEachViolationsTrace_When_ACheckIsWrittenAsHtml()
    {
        var html = CheckPage();
        Assert.Contains("<td class=\"violation\">violation</td>", html);
        Assert.Contains("<section id=\"finding-1\"", html);
        Assert.Contains("not allowed for p[101]", html);
        Assert.Matches(new Regex("<table class=\"trace\">\\s*<thead><tr><th>step</th><th>CPU0</th>"), html);
    }

    [Fact]
    public void Should_NeedNothingFromTheNetworkOrAScript_When_TheReportIsOpened()
    {
        var html = Report();
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(new Regex("(src|href)=\"(https?:)?//", RegexOptions.IgnoreCase), html);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
    }

    private static string? Chromium() =>
        new[] { "chromium", "chromium-browser", "google-chrome" }
            .Select(name => Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists))
            .FirstOrDefault(p => p != null);

    private static (int Code, string Out, string Err) RunChromium(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--enable-logging=stderr", "--v=0", .. args]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("chromium did not finish in 120 s");
        }
        return (p.ExitCode, output, err.Result);
    }

    [Fact]
    public void Should_ShowTheMatrixAndACounterexample_When_HeadlessChromiumRendersTheReport()
    {
        var exe = Chromium();
        if (exe == null)
        {
            // CI installs Debian's chromium (.ci/run): there a missing browser is a failure, not a skip.
            Assert.True(Environment.GetEnvironmentVariable("CI") == null, "CI is set but chromium is not installed (.ci/run installs it)");
            Assert.Skip("chromium is not installed (apt-get install chromium); CI runs this test");
        }
        var dir = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, "html-report.html");
        File.WriteAllText(file, Report());
        var url = new Uri(file).AbsoluteUri;

        var dom = RunChromium(exe, "--dump-dom", url);
        Assert.Equal(0, dom.Code);
        // The browser parsed the matrix and the counterexample sections.
        Assert.Contains("<table class=\"matrix\">", dom.Out);
        Assert.Contains("<section id=\"cell-1\" class=\"counterexample\">", dom.Out);
        Assert.Contains("CPU0", dom.Out);
        // Nothing on the page's console (no script, no missing resource).
        Assert.DoesNotMatch(new Regex("CONSOLE|Uncaught|Failed to load resource", RegexOptions.IgnoreCase), dom.Err);

        // The simulation page too: its inline SVG plots are parsed as SVG.
        var simFile = Path.Combine(dir, "html-simulation.html");
        File.WriteAllText(simFile, SimulationPage());
        var sim = RunChromium(exe, "--dump-dom", new Uri(simFile).AbsoluteUri);
        Assert.Equal(0, sim.Code);
        Assert.Equal(3, Regex.Count(sim.Out, "<svg"));
        Assert.DoesNotMatch(new Regex("CONSOLE|Uncaught|Failed to load resource", RegexOptions.IgnoreCase), sim.Err);

        var png = Path.Combine(dir, "html-report.png");
        File.Delete(png);
        var shot = RunChromium(exe, $"--screenshot={png}", "--window-size=1400,1800", "--hide-scrollbars", url);
        Assert.Equal(0, shot.Code);
        // The screenshot is kept next to the test assembly (artifacts/html-report.png) for a look.
        Assert.True(new FileInfo(png).Length > 10_000, $"screenshot {png} is missing or blank");
    }
}
