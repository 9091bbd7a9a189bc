using System.IO.Hashing;
using System.Runtime.InteropServices;
using Scxlab.Bpf;

namespace Scxlab.BpfObject;

/// <summary>
/// Resuming a callback where it stopped. A step of a BPF callback used to re-run it from its first instruction, feeding
/// back the results its earlier calls recorded (replay, <see cref="BpfTask"/>), which costs the whole prefix again at
/// every step: quadratic in the calls a callback makes, and scx's arena schedulers make hundreds. Now, at the start of
/// each instruction that can call into the model once the recorded results are used up, the run's state — registers,
/// stack frames, call frames, loops, references, ring buffer records, the cursor into the log, the instruction count —
/// is saved as a checkpoint, keyed by what determines it: the actor, the callback's entry and arguments, the constant
/// inputs the program reads without a call (its CPU, that CPU's current task, the clock under simulation) and the
/// recorded (kind, result) pairs of its calls up to there. A later step of the same callback looks its recorded log up
/// and, on a match, restores the checkpoint and goes on from that instruction; otherwise it replays as before.
/// </summary>
/// <remarks>
/// This cannot change a verdict or a state count. The interpreter is deterministic: its state at the start of an
/// instruction is a function of the key above (docs/bpf.md, "Checkpoints, and replay behind them"), so the restored
/// state is the one the replay would reach there, and the run goes on identically. A lookup compares the key and the whole log prefix word for word
/// (the hash only picks the slot), and a checkpoint is never part of the world value: the world's log already
/// determines it, so fingerprints and state comparison are unchanged. <see cref="Kernel.ModelConfig.BpfCheckpoints"/>
/// off replays every step from the start — the cross-check <c>BpfCheckpointTests</c> runs.
/// </remarks>
internal sealed partial class Interpreter
{
    /// <summary>Checkpoints kept (direct-mapped by hash); a search needs few at once: the actors' latest stops along its path.</summary>
    private const int CheckpointSlots = 1024;

    /// <summary>
    /// Recorded calls below which a step replays instead of looking a checkpoint up (and checkpoints are not saved for
    /// it): a short prefix replays faster than a checkpoint is saved, found and restored (simple.bpf.o under simulate:
    /// 1.05 M events/s with every step checkpointed, 1.3 M replaying, the same with this bound; scx_p2dq's callbacks make
    /// hundreds of calls). <see cref="Kernel.ModelConfig.BpfCheckpointMinCalls"/> overrides it (the cross-checks: 1).
    /// </summary>
    internal const int MinCallsToResume = 8;

    /// <summary>
    /// A piece of a checkpoint's log prefix: the words after its parent's, immutable once made. The checkpoints of one
    /// callback's successive steps share their common prefix through the parent links, so saving one copies only the
    /// calls recorded since the run's last save (or since the checkpoint it resumed from), not the whole prefix again:
    /// copying the prefix at every save was quadratic in a callback's calls (scx_lavd's liveness drain spent most of
    /// its time there).
    /// </summary>
    private sealed class LogPiece(LogPiece? parent, long[] words)
    {
        public readonly LogPiece? Parent = parent;
        public readonly long[] Words = words;
        /// <summary>Words of the prefix up to and including this piece.</summary>
        public readonly int End = (parent?.End ?? 0) + words.Length;
    }

    private sealed class Checkpoint
    {
        public ulong Hash;
        // The key: the run's header (RunKey) and the log prefix of Cursor (kind, result) pairs (Log's pieces; null: none).
        public readonly ulong[] Key = new ulong[RunKeyMax];
        public int KeyLen;
        public LogPiece? Log;
        public int Cursor;
        // The state at the start of instruction Pc.
        public int Pc, Depth;
        public long Executed;
        public readonly ulong[] R = new ulong[11];
        public byte[] Stack = [];
        public readonly int[] RetPc = new int[MaxFrames];
        public readonly ulong[] Saved = new ulong[MaxFrames * 4];
        public readonly (int I, int N, int Cb, ulong Ctx, int Map)[] Loops = new (int, int, int, ulong, int)[MaxFrames];
        public readonly ulong[] LoopKeys = new ulong[MaxFrames];
        public int Refs, FirstRefPc, RcuDepth, PreemptDepth;
        public (byte[] Bytes, bool Open, int Pc)[] Records = [];
    }

    private const int RunKeyMax = 32;
    private readonly Checkpoint?[] _checkpoints = new Checkpoint?[CheckpointSlots];
    private Checkpoint _pending = new();
    private bool _pendingValid;
    private readonly ulong[] _runKey = new ulong[RunKeyMax];
    private int _runKeyLen;
    private ulong _runKeyHash;
    // The log piece this run's next save chains onto, and its length in calls: the checkpoint it resumed from, or the
    // run's previous save; null and 0 for a run replayed from its first instruction.
    private LogPiece? _runPiece;
    private int _runPieceCalls;

    /// <summary>Calls at the end of a log prefix that its slot hash covers.</summary>
    private const int HashedTailCalls = 16;

