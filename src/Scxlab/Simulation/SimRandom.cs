using System.Runtime.CompilerServices;

namespace Scxlab.Simulation;

/// <summary>
/// The simulator's one choice source: xoshiro256** seeded through SplitMix64. Every
/// nondeterministic choice of a run (step-cost jitter, tie-breaks between equal virtual times,
/// start offsets, churn targets) is drawn from one instance, so a seed fixes the whole run.
/// </summary>
public sealed class SimRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public SimRandom(ulong seed)
    {
        var x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    private static ulong SplitMix(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong NextU64()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, n).</summary>
    public int NextInt(int n) => (int)((NextU64() >> 32) * (ulong)(uint)n >> 32);

    /// <summary>Uniform in [0, n) for 64-bit ranges.</summary>
    public long NextLong(long n) => n <= 0 ? 0 : (long)(NextU64() % (ulong)n);

    /// <summary>Uniform in (0, 1].</summary>
    public double NextUnit() => ((NextU64() >> 11) + 1) * (1.0 / (1UL << 53));

    /// <summary>Exponential with mean 1.</summary>
    public double NextExp() => -Math.Log(NextUnit());
}
