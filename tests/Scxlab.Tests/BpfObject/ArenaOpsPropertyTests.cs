using CsCheck;
using Scxlab.Bpf;
using Scxlab.BpfObject;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// ArenaOps (the world's page slots: lazy global pages, tombstones, first-fit allocation) against a plain model of
/// kernel/bpf/arena.c — a set of mapped pages, each with its bytes — on random sequences of allocations, frees, stores,
/// atomics and loads: the two agree on every result, and on every page's contents at the end.
/// </summary>
public class ArenaOpsPropertyTests
{
    private const int Pages = 12, GlobalPages = 2;

    private sealed record Op(int Kind, int Page, int Count, int Word, long Value);

    private static readonly Gen<Op> GenOp = Gen.Select(Gen.Int[0, 5], Gen.Int[0, Pages], Gen.Int[1, 3], Gen.Int[0, 4], Gen.Long[-3, 3], (k, p, c, w, v) => new Op(k, p, c, w, v));

    /// <summary>The reference: the mapped pages and their words (arena_alloc_pages's first fit, free's unmapping).</summary>
    private sealed class Reference
    {
        public readonly Dictionary<long, long[]> Mapped = [];

        public Reference(byte[] init)
        {
            for (var g = 0; g < GlobalPages; g++)
            {
                var words = new long[ArenaShape.PageWords];
                for (var w = 0; w < words.Length; w++) words[w] = BitConverter.ToInt64(init, g * ArenaShape.PageSize + 8 * w);
                Mapped[Pages - GlobalPages + g] = words;
            }
        }

        public long Alloc(long hint, long count)
        {
            bool Free(long start) => start + count <= Pages && Enumerable.Range(0, (int)count).All(i => !Mapped.ContainsKey(start + i));
            long at = -1;
            if (hint >= 0) at = Free(hint) ? hint : -1;
            else for (long s = 0; s < Pages && at < 0; s++) if (Free(s)) at = s;
            if (at >= 0) for (var i = 0; i < count; i++) Mapped[at + i] = new long[ArenaShape.PageWords];
            return at;
        }

        public void FreePages(long first, long count)
        {
            for (var p = first; p < first + count && p < Pages; p++) Mapped.Remove(p);
        }

        public long Load(long page, int word) => Mapped.TryGetValue(page, out var w) ? w[word] : 0;

        public long Add(long page, int word, long v)
        {
            if (!Mapped.TryGetValue(page, out var w)) return 0;
            var old = w[word];
            w[word] = old + v;
            return old;
        }
    }

    [Fact]
    public void Should_AgreeWithAPlainModelOfTheArena_When_ProgramsAllocateFreeAndTouchPages()
    {
        var init = new byte[GlobalPages * ArenaShape.PageSize];
        for (var i = 0; i < init.Length; i += 8) BitConverter.TryWriteBytes(init.AsSpan(i), (long)(i / 8 + 1));
        Gen.Int[1, Pages + 2].SelectMany(slots => GenOp.Array[1, 40].Select(ops => (slots, ops))).Sample(t =>
        {
            var (slots, ops) = t;
            var shape = new ArenaShape(Pages, Pages - GlobalPages, init, slots);
            var h = new MapHandle(0, MapKind.Arena, 0, slots, ArenaShape.SlotWords);
            var m = new long[slots * ArenaShape.SlotWords];
            var reference = new Reference(init);
            try
            {
                foreach (var op in ops)
                {
                    var word = op.Word * 7;
                    switch (op.Kind)
                    {
                        case 0 or 1: // alloc anywhere / at a page
                        {
                            var hint = op.Kind == 0 ? -1 : op.Page;
                            var got = ArenaOps.Write(m, h, shape, ArenaOps.Key(hint + 1, 0, 0, ArenaOps.OpAlloc), op.Count, 0);
                            if (got != reference.Alloc(hint, op.Count)) return false;
                            break;
                        }
                        case 2: // free
                            ArenaOps.Write(m, h, shape, ArenaOps.Key(op.Page, 0, 0, ArenaOps.OpFree), op.Count, 0);
                            reference.FreePages(op.Page, op.Count);
                            break;
                        case 3: // fetch-add (a store when the page is mapped, nothing when not)
                        {
                            var old = ArenaOps.Write(m, h, shape, ArenaOps.Key(op.Page, 8 * word, 8, (long)Interpreter.MemOp.Add), op.Value, 0);
                            if (old != reference.Add(op.Page, word, op.Value)) return false;
                            break;
                        }
                        default: // load
                            if (ArenaOps.Load(m, h, shape, ArenaOps.Key(op.Page, 8 * word, 8, 0)) != reference.Load(op.Page, word)) return false;
                            break;
                    }
                }
            }
            catch (Scxlab.Bpf.ModelLimitException)
            {
                return slots < Pages; // only when the slots ran out
            }
            for (var p = 0; p < Pages; p++)
                for (var w = 0; w < ArenaShape.PageWords; w += 37)
                    if (ArenaOps.Load(m, h, shape, ArenaOps.Key(p, 8 * w, 8, 0)) != reference.Load(p, w)) return false;
            return true;
        }, iter: 2000);
    }
}
