using System.Numerics;

namespace Scxlab.Fuzzing;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014): the fuzzer's own generator, so a schedule depends on
/// (seed, index) only — not on System.Random's implementation, the thread or the worker count.
/// </summary>
internal struct FuzzRandom
{
    private ulong _state;

    public FuzzRandom(ulong seed, ulong stream) => _state = Mix(seed ^ Mix(stream + 0x9E3779B97F4A7C15UL));

    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-40 for the n used here).</summary>
    public int Below(int n) => (int)(((UInt128)Next() * (ulong)n) >> 64);
}

/// <summary>
/// HyperLogLog (Flajolet et al. 2007) with 2^14 one-byte registers: the distinct world fingerprints
/// a fuzz run saw, in 16 KiB whatever the run's length. Merging is a register-wise maximum, so the
/// estimate is the same whichever worker saw which fingerprint (results identical for every --jobs).
/// Below ~40 000 distinct values linear counting is used, which is close to exact for small runs.
/// </summary>
internal sealed class DistinctCounter
{
    private const int P = 14;
    private const int M = 1 << P;
    private readonly byte[] _reg = new byte[M];

    public void Add(ulong fingerprint)
    {
        var h = FuzzRandom.Mix(fingerprint);
        var idx = (int)(h >> (64 - P));
        var rank = (byte)(BitOperations.LeadingZeroCount((h << P) | (1UL << (P - 1))) + 1);
        if (rank > _reg[idx]) _reg[idx] = rank;
    }

    public void MergeFrom(DistinctCounter o)
    {
        for (var i = 0; i < M; i++)
            if (o._reg[i] > _reg[i]) _reg[i] = o._reg[i];
    }

    public byte[] Registers() => [.. _reg];

    /// <summary>A counter holding saved registers; null when they are not a sketch of this size.</summary>
    public static DistinctCounter? FromRegisters(byte[] registers)
    {
        if (registers.Length != M) return null;
        var c = new DistinctCounter();
        registers.CopyTo(c._reg, 0);
        return c;
    }

    public long Estimate()
    {
        double sum = 0;
        var zeros = 0;
        for (var i = 0; i < M; i++)
        {
            sum += Math.ScaleB(1.0, -_reg[i]);
            if (_reg[i] == 0) zeros++;
        }
        var alpha = 0.7213 / (1 + 1.079 / M);
        var e = alpha * M * M / sum;
        if (e <= 2.5 * M && zeros > 0) e = M * Math.Log((double)M / zeros);
        return (long)Math.Round(e);
    }
}
