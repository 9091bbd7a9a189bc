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

    private sealed class Checkpoint
    {
        public ulong Hash;
        // The key: the run's header (RunKey) and the log prefix of Cursor (kind, result) pairs.
        public readonly ulong[] Key = new ulong[RunKeyMax];
        public int KeyLen;
        public long[] Log = [];
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
    private readonly XxHash3 _checkpointHasher = new();

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
        var h = _checkpointHasher;
        h.Reset();
        h.Append(MemoryMarshal.AsBytes(_runKey.AsSpan(0, n)));
        var shorter = ctx.Recorded - 1 >= ctx.Cursor;
        ulong hShorter = 0;
        if (shorter)
        {
            h.Append(MemoryMarshal.AsBytes(log[..^2]));
            hShorter = h.GetCurrentHashAsUInt64();
            h.Append(MemoryMarshal.AsBytes(log[^2..]));
        }
        else h.Append(MemoryMarshal.AsBytes(log));
        var found = Match(h.GetCurrentHashAsUInt64(), log);
        if (found == null && shorter) found = Match(hShorter, log[..^2]);
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
    }

    private Checkpoint? Match(ulong hash, ReadOnlySpan<long> log)
    {
        var cp = _checkpoints[hash & (CheckpointSlots - 1)];
        if (cp == null || cp.Hash != hash || cp.Cursor * 2 != log.Length || cp.KeyLen != _runKeyLen) return null;
        if (!cp.Key.AsSpan(0, cp.KeyLen).SequenceEqual(_runKey.AsSpan(0, _runKeyLen))) return null;
        return cp.Log.AsSpan(0, log.Length).SequenceEqual(log) ? cp : null;
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
            var words = 2 * ctx.Cursor;
            if (cp.Log.Length < words) cp.Log = new long[Math.Max(words, 2 * cp.Log.Length)];
            ctx.M.World.Logs.AsSpan(ctx.LogBase, words).CopyTo(cp.Log);
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
        var h = _checkpointHasher;
        h.Reset();
        h.Append(MemoryMarshal.AsBytes(cp.Key.AsSpan(0, cp.KeyLen)));
        h.Append(MemoryMarshal.AsBytes(cp.Log.AsSpan(0, 2 * cp.Cursor)));
        cp.Hash = h.GetCurrentHashAsUInt64();
        var slot = (int)(cp.Hash & (CheckpointSlots - 1));
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
