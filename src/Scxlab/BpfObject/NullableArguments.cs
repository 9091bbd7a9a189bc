namespace Scxlab.BpfObject;

/// <summary>
/// The verifier's check of the sched_ext_ops arguments the kernel marks <c>__nullable</c> in its CFI stubs
/// (ops.dispatch's <c>prev</c>, ops.yield's <c>to</c>): such an argument is a <c>trusted_ptr_or_null_</c>, and a
/// program that dereferences it, or does arithmetic on it, on a path where it was not compared with NULL is refused
/// at load (the selftests maybe_null_fail_dsp and maybe_null_fail_yld assert this).
/// </summary>
/// <remarks>
/// Path by path, as the verifier explores: an abstract register (and 8-byte stack slot) is the nullable argument,
/// the argument known non-NULL, the context pointer, a constant (from <c>mov</c> of an immediate, so that a flag set
/// on each side of a NULL test keeps its meaning, as the verifier's constant tracking does), or anything else. A
/// <c>==</c>/<c>!=</c> test of the argument against 0 makes every copy of it NULL on one side and non-NULL on the
/// other; a test of a constant is decided. Only what is certain is refused: calls (to helpers, kfuncs and
/// subprograms) are not followed, so a NULL argument passed on is not judged here (the interpreter still stops a
/// NULL dereference at run time with the verifier-style message), and a search of more than
/// <see cref="MaxStates"/> states gives up without refusing.
/// </remarks>
internal static class NullableArguments
{
    /// <summary>
    /// sched_ext_ops members whose argument <c>Arg</c> (0-based) is <c>__nullable</c> in ext.c's CFI stubs, with the
    /// callback the model runs them as (null: a member it accepts and never calls, in <see cref="StructOps.NeverCalled"/>).
    /// </summary>
    private static readonly (string Member, Bpf.ScxCallback? Runs, int Arg)[] Nullable = [("dispatch", Bpf.ScxCallback.Dispatch, 1), ("yield", null, 1)];

    private const int MaxStates = 100_000;

    private const long Other = long.MinValue;
    private const long Ctx = long.MinValue + 1;
    private const long MaybeNull = long.MinValue + 2;
    private const long NonNull = long.MinValue + 3;
    // Any other value is a known constant (NULL is the constant 0).

    private const int Slots = 64; // the 512-byte stack in 8-byte slots

    /// <summary>The verifier's refusal for the first nullable argument misused on some path, or null.</summary>
    public static string? FirstViolation(BpfObjectFile obj)
    {
        foreach (var (member, runs, arg) in Nullable)
        {
            var program = runs is { } cb ? obj.Ops.Callbacks.GetValueOrDefault(cb) : obj.Ops.NeverCalled.FirstOrDefault(x => x.Member == member).Program;
            if (program != null && Check(obj, program.Entry, arg) is { } e)
                return $"prog '{program.Name}': BPF program load failed: Permission denied: {obj.Where(e.Pc)}: {e.Message} (ops.{member}()'s argument {arg} may be NULL)";
        }
        return null;
    }

