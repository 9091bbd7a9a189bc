using Scxlab.Policies;
using Scxlab.Simulation;

namespace Scxlab.Tests.BpfObject;

/// <summary>simple.bpf.o under simulate: the same run as the C# simple policy, and weights shape its shares.</summary>
public class BpfSimulationTests
{
    private static SimResult Run(string workloadYaml, string policy, int cpus, long durationNs) =>
        new Simulator(WorkloadLoader.Parse("test.yaml", workloadYaml), new SimOptions
        {
            Cpus = cpus,
            DurationNs = durationNs,
            Policy = PolicyRegistry.Resolve(policy),
            PolicyName = policy,
        }).Run();

    private const string Mixed = """
        name: mixed-weights
        cpus: 2
        tasks:
          - name: web
            class: interactive
            count: 6
            start_spread: 2ms
            phases:
              - run: 150us
              - sleep: 2ms
          - name: heavy
            class: batch
            count: 2
            weight: 400
            phases:
              - run: 30ms
          - name: light
            class: batch
            count: 2
            weight: 100
            phases:
              - run: 30ms
        """;

    [Fact]
    public void Should_RunExactlyLikeTheCsharpPolicy_When_SimpleIsSimulatedAsBpf()
    {
        var cs = Run(Mixed, "simple", 2, 200_000_000);
        var bpf = Run(Mixed, BpfExamples.Object("simple"), 2, 200_000_000);
        Assert.Empty(bpf.Exits);
        Assert.Equal(cs.TaskRuntimes, bpf.TaskRuntimes);
        Assert.Equal(cs.Wakeups, bpf.Wakeups);
    }

    [Fact]
    public void Should_FireABpfTimerAtItsVirtualExpiry_When_Simulated()
    {
        // programs/timer_count.bpf.c, mode 2: ops.init arms a 1 ms timer whose callback re-arms it for 1 ms;
        // The first ops.enqueue after its 5th firing ends the scheduler (most wakeups find an idle CPU in
        // select_cpu and skip ops.enqueue), reporting the count: one firing per elapsed millisecond.
        var r = Run(Mixed, BpfExamples.CompileProgram("timer_count.bpf.c", "v3") + "@mode=2,exit_at=5", 2, 200_000_000);
        var exit = Assert.Single(r.Exits);
        Assert.Equal("SCX_EXIT_UNREG_BPF", exit.Kind);
        var fired = long.Parse(System.Text.RegularExpressions.Regex.Match(exit.Message, @"fired=(\d+) ").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(fired >= 5, exit.Message);
        // Each firing is 1 ms (+ the callback's few kfunc costs) after the previous one.
        Assert.InRange(exit.AtNs, fired * 1_000_000, (fired + 1) * 1_010_000);
    }

    [Fact]
    public void Should_SeeTheWokenTasksCpuRunningAsTheWaker_When_AProgramReadsCurrentInAWakeup()
    {
        // programs/waker.bpf.c: a wakeup under simulate is a timer interrupt or a syscall on a CPU, so `current` is what
        // that CPU runs — the idle task or a task —, never a task the model does not have (which stopped the run before).
        var r = Run(Mixed, BpfExamples.CompileProgram("waker.bpf.c", "v3"), 2, 200_000_000);
        Assert.Null(r.ModelLimit);
        var exit = Assert.Single(r.Exits);
        Assert.Equal("SCX_EXIT_UNREG_BPF", exit.Kind);
        var m = System.Text.RegularExpressions.Regex.Match(exit.Message, @"^idle=(\d+) task=(\d+)$");
        Assert.True(m.Success, exit.Message);
        Assert.True(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, exit.Message);
    }

    [Fact]
    public void Should_ReadTheRuntimeTheModelCharges_When_AProgramReadsSeSumExecRuntimeAndUtime()
    {
        // programs/runtime.bpf.c: p->se.sum_exec_runtime and p->utime are the same clock, and it moves in a clocked run.
        var r = Run(Mixed, BpfExamples.CompileProgram("runtime.bpf.c", "v3"), 2, 200_000_000);
        var exit = Assert.Single(r.Exits);
        Assert.Equal("SCX_EXIT_UNREG_BPF", exit.Kind);
        Assert.Equal("agree=1 ran=1", exit.Message);
    }

    [Fact]
    public void Should_NeverFireACancelledOrUnarmedTimer_When_Simulated()
    {
        // mode 0: the callback does not re-arm, so the timer fires once (at 1 ms) and never again.
        var r = Run(Mixed, BpfExamples.CompileProgram("timer_count.bpf.c", "v3") + "@exit_at=2", 2, 100_000_000);
        Assert.Empty(r.Exits);
    }

    [Fact]
    public void Should_GiveHeavierTasksMoreCpu_When_SimpleBpfSchedulesByWeight()
    {
        var r = Run(Mixed, BpfExamples.Object("simple"), 2, 400_000_000);
        var heavy = r.TaskRuntimes.Where(t => t.Name.StartsWith("heavy", StringComparison.Ordinal)).Sum(t => t.RuntimeNs);
        var light = r.TaskRuntimes.Where(t => t.Name.StartsWith("light", StringComparison.Ordinal)).Sum(t => t.RuntimeNs);
        // Weighted vtime: a weight-400 task is charged a quarter of what a weight-100 task is per ns.
        Assert.True(heavy > 2 * light, $"heavy {heavy} ns vs light {light} ns");
    }

    [Fact]
    public void Should_IgnoreWeights_When_SimpleBpfRunsWithFifoSchedRodata()
    {
        // The control for the test above: fifo_sched=1 (set through rodata) round-robins by slice.
        var r = Run(Mixed, BpfExamples.Object("simple") + "@fifo_sched=1", 2, 400_000_000);
        var heavy = r.TaskRuntimes.Where(t => t.Name.StartsWith("heavy", StringComparison.Ordinal)).Sum(t => t.RuntimeNs);
        var light = r.TaskRuntimes.Where(t => t.Name.StartsWith("light", StringComparison.Ordinal)).Sum(t => t.RuntimeNs);
        Assert.InRange((double)heavy / light, 0.67, 1.5);
    }
}
