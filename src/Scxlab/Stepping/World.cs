using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Scxlab.Stepping;

/// <summary>
/// The complete model state as a value: kernel objects, the policy's maps, every actor's
/// frame stack and recorded kfunc results. Only unmanaged arrays (plus the exit message), so
/// copying is a handful of block copies and hashing runs over raw bytes.
/// </summary>
/// <remarks>
/// <see cref="Events"/> are statistics (the kernel's SCX_EV_* counters): copied, but neither
/// hashed nor compared, because no path reads them and two runs that differ only in counts
/// reach the same futures.
/// </remarks>
public sealed class World
{
    public TaskState[] Tasks;
    public CpuState[] Cpus;
    public DsqState[] Dsqs;
    public DspEntry[] DspBuf;
    public long[] Maps;
    public ActorState[] Actors;
    public Frame[] Frames;
    public long[] Logs;
    public SchedState Sched;
    public string? ExitMessage;
    public long[] Events;
    /// <summary>ksyncs[kicker × N + target]: the target's kick_sync a SCX_KICK_WAIT recorded.</summary>
    public long[] KickSyncs;

    public readonly int MaxDepth;
    public readonly int LogCapacity;

    public World(int tasks, int cpus, int dsqs, int dspPerCpu, int mapWords, int actors, int maxDepth, int logCapacity)
    {
        Tasks = new TaskState[tasks];
        Cpus = new CpuState[cpus];
        Dsqs = new DsqState[dsqs];
        DspBuf = new DspEntry[cpus * dspPerCpu];
        Maps = new long[mapWords];
        Actors = new ActorState[actors];
        Frames = new Frame[actors * maxDepth];
        Logs = new long[actors * logCapacity];
        Events = new long[(int)ScxEvent.Count];
        KickSyncs = new long[cpus * cpus];
        MaxDepth = maxDepth;
        LogCapacity = logCapacity;
    }

    public World Clone()
    {
        var w = new World(Tasks.Length, Cpus.Length, Dsqs.Length, DspBuf.Length / Math.Max(1, Cpus.Length), Maps.Length, Actors.Length, MaxDepth, LogCapacity);
        w.CopyFrom(this);
        return w;
    }

    /// <summary>Overwrite this world with <paramref name="o"/> (same shape). No allocation.</summary>
    public void CopyFrom(World o)
    {
        o.Tasks.AsSpan().CopyTo(Tasks);
        o.Cpus.AsSpan().CopyTo(Cpus);
        o.Dsqs.AsSpan().CopyTo(Dsqs);
        // Only each CPU's live dispatch-buffer entries: the model never reads past a CPU's cursor (the
        // fingerprint and the comparison skip them too), and the whole buffer (dispatch_max_batch
        // entries per CPU) was the biggest block of every copy.
        var per = DspBuf.Length / Math.Max(1, Cpus.Length);
        for (var c = 0; c < Cpus.Length; c++)
        {
            var live = o.Cpus[c].DspCursor;
            if (live > 0) o.DspBuf.AsSpan(c * per, live).CopyTo(DspBuf.AsSpan(c * per, live));
        }
        o.Maps.AsSpan().CopyTo(Maps);
        o.Actors.AsSpan().CopyTo(Actors);
        for (var a = 0; a < Actors.Length; a++)
        {
            var d = o.Actors[a].Depth;
            if (d > 0) o.Frames.AsSpan(a * MaxDepth, d).CopyTo(Frames.AsSpan(a * MaxDepth, d));
            var l = o.Actors[a].LogLen;
            if (l > 0) o.Logs.AsSpan(a * LogCapacity, l).CopyTo(Logs.AsSpan(a * LogCapacity, l));
        }
        Sched = o.Sched;
        ExitMessage = o.ExitMessage;
        o.KickSyncs.AsSpan().CopyTo(KickSyncs);
        o.Events.AsSpan().CopyTo(Events);
    }

