using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Scxlab.Stepping;

namespace Scxlab.Exploration;

/// <summary>
/// The parallel DFS's visited set (<see cref="ParallelDfsSearch"/>): several workers insert into it at once. Each
/// call names its worker (0 … workers−1), so an implementation can keep per-worker state on lines of its own.
/// </summary>
internal abstract class ConcurrentVisitedSet : IVisitedSet, IDisposable
{
    /// <summary>
    /// The set the options ask for: one lock-free table of fingerprints, which hands its states to spilling shards
    /// behind locks if it outgrows the memory budget and may spill; exact stores are sharded behind locks from the start.
    /// </summary>
    public static ConcurrentVisitedSet Create(ExploreOptions o, int actors, int workers)
    {
        ShardedVisitedSet Sharded() => new(_ => Explorer.NewVisitedSet(o, actors, o.MaxMemoryBytes / 256, initialCapacityLog2: 8));
        if (o.Exact) return Sharded();
        // Beyond the memory budget, a search that may spill moves its states into spilling shards.
        return new LockFreeFingerprintSet(workers, o.SpillDirectory != null ? Sharded : null, o.MaxMemoryBytes, PendingMark(actors), actors: actors);
    }

    /// <summary>The aux value that marks a pending state in a store that keeps aux words as they are (the parallel DFS's choice).</summary>
    public static ulong PendingMark(int actors) => actors <= 7 ? 1UL << 7 : 1UL << 63;

    /// <summary>Insert (plain DFS: no aux word); true if the state is new.</summary>
    public abstract bool Add(int worker, World w, ulong fingerprint);

    /// <summary>
    /// The reduced search's insert-or-revisit, atomic per state. A new state is stored pending (its inserter then
    /// calls <see cref="Resolve"/>); a stored one gives the actors of its stored sleep set that <paramref name="sleep"/>
    /// lacks, which the caller now tries from it, and keeps the intersection, so no two workers take the same actor of
    /// a state; one marked <paramref name="terminalMark"/> gives none. A pending state is waited for: its sleep set is
    /// not known yet — unless the search stops meanwhile (<paramref name="stop"/> set: its inserter may have failed),
    /// when it is treated as terminal. <paramref name="pendingMark"/> is the aux value that means pending where the
    /// store keeps one (see <see cref="ShardedVisitedSet"/>).
    /// </summary>
    public abstract bool AddOrNarrow(int worker, World w, ulong fingerprint, ulong sleep, ulong pendingMark, ulong terminalMark, ref int stop, out ulong explore, out bool terminal);

    /// <summary>Give a state stored pending by <see cref="AddOrNarrow"/> its aux word.</summary>
    public abstract void Resolve(int worker, World w, ulong fingerprint, ulong aux);

    /// <summary>Insert a state with its aux word already known (the root, before the workers start).</summary>
    public bool Add(World w, ulong fingerprint, ulong aux, out long slot)
    {
        slot = (long)fingerprint;
        if (!Add(0, w, fingerprint)) return false;
        Resolve(0, w, fingerprint, aux);
        return true;
    }

    public ulong GetAux(long slot) => throw new NotSupportedException("use AddOrNarrow: a slot handle is not safe across threads");
    public void SetAux(long slot, ulong aux) => throw new NotSupportedException("use AddOrNarrow: a slot handle is not safe across threads");

    /// <summary>Start loading <paramref name="fingerprint"/>'s slot (see <see cref="IVisitedSet.Prefetch"/>).</summary>
    public virtual void Prefetch(ulong fingerprint) { }

    public abstract long Count { get; }
    public abstract long Bytes { get; }
    public abstract bool WouldExceed(long limit);
    public virtual string ExhaustedReason(long limit) => $"memory budget of {limit >> 20} MiB for stored states exhausted";

    /// <summary>The parts that spill to disk (for the explorer's spill statistics).</summary>
    public virtual IEnumerable<SpillingFingerprintSet> SpillingShards => [];

    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    /// <summary>Give back what the store holds outside the managed heap (tables, spill files).</summary>
    protected virtual void Release() { }
}

