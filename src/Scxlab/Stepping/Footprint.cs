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
}

/// <summary>
/// Which footprint bit stands for which resource, for one machine: the machine lists its resources, the ones most steps
/// touch first (<see cref="Kernel.Machine"/>'s ResourcesByUse), and the i-th listed gets bit i mod 64. Up to 64 resources
/// every one has a bit of its own, so two steps conflict only if they touch a common resource; beyond, the resources
/// listed last (DSQs only some paths use) share bits with the first.
/// </summary>
/// <remarks>
/// Any mapping is sound as long as every footprint of one search uses the same one: a shared bit only makes two steps
/// look dependent (less reduction) and rehashes more chunks (<see cref="FingerprintLayout"/>). That is why the mapping
/// is a function of the machine's shape alone (two machines of one configuration, e.g. the parallel search's workers,
/// map alike) and why it is the only way to a bit. A hash of (kind, id) into 64 bits, used before, gave scale-4cpu a
/// dozen colliding pairs among its most used resources, and its reduced search 4 % more transitions.
/// </remarks>
public sealed class ResourceBits
{
    private readonly int[] _first = new int[(int)Resource.Events + 1];
    private readonly ulong[] _bits;

    /// <param name="counts">How many resources of each kind (ids 0 … count − 1).</param>
    /// <param name="byUse">Every resource once, most used first.</param>
    public ResourceBits(IReadOnlyDictionary<Resource, int> counts, IEnumerable<(Resource Kind, int Id)> byUse)
    {
        var next = 0;
        foreach (var r in Enum.GetValues<Resource>())
        {
            _first[(int)r] = next;
            next += counts.GetValueOrDefault(r);
        }
        _bits = new ulong[next];
        var listed = 0;
        foreach (var (kind, id) in byUse)
        {
            if ((uint)id >= (uint)counts.GetValueOrDefault(kind)) throw new ArgumentOutOfRangeException(nameof(byUse), $"{kind} {id} is past its count");
            ref var b = ref _bits[_first[(int)kind] + id];
            if (b != 0) throw new ArgumentException($"{kind} {id} listed twice", nameof(byUse));
            b = 1UL << (listed++ & 63);
        }
        if (listed != next) throw new ArgumentException($"{next - listed} resource(s) not listed", nameof(byUse));
    }

    /// <summary>The footprint bit of resource <paramref name="id"/> of <paramref name="kind"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Of(Resource kind, int id)
    {
        // An id past its kind's count (none is passed today) still gets one fixed bit.
        var i = _first[(int)kind] + id;
        return (uint)i < (uint)_bits.Length ? _bits[i] : 1UL << (i & 63);
    }
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
