using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// A BPF callback's step must not allocate its registers, stack and frames afresh: five arrays (4.6 KB) a step were about
/// a gigabyte a second of garbage in a fuzz run, a fifth to a third of its time in collections, and the reason a second
/// worker gained little. Counted on this thread (the explorer runs on its caller with one job), in bytes, not time.
/// </summary>
public class BpfAllocationTests
{
    [Fact]
    public void Should_AllocateFarLessThanAStackAStep_When_ABpfObjectIsExplored()
    {
        var s = ScenarioLoader.Resolve("central-remote");
        var config = s.ToConfig(BpfExamples.Object("local_on_peek"));
        ExploreResult Explore() => new Explorer(new Machine(config), new ExploreOptions { Checks = s.Checks, Strategy = Strategy.Dfs, Jobs = 1 }).Run();
        Explore(); // the object's load, the interpreter's first use and the JIT's tiers are not what is measured
        var before = GC.GetAllocatedBytesForCurrentThread();
        var r = Explore();
        var perTransition = (double)(GC.GetAllocatedBytesForCurrentThread() - before) / r.Stats.Transitions;
        Assert.True(r.Complete);
        Assert.True(r.Stats.Transitions > 10_000, $"{r.Stats.Transitions} transitions");
        // Each run of a callback used to allocate 4 096 bytes of stack alone; the explorer's own worlds and tables are
        // spread over every transition.
        Assert.True(perTransition < 1_500, $"{perTransition:F0} bytes allocated per transition");
    }
}