/// <summary>
/// One open-addressing table of 64-bit fingerprints that the workers insert into with compare-and-swap: no lock, no
/// counter shared between cores. The sharded set it replaced for fingerprints in RAM took a lock per insertion; with
/// 256 locks and two workers nearly every acquisition found the lock's cache line on the other core, and that
/// traffic, not the model, was what kept <c>--jobs 2</c> at 1.3× on scale-4cpu (benchmarks/RESULTS.md). Here a
/// worker touches only the line of the slot it probes, which the other worker rarely holds.
/// </summary>
/// <remarks>
/// <para><b>Aux words.</b> Each slot has a key and an aux word. Aux 0 is "pending" (a newly inserted state whose
/// inserter has not resolved it yet: the table is allocated zeroed, so a key becomes visible pending without a
/// second write); a resolved aux is stored with bit 63 set (actor sets use bits 0–62: <see cref="Explorer.MaxActors"/>
/// is 63). The reduced search's narrowing is a compare-and-swap loop on the aux word. With at most 7 actors (every
/// scenario the search can finish) the aux is a byte, bit 7 the resolved mark, in a table of its own beside the
/// keys: 9 bytes a slot, as the sequential set's, against 16 for a key and a word side by side. Half the memory is
/// half the pages the kernel zeroes as the table grows (7.8 % of a two-worker scale-4cpu search on the 2-core VM)
/// and twice the keys per cache line for the probes.</para>
/// <para><b>Growth.</b> Each worker counts its own insertions on a line of its own and, every so many, sums the
/// counts; past 75 % load (the sequential set's bound) it doubles the table while the other workers are held off: in
/// place where the OS lets the table reserve address space (<see cref="Populate"/>, then <see cref="InPlaceDoubling"/>),
/// else into a new table that the waiting workers help copy (<see cref="Migration"/>). A worker announces each operation in its own "active" flag (an interlocked
/// write, then a read of the growing flag: with the grower's interlocked write of the growing flag and its reads of
/// the active flags, one of the two sees the other), so the table is copied while nobody writes it. The check
/// interval is an eighth of the free room divided among the workers (at least one insertion), so the load passes
/// 75 % by at most one insertion per worker. A worker waiting for a pending state does so outside an operation, so a
/// growth never waits for it.</para>
/// <para><b>Beyond the memory budget.</b> A growth that would pass the budget, in a search that may spill
/// (<c>check --memory</c> with a spill directory, the CLI's default), instead moves every state into a
/// <see cref="ShardedVisitedSet"/> of <see cref="SpillingFingerprintSet"/>s (a pending state as the pending mark,
/// a resolved one as its aux word), during the same stop of the workers; every later operation goes there. Without
/// a spill directory the table grows anyway and <see cref="WouldExceed"/> tells the search to stop, as the
/// sequential set does.</para>
/// </remarks>
internal sealed class LockFreeFingerprintSet : ConcurrentVisitedSet
{
    private const ulong Resolved = 1UL << 63;
    private const double MaxLoad = 0.75; // as the sequential FingerprintSet

    /// <summary>Slot i's key is <c>Keys[i]</c>; its aux is byte i of <c>Aux</c> (narrow: bit 7 the resolved mark) or word i.</summary>
    private sealed unsafe class Table
    {
        public readonly BigTable Keys;
        public readonly BigTable Aux;
        public readonly bool Narrow;
        public readonly int Mask;
        public readonly long Capacity;
        public int SlotBytes => SlotBytesOf(Narrow);
        public static int SlotBytesOf(bool narrow) => narrow ? 9 : 16;

        /// <param name="reserveCapacity">The most slots to reserve address space for, to double in place up to (none if not above <paramref name="capacity"/>).</param>
        public Table(int capacity, bool narrow, long reserveCapacity)
            : this(NewBlock(capacity, 8, reserveCapacity), NewBlock(capacity, narrow ? 1 : 8, reserveCapacity), narrow, capacity)
        {
        }

        private Table(BigTable keys, BigTable aux, bool narrow, long capacity)
        {
            Keys = keys;
            Aux = aux;
            Narrow = narrow;
            Capacity = capacity;
            Mask = (int)(capacity - 1);
        }

        private static BigTable NewBlock(long slots, int bytesPerSlot, long reserveSlots) => reserveSlots > slots
            ? BigTable.Growable(slots * bytesPerSlot, reserveSlots * bytesPerSlot)
            : BigTable.OfBytes(slots * bytesPerSlot);