    /// <summary>64-bit fingerprint of everything that determines the future (XxHash3 over raw bytes).</summary>
    public ulong Fingerprint()
    {
        // Gathered into one buffer and hashed in one call: XxHash3's one-shot path is several times
        // faster than feeding its streaming state a dozen small spans.
        var buf = _scratch ??= new byte[4096];
        var len = 0;
        Gather(ref buf, ref len, MemoryMarshal.AsBytes(Tasks.AsSpan()));
        Gather(ref buf, ref len, MemoryMarshal.AsBytes(Cpus.AsSpan()));
        Gather(ref buf, ref len, MemoryMarshal.AsBytes(Dsqs.AsSpan()));
        var per = DspBuf.Length / Math.Max(1, Cpus.Length);
        for (var c = 0; c < Cpus.Length; c++)
            Gather(ref buf, ref len, MemoryMarshal.AsBytes(DspBuf.AsSpan(c * per, Cpus[c].DspCursor)));
        Gather(ref buf, ref len, MemoryMarshal.AsBytes(Maps.AsSpan()));
        Gather(ref buf, ref len, MemoryMarshal.AsBytes(Actors.AsSpan()));
        for (var a = 0; a < Actors.Length; a++)
        {
            Gather(ref buf, ref len, MemoryMarshal.AsBytes(Frames.AsSpan(a * MaxDepth, Actors[a].Depth)));
            Gather(ref buf, ref len, MemoryMarshal.AsBytes(Logs.AsSpan(a * LogCapacity, Actors[a].LogLen)));
        }
        var s = Sched;
        Gather(ref buf, ref len, MemoryMarshal.AsBytes(new ReadOnlySpan<SchedState>(in s)));
        Gather(ref buf, ref len, MemoryMarshal.AsBytes(KickSyncs.AsSpan()));
        if (ExitMessage != null) Gather(ref buf, ref len, MemoryMarshal.AsBytes(ExitMessage.AsSpan()));
        _scratch = buf;
        return XxHash3.HashToUInt64(buf.AsSpan(0, len));
    }

    private static void Gather(ref byte[] buf, ref int len, ReadOnlySpan<byte> bytes)
    {
        if (len + bytes.Length > buf.Length) Array.Resize(ref buf, Math.Max(buf.Length * 2, len + bytes.Length));
        bytes.CopyTo(buf.AsSpan(len));
        len += bytes.Length;
    }

    [ThreadStatic] private static byte[]? _scratch;

    /// <summary>128-bit fingerprint, for exact-mode checks and collision estimates.</summary>
    public UInt128 Fingerprint128()
    {
        var h = new XxHash128();
        AppendTo(h);
        return h.GetCurrentHashAsUInt128();
    }

    private void AppendTo(NonCryptographicHashAlgorithm h)
    {
        h.Append(MemoryMarshal.AsBytes(Tasks.AsSpan()));
        h.Append(MemoryMarshal.AsBytes(Cpus.AsSpan()));
        h.Append(MemoryMarshal.AsBytes(Dsqs.AsSpan()));
        AppendLiveDspEntries(h);
        h.Append(MemoryMarshal.AsBytes(Maps.AsSpan()));
        h.Append(MemoryMarshal.AsBytes(Actors.AsSpan()));
        for (var a = 0; a < Actors.Length; a++)
        {
            h.Append(MemoryMarshal.AsBytes(Frames.AsSpan(a * MaxDepth, Actors[a].Depth)));
            h.Append(MemoryMarshal.AsBytes(Logs.AsSpan(a * LogCapacity, Actors[a].LogLen)));
        }
        var s = Sched;
        h.Append(MemoryMarshal.AsBytes(new ReadOnlySpan<SchedState>(in s)));
        h.Append(MemoryMarshal.AsBytes(KickSyncs.AsSpan()));
        if (ExitMessage != null) h.Append(MemoryMarshal.AsBytes(ExitMessage.AsSpan()));
    }

    private void AppendLiveDspEntries(NonCryptographicHashAlgorithm h)
    {
        // Entries past a CPU's cursor are garbage the kernel never reads again.
        var per = DspBuf.Length / Math.Max(1, Cpus.Length);
        for (var c = 0; c < Cpus.Length; c++)
            h.Append(MemoryMarshal.AsBytes(DspBuf.AsSpan(c * per, Cpus[c].DspCursor)));
    }