    private static (int Pc, string Message)? Check(BpfObjectFile obj, int entry, int arg)
    {
        var code = obj.Insns;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var work = new Stack<(int Pc, long[] State)>();
        var start = new long[11 + Slots];
        Array.Fill(start, Other);
        start[1] = Ctx;
        work.Push((entry, start));
        while (work.Count > 0)
        {
            var (pc, s) = work.Pop();
            if ((uint)pc >= (uint)code.Length) continue;
            if (!seen.Add(Key(pc, s))) continue;
            if (seen.Count > MaxStates) return null;
            var i = code[pc];
            var cls = i.Op & 7;
            switch (cls)
            {
                case 0: // LD: ld_imm64 (two slots)
                    s[i.Dst] = Other;
                    work.Push((i.Op == 0x18 ? pc + 2 : pc + 1, s));
                    break;
                case 1: // LDX
                {
                    if (s[i.Src] == MaybeNull) return (pc, $"R{i.Src} invalid mem access 'trusted_ptr_or_null_'");
                    var value = Other;
                    var dw = (i.Op & 0x18) == 0x18 && (i.Op & 0xe0) == 0x60;
                    if (s[i.Src] == Ctx && dw && i.Off == 8 * arg) value = MaybeNull;
                    else if (i.Src == 10 && dw && StackSlot(i.Off) is { } slot) value = s[11 + slot];
                    s[i.Dst] = value;
                    work.Push((pc + 1, s));
                    break;
                }
                case 2 or 3: // ST / STX (and atomics)
                {
                    if (s[i.Dst] == MaybeNull) return (pc, $"R{i.Dst} invalid mem access 'trusted_ptr_or_null_'");
                    if (i.Dst == 10)
                    {
                        var dw = (i.Op & 0x18) == 0x18 && (i.Op & 0xe0) == 0x60;
                        var slot = StackSlot(i.Off);
                        if (dw && slot is { } sl) s[11 + sl] = cls == 3 ? s[i.Src] : i.Imm;
                        else ClobberStack(s, i.Off);
                    }
                    if (cls == 3 && (i.Op & 0xe0) == 0xc0) { s[i.Src] = Other; s[0] = Other; } // an atomic with fetch
                    work.Push((pc + 1, s));
                    break;
                }
                case 4 or 7: // ALU / ALU32
                {
                    var op = i.Op & 0xf0;
                    var useImm = (i.Op & 0x08) == 0;
                    if (cls == 7 && op is 0x00 or 0x10 && s[i.Dst] == MaybeNull)
                        return (pc, $"R{i.Dst} pointer arithmetic on trusted_ptr_or_null_ prohibited, null-check it first");
                    if (op == 0xb0 && i.Off == 0) s[i.Dst] = useImm ? (cls == 4 ? (uint)i.Imm : i.Imm) : cls == 7 ? s[i.Src] : Other;
                    else s[i.Dst] = Other;
                    work.Push((pc + 1, s));
                    break;
                }
                default: // JMP / JMP32
                {
                    var op = i.Op & 0xf0;
                    if (op == 0x90) break; // exit
                    if (cls == 5 && op == 0x80) // call: not followed; the caller-saved registers are lost
                    {
                        for (var r = 0; r <= 5; r++) s[r] = Other;
                        work.Push((pc + 1, s));
                        break;
                    }
                    if (op == 0x00) // ja (gotol in JMP32 takes its offset from imm)
                    {
                        work.Push((pc + 1 + (cls == 6 ? i.Imm : i.Off), s));
                        break;
                    }
                    var target = pc + 1 + i.Off;
                    var useImm = (i.Op & 0x08) == 0;
                    long? other = useImm ? i.Imm : IsConst(s[i.Src]) ? s[i.Src] : null;
                    var a = s[i.Dst];
                    if (cls == 5 && a == MaybeNull && other == 0 && op is 0x10 or 0x50)
                    {
                        // The NULL test: every copy of the argument is NULL on the == side, non-NULL on the other.
                        var isNull = (long[])s.Clone();
                        for (var r = 0; r < isNull.Length; r++)
                            if (isNull[r] == MaybeNull) { isNull[r] = 0; s[r] = NonNull; }
                        work.Push(op == 0x10 ? (target, isNull) : (pc + 1, isNull));
                        work.Push(op == 0x10 ? (pc + 1, s) : (target, s));
                        break;
                    }
                    if (IsConst(a) && other is { } b && Decide(op, cls == 6 ? (int)a : a, cls == 6 ? (int)b : b, cls == 6) is { } taken)
                    {
                        work.Push((taken ? target : pc + 1, s));
                        break;
                    }
                    work.Push((target, (long[])s.Clone()));
                    work.Push((pc + 1, s));
                    break;
                }
            }
        }
        return null;
    }

    private static bool IsConst(long v) => v > NonNull;

    private static bool? Decide(int op, long a, long b, bool is32)
    {
        ulong ua = is32 ? (uint)a : (ulong)a, ub = is32 ? (uint)b : (ulong)b;
        return op switch
        {
            0x10 => ua == ub, 0x50 => ua != ub, 0x20 => ua > ub, 0x30 => ua >= ub, 0xa0 => ua < ub, 0xb0 => ua <= ub,
            0x40 => (ua & ub) != 0, 0x60 => a > b, 0x70 => a >= b, 0xc0 => a < b, 0xd0 => a <= b,
            _ => null,
        };
    }

    /// <summary>The 8-byte stack slot at r10 + <paramref name="off"/>, when aligned and inside the frame.</summary>
    private static int? StackSlot(int off) => off < 0 && off >= -512 && off % 8 == 0 ? (512 + off) / 8 : null;

    /// <summary>A store that is not a whole aligned slot forgets the slot(s) it touches.</summary>
    private static void ClobberStack(long[] s, int off)
    {
        if (off < -512 || off >= 0) return;
        var first = (512 + off) / 8;
        for (var k = first; k <= Math.Min(Slots - 1, first + 1); k++) s[11 + k] = Other;
    }

    private static string Key(int pc, long[] s)
    {
        var chars = new char[2 + s.Length * 4];
        chars[0] = (char)(pc & 0xffff);
        chars[1] = (char)(pc >> 16);
        for (var k = 0; k < s.Length; k++)
        {
            var v = (ulong)s[k];
            for (var j = 0; j < 4; j++) chars[2 + k * 4 + j] = (char)(v >> (16 * j) & 0xffff);
        }
        return new string(chars);
    }
}
