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
    public static void Save(World w, GrowBuffer into)
    {
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

/// <summary>An append-only byte buffer that hands out slices by offset (no per-item allocation).</summary>
public sealed class GrowBuffer
{
    private byte[] _data = new byte[1 << 16];
    public int Length { get; private set; }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        if (Length + bytes.Length > _data.Length)
        {
            var n = _data.Length;
            while (n < Length + bytes.Length) n *= 2;
            Array.Resize(ref _data, n);
        }
        bytes.CopyTo(_data.AsSpan(Length));
        Length += bytes.Length;
    }

    public ReadOnlySpan<byte> Slice(int offset, int length) => _data.AsSpan(offset, length);
    public void Clear() => Length = 0;
    public long Capacity => _data.Length;
}
