namespace Scxlab.BpfObject;

/// <summary>
/// Which poisoned instructions (failed CO-RE relocations, <see cref="CallType.Poison"/>) a program can reach, as
/// the verifier decides it at load: it follows both sides of a branch unless the branch compares registers whose
/// values it knows, and it knows constants, <c>bpf_core_*_exists()</c> results (immediates after relocation) and
/// values read from frozen <c>.rodata</c> (the const volatile settings). This pass propagates exactly those: a
/// register is a known 64-bit value or unknown; plain ALU on known values is folded; everything else makes the
/// result unknown, which keeps both branches (so a poison is never declared dead when the verifier could reach it).
/// </summary>
internal static class PoisonReachability
{
    private const ulong Unknown = 0x5EED_0BAD_0BAD_5EED; // never a value the analysis folds to (checked via the known mask)

    /// <summary>
    /// r1 of ops.init_task: its argument array, whose second word points at struct scx_init_task_args. The model
    /// knows more than the verifier here, and only here: fork is false (no task is forked) and cgroup is the root cgroup,
    /// never NULL (the model's one cgroup), so a branch on them that the model can never take is not reachable.
    /// </summary>
    internal static readonly ulong InitTaskArgArray = Mem.Addr(Region.Ctx, 0x7ff, 0);

