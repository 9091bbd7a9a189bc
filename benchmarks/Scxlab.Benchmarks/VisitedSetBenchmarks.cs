using BenchmarkDotNet.Attributes;
using Scxlab.Exploration;

namespace Scxlab.Benchmarks;

/// <summary>
/// Filling the sequential visited set from its first table (1 024 slots) to 8 M states: doubling in place (address
/// space reserved up front, InPlaceDoubling) against doubling by copying into a new table (what a table does when it
/// cannot reserve: a budget of 0 here). The difference is mostly the fresh pages the copies fault in: every size
/// passed through, twice the final table, against the final table once.
/// </summary>
[MemoryDiagnoser]
public class VisitedSetBenchmarks
{
    private const int States = 8 << 20;

    [Params(true, false)]
    public bool InPlace { get; set; }

    [Benchmark(OperationsPerInvoke = States)]
    public long FillFromSmallTable()
    {
        using var set = new FingerprintSet(5, initialCapacityLog2: 10, maxBytes: InPlace ? long.MaxValue : 0);
        for (var i = 1UL; i <= States; i++) set.Add(null!, i * 0x9E3779B97F4A7C15UL, i & 0x1F, out _);
        return set.Count;
    }
}
