using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Scxlab.Stepping;

namespace Scxlab.Exploration;

/// <summary>
/// A compact byte form of the part of a <see cref="World"/> that determines the future (the same
/// parts <see cref="World.Fingerprint"/> hashes: live dispatch-buffer entries, live frames and
/// kfunc logs only; the SCX_EV_* statistics are left out). Used by exact mode (byte equality is
/// state equality) and by the BFS frontier, where a full World (~40 KB with its frame and log
/// capacity) per state would not fit.
/// </summary>
public static class WorldCodec
{
    /// <summary>Append <paramref name="w"/>'s encoding to <paramref name="into"/>; returns where it starts (it is <see cref="EncodedSize"/> bytes long).</summary>
    public static long Save(World w, GrowBuffer into)
    {
        // One item, written in pieces: its whole size first, so that it lands in one segment.
        var size = EncodedSize(w);
        into.Reserve(size);
        var start = into.Length;
        into.Append(MemoryMarshal.AsBytes(w.Tasks.AsSpan()));
        into.Append(MemoryMarshal.AsBytes(w.Cpus.AsSpan()));
        into.Append(MemoryMarshal.AsBytes(w.Dsqs.AsSpan()));
        var per = w.DspBuf.Length / Math.Max(1, w.Cpus.Length);
        for (var c = 0; c < w.Cpus.Length; c++)
            into.Append(MemoryMarshal.AsBytes(w.DspBuf.AsSpan(c * per, w.Cpus[c].DspCursor)));
        into.Append(MemoryMarshal.AsBytes(w.Maps.AsSpan()));
        into.Append(MemoryMarshal.AsBytes(w.Actors.AsSpan()));
        for (var a = 0; a < w.Actors.Length; a++)
        {
            into.Append(MemoryMarshal.AsBytes(w.Frames.AsSpan(a * w.MaxDepth, w.Actors[a].Depth)));
            into.Append(MemoryMarshal.AsBytes(w.Logs.AsSpan(a * w.LogCapacity, w.Actors[a].LogLen)));
        }
        var s = w.Sched;
        into.Append(MemoryMarshal.AsBytes(new ReadOnlySpan<SchedState>(in s)));
        into.Append(MemoryMarshal.AsBytes(w.KickSyncs.AsSpan()));
        var msgLen = w.ExitMessage?.Length ?? -1;
        into.Append(MemoryMarshal.AsBytes(new ReadOnlySpan<int>(in msgLen)));
        if (w.ExitMessage != null) into.Append(MemoryMarshal.AsBytes(w.ExitMessage.AsSpan()));
        Debug.Assert(into.Length - start == size, "EncodedSize disagrees with what Save writes");
        return start;
    }

    /// <summary>The number of bytes <see cref="Save"/> writes for <paramref name="w"/>.</summary>
    public static int EncodedSize(World w)
    {
        var size = MemoryMarshal.AsBytes(w.Tasks.AsSpan()).Length + MemoryMarshal.AsBytes(w.Cpus.AsSpan()).Length + MemoryMarshal.AsBytes(w.Dsqs.AsSpan()).Length;
        for (var c = 0; c < w.Cpus.Length; c++) size += w.Cpus[c].DspCursor * Unsafe.SizeOf<DspEntry>();
        size += MemoryMarshal.AsBytes(w.Maps.AsSpan()).Length + MemoryMarshal.AsBytes(w.Actors.AsSpan()).Length;
        for (var a = 0; a < w.Actors.Length; a++)
            size += w.Actors[a].Depth * Unsafe.SizeOf<Frame>() + w.Actors[a].LogLen * sizeof(long);
        size += Unsafe.SizeOf<SchedState>() + MemoryMarshal.AsBytes(w.KickSyncs.AsSpan()).Length + sizeof(int);
        if (w.ExitMessage != null) size += w.ExitMessage.Length * sizeof(char);
        return size;
    }

