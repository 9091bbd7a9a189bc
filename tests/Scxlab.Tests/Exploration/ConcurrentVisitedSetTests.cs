using System.Collections.Concurrent;
using CsCheck;
using Scxlab.Exploration;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// The parallel DFS's lock-free fingerprint table against the sharded, locked store it replaced for fingerprints in
/// RAM: the same answers operation by operation, every state inserted exactly once under concurrent insertion and
/// growth, and the same answers after its states moved to spilling shards past the memory budget.
/// </summary>
public sealed class ConcurrentVisitedSetTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "scxlab-cvs-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private const int Actors = 5;
    private static readonly ulong All = (1UL << Actors) - 1;
    private static readonly ulong Pending = ConcurrentVisitedSet.PendingMark(Actors);

    private static ShardedVisitedSet Locked() => new(_ => new FingerprintSet(Actors, 4));

    /// <summary>One operation of the reduced search on a fingerprint drawn from a small pool (so revisits are common).</summary>
    private sealed record Op(int Kind, ulong Fingerprint, ulong Aux);

    private static readonly Gen<Op> GenOp =
        Gen.Select(Gen.Int[0, 2], Gen.ULong[1, 400], Gen.ULong[0, All], (k, fp, aux) => new Op(k, fp * 0x9E3779B97F4A7C15UL, aux));

    /// <summary>
    /// Applies one operation, as the parallel DFS would: an insert that finds the state new resolves it at once (with
    /// the op's aux, or the terminal mark for kind 2), so no call ever waits for a pending state.
    /// </summary>
    private static string Apply(ConcurrentVisitedSet s, Op op)
    {
        var stop = 0;
        if (op.Kind == 0) return $"add {s.Add(0, null!, op.Fingerprint)}";
        var added = s.AddOrNarrow(0, null!, op.Fingerprint, op.Aux, Pending, All, ref stop, out var explore, out var terminal);
        if (added) s.Resolve(0, null!, op.Fingerprint, op.Kind == 2 ? All : op.Aux);
        return $"narrow {added} {explore} {terminal}";
    }

    [Fact]
    public void Should_AnswerAsTheLockedShards_When_AnySequenceOfOperationsRuns()
    {
        Gen.Select(GenOp.Array[1, 600], Gen.Bool).Sample((ops, spill) =>
        {
            using var locked = Locked();
            // A tiny first table, so the sequence grows it (or moves it to spilling shards) several times.
            Func<ConcurrentVisitedSet>? overflow = spill ? () => new ShardedVisitedSet(_ => new SpillingFingerprintSet(Actors, 1 << 10, _dir)) : null;
            using var free = new LockFreeFingerprintSet(1, overflow, memoryLimit: 1 << 11, Pending, initialCapacityLog2: 2, actors: Actors);
            // Plain inserts and the reduced search's narrowing never share a set in a search: keep them apart.
            var plain = ops.Where(o => o.Kind == 0).ToArray();
            var reduced = ops.Where(o => o.Kind != 0).ToArray();
            foreach (var op in reduced) Assert.Equal(Apply(locked, op), Apply(free, op));
            using var locked2 = Locked();
            using var free2 = new LockFreeFingerprintSet(1, null, long.MaxValue, Pending, initialCapacityLog2: 2, actors: spill ? Explorer.MaxActors : Actors);
            foreach (var op in plain) Assert.Equal(Apply(locked2, op), Apply(free2, op));
            Assert.Equal(locked.Count, free.Count);
            Assert.Equal(locked2.Count, free2.Count);
        }, iter: 300);
    }

    [Fact]
    public void Should_MoveItsStatesToTheSpillingShards_When_ItOutgrowsTheMemoryBudget()
    {
        ShardedVisitedSet? moved = null;
        using var set = new LockFreeFingerprintSet(1, () => moved = new ShardedVisitedSet(_ => new SpillingFingerprintSet(Actors, 1 << 10, _dir)), memoryLimit: 1 << 12, Pending, initialCapacityLog2: 4, actors: Actors);
        var stop = 0;
        // A state left pending across the move stays pending there; one resolved keeps its sleep set.
        Assert.True(set.AddOrNarrow(0, null!, 11, 0b11, Pending, All, ref stop, out _, out _));
        Assert.True(set.AddOrNarrow(0, null!, 12, 0b11, Pending, All, ref stop, out _, out _));
        set.Resolve(0, null!, 12, 0b01);
        for (var fp = 100UL; fp < 2100; fp++) Assert.True(set.Add(0, null!, fp * 0x9E3779B97F4A7C15UL));
        Assert.NotNull(moved);
        Assert.Equal(2002, set.Count);
        Assert.Equal(moved!.Count, set.Count);
        // Still pending: a revisit would wait for it, or, once the search stops, take it as terminal.
        var stopped = 1;
        Assert.False(set.AddOrNarrow(0, null!, 11, 0b00, Pending, All, ref stopped, out var early, out var earlyTerminal));
        Assert.Equal((0UL, true), (early, earlyTerminal));
        set.Resolve(0, null!, 11, 0b10);
        Assert.False(set.AddOrNarrow(0, null!, 11, 0b00, Pending, All, ref stop, out var explore, out var terminal));
        Assert.Equal((0b10UL, false), (explore, terminal));
        Assert.False(set.AddOrNarrow(0, null!, 12, 0b00, Pending, All, ref stop, out explore, out terminal));
        Assert.Equal((0b01UL, false), (explore, terminal));
        Assert.Equal(moved.WouldExceed(1 << 12), set.WouldExceed(1 << 12));
    }

    /// <param name="actors">5: the aux in a byte table beside the keys; 63: in a word table.</param>
    [Theory]
    [InlineData(Actors)]
    [InlineData(Explorer.MaxActors)]
    public void Should_InsertEveryStateExactlyOnce_When_FourThreadsInsertOverlappingStatesWhileTheTableGrows(int actors)
    {
        const int perThread = 200_000;
        using var set = new LockFreeFingerprintSet(4, initialCapacityLog2: 4, actors: actors);
        var wins = new ConcurrentDictionary<ulong, int>();
        var start = new Barrier(4);
        var threads = Enumerable.Range(0, 4).Select(k => new Thread(() =>
        {
            start.SignalAndWait();
            // Each thread takes half of its states from a range another thread also inserts, in its own order.
            for (var i = 0; i < perThread; i++)
            {
                var n = (ulong)(k * perThread / 2 + (k % 2 == 0 ? i : perThread - 1 - i));
                var fp = (n + 1) * 0x9E3779B97F4A7C15UL;
                if (set.Add(k, null!, fp)) wins.AddOrUpdate(fp, 1, (_, c) => c + 1);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        var distinct = 4 * perThread / 2 + perThread / 2;
        Assert.Equal(distinct, wins.Count);
        Assert.All(wins.Values, c => Assert.Equal(1, c));
        Assert.Equal(distinct, set.Count);
        // Every state is found afterwards.
        for (var n = 0UL; n < (ulong)distinct; n++) Assert.False(set.Add(0, null!, (n + 1) * 0x9E3779B97F4A7C15UL));
    }

    [Theory]
    [InlineData(Actors)]
    [InlineData(Explorer.MaxActors)]
    public void Should_GiveEachActorOfAStateToOneThread_When_FourThreadsNarrowTheSameStates(int actors)
    {
        // Every thread revisits the same resolved states with sleep sets that overlap: each stored actor is handed out once.
        using var set = new LockFreeFingerprintSet(4, initialCapacityLog2: 4, actors: actors);
        const int states = 20_000;
        var stop = 0;
        for (var s = 1UL; s <= states; s++)
        {
            Assert.True(set.AddOrNarrow(0, null!, s * 0x9E3779B97F4A7C15UL, 0, Pending, All, ref stop, out _, out _));
            set.Resolve(0, null!, s * 0x9E3779B97F4A7C15UL, All & ~1UL); // every actor but 0 asleep
        }
        var handed = new ulong[states + 1, 4];
        var start = new Barrier(4);
        var threads = Enumerable.Range(0, 4).Select(k => new Thread(() =>
        {
            start.SignalAndWait();
            var stopFlag = 0;
            for (var s = 1; s <= states; s++)
            {
                // Thread k's revisit has actors k+1 and k+2 (mod 4, of 1..4) awake: each awake actor is some other thread's too.
                var sleep = All & ~(1UL << (k % 4 + 1)) & ~(1UL << ((k + 1) % 4 + 1));
                set.AddOrNarrow(k, null!, (ulong)s * 0x9E3779B97F4A7C15UL, sleep, Pending, All, ref stopFlag, out var explore, out _);
                handed[s, k] = explore;
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        for (var s = 1; s <= states; s++)
        {
            var union = 0UL;
            for (var k = 0; k < 4; k++)
            {
                Assert.Equal(0UL, union & handed[s, k]); // no actor twice
                union |= handed[s, k];
            }
            Assert.Equal(0b11110UL, union); // actors 1..4: each handed to one of the two threads that had it awake
        }
    }
}
