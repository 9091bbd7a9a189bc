using Scxlab.Bpf;

namespace Scxlab.BpfObject;

/// <summary>
/// A BPF arena's pages over the world's words: the kernel side of <see cref="CallKind.ArenaLoad"/> and
/// <see cref="CallKind.ArenaWrite"/> (kernel/bpf/arena.c). A page is allocated when a slot holds it (tag pgoff + 1) or
/// when it is one of libbpf's global pages and no slot holds its tombstone (the program freed it); every other page
/// of the arena is unallocated, and an access to it is what the kernel's fault fixup makes of it: a load reads 0, a
/// store is dropped. A slot is taken when a page is allocated, or when a global page is first written (it holds
/// libbpf's initial bytes until then, read from <see cref="ArenaShape.GlobalInit"/>), and given back, zeroed, when the
/// page is freed. Slots are taken lowest first, so the world never holds a stale page. Two interleavings that map the
/// same pages in another order may put them in other slots: those states then count as different (more states, never
/// fewer; the verdicts are unaffected).
/// </summary>
internal static class ArenaOps
{
    /// <summary>A global page the program freed: unallocated, though libbpf's pages start out allocated.</summary>
    public const long Tombstone = 1L << 40;

    /// <summary>ArenaWrite operations beyond <see cref="Interpreter.MemOp"/>'s stores and atomics.</summary>
    public const long OpAlloc = 20, OpFree = 21;

    public static long Key(long pgoff, int byteInPage, int size, long op) => (uint)pgoff | ((long)byteInPage << 32) | ((long)size << 44) | (op << 52);

    private static int SlotOf(Span<long> m, MapHandle h, long pgoff)
    {
        for (var s = 0; s < h.Capacity; s++)
            if ((m[h.Offset + s * ArenaShape.SlotWords] & ~Tombstone) == pgoff + 1) return s;
        return -1;
    }

    private static bool Allocated(Span<long> m, MapHandle h, ArenaShape a, long pgoff)
    {
        var s = SlotOf(m, h, pgoff);
        return s >= 0 ? (m[h.Offset + s * ArenaShape.SlotWords] & Tombstone) == 0 : a.IsGlobalPage(pgoff);
    }

    /// <summary>A free slot for <paramref name="pgoff"/>, zeroed and tagged; a model limit when every slot is taken.</summary>
    private static int Take(Span<long> m, MapHandle h, long pgoff, bool tombstone = false)
    {
        for (var s = 0; s < h.Capacity; s++)
        {
            var at = h.Offset + s * ArenaShape.SlotWords;
            if (m[at] != 0) continue;
            m.Slice(at + 1, ArenaShape.PageWords).Clear();
            m[at] = (pgoff + 1) | (tombstone ? Tombstone : 0);
            return s;
        }
        throw new ModelLimitException($"scxlab: the model backs {h.Capacity} arena pages and all are in use (raise bounds: {{ arena_pages: N }})");
    }

    public static long Load(Span<long> m, MapHandle h, ArenaShape a, long key)
    {
        var pgoff = key & 0xffffffff;
        var byteInPage = (int)((key >> 32) & 0xfff);
        var size = (int)((key >> 44) & 0xff);
        var word = byteInPage >> 3;
        var s = SlotOf(m, h, pgoff);
        var w = s >= 0 ? m[h.Offset + s * ArenaShape.SlotWords + 1 + word] : a.IsGlobalPage(pgoff) ? a.InitWord(pgoff, word) : 0;
        return (long)Interpreter.Truncate((ulong)w >> ((byteInPage & 7) * 8), size);
    }

    /// <summary>A store or atomic (the old value), an allocation (the first pgoff, or -1 for NULL) or a free.</summary>
    public static long Write(Span<long> m, MapHandle h, ArenaShape a, long key, long value, long expected) =>
        Write(m, h, a, key, value, expected, out _, out _);

