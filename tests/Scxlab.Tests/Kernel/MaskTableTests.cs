using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Kernel;

/// <summary>
/// A world is a value: two machines of the same configuration that reach the same state must give it the
/// same fingerprint, whatever order their actors ran in (the fuzzer merges fingerprints from several
/// machines, one per worker).
/// </summary>
public class MaskTableTests
{
    [Fact]
    public void Should_FingerprintTheSameState_When_TwoMachinesStartTheAffinityChangesInOppositeOrders()
    {
        var config = ScenarioLoader.Resolve("scale-4cpu").ToConfig();
        var m1 = new Machine(config);
        var m2 = new Machine(config);
        var p = m1.Actors.Single(a => a.Name == "taskset-p").Id;
        var q = m1.Actors.Single(a => a.Name == "taskset-q").Id;
        // The two changes touch different tasks, so their first steps commute: both orders reach one state.
        m1.Step(p);
        m1.Step(q);
        m2.Step(q);
        m2.Step(p);
        Assert.True(m1.World.SameStateAs(m2.World), "the two orders should reach the same world");
        Assert.Equal(m1.World.Fingerprint(), m2.World.Fingerprint());
    }
}