    /// <summary>Overwrite <paramref name="w"/> (same shape as the saved world) from <paramref name="b"/>.</summary>
    public static void Load(ReadOnlySpan<byte> b, World w)
    {
        var o = 0;
        o += Read(b[o..], MemoryMarshal.AsBytes(w.Tasks.AsSpan()));
        o += Read(b[o..], MemoryMarshal.AsBytes(w.Cpus.AsSpan()));
        o += Read(b[o..], MemoryMarshal.AsBytes(w.Dsqs.AsSpan()));
        var per = w.DspBuf.Length / Math.Max(1, w.Cpus.Length);
        for (var c = 0; c < w.Cpus.Length; c++)
            o += Read(b[o..], MemoryMarshal.AsBytes(w.DspBuf.AsSpan(c * per, w.Cpus[c].DspCursor)));
        o += Read(b[o..], MemoryMarshal.AsBytes(w.Maps.AsSpan()));
        o += Read(b[o..], MemoryMarshal.AsBytes(w.Actors.AsSpan()));
        for (var a = 0; a < w.Actors.Length; a++)
        {
            o += Read(b[o..], MemoryMarshal.AsBytes(w.Frames.AsSpan(a * w.MaxDepth, w.Actors[a].Depth)));
            o += Read(b[o..], MemoryMarshal.AsBytes(w.Logs.AsSpan(a * w.LogCapacity, w.Actors[a].LogLen)));
        }
        var s = default(SchedState);
        o += Read(b[o..], MemoryMarshal.AsBytes(new Span<SchedState>(ref s)));
        w.Sched = s;
        o += Read(b[o..], MemoryMarshal.AsBytes(w.KickSyncs.AsSpan()));
        var msgLen = 0;
        o += Read(b[o..], MemoryMarshal.AsBytes(new Span<int>(ref msgLen)));
        w.ExitMessage = msgLen < 0 ? null : new string(MemoryMarshal.Cast<byte, char>(b.Slice(o, msgLen * 2)));
        w.InvalidateFingerprint();
    }

    private static int Read(ReadOnlySpan<byte> from, Span<byte> to)
    {
        from[..to.Length].CopyTo(to);
        return to.Length;
    }
}

/// <summary>
/// An append-only store of encoded worlds (the BFS frontier, the exact visited set), addressed by a long offset. A
/// .NET array holds less than 2 GiB and one layer of scale-4cpu's BFS is more, so the bytes live in segments of at most
/// 1 GiB: each starts at 64 KiB and doubles, and when the last is full at 1 GiB another begins. An item never straddles
/// two segments (its offset then leaves a gap): <see cref="Append"/> keeps one span together, and a caller that writes
/// one item in several appends (<see cref="WorldCodec.Save"/>) first <see cref="Reserve"/>s its whole size.
/// </summary>
public sealed class GrowBuffer
{
    private const int SegmentBits = 30;
    private const int SegmentSize = 1 << SegmentBits;
    private const int FirstSize = 1 << 16;
    private readonly List<byte[]> _segments = [new byte[FirstSize]];
    /// <summary>Bytes used in the last segment.</summary>
    private int _used;

    /// <summary>Bytes allocated (what this buffer costs in memory).</summary>
    public long Allocated => _segments.Sum(s => (long)s.Length);

    /// <summary>The offset the next byte goes to (past the end of everything written).</summary>
    public long Length => ((long)(_segments.Count - 1) << SegmentBits) + _used;

    /// <summary>Make room for an item of <paramref name="bytes"/> bytes in the last segment (a new segment when it cannot grow to hold it).</summary>
    public void Reserve(int bytes)
    {
        var last = _segments[^1];
        var need = (long)_used + bytes;
        if (need <= last.Length) return;
        if (bytes > SegmentSize) throw new InvalidOperationException($"an encoded world of {bytes} bytes is more than a segment of the BFS frontier holds ({SegmentSize} bytes)");
        if (need <= SegmentSize)
        {
            var n = (long)last.Length;
            while (n < need) n *= 2;
            Array.Resize(ref last, (int)Math.Min(n, SegmentSize));
            _segments[^1] = last;
            return;
        }
        var size = (long)FirstSize;
        while (size < bytes) size *= 2;
        _segments.Add(new byte[size]);
        _used = 0;
    }

    /// <summary>Append <paramref name="bytes"/> in one piece; returns the offset they start at.</summary>
    public long Append(ReadOnlySpan<byte> bytes)
    {
        Reserve(bytes.Length);
        var at = Length;
        bytes.CopyTo(_segments[^1].AsSpan(_used));
        _used += bytes.Length;
        return at;
    }

    public ReadOnlySpan<byte> Slice(long offset, int length) =>
        _segments[(int)(offset >> SegmentBits)].AsSpan((int)(offset & (SegmentSize - 1)), length);

    /// <summary>Empty again; the first segment (the biggest, up to 1 GiB) is kept for the next use.</summary>
    public void Clear()
    {
        if (_segments.Count > 1) _segments.RemoveRange(1, _segments.Count - 1);
        _used = 0;
    }
}
