using System.Runtime.CompilerServices;

namespace Scxlab.Simulation;

internal enum EvKind : byte
{
    Step,          // A = actor
    Tick,          // A = cpu
    PhaseEnd,      // A = task, B = gen
    TimedWake,     // A = task, B = gen
    Start,         // A = task
    AffinityChurn, // A = task
    WeightChurn,   // A = task
    Watchdog,
    BpfTimer,      // A = BPF timer actor, B = gen (a re-armed or cancelled timer's older expiry is stale)
}

internal struct Ev
{
    public long Time;
    public ulong Tie;
    public int A, B;
    public EvKind Kind;
}

/// <summary>
/// A binary min-heap of events ordered by (virtual time, tie). The tie is drawn from the run's
/// seeded choice source when the event is pushed, so equal virtual times are ordered by the seed.
/// Grows once to the live-event count and then never allocates.
/// </summary>
internal sealed class EventQueue
{
    private Ev[] _heap = new Ev[1024];
    private int _n;

    public int Count => _n;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Less(in Ev a, in Ev b) => a.Time < b.Time || (a.Time == b.Time && a.Tie < b.Tie);

    public void Push(in Ev e)
    {
        if (_n == _heap.Length) Array.Resize(ref _heap, _n * 2);
        var i = _n++;
        while (i > 0)
        {
            var parent = (i - 1) >> 1;
            if (!Less(e, _heap[parent])) break;
            _heap[i] = _heap[parent];
            i = parent;
        }
        _heap[i] = e;
    }

    public ref readonly Ev Peek() => ref _heap[0];

    public Ev Pop()
    {
        var top = _heap[0];
        var last = _heap[--_n];
        var i = 0;
        var half = _n >> 1;
        while (i < half)
        {
            var child = 2 * i + 1;
            if (child + 1 < _n && Less(_heap[child + 1], _heap[child])) child++;
            if (!Less(_heap[child], last)) break;
            _heap[i] = _heap[child];
            i = child;
        }
        if (_n > 0) _heap[i] = last;
        return top;
    }
}