    /// <summary>
    /// The slot hash of a log prefix: the run key's hash, the prefix's length and its last calls — a bounded cost per
    /// lookup and per save, where hashing the whole prefix was linear in it at every step. Two prefixes that differ only
    /// further back share a slot (one evicts the other); a lookup compares every word, so that costs hits, never a
    /// wrong resume.
    /// </summary>
    private ulong PrefixHash(ReadOnlySpan<long> log)
    {
        var tail = log[Math.Max(0, log.Length - 2 * HashedTailCalls)..];
        return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(tail), (long)(_runKeyHash ^ ((ulong)log.Length * 0x9E3779B97F4A7C15UL)));
    }

    private static int SlotOf(ulong hash) => (int)((hash ^ (hash >> 29) ^ (hash >> 47)) & (CheckpointSlots - 1));

    /// <summary>Checkpoints restored and runs replayed from their first instruction (for benchmarks and tests).</summary>
    internal long CheckpointHits, CheckpointMisses;

    /// <summary>
    /// At the start of a run: files the previous run's last checkpoint, builds this run's key, and finds the latest
    /// checkpoint for the log recorded so far (its last call's result included, or not: a deferred kfunc records its
    /// result after the run that called it stopped). Null: replay from the first instruction.
    /// </summary>
    private Checkpoint? BeginRun(BpfContext ctx, int entry, ulong[] args, ulong[]? regs)
    {
        FilePending();
        _runKeyLen = 0;
        _runPiece = null;
        _runPieceCalls = 0;
        _runEntry = entry;
        _runStart = ctx.Cursor;
        _runArgs = args;
        _runRegs = regs;
        _runCurr = ctx.M.World.Cpus[ctx.M.Actor(ctx.ActorId).Cpu].Curr;
        _runClock = ctx.M.Config.Clocked ? ctx.M.World.Sched.Clock : 0;
        _minCalls = ctx.M.Config.BpfCheckpointMinCalls;
        if (ctx.Recorded < _minCalls || !KeyFits) return null;
        BuildRunKey(ctx);
        var n = _runKeyLen;

        var log = ctx.M.World.Logs.AsSpan(ctx.LogBase, 2 * ctx.Recorded);
        var shorter = ctx.Recorded - 1 >= ctx.Cursor;
        var found = Match(PrefixHash(log), log);
        if (found == null && shorter) found = Match(PrefixHash(log[..^2]), log[..^2]);
        if (found != null) CheckpointHits++;
        else CheckpointMisses++;
        return found;
    }

    // The run's own inputs, for its key (built when first needed).
    private int _runEntry, _runStart, _runCurr, _minCalls = MinCallsToResume;
    private long _runClock;
    private ulong[] _runArgs = [];
    private ulong[]? _runRegs;

    /// <summary>A run with more arguments than a key holds (no callback has) is replayed.</summary>
    private bool KeyFits => 7 + _runArgs.Length + (_runRegs?.Length ?? 0) <= RunKeyMax;

    /// <summary>The run's key: everything its state depends on besides the log (see the class remarks).</summary>
    private void BuildRunKey(BpfContext ctx)
    {
        var n = 0;
        _runKey[n++] = (ulong)ctx.ActorId;
        _runKey[n++] = (ulong)_runCurr;
        _runKey[n++] = (ulong)_runClock;
        _runKey[n++] = (ulong)_runEntry;
        _runKey[n++] = (ulong)_runStart;
        _runKey[n++] = (ulong)_runArgs.Length;
        foreach (var a in _runArgs) _runKey[n++] = a;
        _runKey[n++] = _runRegs == null ? ulong.MaxValue : (ulong)_runRegs.Length;
        if (_runRegs != null) foreach (var a in _runRegs) _runKey[n++] = a;
        _runKeyLen = n;
        _runKeyHash = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(_runKey.AsSpan(0, n)));
    }

    private Checkpoint? Match(ulong hash, ReadOnlySpan<long> log)
    {
        var cp = _checkpoints[SlotOf(hash)];
        if (cp == null || cp.Hash != hash || cp.Cursor * 2 != log.Length || cp.KeyLen != _runKeyLen) return null;
        if (!cp.Key.AsSpan(0, cp.KeyLen).SequenceEqual(_runKey.AsSpan(0, _runKeyLen))) return null;
        // Every word of the prefix, piece by piece from the end.
        var end = log.Length;
        for (var p = cp.Log; p != null; p = p.Parent)
        {
            if (p.End != end || !p.Words.AsSpan().SequenceEqual(log.Slice(end - p.Words.Length, p.Words.Length))) return null;
            end -= p.Words.Length;
        }
        return end == 0 ? cp : null;
    }

    /// <summary>
    /// Saves the state at the start of instruction <paramref name="pc"/>, whose first call (if any) will not be a replay.
    /// Consecutive saves at the same cursor replace each other (the later one is nearer where the run stops); a save at
    /// a later cursor files the earlier one.
    /// </summary>
    private void SaveCheckpoint(BpfContext ctx, int pc, int depth, long executed, ulong[] r, byte[] stack,
        int[] retPc, ulong[] saved, (int I, int N, int Cb, ulong Ctx, int Map)[] loops)
    {
        // Only where a later lookup can find it (one with MinCallsToResume or more recorded, or that minus the last).
        if (ctx.Cursor < _minCalls - 1 || !KeyFits) return;
        if (_runKeyLen == 0) BuildRunKey(ctx);
        if (_pendingValid && _pending.Cursor != ctx.Cursor) FilePending();
        var cp = _pending;
        if (!_pendingValid)
        {
            _runKey.AsSpan(0, _runKeyLen).CopyTo(cp.Key);
            cp.KeyLen = _runKeyLen;
            // The calls since the piece this run chains onto: the world's log is fixed below the cursor for the rest
            // of the run, and the resumed checkpoint's pieces were compared with it word for word.
            if (ctx.Cursor > _runPieceCalls)
            {
                // Merged with the pieces before it that are no longer than it, as a binary counter carries: a prefix
                // stays O(log n) pieces (a lookup compares a few long spans, not one short piece per step), and each
                // word is copied O(log n) times.
                var parent = _runPiece;
                var from = _runPieceCalls * 2;
                while (parent != null && parent.Words.Length <= ctx.Cursor * 2 - from)
                {
                    from -= parent.Words.Length;
                    parent = parent.Parent;
                }
                var fresh = ctx.M.World.Logs.AsSpan(ctx.LogBase + from, 2 * ctx.Cursor - from).ToArray();
                _runPiece = new LogPiece(parent, fresh);
                _runPieceCalls = ctx.Cursor;
            }
            cp.Log = _runPiece;
            cp.Hash = PrefixHash(ctx.M.World.Logs.AsSpan(ctx.LogBase, 2 * ctx.Cursor));
            cp.Cursor = ctx.Cursor;
            _pendingValid = true;
        }
        cp.Pc = pc;
        cp.Depth = depth;
        cp.Executed = executed;
        r.CopyTo(cp.R, 0);
        var bytes = (depth + 1) * StackSize;
        if (cp.Stack.Length < bytes) cp.Stack = new byte[StackSize * MaxFrames];
        Buffer.BlockCopy(stack, 0, cp.Stack, 0, bytes);
        retPc.CopyTo(cp.RetPc, 0);
        saved.CopyTo(cp.Saved, 0);
        loops.CopyTo(cp.Loops, 0);
        _loopKeys.CopyTo(cp.LoopKeys, 0);
        cp.Refs = _refs;
        cp.FirstRefPc = _firstRefPc;
        cp.RcuDepth = _rcuDepth;
        cp.PreemptDepth = _preemptDepth;
        cp.Records = _records.Count == 0 ? [] : [.. _records.Select(x => ((byte[])x.Bytes.Clone(), x.Open, x.Pc))];
    }

    /// <summary>Puts the pending checkpoint into its slot (the one it evicts becomes the next pending buffer).</summary>
    private void FilePending()
    {
        if (!_pendingValid) return;
        _pendingValid = false;
        var cp = _pending;
        var slot = SlotOf(cp.Hash);
        _pending = _checkpoints[slot] ?? new Checkpoint();
        _checkpoints[slot] = cp;
    }

    /// <summary>A run that returned stops nowhere: its last save is of no use to a later step.</summary>
    private void DropPending() => _pendingValid = false;

    /// <summary>Restores <paramref name="cp"/> into the run's arrays and fields; returns its pc, frame depth and instruction count.</summary>
    private (int Pc, int Depth, long Executed) RestoreCheckpoint(Checkpoint cp, BpfContext ctx, ulong[] r, byte[] stack,
        int[] retPc, ulong[] saved, (int I, int N, int Cb, ulong Ctx, int Map)[] loops)
    {
        cp.R.CopyTo(r, 0);
        Buffer.BlockCopy(cp.Stack, 0, stack, 0, (cp.Depth + 1) * StackSize);
        cp.RetPc.CopyTo(retPc, 0);
        cp.Saved.CopyTo(saved, 0);
        cp.Loops.CopyTo(loops, 0);
        cp.LoopKeys.CopyTo(_loopKeys, 0);
        _refs = cp.Refs;
        _firstRefPc = cp.FirstRefPc;
        _rcuDepth = cp.RcuDepth;
        _preemptDepth = cp.PreemptDepth;
        _records.Clear();
        foreach (var x in cp.Records) _records.Add(((byte[])x.Bytes.Clone(), x.Open, x.Pc));
        // The calls before the checkpoint are the recorded ones the replay would have fed back, one by one.
        ctx.Cursor = cp.Cursor;
        _runPiece = cp.Log;
        _runPieceCalls = cp.Cursor;
        return (cp.Pc, cp.Depth, cp.Executed);
    }

    /// <summary>Instructions that can call into the model (the only ones a checkpoint is taken before).</summary>
    private static bool MayCallModel(in Insn i)
    {
        var cls = i.Op & 7;
        if (cls is 1 or 2 or 3) return true; // loads, stores, atomics off the stack
        return cls == 5 && (i.Op & 0xf0) == 0x80 && i.Call is CallType.Helper or CallType.Kfunc;
    }
}