    /// <param name="from">With <paramref name="count"/>: the words of <paramref name="m"/> the write changed (count 0:
    /// none); -1 when it may have changed any slot (an allocation, a free).</param>
    public static long Write(Span<long> m, MapHandle h, ArenaShape a, long key, long value, long expected, out int from, out int count)
    {
        var pgoff = key & 0xffffffff;
        var op = (key >> 52) & 0xff;
        from = -1;
        count = 0;
        if (op == OpAlloc) return Alloc(m, h, a, pgoff - 1, value);
        if (op == OpFree)
        {
            Free(m, h, a, pgoff, value);
            return 0;
        }
        from = 0;
        var byteInPage = (int)((key >> 32) & 0xfff);
        var size = (int)((key >> 44) & 0xff);
        var s = SlotOf(m, h, pgoff);
        if (s >= 0 && (m[h.Offset + s * ArenaShape.SlotWords] & Tombstone) != 0) return 0;
        if (s < 0)
        {
            if (!a.IsGlobalPage(pgoff)) return 0;
            s = Take(m, h, pgoff);
            for (var w = 0; w < ArenaShape.PageWords; w++) m[h.Offset + s * ArenaShape.SlotWords + 1 + w] = a.InitWord(pgoff, w);
            (from, count) = (h.Offset + s * ArenaShape.SlotWords, ArenaShape.SlotWords);
        }
        else (from, count) = (h.Offset + s * ArenaShape.SlotWords + 1 + (byteInPage >> 3), 1);
        ref var word = ref m[h.Offset + s * ArenaShape.SlotWords + 1 + (byteInPage >> 3)];
        var shift = (byteInPage & 7) * 8;
        var old = Interpreter.Truncate((ulong)word >> shift, size);
        var nv = Interpreter.Apply((Interpreter.MemOp)op, old, (ulong)value, (ulong)expected, size);
        var mask = Interpreter.Truncate(ulong.MaxValue, size) << shift;
        word = (long)(((ulong)word & ~mask) | (nv << shift));
        return (long)old;
    }

    /// <summary>
    /// arena_alloc_pages(): at <paramref name="hint"/> if every page there is free (else NULL), or the lowest run of
    /// <paramref name="count"/> free pages (range_tree_find(): first fit from the arena's start).
    /// </summary>
    private static long Alloc(Span<long> m, MapHandle h, ArenaShape a, long hint, long count)
    {
        if (hint >= 0 && hint + count > a.Pages) return -1; // outside the user range
        if (count > h.Capacity)
            throw new ModelLimitException($"scxlab: bpf_arena_alloc_pages() of {count} pages: the model backs {h.Capacity} arena pages (raise bounds: {{ arena_pages: N }})");
        long start;
        if (hint >= 0)
        {
            for (var p = hint; p < hint + count; p++)
                if (Allocated(m, h, a, p)) return -1;
            start = hint;
        }
        else
        {
            // A run of free pages starts at 0 or right after an allocated page, and the allocated pages are few (the
            // slots and the global run): try 0, the page after each, and each freed global page.
            var candidates = new List<long> { 0, a.GlobalFirstPage + a.GlobalPages };
            for (var s = 0; s < h.Capacity; s++)
            {
                var tag = m[h.Offset + s * ArenaShape.SlotWords];
                if (tag == 0) continue;
                candidates.Add(tag & ~Tombstone);
                if ((tag & Tombstone) != 0) candidates.Add((tag & ~Tombstone) - 1);
            }
            candidates.Sort();
            start = -1;
            foreach (var c in candidates)
            {
                if (c + count > a.Pages) continue;
                var free = true;
                for (var p = c; p < c + count && free; p++) free = !Allocated(m, h, a, p);
                if (free)
                {
                    start = c;
                    break;
                }
            }
            if (start < 0) return -1;
        }
        for (var p = start; p < start + count; p++)
        {
            var s = SlotOf(m, h, p);
            if (s >= 0) m[h.Offset + s * ArenaShape.SlotWords] = 0; // a freed global page's tombstone gives way
        }
        var freeSlots = 0;
        for (var s = 0; s < h.Capacity; s++)
            if (m[h.Offset + s * ArenaShape.SlotWords] == 0) freeSlots++;
        if (freeSlots < count)
            throw new ModelLimitException($"scxlab: bpf_arena_alloc_pages() of {count} pages: the model backs {h.Capacity} arena pages and {h.Capacity - freeSlots} are in use (raise bounds: {{ arena_pages: N }})");
        for (var p = start; p < start + count; p++) Take(m, h, p);
        return start;
    }

    /// <summary>arena_free_pages(): every allocated page of the range is unmapped (zeroed); the others are left.</summary>
    private static void Free(Span<long> m, MapHandle h, ArenaShape a, long first, long count)
    {
        for (var p = first; p < first + count && p < a.Pages; p++)
        {
            var s = SlotOf(m, h, p);
            if (s >= 0)
            {
                var at = h.Offset + s * ArenaShape.SlotWords;
                if ((m[at] & Tombstone) != 0) continue;
                m.Slice(at + 1, ArenaShape.PageWords).Clear();
                m[at] = a.IsGlobalPage(p) ? (p + 1) | Tombstone : 0;
            }
            else if (a.IsGlobalPage(p)) Take(m, h, p, tombstone: true);
        }
    }
}
