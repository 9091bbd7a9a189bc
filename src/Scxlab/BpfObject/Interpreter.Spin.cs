using System.IO.Hashing;
using Scxlab.Bpf;

namespace Scxlab.BpfObject;

/// <summary>
/// Spin loops. A spin lock written in BPF (scx's arena qspinlock, a test-and-set lock with <c>cond_break</c>) reads a
/// word of shared memory until another CPU changes it. Each read is an interleaving point, so a spinning CPU would
/// add a step per iteration forever and the search would never close. When a read comes back to exactly the program
/// state of the read before it — same instruction, same word, same registers and stack, no other call in between —
/// the iteration between them changed nothing but the program's own log, and every further iteration while the word
/// keeps its value is the same. The step's pending read is then marked (<see cref="BpfContext.SpinRead"/>) and the
/// actor waits until the word changes (<c>WaitKind.BpfSpinRead</c>); its last read is made again then. The states
/// this leaves out are exactly the spinner's repetitions, which no other actor can observe, so every verdict stands.
/// </summary>
internal sealed partial class Interpreter
{
    private ulong[] _regs = [];
    private byte[] _stack = [];
    /// <summary>The run's call frames: return pcs, the callers' saved r6–r9, bpf_loop()s in progress.</summary>
    private (int[] RetPc, ulong[] Saved, (int I, int N, int Cb, ulong Ctx, int Map)[] Loops) _frames = ([], [], []);
    private readonly ulong[] _spinRegs = new ulong[11];
    private int _spinPc = -1, _spinCursor = -1, _spinMap;
    private long _spinKey;
    private CallKind _spinKind;
    private ulong _spinStack;
    private bool[]? _inLoop;
    private readonly XxHash3 _spinHasher = new();

    /// <summary>Before a read of shared memory at <paramref name="pc"/>: is it the spin's next iteration?</summary>
    private void SpinCheck(BpfContext ctx, int pc, CallKind kind, int map, long key)
    {
        _inLoop ??= LoopBodies(obj.Insns);
        // Only the step's live read and the read it suspends at can be the two ends of a spin: a read the run replays
        // from the log (before them) is neither, and is not hashed (replays make up most reads on the search's path).
        // Nor is a read a helper or kfunc makes (a string or value it copies, byte by byte): those reads are one call's,
        // made at the call's instruction with nothing in between, not a loop's iterations.
        if (!_inLoop[pc] || ctx.Cursor < ctx.Recorded || obj.Insns[pc].Op == CallOp)
        {
            _spinPc = -1;
            return;
        }
        // Everything of the program's state besides the registers: its stack frames, the callers' saved registers and
        // return points, loops in progress, the references and sections it holds open, its ring buffer records.
        var frames = Math.Clamp(Mem.Index(_regs[10]) + 1, 1, MaxFrames);
        var hasher = _spinHasher;
        hasher.Reset();
        hasher.Append(_stack.AsSpan(0, frames * StackSize));
        hasher.Append(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_frames.RetPc.AsSpan(0, frames)));
        hasher.Append(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_frames.Saved.AsSpan(0, frames * 4)));
        Span<long> words = stackalloc long[5];
        foreach (var l in _frames.Loops.AsSpan(0, frames))
        {
            words[0] = l.I; words[1] = l.N; words[2] = l.Cb; words[3] = (long)l.Ctx; words[4] = l.Map;
            hasher.Append(System.Runtime.InteropServices.MemoryMarshal.AsBytes(words));
        }
        words[0] = _refs; words[1] = _rcuDepth; words[2] = _preemptDepth; words[3] = _records.Count; words[4] = 0;
        hasher.Append(System.Runtime.InteropServices.MemoryMarshal.AsBytes(words));
        foreach (var (bytes, open, _) in _records)
        {
            hasher.Append(bytes);
            hasher.Append([open ? (byte)1 : (byte)0]);
        }
        var stackHash = hasher.GetCurrentHashAsUInt64();
        if (ctx.LiveUsed && ctx.Cursor == _spinCursor && pc == _spinPc && kind == _spinKind
            && map == _spinMap && key == _spinKey && stackHash == _spinStack && _regs.AsSpan().SequenceEqual(_spinRegs))
            ctx.SpinRead = true;
        _spinPc = pc;
        _spinKind = kind;
        _spinMap = map;
        _spinKey = key;
        _spinStack = stackHash;
        _regs.CopyTo(_spinRegs, 0);
    }

    /// <summary>
    /// After a compare-and-swap: one that failed wrote nothing — a read of the word — so a loop retrying it (a
    /// test-and-set lock) spins on it like a read; one that succeeded changed the word, and ends any spin.
    /// </summary>
    private void FailedCasSpins(BpfContext ctx, bool failed)
    {
        if (failed) _spinCursor = ctx.Cursor;
        else _spinPc = -1;
    }

    /// <summary>BPF_JMP | BPF_CALL: a helper, kfunc or subprogram call.</summary>
    private const byte CallOp = 0x85;

    /// <summary>The instructions inside some backward jump's range: the only places a read can repeat.</summary>
    private static bool[] LoopBodies(Insn[] code)
    {
        var delta = new int[code.Length + 1];
        for (var i = 0; i < code.Length; i++)
        {
            var cls = code[i].Op & 7;
            if (cls is not (5 or 6)) continue;
            var op = code[i].Op & 0xf0;
            if (op is 0x80 or 0x90) continue; // call, exit
            var target = i + 1 + (cls == 6 && op == 0x00 ? code[i].Imm : code[i].Off);
            if (target > i || target < 0) continue;
            delta[target]++;
            delta[i + 1]--;
        }
        var inLoop = new bool[code.Length];
        for (int i = 0, depth = 0; i < code.Length; i++)
        {
            depth += delta[i];
            inLoop[i] = depth > 0;
        }
        return inLoop;
    }
}
