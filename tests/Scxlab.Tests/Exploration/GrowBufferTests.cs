using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// The BFS frontier and the exact visited set keep encoded worlds in a GrowBuffer. A layer of scale-4cpu's BFS passes
/// 1 GiB: the buffer must keep growing (it once doubled an int past 2^31 and spun forever), and every item must read
/// back as written.
/// </summary>
public class GrowBufferTests
{
    [Fact(Timeout = 120_000)]
    [Trait("Category", "Long")]
    public async Task Should_HoldMoreThanOneGibibyte_When_ABfsLayerIsThatBig()
    {
        var length = await Task.Run(() =>
        {
            var b = new GrowBuffer();
            var chunk = new byte[1 << 20];
            var items = new List<(long Offset, int Length, byte Mark)>();
            for (var i = 0; i < 1100; i++)
            {
                chunk[0] = chunk[^1] = (byte)i;
                items.Add((b.Append(chunk), chunk.Length, (byte)i));
            }
            foreach (var (offset, length, mark) in items)
            {
                var s = b.Slice(offset, length);
                Assert.Equal(mark, s[0]);
                Assert.Equal(mark, s[^1]);
            }
            return b.Length;
        }, TestContext.Current.CancellationToken);
        Assert.True(length >= 1100L << 20); // past 1 GiB: the second segment was used
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Should_StopIncomplete_When_TheBfsFrontierOutgrowsItsMemory(int jobs)
    {
        var scenario = ScenarioLoader.Resolve("scale-3cpu");
        var r = new Explorer(new Machine(scenario.ToConfig()), new ExploreOptions
        {
            Strategy = Strategy.Bfs, Checks = scenario.Checks, Jobs = jobs, MaxFrontierBytes = 4L << 20,
        }).Run();
        Assert.Equal(Verdict.Incomplete, r.Verdict);
        Assert.Contains("the BFS frontier outgrew the memory left for it", r.IncompleteReason);
        // Without the bound the same search completes (what the bound cut was real work).
        Assert.True(new Explorer(new Machine(scenario.ToConfig()), new ExploreOptions { Strategy = Strategy.Bfs, Checks = scenario.Checks, Jobs = jobs }).Run().Complete);
    }
}
