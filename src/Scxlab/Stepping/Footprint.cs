using System.Runtime.CompilerServices;

namespace Scxlab.Stepping;

/// <summary>
/// The shared state one step touched, as two 64-bit Bloom sets (reads, writes) over resources
/// (a task's fields, an rq, a DSQ, a map, a lock). Collisions only make two steps look dependent,
/// which costs reduction but never soundness.
/// </summary>
public struct Footprint
{
    public ulong Reads;
    public ulong Writes;

    /// <summary>
    /// Do the two steps conflict (one writes what the other reads or writes)? <see cref="Everything"/>
    /// conflicts with every footprint, even an empty one.
    /// </summary>
    public readonly bool DependsOn(in Footprint other) =>
        ((Writes & (other.Reads | other.Writes)) | (other.Writes & Reads)) != 0
        || Writes == ulong.MaxValue || other.Writes == ulong.MaxValue;

    /// <summary>A step that conflicts with every step (e.g. one that reached a terminal, violating state).</summary>
    public static Footprint Everything => new() { Reads = ulong.MaxValue, Writes = ulong.MaxValue };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Bit(Resource kind, int id) => 1UL << (int)(((uint)kind * 0x9E3779B1u + (uint)id * 0x85EBCA77u) >> 26);
}

public enum Resource : byte
{
    Task = 1,
    Rq = 2,
    Dsq = 3,
    Map = 4,
    Sched = 5,
    /// <summary>An rq lock word (rq->__lock), by CPU.</summary>
    Lock = 6,
    /// <summary>A CPU's dispatch buffer (scx_dsp_ctx.buf), by CPU.</summary>
    Buffer = 7,
    /// <summary>A DSQ's own lock word (dsq->lock), by slot.</summary>
    DsqLock = 8,
    /// <summary>A task's pi_lock word, by task.</summary>
    PiLock = 9,
    /// <summary>A kicker's row of ksyncs (the targets' kick_sync values it recorded), by kicker CPU.</summary>
    KickSync = 10,
    /// <summary>The event counters (struct scx_event_stats), for a policy that reads them (ScxOps.ReadsEventCounters).</summary>
    Events = 11,
}
