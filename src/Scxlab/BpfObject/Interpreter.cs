using System.Globalization;
using System.Buffers.Binary;
using System.Text;
using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.BpfObject;

/// <summary>
/// The eBPF interpreter. It is deterministic: registers, stacks and the pc follow from the
/// program, its arguments and the results of its ctx calls. Every access to memory another actor
/// can reach (globals, map values, task fields) and every helper/kfunc is a ctx call, so a step
/// goes on from the checkpoint where the last one stopped (Interpreter.Checkpoints.cs) or, without
/// one, the replay machinery (<see cref="BpfTask"/>) re-runs the callback from its first
/// instruction with the recorded results and reaches exactly that state (docs/bpf.md).
/// </summary>
internal sealed partial class Interpreter(BpfObjectFile obj, MapHandle[] maps, MapHandle[] globals, Dictionary<(int Global, int Offset), MapHandle> locks, int taskCount, int cpuCount, MapHandle[] hashIndex)
{
    public const int StackSize = 512;
    public const int MaxFrames = 8;
    /// <summary>Instructions one callback run may execute; the verifier proves termination, the model bounds it.</summary>
    public const long InsnBudget = 1_000_000;

    /// <summary>Instructions interpreted by program runs that returned, process-wide (for benchmarks: instructions/s).</summary>
    internal static long TotalInstructions;

    private const long ENOENT = 2, E2BIG = 7, EINVAL = 22, EEXIST = 17, EFAULT = 14, EAGAIN = 11;
    private const ulong BPF_NOEXIST = 1, BPF_EXIST = 2; // map update flags (uapi bpf.h)

    private BpfObjectFile Obj => obj;

    /// <summary>
    /// BPF_JMP | BPF_JCOND (0xe5): may_goto, the verifier's bounded-loop escape (cond_break, can_loop). The kernel
    /// jumps only once a per-program counter of BPF_MAX_LOOPS (8 M) iterations runs out — past the model's own
    /// <see cref="InsnBudget"/>, which stops the run first (a model limit) — so in the model it never jumps.
    /// </summary>
    private const int MayGoto = 0xe0;

    /// <summary>The arena map's words in the world (only for an object with one).</summary>
    private MapHandle ArenaHandle => maps[obj.ArenaMap];

    private PolicyMisuseException Fault(int pc, string what) => new($"BPF program {obj.Where(pc)}: {what}");

    /// <summary>The program did something the model has no semantics for: a gap in coverage (incomplete), not a fault of the program.</summary>
    private ModelLimitException NotModelled(int pc, string what) => new($"BPF program {obj.Where(pc)}: {what}");

    /// <param name="regs">For a callback called as a function (a BPF timer's): its arguments in r1..r5; null for a
    /// struct_ops program, whose r1 points at <paramref name="args"/>.</param>
    public async BpfTask<long> Run(BpfContext ctx, int entry, ulong[] args, ulong[]? regs = null)
    {
        CurrentArgs = args;
        _runEntry = entry; // (ops.enable's entry tells it from ops.init_task's: IsOperatedOn)
        _refs = 0;
        _firstRefPc = -1;
        _records.Clear();
        _rcuDepth = 0;
        _preemptDepth = 0;
        ctx.SourceMap = obj;
        // The registers, stack and frames of this run: the interpreter's own, cleared, not fresh arrays. A run is
        // started once per step of a BPF callback (a step that suspends at a kfunc is run again from a checkpoint next
        // time), and five fresh arrays (4.6 KB) a step were about a gigabyte a second of garbage in a fuzz run, with a
        // fifth of its time in collections. Runs never nest: one callback runs at a time on a machine, a suspended run
        // is abandoned (never resumed), and the fields reset above (_refs, _records, …) rest on that already.
        var r = _bufRegs;
        var stack = _bufStack;
        var retPc = _bufRetPc;
        var saved = _bufSaved;
        // bpf_loop() in progress, per caller frame: (iteration, count, callback entry, callback ctx); count 0 = none.
        var loops = _bufLoops;
        Array.Clear(r);
        Array.Clear(stack);
        Array.Clear(retPc);
        Array.Clear(saved);
        Array.Clear(loops);
        _regs = r;
        _stack = stack;
        _spinPc = -1;
        _frames = (retPc, saved, loops);
        var depth = 0;
        r[1] = Mem.Addr(Region.Ctx, 0, 0);
        if (regs != null) for (var k = 0; k < regs.Length && k < 5; k++) r[k + 1] = regs[k];
        r[10] = Mem.Addr(Region.Stack, 0, StackSize);
        var pc = entry;
        var code = obj.Insns;
        long executed = 0;
        // Resume from the latest checkpoint for the log recorded so far, if there is one (Interpreter.Checkpoints.cs).
        var checkpoints = ctx.M.Config.BpfCheckpoints;
        var resumedAt = -1;
        if (checkpoints && BeginRun(ctx, entry, args, regs) is { } cp)
        {
            (pc, depth, executed) = RestoreCheckpoint(cp, ctx, r, stack, retPc, saved, loops);
            resumedAt = pc;
        }
        var executedBefore = executed;
        // Enters the loop body one frame deeper: r1 = index, r2 = ctx, a fresh frame pointer (the caller's r6-r9 are saved).
        // The same for bpf_for_each_map_elem(): r1 = map, r2 = &key (a u32 the callee's frame reads), r3 = &value, r4 = ctx.
        void CallEachBody(int index, int map, int callback, ulong eachCtx)
        {
            var m = obj.Maps[map];
            var cpuBase = m.Type == MapTypes.PercpuArray ? ctx.M.Actor(ctx.ActorId).Cpu * m.MaxEntries : 0;
            depth++;
            _loopKeys[depth] = (uint)index;
            r[1] = Mem.Addr(Region.Map, map, 0);
            r[2] = Mem.Addr(Region.Ctx, LoopKeyCtx + depth, 0);
            r[3] = Mem.Addr(Region.MapValue, map, (cpuBase + index) * MapStride(m));
            r[4] = eachCtx;
            r[10] = Mem.Addr(Region.Stack, depth, StackSize);
            pc = callback;
        }

        void CallLoopBody(int index, int callback, ulong loopCtx)
        {
            depth++;
            r[1] = (ulong)index;
            r[2] = loopCtx;
            r[10] = Mem.Addr(Region.Stack, depth, StackSize);
            pc = callback;
        }

        while (true)
        {
            // Everything up to the next instruction that touches the model runs in a plain loop (no awaits).
            pc = RunLocal(pc, r, stack, ref executed);
            if ((uint)pc >= (uint)code.Length) throw Fault(Math.Max(0, pc - 1), "jump out of range");
            // From here on no call is a replay: save the state this instruction starts from (not again right after a resume).
            if (checkpoints && ctx.Cursor >= ctx.Recorded && pc != resumedAt && MayCallModel(code[pc]))
                SaveCheckpoint(ctx, pc, depth, executed, r, stack, retPc, saved, loops);
            resumedAt = -1;
            if (++executed > InsnBudget) throw NotModelled(pc, $"executed more than {InsnBudget} instructions in one callback, more than the model follows (the verifier rejects an unbounded loop; a bounded one this long the model does not run)");
            var i = code[pc];
            ctx.SourcePc = pc;
            var cls = i.Op & 7;
            switch (cls)
            {
                case 4: // ALU (32-bit)
                case 7: // ALU64
                    ExecAlu(i, r, pc);
                    break;
                case 5: // JMP
                case 6: // JMP32
                {
                    var op = i.Op & 0xf0;
                    if (cls == 5 && op == 0x80)
                    {
                        switch (i.Call)
                        {
                            case CallType.Subprog:
                                if (depth + 1 >= MaxFrames) throw Fault(pc, $"the call stack of {MaxFrames} frames is too deep");
                                retPc[depth] = pc + 1;
                                for (var k = 0; k < 4; k++) saved[depth * 4 + k] = r[6 + k];
                                depth++;
                                r[10] = Mem.Addr(Region.Stack, depth, StackSize);
                                pc = i.Target;
                                continue;
                            case CallType.Helper when i.Target == Helpers.Loop:
                            {
                                // bpf_loop(nr_loops, callback_fn, callback_ctx, flags): callback_fn(index, ctx) as a
                                // bpf-to-bpf call on this program's stack (the ctx may point into it), repeated above.
                                if (r[4] != 0) { r[0] = unchecked((ulong)-EINVAL); break; }
                                if (r[1] > BpfMaxLoops) { r[0] = unchecked((ulong)-E2BIG); break; }
                                if (r[1] == 0) { r[0] = 0; break; }
                                if (Mem.RegionOf(r[2]) != Region.Func) throw Fault(pc, "bpf_loop: arg#1 expected a function");
                                if (depth + 1 >= MaxFrames) throw Fault(pc, $"the call stack of {MaxFrames} frames is too deep");
                                loops[depth] = (0, (int)r[1], Mem.Index(r[2]), r[3], -1);
                                retPc[depth] = pc + 1;
                                for (var k = 0; k < 4; k++) saved[depth * 4 + k] = r[6 + k];
                                CallLoopBody(0, Mem.Index(r[2]), r[3]);
                                continue;
                            }
                            case CallType.Helper when i.Target == Helpers.ForEachMapElem:
                            {
                                // bpf_for_each_map_elem(map, callback_fn, callback_ctx, flags) over an array map (a
                                // per-CPU one: this CPU's copy): callback_fn(map, &key, &value, ctx), each element in order.
                                var mi = MapIndex(r[1], pc, "bpf_for_each_map_elem");
                                var m = obj.Maps[mi];
                                if (m.Type is not (MapTypes.Array or MapTypes.PercpuArray)) throw NotModelled(pc, $"bpf_for_each_map_elem on {MapTypes.Name(m.Type)} is not modelled");
                                if (r[4] != 0) { r[0] = unchecked((ulong)-EINVAL); break; }
                                if (Mem.RegionOf(r[2]) != Region.Func) throw Fault(pc, "bpf_for_each_map_elem: arg#1 expected a function");
                                if (depth + 1 >= MaxFrames) throw Fault(pc, $"the call stack of {MaxFrames} frames is too deep");
                                loops[depth] = (0, m.MaxEntries, Mem.Index(r[2]), r[3], mi);
                                retPc[depth] = pc + 1;
                                for (var k = 0; k < 4; k++) saved[depth * 4 + k] = r[6 + k];
                                CallEachBody(0, mi, Mem.Index(r[2]), r[3]);
                                continue;
                            }
                            case CallType.Helper:
                                r[0] = (ulong)await Helper(ctx, i.Target, r, stack, pc);
                                break;
                            case CallType.Kfunc:
                                r[0] = (ulong)await KfuncCall(ctx, (Kfunc)i.Target, r, stack, pc);
                                break;
                            case CallType.Poison:
                                // What the verifier would have refused at load had this path been reachable.
                                throw Fault(pc, $"{obj.Poisons[i.Target]}; the instruction was poisoned at load and this path reached it");
                            case CallType.Unmodelled:
                                throw NotModelled(pc, obj.Poisons[i.Target]);
                            case CallType.None:
                            default:
                                throw new System.Diagnostics.UnreachableException($"unrelocated call at {pc}");
                        }
                        for (var k = 1; k <= 5; k++) r[k] = 0; // caller-saved registers are clobbered
                        break;
                    }
                    if (cls == 5 && op == 0x90) // exit
                    {
                        if (depth == 0)
                        {
                            // The verifier rejects a program that can return holding an acquired reference.
                            if (_refs != 0) throw Fault(pc, $"Unreleased reference (task acquired at {obj.Where(_firstRefPc)})");
                            if (_records.FindIndex(x => x.Open) is var open and >= 0)
                                throw Fault(pc, $"Unreleased reference (ring buffer record reserved at {obj.Where(_records[open].Pc)})");
                            if (_rcuDepth != 0) throw Fault(pc, "bpf_rcu_read_unlock is missing");
                            if (_preemptDepth != 0) throw Fault(pc, "BPF_EXIT instruction in main prog cannot be used inside bpf_preempt_disable-ed region");
                            Interlocked.Add(ref TotalInstructions, executed - executedBefore);
                            if (checkpoints) DropPending();
                            return (long)r[0];
                        }
                        depth--;
                        for (var k = 0; k < 4; k++) r[6 + k] = saved[depth * 4 + k];
                        r[10] = Mem.Addr(Region.Stack, depth, StackSize);
                        if (loops[depth].N > 0)
                        {
                            // bpf_loop(): the callback returned; 0 goes on, 1 stops (counting that iteration).
                            ref var lp = ref loops[depth];
                            var ret = r[0];
                            if (ret > 1) throw Fault(pc, $"{(lp.Map < 0 ? "bpf_loop" : "bpf_for_each_map_elem")}: the callback returned {ret} (only 0 or 1 is allowed)");
                            lp.I++;
                            if (ret == 0 && lp.I < lp.N)
                            {
                                if (lp.Map < 0) CallLoopBody(lp.I, lp.Cb, lp.Ctx);
                                else CallEachBody(lp.I, lp.Map, lp.Cb, lp.Ctx);
                                continue;
                            }
                            r[0] = (ulong)lp.I;
                            lp = default;
                        }
                        pc = retPc[depth];
                        continue;
                    }
                    if (op == 0x00)
                    {
                        pc += 1 + (cls == 6 ? i.Imm : i.Off);
                        continue;
                    }
                    if (cls == 5 && op == MayGoto)
                    {
                        pc++;
                        continue;
                    }
                    var take = JumpTaken(i, r) ?? throw Fault(pc, $"unknown jump opcode 0x{i.Op:x2}");
                    pc += take ? 1 + i.Off : 1;
                    continue;
                }
                case 0: // LD: only ld_imm64
                    if (i.Op != 0x18) throw NotModelled(pc, $"unsupported load opcode 0x{i.Op:x2} (legacy LD_ABS/LD_IND)");
                    r[i.Dst] = (ulong)i.Imm64;
                    pc += 2;
                    continue;
                case 1: // LDX
                {
                    var size = SizeOf(i.Op);
                    var mode = i.Op & 0xe0;
                    if (mode is not (0x60 or 0x80)) throw NotModelled(pc, $"unsupported load opcode 0x{i.Op:x2}");
                    var v = await Load(ctx, r[i.Src] + (ulong)(long)i.Off, size, stack, pc);
                    if (mode == 0x80) v = SignExtend(v, size);
                    r[i.Dst] = v;
                    break;
                }
                case 2: // ST imm
                    await Store(ctx, r[i.Dst] + (ulong)(long)i.Off, SizeOf(i.Op), (ulong)(long)i.Imm, stack, pc);
                    break;
                case 3: // STX
                {
                    var size = SizeOf(i.Op);
                    var mode = i.Op & 0xe0;
                    if (mode == 0x60)
                    {
                        await Store(ctx, r[i.Dst] + (ulong)(long)i.Off, size, r[i.Src], stack, pc);
                        break;
                    }
                    if (mode != 0xc0) throw NotModelled(pc, $"unsupported store opcode 0x{i.Op:x2}");
                    if (size is not (4 or 8)) throw Fault(pc, "atomic operation on a size other than 4 or 8");
                    var addr = r[i.Dst] + (ulong)(long)i.Off;
                    var aop = i.Imm & ~1;
                    var fetch = (i.Imm & 1) != 0;
                    var operand = r[i.Src];
                    var expected = r[0];
                    var old = await Atomic(ctx, addr, size, aop, operand, expected, stack, pc);
                    if (aop == 0xf0) r[0] = old;
                    else if (fetch || aop == 0xe0) r[i.Src] = old;
                    break;
                }
                default:
                    throw Fault(pc, $"unknown opcode 0x{i.Op:x2}");
            }
            pc++;
        }
    }

    /// <summary>
    /// The interpreter's fast path: runs the instructions that need nothing from the model — ALU, jumps, ld_imm64, and
    /// loads and stores on the program's own stack (not interleaving points) — from <paramref name="pc"/> until one that
    /// does (a call, an exit, any other memory access) or anything unusual (a bound, a budget, a bad opcode), and
    /// returns its pc: <see cref="Run"/> executes that one with the full checks. Outside an async method, the registers
    /// and counters stay in locals, which is most of the speed-up.
    /// </summary>
    private int RunLocal(int pc, ulong[] r, byte[] stack, ref long executed)
    {
        var code = obj.Insns;
        var n = executed;
        try
        {
            while ((uint)pc < (uint)code.Length && n < InsnBudget)
            {
                ref readonly var i = ref code[pc];
                var cls = i.Op & 7;
                switch (cls)
                {
                    case 4: // ALU (32-bit)
                    case 7: // ALU64
                    {
                        var src = (i.Op & 8) != 0 ? r[i.Src] : (ulong)(long)i.Imm;
                        var op = i.Op & 0xf0;
                        ref var dst = ref r[i.Dst];
                        // The commonest 64-bit operations inline; the rest (and every 32-bit one) through Alu64/Alu32.
                        if (cls == 7 && i.Off == 0)
                        {
                            switch (op)
                            {
                                case 0x00: dst += src; n++; pc++; continue;
                                case 0x10: dst -= src; n++; pc++; continue;
                                case 0x40: dst |= src; n++; pc++; continue;
                                case 0x50: dst &= src; n++; pc++; continue;
                                case 0x60: dst <<= (int)(src & 63); n++; pc++; continue;
                                case 0x70: dst >>= (int)(src & 63); n++; pc++; continue;
                                case 0xa0: dst ^= src; n++; pc++; continue;
                                case 0xb0: dst = src; n++; pc++; continue;
                            }
                        }
                        ExecAlu(i, r, pc);
                        n++;
                        pc++;
                        continue;
                    }
                    case 5: // JMP
                    case 6: // JMP32
                    {
                        var op = i.Op & 0xf0;
                        if (op is 0x80 or 0x90) return pc; // call, exit
                        if (op == 0x00)
                        {
                            n++;
                            pc += 1 + (cls == 6 ? i.Imm : i.Off);
                            continue;
                        }
                        if (cls == 5 && op == MayGoto)
                        {
                            n++;
                            pc++;
                            continue;
                        }
                        if (JumpTaken(i, r) is not { } take) return pc;
                        n++;
                        pc += take ? 1 + i.Off : 1;
                        continue;
                    }
                    case 0: // ld_imm64
                        if (i.Op != 0x18) return pc;
                        r[i.Dst] = (ulong)i.Imm64;
                        n++;
                        pc += 2;
                        continue;
                    case 1: // LDX from the stack
                    {
                        var mode = i.Op & 0xe0;
                        var addr = r[i.Src] + (ulong)(long)i.Off;
                        if (mode is not (0x60 or 0x80) || Mem.RegionOf(addr) != Region.Stack) return pc;
                        var size = SizeOf(i.Op);
                        var at = StackSlot(addr, size);
                        if (at < 0) return pc;
                        var v = ReadBytes(stack, at, size);
                        r[i.Dst] = mode == 0x80 ? SignExtend(v, size) : v;
                        n++;
                        pc++;
                        continue;
                    }
                    case 2: // ST imm to the stack
                    case 3: // STX to the stack (not atomics)
                    {
                        var addr = r[i.Dst] + (ulong)(long)i.Off;
                        if ((i.Op & 0xe0) != 0x60 || Mem.RegionOf(addr) != Region.Stack) return pc;
                        var size = SizeOf(i.Op);
                        var at = StackSlot(addr, size);
                        if (at < 0) return pc;
                        WriteBytes(stack, at, size, cls == 2 ? (ulong)(long)i.Imm : r[i.Src]);
                        n++;
                        pc++;
                        continue;
                    }
                    default:
                        return pc;
                }
            }
            return pc;
        }
        finally
        {
            executed = n;
        }
    }

