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
/// reach the same futures — unless the policy reads them (scx_bpf_events(), <see cref="HashEvents"/>).
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

    /// <summary>
    /// The policy reads <see cref="Events"/> (scx_bpf_events()): then they are state — hashed with the scheduler chunk,
    /// which every fingerprint then rehashes (the counters are bumped without a footprint), and compared. Otherwise they are statistics (see the remarks above).
    /// </summary>
    public bool HashEvents { get; init; }

    /// <summary>The counters scx_bpf_events() copies out (the model's own counters after them stay statistics).</summary>
    private ReadOnlySpan<long> KernelEvents => Events.AsSpan(0, ScxEvents.KernelCount);

    // ---- incremental fingerprint (see Fingerprint): per-chunk hashes, their sum, and what changed since
    private readonly ChunkShape _shape;
    private FingerprintLayout? _layout;
    private readonly ulong[] _chunkHash;
    private ulong _fp;
    private bool _fpValid;
    private ulong _pendingWrites;
    // Map blocks (chunk indexes, [from, to) pairs) written since the last fingerprint: maps are tracked by block, not
    // by footprint bit (Machine.TouchMap/WroteMapWords), so a word written costs its block, not its map.
    private readonly BlockRanges _pendingBlocks = new();
    private ulong _pendingActors;

    // ---- what changed since this world was last copied from _base (RestoreFrom copies back only that)
    private World? _base;
    private long _baseVersion;
    private long _version;
    private ulong _sinceWrites;
    private readonly BlockRanges _sinceBlocks = new();
    private ulong _sinceActors;
    private bool _sinceUnknown = true;

    // ---- what changed in this world at each of its last versions (RestoreFrom into a world based on an older version
    // of this one copies that too): _histWrites/_histActors[v % HistoryLength] is the change that made version v — the
    // footprint bits and actors of a step, or what an incremental restore copied. Versions up to _histFloor are unknown
    // (a whole copy, a write that was not a model step).
    private const int HistoryLength = 64;
    private readonly ulong[] _histWrites = new ulong[HistoryLength];
    private readonly ulong[] _histActors = new ulong[HistoryLength];
    private long _histFloor;
    // _histSource/_histSourceVersion[v % HistoryLength]: version v made this world equal to that world at that version (a
    // copy or a restore from it), else null; _histUnknown: version v was a change that was not a model step.
    private readonly World?[] _histSource = new World?[HistoryLength];
    private readonly long[] _histSourceVersion = new long[HistoryLength];
    private readonly bool[] _histUnknown = new bool[HistoryLength];
    private readonly BlockRanges[] _histBlocks = [.. Enumerable.Range(0, HistoryLength).Select(_ => new BlockRanges())];
    private readonly BlockRanges _restoreBlocks = new();

    // ---- how far down each actor's kfunc log was written. A log is written only by appending at LogLen (the machine's
    // AppendLogRaw) and shortened only through SetLogLen, so every word below the lowest LogLen an actor reached since
    // some point is as it was then. _logLowSince[a]: the lowest since this world was based on _base; _logLowStep[a]:
    // since the actor's last step; _histLogLow[v × actors + a]: what the change that made version v wrote of a's log
    // (int.MaxValue: nothing). RestoreFrom copies a log from the lowest of its own and its source's marks, not whole: a
    // BPF callback's log grows to hundreds of calls, and copying it at every step was most of scx_lavd's search.
    private readonly int[] _logLowSince;
    private readonly int[] _logLowStep;
    private readonly int[] _histLogLow;
    private readonly int[] _restoreLogLow;
    private readonly int[] _stepLogLow;
    // The cached log hash (LogHash): the hash of actor a's first _logHashLen[a] log words, and the lowest LogLen since.
    private readonly int[] _logHashLen;
    private readonly ulong[] _logHashVal;
    private readonly int[] _logLowHash;

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
        _shape = new ChunkShape(tasks, cpus, dsqs, mapWords, actors);
        _chunkHash = new ulong[_shape.Count];
        _logLowSince = new int[actors];
        _logLowStep = new int[actors];
        _histLogLow = new int[HistoryLength * actors];
        _restoreLogLow = new int[actors];
        _stepLogLow = new int[actors];
        Array.Fill(_stepLogLow, int.MaxValue);
        _logHashLen = new int[actors];
        _logHashVal = new ulong[actors];
        _logLowHash = new int[actors];
    }

    /// <summary>Shortens (or sets) actor <paramref name="a"/>'s log length: the only way a log gets shorter (see _logLowSince).</summary>
    public void SetLogLen(int a, int len)
    {
        Actors[a].LogLen = len;
        if (len < _logLowSince[a]) _logLowSince[a] = len;
        if (len < _logLowStep[a]) _logLowStep[a] = len;
        if (len < _logLowHash[a]) _logLowHash[a] = len;
    }

    public World Clone()
    {
        var w = new World(Tasks.Length, Cpus.Length, Dsqs.Length, DspBuf.Length / Math.Max(1, Cpus.Length), Maps.Length, Actors.Length, MaxDepth, LogCapacity) { _layout = _layout, HashEvents = HashEvents };
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
        for (var a = 0; a < Actors.Length; a++) CopyActorFrom(o, a);
        o.KickSyncs.AsSpan().CopyTo(KickSyncs);
        CopyRestFrom(o);
    }

    /// <summary>Actor <paramref name="a"/>'s state, live frames and live kfunc log (the model never reads past either).</summary>
    /// <param name="logFrom">The first log word that can differ (the words below are equal in both worlds).</param>
    private void CopyActorFrom(World o, int a, int logFrom = 0)
    {
        Actors[a] = o.Actors[a];
        var d = o.Actors[a].Depth;
        if (d > 0) o.Frames.AsSpan(a * MaxDepth, d).CopyTo(Frames.AsSpan(a * MaxDepth, d));
        var l = o.Actors[a].LogLen;
        if (l > logFrom) o.Logs.AsSpan(a * LogCapacity + logFrom, l - logFrom).CopyTo(Logs.AsSpan(a * LogCapacity + logFrom, l - logFrom));
        // The logs are now equal, so o's cached log hash holds here (with o's mark: valid only if o's was).
        _logHashLen[a] = o._logHashLen[a];
        _logHashVal[a] = o._logHashVal[a];
        _logLowHash[a] = o._logLowHash[a];
    }

    /// <summary>What every copy takes whole: the scheduler state, the exit message, the event counters and the fingerprint's chunk hashes.</summary>
    /// <remarks>A partial restore (<paramref name="copiedBlocks"/> given) has copied the chunk hashes that can differ itself.</remarks>
    private void CopyRestFrom(World o, ulong copiedWrites = ulong.MaxValue, ulong copiedActors = ulong.MaxValue, BlockRanges? copiedBlocks = null)
    {
        Sched = o.Sched;
        ExitMessage = o.ExitMessage;
        o.Events.AsSpan().CopyTo(Events);
        if (copiedBlocks == null) o._chunkHash.AsSpan().CopyTo(_chunkHash);
        CopyFingerprintStateFrom(o);
        Based(o, copiedWrites, copiedActors, copiedBlocks);
    }

    private void CopyFingerprintStateFrom(World o)
    {
        _fp = o._fp;
        _fpValid = o._fpValid && _layout == o._layout;
        _pendingWrites = o._pendingWrites;
        _pendingActors = o._pendingActors;
        _pendingBlocks.CopyFrom(o._pendingBlocks);
    }

    /// <summary>This world now equals <paramref name="o"/>: what changes from here on is what RestoreFrom(o) copies back.</summary>
    private void Based(World o, ulong copiedWrites = ulong.MaxValue, ulong copiedActors = ulong.MaxValue, BlockRanges? copiedBlocks = null)
    {
        _base = o;
        _baseVersion = o._version;
        _sinceWrites = 0;
        _sinceActors = 0;
        _sinceBlocks.Clear();
        _sinceUnknown = _layout == null || _layout != o._layout;
        Changed(copiedWrites, copiedActors, copiedBlocks, _restoreLogLow);
        // Whole or partial, the copy made this world equal to o as it is now: a marker ChangedSince can go back to.
        var slot = (int)(_version % HistoryLength);
        _histSource[slot] = o;
        _histSourceVersion[slot] = o._version;
        _histUnknown[slot] = false;
        for (var a = 0; a < Actors.Length; a++) _logLowSince[a] = _logLowStep[a] = Actors[a].LogLen;
    }

    /// <summary>
    /// A new version of this world: <paramref name="writes"/> (footprint bits), <paramref name="actors"/> and the map
    /// <paramref name="blocks"/> changed; MaxValue or null blocks = unknown.
    /// </summary>
    /// <param name="logLows">For each actor in <paramref name="actors"/>, the lowest log word the change wrote.</param>
    private void Changed(ulong writes, ulong actors, BlockRanges? blocks, ReadOnlySpan<int> logLows)
    {
        _version++;
        _histSource[_version % HistoryLength] = null;
        _histUnknown[_version % HistoryLength] = false;
        if (writes == ulong.MaxValue || actors == ulong.MaxValue || blocks == null || blocks.All)
        {
            _histFloor = _version;
            _histUnknown[_version % HistoryLength] = true;
            return;
        }
        _histWrites[_version % HistoryLength] = writes;
        _histActors[_version % HistoryLength] = actors;
        _histBlocks[_version % HistoryLength].CopyFrom(blocks);
        var lows = _histLogLow.AsSpan((int)(_version % HistoryLength) * Actors.Length, Actors.Length);
        lows.Fill(int.MaxValue);
        for (var m = actors; m != 0; m &= m - 1)
            for (var a = System.Numerics.BitOperations.TrailingZeroCount(m); a < lows.Length; a += 64)
                lows[a] = logLows[a];
    }

    /// <summary>What changed in this world since its version <paramref name="v"/> (map blocks added to <paramref name="blocks"/>); false when that is not known any more.</summary>
    /// <param name="logLows">Lowered to the lowest log word of each actor that changed.</param>
    private bool ChangedSince(long v, out ulong writes, out ulong actors, BlockRanges blocks, Span<int> logLows)
    {
        writes = 0;
        actors = 0;
        // Copied from the same world at the same version both before v and since: the changes in between cancel. This
        // world was that copy plus the steps after it at v, and is that copy plus the steps after its last copy now, so
        // only those two runs of steps can differ. A depth-first search restores a parent from the grandparent for
        // each sibling, and the siblings that only revisit a state leave a deeper world based on an old version of the
        // parent: the plain union below would take every one of their steps (scx_lavd: 76 map blocks a restore), and a
        // whole copy made the parent's history unknown to every deeper world (one whole copy of megabytes per depth).
        var now = LastCopy(_version, v);
        if (now > v)
        {
            var then = LastCopy(v, _version - HistoryLength);
            if (then >= 0 && ReferenceEquals(_histSource[then % HistoryLength], _histSource[now % HistoryLength])
                && _histSourceVersion[then % HistoryLength] == _histSourceVersion[now % HistoryLength]
                && StepsOnly(then, v) && StepsOnly(now, _version))
            {
                AddChanges(then, v, ref writes, ref actors, blocks, logLows);
                AddChanges(now, _version, ref writes, ref actors, blocks, logLows);
                return writes != ulong.MaxValue && !blocks.All;
            }
        }
        if (v < _histFloor || _version - v >= HistoryLength) return false;
        AddChanges(v, _version, ref writes, ref actors, blocks, logLows);
        return writes != ulong.MaxValue && !blocks.All;
    }

    /// <summary>The latest version in (<paramref name="floor"/>, <paramref name="from"/>] that was a copy (within the history), or -1.</summary>
    private long LastCopy(long from, long floor)
    {
        var stop = Math.Max(floor, _version - HistoryLength);
        for (var k = from; k > stop && k >= 0; k--)
            if (_histSource[k % HistoryLength] != null) return k;
        return -1;
    }

    /// <summary>Every version in (<paramref name="from"/>, <paramref name="to"/>] was a model step (known changes).</summary>
    private bool StepsOnly(long from, long to)
    {
        for (var k = from + 1; k <= to; k++)
            if (_histUnknown[k % HistoryLength]) return false;
        return true;
    }

    /// <summary>The union of the changes that made versions (<paramref name="from"/>, <paramref name="to"/>].</summary>
    private void AddChanges(long from, long to, ref ulong writes, ref ulong actors, BlockRanges blocks, Span<int> logLows)
    {
        for (var k = from + 1; k <= to; k++)
        {
            writes |= _histWrites[k % HistoryLength];
            actors |= _histActors[k % HistoryLength];
            blocks.Add(_histBlocks[k % HistoryLength]);
            var lows = _histLogLow.AsSpan((int)(k % HistoryLength) * Actors.Length, Actors.Length);
            for (var a = 0; a < lows.Length; a++)
                if (lows[a] < logLows[a]) logLows[a] = lows[a];
        }
    }

    /// <summary>
    /// Make this world equal to <paramref name="o"/> again, copying only what changed since it was last copied from
    /// <paramref name="o"/>: the chunks the model's steps since then may have written (their write footprints, the
    /// stepping actors, the scheduler state — the same rule as the incremental fingerprint) — provided
    /// <paramref name="o"/> has not changed since either. Otherwise (another source, a change that was not a model
    /// step, an unknown layout) the whole world is copied. A depth-first search steps every child of a state from the
    /// same parent, so each sibling costs the previous sibling's footprint instead of the whole world.
    /// </summary>
    public void RestoreFrom(World o)
    {
        // Copy back what this world's own steps wrote since it was copied from o, and what o's steps and restores
        // changed in o since then (a depth-first search re-steps o itself before it steps o's next child).
        var blocks = _restoreBlocks;
        blocks.Clear();
        blocks.Add(_sinceBlocks);
        // A small world (the C# policies': a few KB) is copied whole when o changed: cheaper than the bookkeeping.
        // The lowest log word either world wrote since this one was based on o: below it the logs are equal.
        var logLow = _restoreLogLow;
        _logLowSince.CopyTo(logLow, 0);
        if (_base != o || _sinceUnknown || _sinceWrites == ulong.MaxValue || blocks.All
            || (_baseVersion != o._version && !Large) || !o.ChangedSince(_baseVersion, out var oWrites, out var oActors, blocks, logLow))
        {
            CopyFrom(o);
            return;
        }
        var w = _sinceWrites | oWrites;
        var ranges = _layout!.Ranges;
        for (var bits = w; bits != 0; bits &= bits - 1)
        {
            var r = ranges[System.Numerics.BitOperations.TrailingZeroCount(bits)];
            for (var i = 0; i < r.Length; i += 2)
                for (var k = r[i]; k < r[i + 1]; k++) CopyChunkFrom(o, k);
        }
        for (var i = 0; i < blocks.Count; i += 2) CopyMapBlocksFrom(o, blocks[i], blocks[i + 1]);
        // The chunk hashes that can differ. A world's chunk hash is its chunk's hash unless the chunk is one its next
        // fingerprint rehashes (pending). Outside the chunks copied, both worlds hold what they held when this one was
        // copied from o, so their hashes differ only where one of them is stale: a chunk pending in either. The actors'
        // and the scheduler state's hashes are copied too (few, and rehashed often).
        if (!_fpValid || !Large) o._chunkHash.AsSpan().CopyTo(_chunkHash); // this world's hashes were not kept, or are few: all of o's
        else
        {
            for (var bits = w | _pendingWrites | o._pendingWrites; bits != 0; bits &= bits - 1)
            {
                var r = ranges[System.Numerics.BitOperations.TrailingZeroCount(bits)];
                for (var i = 0; i < r.Length; i += 2)
                    o._chunkHash.AsSpan(r[i], r[i + 1] - r[i]).CopyTo(_chunkHash.AsSpan(r[i]));
            }
            CopyChunkHashes(o, blocks);
            CopyChunkHashes(o, _pendingBlocks);
            CopyChunkHashes(o, o._pendingBlocks);
        }
        o._chunkHash.AsSpan(_shape.FirstActor, Actors.Length).CopyTo(_chunkHash.AsSpan(_shape.FirstActor));
        _chunkHash[_shape.Sched] = o._chunkHash[_shape.Sched];
        var actors = _sinceActors | oActors;
        var copiedActors = actors;
        while (actors != 0)
        {
            for (var a = System.Numerics.BitOperations.TrailingZeroCount(actors); a < Actors.Length; a += 64)
                CopyActorFrom(o, a, logLow[a]);
            actors &= actors - 1;
        }
        CopyRestFrom(o, w, copiedActors, blocks);
        if (VerifyIncremental && !SameStateAs(o))
            throw new InvalidOperationException("RestoreFrom left this world different from its source (a write outside the steps' footprints)");
        if (VerifyIncremental && _fpValid && !_chunkHash.AsSpan().SequenceEqual(o._chunkHash))
            throw new InvalidOperationException("RestoreFrom left this world's chunk hashes different from its source's");
    }

    private void CopyChunkHashes(World o, BlockRanges r)
    {
        if (r.All)
        {
            o._chunkHash.AsSpan(_shape.FirstMapBlock, _shape.FirstActor - _shape.FirstMapBlock).CopyTo(_chunkHash.AsSpan(_shape.FirstMapBlock));
            return;
        }
        for (var i = 0; i < r.Count; i += 2) o._chunkHash.AsSpan(r[i], r[i + 1] - r[i]).CopyTo(_chunkHash.AsSpan(r[i]));
    }

    /// <summary>Map blocks (chunk indexes) [<paramref name="from"/>, <paramref name="to"/>) copied from <paramref name="o"/>.</summary>
    private void CopyMapBlocksFrom(World o, int from, int to)
    {
        var b = (from - _shape.FirstMapBlock) * ChunkShape.MapBlockWords;
        var e = Math.Min((to - _shape.FirstMapBlock) * ChunkShape.MapBlockWords, Maps.Length);
        if (e > b) o.Maps.AsSpan(b, e - b).CopyTo(Maps.AsSpan(b, e - b));
    }

    /// <summary>Worlds with more chunks than this (a BPF object's big maps or arena) restore by history and copy chunk hashes selectively.</summary>
    private const int LargeWorldChunks = 1024;
    private bool Large => _chunkHash.Length > LargeWorldChunks;

    /// <summary>
    /// A large world (a BPF object's maps and arena) restores by the chunks that changed even when its source did; a
    /// small one is copied whole then. A search keeps a large world's base (its parent) when it can: a whole copy of one
    /// costs megabytes.
    /// </summary>
    public bool RestoresByHistory => Large;

    /// <summary>Chunk <paramref name="k"/> (not an actor's: those are copied whole by CopyActorFrom) copied from <paramref name="o"/>.</summary>
    private void CopyChunkFrom(World o, int k)
    {
        var sh = _shape;
        if (k < sh.FirstCpu) Tasks[k] = o.Tasks[k];
        else if (k < sh.FirstDsq) Cpus[k - sh.FirstCpu] = o.Cpus[k - sh.FirstCpu];
        else if (k < sh.FirstDsp) Dsqs[k - sh.FirstDsq] = o.Dsqs[k - sh.FirstDsq];
        else if (k < sh.FirstMapBlock)
        {
            var c = k - sh.FirstDsp;
            var per = DspBuf.Length / Math.Max(1, Cpus.Length);
            var live = o.Cpus[c].DspCursor;
            if (live > 0) o.DspBuf.AsSpan(c * per, live).CopyTo(DspBuf.AsSpan(c * per, live));
        }
        else if (k < sh.FirstActor)
        {
            var b = (k - sh.FirstMapBlock) * ChunkShape.MapBlockWords;
            var n = Math.Min(ChunkShape.MapBlockWords, Maps.Length - b);
            o.Maps.AsSpan(b, n).CopyTo(Maps.AsSpan(b, n));
        }
        else if (k >= sh.FirstKickRow && k < sh.Sched)
        {
            var r = k - sh.FirstKickRow;
            o.KickSyncs.AsSpan(r * Cpus.Length, Cpus.Length).CopyTo(KickSyncs.AsSpan(r * Cpus.Length, Cpus.Length));
        }
    }

    /// <summary>
    /// 64-bit fingerprint of everything that determines the future: the sum (mod 2^64) of one XxHash3 per chunk —
    /// each task, CPU, DSQ slot, CPU's live dispatch-buffer entries, 32-word block of the maps, actor (its state, live
    /// frames and live kfunc log), kicker's ksyncs row, and the scheduler state with the exit message — seeded with
    /// the chunk's index. A world the model steps keeps its chunk hashes and recomputes only the chunks the steps
    /// since the last fingerprint may have written (<see cref="NoteStep"/>): the chunks of the resources in the
    /// steps' write footprints, the stepping actors', and the scheduler state at every fingerprint when it holds the
    /// event counters (<see cref="HashEvents"/>). That is sound because every write to shared state is in the step's
    /// footprint — the completeness the reduced search already rests on (docs/exploration.md, Footprints and
    /// soundness); a footprint bit shared by several resources only rehashes more. Anything else that writes a world (boot, loading a saved state, a test) must call
    /// <see cref="InvalidateFingerprint"/>, and then every chunk is hashed again. The value does not depend on which
    /// way it was computed (<c>FingerprintTests</c> compare the two on random walks of every built-in).
    /// </summary>
    public ulong Fingerprint()
    {
        if (!VerifyIncremental) return IncrementalFingerprint();
        var fp = IncrementalFingerprint();
        ulong full = 0;
        for (var k = 0; k < _chunkHash.Length; k++) full += HashChunk(k, scratch: true);
        if (full != fp)
        {
            var stale = Enumerable.Range(0, _chunkHash.Length).Where(k => HashChunk(k, scratch: true) != _chunkHash[k]).Select(k => _shape.Describe(k));
            throw new InvalidOperationException($"incremental fingerprint {fp:x16} != full {full:x16}: stale chunks {string.Join(", ", stale)} (a write outside the step's footprint)");
        }
        return fp;
    }

    /// <summary>
    /// Check every incremental fingerprint against a full one, and every partial restore against its source
    /// (SCXLAB_VERIFY_FINGERPRINT=1, as .ci/run runs the exploration, fuzz, comparison and BPF tests): a write the
    /// footprints miss then fails loudly.
    /// </summary>
    public static bool VerifyIncremental { get; set; } = Environment.GetEnvironmentVariable("SCXLAB_VERIFY_FINGERPRINT") == "1";

    private ulong IncrementalFingerprint()
    {
        if (!_fpValid || _layout == null) return FullFingerprint();
        var writes = _pendingWrites;
        if (writes == ulong.MaxValue) return FullFingerprint();
        var fp = _fp;
        var ranges = _layout.Ranges;
        // A chunk under two written bits is rehashed twice; the second Rehash adds 0.
        for (var bits = writes; bits != 0; bits &= bits - 1)
        {
            var r = ranges[System.Numerics.BitOperations.TrailingZeroCount(bits)];
            for (var i = 0; i < r.Length; i += 2)
                for (var k = r[i]; k < r[i + 1]; k++) fp += Rehash(k);
        }
        if (_pendingBlocks.All) return FullFingerprint();
        for (var i = 0; i < _pendingBlocks.Count; i += 2)
            for (var k = _pendingBlocks[i]; k < _pendingBlocks[i + 1]; k++) fp += Rehash(k);
        var actors = _pendingActors;
        while (actors != 0)
        {
            for (var a = System.Numerics.BitOperations.TrailingZeroCount(actors); a < Actors.Length; a += 64)
                fp += Rehash(_shape.FirstActor + a);
            actors &= actors - 1;
        }
        // The scheduler chunk is rehashed under the Sched bit's writes like any other; the event counters in it (when
        // the policy reads them) are bumped without a footprint, so then it is rehashed at every fingerprint.
        if (HashEvents) fp += Rehash(_shape.Sched);
        _fp = fp;
        _pendingWrites = 0;
        _pendingActors = 0;
        _pendingBlocks.Clear();
        return fp;
    }

    /// <summary>Every chunk hashed again (and remembered); the incremental path's reference.</summary>
    public ulong FullFingerprint()
    {
        FullHashes++;
        // Whatever made the incremental path unusable may have written the logs too: their cached hashes go.
        Array.Clear(_logHashLen);
        ulong fp = 0;
        for (var k = 0; k < _chunkHash.Length; k++)
        {
            _chunkHash[k] = HashChunk(k);
            fp += _chunkHash[k];
        }
        _fp = fp;
        _fpValid = true;
        _pendingWrites = 0;
        _pendingActors = 0;
        _pendingBlocks.Clear();
        return fp;
    }

    /// <summary>How many times every chunk was hashed (<see cref="FullFingerprint"/>): the incremental path's misses, for tests.</summary>
    internal long FullHashes { get; private set; }

    /// <summary>Chunk <paramref name="k"/> hashed again; returns new − old.</summary>
    private ulong Rehash(int k)
    {
        var h = HashChunk(k);
        var d = h - _chunkHash[k];
        _chunkHash[k] = h;
        return d;
    }

    /// <summary>A model step by <paramref name="actor"/> wrote (at most) <paramref name="writes"/> (its footprint).</summary>
    public void NoteStep(int actor, ulong writes, IReadOnlyList<int>? blocks = null)
    {
        _pendingWrites |= writes;
        _sinceWrites |= writes;
        _stepBlocks.Clear();
        if (blocks != null) _stepBlocks.Add(blocks);
        _pendingBlocks.Add(_stepBlocks);
        _sinceBlocks.Add(_stepBlocks);
        var bit = ActorBit(actor);
        _pendingActors |= bit;
        _sinceActors |= bit;
        // The other actors under the same bit did not change: their marks stay int.MaxValue (nothing written).
        _stepLogLow[actor] = _logLowStep[actor];
        Changed(writes, bit, _stepBlocks, _stepLogLow);
        _stepLogLow[actor] = int.MaxValue;
        _logLowStep[actor] = Actors[actor].LogLen;
    }

    /// <summary>
    /// Actor <paramref name="a"/>'s bit in the actor masks (pending, since, history). One bit per actor up to 64 actors;
    /// past that (a 64- or 256-CPU machine's CPUs and scripts), bit b stands for every actor whose index is b mod 64, and
    /// a bit set by one of them copies and rehashes them all, which only does more than needed. So the loops over a
    /// mask's actors start at the bit's index and go 64 at a time.
    /// </summary>
    private static ulong ActorBit(int a) => 1UL << (a & 63);

    private readonly BlockRanges _stepBlocks = new();

    /// <summary>Something other than a model step wrote this world: the next fingerprint hashes every chunk (and the next RestoreFrom copies all).</summary>
    public void InvalidateFingerprint()
    {
        _fpValid = false;
        _sinceUnknown = true;
        Changed(ulong.MaxValue, ulong.MaxValue, null, default);
    }

    /// <summary>Which footprint bits may change which chunk (the model's resources; set once by the machine that steps this world).</summary>
    public FingerprintLayout? Layout
    {
        get => _layout;
        set
        {
            _layout = value;
            InvalidateFingerprint();
        }
    }

    public ChunkShape Shape => _shape;

    /// <param name="scratch">Hash every log word again (the verification's reference), not from the cached prefix.</param>
    private ulong HashChunk(int k, bool scratch = false)
    {
        var seed = (long)k;
        var sh = _shape;
        if (k < sh.FirstCpu) return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(Tasks.AsSpan(k, 1)), seed);
        if (k < sh.FirstDsq) return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(Cpus.AsSpan(k - sh.FirstCpu, 1)), seed);
        if (k < sh.FirstDsp) return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(Dsqs.AsSpan(k - sh.FirstDsq, 1)), seed);
        if (k < sh.FirstMapBlock)
        {
            var c = k - sh.FirstDsp;
            var per = DspBuf.Length / Math.Max(1, Cpus.Length);
            return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(DspBuf.AsSpan(c * per, Cpus[c].DspCursor)), seed);
        }
        if (k < sh.FirstActor)
        {
            var b = (k - sh.FirstMapBlock) * ChunkShape.MapBlockWords;
            return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(Maps.AsSpan(b, Math.Min(ChunkShape.MapBlockWords, Maps.Length - b))), seed);
        }
        if (k < sh.FirstKickRow)
        {
            var a = k - sh.FirstActor;
            var buf = _scratch ??= new byte[4096];
            var len = 0;
            Gather(ref buf, ref len, MemoryMarshal.AsBytes(Actors.AsSpan(a, 1)));
            Gather(ref buf, ref len, MemoryMarshal.AsBytes(Frames.AsSpan(a * MaxDepth, Actors[a].Depth)));
            _scratch = buf;
            // The log enters as the seed: its chained hash, extended from the words hashed before (LogHash).
            return XxHash3.HashToUInt64(buf.AsSpan(0, len), seed ^ (long)LogHash(a, scratch));
        }
        if (k < sh.Sched)
        {
            var r = k - sh.FirstKickRow;
            return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(KickSyncs.AsSpan(r * Cpus.Length, Cpus.Length)), seed);
        }
        {
            var buf = _scratch ??= new byte[4096];
            var len = 0;
            var st = Sched;
            Gather(ref buf, ref len, MemoryMarshal.AsBytes(new ReadOnlySpan<SchedState>(in st)));
            var msgLen = ExitMessage?.Length ?? -1;
            Gather(ref buf, ref len, MemoryMarshal.AsBytes(new ReadOnlySpan<int>(in msgLen)));
            if (ExitMessage != null) Gather(ref buf, ref len, MemoryMarshal.AsBytes(ExitMessage.AsSpan()));
            if (HashEvents) Gather(ref buf, ref len, MemoryMarshal.AsBytes(KernelEvents));
            _scratch = buf;
            return XxHash3.HashToUInt64(buf.AsSpan(0, len), seed);
        }
    }

    /// <summary>
    /// The hash of actor <paramref name="a"/>'s live kfunc log, one (kind, result) pair at a time from a fixed seed, so
    /// a prefix's hash extends to a longer log: the words below <c>_logHashLen[a]</c> are hashed once, not at every
    /// fingerprint — a BPF callback's log grows to hundreds of calls, and rehashing it at each of its steps was a tenth
    /// of scx_lavd's search. The cached prefix is used only while no word of it was rewritten: a log is shortened only
    /// through <see cref="SetLogLen"/>, which lowers <c>_logLowHash[a]</c>, and grows only by appending.
    /// </summary>
    private ulong LogHash(int a, bool scratch)
    {
        var len = Actors[a].LogLen;
        int have;
        ulong h;
        if (scratch || _logHashLen[a] == 0 || _logLowHash[a] < _logHashLen[a] || _logHashLen[a] > len)
        {
            have = 0;
            h = LogHashSeed;
        }
        else
        {
            have = _logHashLen[a];
            h = _logHashVal[a];
        }
        var log = Logs.AsSpan(a * LogCapacity, len);
        for (var i = have; i + 1 < len; i += 2)
            h = Mix64(Mix64(h ^ (ulong)log[i]) ^ (ulong)log[i + 1]);
        if (!scratch)
        {
            _logHashLen[a] = len;
            _logHashVal[a] = h;
            _logLowHash[a] = len;
        }
        return h;
    }

    private const ulong LogHashSeed = 0x9E3779B97F4A7C15UL;

    /// <summary>MurmurHash3's 64-bit finalizer: a bijection with full avalanche.</summary>
    private static ulong Mix64(ulong x)
    {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdUL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53UL;
        x ^= x >> 33;
        return x;
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
        if (HashEvents) h.Append(MemoryMarshal.AsBytes(KernelEvents));
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
        return ExitMessage == o.ExitMessage && KickSyncs.AsSpan().SequenceEqual(o.KickSyncs) && (!HashEvents || KernelEvents.SequenceEqual(o.KernelEvents));
    }

    /// <summary>Bytes of the hashed state (for bytes-per-state reporting in exact mode).</summary>
    public int StateBytes()
    {
        var n = Tasks.Length * Marshal.SizeOf<TaskState>() + Cpus.Length * Marshal.SizeOf<CpuState>() + Dsqs.Length * Marshal.SizeOf<DsqState>() + Maps.Length * 8 + Actors.Length * Marshal.SizeOf<ActorState>();
        for (var a = 0; a < Actors.Length; a++) n += Actors[a].Depth * Marshal.SizeOf<Frame>() + Actors[a].LogLen * 8;
        return n;
    }
}