        /// <summary>
        /// This table's memory extended in place to twice the slots (the entries not moved yet: see
        /// <see cref="InPlaceDoubling"/>), as a new table over the same blocks; null when it cannot grow in place.
        /// </summary>
        public Table? DoubledInPlace()
        {
            var doubled = Capacity * 2;
            if (doubled > FingerprintSet.MaxCapacity) return null;
            if (!Keys.TryGrow(doubled * 8) || !Aux.TryGrow(doubled * (Narrow ? 1 : 8))) return null;
            return new Table(Keys, Aux, Narrow, doubled);
        }

        /// <summary>The stored aux of slot i as a word: 0 pending, else the aux with <see cref="Resolved"/> set.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ulong ReadAux(int i)
        {
            if (!Narrow) return Volatile.Read(ref Aux[i]);
            var b = Volatile.Read(ref Aux.Bytes[i]);
            return b == 0 ? 0 : (b & 0x7FUL) | Resolved;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void WriteAux(int i, ulong stored)
        {
            if (Narrow) Volatile.Write(ref Aux.Bytes[i], Narrowed(stored));
            else Volatile.Write(ref Aux[i], stored);
        }

        /// <summary>Replace the stored aux <paramref name="expected"/> with <paramref name="stored"/>; returns what was there (as <see cref="ReadAux"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ulong CompareExchangeAux(int i, ulong stored, ulong expected)
        {
            if (!Narrow) return Interlocked.CompareExchange(ref Aux[i], stored, expected);
            var b = Interlocked.CompareExchange(ref Aux.Bytes[i], Narrowed(stored), Narrowed(expected));
            return b == 0 ? 0 : (b & 0x7FUL) | Resolved;
        }

        private static byte Narrowed(ulong stored)
        {
            System.Diagnostics.Debug.Assert(stored == 0 || (stored & ~Resolved) <= 0x7F, "a narrow table's aux is an actor set of at most 7 actors");
            return stored == 0 ? (byte)0 : (byte)((stored & 0x7F) | 0x80);
        }

        public void Dispose()
        {
            Keys.Dispose();
            Aux.Dispose();
        }
    }

    /// <summary>What a worker writes: its insertion count and its active flag, alone on two cache lines (no false sharing).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct WorkerLine
    {
        [FieldOffset(64)] public long Count;
        [FieldOffset(72)] public long UntilCheck;
        [FieldOffset(80)] public int Active;
    }

    private Table _table;
    private int _growing;
    private readonly WorkerLine[] _workers;
    private readonly Func<ConcurrentVisitedSet>? _overflowFactory;
    private readonly long _memoryLimit;
    private readonly ulong _pendingMark;
    private readonly bool _narrow;
    private readonly long _reserveCapacity;
    /// <summary>Where the states went once the table outgrew the memory budget (set during a growth stop), or null.</summary>
    private ConcurrentVisitedSet? _overflow;

    /// <param name="workers">The workers that will call it (numbered 0 … workers−1).</param>
    /// <param name="overflow">Makes the store the states move to once the table would pass <paramref name="memoryLimit"/>; null: keep growing.</param>
    /// <param name="memoryLimit">Bytes the table may use.</param>
    /// <param name="pendingMark">How <paramref name="overflow"/>'s store marks a pending state.</param>
    /// <param name="initialCapacityLog2">The table's first size.</param>
    /// <param name="actors">The search's actors: at most 7 keep the aux in a byte.</param>
    public LockFreeFingerprintSet(int workers, Func<ConcurrentVisitedSet>? overflow = null, long memoryLimit = long.MaxValue, ulong pendingMark = 1UL << 63, int initialCapacityLog2 = 16, int actors = Explorer.MaxActors)
    {
        _workers = new WorkerLine[Math.Max(1, workers)];
        _narrow = actors <= 7;
        // With a place to move to past the budget, the table never grows beyond it; without one it grows on (by copying past the reservation).
        _reserveCapacity = BigTable.ReachableCapacity(1L << initialCapacityLog2, memoryLimit, Table.SlotBytesOf(_narrow), FingerprintSet.MaxCapacity);
        _table = new Table(1 << initialCapacityLog2, _narrow, _reserveCapacity);
        _overflowFactory = overflow;
        _memoryLimit = memoryLimit;
        _pendingMark = pendingMark;
    }

