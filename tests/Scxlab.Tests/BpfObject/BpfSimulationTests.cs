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