    /// <summary>Exact equality of the hashed content (what <see cref="Fingerprint"/> summarizes).</summary>
    public bool SameStateAs(World o)
    {
        if (!MemoryMarshal.AsBytes(Tasks.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(o.Tasks.AsSpan()))) return false;
        if (!MemoryMarshal.AsBytes(Cpus.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(o.Cpus.AsSpan()))) return false;
        if (!MemoryMarshal.AsBytes(Dsqs.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(o.Dsqs.AsSpan()))) return false;
        var per = DspBuf.Length / Math.Max(1, Cpus.Length);
        for (var c = 0; c < Cpus.Length; c++)
            if (!MemoryMarshal.AsBytes(DspBuf.AsSpan(c * per, Cpus[c].DspCursor)).SequenceEqual(MemoryMarshal.AsBytes(o.DspBuf.AsSpan(c * per, o.Cpus[c].DspCursor)))) return false;
        if (!Maps.AsSpan().SequenceEqual(o.Maps)) return false;
        if (!MemoryMarshal.AsBytes(Actors.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(o.Actors.AsSpan()))) return false;
        for (var a = 0; a < Actors.Length; a++)
        {
            if (!MemoryMarshal.AsBytes(Frames.AsSpan(a * MaxDepth, Actors[a].Depth)).SequenceEqual(MemoryMarshal.AsBytes(o.Frames.AsSpan(a * MaxDepth, Actors[a].Depth)))) return false;
            if (!Logs.AsSpan(a * LogCapacity, Actors[a].LogLen).SequenceEqual(o.Logs.AsSpan(a * LogCapacity, Actors[a].LogLen))) return false;
        }
        var s1 = Sched;
        var s2 = o.Sched;
        if (!MemoryMarshal.AsBytes(new ReadOnlySpan<SchedState>(in s1)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<SchedState>(in s2)))) return false;
        return ExitMessage == o.ExitMessage && KickSyncs.AsSpan().SequenceEqual(o.KickSyncs);
    }

    /// <summary>Bytes of the hashed state (for bytes-per-state reporting in exact mode).</summary>
    public int StateBytes()
    {
        var n = Tasks.Length * Marshal.SizeOf<TaskState>() + Cpus.Length * Marshal.SizeOf<CpuState>() + Dsqs.Length * Marshal.SizeOf<DsqState>() + Maps.Length * 8 + Actors.Length * Marshal.SizeOf<ActorState>();
        for (var a = 0; a < Actors.Length; a++) n += Actors[a].Depth * Marshal.SizeOf<Frame>() + Actors[a].LogLen * 8;
        return n;
    }
}

/// <summary>The kernel's event counters (<c>struct scx_event_stats</c>) the model maintains, plus model counters.</summary>
public enum ScxEvent
{
    SelectCpuFallback,
    DispatchLocalDsqOffline,
    DispatchKeepLast,
    EnqSkipExiting,
    EnqSkipMigrationDisabled,
    RefillSliceDfl,
    BypassDispatch,
    InsertNotOwned,
    ReenqKfunc,
    // model counters (not kernel events): dispatch outcomes the simulator reports
    DispatchDroppedQseq,
    DispatchDroppedState,
    FallbackDsqUse,
    FallbackReenq,
    Count,
}

/// <summary>The names the kernel and the reports give <see cref="ScxEvent"/>s.</summary>
public static class ScxEvents
{
    /// <summary>
    /// The kernel's name of a counter (<c>SCX_EV_SELECT_CPU_FALLBACK</c>, as <c>/sys/kernel/sched_ext/*/events</c>
    /// prints it), or null for the model's own counters (not in <c>struct scx_event_stats</c>).
    /// </summary>
    public static string? KernelName(string eventName) =>
        Enum.TryParse<ScxEvent>(eventName, out var e) && e < ScxEvent.ReenqKfunc ? "SCX_EV_" + SnakeName(eventName).ToUpperInvariant() : null;

    /// <summary><c>SelectCpuFallback</c> → <c>select_cpu_fallback</c>.</summary>
    public static string SnakeName(string eventName)
    {
        var b = new System.Text.StringBuilder();
        for (var i = 0; i < eventName.Length; i++)
        {
            var c = eventName[i];
            if (char.IsUpper(c) && i > 0) b.Append('_');
            b.Append(char.ToLowerInvariant(c));
        }
        return b.ToString();
    }
}
