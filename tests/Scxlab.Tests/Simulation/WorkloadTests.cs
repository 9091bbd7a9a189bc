using Scxlab.Cli.Commands;
using Scxlab.Simulation;

namespace Scxlab.Tests.Simulation;

public class WorkloadTests
{
    [Fact]
    public void Should_ParseNativeYaml_When_TheFileIsValid()
    {
        var w = WorkloadLoader.Parse("w.yaml", """
            name: two-groups
            cpus: 4
            duration: 2s
            tasks:
              - name: web
                class: interactive
                count: 3
                cpus: "0-1"
                phases: [ { run: 100us }, { sleep: 5ms } ]
              - name: pong
                start_suspended: true
                phases:
                  - run: 50us
                  - wake: web
                  - suspend
            """);
        Assert.Equal("two-groups", w.Name);
        Assert.Equal(4, w.Cpus);
        Assert.Equal(2_000_000_000, w.DurationNs);
        Assert.Equal(4, w.TaskCount);
        Assert.Equal(new Phase(PhaseKind.Run, 100_000), w.Groups[0].Phases[0]);
        Assert.Equal(new Phase(PhaseKind.Wake, 0, "web"), w.Groups[1].Phases[1]);
        Assert.Equal(PhaseKind.Suspend, w.Groups[1].Phases[2].Kind);
    }

    [Fact]
    public void Should_ParseRtAppJson_When_TasksHavePhasesInstancesAndCpus()
    {
        var w = WorkloadLoader.Parse("rt.json", """
            {
              "global": { "duration": 3, "default_policy": "SCHED_OTHER", "calibration": "CPU0" },
              "tasks": {
                "thread": { "instance": 4, "loop": -1, "cpus": [0, 1], "run": 1000, "sleep": 9000 },
                "waker": { "priority": 5, "phases": { "p1": { "loop": 2, "run0": 200, "resume": "thread", "timer": { "ref": "t", "period": 10000 } } } }
              }
            }
            """);
        Assert.Equal(3_000_000_000, w.DurationNs);
        Assert.Equal(4, w.Groups[0].Count);
        Assert.Equal("0,1", w.Groups[0].Cpus);
        Assert.Equal([new Phase(PhaseKind.Run, 1_000_000), new Phase(PhaseKind.Sleep, 9_000_000)], w.Groups[0].Phases);
        Assert.Equal(6, w.Groups[1].Phases.Count); // phase loop 2 unrolled
        Assert.Equal(new Phase(PhaseKind.RtAppTimer, 10_000_000, "t"), w.Groups[1].Phases[2]);
        Assert.Equal(33, w.Groups[1].Weight); // sched_weight_to_cgroup(335): 32.7 rounded to the closest
    }

    [Theory]
    [InlineData("w.yaml", "name: x\ntasks:\n  - name: a\n    phases: [ { run: 1ms } ]\n    colour: red\n", "w.yaml:5:5: unknown key 'colour'")]
    [InlineData("w.yaml", "tasks:\n  - name: a\n    phases:\n      - run: 10\n", "w.yaml:4:14: duration '10' needs a unit")]
    [InlineData("w.yaml", "tasks:\n  - name: a\n    phases: [ { wake: nobody } ]\n", "w.yaml:3:15: wake: no task group named 'nobody'")]
    [InlineData("w.yaml", "tasks: [ { name: a, phases: [ {run: 1ms} ] \n", "w.yaml:2:1:")]
    [InlineData("w.json", "{ \"tasks\": [ { \"name\": \"a\" \"phases\": [] } ] }", "w.json:1:28:")]
    [InlineData("r.json", "{\n  \"tasks\": {\n    \"t\": { \"run\": 100, \"mem\": 5 }\n  }\n}", "r.json:3:24: rt-app event 'mem' needs memory")]
    [InlineData("r.json", "{ \"tasks\": { \"t\": { \"run\": -5 } } }", "r.json:1:28: 'run' must not be negative")]
    public void Should_ReportFileLineCol_When_TheWorkloadIsBad(string file, string text, string expectedPrefix)
    {
        var e = Assert.Throws<WorkloadException>(() => WorkloadLoader.Parse(file, text));
        Assert.Equal(expectedPrefix, e.Message[..Math.Min(e.Message.Length, expectedPrefix.Length)]);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Should_ExitOneWithFileLineCol_When_TheCliGetsABadWorkloadFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"scxlab-bad-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "tasks:\n  - name: a\n    phases: [ { run: fast } ]\n");
        try
        {
            var err = new StringWriter();
            var code = SimulateCommand.Run([path, "--policy", "local-on-pop"], new StringWriter(), err);
            Assert.Equal(1, code);
            Assert.Equal($"scxlab simulate: {path}:3:22: ", err.ToString()[..($"scxlab simulate: {path}:3:22: ").Length]);
            Assert.Single(err.ToString().TrimEnd().Split('\n'));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("--cpus", "0")]
    [InlineData("--duration", "10")]
    [InlineData("--protocol", "nope")]
    [InlineData("--bogus", "x")]
    public void Should_ExitOneWithOneLine_When_AnOptionIsBad(string option, string value)
    {
        var err = new StringWriter();
        var code = SimulateCommand.Run(["mixed", "--policy", "local-on-pop", option, value], new StringWriter(), err);
        Assert.Equal(1, code);
        Assert.Single(err.ToString().TrimEnd().Split('\n'));
    }

    [Fact]
    public void Should_PrintJsonWithRunsPerProtocol_When_ProtocolsAreCompared()
    {
        var out_ = new StringWriter();
        var code = SimulateCommand.Run(["affinity-churn", "--policy", "local-on-peek", "--protocols", "upstream,fallback-dsq", "--cpus", "4", "--duration", "200ms", "--json"], out_, new StringWriter());
        Assert.Equal(0, code);
        using var doc = System.Text.Json.JsonDocument.Parse(out_.ToString());
        Assert.Equal(2, doc.RootElement.GetProperty("runs").GetArrayLength());
        Assert.Equal("upstream", doc.RootElement.GetProperty("runs")[0].GetProperty("protocol").GetString());
        Assert.True(doc.RootElement.GetProperty("complete").GetBoolean());
    }

    [Fact]
    public void Should_LoadEveryBuiltinWorkloadFile()
    {
        Assert.NotEmpty(BuiltinWorkloads.Names);
        foreach (var name in BuiltinWorkloads.Names) Assert.NotNull(BuiltinWorkloads.TryLoad(name));
    }
}