/// <summary>How a world of one shape is cut into fingerprint chunks (World.Fingerprint): indices of each kind's first chunk.</summary>
public sealed record ChunkShape
{
    /// <summary>Words of the maps per chunk.</summary>
    public const int MapBlockWords = 32;

    public ChunkShape(int tasks, int cpus, int dsqs, int mapWords, int actors)
    {
        FirstCpu = tasks;
        FirstDsq = FirstCpu + cpus;
        FirstDsp = FirstDsq + dsqs;
        FirstMapBlock = FirstDsp + cpus;
        FirstActor = FirstMapBlock + (mapWords + MapBlockWords - 1) / MapBlockWords;
        FirstKickRow = FirstActor + actors;
        Sched = FirstKickRow + cpus;
        Count = Sched + 1;
    }

    public int FirstCpu { get; }
    public int FirstDsq { get; }
    public int FirstDsp { get; }
    public int FirstMapBlock { get; }
    public int FirstActor { get; }
    public int FirstKickRow { get; }
    /// <summary>The scheduler state and exit message: the last chunk, rehashed at every fingerprint.</summary>
    public int Sched { get; }
    public int Count { get; }

    /// <summary>Chunk <paramref name="k"/> by what it holds ("task 1", "map words 32..63").</summary>
    public string Describe(int k) =>
        k < FirstCpu ? $"task {k}"
        : k < FirstDsq ? $"CPU {k - FirstCpu}"
        : k < FirstDsp ? $"DSQ slot {k - FirstDsq}"
        : k < FirstMapBlock ? $"dispatch buffer of CPU {k - FirstDsp}"
        : k < FirstActor ? $"map words {(k - FirstMapBlock) * MapBlockWords}..{(k - FirstMapBlock + 1) * MapBlockWords - 1}"
        : k < FirstKickRow ? $"actor {k - FirstActor}"
        : k < Sched ? $"ksyncs row {k - FirstKickRow}"
        : "scheduler state";
}