    /// <summary>An ALU or ALU64 instruction (byte swaps included) on the registers.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private void ExecAlu(in Insn i, ulong[] r, int pc)
    {
        var cls = i.Op & 7;
        var src = (i.Op & 8) != 0 ? r[i.Src] : (ulong)(long)i.Imm;
        var op = i.Op & 0xf0;
        ref var dst = ref r[i.Dst];
        if (op == 0xd0) dst = Swap(dst, i.Imm, cls == 7 || (i.Op & 8) != 0, pc);
        else if (op == 0xb0 && cls == 7 && i.Off == 1 && (i.Op & 8) != 0) dst = AddrSpaceCast(src, i.Imm, pc);
        else dst = cls == 7 ? Alu64(op, dst, src, i.Off, pc) : Alu32(op, (uint)dst, (uint)src, i.Off, pc);
    }

    /// <summary>Whether a conditional JMP/JMP32 instruction jumps; null for an opcode that is not one.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static bool? JumpTaken(in Insn i, ulong[] r)
    {
        var a = r[i.Dst];
        var b = (i.Op & 8) != 0 ? r[i.Src] : (ulong)(long)i.Imm;
        var w32 = (i.Op & 7) == 6;
        if (w32) { a = (uint)a; b = (uint)b; }
        return (i.Op & 0xf0) switch
        {
            0x10 => a == b,
            0x20 => a > b,
            0x30 => a >= b,
            0x40 => (a & b) != 0,
            0x50 => a != b,
            0x60 => w32 ? (int)a > (int)b : (long)a > (long)b,
            0x70 => w32 ? (int)a >= (int)b : (long)a >= (long)b,
            0xa0 => a < b,
            0xb0 => a <= b,
            0xc0 => w32 ? (int)a < (int)b : (long)a < (long)b,
            0xd0 => w32 ? (int)a <= (int)b : (long)a <= (long)b,
            _ => null,
        };
    }

    /// <summary>Byte index in the stacks of an in-bounds stack access, or -1 (the general path reports it).</summary>
    private static int StackSlot(ulong addr, int size)
    {
        int frame = Mem.Index(addr), off = Mem.Offset(addr);
        return frame >= MaxFrames || off < 0 || off + size > StackSize ? -1 : frame * StackSize + off;
    }

    private static int SizeOf(byte op) => (op & 0x18) switch { 0x00 => 4, 0x08 => 2, 0x10 => 1, _ => 8 };

    private static ulong SignExtend(ulong v, int size) => size switch
    {
        1 => (ulong)(long)(sbyte)v,
        2 => (ulong)(long)(short)v,
        4 => (ulong)(long)(int)v,
        _ => v,
    };

    private ulong Alu64(int op, ulong d, ulong s, short off, int pc) => op switch
    {
        0x00 => d + s,
        0x10 => d - s,
        0x20 => d * s,
        0x30 => s == 0 ? 0 : off == 1 ? (ulong)((long)s == -1 ? unchecked(-(long)d) : (long)d / (long)s) : d / s,
        0x40 => d | s,
        0x50 => d & s,
        0x60 => d << (int)(s & 63),
        0x70 => d >> (int)(s & 63),
        0x80 => (ulong)(-(long)d),
        0x90 => s == 0 ? d : off == 1 ? (ulong)((long)s == -1 ? 0 : (long)d % (long)s) : d % s,
        0xa0 => d ^ s,
        0xb0 => off switch { 0 => s, 8 => (ulong)(long)(sbyte)s, 16 => (ulong)(long)(short)s, 32 => (ulong)(long)(int)s, _ => throw Fault(pc, $"bad movsx size {off}") },
        0xc0 => (ulong)((long)d >> (int)(s & 63)),
        _ => throw Fault(pc, $"unknown ALU64 op 0x{op:x2}"),
    };

    private ulong Alu32(int op, uint d, uint s, short off, int pc) => op switch
    {
        0x00 => d + s,
        0x10 => d - s,
        0x20 => d * s,
        0x30 => s == 0 ? 0 : off == 1 ? (uint)((int)s == -1 ? unchecked(-(int)d) : (int)d / (int)s) : d / s,
        0x40 => d | s,
        0x50 => d & s,
        0x60 => d << (int)(s & 31),
        0x70 => d >> (int)(s & 31),
        0x80 => (uint)(-(int)d),
        0x90 => s == 0 ? d : off == 1 ? (uint)((int)s == -1 ? 0 : (int)d % (int)s) : d % s,
        0xa0 => d ^ s,
        0xb0 => off switch { 0 => s, 8 => (uint)(int)(sbyte)s, 16 => (uint)(int)(short)s, _ => throw Fault(pc, $"bad movsx size {off}") },
        0xc0 => (uint)((int)d >> (int)(s & 31)),
        _ => throw Fault(pc, $"unknown ALU op 0x{op:x2}"),
    };

    /// <summary>BPF_END: to-le (a truncation on this little-endian model) or to-be / bswap.</summary>
    private ulong Swap(ulong v, int bits, bool swap, int pc) => bits switch
    {
        16 => swap ? BinaryPrimitives.ReverseEndianness((ushort)v) : (ushort)v,
        32 => swap ? BinaryPrimitives.ReverseEndianness((uint)v) : (uint)v,
        64 => swap ? BinaryPrimitives.ReverseEndianness(v) : v,
        _ => throw Fault(pc, $"bad byte-swap width {bits}"),
    };

    // ---------------------------------------------------------------- memory

    private (MapHandle H, int Offset, int Limit) Shared(ulong addr, int size, int pc, bool write)
    {
        var region = Mem.RegionOf(addr);
        var idx = Mem.Index(addr);
        var off = Mem.Offset(addr);
        MapHandle h;
        int limit;
        if (region == Region.Global)
        {
            if (idx >= globals.Length) throw Fault(pc, "bad global pointer");
            h = globals[idx];
            limit = obj.Globals[idx].Init.Length;
        }
        else
        {
            if (idx >= maps.Length) throw Fault(pc, "bad map value pointer");
            h = maps[idx];
            var md = obj.Maps[idx];
            limit = MapStride(md) * (md.Type == MapTypes.TaskStorage ? taskCount : md.Type == MapTypes.CgrpStorage ? 1 : md.Type == MapTypes.PercpuArray ? md.MaxEntries * cpuCount : MapTypes.IsHash(md.Type) ? HashSlots(md, cpuCount, HashBound) * (MapTypes.IsPerCpu(md.Type) ? cpuCount : 1) : md.MaxEntries);
        }
        if (off < 0 || off + size > limit) throw Fault(pc, $"invalid access to {(region == Region.Global ? obj.Globals[idx].Name : "map value of " + obj.Maps[idx].Name)}: off={off} size={size}, value_size={limit}");
        if ((off & 7) + size > 8) throw NotModelled(pc, $"misaligned {(write ? "store" : "load")} of {size} bytes at offset {off} (the model's shared memory is word-addressed)");
        return (h, off, limit);
    }

    internal static int MapStride(BpfMapDef m) => (m.ValueSize + 7) / 8 * 8;

    /// <summary>
    /// A hash map's preallocated elements: max_entries, plus one per CPU for BPF_MAP_TYPE_HASH (the kernel's extra
    /// elements, for updates in flight; htab_has_extra_elems() is false for the LRU and per-CPU flavors).
    /// </summary>
    internal static int KernelHashSlots(BpfMapDef m, int cpus) => m.Type == MapTypes.Hash ? m.MaxEntries + cpus : m.MaxEntries;

    /// <summary>
    /// The elements the world backs: the kernel's, up to the scenario's <c>bounds: hash_elems</c> (scx's maps keyed
    /// by pid have 10⁵ entries and a model run uses a few; an update needing one more stops at a model limit).
    /// </summary>
    internal static int HashSlots(BpfMapDef m, int cpus, int bound) => Math.Min(KernelHashSlots(m, cpus), bound);

    /// <summary>The scenario's <c>bounds: hash_elems</c> (<see cref="HashSlots"/>).</summary>
    internal int HashBound = int.MaxValue;

    /// <summary>Words of a hash map key: key_size bytes, little-endian, zero-padded to whole words.</summary>
    internal static int KeyWords(BpfMapDef m) => (m.KeySize + 7) / 8;

    /// <summary>Index words of a hash map: the count, then (state, key words) per element.</summary>
    internal static int HashIndexWords(BpfMapDef m, int cpus, int bound) => 1 + (1 + KeyWords(m)) * HashSlots(m, cpus, bound);

    /// <summary>The key at <paramref name="ptr"/> as <see cref="KeyWords"/> words.</summary>
    private async BpfTask<long[]> HashKey(BpfContext ctx, BpfMapDef m, ulong ptr, byte[] stack, int pc) =>
        await ReadWords(ctx, ptr, m.KeySize, stack, pc);

    /// <summary><paramref name="size"/> bytes at <paramref name="ptr"/> as little-endian words (the last one zero-padded).</summary>
    private async BpfTask<long[]> ReadWords(BpfContext ctx, ulong ptr, int size, byte[] stack, int pc)
    {
        var words = new long[(size + 7) / 8];
        for (var o = 0; o < size;)
        {
            var n = size - o >= 8 && o % 8 == 0 ? 8 : size - o >= 4 && o % 4 == 0 ? 4 : size - o >= 2 && o % 2 == 0 ? 2 : 1;
            words[o / 8] |= (long)(await Load(ctx, ptr + (ulong)o, n, stack, pc) << (8 * (o % 8)));
            o += n;
        }
        return words;
    }

    private BpfHashArgs HashArgs(BpfContext ctx, int mi, long[] key, long slot = 0, long flags = 0, long[]? value = null)
    {
        var m = obj.Maps[mi];
        return new BpfHashArgs
        {
            Name = m.Name,
            KeyWords = KeyWords(m),
            MaxEntries = m.MaxEntries,
            Slots = HashSlots(m, cpuCount, HashBound),
            KernelSlots = KernelHashSlots(m, cpuCount),
            Lru = MapTypes.IsLru(m.Type),
            NoCommonLru = (m.Flags & MapTypes.NoCommonLru) != 0,
            Key = key,
            Slot = slot,
            Flags = flags,
            Value = value ?? [],
            ValuesMapId = maps[mi].Id,
            Cpu = ctx.M.Actor(ctx.ActorId).Cpu,
        };
    }

    /// <summary>The address of element <paramref name="slot"/>'s value in hash map <paramref name="mi"/> (a per-CPU one: <paramref name="cpu"/>'s copy).</summary>
    private ulong HashValueAddr(int mi, long slot, int cpu)
    {
        var m = obj.Maps[mi];
        return Mem.Addr(Region.MapValue, mi, (MapTypes.IsPerCpu(m.Type) ? (int)slot * cpuCount + cpu : (int)slot) * MapStride(m));
    }

    private async BpfTask<ulong> Load(BpfContext ctx, ulong addr, int size, byte[] stack, int pc)
    {
        if (obj.ArenaMap >= 0 && !Mem.IsPointer(addr)) return (ulong)await ArenaAccess(ctx, addr, size, Interpreter.MemOp.Store, 0, 0, load: true, pc);
        if (addr == 0 || !Mem.IsPointer(addr))
            throw Fault(pc, addr < 4096 ? $"invalid mem access: NULL pointer dereference (address 0x{addr:x})" : $"invalid mem access 'scalar' (address 0x{addr:x})");
        var off = Mem.Offset(addr);
        var idx = Mem.Index(addr);
        switch (Mem.RegionOf(addr))
        {
            case Region.Stack:
                return ReadBytes(stack, StackAt(idx, off, size, pc), size);
            case Region.Ctx when idx >= RqCtx && idx < RqCtx + cpuCount:
            {
                // struct rq as the model types it (ModelTypes.Rq): rq->curr read unlocked (as the kernel's callers do)
                // is a read of that CPU's current task; rq->cpu is constant.
                var cpu = idx - RqCtx;
                if (off == ModelTypes.RqCurr && size == 8)
                {
                    var curr = await ctx.CpuCurr(cpu);
                    return curr == -1 ? Mem.Addr(Region.Task, IdleTaskBase + cpu, 0) : curr >= 0 ? Mem.Addr(Region.Task, curr, 0) : 0;
                }
                if (off == ModelTypes.RqCpu && size == 4) return (uint)cpu;
                if (off is ModelTypes.RqClock or ModelTypes.RqClockTask or ModelTypes.RqClockPelt && size == 8) return (ulong)await ctx.Now();
                if (off is ModelTypes.RqLostIdleTime or ModelTypes.RqPrevStealTime && size == 8) return 0;
                throw Fault(pc, $"invalid access to struct rq: off={off} size={size}");
            }
            case Region.RingbufRecord:
            {
                var rec = Record(idx, pc);
                if (off < 0 || off + size > rec.Length) throw Fault(pc, $"invalid access to ring buffer record: off={off} size={size}, record size={rec.Length}");
                return ReadBytes(rec, off, size);
            }
            case Region.Ctx when idx >= KsymCtx && idx < KsymCtx + KernelVars.Length:
                // A per-CPU kernel variable: the verifier refuses a direct dereference (a per-CPU pointer); through
                // bpf_probe_read_kernel() or a per-CPU pointer to cpufreq_cpu_data, the policy pointers read NULL.
                if (idx - KsymCtx == KsymCpufreqData && off >= 0 && off % 8 == 0 && size == 8) return 0;
                throw Fault(pc, $"invalid mem access 'percpu_ptr_' ({KernelVars[idx - KsymCtx]}+{off})");
            case Region.Ctx when idx >= LoopKeyCtx && idx < LoopKeyCtx + MaxFrames:
                // bpf_for_each_map_elem()'s key: a u32 array index.
                if (off < 0 || off + size > 4) throw Fault(pc, $"invalid access to the map key: off={off} size={size}");
                return (_loopKeys[idx - LoopKeyCtx] >> (8 * off)) & (size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1);
            case Region.Ctx when idx >= SyscallCtx:
            {
                // A syscall program's context: the struct user space passed (BPF_PROG_TEST_RUN's ctx_in).
                var bytes = obj.Syscalls[idx - SyscallCtx].Ctx;
                if (off < 0 || off + size > bytes.Length) throw Fault(pc, $"invalid access to the syscall program's context: off={off} size={size}, ctx_size_in={bytes.Length}");
                return ReadBytes(bytes, off, size);
            }
            case Region.Ctx when idx == TaskArgsCtx:
                if (off < 0 || off + size > 16) throw Fault(pc, $"invalid access to scx_init_task_args: off={off} size={size}");
                return off == ModelTypes.InitTaskArgsCgroup && size == 8 ? RootCgroup : 0;
            case Region.Ctx when idx == CgroupCtx:
                // The root cgroup: constant (its kernfs node, level 0).
                if (off == ModelTypes.CgroupKn && size == 8) return RootKernfsNode;
                if (off == ModelTypes.CgroupLevel && size == 4) return 0;
                throw Fault(pc, $"invalid access to struct cgroup: off={off} size={size}");
            case Region.Ctx when idx == KernfsCtx:
                if (off == 0 && size == 8) return RootCgroupId;
                throw Fault(pc, $"invalid access to struct kernfs_node: off={off} size={size}");
            case Region.Ctx when idx == CgroupArgsCtx:
                return off switch
                {
                    ModelTypes.CgroupArgsWeight when size == 4 => CgroupWeightDfl,
                    ModelTypes.CgroupArgsPeriod when size == 8 => DefaultBwPeriodUs,
                    ModelTypes.CgroupArgsQuota when size == 8 => RuntimeInf,
                    ModelTypes.CgroupArgsBurst when size == 8 => 0,
                    _ => throw Fault(pc, $"invalid access to scx_cgroup_init_args: off={off} size={size}"),
                };
            case Region.Ctx when idx == TimerKeyCtx:
                // bpf_timer_cb() passes an array map's key as a pointer to a u32 index on its own stack.
                if (off < 0 || off + size > 4) throw Fault(pc, $"invalid access to the timer callback's map key: off={off} size={size}");
                return (CurrentArgs[0] >> (8 * off)) & (size == 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1);
            case Region.Ctx:
                if (off % 8 != 0 || size != 8 || off / 8 >= CurrentArgs.Length) throw Fault(pc, $"invalid bpf_context access off={off} size={size}");
                return CurrentArgs[off / 8];
            case Region.Rodata:
            {
                var g = obj.Globals[idx];
                if (off < 0 || off + size > g.Init.Length) throw Fault(pc, $"invalid access to {g.Name}: off={off} size={size}");
                return ReadBytes(g.Init, off, size);
            }
            case Region.Global:
            case Region.MapValue:
            {
                var (h, o, _) = Shared(addr, size, pc, false);
                SpinCheck(ctx, pc, CallKind.ArrayGet, h.Id, o >> 3);
                var word = (ulong)await ctx.Get(h, o >> 3);
                _spinCursor = ctx.Cursor;
                return Truncate(word >> ((o & 7) * 8), size);
            }
            case Region.Task:
                if (idx == UnmodelledTask) throw NotModelled(pc, UnmodelledTaskUse);
                if (idx == ParentTask) return ParentTaskLoad(off, size, pc);
                if (idx is HelperTask or KthreaddTask) return KernelThreadLoad(ctx, idx, off, size, pc);
                if (IsScriptProcess(idx)) return ScriptProcessLoad(ctx, idx - ScriptProcessBase, off, size, pc);
                if (IsIdleTask(idx))
                {
                    if (IsIdleSlice(off, size)) return (ulong)await ctx.Get(IdleSlices, idx - IdleTaskBase) ^ (ulong)ScxConst.SliceDfl;
                    return IdleTaskLoad(idx - IdleTaskBase, off, size, pc);
                }
                return await TaskLoad(ctx, idx, off, size, pc);
            case Region.TaskCpumask or Region.BpfCpumask or Region.IdleCpumask or Region.OnlineCpumask:
                throw NotModelled(pc, "reading struct cpumask bits directly is not modelled; use bpf_cpumask_test_cpu()");
            case Region.ExitInfo:
                // Constant for the run: kind, exit_code 0, and pointers to an empty string.
                if (off == ModelTypes.ExitInfoEmptyString && size == 1) return 0;
                if (off == 0 && size == 4) return (uint)idx;
                if (off == 8 && size == 8) return 0;
                if (off is 16 or 24 or 32 && size == 8) return Mem.Addr(Region.ExitInfo, idx, ModelTypes.ExitInfoEmptyString);
                throw Fault(pc, $"invalid access to scx_exit_info: off={off} size={size}");
            case Region.Func:
                throw Fault(pc, "invalid mem access 'func'");
            case Region.Map:
                throw Fault(pc, "invalid mem access 'map_ptr'");
            case Region.None:
            default:
                throw Fault(pc, $"invalid mem access (address 0x{addr:x})");
        }
    }

