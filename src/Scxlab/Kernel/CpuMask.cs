using System.Numerics;

namespace Scxlab.Kernel;

/// <summary>A 256-bit cpumask (the model's NR_CPUS is 256); a plain value so tasks stay unmanaged.</summary>
public struct CpuMask : IEquatable<CpuMask>
{
    private ulong _w0, _w1, _w2, _w3;

    public static CpuMask Of(params int[] cpus)
    {
        var m = default(CpuMask);
        foreach (var c in cpus) m.Set(c);
        return m;
    }

    public static CpuMask FirstN(int n)
    {
        var m = default(CpuMask);
        for (var c = 0; c < n; c++) m.Set(c);
        return m;
    }

    public readonly bool Test(int cpu)
    {
        if ((uint)cpu >= ScxConst.MaxCpus) return false;
        var w = (cpu >> 6) switch { 0 => _w0, 1 => _w1, 2 => _w2, _ => _w3 };
        return (w & (1UL << (cpu & 63))) != 0;
    }

    public void Set(int cpu) => Update(cpu, true);
    public void Clear(int cpu) => Update(cpu, false);

    private void Update(int cpu, bool on)
    {
        if ((uint)cpu >= ScxConst.MaxCpus) throw new ArgumentOutOfRangeException(nameof(cpu), cpu, "cpumask holds CPUs 0..255");
        var bit = 1UL << (cpu & 63);
        switch (cpu >> 6)
        {
            case 0: _w0 = on ? _w0 | bit : _w0 & ~bit; break;
            case 1: _w1 = on ? _w1 | bit : _w1 & ~bit; break;
            case 2: _w2 = on ? _w2 | bit : _w2 & ~bit; break;
            default: _w3 = on ? _w3 | bit : _w3 & ~bit; break;
        }
    }
    public readonly int Weight => BitOperations.PopCount(_w0) + BitOperations.PopCount(_w1) + BitOperations.PopCount(_w2) + BitOperations.PopCount(_w3);
    public readonly bool IsEmpty => (_w0 | _w1 | _w2 | _w3) == 0;

    /// <summary>Lowest set CPU at or after <paramref name="from"/>, or -1 (find_next_bit(): a word at a time).</summary>
    public readonly int Next(int from)
    {
        if (from < 0) from = 0;
        for (var k = from >> 6; k < 4; k++)
        {
            var bits = Word(k);
            if (k == from >> 6) bits &= ulong.MaxValue << (from & 63);
            if (bits != 0) return 64 * k + BitOperations.TrailingZeroCount(bits);
        }
        return -1;
    }

    public readonly CpuMask And(CpuMask o) => new() { _w0 = _w0 & o._w0, _w1 = _w1 & o._w1, _w2 = _w2 & o._w2, _w3 = _w3 & o._w3 };

    /// <summary>Every CPU the mask can hold (0..255): "no restriction" where a mask is intersected with another.</summary>
    public static CpuMask All => new() { _w0 = ulong.MaxValue, _w1 = ulong.MaxValue, _w2 = ulong.MaxValue, _w3 = ulong.MaxValue };

    /// <summary>How many 64-bit words (unsigned longs, as the kernel's bitmaps) hold CPUs 0..<paramref name="nrCpus"/>−1.</summary>
    public static int WordsFor(int nrCpus) => Math.Max(1, (nrCpus + 63) >> 6);

    /// <summary>Word <paramref name="k"/> (CPUs 64k..64k+63) as the kernel's <c>cpumask_bits()</c> holds it.</summary>
    public readonly ulong Word(int k) => k switch { 0 => _w0, 1 => _w1, 2 => _w2, 3 => _w3, _ => 0 };

    /// <summary>Word <paramref name="k"/> replaced by <paramref name="bits"/>.</summary>
    public void SetWord(int k, ulong bits)
    {
        switch (k)
        {
            case 0: _w0 = bits; break;
            case 1: _w1 = bits; break;
            case 2: _w2 = bits; break;
            case 3: _w3 = bits; break;
            default: throw new ArgumentOutOfRangeException(nameof(k), k, "cpumask words are 0..3");
        }
    }

    /// <summary>Only the CPUs below <paramref name="nrCpus"/> of this mask (its intersection with cpu_online_mask).</summary>
    public readonly CpuMask Below(int nrCpus) => new()
    {
        _w0 = _w0 & ValidBits(0, nrCpus),
        _w1 = _w1 & ValidBits(1, nrCpus),
        _w2 = _w2 & ValidBits(2, nrCpus),
        _w3 = _w3 & ValidBits(3, nrCpus),
    };

    /// <summary>CPUs 0..63 from a bit word (CPU i = bit i), as the C# policy API's <c>ulong</c> masks give them.</summary>
    public static CpuMask FromBits(ulong bits) => new() { _w0 = bits };

    /// <summary>The bits of word <paramref name="k"/> that stand for CPUs below <paramref name="nrCpus"/> (cpu_online_mask's word).</summary>
    public static ulong ValidBits(int k, int nrCpus)
    {
        var n = nrCpus - 64 * k;
        return n >= 64 ? ulong.MaxValue : n <= 0 ? 0 : (1UL << n) - 1;
    }

    public readonly bool Equals(CpuMask other) => _w0 == other._w0 && _w1 == other._w1 && _w2 == other._w2 && _w3 == other._w3;
    public override readonly bool Equals(object? obj) => obj is CpuMask m && Equals(m);
    public override readonly int GetHashCode() => HashCode.Combine(_w0, _w1, _w2, _w3);
    public static bool operator ==(CpuMask a, CpuMask b) => a.Equals(b);
    public static bool operator !=(CpuMask a, CpuMask b) => !a.Equals(b);

    /// <summary>Kernel-style list form, e.g. <c>0-1,3</c>.</summary>
    public override readonly string ToString()
    {
        var parts = new List<string>();
        for (var c = 0; c < ScxConst.MaxCpus; c++)
        {
            if (!Test(c)) continue;
            var e = c;
            while (e + 1 < ScxConst.MaxCpus && Test(e + 1)) e++;
            parts.Add(e == c ? $"{c}" : $"{c}-{e}");
            c = e;
        }
        return "{" + string.Join(",", parts) + "}";
    }
}
