using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;
using Scxlab.Stepping;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// The footprint bit of each resource (<see cref="ResourceBits"/>): the resources most steps touch have bits of their
/// own, so the reduced search sees two steps as dependent only when they touch a common one; and the mapping is a
/// function of the configuration, as the parallel search's workers (each with its own machine) need.
/// </summary>
public class ResourceBitsTests
{
    /// <summary>The resources most steps touch, by (kind, id), for a machine.</summary>
    private static List<(Resource Kind, int Id)> MostUsed(Machine m)
    {
        var list = new List<(Resource, int)> { (Resource.Sched, 0), (Resource.Dsq, Machine.GlobalSlot), (Resource.DsqLock, Machine.GlobalSlot) };
        for (var t = 0; t < m.Config.Tasks.Count; t++) list.AddRange([(Resource.Task, t), (Resource.PiLock, t)]);
        for (var c = 0; c < m.N; c++) list.AddRange([(Resource.Rq, c), (Resource.Lock, c), (Resource.Buffer, c), (Resource.Dsq, m.LocalSlot(c))]);
        for (var map = 0; map < m.MapLayout.Maps.Count; map++) list.Add((Resource.Map, map));
        return list;
    }

    [Theory]
    [InlineData("seed-race-r1")]
    [InlineData("scale-3cpu")]
    [InlineData("scale-4cpu")]
    [InlineData("qseq-aba-3cpu")]
    public void Should_GiveTheMostUsedResourcesBitsOfTheirOwn_When_ABuiltInScenarioIsLoaded(string name)
    {
        var m = new Machine(ScenarioLoader.Resolve(name).ToConfig());
        var bits = MostUsed(m).Select(r => (r, Bit: m.Bits.Of(r.Kind, r.Id))).ToList();
        Assert.All(bits, b => Assert.Equal(1, System.Numerics.BitOperations.PopCount(b.Bit)));
        var shared = bits.GroupBy(b => b.Bit).Where(g => g.Count() > 1).Select(g => string.Join(" and ", g.Select(b => $"{b.r.Kind} {b.r.Id}"))).ToList();
        Assert.True(shared.Count == 0, $"{name}: resources sharing a footprint bit: {string.Join("; ", shared)}");
    }

    [Fact]
    public void Should_MapEveryResourceAlike_When_TwoMachinesAreBuiltFromOneConfiguration()
    {
        var config = ScenarioLoader.Resolve("scale-4cpu").ToConfig();
        var a = new Machine(config);
        var b = new Machine(config);
        foreach (var kind in Enum.GetValues<Resource>())
            for (var id = 0; id < 64; id++)
                Assert.Equal(a.Bits.Of(kind, id), b.Bits.Of(kind, id));
    }

    [Fact]
    public void Should_RefuseAListThatMissesOrRepeatsAResource_When_BitsAreBuilt()
    {
        var counts = new Dictionary<Resource, int> { [Resource.Task] = 2, [Resource.Sched] = 1 };
        Assert.Throws<ArgumentException>(() => new ResourceBits(counts, [(Resource.Task, 0), (Resource.Sched, 0)]));
        Assert.Throws<ArgumentException>(() => new ResourceBits(counts, [(Resource.Task, 0), (Resource.Task, 0), (Resource.Sched, 0)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ResourceBits(counts, [(Resource.Task, 0), (Resource.Task, 2), (Resource.Sched, 0)]));
        var ok = new ResourceBits(counts, [(Resource.Sched, 0), (Resource.Task, 1), (Resource.Task, 0)]);
        Assert.Equal([1UL, 2UL, 4UL], new[] { ok.Of(Resource.Sched, 0), ok.Of(Resource.Task, 1), ok.Of(Resource.Task, 0) });
    }

    /// <summary>
    /// The reduced search with a machine's bits: the pinned states (sleep sets prune transitions only) in fewer
    /// transitions than with a hash of (kind, id) into 64 bits, whose collisions made central-remote's reduced search
    /// take 34 665 (scale-3cpu's 561 334 against 527 152 now; measured with the build before the change).
    /// </summary>
    [Fact]
    public void Should_PruneMoreTransitionsThanHashedBits_When_CentralRemoteIsSearchedReduced()
    {
        var config = ScenarioLoader.Resolve("central-remote").ToConfig();
        var reduced = new Explorer(new Machine(config), new ExploreOptions { Strategy = Strategy.Reduced, Jobs = 1 }).Run();
        Assert.Equal(Verdict.Violation, reduced.Verdict);
        Assert.Equal(22_243, reduced.Stats.States);
        Assert.True(reduced.Stats.Transitions < 34_665, $"{reduced.Stats.Transitions} transitions");
    }
}