/// <summary>
/// Per fingerprint chunk, the footprint write bits (<see cref="ResourceBits"/>) of every resource stored in it: a step
/// whose write footprint has none of them leaves the chunk as it was. Actor chunks have none (a step changes only its
/// own actor's chunk, which <see cref="World.NoteStep"/> names), nor do map blocks (a step names the blocks it wrote);
/// the scheduler chunk is rehashed at every fingerprint when it holds the event counters (<see cref="World.HashEvents"/>).
/// </summary>
public sealed class FingerprintLayout
{
    public FingerprintLayout(ulong[] masks)
    {
        var ranges = new List<int>[64];
        for (var b = 0; b < 64; b++) ranges[b] = [];
        for (var k = 0; k < masks.Length; k++)
            for (var m = masks[k]; m != 0; m &= m - 1)
            {
                var r = ranges[System.Numerics.BitOperations.TrailingZeroCount(m)];
                if (r.Count > 0 && r[^1] == k) r[^1] = k + 1; // extends the last [from, to)
                else { r.Add(k); r.Add(k + 1); }
            }
        Ranges = [.. ranges.Select(r => r.ToArray())];
    }

    /// <summary>
    /// Per footprint bit, the chunks whose mask has it, as [from, to) pairs: a restore or a fingerprint visits the chunks
    /// of the bits a step wrote, not every chunk (a BPF object's maps can make tens of thousands).
    /// </summary>
    public int[][] Ranges { get; }
}

