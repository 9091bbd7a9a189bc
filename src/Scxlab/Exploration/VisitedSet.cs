using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
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
}

/// <summary>
/// Open addressing over 64-bit fingerprints (linear probing), with the auxiliary word packed in a
/// byte when the scenario has ≤ 7 actors. 9 bytes a slot, at most 3/4 full: 12–24 bytes per state.
/// </summary>
public sealed class FingerprintSet : IVisitedSet
{
    private ulong[] _keys;
    private byte[]? _aux8;
    private ulong[]? _aux64;
    private readonly bool _wide;
    private long _count;
    private int _mask;

    public FingerprintSet(int actors, int initialCapacityLog2 = 16)
    {
        _wide = actors > 7; // the byte holds 7 actors' sleep bits and the explorer's taint bit (bit 7)
        Allocate(1 << initialCapacityLog2);
    }

    [MemberNotNull(nameof(_keys))]
    private void Allocate(int cap)
    {
        _keys = new ulong[cap];
        if (_wide) _aux64 = new ulong[cap];
        else _aux8 = new byte[cap];
        _mask = cap - 1;
    }

    public long Count => _count;
    public long Bytes => _keys.LongLength * (_wide ? 16 : 9);
    public bool WouldExceed(long limit) => (_count + 1) * 4 > _keys.LongLength * 3 && Bytes * 2 > limit;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Add(World w, ulong fp, ulong aux, out long slot)
    {
        if (fp == 0) fp = 1; // 0 marks an empty slot
        var i = (int)(fp >> 20) & _mask;
        while (true)
        {
            var k = _keys[i];
            if (k == fp) { slot = i; return false; }
            if (k == 0) break;
            i = (i + 1) & _mask;
        }
        if ((_count + 1) * 4 > _keys.LongLength * 3)
        {
            Grow();
            return Add(w, fp, aux, out slot);
        }
        _keys[i] = fp;
        SetAux(i, aux);
        _count++;
        slot = i;
        return true;
    }

    /// <summary>
    /// Is <paramref name="fp"/> stored? Safe to call from several threads while nobody adds (the parallel
    /// search's expand phase): it only reads the key array.
    /// </summary>
    public bool Contains(ulong fp)
    {
        if (fp == 0) fp = 1;
        var keys = _keys;
        var mask = keys.Length - 1;
        var i = (int)(fp >> 20) & mask;
        while (true)
        {
            var k = keys[i];
            if (k == fp) return true;
            if (k == 0) return false;
            i = (i + 1) & mask;
        }
    }

    public ulong GetAux(long slot) => _wide ? _aux64![slot] : _aux8![slot];

    public void SetAux(long slot, ulong aux)
    {
        if (_wide) _aux64![slot] = aux;
        else _aux8![slot] = (byte)aux;
    }

    private void Grow()
    {
        var keys = _keys;
        var a8 = _aux8;
        var a64 = _aux64;
        Allocate(keys.Length * 2);
        for (var j = 0; j < keys.Length; j++)
        {
            var k = keys[j];
            if (k == 0) continue;
            var i = (int)(k >> 20) & _mask;
            while (_keys[i] != 0) i = (i + 1) & _mask;
            _keys[i] = k;
            SetAux(i, _wide ? a64![j] : a8![j]);
        }
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
    private readonly List<(int Offset, int Length)> _entries = [];
    private readonly List<ulong> _aux = [];

    public long Count => _entries.Count;
    public long Bytes => _bytes.Length + _entries.Count * 48L;
    public bool WouldExceed(long limit) => Bytes > limit;

    public bool Add(World w, ulong fp, ulong aux, out long slot)
    {
        _scratch.Clear();
        WorldCodec.Save(w, _scratch);
        var me = _scratch.Slice(0, _scratch.Length);
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
        var off = _bytes.Length;
        _bytes.Append(me);
        _entries.Add((off, me.Length));
        _aux.Add(aux);
        list.Add(_entries.Count - 1);
        slot = _entries.Count - 1;
        return true;
    }

    public ulong GetAux(long slot) => _aux[(int)slot];
    public void SetAux(long slot, ulong aux) => _aux[(int)slot] = aux;
}
