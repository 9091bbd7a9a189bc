using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Scxlab.Stepping;

namespace Scxlab.Exploration;

/// <summary>The explorer's state cache. Each entry carries an auxiliary word (the sleep set stored with the state).</summary>
public interface IVisitedSet
{
    /// <summary>Insert; true if the state is new. <paramref name="slot"/> addresses the entry either way.</summary>
    bool Add(World w, ulong fingerprint, ulong aux, out long slot);
    ulong GetAux(long slot);
    void SetAux(long slot, ulong aux);
    long Count { get; }
    /// <summary>Bytes held by the set (what the stored states cost).</summary>
    long Bytes { get; }
    /// <summary>Would one more insertion exceed <paramref name="limit"/> bytes?</summary>
    bool WouldExceed(long limit);
    /// <summary>Why <see cref="WouldExceed"/> said yes, in words (the search's incomplete reason).</summary>
    string ExhaustedReason(long limit) => $"memory budget of {limit >> 20} MiB for stored states exhausted";

    /// <summary>
    /// A hint that <see cref="Add"/> will soon be asked about <paramref name="fingerprint"/>: start loading its slot,
    /// so the cache miss overlaps the caller's work in between (the probe's miss is the search's hottest instruction).
    /// </summary>
    void Prefetch(ulong fingerprint) { }
}

/// <summary>A visited set that several threads may query at once while nobody adds (the parallel BFS's expand phase).</summary>
public interface IConcurrentLookup
{
    bool Contains(ulong fingerprint);
}

/// <summary>
/// Open addressing over 64-bit fingerprints (linear probing), with the auxiliary word packed in a
/// byte when the scenario has ≤ 7 actors. 9 bytes a slot, at most 3/4 full: 12–24 bytes per state.
/// The slots live outside the managed heap on huge pages where the OS offers them (<see cref="BigTable"/>).
/// </summary>
public sealed unsafe class FingerprintSet : IVisitedSet, IConcurrentLookup, IDisposable
{
    private BigTable _keyTable;
    private BigTable _auxTable;
    private ulong* _keys;
    private long _capacity;
    private readonly bool _wide;
    private long _count;
    private int _mask;
    private ulong _lastFp;
    private int _lastIndex = -1;

    // The most slots the tables reserve address space for (they double in place up to it, by copying past it).
    private readonly long _reserveCapacity;

    /// <param name="maxBytes">What the table may use (the search's memory budget): its tables reserve address space for the largest size within it.</param>
    public FingerprintSet(int actors, int initialCapacityLog2 = 16, long maxBytes = long.MaxValue)
    {
        _wide = actors > 7; // the byte holds 7 actors' sleep bits and the explorer's taint bit (bit 7)
        _reserveCapacity = BigTable.ReachableCapacity(1L << initialCapacityLog2, maxBytes, SlotBytes, MaxCapacity);
        Allocate(1 << initialCapacityLog2);
    }

    /// <summary>The most slots a table can have (its index is an int); what a table reserves address space for, to grow in place.</summary>
    internal const long MaxCapacity = 1L << 30;

    [MemberNotNull(nameof(_keyTable), nameof(_auxTable))]
    private void Allocate(int cap)
    {
        var reserve = Math.Max(cap, _reserveCapacity);
        _keyTable = BigTable.Growable(cap * 8L, reserve * 8);
        _auxTable = BigTable.Growable(cap * (_wide ? 8L : 1L), reserve * (_wide ? 8 : 1));
        _keys = _keyTable.Words;
        _capacity = cap;
        _mask = cap - 1;
    }

    /// <summary>Does a growth extend the tables in place (<see cref="InPlaceDoubling"/>), rather than copy into new ones?</summary>
    internal bool GrowsInPlace => _keyTable.CanGrow && _auxTable.CanGrow;

    public long Count => _count;
    /// <summary>A slot's key and aux: 8 + 1 bytes, or 8 + 8 with more than 7 actors.</summary>
    private int SlotBytes => _wide ? 16 : 9;
    public long Bytes => _capacity * SlotBytes;
    public bool WouldExceed(long limit) => (_count + 1) * 4 > _capacity * 3 && (Bytes * 2 > limit || _capacity * 2 > MaxCapacity);

    public string ExhaustedReason(long limit) => _capacity * 2 > MaxCapacity
        ? $"the visited set is at its largest table ({MaxCapacity * 3 / 4} states); --spill-dir keeps more"
        : $"memory budget of {limit >> 20} MiB for stored states exhausted";

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Add(World w, ulong fp, ulong aux, out long slot)
    {
        if (fp == 0) fp = 1; // 0 marks an empty slot
        // The caller's handle is the fingerprint, not the table index: a growth moves entries, and the reduced
        // DFS keeps the handles of the states on its stack to taint them much later (Explorer.Dfs).
        slot = (long)fp;
        var keys = _keys;
        var i = (int)(fp >> 20) & _mask;
        while (true)
        {
            var k = keys[i];
            if (k == fp) { (_lastFp, _lastIndex) = (fp, i); return false; }
            if (k == 0) break; // (_lastFp's write below keeps this object, and so its tables, alive through the loop)
            i = (i + 1) & _mask;
        }
        if ((_count + 1) * 4 > _capacity * 3)
        {
            Grow();
            return Add(w, fp, aux, out slot);
        }
        keys[i] = fp;
        SetAuxAt(i, aux);
        _count++;
        (_lastFp, _lastIndex) = (fp, i);
        return true;
    }

    public void Prefetch(ulong fp)
    {
        if (!Sse.IsSupported) return;
        if (fp == 0) fp = 1;
        var i = (int)(fp >> 20) & _mask;
        Sse.Prefetch0(_keys + i);
        Sse.Prefetch0(_wide ? _auxTable.Words + i : _auxTable.Bytes + i);
    }