/// <summary>The kernel's event counters (<c>struct scx_event_stats</c>) the model maintains, plus model counters.</summary>
public enum ScxEvent
{
    SelectCpuFallback,
    DispatchLocalDsqOffline,
    DispatchKeepLast,
    EnqSkipExiting,
    EnqSkipMigrationDisabled,
    /// <summary>SCX_EV_REENQ_IMMED: an IMMED task re-enqueued because its CPU was not free for it.</summary>
    ReenqImmed,
    /// <summary>SCX_EV_REENQ_LOCAL_REPEAT: a local re-enqueue pass queued another one.</summary>
    ReenqLocalRepeat,
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
        Enum.TryParse<ScxEvent>(eventName, out var e) && (int)e < KernelCount ? "SCX_EV_" + SnakeName(eventName).ToUpperInvariant() : null;

    /// <summary>The kernel's counters (struct scx_event_stats) are the first ones of <see cref="ScxEvent"/>; the model's own follow.</summary>
    public const int KernelCount = (int)ScxEvent.ReenqKfunc;

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

/// <summary>
/// Map blocks (fingerprint chunk indexes) as [from, to) pairs, possibly overlapping; past <see cref="MaxPairs"/> pairs
/// it stands for every map block (<see cref="All"/>), which a copy or a fingerprint then takes whole.
/// </summary>
internal sealed class BlockRanges
{
    private const int MaxPairs = 256;
    private int[] _items = new int[16];