    /// <summary>The first reachable poison: (instruction index, message), or null.</summary>
    public static (int Pc, string Message)? FirstReachable(BpfObjectFile obj, IEnumerable<int> entries, int initTaskEntry = -1)
    {
        var code = obj.Insns;
        if (obj.Poisons.Count == 0) return null;
        // Per instruction: the register state that reaches it (values and a known-mask), merged at joins.
        var values = new ulong[code.Length][];
        var known = new int[code.Length];
        var seen = new bool[code.Length];
        var work = new Stack<int>();

        void Flow(int pc, ulong[] v, int k)
        {
            if ((uint)pc >= (uint)code.Length) return;
            if (!seen[pc])
            {
                seen[pc] = true;
                values[pc] = (ulong[])v.Clone();
                known[pc] = k;
                work.Push(pc);
                return;
            }
            // Merge: a register stays known only if both paths agree on its value.
            var merged = known[pc];
            for (var r = 0; r < 11; r++)
                if ((merged & (1 << r)) != 0 && ((k & (1 << r)) == 0 || values[pc][r] != v[r])) merged &= ~(1 << r);
            if (merged != known[pc])
            {
                known[pc] = merged;
                work.Push(pc);
            }
        }

        foreach (var e in entries)
        {
            // r10 (frame pointer) is fixed; r1 (ctx) unknown, except ops.init_task's argument array.
            var regs = new ulong[11];
            if (e == initTaskEntry)
            {
                regs[1] = InitTaskArgArray;
                Flow(e, regs, (1 << 10) | (1 << 1));
            }
            else Flow(e, regs, 1 << 10);
        }
        while (work.Count > 0)
        {
            var pc = work.Pop();
            var v = (ulong[])values[pc].Clone();
            var k = known[pc];
            var i = code[pc];
            bool Known(int r) => (k & (1 << r)) != 0;
            void Set(int r, ulong val) { v[r] = val; k |= 1 << r; }
            void Forget(int r) { v[r] = Unknown; k &= ~(1 << r); }
            var cls = i.Op & 7;
            switch (cls)
            {
                case 0: // LD: ld_imm64 (two slots)
                    if (i.Op == 0x18)
                    {
                        if (i.Src is 0 or 2 or 4) Set(i.Dst, (ulong)i.Imm64); else Forget(i.Dst);
                        Flow(pc + 2, v, k);
                    }
                    else Flow(pc + 1, v, k);
                    break;
                case 1: // LDX: known only when it reads frozen rodata at a known address
                {
                    var size = (i.Op >> 3 & 3) switch { 0 => 4, 1 => 2, 2 => 1, _ => 8 };
                    if (Known(i.Src) && Mem.RegionOf(v[i.Src]) == Region.Rodata && (i.Op & 0xe0) == 0x60
                        && Mem.Index(v[i.Src]) < obj.Globals.Count && Mem.Offset(v[i.Src]) + i.Off is var at && at >= 0
                        && at + size <= obj.Globals[Mem.Index(v[i.Src])].Init.Length)
                    {
                        ulong val = 0;
                        var bytes = obj.Globals[Mem.Index(v[i.Src])].Init;
                        for (var b = 0; b < size; b++) val |= (ulong)bytes[at + b] << (8 * b);
                        Set(i.Dst, val);
                    }
                    else if (Known(i.Src) && (i.Op & 0xe0) == 0x60 && v[i.Src] == InitTaskArgArray && i.Off == 8 && size == 8)
                        Set(i.Dst, Mem.Addr(Region.Ctx, Interpreter.TaskArgsCtx, 0));
                    else if (Known(i.Src) && (i.Op & 0xe0) == 0x60 && Mem.RegionOf(v[i.Src]) == Region.Ctx && Mem.Index(v[i.Src]) == Interpreter.TaskArgsCtx)
                        Set(i.Dst, Mem.Offset(v[i.Src]) + i.Off == ModelTypes.InitTaskArgsCgroup && size == 8 ? Interpreter.RootCgroup : 0);
                    else Forget(i.Dst);
                    Flow(pc + 1, v, k);
                    break;
                }
                case 2 or 3: // ST/STX: registers unchanged (an atomic with fetch writes its source register)
                    if (cls == 3 && (i.Op & 0xe0) == 0xc0) { Forget(i.Src); Forget(0); }
                    Flow(pc + 1, v, k);
                    break;
                case 4 or 7: // ALU / ALU64
                {
                    var op = i.Op & 0xf0;
                    var useImm = (i.Op & 0x08) == 0;
                    var srcKnown = useImm || Known(i.Src);
                    var src = useImm ? (ulong)(long)i.Imm : v[i.Src];
                    ulong? res = op switch
                    {
                        0xb0 when srcKnown && i.Off == 0 => src, // mov
                        0x00 when srcKnown && Known(i.Dst) => v[i.Dst] + src,
                        0x10 when srcKnown && Known(i.Dst) => v[i.Dst] - src,
                        0x40 when srcKnown && Known(i.Dst) => v[i.Dst] | src,
                        0x50 when srcKnown && Known(i.Dst) => v[i.Dst] & src,
                        0xa0 when srcKnown && Known(i.Dst) => v[i.Dst] ^ src,
                        0x60 when srcKnown && Known(i.Dst) => v[i.Dst] << (int)(src & 63),
                        0x70 when srcKnown && Known(i.Dst) => v[i.Dst] >> (int)(src & 63),
                        _ => null,
                    };
                    if (res is { } r) Set(i.Dst, cls == 4 ? (uint)r : r); else Forget(i.Dst);
                    Flow(pc + 1, v, k);
                    break;
                }
                case 5 or 6: // JMP / JMP32
                {
                    var op = i.Op & 0xf0;
                    if (op == 0x90) break; // exit
                    if (cls == 5 && op == 0x80) // call
                    {
                        if (i.Call == CallType.Poison) return (pc, obj.Poisons[i.Target]);
                        if (i.Call == CallType.Subprog) Flow(i.Target, new ulong[11], 1 << 10);
                        for (var r = 0; r <= 5; r++) Forget(r);
                        Flow(pc + 1, v, k);
                        break;
                    }
                    if (op == 0x00) // ja (gotol in JMP32 takes its offset from imm)
                    {
                        Flow(pc + 1 + (cls == 6 ? i.Imm : i.Off), v, k);
                        break;
                    }
                    var useImm = (i.Op & 0x08) == 0;
                    bool? taken = null;
                    if (Known(i.Dst) && (useImm || Known(i.Src)))
                    {
                        ulong a = v[i.Dst], b = useImm ? (ulong)(long)i.Imm : v[i.Src];
                        if (cls == 6) { a = (uint)a; b = (uint)b; }
                        long sa = cls == 6 ? (int)a : (long)a, sb = cls == 6 ? (int)b : (long)b;
                        taken = op switch
                        {
                            0x10 => a == b, 0x50 => a != b, 0x20 => a > b, 0x30 => a >= b, 0xa0 => a < b, 0xb0 => a <= b,
                            0x40 => (a & b) != 0, 0x60 => sa > sb, 0x70 => sa >= sb, 0xc0 => sa < sb, 0xd0 => sa <= sb,
                            _ => null,
                        };
                    }
                    if (taken != false) Flow(pc + 1 + i.Off, v, k);
                    if (taken != true) Flow(pc + 1, v, k);
                    break;
                }
            }
        }
        return null;
    }
}
