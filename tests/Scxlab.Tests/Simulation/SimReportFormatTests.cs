using System.Globalization;
using System.Text.Json;
using Scxlab.Tests.Cli;

namespace Scxlab.Tests.Simulation;

/// <summary>What simulate's --json and --csv promise: kernel counter names, per-task results, numeric CSV in base units.</summary>
public class SimReportFormatTests
{
    private static readonly string[] Run = ["simulate", "affinity-churn", "--policy", "local-on-peek", "--protocols", "upstream,fallback-dsq", "--cpus", "4", "--duration", "100ms"];

    [Fact]
    public void Should_NameKernelCountersAsTheKernelDoes_When_PrintingJson()
    {
        var r = CliResult.Run([.. Run, "--json"]);
        using var doc = JsonDocument.Parse(r.Stdout);
        foreach (var run in doc.RootElement.GetProperty("runs").EnumerateArray())
        {
            var kernel = run.GetProperty("kernel_events").EnumerateObject().Select(p => p.Name).ToList();
            Assert.Contains("SCX_EV_SELECT_CPU_FALLBACK", kernel);
            Assert.Contains("SCX_EV_REFILL_SLICE_DFL", kernel);
            Assert.All(kernel, n => Assert.StartsWith("SCX_EV_", n));
            var model = run.GetProperty("model_events").EnumerateObject().Select(p => p.Name).ToList();
            Assert.Contains("dispatch_dropped_qseq", model);
            Assert.Contains("fallback_dsq_use", model);
        }
    }

    [Fact]
    public void Should_GiveEveryTasksRuntimeWaitWakeupsAndMigrations_When_PrintingJson()
    {
        var r = CliResult.Run([.. Run, "--json"]);
        using var doc = JsonDocument.Parse(r.Stdout);
        var run = doc.RootElement.GetProperty("runs")[0];
        var tasks = run.GetProperty("per_task").EnumerateArray().ToList();
        Assert.Equal(run.GetProperty("tasks").GetInt32(), tasks.Count);
        // The per-task counts add up to the run's; each task's runtime is the one runtime_ns_by_task gives.
        Assert.Equal(run.GetProperty("wakeups").GetInt64(), tasks.Sum(t => t.GetProperty("wakeups").GetInt64()));
        Assert.Equal(run.GetProperty("migrations").GetInt64(), tasks.Sum(t => t.GetProperty("migrations").GetInt64()));
        foreach (var t in tasks)
        {
            Assert.Equal(run.GetProperty("runtime_ns_by_task").GetProperty(t.GetProperty("name").GetString()!).GetInt64(), t.GetProperty("runtime_ns").GetInt64());
            Assert.InRange(t.GetProperty("wait_ns").GetInt64(), 0, run.GetProperty("duration_ns").GetInt64());
        }
        // On 4 CPUs with more tasks than CPUs, somebody waited.
        Assert.Contains(tasks, t => t.GetProperty("wait_ns").GetInt64() > 0);
    }

    [Fact]
    public void Should_PrintOneNumericRowPerRunWithUnitsInTheHeader_When_PrintingCsv()
    {
        var r = CliResult.Run([.. Run, "--csv"]);
        Assert.Equal(0, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length); // header + one row per protocol
        var header = lines[0].Split(',');
        Assert.Contains("latency_p99_all_ns", header);
        Assert.Contains("cpu_utilisation_mean_fraction", header);
        Assert.Contains("SCX_EV_DISPATCH_KEEP_LAST", header);
        Assert.Equal(header.Length, header.Distinct().Count());
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            Assert.Equal(header.Length, cells.Length);
            for (var i = 0; i < header.Length; i++)
            {
                if (header[i] is "workload" or "policy" or "protocol" || cells[i].Length == 0) continue;
                Assert.True(double.TryParse(cells[i], NumberStyles.Float, CultureInfo.InvariantCulture, out _), $"{header[i]} = '{cells[i]}' is not a number");
            }
            var util = double.Parse(cells[Array.IndexOf(header, "cpu_utilisation_mean_fraction")], CultureInfo.InvariantCulture);
            Assert.InRange(util, 0, 1);
        }
    }
}
