using Scxlab.Exploration;

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
}