    private async BpfTask<bool> Store(BpfContext ctx, ulong addr, int size, ulong value, byte[] stack, int pc)
    {
        if (obj.ArenaMap >= 0 && !Mem.IsPointer(addr))
        {
            await ArenaAccess(ctx, addr, size, MemOp.Store, value, 0, load: false, pc);
            return true;
        }
        if (addr == 0 || !Mem.IsPointer(addr))
            throw Fault(pc, addr < 4096 ? $"invalid mem access: NULL pointer dereference (address 0x{addr:x})" : $"invalid mem access 'scalar' (address 0x{addr:x})");
        var off = Mem.Offset(addr);
        var idx = Mem.Index(addr);
        switch (Mem.RegionOf(addr))
        {
            case Region.Stack:
                WriteBytes(stack, StackAt(idx, off, size, pc), size, value);
                return true;
            case Region.RingbufRecord:
            {
                var rec = Record(idx, pc);
                if (off < 0 || off + size > rec.Length) throw Fault(pc, $"invalid access to ring buffer record: off={off} size={size}, record size={rec.Length}");
                WriteBytes(rec, off, size, value);
                return true;
            }
            case Region.Global:
            case Region.MapValue:
            {
                var (h, o, _) = Shared(addr, size, pc, true);
                if (size == 8) await ctx.Set(h, o >> 3, (long)value);
                else await ctx.MemWrite(h, MemWriteKey(o, size, MemOp.Store), (long)Truncate(value, size));
                return true;
            }
            case Region.Task:
            {
                if (idx == UnmodelledTask) throw NotModelled(pc, UnmodelledTaskUse);
                if (idx == ParentTask) throw NotModelled(pc, ParentTaskUse);
                if (idx is HelperTask or KthreaddTask) throw NotModelled(pc, $"a store to task_struct: {KernelThreadUse}");
                if (IsScriptProcess(idx)) throw NotModelled(pc, $"a store to task_struct: {ScriptProcessUse}");
                if (IsIdleTask(idx))
                {
                    // A scheduler that shortens the slice of whatever runs on a CPU (scx_lavd's ask_cpu_yield_after(),
                    // through scx_bpf_cpu_curr()) may write the idle task's: the kernel never reads it (the idle task is
                    // not on sched_ext), the program may read back what it wrote.
                    if (!IsIdleSlice(off, size)) throw IdleTaskUse(pc, idx, "a store to task_struct other than scx.slice");
                    await ctx.Set(IdleSlices, idx - IdleTaskBase, (long)(value ^ (ulong)ScxConst.SliceDfl));
                    return true;
                }
                var f = ModelTypes.TaskFieldAt(off) ?? throw Fault(pc, $"invalid access to task_struct at off={off}");
                if (f.Within != 0 || f.Size != size) throw Fault(pc, $"partial write of task_struct field at off={off} size={size}");
                var p = new TaskRef(idx);
                switch (f.Field)
                {
                    case TaskField.Slice: await ctx.TaskSetSlice(p, (long)value); return true;
                    case TaskField.DsqVtime: await ctx.TaskSetDsqVtime(p, (long)value); return true;
                    case TaskField.Disallow:
                        if (value != 0) throw NotModelled(pc, "p->scx.disallow: keeping a task out of sched_ext from ops.init_task() is not modelled");
                        return true;
                    case TaskField.Pid or TaskField.NrCpusAllowed or TaskField.MigrationDisabled or TaskField.CpusPtr or TaskField.Comm or TaskField.Weight or TaskField.Flags or TaskField.ScxFlags or TaskField.Tgid or TaskField.Utime or TaskField.Stime or TaskField.SumExecRuntime or TaskField.RealParent or TaskField.Parent
                        or TaskField.Nvcsw or TaskField.Nivcsw or TaskField.Policy or TaskField.StaticPrio or TaskField.State or TaskField.CpusMask or TaskField.Prio:
                        throw Fault(pc, $"only read is supported: write to task_struct field {f.Field} (off={off})");
                    default:
                        throw new System.Diagnostics.UnreachableException($"task field {f.Field}");
                }
            }
            case Region.Rodata:
                throw Fault(pc, $"write into map forbidden ({obj.Globals[idx].Name} is read-only)");
            case Region.Ctx:
                throw Fault(pc, "write to the context forbidden");
            case Region.Map or Region.TaskCpumask or Region.Func or Region.ExitInfo:
                throw Fault(pc, $"invalid write to {Mem.RegionOf(addr)} memory");
            case Region.None:
            default:
                throw Fault(pc, $"invalid mem access (address 0x{addr:x})");
        }
    }

    /// <summary>Cmpxchg packs expected &lt;&lt; 32 | new for sizes up to 4; Cmpxchg64 takes the new value whole and the
    /// expected one from <see cref="BpfContext.CmpxchgExpected"/>.</summary>
    /// <summary>A shared-memory write's operation. <see cref="ClaimPair"/> is bpf_cpumask_create()'s allocation (see <see cref="SharedMemory.Write"/>).</summary>
    internal enum MemOp : long { Store = 0, Add = 1, Or = 2, And = 3, Xor = 4, Xchg = 5, Cmpxchg = 6, Cmpxchg64 = 7, ClaimPair = 8 }

    internal static long MemWriteKey(int byteOffset, int size, MemOp op) => (long)(uint)(byteOffset >> 3) | ((long)(byteOffset & 7) << 32) | ((long)size << 40) | ((long)op << 48);

    private async BpfTask<ulong> Atomic(BpfContext ctx, ulong addr, int size, int aop, ulong operand, ulong expected, byte[] stack, int pc)
    {
        var op = aop switch
        {
            0x00 => MemOp.Add, 0x40 => MemOp.Or, 0x50 => MemOp.And, 0xa0 => MemOp.Xor, 0xe0 => MemOp.Xchg, 0xf0 => MemOp.Cmpxchg,
            _ => throw Fault(pc, $"unknown atomic op 0x{aop:x2}"),
        };
        if (obj.ArenaMap >= 0 && !Mem.IsPointer(addr)) return (ulong)await ArenaAccess(ctx, addr, size, op, operand, expected, load: false, pc);
        switch (Mem.RegionOf(addr))
        {
            case Region.Stack:
            {
                var at = StackAt(Mem.Index(addr), Mem.Offset(addr), size, pc);
                var old = ReadBytes(stack, at, size);
                WriteBytes(stack, at, size, Apply(op, old, operand, expected, size));
                return old;
            }
            case Region.Global:
            case Region.MapValue:
            {
                var (h, o, _) = Shared(addr, size, pc, true);
                if (op == MemOp.Cmpxchg && size == 8)
                {
                    // One atomic step, as the kernel's cmpxchg: the 64-bit expected value rides on the context.
                    var key64 = MemWriteKey(o, 8, MemOp.Cmpxchg64);
                    SpinCheck(ctx, pc, CallKind.MemWrite, h.Id, key64);
                    ctx.CmpxchgExpected = (long)expected;
                    var old64 = (ulong)await ctx.MemWrite(h, key64, (long)operand);
                    FailedCasSpins(ctx, old64 != expected);
                    return old64;
                }
                var key = MemWriteKey(o, size, op);
                if (op == MemOp.Cmpxchg) SpinCheck(ctx, pc, CallKind.MemWrite, h.Id, key);
                var arg = op == MemOp.Cmpxchg ? (long)((expected << 32) | (uint)operand) : (long)Truncate(operand, size);
                var old = Truncate((ulong)await ctx.MemWrite(h, key, arg), size);
                if (op == MemOp.Cmpxchg) FailedCasSpins(ctx, old != Truncate(expected, size));
                return old;
            }
            case Region.None or Region.Ctx or Region.Map or Region.Rodata or Region.Task or Region.TaskCpumask or Region.Func or Region.ExitInfo:
            default:
                throw Fault(pc, $"atomic operation on {Mem.RegionOf(addr)} memory");
        }
    }

    internal static ulong Apply(MemOp op, ulong old, ulong operand, ulong expected, int size) => Truncate(op switch
    {
        MemOp.Store or MemOp.Xchg => operand,
        MemOp.Add => old + operand,
        MemOp.Or => old | operand,
        MemOp.And => old & operand,
        MemOp.Xor => old ^ operand,
        MemOp.Cmpxchg or MemOp.Cmpxchg64 => Truncate(old, size) == Truncate(expected, size) ? operand : old,
        _ => throw new System.Diagnostics.UnreachableException($"mem op {op}"),
    }, size);

    internal static ulong Truncate(ulong v, int size) => size == 8 ? v : v & ((1UL << (8 * size)) - 1);

    private int StackAt(int frame, int off, int size, int pc)
    {
        if (frame >= MaxFrames || off < 0 || off + size > StackSize) throw Fault(pc, $"invalid stack access off={off - StackSize} size={size}");
        return frame * StackSize + off;
    }