    /// <summary>
    /// Is <paramref name="fp"/> stored? Safe to call from several threads while nobody adds (the parallel
    /// search's expand phase): it only reads the key table.
    /// </summary>
    public bool Contains(ulong fp)
    {
        if (fp == 0) fp = 1;
        var keys = _keys;
        var mask = _mask;
        var i = (int)(fp >> 20) & mask;
        while (true)
        {
            var k = keys[i];
            if (k == fp || k == 0)
            {
                GC.KeepAlive(this); // the tables are freed by their finalizers: not while this loop reads them
                return k == fp;
            }
            i = (i + 1) & mask;
        }
    }

    /// <summary>The slot of <paramref name="fp"/> (already normalised: never 0), or false.</summary>
    internal bool TryFind(ulong fp, out long slot)
    {
        var i = (int)(fp >> 20) & _mask;
        while (true)
        {
            var k = _keys[i];
            if (k == fp) { slot = i; return true; }
            if (k == 0) { slot = -1; return false; }
            i = (i + 1) & _mask;
        }
    }

    /// <summary>Every stored fingerprint and its aux word, in slot order, into the first <see cref="Count"/> cells.</summary>
    internal void CopyEntries(ulong[] keys, ulong[] aux)
    {
        var j = 0;
        for (var i = 0L; i < _capacity; i++)
        {
            if (_keys[i] == 0) continue;
            keys[j] = _keys[i];
            aux[j++] = AuxAt(i);
        }
    }

    /// <summary>Forget every entry, keeping the table's size.</summary>
    internal void Clear()
    {
        NativeMemory.Clear(_keyTable.Words, (nuint)_keyTable.ByteLength);
        NativeMemory.Clear(_auxTable.Words, (nuint)_auxTable.ByteLength);
        _count = 0;
        _lastIndex = -1;
    }

    public ulong GetAux(long slot) => AuxAt(IndexOf(slot));

    public void SetAux(long slot, ulong aux) => SetAuxAt(IndexOf(slot), aux);

    /// <summary>The table index of a handle <see cref="Add"/> gave (the last one found is remembered).</summary>
    private int IndexOf(long slot)
    {
        var fp = (ulong)slot;
        if (_lastIndex >= 0 && _lastFp == fp) return _lastIndex;
        if (!TryFind(fp, out var i)) throw new ArgumentException("no such state", nameof(slot));
        (_lastFp, _lastIndex) = (fp, (int)i);
        return (int)i;
    }

    private ulong AuxAt(long i) => _wide ? _auxTable.Words[i] : _auxTable.Bytes[i];

    private void SetAuxAt(long i, ulong aux)
    {
        if (_wide) _auxTable.Words[i] = aux;
        else _auxTable.Bytes[i] = (byte)aux;
    }

    private void Grow()
    {
        _lastIndex = -1;
        var oldCapacity = _capacity;
        var newCapacity = oldCapacity * 2;
        if (newCapacity > MaxCapacity) throw new InvalidOperationException($"the visited set cannot hold more than {MaxCapacity * 3 / 4} states");
        if (_keyTable.TryGrow(newCapacity * 8) && _auxTable.TryGrow(newCapacity * (_wide ? 8 : 1)))
        {
            _capacity = newCapacity;
            _mask = (int)(newCapacity - 1);
            InPlaceDoubling.Rehash(_keyTable, _auxTable, _wide, oldCapacity);
            return;
        }
        var oldKeys = _keyTable;
        var oldAux = _auxTable;
        Allocate((int)newCapacity);
        for (var j = 0L; j < oldCapacity; j++)
        {
            var k = oldKeys.Words[j];
            if (k == 0) continue;
            var i = (int)(k >> 20) & _mask;
            while (_keys[i] != 0) i = (i + 1) & _mask;
            _keys[i] = k;
            SetAuxAt(i, _wide ? oldAux.Words[j] : oldAux.Bytes[j]);
        }
        oldKeys.Dispose();
        oldAux.Dispose();
    }

    public void Dispose()
    {
        _keyTable.Dispose();
        _auxTable.Dispose();
        _keys = null;
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// Exact mode: every state stored in full (its <see cref="WorldCodec"/> bytes), compared byte for
/// byte; no collision can hide a state.
/// </summary>
public sealed class ExactSet : IVisitedSet
{
    private readonly GrowBuffer _bytes = new();
    private readonly GrowBuffer _scratch = new();
    private readonly Dictionary<ulong, List<int>> _byHash = [];
    private readonly List<(long Offset, int Length)> _entries = [];
    private readonly List<ulong> _aux = [];

    public long Count => _entries.Count;
    public long Bytes => _bytes.Length + _entries.Count * 48L;
    public bool WouldExceed(long limit) => Bytes > limit;

    public bool Add(World w, ulong fp, ulong aux, out long slot)
    {
        _scratch.Clear();
        var at = WorldCodec.Save(w, _scratch);
        var me = _scratch.Slice(at, (int)(_scratch.Length - at));
        if (_byHash.TryGetValue(fp, out var list))
        {
            foreach (var e in list)
            {
                var (o, l) = _entries[e];
                if (_bytes.Slice(o, l).SequenceEqual(me)) { slot = e; return false; }
            }
        }
        else
        {
            list = [];
            _byHash[fp] = list;
        }
        var off = _bytes.Append(me);
        _entries.Add((off, me.Length));
        _aux.Add(aux);
        list.Add(_entries.Count - 1);
        slot = _entries.Count - 1;
        return true;
    }

    public ulong GetAux(long slot) => _aux[(int)slot];
    public void SetAux(long slot, ulong aux) => _aux[(int)slot] = aux;
}
