using CsCheck;
using Scxlab.Exploration;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// The sequential fingerprint set doubles its tables in place (FingerprintSet.RehashInPlace): after any sequence of
/// insertions through many growths, it holds exactly the fingerprints a dictionary holds, each with its last aux word.
/// Fingerprints are drawn to crowd the index's top slots too, so clusters
/// run past the table's end and wrap, before a growth and while it puts entries back.
/// </summary>
public sealed class FingerprintSetGrowthTests
{
    /// <summary>
    /// A fingerprint crowded into the last slots of a table of some size (<see cref="CrowdTop"/>), where clusters wrap and a
    /// growth's probes run off the end; or an ordinary scattered one; or one from a small pool (revisits).
    /// </summary>
    private static readonly Gen<ulong> GenFingerprint = Gen.Frequency(
        (2, Gen.Select(Gen.ULong, Gen.Int[2, 12], Gen.Int[0, 8], (r, level, gap) => CrowdTop(r, level, gap))),
        (2, Gen.ULong),
        (1, Gen.ULong[0, 300].Select(x => x * 0x9E3779B97F4A7C15UL)));

    /// <summary>
    /// <paramref name="r"/> with its index bits set so that in a table of 2^<paramref name="level"/> slots it lands
    /// <paramref name="gap"/> slots below the last: the bits above stay random, so at the next doubling its home is in the
    /// lower half or the upper one alike.
    /// </summary>
    private static ulong CrowdTop(ulong r, int level, int gap)
    {
        var low = (1UL << level) - 1;
        return (r & ~(low << 20)) | (((low - (ulong)gap) & low) << 20);
    }

    private static readonly Gen<(int Actors, List<(ulong Fp, ulong Aux)> Ops)> GenRun =
        Gen.Select(Gen.Bool.Select(wide => wide ? 12 : 3), Gen.Select(GenFingerprint, Gen.ULong[0, 127]).List[0, 3000]);

    [Fact]
    public void Should_HoldExactlyTheInsertedFingerprints_When_TheTableGrowsManyTimes()
    {
        GenRun.Sample(run =>
        {
            var set = new FingerprintSet(run.Actors, initialCapacityLog2: 2);
            try
            {
                Assert.True(!BigTable.AddressSpaceUnlimited || set.GrowsInPlace, "on Linux without ulimit -v the tables grow in place");
                var expected = new Dictionary<ulong, ulong>();
                foreach (var (raw, aux) in run.Ops)
                {
                    var fp = raw == 0 ? 1 : raw; // the set's own normalisation of the empty-slot marker
                    var isNew = set.Add(null!, fp, aux, out var slot);
                    Assert.Equal(!expected.ContainsKey(fp), isNew);
                    if (isNew) expected[fp] = aux;
                    else
                    {
                        Assert.Equal(expected[fp], set.GetAux(slot));
                        set.SetAux(slot, aux);
                        expected[fp] = aux;
                    }
                }
                Assert.Equal(expected.Count, set.Count);
                foreach (var (fp, aux) in expected)
                {
                    Assert.True(set.Contains(fp));
                    Assert.False(set.Add(null!, fp, 0, out var slot));
                    Assert.Equal(aux, set.GetAux(slot));
                }
                var keys = new ulong[set.Count];
                set.CopyEntries(keys, new ulong[set.Count]);
                Assert.Equal(expected.Keys.Order(), keys.Order());
            }
            finally
            {
                set.Dispose();
            }
        }, iter: 300);
    }

    /// <summary>A table whose budget its reservation does not cover (a spill that failed keeps adding) goes on growing, by copying.</summary>
    [Fact]
    public void Should_KeepEveryState_When_TheTableGrowsPastWhatItReserved()
    {
        using var set = new FingerprintSet(3, initialCapacityLog2: 2, maxBytes: 9 * 64);
        for (var i = 1UL; i <= 5000; i++) Assert.True(set.Add(null!, i * 0x9E3779B97F4A7C15UL, i & 0x7F, out _));
        for (var i = 1UL; i <= 5000; i++)
        {
            Assert.False(set.Add(null!, i * 0x9E3779B97F4A7C15UL, 0, out var slot));
            Assert.Equal(i & 0x7F, set.GetAux(slot));
        }
        Assert.Equal(5000, set.Count);
    }

    [Fact]
    public void Should_ReserveForTheLargestTableTheBudgetAllows()
    {
        Assert.Equal(64, BigTable.ReachableCapacity(4, 9 * 64, 9, FingerprintSet.MaxCapacity));
        Assert.Equal(64, BigTable.ReachableCapacity(4, 9 * 127, 9, FingerprintSet.MaxCapacity));
        Assert.Equal(4, BigTable.ReachableCapacity(4, 10, 9, FingerprintSet.MaxCapacity));
        Assert.Equal(FingerprintSet.MaxCapacity, BigTable.ReachableCapacity(1 << 10, long.MaxValue, 16, FingerprintSet.MaxCapacity));
    }

    [Fact]
    public void Should_KeepEveryState_When_ABigTableDoublesInPlace()
    {
        using var set = new FingerprintSet(5, initialCapacityLog2: 10);
        const int n = 3_000_000;
        for (var i = 1UL; i <= n; i++) Assert.True(set.Add(null!, i * 0xC2B2AE3D27D4EB4FUL, i & 0x7F, out _));
        for (var i = 1UL; i <= n; i++)
        {
            Assert.False(set.Add(null!, i * 0xC2B2AE3D27D4EB4FUL, 0, out var slot));
            Assert.Equal(i & 0x7F, set.GetAux(slot));
        }
        Assert.Equal(n, set.Count);
    }
}