    public int Count { get; private set; }
    public bool All { get; private set; }
    public int this[int i] => _items[i];

    public void Clear()
    {
        Count = 0;
        All = false;
    }

    public void Add(int from, int to)
    {
        if (All || to <= from) return;
        if (Count >= 2 && _items[Count - 2] <= from && _items[Count - 1] >= to) return; // the last pair has it
        if (Count == 2 * MaxPairs)
        {
            // A union over many steps repeats the same blocks: merged, it usually fits again. Only a set that stays
            // near the bound stands for every block (a whole copy of a BPF object's maps, and of each deeper world
            // based on this one: megabytes each).
            Compact();
            if (Count > 2 * MaxPairs * 3 / 4)
            {
                All = true;
                return;
            }
        }
        if (Count + 2 > _items.Length) Array.Resize(ref _items, 2 * _items.Length);
        _items[Count++] = from;
        _items[Count++] = to;
    }

    /// <summary>Sorts the pairs and merges those that overlap or touch (the same blocks, fewer pairs).</summary>
    private void Compact()
    {
        var n = Count / 2;
        Span<long> packed = stackalloc long[n];
        for (var i = 0; i < n; i++) packed[i] = ((long)_items[2 * i] << 32) | (uint)_items[2 * i + 1];
        packed.Sort();
        var c = 0;
        for (var i = 0; i < n; i++)
        {
            var from = (int)(packed[i] >> 32);
            var to = (int)(uint)packed[i];
            if (c > 0 && from <= _items[c - 1])
            {
                if (to > _items[c - 1]) _items[c - 1] = to;
                continue;
            }
            _items[c++] = from;
            _items[c++] = to;
        }
        Count = c;
    }

    public void Add(BlockRanges o)
    {
        if (o.All) All = true;
        for (var i = 0; i < o.Count && !All; i += 2) Add(o._items[i], o._items[i + 1]);
    }

    public void Add(IReadOnlyList<int> pairs)
    {
        for (var i = 0; i + 1 < pairs.Count && !All; i += 2) Add(pairs[i], pairs[i + 1]);
    }

    public void CopyFrom(BlockRanges o)
    {
        Clear();
        Add(o);
    }
}