    private static ulong ReadBytes(byte[] b, int at, int size) => size switch
    {
        1 => b[at],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at)),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at)),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at)),
    };

    private static void WriteBytes(byte[] b, int at, int size, ulong v)
    {
        for (var k = 0; k < size; k++) b[at + k] = (byte)(v >> (8 * k));
    }

    /// <summary>
    /// Each CPU's idle task's p->scx.slice, XOR SCX_SLICE_DFL (so the zeroed word is init_scx_entity()'s default): the
    /// one field of an idle task a program may write (BpfObjectPolicy allocates it).
    /// </summary>
    internal MapHandle IdleSlices;

    private static bool IsIdleSlice(int off, int size) => ModelTypes.TaskFieldAt(off) is { Field: TaskField.Slice, Within: 0 } && size == 8;

    /// <summary>
    /// A field of CPU <paramref name="cpu"/>'s idle task as init_idle() leaves it: pid 0, PF_IDLE | PF_KTHREAD, comm
    /// "swapper/N", bound to its CPU; init_scx_entity() gives it dsq_vtime 0 and slice SCX_SLICE_DFL, and no scheduler
    /// ever enables it (weight 0, no scx flags). Constant for the run: not an interleaving point (its scx.slice, which a
    /// program may write, is read from <see cref="IdleSlices"/> before this is asked).
    /// </summary>
    private ulong IdleTaskLoad(int cpu, int off, int size, int pc)
    {
        const ulong PfIdle = 0x2, PfKthread = 0x00200000, PfNoSetaffinity = 0x04000000;
        var f = ModelTypes.TaskFieldAt(off) ?? throw Fault(pc, $"invalid access to task_struct at off={off}");
        if (f.Field != TaskField.Comm && (f.Within != 0 || f.Size != size)) throw Fault(pc, $"partial read of task_struct field {f.Field} (off={off} size={size})");
        switch (f.Field)
        {
            case TaskField.Flags: return PfIdle | PfKthread | PfNoSetaffinity;
            case TaskField.Comm: return CommBytes($"swapper/{cpu}", f.Within, size);
            case TaskField.CpusPtr: return Mem.Addr(Region.Task, IdleTaskBase + cpu, ModelTypes.CpusMaskOffset);
            case TaskField.CpusMask: throw NotModelled(pc, "reading struct cpumask bits directly is not modelled; use bpf_cpumask_test_cpu()");
            case TaskField.NrCpusAllowed: return 1;
            case TaskField.Slice: return (ulong)ScxConst.SliceDfl;
            case TaskField.StaticPrio or TaskField.Prio: return 120; // forked from init_task: nice 0
            case TaskField.RealParent or TaskField.Parent: return Mem.Addr(Region.Task, IdleTaskBase, 0); // init_task, swapper/0
            case TaskField.State: return 0; // TASK_RUNNING: an idle task never blocks
            case TaskField.Nvcsw or TaskField.Nivcsw: throw NotModelled(pc, $"the idle task swapper/{cpu}'s context-switch counts are not modelled");
            default: return 0; // pid, tgid, times, migration_disabled, dsq_vtime, weight, scx.flags, policy (SCHED_NORMAL)
        }
    }

    /// <summary><paramref name="size"/> bytes of p->comm from byte <paramref name="within"/>: the name, NUL-padded, at most 15 characters (TASK_COMM_LEN 16).</summary>
    private static ulong CommBytes(string name, int within, int size)
    {
        var comm = Encoding.UTF8.GetBytes(name);
        ulong v = 0;
        for (var k = 0; k < size; k++)
        {
            var at = within + k;
            if (at < comm.Length && at < 15) v |= (ulong)comm[at] << (8 * k);
        }
        return v;
    }

    private async BpfTask<ulong> TaskLoad(BpfContext ctx, int task, int off, int size, int pc)
    {
        var f = ModelTypes.TaskFieldAt(off) ?? throw Fault(pc, $"invalid access to task_struct at off={off}");
        if (f.Field != TaskField.Comm && (f.Within != 0 || f.Size != size)) throw Fault(pc, $"partial read of task_struct field {f.Field} (off={off} size={size})");
        var p = new TaskRef(task);
        switch (f.Field)
        {
            // Immutable or stable for the model's tasks: not interleaving points (as ctx.Pid()).
            case TaskField.Pid or TaskField.Tgid: return (ulong)(uint)ctx.Pid(p);
            case TaskField.Disallow or TaskField.Stime: return 0;
            case TaskField.Utime or TaskField.SumExecRuntime: return (ulong)await ctx.TaskRuntime(p);
            // &p->cpus_mask: the kfuncs take it as the task's mask (KfuncCall), and it equals &p->cpus_mask as the kernel's does.
            case TaskField.CpusPtr: return Mem.Addr(Region.Task, task, ModelTypes.CpusMaskOffset);
            case TaskField.CpusMask: throw NotModelled(pc, "reading struct cpumask bits directly is not modelled; use bpf_cpumask_test_cpu()");
            // No PF_* flag is ever set on the model's tasks (no kthreads; PF_EXITING not reported: docs/bpf.md).
            case TaskField.Flags: return 0;
            case TaskField.Comm: return CommBytes(ctx.TaskComm(p), f.Within, size);
            case TaskField.NrCpusAllowed: return (uint)await ctx.TaskNrCpusAllowed(p);
            case TaskField.MigrationDisabled: return await ctx.TaskMigrationDisabled(p) ? 1UL : 0;
            case TaskField.DsqVtime: return (ulong)await ctx.TaskDsqVtime(p);
            case TaskField.Slice: return (ulong)await ctx.TaskSlice(p);
            case TaskField.Weight: return (uint)await ctx.TaskWeight(p);
            case TaskField.ScxFlags: return (uint)await ctx.TaskScxFlags(p);
            case TaskField.Nvcsw or TaskField.Nivcsw: return (ulong)await ctx.TaskSwitchCount(p, f.Field == TaskField.Nvcsw);
            case TaskField.Policy: return (ctx.M.Ops.Flags & OpsFlags.SwitchPartial) != 0 ? SchedExt : SchedNormal;
            case TaskField.RealParent or TaskField.Parent: return Mem.Addr(Region.Task, ParentTask, 0);
            case TaskField.State: return (uint)await ctx.TaskRunState(p);
            case TaskField.StaticPrio or TaskField.Prio:
            {
                // static_prio and the weight change together (set_user_nice()): read through the weight.
                var w = await ctx.TaskWeight(p);
                return (ulong)(NiceWeights.StaticPrioOfScxWeight(w)
                    ?? throw NotModelled(pc, $"p->static_prio of {ctx.TaskComm(p)}: its weight {w} is not the weight of exactly one nice level (the model's tasks have weights, not nice levels; use 100 for nice 0, sched_prio_to_weight[] for others)"));
            }
            default: throw new System.Diagnostics.UnreachableException($"task field {f.Field}");
        }
    }

    // ---------------------------------------------------------------- helpers and kfuncs

    internal ulong[] CurrentArgs = [];

    /// <summary>The key space of the locks in map <paramref name="map"/>'s values (globals' locks are keyed by global index).</summary>
    internal static int MapValueLockKey(int map) => -1 - map;

    /// <summary>
    /// Is <paramref name="task"/> one of the running operation's subject tasks (<c>current->scx.kf_tasks[]</c>)? The
    /// kernel records them around the ops it calls through SCX_CALL_OP_TASK*(): those taking a task first (select_cpu,
    /// enqueue, dequeue, tick, runnable, running, stopping, quiescent, set_weight, set_cpumask, enable, disable,
    /// exit_task). ops.dispatch's prev, ops.init_task's task (SCX_CALL_OP_RET), timers and syscall programs have none.
    /// </summary>
    private bool IsOperatedOn(BpfContext ctx, ulong task)
    {
        if (CurrentArgs.Length == 0 || CurrentArgs[0] != task) return false;
        if (obj.Ops.Enable is { } enable && _runEntry == enable.Entry) return true;
        return ctx.Callback is ScxCallback.SelectCpu or ScxCallback.Enqueue or ScxCallback.Dequeue or ScxCallback.Tick
                   or ScxCallback.Runnable or ScxCallback.Running or ScxCallback.Stopping or ScxCallback.Quiescent
                   or ScxCallback.SetWeight or ScxCallback.SetCpumask
               && obj.Ops.Callbacks.TryGetValue(ctx.Callback, out var prog) && prog.Entry == _runEntry
               || ctx.Callback == ScxCallback.Disable && obj.Ops.Disable?.Entry == _runEntry
               || ctx.Callback == ScxCallback.ExitTask && obj.Ops.ExitTask?.Entry == _runEntry;
    }

    /// <summary>Index in <see cref="Region.Ctx"/> of a timer callback's key (the u32 in CurrentArgs[0]).</summary>
    internal const int TimerKeyCtx = 1;

    /// <summary>
    /// Index in <see cref="Region.Ctx"/> of struct scx_init_task_args / scx_exit_task_args: fork = false (every task
    /// exists at load), cgroup = the root cgroup (<see cref="RootCgroup"/>), cancelled = false.
    /// </summary>
    internal const int TaskArgsCtx = 2;

    /// <summary>
    /// Indexes in <see cref="Region.Ctx"/> of the one cgroup the model has, the root (CONFIG_EXT_GROUP_SCHED: every task
    /// is in it, nothing moves a task out or changes its settings), its kernfs node, and the scx_cgroup_init_args
    /// ops.cgroup_init() gets for it. All constant.
    /// </summary>
    internal const int CgroupCtx = 3, KernfsCtx = 12, CgroupArgsCtx = 13;

    internal static readonly ulong RootCgroup = Mem.Addr(Region.Ctx, CgroupCtx, 0);
    internal static readonly ulong RootKernfsNode = Mem.Addr(Region.Ctx, KernfsCtx, 0);
    internal static readonly ulong RootCgroupArgs = Mem.Addr(Region.Ctx, CgroupArgsCtx, 0);

    /// <summary>cgroup_id() of the root cgroup of the unified hierarchy; CGROUP_WEIGHT_DFL; default_bw_period_us(); RUNTIME_INF.</summary>
    internal const ulong RootCgroupId = 1, CgroupWeightDfl = 100, DefaultBwPeriodUs = 100_000, RuntimeInf = ulong.MaxValue;

    /// <summary>Index in <see cref="Region.Ctx"/> of the context of <see cref="BpfObjectFile.Syscalls"/>[i]: SyscallCtx + i (read-only here).</summary>
    internal const int SyscallCtx = 16;

    /// <summary>Index in <see cref="Region.Ctx"/> of the key bpf_for_each_map_elem() hands the callback at frame depth d: LoopKeyCtx + d.</summary>
    internal const int LoopKeyCtx = 4;
    private readonly ulong[] _loopKeys = new ulong[MaxFrames];
    private readonly ulong[] _bufRegs = new ulong[11];
    private readonly byte[] _bufStack = new byte[StackSize * MaxFrames];
    private readonly int[] _bufRetPc = new int[MaxFrames];
    private readonly ulong[] _bufSaved = new ulong[MaxFrames * 4];
    private readonly (int I, int N, int Cb, ulong Ctx, int Map)[] _bufLoops = new (int, int, int, ulong, int)[MaxFrames];

    /// <summary>Word 0 of a struct bpf_timer: bpf_timer_init() ran.</summary>
    internal const ulong TimerInitialized = 1UL << 32;
    private const long EBUSY = 16, EOPNOTSUPP = 95;
    // Task references acquired and not yet released in this run (bpf_task_from_pid/acquire).
    private int _refs;
    private int _firstRefPc;

    /// <summary>
    /// This run's ring buffer records (bpf_ringbuf_reserve): private memory of the program until it submits or discards
    /// one, which hands it to user space — not modelled, so the bytes go nowhere. A record is never seen by another
    /// actor, so its accesses are not interleaving points.
    /// </summary>
    private readonly List<(byte[] Bytes, bool Open, int Pc)> _records = [];

    /// <summary>Index in <see cref="Region.Ctx"/> of CPU c's struct rq (scx_bpf_cpu_rq): RqCtx + c.</summary>
    internal const int RqCtx = 0x100000;

    /// <summary>
    /// Index in <see cref="Region.Ctx"/> of a per-CPU kernel variable a program names as a <c>__ksym</c>
    /// (<see cref="KernelVars"/>): KsymCtx + its index there. Only <c>bpf_per_cpu_ptr()</c>/<c>bpf_this_cpu_ptr()</c> and
    /// <c>bpf_probe_read_kernel()</c> reach through it, as the verifier allows.
    /// </summary>
    internal const int KsymCtx = 0x80000;

    /// <summary>
    /// The kernel's per-CPU variables the model has: <c>runqueues</c> (each CPU's struct rq, as scx_bpf_cpu_rq() gives it:
    /// scx's <c>__COMPAT_scx_bpf_cpu_rq()</c> falls back to it) and <c>cpufreq_cpu_data</c> (each CPU's cpufreq policy:
    /// NULL, the model's CPUs have no cpufreq driver, as when firmware runs the frequency; scx_lavd then keeps its own
    /// capacity).
    /// </summary>
    internal static readonly string[] KernelVars = ["runqueues", "cpufreq_cpu_data"];
    private const int KsymRunqueues = 0, KsymCpufreqData = 1;
    // Open bpf_rcu_read_lock() sections in this run.
    private int _rcuDepth;
    private int _preemptDepth;

    private byte[] Record(int i, int pc) =>
        i >= 0 && i < _records.Count && _records[i].Open ? _records[i].Bytes : throw Fault(pc, "invalid access to a ring buffer record that was submitted or discarded");

    private long Acquired(TaskRef p, int pc)
    {
        if (p.IsNone) return 0;
        if (_refs++ == 0) _firstRefPc = pc;
        return (long)Mem.Addr(Region.Task, p.Index, 0);
    }

    private long AcquiredCgroup(int pc)
    {
        if (_refs++ == 0) _firstRefPc = pc;
        return (long)RootCgroup;
    }

    /// <summary>A struct cgroup argument: the root cgroup, the only one the model has (a verifier-style fault otherwise).</summary>
    private void CgroupArg(ulong v, int pc, string kfunc, int arg)
    {
        if (v == RootCgroup) return;
        throw Fault(pc, v == 0
            ? $"{kfunc}: R{arg + 1} is NULL (expected a trusted struct cgroup)"
            : $"{kfunc}: R{arg + 1} type={(Mem.IsPointer(v) ? Mem.RegionOf(v).ToString() : "scalar")} expected=ptr_cgroup");
    }

    /// <summary>
    /// A local-storage helper's map and owner (R1, R2): a task storage map and a task (its index), or a cgroup storage
    /// map and the root cgroup (owner 0, the only cgroup).
    /// </summary>
    private (int Map, int Owner) StorageOwner(int id, ulong[] r, int pc)
    {
        var name = Helpers.Name(id);
        var mi = MapIndex(r[1], pc, name);
        var m = obj.Maps[mi];
        var cgroup = id is Helpers.CgrpStorageGet or Helpers.CgrpStorageDelete;
        if (m.Type != (cgroup ? MapTypes.CgrpStorage : MapTypes.TaskStorage)) throw Fault(pc, $"{name} on {MapTypes.Name(m.Type)}");
        if (cgroup)
        {
            CgroupArg(r[2], pc, name, 1);
            return (mi, 0);
        }
        var p = TaskArg(r[2], pc, name, 1);
        if (p.IsNone) throw Fault(pc, $"{name}: R2 is NULL");
        return (mi, p.Index);
    }

    private async BpfTask<long> ReadValue(BpfContext ctx, ulong ptr, int size, byte[] stack, int pc)
    {
        if (size is 1 or 2 or 4 or 8) return (long)await Load(ctx, ptr, size, stack, pc);
        throw NotModelled(pc, $"map value of {size} bytes: only 1, 2, 4 or 8-byte values are supported by queue/stack maps");
    }

    private int MapIndex(ulong ptr, int pc, string helper)
    {
        if (Mem.RegionOf(ptr) != Region.Map) throw Fault(pc, $"{helper}: R1 type={(ptr == 0 ? "scalar" : Mem.RegionOf(ptr).ToString())} expected=map_ptr");
        return Mem.Index(ptr);
    }

    private async BpfTask<long> Helper(BpfContext ctx, int id, ulong[] r, byte[] stack, int pc)
    {
        switch (id)
        {
            case Helpers.MapPushElem:
            {
                var mi = MapIndex(r[1], pc, "bpf_map_push_elem");
                var m = obj.Maps[mi];
                // queue_stack_maps.c: BPF_NOEXIST or an unknown flag is -EINVAL; BPF_EXIST replaces the oldest when full.
                var flags = r[3];
                if ((flags & BPF_NOEXIST) != 0 || flags > BPF_EXIST) return -EINVAL;
                var v = await ReadValue(ctx, r[2], m.ValueSize, stack, pc);
                return await ctx.Push(maps[mi], v, replace: flags == BPF_EXIST) ? 0 : -E2BIG;
            }
            case Helpers.MapPopElem:
            case Helpers.MapPeekElem:
            {
                var mi = MapIndex(r[1], pc, Helpers.Name(id));
                var m = obj.Maps[mi];
                var dst = r[2];
                var res = id == Helpers.MapPopElem ? await ctx.Pop(maps[mi]) : await ctx.Peek(maps[mi]);
                if (!res.Found) return -ENOENT;
                await Store(ctx, dst, m.ValueSize, (ulong)res.Value, stack, pc);
                return 0;
            }
            case Helpers.MapLookupElem:
            {
                var mi = MapIndex(r[1], pc, "bpf_map_lookup_elem");
                var m = obj.Maps[mi];
                if (MapTypes.IsHash(m.Type))
                {
                    var slot = await ctx.BpfHash(CallKind.BpfHashLookup, hashIndex[mi], HashArgs(ctx, mi, await HashKey(ctx, m, r[2], stack, pc)));
                    // A per-CPU hash gives the copy of the CPU the program runs on.
                    return slot < 0 ? 0 : (long)HashValueAddr(mi, slot, ctx.M.Actor(ctx.ActorId).Cpu);
                }
                if (m.Type == MapTypes.ArrayOfMaps)
                {
                    // The inner map itself (CONST_PTR_TO_MAP): fixed at load, so not an interleaving point.
                    var slot = (uint)await Load(ctx, r[2], 4, stack, pc);
                    return slot < (uint)m.MaxEntries && m.InnerMaps![slot] >= 0 ? (long)Mem.Addr(Region.Map, m.InnerMaps[slot], 0) : 0;
                }
                if (m.Type is not (MapTypes.Array or MapTypes.PercpuArray)) throw NotModelled(pc, $"bpf_map_lookup_elem on {MapTypes.Name(m.Type)} is not modelled");
                var key = (uint)await Load(ctx, r[2], 4, stack, pc);
                if (key >= (uint)m.MaxEntries) return 0;
                // An array element's address is fixed: computing it is not an access. A per-CPU
                // array gives the copy of the CPU the program runs on.
                var cpuBase = m.Type == MapTypes.PercpuArray ? ctx.M.Actor(ctx.ActorId).Cpu * m.MaxEntries : 0;
                return (long)Mem.Addr(Region.MapValue, mi, (cpuBase + (int)key) * MapStride(m));
            }
            case Helpers.MapLookupPercpuElem:
            {
                var mi = MapIndex(r[1], pc, "bpf_map_lookup_percpu_elem");
                var m = obj.Maps[mi];
                if (m.Type is MapTypes.PercpuHash or MapTypes.LruPercpuHash)
                {
                    var hcpu = (uint)r[3];
                    var hkey = await HashKey(ctx, m, r[2], stack, pc);
                    if (hcpu >= (uint)cpuCount) return 0;
                    var slot = await ctx.BpfHash(CallKind.BpfHashLookup, hashIndex[mi], HashArgs(ctx, mi, hkey));
                    return slot < 0 ? 0 : (long)HashValueAddr(mi, slot, (int)hcpu);
                }
                if (m.Type != MapTypes.PercpuArray) throw NotModelled(pc, $"bpf_map_lookup_percpu_elem on {MapTypes.Name(m.Type)} is not modelled");
                var key = (uint)await Load(ctx, r[2], 4, stack, pc);
                var cpu = (uint)r[3];
                if (key >= (uint)m.MaxEntries || cpu >= (uint)cpuCount) return 0;
                return (long)Mem.Addr(Region.MapValue, mi, ((int)cpu * m.MaxEntries + (int)key) * MapStride(m));
            }
            case Helpers.MapUpdateElem:
            {
                var mi = MapIndex(r[1], pc, "bpf_map_update_elem");
                var m = obj.Maps[mi];
                if (MapTypes.IsHash(m.Type))
                {
                    // BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2; BPF_F_LOCK (4) needs a bpf_spin_lock in the value: -EINVAL here.
                    if (r[4] > 2) return -EINVAL;
                    var hkey = await HashKey(ctx, m, r[2], stack, pc);
                    if (MapTypes.IsPerCpu(m.Type))
                    {
                        // The per-CPU flavors copy the value into this CPU's copy under the bucket lock: one step.
                        var words = await ReadWords(ctx, r[3], m.ValueSize, stack, pc);
                        System.Array.Resize(ref words, MapStride(m) / 8);
                        return await ctx.BpfHash(CallKind.BpfHashPercpuUpdate, hashIndex[mi], HashArgs(ctx, mi, hkey, flags: (long)r[4], value: words));
                    }
                    // hashtab.c: a new element gets the value first, then the bucket lock checks the flags and links it.
                    var slot = await ctx.BpfHash(CallKind.BpfHashReserve, hashIndex[mi], HashArgs(ctx, mi, hkey));
                    if (slot < 0) return slot;
                    await CopyValue(ctx, HashValueAddr(mi, slot, 0), r[3], m.ValueSize, stack, pc);
                    return await ctx.BpfHash(CallKind.BpfHashPublish, hashIndex[mi], HashArgs(ctx, mi, hkey, slot, (long)r[4]));
                }
                if (m.Type != MapTypes.Array) throw NotModelled(pc, $"bpf_map_update_elem on {MapTypes.Name(m.Type)} is not modelled");
                var key = (uint)await Load(ctx, r[2], 4, stack, pc);
                if (key >= (uint)m.MaxEntries) return -E2BIG;
                if (r[4] == 1) return -EEXIST; // BPF_NOEXIST: array elements always exist
                var baseAddr = Mem.Addr(Region.MapValue, mi, (int)key * MapStride(m));
                for (var o = 0; o < m.ValueSize;)
                {
                    var n = m.ValueSize - o >= 8 ? 8 : m.ValueSize - o >= 4 ? 4 : m.ValueSize - o >= 2 ? 2 : 1;
                    var v = await Load(ctx, r[3] + (ulong)o, n, stack, pc);
                    await Store(ctx, baseAddr + (ulong)o, n, v, stack, pc);
                    o += n;
                }
                return 0;
            }
            case Helpers.MapDeleteElem:
            {
                var mi = MapIndex(r[1], pc, "bpf_map_delete_elem");
                var m = obj.Maps[mi];
                if (MapTypes.IsHash(m.Type))
                    return await ctx.BpfHash(CallKind.BpfHashDelete, hashIndex[mi], HashArgs(ctx, mi, await HashKey(ctx, m, r[2], stack, pc)));
                return -EINVAL; // array elements cannot be deleted
            }
            case Helpers.SpinLock:
            case Helpers.SpinUnlock:
            {
                var lp = r[1];
                var lockKey = Mem.RegionOf(lp) switch
                {
                    Region.Global => (Mem.Index(lp), Mem.Offset(lp)),
                    Region.MapValue => (MapValueLockKey(Mem.Index(lp)), Mem.Offset(lp)),
                    _ => (int.MinValue, 0),
                };
                if (!locks.TryGetValue(lockKey, out var lh))
                    throw Fault(pc, $"{Helpers.Name(id)}: R1 is not a struct bpf_spin_lock in global data or a map value");
                if (id == Helpers.SpinLock) await ctx.Lock(lh);
                else await ctx.Unlock(lh);
                return 0;
            }
            case Helpers.TaskStorageGet:
            case Helpers.CgrpStorageGet:
            {
                var (mi, owner) = StorageOwner(id, r, pc);
                var m = obj.Maps[mi];
                if ((r[4] & ~1UL) != 0) return 0; // flags other than BPF_LOCAL_STORAGE_GET_F_CREATE: NULL
                // An owner's storage has a fixed address; whether it exists is a shared word: 0 never made (the value is
                // zero), 1 linked, 2 being made, 3 deleted (the value is stale). bpf_local_storage_update() fills a new
                // element before linking it, so a reader finds it only complete; racing creators share the winner's.
                var slot = (long)Mem.Addr(Region.MapValue, mi, owner * MapStride(m));
                if ((r[4] & 1) == 0) return await ctx.Get(StorageState[mi], owner) == 1 ? slot : 0;
                // A zero element over a never-used slot is complete as it stands: one compare-and-swap links it.
                var old = await StorageCas(ctx, mi, owner, 0, r[3] == 0 ? 1UL : 2UL);
                if (old == 0 && r[3] == 0) return slot;
                if (old == 3) old = await StorageCas(ctx, mi, owner, 3, 2) == 3 ? 0UL : 1UL;
                if (old != 0) return slot; // linked, or being made by another creator
                await CopyValue(ctx, (ulong)slot, r[3], m.ValueSize, stack, pc);
                await ctx.Set(StorageState[mi], owner, 1);
                return slot;
            }
            case Helpers.TaskStorageDelete:
            case Helpers.CgrpStorageDelete:
            {
                var (mi, owner) = StorageOwner(id, r, pc);
                // Unlinked under the storage lock: only a linked element is deleted (its value stays, stale, for readers
                // that still hold it; a later create starts from zero or the value it is given).
                return await StorageCas(ctx, mi, owner, 1, 3) == 1 ? 0 : -ENOENT;
            }
            case Helpers.ProbeReadKernelStr:
            {
                // Copies the string with its NUL (at most size bytes); returns the bytes copied.
                var size = (int)(uint)r[2];
                if (size == 0) return 0;
                var str = Encoding.UTF8.GetBytes(await CString(ctx, r[3], size - 1, stack, pc));
                for (var k = 0; k < str.Length; k++) await Store(ctx, r[1] + (ulong)k, 1, str[k], stack, pc);
                await Store(ctx, r[1] + (ulong)str.Length, 1, 0, stack, pc);
                return str.Length + 1;
            }
            case Helpers.Strncmp:
            {
                // bpf_strncmp(s1, s1_sz, s2): strncmp(s1, s2, s1_sz) as the kernel computes it (-1/0/1 on the first
                // differing byte); s2 is a constant NUL-terminated string.
                var n = (int)(uint)r[2];
                for (var k = 0; k < n; k++)
                {
                    var a = (byte)await Load(ctx, r[1] + (ulong)k, 1, stack, pc);
                    var b = (byte)await Load(ctx, r[3] + (ulong)k, 1, stack, pc);
                    if (a != b) return a < b ? -1 : 1;
                    if (a == 0) return 0;
                }
                return 0;
            }
            case Helpers.TimerInit:
            case Helpers.TimerSetCallback:
            case Helpers.TimerStart:
            case Helpers.TimerCancel:
            {
                // struct bpf_timer (16 bytes in a map value) holds the timer's state in the model's shared memory:
                // word 0 = initialized bit | callback entry + 1, word 1 = armed. Its timer actor fires it
                // (Machine: ActorKind.Timer). Return values as kernel/bpf/helpers.c gives them.
                if (Mem.RegionOf(r[1]) != Region.MapValue) throw Fault(pc, $"{Helpers.Name(id)}: arg#0 expected a struct bpf_timer in a map value");
                var w0 = await Load(ctx, r[1], 8, stack, pc);
                var initialized = (w0 & TimerInitialized) != 0;
                switch (id)
                {
                    case Helpers.TimerInit:
                    {
                        if (!TimerHasActor(Mem.Index(r[1]), Mem.Offset(r[1])))
                            throw NotModelled(pc, $"bpf_timer_init: the model gives actors to the first {TimerActors} struct bpf_timer instances only; "
                                + $"this one (map {obj.Maps[Mem.Index(r[1])].Name}, byte {Mem.Offset(r[1])}) has none, so it could never fire (raise bounds: {{ bpf_timers: N }})");
                        if (initialized) return -EBUSY;
                        // Only CLOCK_REALTIME (0), CLOCK_MONOTONIC (1) and CLOCK_BOOTTIME (7).
                        if (r[3] is not (0 or 1 or 7)) return -EINVAL;
                        await Store(ctx, r[1], 8, TimerInitialized, stack, pc);
                        return 0;
                    }
                    case Helpers.TimerSetCallback:
                    {
                        if (Mem.RegionOf(r[2]) != Region.Func) throw Fault(pc, "bpf_timer_set_callback: arg#1 expected a function");
                        if (!initialized) return -EINVAL;
                        await Store(ctx, r[1], 8, TimerInitialized | (ulong)(uint)(Mem.Index(r[2]) + 1), stack, pc);
                        return 0;
                    }
                    case Helpers.TimerStart:
                    {
                        // BPF_F_TIMER_ABS (1) and BPF_F_TIMER_CPU_PIN (2). An exploration does not model the expiry
                        // (the timer may fire at any point once armed: recording a time would only split states);
                        // a clocked run (the simulator) keeps expiry + 1 and fires the timer then.
                        if ((r[3] & ~3UL) != 0) return -EINVAL;
                        if (!initialized || (w0 & 0xffffffffUL) == 0) return -EINVAL;
                        var armedWord = 1UL;
                        if (ctx.M.Config.Clocked)
                        {
                            var now = (ulong)ctx.M.World.Sched.Clock;
                            armedWord = ((r[3] & 1) != 0 ? Math.Max(r[2], now) : now + r[2]) + 1;
                        }
                        await Store(ctx, r[1] + 8, 8, armedWord, stack, pc);
                        return 0;
                    }
                    case Helpers.TimerCancel:
                    {
                        if (!initialized) return -EINVAL;
                        var armed = await Load(ctx, r[1] + 8, 8, stack, pc);
                        await Store(ctx, r[1] + 8, 8, 0, stack, pc);
                        return armed != 0 ? 1 : 0;
                    }
                    default:
                        throw new System.Diagnostics.UnreachableException($"timer helper {id}");
                }
            }
            case Helpers.KtimeGetNs:
            case Helpers.KtimeGetBootNs: // no suspend in the model: boot time is monotonic time
                return await ctx.Now();
            case Helpers.Jiffies64:
                return await ctx.Now() / ctx.M.Config.TickNs;
            case Helpers.GetNumaNodeId:
                return 0; // one node
            case Helpers.GetCurrentPidTgid:
            {
                // `current` as bpf_get_current_task_btf() sees it; each model task leads its own thread group. The
                // tasks the model does not have (an idle CPU's swapper, a syscall's caller) report 0.
                var curr = CurrentTask(ctx);
                return curr >= 0 ? (ctx.Pid(new TaskRef(curr)) << 32) | ctx.Pid(new TaskRef(curr)) : 0;
            }
            case Helpers.GetCurrentComm:
            {
                // strscpy_pad(): the name, NUL-padded to size; swapper/N on an idle CPU; a syscall actor's name for its caller.
                var size = (int)(uint)r[2];
                if (size == 0) return -EINVAL;
                var info = ctx.M.Actor(ctx.ActorId);
                var curr = CurrentTask(ctx);
                var name = curr >= 0 ? ctx.TaskComm(new TaskRef(curr))
                    : info.Kind == Kernel.ActorKind.Cpu || info.Script?.ActsForCpuCurrent == true ? $"swapper/{info.Cpu}"
                    : info.Kind == Kernel.ActorKind.Helper ? HelperComm(ctx) : info.Name;
                var bytes = Encoding.UTF8.GetBytes(name);
                for (var k = 0; k < size; k++) await Store(ctx, r[1] + (ulong)k, 1, k < size - 1 && k < bytes.Length && k < 15 ? bytes[k] : 0UL, stack, pc);
                return 0;
            }
            case Helpers.GetPrandomU32:
                return await ctx.PrandomU32();
            case Helpers.GetSmpProcessorId:
                return ctx.M.Actor(ctx.ActorId).Cpu;
            case Helpers.TracePrintk:
            {
                // bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3): up to three arguments, passed in registers.
                var args = new[] { r[3], r[4], r[5] };
                return await ctx.Printk(await FormatValues(ctx, r[1], (int)(uint)r[2], args, stack, pc));
            }
            case Helpers.PerCpuPtr or Helpers.ThisCpuPtr:
            {
                // bpf_per_cpu_ptr(ptr, cpu) / bpf_this_cpu_ptr(ptr) on a per-CPU kernel variable: that CPU's instance
                // (NULL for a CPU at or past nr_cpu_ids).
                var name = id == Helpers.PerCpuPtr ? "bpf_per_cpu_ptr" : "bpf_this_cpu_ptr";
                if (!Mem.IsPointer(r[1])) throw Fault(pc, $"{name}: R1 type=scalar expected=percpu_ptr_");
                if (Mem.RegionOf(r[1]) != Region.Ctx || Mem.Index(r[1]) - KsymCtx is not (>= 0 and < 2) || Mem.Offset(r[1]) != 0)
                    throw NotModelled(pc, $"{name} on something other than the kernel's per-CPU variables the model has ({string.Join(", ", KernelVars)})");
                var cpu = id == Helpers.PerCpuPtr ? (long)(uint)r[2] : ctx.M.Actor(ctx.ActorId).Cpu;
                if (cpu >= cpuCount) return 0;
                return Mem.Index(r[1]) - KsymCtx == KsymRunqueues
                    ? (long)Mem.Addr(Region.Ctx, RqCtx + (int)cpu, 0)
                    : (long)Mem.Addr(Region.Ctx, KsymCtx + KsymCpufreqData, 8 * (int)cpu);
            }
            case Helpers.TraceVprintk:
            {
                // bpf_trace_vprintk(fmt, fmt_size, data, data_len): bpf_printk() with more than three arguments, as u64
                // words (at most MAX_TRACE_PRINTK_VARARGS, 12).
                if (!VarargsValid(r[3], r[4])) return -EINVAL;
                var f = await CString(ctx, r[1], Math.Clamp((int)(uint)r[2], 0, 1024), stack, pc);
                return await ctx.Printk(await Format(ctx, f, null, r[3], (int)r[4], stack, pc));
            }
            case Helpers.KptrXchg:
            {
                // bpf_kptr_xchg(dst, ptr): an atomic exchange of the referenced pointer stored in a map value or global.
                if (Mem.RegionOf(r[1]) is not (Region.Global or Region.MapValue)) throw Fault(pc, "bpf_kptr_xchg: arg#0 expected a __kptr field in a map value or global");
                if (r[2] != 0 && Mem.RegionOf(r[2]) != Region.BpfCpumask) throw NotModelled(pc, "bpf_kptr_xchg: only struct bpf_cpumask references are modelled");
                var (h, o, _) = Shared(r[1], 8, pc, true);
                return await ctx.MemWrite(h, MemWriteKey(o, 8, MemOp.Xchg), (long)r[2]);
            }
            case Helpers.ProbeReadKernel:
            {
                // bpf_probe_read_kernel(dst, size, src): copies size bytes, or fails with -EFAULT and zeroes dst. The
                // model's memory has no unmapped kernel addresses to probe: a source that is no pointer the model
                // knows (a scalar, NULL) fails; one it knows is read as a load of each piece.
                var size = (int)(uint)r[2];
                var src = r[3];
                var readable = src != 0 && Mem.IsPointer(src) && Mem.RegionOf(src) is not (Region.Func or Region.Map or Region.ExitInfo or Region.None);
                for (var o = 0; o < size;)
                {
                    var n = size - o >= 8 && o % 8 == 0 ? 8 : size - o >= 4 && o % 4 == 0 ? 4 : size - o >= 2 && o % 2 == 0 ? 2 : 1;
                    var v = readable ? await Load(ctx, src + (ulong)o, n, stack, pc) : 0;
                    await Store(ctx, r[1] + (ulong)o, n, v, stack, pc);
                    o += n;
                }
                return readable ? 0 : -EFAULT;
            }
            case Helpers.RingbufReserve:
            {
                // bpf_ringbuf_reserve(map, size, flags): flags must be 0 and the record fit the ring. User space is
                // taken to drain the ring at once, so a reservation that fits never fails (docs/bpf.md).
                var mi = MapIndex(r[1], pc, "bpf_ringbuf_reserve");
                var m = obj.Maps[mi];
                if (m.Type != MapTypes.RingBuf) throw Fault(pc, $"bpf_ringbuf_reserve: map {m.Name} is not a ring buffer");
                var size = r[2];
                if (r[3] != 0 || size > (ulong)m.MaxEntries) return 0;
                _records.Add((new byte[(int)size], true, pc));
                return (long)Mem.Addr(Region.RingbufRecord, _records.Count - 1, 0);
            }
            case Helpers.RingbufSubmit:
            case Helpers.RingbufDiscard:
            {
                var name = Helpers.Name(id);
                if (Mem.RegionOf(r[1]) != Region.RingbufRecord || Mem.Offset(r[1]) != 0) throw Fault(pc, $"{name}: R1 expected a pointer from bpf_ringbuf_reserve()");
                var i = Mem.Index(r[1]);
                Record(i, pc);
                _records[i] = _records[i] with { Open = false };
                return 0;
            }
            case Helpers.RingbufOutput:
            {
                // bpf_ringbuf_output(map, data, size, flags): copies the data into a record and submits it; user space
                // is not modelled, so only the map is checked (the data's bytes go nowhere).
                var mi = MapIndex(r[1], pc, "bpf_ringbuf_output");
                if (obj.Maps[mi].Type != MapTypes.RingBuf) throw Fault(pc, $"bpf_ringbuf_output: map {obj.Maps[mi].Name} is not a ring buffer");
                // BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP are the only flags; a record that cannot fit is -EAGAIN.
                return (r[4] & ~3UL) != 0 ? -EINVAL : r[3] > (ulong)obj.Maps[mi].MaxEntries ? -EAGAIN : 0;
            }
            case Helpers.RingbufQuery:
                // bpf_ringbuf_query(): an empty ring (user space drains it at once).
                MapIndex(r[1], pc, "bpf_ringbuf_query");
                return 0;
            case Helpers.GetCurrentTaskBtf:
            {
                // `current`: the task running on this CPU when a CPU path calls the program — or an actor that works for
                // it (the simulator's syscalls and timer interrupts: ScriptSpec.ActsForCpuCurrent) —, or the idle task
                // swapper/N when the CPU is idle. A scenario's scripted actor (a taskset, a waker) is a user process the
                // model knows by its identity only (ScriptProcessLoad). A BPF timer's callback runs in softirq context on
                // the CPU the timer fires on (the model's CPU 0: bpf_get_smp_processor_id()), so `current` is the task it
                // interrupted there, or swapper/0. A syscall program run while attached is called by a user-space process
                // the model does not have: a pointer that compares unequal to every modelled task and stops the run if
                // dereferenced.
                var info = ctx.M.Actor(ctx.ActorId);
                // The helper actor runs what the kernel runs on its own kthreads: the enable path (the model's boot: ops.init,
                // ops.cgroup_init, ops.init_task, the first enqueues, on scx_enable_helper) and the disable path (on the
                // scheduler's sched_ext_helper).
                if (info.Kind == Kernel.ActorKind.Helper) return (long)Mem.Addr(Region.Task, HelperTask, 0);
                if (info.Script is { ActsForCpuCurrent: false } && info.Id < MaxScriptProcesses) return (long)Mem.Addr(Region.Task, ScriptProcessBase + info.Id, 0);
                var timerSoftirq = info.Kind == Kernel.ActorKind.Timer && !obj.Syscalls.Any(s => s.Program.Entry == _runEntry);
                if (info.Kind != Kernel.ActorKind.Cpu && info.Script?.ActsForCpuCurrent != true && !timerSoftirq) return (long)Mem.Addr(Region.Task, UnmodelledTask, 0);
                var curr = ctx.M.World.Cpus[info.Cpu].Curr;
                return (long)(curr >= 0 ? Mem.Addr(Region.Task, curr, 0) : Mem.Addr(Region.Task, IdleTaskBase + info.Cpu, 0));
            }
            default:
                throw Fault(pc, $"unknown func {Helpers.Name(id)}#{id}");
        }
    }

    /// <summary>Copies a map value of <paramref name="size"/> bytes from <paramref name="src"/> (0: zeros) to <paramref name="dst"/>, widest words first.</summary>
    private async BpfTask CopyValue(BpfContext ctx, ulong dst, ulong src, int size, byte[] stack, int pc)
    {
        for (var o = 0; o < size;)
        {
            var n = size - o >= 8 ? 8 : size - o >= 4 ? 4 : size - o >= 2 ? 2 : 1;
            var v = src != 0 ? await Load(ctx, src + (ulong)o, n, stack, pc) : 0;
            await Store(ctx, dst + (ulong)o, n, v, stack, pc);
            o += n;
        }
    }

    /// <summary>Compare-and-swap of the storage state word of <paramref name="owner"/> (a task's index, or 0: the root cgroup) in map <paramref name="map"/>: the old state.</summary>
    private async BpfTask<ulong> StorageCas(BpfContext ctx, int map, int owner, ulong expected, ulong value) =>
        (ulong)await ctx.MemWrite(StorageState[map], MemWriteKey(owner * 8, 4, MemOp.Cmpxchg), (long)((expected << 32) | value));

    /// <summary>The model task `current` is on the CPU running this program, or -1 (idle, or not a CPU's path).</summary>
    private static int CurrentTask(BpfContext ctx)
    {
        var info = ctx.M.Actor(ctx.ActorId);
        return info.Kind == Kernel.ActorKind.Cpu || info.Script?.ActsForCpuCurrent == true ? ctx.M.World.Cpus[info.Cpu].Curr : -1;
    }

    private TaskRef TaskArg(ulong v, int pc, string kfunc, int arg)
    {
        if (v == 0) return TaskRef.None;
        if (Mem.RegionOf(v) != Region.Task || Mem.Offset(v) != 0) throw Fault(pc, $"{kfunc}: arg#{arg} expected pointer to struct task_struct");
        if (Mem.Index(v) == UnmodelledTask) throw NotModelled(pc, UnmodelledTaskUse);
        if (Mem.Index(v) == ParentTask) throw NotModelled(pc, $"{kfunc}: arg#{arg}: {ParentTaskUse}");
        if (Mem.Index(v) is HelperTask or KthreaddTask) throw NotModelled(pc, $"{kfunc}: arg#{arg}: {KernelThreadUse}");
        if (IsScriptProcess(Mem.Index(v))) throw NotModelled(pc, $"{kfunc}: arg#{arg}: {ScriptProcessUse}");
        if (IsIdleTask(Mem.Index(v))) throw IdleTaskUse(pc, Mem.Index(v), $"{kfunc}: arg#{arg}");
        return new TaskRef(Mem.Index(v));
    }

    private T Need<T>(BpfContext ctx, int pc, string kfunc) where T : BpfContext =>
        ctx as T ?? throw Fault(pc, $"calling kernel function {kfunc} is not allowed in ops.{ScxCallbacks.OpName(ctx.Callback)}()");

    private async BpfTask<long> KfuncCall(BpfContext ctx, Kfunc k, ulong[] r, byte[] stack, int pc)
    {
        // &p->cpus_mask (what p->cpus_ptr holds) is the task's cpumask to every kfunc that takes a mask.
        for (var a = 1; a <= 5; a++)
            if (Mem.RegionOf(r[a]) == Region.Task && Mem.Offset(r[a]) == ModelTypes.CpusMaskOffset) r[a] = Mem.Addr(Region.TaskCpumask, Mem.Index(r[a]), 0);
        switch (k)
        {
            case Kfunc.DsqInsert:
            {
                var p = TaskArg(r[1], pc, "scx_bpf_dsq_insert", 0);
                return await Need<EnqueueContext>(ctx, pc, "scx_bpf_dsq_insert").DsqInsert(p, r[2], (long)r[3], (EnqFlags)r[4]) ? 1 : 0;
            }
            case Kfunc.DsqInsertVtime:
            {
                var p = TaskArg(r[1], pc, "scx_bpf_dsq_insert_vtime", 0);
                return await Need<EnqueueContext>(ctx, pc, "scx_bpf_dsq_insert_vtime").DsqInsertVtime(p, r[2], (long)r[3], (long)r[4], (EnqFlags)r[5]) ? 1 : 0;
            }
            case Kfunc.DsqMoveToLocal:
                return await Need<DispatchContext>(ctx, pc, "scx_bpf_dsq_move_to_local").DsqMoveToLocal(r[1]) ? 1 : 0;
            case Kfunc.DsqMoveToLocalFlags:
                // The v7.1 form, scx_bpf_dsq_move_to_local(dsq_id, enq_flags) (the kfunc's start checks the flags).
                return await Need<DispatchContext>(ctx, pc, "scx_bpf_dsq_move_to_local").DsqMoveToLocal(r[1], (EnqFlags)r[2]) ? 1 : 0;
            case Kfunc.CreateDsq:
                // ops.init, and the unlocked contexts the model has: timer callbacks and syscall programs run while attached.
                if (ctx is not InitContext && ctx.Callback == ScxCallback.Timer) return await ctx.CreateDsqUnlocked(r[1]) ? 0 : -EEXIST;
                return await Need<InitContext>(ctx, pc, "scx_bpf_create_dsq").CreateDsq(r[1], (int)r[2]) ? 0 : -EEXIST;
            case Kfunc.SelectCpuDfl:
            {
                var p = TaskArg(r[1], pc, "scx_bpf_select_cpu_dfl", 0);
                var isIdle = r[4];
                // SCX_KF_SELECT_CPU | SCX_KF_ENQUEUE (v6.16+): ops.select_cpu and ops.enqueue.
                if (ctx is not EnqueueContext e || ctx is DispatchContext) throw Fault(pc, $"calling kernel function scx_bpf_select_cpu_dfl is not allowed in ops.{ScxCallbacks.OpName(ctx.Callback)}()");
                var (cpu, idle) = await e.SelectCpuDfl(p, (int)r[2], (WakeFlags)r[3]);
                if (isIdle != 0) await Store(ctx, isIdle, 1, idle ? 1UL : 0, stack, pc);
                return cpu;
            }
            case Kfunc.KickCpu:
                await ctx.KickCpu((int)r[1], (KickFlags)r[2]);
                return 0;
            case Kfunc.DispatchNrSlots:
                return await Need<DispatchContext>(ctx, pc, "scx_bpf_dispatch_nr_slots").DispatchNrSlots();
            case Kfunc.DispatchCancel:
                await Need<DispatchContext>(ctx, pc, "scx_bpf_dispatch_cancel").DispatchCancel();
                return 0;
            case Kfunc.DsqNrQueued:
                return await ctx.DsqNrQueued(r[1]);
            case Kfunc.TaskRunning:
                return await ctx.TaskRunning(TaskArg(r[1], pc, "scx_bpf_task_running", 0)) ? 1 : 0;
            case Kfunc.TaskCpu:
                return await ctx.TaskCpu(TaskArg(r[1], pc, "scx_bpf_task_cpu", 0));
            case Kfunc.Now:
                return await ctx.Now();
            case Kfunc.ErrorBstr:
            {
                var msg = await Format(ctx, r[1], r[2], (int)r[3], stack, pc);
                await ctx.Error(msg);
                return 0;
            }
            case Kfunc.ExitBstr:
            {
                var msg = await Format(ctx, r[2], r[3], (int)r[4], stack, pc);
                await ctx.Exit((long)r[1], msg);
                return 0;
            }
            case Kfunc.CpumaskTestCpu:
            {
                var mask = r[2];
                var cpu = (int)(uint)r[1];
                switch (Mem.RegionOf(mask))
                {
                    case Region.TaskCpumask when IsIdleTask(Mem.Index(mask)): return cpu == Mem.Index(mask) - IdleTaskBase ? 1 : 0;
                    case Region.TaskCpumask: return await ctx.TaskTestCpu(new TaskRef(Mem.Index(mask)), cpu) ? 1 : 0;
                    case Region.IdleCpumask: return await ctx.TestCpuIdle(cpu) ? 1 : 0;
                    case Region.OnlineCpumask: return cpu >= 0 && cpu < ctx.NrCpuIds ? 1 : 0;
                    case Region.EmptyCpumask: return 0;
                    case Region.BpfCpumask or Region.Global or Region.MapValue:
                        // test_bit(): the one word that holds the CPU.
                        return cpu >= 0 && cpu < cpuCount && ((await MaskWord(ctx, mask, cpu >> 6, pc, "bpf_cpumask_test_cpu") >> (cpu & 63)) & 1) != 0 ? 1 : 0;
                    default: throw NotModelled(pc, "bpf_cpumask_test_cpu: only p->cpus_ptr, struct bpf_cpumask and the idle and online masks are modelled");
                }
            }
            case Kfunc.CpumaskCreate:
            {
                // bpf_mem_cache_alloc() hands out memory no other program can see until it is published, so the
                // allocation is one step: the first free slot (reference count 0) gets count 1 and no CPUs.
                var claimed = await ctx.MemWrite(CpumaskPool, MemWriteKey(0, 8, MemOp.ClaimPair), PoolStride);
                if (claimed >= 0) return (long)Mem.Addr(Region.BpfCpumask, (int)claimed, 0);
                // The kernel's allocator fails only without memory: a full pool is the model's limit, not a NULL to hand
                // the program (a scheduler failing its ops.init_task with -ENOMEM here would be a false alarm).
                throw new ModelLimitException($"scxlab: no room for a struct bpf_cpumask: the model's pool holds {CpumaskPoolSize} live objects and all are in use (raise bounds: {{ bpf_cpumasks: N }})");
            }
            case Kfunc.CpumaskAcquire:
            {
                var s = BpfMaskSlot(r[1], pc, "bpf_cpumask_acquire");
                await ctx.MemWrite(CpumaskPool, MemWriteKey(PoolStride * s * 8, 4, MemOp.Add), 1);
                return (long)r[1];
            }
            case Kfunc.CpumaskRelease:
            {
                var s = BpfMaskSlot(r[1], pc, "bpf_cpumask_release");
                var old = await ctx.MemWrite(CpumaskPool, MemWriteKey(PoolStride * s * 8, 4, MemOp.Add), unchecked((uint)-1));
                if ((uint)old == 0) throw Fault(pc, "bpf_cpumask_release: the cpumask has no reference left");
                return 0;
            }
            case Kfunc.CpumaskSetCpu or Kfunc.CpumaskClearCpu or Kfunc.CpumaskTestAndSetCpu or Kfunc.CpumaskTestAndClearCpu:
            {
                var cpu = (uint)r[1];
                if (cpu >= (uint)cpuCount) return 0; // the kfuncs ignore an invalid CPU (cpu_valid())
                // set_bit()/clear_bit() and the test_and_ forms: an atomic on the one word that holds the CPU.
                var bit = 1UL << (int)(cpu & 63);
                var set = k is Kfunc.CpumaskSetCpu or Kfunc.CpumaskTestAndSetCpu;
                var old = await MaskWordWrite(ctx, r[2], (int)(cpu >> 6), set ? MemOp.Or : MemOp.And, set ? bit : ~bit, pc, "bpf_cpumask_set_cpu");
                return (old & bit) != 0 ? 1 : 0;
            }
            // The whole-mask kfuncs go a word at a time, as the kernel's bitmap_*() loops do: each word read or written is
            // an access of its own (one for up to 64 CPUs), and a word's result is written before the next word is read.
            case Kfunc.CpumaskSetall:
                for (var w = 0; w < MaskWords; w++) await MaskWordWrite(ctx, r[1], w, MemOp.Store, ValidWord(w), pc, "bpf_cpumask_setall");
                return 0;
            case Kfunc.CpumaskClear:
                for (var w = 0; w < MaskWords; w++) await MaskWordWrite(ctx, r[1], w, MemOp.Store, 0, pc, "bpf_cpumask_clear");
                return 0;
            case Kfunc.CpumaskAnd or Kfunc.CpumaskOr or Kfunc.CpumaskXor:
            {
                WritableMask(r[1], pc, "bpf_cpumask_and/or/xor");
                var any = 0UL;
                for (var w = 0; w < MaskWords; w++)
                {
                    var a = await MaskWord(ctx, r[2], w, pc, "bpf_cpumask_and/or/xor");
                    var b = await MaskWord(ctx, r[3], w, pc, "bpf_cpumask_and/or/xor");
                    var res = k == Kfunc.CpumaskAnd ? a & b : k == Kfunc.CpumaskOr ? a | b : a ^ b;
                    await MaskWordWrite(ctx, r[1], w, MemOp.Store, res, pc, "bpf_cpumask_and/or/xor");
                    any |= res;
                }
                return k == Kfunc.CpumaskAnd ? (any != 0 ? 1 : 0) : 0; // bpf_cpumask_and() returns whether the result is non-empty
            }
            case Kfunc.CpumaskCopy:
            {
                WritableMask(r[1], pc, "bpf_cpumask_copy");
                for (var w = 0; w < MaskWords; w++)
                    await MaskWordWrite(ctx, r[1], w, MemOp.Store, await MaskWord(ctx, r[2], w, pc, "bpf_cpumask_copy"), pc, "bpf_cpumask_copy");
                return 0;
            }
            // The searches stop at the first word that decides them, as find_first_bit() and bitmap_equal() do.
            case Kfunc.CpumaskFirst:
                for (var w = 0; w < MaskWords; w++)
                {
                    var bits = await MaskWord(ctx, r[1], w, pc, "bpf_cpumask_first");
                    if (bits != 0) return FirstBit(bits, w);
                }
                return cpuCount;
            case Kfunc.CpumaskFirstZero:
                for (var w = 0; w < MaskWords; w++)
                {
                    var bits = ~await MaskWord(ctx, r[1], w, pc, "bpf_cpumask_first_zero") & ValidWord(w);
                    if (bits != 0) return FirstBit(bits, w);
                }
                return cpuCount;
            case Kfunc.CpumaskFirstAnd:
                for (var w = 0; w < MaskWords; w++)
                {
                    var bits = await MaskWord(ctx, r[1], w, pc, "bpf_cpumask_first_and") & await MaskWord(ctx, r[2], w, pc, "bpf_cpumask_first_and");
                    if (bits != 0) return FirstBit(bits, w);
                }
                return cpuCount;
            case Kfunc.CpumaskWeight:
            {
                var weight = 0;
                for (var w = 0; w < MaskWords; w++) weight += System.Numerics.BitOperations.PopCount(await MaskWord(ctx, r[1], w, pc, "bpf_cpumask_weight") & ValidWord(w));
                return weight;
            }
            case Kfunc.CpumaskEmpty:
                for (var w = 0; w < MaskWords; w++)
                    if ((await MaskWord(ctx, r[1], w, pc, "bpf_cpumask_empty") & ValidWord(w)) != 0) return 0;
                return 1;
            case Kfunc.CpumaskFull:
                for (var w = 0; w < MaskWords; w++)
                    if ((await MaskWord(ctx, r[1], w, pc, "bpf_cpumask_full") & ValidWord(w)) != ValidWord(w)) return 0;
                return 1;
            case Kfunc.CpumaskIntersects or Kfunc.CpumaskSubset or Kfunc.CpumaskEqual:
            {
                for (var w = 0; w < MaskWords; w++)
                {
                    var a = await MaskWord(ctx, r[1], w, pc, "bpf_cpumask_intersects/subset/equal") & ValidWord(w);
                    var b = await MaskWord(ctx, r[2], w, pc, "bpf_cpumask_intersects/subset/equal") & ValidWord(w);
                    switch (k)
                    {
                        case Kfunc.CpumaskIntersects when (a & b) != 0: return 1;
                        case Kfunc.CpumaskSubset when (a & ~b) != 0: return 0;
                        case Kfunc.CpumaskEqual when a != b: return 0;
                    }
                }
                return k == Kfunc.CpumaskIntersects ? 0 : 1;
            }
            case Kfunc.GetIdleCpumask:
                if ((ctx.M.Ops.Flags & OpsFlags.BuiltinIdlePerNode) != 0)
                {
                    await ctx.KernelError("SCX_OPS_BUILTIN_IDLE_PER_NODE enabled");
                    return (long)Mem.Addr(Region.EmptyCpumask, 0, 0);
                }
                // The kernel's idle mask, read live through bpf_cpumask_test_cpu (each test an interleaving point).
                return (long)Mem.Addr(Region.IdleCpumask, 0, 0);
            case Kfunc.GetOnlineCpumask:
                return (long)Mem.Addr(Region.OnlineCpumask, 0, 0);
            case Kfunc.PutCpumask:
                if (Mem.RegionOf(r[1]) is not (Region.IdleCpumask or Region.OnlineCpumask or Region.EmptyCpumask)) throw Fault(pc, "scx_bpf_put_*cpumask: expected a mask from scx_bpf_get_*cpumask");
                return 0;
            case Kfunc.TaskFromPid:
                return Acquired(ctx.TaskFromPid((int)r[1]), pc);
            case Kfunc.TaskAcquire:
                return Acquired(TaskArg(r[1], pc, "bpf_task_acquire", 0), pc);
            case Kfunc.TaskRelease:
                if (TaskArg(r[1], pc, "bpf_task_release", 0).IsNone) throw Fault(pc, "bpf_task_release: R1 is NULL (expected a referenced task)");
                if (_refs == 0) throw Fault(pc, "bpf_task_release: release of a reference this program does not hold");
                _refs--;
                return 0;
            // The root cgroup, the model's only one: always online, so every lookup that names it succeeds, with a
            // reference the program must drop (bpf_cgroup_release), as bpf_task_from_pid's.
            case Kfunc.CgroupAcquire:
                CgroupArg(r[1], pc, "bpf_cgroup_acquire", 0);
                return AcquiredCgroup(pc);
            case Kfunc.CgroupRelease:
                CgroupArg(r[1], pc, "bpf_cgroup_release", 0);
                if (_refs == 0) throw Fault(pc, "bpf_cgroup_release: release of a reference this program does not hold");
                _refs--;
                return 0;
            case Kfunc.CgroupAncestor:
                // The ancestor at that level: the root is level 0 and has no other.
                CgroupArg(r[1], pc, "bpf_cgroup_ancestor", 0);
                return (int)r[2] == 0 ? AcquiredCgroup(pc) : 0;
            case Kfunc.CgroupFromId:
                return r[1] == RootCgroupId ? AcquiredCgroup(pc) : 0;
            case Kfunc.TaskCgroup:
            {
                // scx_bpf_task_cgroup(): p's cgroup (the root: every task is in it), referenced even when the kernel
                // refuses p — scx_kf_arg_task_ok() accepts only a task the running operation was handed (kf_tasks).
                var p = TaskArg(r[1], pc, "scx_bpf_task_cgroup", 0);
                if (p.IsNone) throw Fault(pc, "scx_bpf_task_cgroup: R1 is NULL (expected a trusted task)");
                if (!IsOperatedOn(ctx, r[1])) await ctx.KernelError("called on a task not being operated on");
                return AcquiredCgroup(pc);
            }
            case Kfunc.TaskUnderCgroup:
                if (TaskArg(r[1], pc, "bpf_task_under_cgroup", 0).IsNone) throw Fault(pc, "bpf_task_under_cgroup: R1 is NULL (expected a trusted task)");
                CgroupArg(r[2], pc, "bpf_task_under_cgroup", 1);
                return 1; // every task is in the root cgroup
            case Kfunc.NrCpuIds:
                return ctx.NrCpuIds;
            case Kfunc.PickIdleCpu:
            case Kfunc.PickAnyCpu:
            case Kfunc.PickIdleCpuNode:
            case Kfunc.PickAnyCpuNode:
            {
                // scx_pick_idle_cpu() on the mask: cpumask_any_and_distribute() with the idle CPUs (the kernel's rotor).
                var idle = k is Kfunc.PickIdleCpu or Kfunc.PickIdleCpuNode;
                var perNode = k is Kfunc.PickIdleCpuNode or Kfunc.PickAnyCpuNode;
                var name = (idle ? "scx_bpf_pick_idle_cpu" : "scx_bpf_pick_any_cpu") + (perNode ? "_node" : "");
                var flags = perNode ? r[3] : r[2];
                var taskMask = Mem.RegionOf(r[1]) == Region.TaskCpumask && !IsIdleTask(Mem.Index(r[1]));
                // SCX_PICK_IDLE_CORE and SCX_PICK_IDLE_IN_NODE pick the same on one node of single-thread cores.
                if ((flags & ~3UL) != 0) throw NotModelled(pc, $"{name}: flags 0x{flags:x} are not modelled");
                var nodeMode = (ctx.M.Ops.Flags & OpsFlags.BuiltinIdlePerNode) != 0;
                if (perNode)
                {
                    // validate_node(): per-node tracking on, a node that exists.
                    var node = (int)r[2];
                    if (!nodeMode) { await ctx.KernelError("per-node idle tracking is disabled"); return -EOPNOTSUPP; }
                    if (node != 0) { await ctx.KernelError($"invalid node {node}"); return -EINVAL; }
                }
                else if (nodeMode)
                {
                    await ctx.KernelError("per-node idle tracking is enabled");
                    return -EBUSY;
                }
                if (!taskMask)
                {
                    // Another mask (a struct bpf_cpumask, the idle or online mask, an idle task's cpus_ptr): its bits
                    // are read in one access, then the pick runs on them in the next step (the kernel too reads the
                    // mask before it claims the CPU it found).
                    var bits = await MaskBits(ctx, r[1], pc, name);
                    return await ctx.PickCpuInMask(bits, !idle);
                }
                var p = new TaskRef(Mem.Index(r[1]));
                return idle ? await ctx.PickIdleCpu(p) : await ctx.PickAnyCpu(p);
            }
            case Kfunc.TestAndClearCpuIdle:
                return await ctx.TestAndClearCpuIdle((int)r[1]) ? 1 : 0;
            case Kfunc.DestroyDsq:
                await ctx.DestroyDsq(r[1]);
                return 0;
            case Kfunc.DsqPeek:
            {
                var p = await ctx.DsqPeek(r[1]);
                return p.IsNone ? 0 : (long)Mem.Addr(Region.Task, p.Index, 0);
            }
            case Kfunc.IterNumNew:
            {
                // bpf_for()/bpf_repeat(): the iterator is 8 bytes on the stack, {int cur; int end;}.
                var at = IterAt(r[1], pc, "bpf_iter_num_new");
                int start = (int)r[2], end = (int)r[3];
                if (start > end || (long)end - start > BpfMaxLoops)
                {
                    WriteBytes(stack, at, 8, 0);
                    return start > end ? -EINVAL : -E2BIG;
                }
                WriteBytes(stack, at, 4, (uint)(start - 1));
                WriteBytes(stack, at + 4, 4, (uint)end);
                return 0;
            }
            case Kfunc.IterNumNext:
            {
                var at = IterAt(r[1], pc, "bpf_iter_num_next");
                int cur = (int)ReadBytes(stack, at, 4), end = (int)ReadBytes(stack, at + 4, 4);
                if ((long)cur + 1 >= end)
                {
                    WriteBytes(stack, at, 8, 0);
                    return 0;
                }
                WriteBytes(stack, at, 4, (uint)(cur + 1));
                return (long)r[1];
            }
            case Kfunc.IterNumDestroy:
                WriteBytes(stack, IterAt(r[1], pc, "bpf_iter_num_destroy"), 8, 0);
                return 0;
            case Kfunc.TaskSetSlice:
            case Kfunc.TaskSetDsqVtime:
            {
                // The same model call as a write of p->scx.slice / dsq_vtime; a scheduler always
                // has authority over its own tasks (the model has no sub-schedulers): true.
                var name = k == Kfunc.TaskSetSlice ? "scx_bpf_task_set_slice" : "scx_bpf_task_set_dsq_vtime";
                var p = TaskArg(r[1], pc, name, 0);
                if (p.IsNone) throw Fault(pc, $"{name}: arg#0 pointer type STRUCT task_struct must point to a valid task, not NULL");
                if (k == Kfunc.TaskSetSlice) await ctx.TaskSetSlice(p, (long)r[2]);
                else await ctx.TaskSetDsqVtime(p, (long)r[2]);
                return 1;
            }
            case Kfunc.PreemptDisable:
                // Callbacks already run with preemption off (under the rq lock) and every other CPU is an actor of
                // its own, so nothing changes; only the verifier's balance check is kept.
                _preemptDepth++;
                return 0;
            case Kfunc.PreemptEnable:
                if (_preemptDepth == 0) throw Fault(pc, "unmatched attempt to enable preemption (kernel function bpf_preempt_enable)");
                _preemptDepth--;
                return 0;
            case Kfunc.StreamVprintk:
            {
                // bpf_stream_vprintk[_impl](stream_id, fmt, args, len, aux): a line for user space's BPF_STDOUT (1) or
                // BPF_STDERR (2) stream, into the trace; -ENOENT for another stream, -EINVAL for a bad argument size.
                if ((int)r[1] is not (1 or 2)) return -ENOENT;
                if (!VarargsValid(r[3], r[4])) return -EINVAL;
                var f = await CString(ctx, r[2], 1024, stack, pc);
                await ctx.Printk($"{((int)r[1] == 1 ? "stdout" : "stderr")}: {await Format(ctx, f, null, r[3], (int)r[4], stack, pc)}");
                return 0;
            }
            case Kfunc.ArenaAllocPages:
                return await ArenaAlloc(ctx, r, pc);
            case Kfunc.ArenaFreePages:
                await ArenaFree(ctx, r, pc);
                return 0;
            case Kfunc.RcuReadLock:
                // An RCU read-side section: nothing the model frees while a program runs, so only
                // the verifier's bookkeeping (balanced, closed before exit) is kept.
                _rcuDepth++;
                return 0;
            case Kfunc.RcuReadUnlock:
                if (_rcuDepth == 0) throw Fault(pc, "unmatched rcu read unlock (kernel function bpf_rcu_read_unlock)");
                _rcuDepth--;
                return 0;
            case Kfunc.ReenqueueLocal:
                return await Need<CpuReleaseContext>(ctx, pc, "scx_bpf_reenqueue_local").ReenqueueLocal();
            case Kfunc.SelectCpuAnd or Kfunc.SelectCpuAndArgs:
            {
                const string name = "scx_bpf_select_cpu_and";
                var p = TaskArg(r[1], pc, name, 0);
                ulong mask, flags;
                int prev;
                if (k == Kfunc.SelectCpuAnd)
                {
                    (prev, mask, flags) = ((int)r[2], r[4], r[5]);
                }
                else
                {
                    // struct scx_bpf_select_cpu_and_args, at the model's layout (the program's stores were relocated to it).
                    mask = r[2];
                    prev = (int)(uint)await Load(ctx, r[3], 4, stack, pc);
                    flags = await Load(ctx, r[3] + 16, 8, stack, pc);
                }
                // SCX_KF_SELECT_CPU | SCX_KF_ENQUEUE: ops.select_cpu and ops.enqueue (the model has no unlocked caller).
                if (ctx is not EnqueueContext e || ctx is DispatchContext) throw Fault(pc, $"calling kernel function {name} is not allowed in ops.{ScxCallbacks.OpName(ctx.Callback)}()");
                // SCX_PICK_IDLE_CORE and SCX_PICK_IDLE_IN_NODE change nothing on the model's one node of single-thread cores.
                if ((flags & ~3UL) != 0) throw NotModelled(pc, $"{name}: flags 0x{flags:x} are not modelled");
                if (mask == 0) throw Fault(pc, $"{name}: arg#3 cpus_allowed is NULL");
                return await e.SelectCpuAnd(p, prev, await MaskBits(ctx, mask, pc, name));
            }
            case Kfunc.DsqInsertVtimeArgs:
            {
                const string name = "scx_bpf_dsq_insert_vtime";
                var p = TaskArg(r[1], pc, name, 0);
                var a = r[2];
                ulong dsq = await Load(ctx, a, 8, stack, pc), slice = await Load(ctx, a + 8, 8, stack, pc),
                    vtime = await Load(ctx, a + 16, 8, stack, pc), flags = await Load(ctx, a + 24, 8, stack, pc);
                return await Need<EnqueueContext>(ctx, pc, name).DsqInsertVtime(p, dsq, (long)slice, (long)vtime, (EnqFlags)flags) ? 1 : 0;
            }
            case Kfunc.NrNodeIds:
                return 1;
            case Kfunc.CpuNode:
            {
                var cpu = (int)r[1];
                if (cpu >= 0 && cpu < ctx.NrCpuIds) return 0;
                await ctx.KernelError($"invalid CPU {cpu}");
                return -1; // NUMA_NO_NODE
            }
            case Kfunc.GetIdleCpumaskNode:
            {
                // validate_node(): per-node idle tracking must be on; NUMA_NO_NODE gets no mask and no error.
                var node = (int)r[1];
                if ((ctx.M.Ops.Flags & OpsFlags.BuiltinIdlePerNode) == 0) await ctx.KernelError("per-node idle tracking is disabled");
                else if (node == -1) { }
                else if (node != 0) await ctx.KernelError($"invalid node {node}");
                else return (long)Mem.Addr(Region.IdleCpumask, 0, 0);
                return (long)Mem.Addr(Region.EmptyCpumask, 0, 0);
            }
            case Kfunc.CpuperfSet:
            {
                // scx_bpf_cpuperf_set(): the target is range-checked, then the CPU; cpufreq itself is not modelled.
                int cpu = (int)r[1];
                var perf = (uint)r[2];
                if (perf > CpuperfOne) await ctx.KernelError($"Invalid cpuperf target {perf} for CPU {cpu}");
                else if (cpu < 0 || cpu >= ctx.NrCpuIds) await ctx.KernelError($"invalid CPU {cpu}");
                return 0;
            }
            case Kfunc.CpuperfCur or Kfunc.CpuperfCap:
            {
                var cpu = (int)r[1];
                if (cpu < 0 || cpu >= ctx.NrCpuIds) await ctx.KernelError($"invalid CPU {cpu}");
                return CpuperfOne;
            }
            case Kfunc.DsqIterNew:
            {
                var at = DsqIterAt(r[1], pc, "bpf_iter_scx_dsq_new");
                WriteBytes(stack, at, 8, r[2]);
                for (var o = 8; o < DsqIterSize; o += 8) WriteBytes(stack, at + o, 8, 0);
                if ((r[3] & ~DsqIterRev) != 0) return -EINVAL; // __SCX_DSQ_ITER_USER_FLAGS
                var seq = await ctx.DsqIterNew(r[2]);
                if (seq < 0) return seq; // -ENOENT: kit->dsq stays NULL, every next returns NULL
                WriteBytes(stack, at + 8, 4, (uint)seq);
                WriteBytes(stack, at + 12, 2, 0xffff);
                WriteBytes(stack, at + 14, 2, DsqIterValid | ((r[3] & DsqIterRev) != 0 ? DsqIterReverse : 0));
                return 0;
            }
            case Kfunc.DsqIterNext:
            {
                var at = DsqIterAt(r[1], pc, "bpf_iter_scx_dsq_next");
                var it = ReadDsqIter(stack, at, out var valid);
                if (!valid) return 0;
                var next = await ctx.DsqIterNext(it);
                WriteBytes(stack, at + 16, 8, (ulong)next.Visited);
                WriteBytes(stack, at + 24, 8, (ulong)(next.Visited >> 64));
                WriteBytes(stack, at + 12, 2, (ushort)next.Current);
                return next.Current < 0 ? 0 : (long)Mem.Addr(Region.Task, next.Current, 0);
            }
            case Kfunc.DsqIterDestroy:
            {
                var at = DsqIterAt(r[1], pc, "bpf_iter_scx_dsq_destroy");
                for (var o = 0; o < DsqIterSize; o += 8) WriteBytes(stack, at + o, 8, 0);
                return 0;
            }
            case Kfunc.DsqReenq:
                // v7.1's only user flag is SCX_REENQ_ANY (1), which 0 means too; the kernel refuses the others.
                if ((r[2] & ~1UL) != 0) throw Fault(pc, $"scx_bpf_dsq_reenq: invalid SCX_REENQ flags 0x{r[2]:x}");
                await ctx.DsqReenq(r[1]);
                return 0;
            case Kfunc.ReenqueueLocalAnywhere:
                await ctx.DsqReenq(DsqId.Local);
                return 0;
            case Kfunc.DumpBstr:
                throw Fault(pc, "scx_bpf_dump_bstr: only ops.dump(), ops.dump_cpu() and ops.dump_task() may call it");
            case Kfunc.Events:
            {
                // scx_bpf_events(events, events__sz): min(events__sz, sizeof(struct scx_event_stats)) bytes of the
                // counters, read one by one (the kernel sums per-CPU counters without a lock).
                var n = (int)Math.Min(r[2], (ulong)ModelTypes.ScxEventStats.Size);
                for (var o = 0; o < n; o += 8)
                {
                    var v = (ulong)await ctx.EventCounter(o / 8);
                    for (var piece = 0; piece < Math.Min(8, n - o);)
                    {
                        var size = n - o - piece >= 8 ? 8 : n - o - piece >= 4 ? 4 : n - o - piece >= 2 ? 2 : 1;
                        await Store(ctx, r[1] + (ulong)(o + piece), size, Truncate(v >> (8 * piece), size), stack, pc);
                        piece += size;
                    }
                }
                return 0;
            }
            case Kfunc.CpuRq:
            {
                // scx_bpf_cpu_rq() (deprecated since v6.18, still in 7.x): ops_cpu_valid() (an invalid CPU is scx_error
                // and NULL, as scx_bpf_cpu_curr()), then the CPU's rq, whose curr the program reads unlocked.
                var cpu = (int)r[1];
                if (cpu < 0 || cpu >= cpuCount)
                {
                    await ctx.CpuCurr(cpu);
                    return 0;
                }
                return (long)Mem.Addr(Region.Ctx, RqCtx + cpu, 0);
            }
            case Kfunc.LockedRq:
            {
                // scx_bpf_locked_rq(): the rq the running op was called with locked (scx_locked_rq()); none — ops.init,
                // ops.select_cpu (p's pi_lock only), a timer, a syscall program — is scx_error() and NULL.
                var held = ctx.M.RqLockedBy(ctx.ActorId);
                if (held < 0)
                {
                    await ctx.KernelError("accessing rq without holding rq lock");
                    return 0;
                }
                return (long)Mem.Addr(Region.Ctx, RqCtx + held, 0);
            }
            case Kfunc.CpuCurr:
            {
                // An idle CPU's curr is its idle task, swapper/N: a pointer whose fields can be read.
                var curr = await ctx.CpuCurr((int)r[1]);
                return curr switch { -2 => 0, -1 => (long)Mem.Addr(Region.Task, IdleTaskBase + (int)r[1], 0), _ => (long)Mem.Addr(Region.Task, curr, 0) };
            }
            case Kfunc.CpumaskAnyDistribute:
            case Kfunc.CpumaskAnyAndDistribute:
            {
                // cpumask_any[_and]_distribute(): the next set CPU (of src1 & src2) after this CPU's
                // distribute_cpu_mask_prev, wrapping (the first pick skips CPU 0), remembered per CPU; >= nr_cpu_ids
                // when there is none.
                var bits = await MaskBits(ctx, r[1], pc, "bpf_cpumask_any_distribute");
                if (k == Kfunc.CpumaskAnyAndDistribute) bits = bits.And(await MaskBits(ctx, r[2], pc, "bpf_cpumask_any_and_distribute"));
                if (bits.Below(cpuCount).IsEmpty) return cpuCount;
                // The kernel's per-CPU rotor (CpuState.DistributePrev), shared with scx_pick_idle_cpu().
                var c = await ctx.AnyDistribute(bits);
                return c >= 0 ? c : cpuCount;
            }
            case Kfunc.DsqMove or Kfunc.DsqMoveVtime:
            {
                var name = k == Kfunc.DsqMove ? "scx_bpf_dsq_move" : "scx_bpf_dsq_move_vtime";
                var at = DsqIterAt(r[1], pc, name);
                var p = TaskArg(r[2], pc, name, 1);
                var dispatch = Need<DispatchContext>(ctx, pc, name);
                var it = ReadDsqIter(stack, at, out var valid);
                if (!valid) return 0; // "if (unlikely(!src_dsq)) return false": the iterator found no DSQ
                var flags = (EnqFlags)r[4] | (k == Kfunc.DsqMoveVtime ? EnqFlags.DsqPriq : 0);
                var state = (uint)ReadBytes(stack, at + 14, 2);
                long? slice = (state & DsqIterHasSlice) != 0 ? (long)ReadBytes(stack, at + 32, 8) : null;
                long? vtime = (state & DsqIterHasVtime) != 0 ? (long)ReadBytes(stack, at + 40, 8) : null;
                var moved = await dispatch.DsqMove(it, p, r[3], flags, slice, vtime);
                // scx_dsq_move()'s out: the overrides are spent whether or not p moved.
                WriteBytes(stack, at + 14, 2, state & ~(DsqIterHasSlice | DsqIterHasVtime));
                return moved ? 1 : 0;
            }
            case Kfunc.DsqMoveSetSlice or Kfunc.DsqMoveSetVtime:
            {
                // kit->slice / kit->vtime and the HAS flag: the iterator is on the program's stack, so no interleaving point.
                var at = DsqIterAt(r[1], pc, k == Kfunc.DsqMoveSetSlice ? "scx_bpf_dsq_move_set_slice" : "scx_bpf_dsq_move_set_vtime");
                var state = (uint)ReadBytes(stack, at + 14, 2);
                WriteBytes(stack, at + (k == Kfunc.DsqMoveSetSlice ? 32 : 40), 8, r[2]);
                WriteBytes(stack, at + 14, 2, state | (k == Kfunc.DsqMoveSetSlice ? DsqIterHasSlice : DsqIterHasVtime));
                return 1;
            }
            default:
                throw new System.Diagnostics.UnreachableException($"kfunc {k}");
        }
    }

    /// <summary>BPF_MAX_LOOPS: the most iterations bpf_iter_num_new() accepts.</summary>
    private const long BpfMaxLoops = 8 * 1024 * 1024;

    /// <summary>The verifier only accepts an iterator in the program's own stack.</summary>
    /// <summary>
    /// struct bpf_iter_scx_dsq (48 bytes on the program's stack) as the model lays it out: dsq_id (8), the u32 seq
    /// snapshot, the current task (16 bits), flags (16 bits: valid = kit->dsq is set, reverse, has slice, has vtime),
    /// the 128-bit set of tasks already returned (the cursor's place: see <see cref="DsqIter"/>), kit->slice, kit->vtime.
    /// </summary>
    private const int DsqIterSize = 48;
    private const ulong DsqIterRev = 1UL << 16; // SCX_DSQ_ITER_REV
    private const uint DsqIterValid = 1, DsqIterReverse = 2, DsqIterHasSlice = 4, DsqIterHasVtime = 8;
    private const long CpuperfOne = 1024; // SCX_CPUPERF_ONE

    private int DsqIterAt(ulong it, int pc, string kfunc)
    {
        if (Mem.RegionOf(it) != Region.Stack) throw Fault(pc, $"{kfunc}: arg#0 expected an iterator on the stack");
        return StackAt(Mem.Index(it), Mem.Offset(it), DsqIterSize, pc);
    }

    private static DsqIter ReadDsqIter(byte[] stack, int at, out bool valid)
    {
        var state = (uint)ReadBytes(stack, at + 14, 2);
        valid = (state & DsqIterValid) != 0;
        var visited = ((UInt128)ReadBytes(stack, at + 24, 8) << 64) | ReadBytes(stack, at + 16, 8);
        return new DsqIter(ReadBytes(stack, at, 8), (long)ReadBytes(stack, at + 8, 4), (short)ReadBytes(stack, at + 12, 2),
            Started: true, visited, Rev: (state & DsqIterReverse) != 0);
    }

    private int IterAt(ulong it, int pc, string kfunc)
    {
        if (Mem.RegionOf(it) != Region.Stack) throw Fault(pc, $"{kfunc}: arg#0 expected an iterator on the stack");
        return StackAt(Mem.Index(it), Mem.Offset(it), 8, pc);
    }

    /// <summary>The task index `current` has when it is a process the model does not have (the one running a syscall program while attached).</summary>
    internal const int UnmodelledTask = 0xFFFFFF;

    /// <summary>p->policy values (include/uapi/linux/sched.h).</summary>
    private const ulong SchedNormal = 0, SchedExt = 7;

    /// <summary>
    /// Region.Task indices IdleTaskBase + cpu: CPU cpu's idle task, swapper/cpu (what scx_bpf_cpu_curr() of an idle CPU,
    /// and `current` on it, return). A scheduler may read its fields (<see cref="IdleTaskLoad"/>); nothing else.
    /// </summary>
    internal const int IdleTaskBase = 0xFFFE00;

    private static bool IsIdleTask(int idx) => idx >= IdleTaskBase && idx < IdleTaskBase + ScxConst.MaxCpus;

    /// <summary>
    /// The task index of the model's tasks' parent (p->real_parent, p->parent): the process that started them, outside
    /// the model. The model's tasks are children of init, pid 1 (services a system's init started; a task the model
    /// runs never forks or exits into a new parent), so a scheduler that groups tasks by parent sees them as siblings.
    /// Its identity (pid, tgid, comm, its own parent init_task) is constant; anything else about it is a model limit.
    /// </summary>
    internal const int ParentTask = 0xFFFFFE;

    private const string ParentTaskUse = "the parent process of the model's tasks (init, pid 1) is outside the model: only its identity (pid, tgid, comm, flags, parent) is modelled";

    /// <summary>
    /// The kernel thread sched_ext runs its enable and disable paths on — `current` for the model's helper actor, whose
    /// steps stand for them: scx_enable_helper while the model boots (scx_enable() queues scx_root_enable_workfn() on it),
    /// sched_ext_helper after (the scheduler's helper, which runs scx_disable_workfn()). A SCHED_FIFO kthread
    /// (sched_set_fifo(): priority 50, so p->prio 49), child of kthreadd.
    /// </summary>
    internal const int HelperTask = 0xFFFFFD;

    /// <summary>
    /// Region.Task indices ScriptProcessBase + actor: the user process a scenario's scripted actor runs (a taskset, a
    /// renice, a waker) — `current` in the callbacks its syscalls reach. A SCHED_NORMAL process at nice 0, child of init,
    /// named after the actor, with a pid above every modelled task's (<see cref="ScriptProcessPid"/>); anything else
    /// about it (its mm, its storage, its runtime, passing it to a kfunc) is a model limit.
    /// </summary>
    internal const int ScriptProcessBase = 0xFFFC00;

    private const int MaxScriptProcesses = 0x100;

    private static bool IsScriptProcess(int idx) => idx >= ScriptProcessBase && idx < ScriptProcessBase + MaxScriptProcesses;

    private const string ScriptProcessUse = "the process a scenario's scripted actor runs is outside the model: only its identity (pid, tgid, comm, flags, scheduling policy and priority, state, parent) is modelled";

    /// <summary>The pid of actor <paramref name="actor"/>'s process: past the highest pid of the model's tasks, in actor order.</summary>
    private static long ScriptProcessPid(BpfContext ctx, int actor) =>
        ctx.M.Config.Tasks.Select(t => (long)t.Pid).DefaultIfEmpty(0).Max() + 1 + actor;

    private ulong ScriptProcessLoad(BpfContext ctx, int actor, int off, int size, int pc)
    {
        var f = ModelTypes.TaskFieldAt(off) ?? throw Fault(pc, $"invalid access to task_struct at off={off}");
        if (f.Field != TaskField.Comm && (f.Within != 0 || f.Size != size)) throw Fault(pc, $"partial read of task_struct field {f.Field} (off={off} size={size})");
        return f.Field switch
        {
            TaskField.Pid or TaskField.Tgid => (ulong)ScriptProcessPid(ctx, actor),
            TaskField.Comm => CommBytes(ctx.M.Actor(actor).Name, f.Within, size),
            TaskField.Flags => 0, // a user process: no PF_KTHREAD
            TaskField.Policy => SchedNormal,
            TaskField.Prio or TaskField.StaticPrio => 120,
            TaskField.State => 0, // TASK_RUNNING: it is making the syscall
            TaskField.RealParent or TaskField.Parent => Mem.Addr(Region.Task, ParentTask, 0),
            _ => throw NotModelled(pc, $"p->{f.Field} of {ctx.M.Actor(actor).Name}'s process: {ScriptProcessUse}"),
        };
    }

    /// <summary>kthreadd (pid 2), the parent of every kernel thread; a child of init_task (swapper/0).</summary>
    internal const int KthreaddTask = 0xFFFFFC;

    private const string KernelThreadUse = "sched_ext's helper kthread and kthreadd are outside the model: only their flags, comm, scheduling policy and priority, state and parent (and kthreadd's pid) are modelled";

    private static string HelperComm(BpfContext ctx) => ctx.M.Booting ? "scx_enable_helper" : "sched_ext_helper";

    private ulong KernelThreadLoad(BpfContext ctx, int idx, int off, int size, int pc)
    {
        const ulong PfKthread = 0x00200000, SchedFifo = 1;
        var helper = idx == HelperTask;
        var f = ModelTypes.TaskFieldAt(off) ?? throw Fault(pc, $"invalid access to task_struct at off={off}");
        if (f.Field != TaskField.Comm && (f.Within != 0 || f.Size != size)) throw Fault(pc, $"partial read of task_struct field {f.Field} (off={off} size={size})");
        return f.Field switch
        {
            TaskField.Flags => PfKthread,
            TaskField.Comm => CommBytes(helper ? HelperComm(ctx) : "kthreadd", f.Within, size),
            TaskField.RealParent or TaskField.Parent => Mem.Addr(Region.Task, helper ? KthreaddTask : IdleTaskBase, 0),
            TaskField.Pid or TaskField.Tgid when !helper => 2,
            TaskField.Policy => helper ? SchedFifo : SchedNormal,
            TaskField.Prio => helper ? 49UL : 120,
            TaskField.StaticPrio => 120,
            TaskField.State => 0, // TASK_RUNNING: the helper is running; kthreadd is only read about
            _ => throw NotModelled(pc, $"p->{f.Field} of {(helper ? "sched_ext's helper kthread" : "kthreadd")}: {KernelThreadUse}"),
        };
    }

    private ulong ParentTaskLoad(int off, int size, int pc)
    {
        var f = ModelTypes.TaskFieldAt(off) ?? throw Fault(pc, $"invalid access to task_struct at off={off}");
        if (f.Field != TaskField.Comm && (f.Within != 0 || f.Size != size)) throw Fault(pc, $"partial read of task_struct field {f.Field} (off={off} size={size})");
        return f.Field switch
        {
            TaskField.Pid or TaskField.Tgid => 1,
            TaskField.Comm => CommBytes("init", f.Within, size),
            TaskField.Flags => 0,
            TaskField.RealParent or TaskField.Parent => Mem.Addr(Region.Task, IdleTaskBase, 0), // init_task, swapper/0
            _ => throw NotModelled(pc, $"p->{f.Field} of the parent process: {ParentTaskUse}"),
        };
    }

    private ModelLimitException IdleTaskUse(int pc, int idx, string what) =>
        NotModelled(pc, $"{what}: the idle task swapper/{idx - IdleTaskBase} is modelled for field reads only");

    /// <summary>
    /// The policy's struct bpf_cpumask objects: <see cref="CpumaskPoolSize"/> slots of <see cref="PoolStride"/> shared
    /// words each, [reference count, CPU bits] with a word of bits per 64 CPUs (one up to 64 CPUs, four at 256).
    /// bpf_cpumask_create() claims a free slot in one step (<see cref="MemOp.ClaimPair"/>).
    /// </summary>
    internal MapHandle CpumaskPool;
    /// <summary>Per task-storage map (by map index): each task's storage state word (0 never made, 1 linked, 2 being made, 3 deleted).</summary>
    internal MapHandle[] StorageState = [];
    /// <summary>Whether the struct bpf_timer at (map, byte offset in its values) has a timer actor (BpfObjectPolicy).</summary>
    internal Func<int, int, bool> TimerHasActor = static (_, _) => true;
    /// <summary>How many struct bpf_timer instances got actors (bounds: bpf_timers), for the limit's message.</summary>
    internal int TimerActors;
    /// <summary>Objects in <see cref="CpumaskPool"/> (<see cref="CpumaskPoolSlots"/> of the scenario).</summary>
    internal int CpumaskPoolSize;

    /// <summary>
    /// The struct bpf_cpumask pool for a scenario: room for per-task masks (scx_cosmos, scx_bpfland keep one or two per
    /// task), per-CPU ones (domains, LLC, SMT siblings) and a few globals. Its size changes no search: bpf_cpumask_create()
    /// claims the first free slot either way.
    /// </summary>
    internal static int CpumaskPoolSlots(int tasks, int cpus) => 16 + 2 * tasks + 4 * cpus;

    /// <summary>Words a pool slot takes: its reference count and a word of CPU bits per 64 CPUs.</summary>
    internal static int PoolStrideFor(int cpus) => 1 + CpuMask.WordsFor(cpus);

    private int PoolStride => PoolStrideFor(cpuCount);

    /// <summary>How many 64-bit words of a cpumask hold this machine's CPUs (the kernel's bitmaps are unsigned longs).</summary>
    private int MaskWords => CpuMask.WordsFor(cpuCount);

    /// <summary>The bits of word <paramref name="w"/> that stand for CPUs below nr_cpu_ids.</summary>
    private ulong ValidWord(int w) => CpuMask.ValidBits(w, cpuCount);

    /// <summary>
    /// Word <paramref name="w"/> (CPUs 64w..64w+63) of a cpumask argument: a bpf_cpumask, p->cpus_ptr, the idle or the
    /// online mask. Each read of shared or kernel state is an access of its own.
    /// </summary>
    private async BpfTask<ulong> MaskWord(BpfContext ctx, ulong mask, int w, int pc, string kfunc)
    {
        switch (Mem.RegionOf(mask))
        {
            case Region.BpfCpumask: return (ulong)await ctx.Get(CpumaskPool, PoolStride * Mem.Index(mask) + 1 + w);
            case Region.TaskCpumask when IsIdleTask(Mem.Index(mask)):
            {
                var cpu = Mem.Index(mask) - IdleTaskBase;
                return cpu >> 6 == w ? 1UL << (cpu & 63) : 0;
            }
            case Region.TaskCpumask: return (ulong)await ctx.TaskCpusMask(new TaskRef(Mem.Index(mask)), w);
            case Region.IdleCpumask: return (ulong)await ctx.IdleMaskBits(w);
            case Region.OnlineCpumask: return ValidWord(w);
            case Region.EmptyCpumask: return 0;
            case Region.Global or Region.MapValue:
            {
                var (h, o) = SharedMask(mask, w, pc, kfunc, false);
                return (ulong)await ctx.Get(h, o >> 3);
            }
            case Region.None when mask == 0: throw Fault(pc, $"{kfunc}: NULL cpumask");
            default: throw Fault(pc, $"{kfunc}: expected a struct cpumask pointer");
        }
    }

    /// <summary>A whole cpumask argument, read a word at a time (<see cref="MaskWord"/>; one word up to 64 CPUs).</summary>
    private async BpfTask<CpuMask> MaskBits(BpfContext ctx, ulong mask, int pc, string kfunc)
    {
        var m = default(CpuMask);
        for (var w = 0; w < MaskWords; w++) m.SetWord(w, await MaskWord(ctx, mask, w, pc, kfunc));
        return m;
    }

    private int BpfMaskSlot(ulong mask, int pc, string kfunc) =>
        Mem.RegionOf(mask) == Region.BpfCpumask ? Mem.Index(mask) : throw Fault(pc, $"{kfunc}: expected a struct bpf_cpumask (from bpf_cpumask_create)");

    /// <summary>
    /// Word <paramref name="w"/> of a struct bpf_cpumask the program keeps in its own memory rather than from
    /// bpf_cpumask_create() — a global or a map value of that type (scx_lavd's <c>private(LAVD) struct bpf_cpumask
    /// cpdom_cpumask[]</c>), which the verifier lets the cpumask kfuncs write: struct cpumask's bits come first, CPUs
    /// 0–63 in the first word. No reference count: acquire and release still want one from bpf_cpumask_create().
    /// </summary>
    private (MapHandle H, int Offset) SharedMask(ulong mask, int w, int pc, string kfunc, bool write)
    {
        var (h, o, _) = Shared(mask + 8 * (ulong)w, 8, pc, write);
        if (o % 8 != 0) throw Fault(pc, $"{kfunc}: misaligned struct bpf_cpumask (off={Mem.Offset(mask)})");
        return (h, o);
    }

    /// <summary>A cpumask a kfunc writes: a bpf_cpumask from the pool, or one in the program's own memory (every word in bounds).</summary>
    private void WritableMask(ulong mask, int pc, string kfunc)
    {
        if (Mem.RegionOf(mask) is Region.Global or Region.MapValue)
            for (var w = 0; w < MaskWords; w++) SharedMask(mask, w, pc, kfunc, true);
        else BpfMaskSlot(mask, pc, kfunc);
    }

    /// <summary>
    /// A store or atomic (set_bit, clear_bit, …) on word <paramref name="w"/> of a writable cpumask (a bpf_cpumask, or
    /// one in the program's memory): returns the word's old bits.
    /// </summary>
    private async BpfTask<ulong> MaskWordWrite(BpfContext ctx, ulong mask, int w, MemOp op, ulong operand, int pc, string kfunc)
    {
        if (Mem.RegionOf(mask) is Region.Global or Region.MapValue)
        {
            var (h, o) = SharedMask(mask, w, pc, kfunc, true);
            return (ulong)await ctx.MemWrite(h, MemWriteKey(o, 8, op), (long)operand);
        }
        var slot = BpfMaskSlot(mask, pc, kfunc);
        return (ulong)await ctx.MemWrite(CpumaskPool, MemWriteKey((PoolStride * slot + 1 + w) * 8, 8, op), (long)operand);
    }

    /// <summary>The lowest set CPU of word <paramref name="w"/>'s non-zero <paramref name="bits"/>, or nr_cpu_ids when that is past the machine.</summary>
    private long FirstBit(ulong bits, int w) => Math.Min(cpuCount, 64 * w + System.Numerics.BitOperations.TrailingZeroCount(bits));

    private const string UnmodelledTaskUse =
        "bpf_get_current_task_btf() returned a task the model does not have (the user-space process running a syscall program while attached): only comparing it is modelled";

    /// <summary>bpf_trace_vprintk()'s and bpf_stream_vprintk()'s check of their u64 arguments: whole words, at most
    /// MAX_BPRINTF_VARARGS (12), and a buffer when there are any.</summary>
    private static bool VarargsValid(ulong data, ulong len) => len % 8 == 0 && len <= 96 && (len == 0 || data != 0);

    /// <summary>bpf_trace_printk's formatting: <paramref name="values"/> are the arguments themselves (registers).</summary>
    private async BpfTask<string> FormatValues(BpfContext ctx, ulong fmt, int fmtSize, ulong[] values, byte[] stack, int pc) =>
        await Format(ctx, await CString(ctx, fmt, Math.Clamp(fmtSize, 0, 1024), stack, pc), values, 0, 0, stack, pc);

    /// <summary>scx_bpf_error_bstr/exit_bstr's formatting: the arguments are u64 words at <paramref name="data"/>.</summary>
    private async BpfTask<string> Format(BpfContext ctx, ulong fmt, ulong data, int dataSize, byte[] stack, int pc)
    {
        var f = await CString(ctx, fmt, 1024, stack, pc);
        if (dataSize % 8 != 0) throw Fault(pc, $"bstr data size {dataSize} is not a multiple of 8");
        return await Format(ctx, f, null, data, dataSize, stack, pc);
    }

    /// <summary>
    /// The conversions bpf_bprintf_prepare() accepts for both (%d %i %u %x %X %c %p %s with l/ll/z), arguments from
    /// registers (<paramref name="values"/>) or, when that is null, read from memory one word as each is needed, as
    /// the kernel copies them (each read of shared memory is an interleaving point, in the same order as before).
    /// </summary>
    private async BpfTask<string> Format(BpfContext ctx, string f, ulong[]? values, ulong data, int dataSize, byte[] stack, int pc)
    {
        var printk = values != null;
        var sb = new StringBuilder();
        var arg = 0;
        for (var i = 0; i < f.Length; i++)
        {
            var c = f[i];
            if (c != '%') { sb.Append(c); continue; }
            if (i + 1 < f.Length && f[i + 1] == '%') { sb.Append('%'); i++; continue; }
            var j = i + 1;
            while (j < f.Length && (f[j] is 'l' or 'h' or 'z' || char.IsDigit(f[j]) || f[j] is '-' or '.')) j++;
            if (printk && (j >= f.Length || arg >= values!.Length)) throw Fault(pc, $"bpf_trace_printk: bad format string '{f}' (at most 3 arguments)");
            if (j >= f.Length) throw Fault(pc, $"bad format string '{f}'");
            if (!printk && arg * 8 >= dataSize) throw Fault(pc, $"format '{f}' needs more arguments than the {dataSize / 8} given");
            var v = printk ? values![arg] : await Load(ctx, data + (ulong)(arg * 8), 8, stack, pc);
            arg++;
            var spec = f[(i + 1)..(j + 1)];
            var is64 = spec.Contains('l') || spec.Contains('z');
            sb.Append(f[j] switch
            {
                'd' or 'i' => is64 ? ((long)v).ToString(CultureInfo.InvariantCulture) : ((int)v).ToString(CultureInfo.InvariantCulture),
                'u' => is64 ? v.ToString(CultureInfo.InvariantCulture) : ((uint)v).ToString(CultureInfo.InvariantCulture),
                'x' => is64 ? v.ToString("x", CultureInfo.InvariantCulture) : ((uint)v).ToString("x", CultureInfo.InvariantCulture),
                'X' => is64 ? v.ToString("X", CultureInfo.InvariantCulture) : ((uint)v).ToString("X", CultureInfo.InvariantCulture),
                'c' => ((char)(byte)v).ToString(),
                'p' => $"0x{v:x}",
                's' => await CString(ctx, v, 256, stack, pc),
                _ => throw Fault(pc, $"{(printk ? "bpf_trace_printk: " : "")}unsupported format specifier %{spec}"),
            });
            i = j;
        }
        return sb.ToString();
    }

    private async BpfTask<string> CString(BpfContext ctx, ulong ptr, int max, byte[] stack, int pc)
    {
        var bytes = new List<byte>();
        for (var k = 0; k < max; k++)
        {
            var b = (byte)await Load(ctx, ptr + (ulong)k, 1, stack, pc);
            if (b == 0) break;
            bytes.Add(b);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
