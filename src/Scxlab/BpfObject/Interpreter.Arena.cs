using Scxlab.Bpf;

namespace Scxlab.BpfObject;

/// <summary>
/// BPF arenas (kernel/bpf/arena.c): an arena pointer is a number, not one of the interpreter's tagged pointers. In the
/// program's address space 1 it is a user address (the arena's user_vm_start plus the page offset); clang casts it to
/// address space 0 (<c>addr_space_cast</c>: the low 32 bits) before every dereference, and the JIT adds the arena's
/// kernel base. So in a program with an arena, a load, store or atomic through a number is an arena access at that
/// 32-bit offset — a verified program dereferences no other number — and one through any other number is the
/// verifier's "invalid mem access 'scalar'". Each access to the arena's pages is one interleaving point
/// (<see cref="CallKind.ArenaLoad"/>/<see cref="CallKind.ArenaWrite"/>: the arena is memory every CPU shares); an access
/// outside them, where nothing is ever mapped, is what the kernel's fault fixup makes of it (0, or nothing) and needs
/// no step.
/// </summary>
internal sealed partial class Interpreter
{
    private const int ArenaPage = ArenaShape.PageSize;

    /// <summary>The kernel's guard region around the arena's 4 GiB (GUARD_SZ, half on each side).</summary>
    private const long ArenaGuardHalf = 1 << 15;

    /// <summary>BPF_ALU64 | BPF_MOV | BPF_X with off 1: imm 1 casts address space 1 to 0, imm 1 &lt;&lt; 16 back.</summary>
    private ulong AddrSpaceCast(ulong src, int imm, int pc)
    {
        if (obj.ArenaMap < 0) throw Fault(pc, "addr_space_cast insn can only be used in a program that has an associated arena");
        switch (imm)
        {
            case 1: // cast_kern: the offset the JIT adds to the arena's kernel base
                if (Mem.IsPointer(src)) throw Fault(pc, $"addr_space_cast of a {Mem.RegionOf(src)} pointer, which is not an arena pointer");
                return (uint)src;
            case 1 << 16: // cast_user: the user address again (NULL stays NULL)
                return (uint)src == 0 ? 0 : (obj.ArenaUserStart & ~0xffffffffUL) | (uint)src;
            default:
                throw Fault(pc, $"invalid addr_space_cast imm {imm}");
        }
    }

    /// <summary>A load (its value), store or atomic (the old value) at the arena's kernel-side offset <paramref name="addr"/>.</summary>
    private async BpfTask<long> ArenaAccess(BpfContext ctx, ulong addr, int size, MemOp op, ulong operand, ulong expected, bool load, int pc)
    {
        var k = (long)addr;
        if (k < -ArenaGuardHalf || k >= (1L << 32) + ArenaGuardHalf)
            throw Fault(pc, k is >= 0 and < 4096 ? $"invalid mem access: NULL pointer dereference (address 0x{addr:x})" : $"invalid mem access 'scalar' (address 0x{addr:x})");
        var rel = k - (uint)obj.ArenaUserStart;
        if (rel < 0 || rel >= (long)obj.Maps[obj.ArenaMap].MaxEntries * ArenaPage) return 0; // never mapped: the fault fixup
        var inPage = (int)(rel % ArenaPage);
        if ((inPage & 7) + size > 8) throw NotModelled(pc, $"misaligned {(load ? "load" : "store")} of {size} bytes at arena offset {rel} (the model's arena is word-addressed)");
        var pgoff = rel / ArenaPage;
        if (load)
        {
            var key = ArenaOps.Key(pgoff, inPage, size, 0);
            SpinCheck(ctx, pc, CallKind.ArenaLoad, ArenaHandle.Id, key);
            var v = await ctx.ArenaLoad(ArenaHandle, key);
            _spinCursor = ctx.Cursor;
            return v;
        }
        var writeKey = ArenaOps.Key(pgoff, inPage, size, (long)op);
        if (op != MemOp.Cmpxchg) return await ctx.ArenaWrite(ArenaHandle, writeKey, (long)Truncate(operand, size));
        SpinCheck(ctx, pc, CallKind.ArenaWrite, ArenaHandle.Id, writeKey);
        ctx.CmpxchgExpected = (long)expected;
        var old = await ctx.ArenaWrite(ArenaHandle, writeKey, (long)Truncate(operand, size));
        FailedCasSpins(ctx, (ulong)old != Truncate(expected, size));
        return old;
    }

    /// <summary>bpf_arena_alloc_pages(p__map, addr__ign, page_cnt, node_id, flags): the pages' user address, or NULL.</summary>
    private async BpfTask<long> ArenaAlloc(BpfContext ctx, ulong[] r, int pc)
    {
        var m = obj.Maps[MapIndex(r[1], pc, "bpf_arena_alloc_pages")];
        if (m.Type != MapTypes.Arena || r[5] != 0 || (uint)r[3] == 0) return 0;
        var node = (int)r[4];
        if (node != -1 && node != 0) return 0; // NUMA_NO_NODE or an online node: the model has one
        long count = (uint)r[3];
        if (count > m.MaxEntries) return 0;
        long hint = -1;
        if (r[2] != 0)
        {
            if ((r[2] & (ArenaPage - 1)) != 0) return 0;
            hint = (uint)((uint)r[2] - (uint)obj.ArenaUserStart) / ArenaPage;
            if (hint > m.MaxEntries - count) return 0; // outside the user range
        }
        var got = await ctx.ArenaWrite(ArenaHandle, ArenaOps.Key(hint + 1, 0, 0, ArenaOps.OpAlloc), count);
        if (got < 0) return 0;
        return (long)((obj.ArenaUserStart & ~0xffffffffUL) + (uint)(obj.ArenaUserStart + (ulong)got * ArenaPage));
    }

    /// <summary>bpf_arena_free_pages(p__map, ptr__ign, page_cnt): the pages of the range within the arena are unmapped.</summary>
    private async BpfTask<bool> ArenaFree(BpfContext ctx, ulong[] r, int pc)
    {
        var m = obj.Maps[MapIndex(r[1], pc, "bpf_arena_free_pages")];
        long count = (uint)r[3];
        if (m.Type != MapTypes.Arena || count == 0 || r[2] == 0) return false;
        var low = (ulong)((uint)r[2] & ~(uint)(ArenaPage - 1));
        var first = (obj.ArenaUserStart & ~0xffffffffUL) + low;
        var end = Math.Min(obj.ArenaUserStart + (ulong)m.MaxEntries * ArenaPage, first + (ulong)count * ArenaPage);
        if (first >= end) return false;
        var pgoff = (uint)((uint)low - (uint)obj.ArenaUserStart) / ArenaPage;
        await ctx.ArenaWrite(ArenaHandle, ArenaOps.Key(pgoff, 0, 0, ArenaOps.OpFree), (long)((end - first) / ArenaPage));
        return true;
    }
}
