using Scxlab.Bpf;

namespace Scxlab.BpfObject;

/// <summary>A sub-word store or atomic RMW on one word of an array map (the kernel side of <c>CallKind.MemWrite</c>).</summary>
internal static class SharedMemory
{
    /// <param name="expected64">The expected value of a 64-bit compare-and-swap (<c>MemOp.Cmpxchg64</c>).</param>
    public static long Write(Span<long> m, MapHandle h, long key, long value, long expected64 = 0) => Write(m, h, key, value, expected64, out _);

    /// <param name="written">The word of <paramref name="m"/> written, or -1 when more than one may have been.</param>
    public static long Write(Span<long> m, MapHandle h, long key, long value, long expected64, out int written)
    {
        var word = (int)(key & 0xffffffff);
        var byteOff = (int)((key >> 32) & 0xff);
        var size = (int)((key >> 40) & 0xff);
        var op = (Interpreter.MemOp)((key >> 48) & 0xff);
        written = -1;
        if (op == Interpreter.MemOp.ClaimPair) return ClaimPair(m, h, value == 0 ? 2 : (int)value);
        if (size is not (1 or 2 or 4 or 8) || byteOff + size > 8) throw new PolicyMisuseException($"bad shared-memory write (offset {byteOff}, size {size})");
        var slot = MapOps.ArraySlot(h, word);
        var shift = byteOff * 8;
        var w = (ulong)m[slot];
        var old = Interpreter.Truncate(w >> shift, size);
        ulong operand = (ulong)value, expected = 0;
        if (op == Interpreter.MemOp.Cmpxchg)
        {
            operand = (uint)value;
            expected = (ulong)value >> 32;
        }
        else if (op == Interpreter.MemOp.Cmpxchg64) expected = (ulong)expected64;
        var nv = Interpreter.Apply(op, old, operand, expected, size);
        var mask = Interpreter.Truncate(ulong.MaxValue, size) << shift;
        m[slot] = (long)((w & ~mask) | (nv << shift));
        written = slot;
        return (long)old;
    }

    /// <summary>
    /// The first slot of <paramref name="stride"/> words [count, payload…] whose 32-bit count is 0 gets count 1 and a
    /// zero payload, in one step: bpf_cpumask_create() on the pool of struct bpf_cpumask objects (a payload word per 64
    /// CPUs; the operand of the write is the stride). Returns the slot's index, or -1 if all are taken.
    /// </summary>
    private static long ClaimPair(Span<long> m, MapHandle h, int stride)
    {
        for (var s = 0; stride * s + stride - 1 < h.Capacity; s++)
        {
            var count = MapOps.ArraySlot(h, stride * s);
            if ((uint)m[count] != 0) continue;
            m[count] = (m[count] & ~0xffffffffL) | 1;
            for (var w = 1; w < stride; w++) m[MapOps.ArraySlot(h, stride * s + w)] = 0;
            return s;
        }
        return -1;
    }
}