    /// <summary>The store the states moved to, if they did (read after <see cref="Enter"/> or once the workers stopped).</summary>
    private ConcurrentVisitedSet? Overflow => Volatile.Read(ref _overflow);

    public override long Count
    {
        get
        {
            if (Overflow is { } o) return o.Count;
            long c = 0;
            for (var i = 0; i < _workers.Length; i++) c += Volatile.Read(ref _workers[i].Count);
            return c;
        }
    }

    public override long Bytes => Overflow is { } o ? o.Bytes : Volatile.Read(ref _table) is var t ? t.Capacity * t.SlotBytes : 0;

    /// <summary>
    /// Would the table's next doubling pass <paramref name="limit"/>? (Asked every few thousand transitions, so the
    /// table may be near its growth point.) Never, while it can move its states to a spilling store instead.
    /// </summary>
    public override bool WouldExceed(long limit)
    {
        if (Overflow is { } o) return o.WouldExceed(limit);
        if (_overflowFactory != null) return false;
        var t = Volatile.Read(ref _table);
        return Count >= t.Capacity * (MaxLoad - 0.1) && t.Capacity * t.SlotBytes * 2 > limit;
    }

    public override string ExhaustedReason(long limit) => Overflow is { } o ? o.ExhaustedReason(limit) : base.ExhaustedReason(limit);

    /// <summary>
    /// Outside the growth protocol on purpose: the table read here may be replaced and freed meanwhile, which a
    /// prefetch tolerates (it never faults; a stale one only wastes a line fill).
    /// </summary>
    public override unsafe void Prefetch(ulong fp)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        if (fp == 0) fp = 1;
        var t = Volatile.Read(ref _table);
        var i = (int)(fp >> 20) & t.Mask;
        System.Runtime.Intrinsics.X86.Sse.Prefetch0(t.Keys.Words + i);
        System.Runtime.Intrinsics.X86.Sse.Prefetch0(t.Narrow ? t.Aux.Bytes + i : (byte*)(t.Aux.Words + i));
    }

    public override IEnumerable<SpillingFingerprintSet> SpillingShards => Overflow?.SpillingShards ?? [];

    protected override void Release()
    {
        Overflow?.Dispose();
        _table.Dispose();
    }

    public override bool Add(int worker, World w, ulong fp)
    {
        if (fp == 0) fp = 1; // 0 marks an empty slot
        var t = Enter(worker);
        if (OverflowAfterEnter(worker) is { } o) return o.Add(worker, w, fp);
        var added = Insert(t, fp, out _);
        Exit(worker);
        if (added) Counted(worker);
        return added;
    }

