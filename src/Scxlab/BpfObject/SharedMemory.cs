using Scxlab.Bpf;

namespace Scxlab.BpfObject;

/// <summary>A sub-word store or atomic RMW on one word of an array map (the kernel side of <c>CallKind.MemWrite</c>).</summary>
internal static class SharedMemory
{
    /// <param name="expected64">The expected value of a 64-bit compare-and-swap (<c>MemOp.Cmpxchg64</c>).</param>
    public static long Write(Span<long> m, MapHandle h, long key, long value, long expected64 = 0)
    {
        var word = (int)(key & 0xffffffff);
        var byteOff = (int)((key >> 32) & 0xff);
        var size = (int)((key >> 40) & 0xff);
        var op = (Interpreter.MemOp)((key >> 48) & 0xff);
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
        return (long)old;
    }
}