    public override bool AddOrNarrow(int worker, World w, ulong fp, ulong sleep, ulong pendingMark, ulong terminalMark, ref int stop, out ulong explore, out bool terminal)
    {
        if (fp == 0) fp = 1;
        var spin = new SpinWait();
        while (true)
        {
            explore = 0;
            terminal = false;
            var t = Enter(worker);
            if (OverflowAfterEnter(worker) is { } o) return o.AddOrNarrow(worker, w, fp, sleep, pendingMark, terminalMark, ref stop, out explore, out terminal);
            if (Insert(t, fp, out var i))
            {
                Exit(worker);
                Counted(worker);
                return true;
            }
            var stored = t.ReadAux(i);
            while (stored != 0)
            {
                var set = stored & ~Resolved;
                if (set == terminalMark)
                {
                    terminal = true;
                    break;
                }
                explore = set & ~sleep;
                if (explore == 0) break;
                var seen = t.CompareExchangeAux(i, (set & sleep) | Resolved, stored);
                if (seen == stored) break;
                stored = seen; // another worker narrowed it meanwhile: narrow what it left
            }
            Exit(worker);
            if (stored != 0) return false;
            // Pending: wait outside the operation, so that a growth (which waits for every operation to end) cannot
            // stall behind us while the state's inserter waits for the growth.
            if (Volatile.Read(ref stop) != 0)
            {
                explore = 0;
                terminal = true;
                return false;
            }
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    public override void Resolve(int worker, World w, ulong fp, ulong aux)
    {
        if (fp == 0) fp = 1;
        var t = Enter(worker);
        if (OverflowAfterEnter(worker) is { } o)
        {
            o.Resolve(worker, w, fp, aux);
            return;
        }
        Insert(t, fp, out var i); // found: its inserter resolves it, and nothing removes a state
        t.WriteAux(i, aux | Resolved);
        Exit(worker);
    }

    /// <summary>Find or claim <paramref name="fp"/>'s slot; true if this call claimed it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Insert(Table t, ulong fp, out int i)
    {
        var keys = t.Keys;
        i = (int)(fp >> 20) & t.Mask;
        while (true)
        {
            var k = Volatile.Read(ref keys[i]);
            if (k == fp) return false;
            if (k == 0)
            {
                var seen = Interlocked.CompareExchange(ref keys[i], fp, 0);
                if (seen == 0) return true;
                if (seen == fp) return false; // another worker inserted the same state just now
            }
            else i = (i + 1) & t.Mask;
        }
    }

    /// <summary>Begin an operation on the current table (waiting out a growth).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Table Enter(int worker)
    {
        ref var line = ref _workers[worker];
        while (true)
        {
            Interlocked.Exchange(ref line.Active, 1); // a full fence: the read below cannot pass it
            if (Volatile.Read(ref _growing) == 0) return Volatile.Read(ref _table);
            Volatile.Write(ref line.Active, 0);
            var spin = new SpinWait();
            while (Volatile.Read(ref _growing) != 0)
            {
                // Help copy the table rather than wait for it.
                if (Volatile.Read(ref _growthWork) is { } work) work.Help();
                else spin.SpinOnce(sleep1Threshold: -1);
            }
        }
    }

    /// <summary>Work of a doubling that the workers waiting for it share (<see cref="Enter"/> calls <see cref="Help"/>).</summary>
    private abstract class GrowthWork
    {
        public abstract void Help();
        public abstract bool Done { get; }
    }

    /// <summary>
    /// A doubling into a new table: the old table's slots in chunks that the grower and every waiting worker claim and
    /// insert into the new table (with compare-and-swap on the key, as <see cref="Insert"/> does: two helpers may
    /// probe the same run of slots). Nobody operates on either table meanwhile; the grower publishes the new one
    /// once every chunk is done.
    /// </summary>
    private sealed class Migration(Table from, Table to) : GrowthWork
    {
        private const int ChunkSlots = 1 << 16;
        private readonly long _chunks = (from.Capacity + ChunkSlots - 1) / ChunkSlots;
        private long _nextChunk;
        private long _doneChunks;

        public Table To => to;
        public override bool Done => Volatile.Read(ref _doneChunks) == _chunks;

        public override void Help()
        {
            long c;
            while ((c = Interlocked.Increment(ref _nextChunk) - 1) < _chunks)
            {
                var end = Math.Min(from.Capacity, (c + 1) * ChunkSlots);
                for (var j = c * ChunkSlots; j < end; j++)
                {
                    var k = from.Keys[j];
                    if (k == 0) continue;
                    Insert(to, k, out var i);
                    to.WriteAux(i, from.ReadAux((int)j));
                }
                Interlocked.Increment(ref _doneChunks);
            }
        }
    }

    /// <summary>
    /// A doubling in place, first part: the new upper half's pages faulted in by the grower and every waiting worker,
    /// a chunk each at a time (<see cref="BigTable.Populate"/>), before the grower alone moves the entries
    /// (<see cref="InPlaceDoubling"/>: its walk order is what keeps every entry findable, so it is not shared). The
    /// page faults are most of a doubling's time (a fresh huge page costs milliseconds on this project's VM); shared,
    /// they take as long as a shared migration's did, and only the new half of the table is fresh memory.
    /// </summary>
    private sealed class Populate(Table doubled, long oldCapacity) : GrowthWork
    {
        private const long ChunkBytes = 2L << 20;
        private readonly long _keyChunks = (oldCapacity * 8 + ChunkBytes - 1) / ChunkBytes;
        private readonly long _chunks = (oldCapacity * 8 + ChunkBytes - 1) / ChunkBytes + (oldCapacity * (doubled.Narrow ? 1 : 8) + ChunkBytes - 1) / ChunkBytes;
        private long _nextChunk;
        private long _doneChunks;

        public override bool Done => Volatile.Read(ref _doneChunks) == _chunks;

        public override void Help()
        {
            long c;
            while ((c = Interlocked.Increment(ref _nextChunk) - 1) < _chunks)
            {
                var (block, bytesPerSlot, chunk) = c < _keyChunks ? (doubled.Keys, 8L, c) : (doubled.Aux, doubled.Narrow ? 1L : 8L, c - _keyChunks);
                var upper = oldCapacity * bytesPerSlot;
                var from = upper + chunk * ChunkBytes;
                _ = block.Populate(from, Math.Min(ChunkBytes, upper * 2 - from));
                Interlocked.Increment(ref _doneChunks);
            }
        }
    }

    private GrowthWork? _growthWork;

    /// <summary>After <see cref="Enter"/>: the overflow store if the states moved there (the operation on the table then ends), else null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ConcurrentVisitedSet? OverflowAfterEnter(int worker)
    {
        var o = Volatile.Read(ref _overflow);
        if (o != null) Exit(worker);
        return o;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Exit(int worker) => Volatile.Write(ref _workers[worker].Active, 0);

    /// <summary>Count a new state for <paramref name="worker"/>; grow the table when the check falls due and the load asks for it.</summary>
    private void Counted(int worker)
    {
        if (Overflow != null) return;
        ref var line = ref _workers[worker];
        Volatile.Write(ref line.Count, line.Count + 1);
        if (--line.UntilCheck > 0) return;
        var t = Volatile.Read(ref _table);
        var room = (long)(t.Capacity * MaxLoad) - Count;
        if (room <= 0) Grow(t);
        t = Volatile.Read(ref _table);
        room = (long)(t.Capacity * MaxLoad) - Count;
        line.UntilCheck = Math.Max(1, room / 8 / _workers.Length);
    }

    /// <summary>Double the table <paramref name="seen"/> while every other worker waits (unless another worker already did).</summary>
    private void Grow(Table seen)
    {
        if (Interlocked.CompareExchange(ref _growing, 1, 0) != 0) return; // someone else grows; our next Enter waits for it
        try
        {
            if (!ReferenceEquals(Volatile.Read(ref _table), seen) || Overflow != null) return;
            var spin = new SpinWait();
            for (var k = 0; k < _workers.Length; k++)
                while (Volatile.Read(ref _workers[k].Active) != 0) spin.SpinOnce(sleep1Threshold: -1);
            if (_overflowFactory != null && seen.Capacity * 2 * seen.SlotBytes > _memoryLimit)
            {
                MoveToOverflow(seen, _overflowFactory());
                return;
            }
            if (seen.DoubledInPlace() is { } doubled)
            {
                Share(new Populate(doubled, seen.Capacity));
                InPlaceDoubling.Rehash(doubled.Keys, doubled.Aux, wideAux: !doubled.Narrow, seen.Capacity);
                Volatile.Write(ref _table, doubled); // over the same blocks as seen: nothing to free
                return;
            }
            var migration = new Migration(seen, new Table((int)seen.Capacity * 2, _narrow, _reserveCapacity));
            Share(migration);
            Volatile.Write(ref _table, migration.To);
            seen.Dispose(); // nobody holds it: every worker is outside an operation

            // Do the work with whoever waits, and wait for it to be done.
            void Share(GrowthWork work)
            {
                Volatile.Write(ref _growthWork, work);
                work.Help();
                while (!work.Done) spin.SpinOnce(sleep1Threshold: -1);
                Volatile.Write(ref _growthWork, null);
            }
        }
        finally
        {
            Volatile.Write(ref _growing, 0);
        }
    }

    /// <summary>Move every state of <paramref name="t"/> into <paramref name="store"/> (the workers are stopped) and send every later operation there.</summary>
    private void MoveToOverflow(Table t, ConcurrentVisitedSet store)
    {
        for (var j = 0; j < t.Capacity; j++)
        {
            var k = t.Keys[j];
            if (k == 0) continue;
            var aux = t.ReadAux(j);
            store.Add(0, null!, k); // the spilling store keeps fingerprints only: no world needed
            store.Resolve(0, null!, k, aux == 0 ? _pendingMark : aux & ~Resolved);
        }
        Volatile.Write(ref _overflow, store);
        Volatile.Write(ref _table, new Table(1, _narrow, reserveCapacity: 0)); // nothing reads it any more
        t.Dispose();
    }
}

/// <summary>
/// A visited set several threads insert into at once: 256 shards by the fingerprint's top byte, each an ordinary
/// set (spilling to disk, or exact) behind its own lock. For the stores that are not lock-free; each acquisition
/// moves the lock's cache line between cores, which is why fingerprints in RAM use <see cref="LockFreeFingerprintSet"/>.
/// </summary>
internal sealed class ShardedVisitedSet : ConcurrentVisitedSet
{
    private readonly IVisitedSet[] _shards;

    public ShardedVisitedSet(Func<int, IVisitedSet> shard)
    {
        _shards = new IVisitedSet[256];
        _locks = new Lock[256];
        for (var i = 0; i < _shards.Length; i++)
        {
            _shards[i] = shard(i);
            _locks[i] = new Lock();
        }
    }

    /// <summary>Each shard's lock (<see cref="Lock"/>: cheaper to take than a monitor on the shard itself).</summary>
    private readonly Lock[] _locks;

    private static int ShardIndex(ulong fp) => (int)(fp >> 56);

    public override bool Add(int worker, World w, ulong fingerprint)
    {
        var i = ShardIndex(fingerprint);
        lock (_locks[i]) return _shards[i].Add(w, fingerprint, 0, out _);
    }

    /// <summary>A new state is stored as <paramref name="pendingMark"/> under the shard's lock; see the base class.</summary>
    public override bool AddOrNarrow(int worker, World w, ulong fingerprint, ulong sleep, ulong pendingMark, ulong terminalMark, ref int stop, out ulong explore, out bool terminal)
    {
        var i = ShardIndex(fingerprint);
        var s = _shards[i];
        var spin = new SpinWait();
        while (true)
        {
            lock (_locks[i])
            {
                explore = 0;
                terminal = false;
                if (s.Add(w, fingerprint, pendingMark, out var slot)) return true;
                var stored = s.GetAux(slot);
                if (stored != pendingMark)
                {
                    if (stored == terminalMark)
                    {
                        terminal = true;
                        return false;
                    }
                    explore = stored & ~sleep;
                    if (explore != 0) s.SetAux(slot, stored & sleep);
                    return false;
                }
            }
            if (Volatile.Read(ref stop) != 0)
            {
                terminal = true;
                return false;
            }
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Give a state stored pending by <see cref="AddOrNarrow"/> its aux word.</summary>
    public override void Resolve(int worker, World w, ulong fingerprint, ulong aux)
    {
        var i = ShardIndex(fingerprint);
        lock (_locks[i])
        {
            _shards[i].Add(w, fingerprint, aux, out var slot);
            _shards[i].SetAux(slot, aux);
        }
    }

    /// <summary>
    /// The shards' counts, summed without their locks (a progress figure while workers add; exact once they
    /// stopped). No shared counter: one incremented by every insertion was a cache line both cores fought over.
    /// </summary>
    public override long Count
    {
        get
        {
            long c = 0;
            foreach (var s in _shards) c += s.Count;
            return c;
        }
    }

    public override long Bytes
    {
        get
        {
            long b = 0;
            for (var i = 0; i < _shards.Length; i++)
                lock (_locks[i]) b += _shards[i].Bytes;
            return b;
        }
    }

    /// <summary>Each shard has 1/256 of the budget.</summary>
    public override bool WouldExceed(long limit)
    {
        for (var i = 0; i < _shards.Length; i++)
            lock (_locks[i])
                if (_shards[i].WouldExceed(limit / _shards.Length)) return true;
        return false;
    }

    public override string ExhaustedReason(long limit)
    {
        for (var i = 0; i < _shards.Length; i++)
            lock (_locks[i])
                if (_shards[i].WouldExceed(limit / _shards.Length)) return _shards[i].ExhaustedReason(limit);
        return $"memory budget of {limit >> 20} MiB for stored states exhausted";
    }

    /// <summary>The shards that spill to disk (for the explorer's spill statistics).</summary>
    public override IEnumerable<SpillingFingerprintSet> SpillingShards => _shards.OfType<SpillingFingerprintSet>();

    protected override void Release()
    {
        foreach (var s in _shards) (s as IDisposable)?.Dispose();
    }
}
