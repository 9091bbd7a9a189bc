using System.Buffers.Binary;
using System.Security.Cryptography;
using Scxlab.Bpf;

namespace Scxlab.BpfObject;

/// <summary>
/// <see cref="Poison"/>: an instruction the verifier would refuse if a program reached it: a failed CO-RE relocation
/// (libbpf's "poisoned" instruction), a call to a helper or a weak kfunc the model does not implement.
/// </summary>
/// <summary>
/// How a call instruction resolved: <see cref="Poison"/> is what the verifier refuses (a reachable one fails the load);
/// <see cref="Unmodelled"/> a kernel kfunc the kernel accepts and the model does not implement (reaching it at run time
/// is a model limit: the run is incomplete there).
/// </summary>
public enum CallType : byte { None, Helper, Kfunc, Subprog, Poison, Unmodelled }

/// <summary>One decoded instruction; ld_imm64 carries its 64-bit value (after relocation) in <see cref="Imm64"/>.</summary>
public struct Insn
{
    public byte Op, Dst, Src;
    public short Off;
    public int Imm;
    public long Imm64;
    public CallType Call;
    public int Target; // subprog: global insn index; kfunc: Kfunc id; helper: helper id
}

public sealed record BpfProgram(string Name, string Section, int Entry);

/// <summary>
/// A <c>SEC("syscall")</c> program user space runs once after load and before attaching the scheduler (as
/// scx_tickless and scx_bpfland set up their CPU domains with BPF_PROG_TEST_RUN), with its context struct.
/// </summary>
/// <param name="Attached">Run once at any point while the scheduler is attached (BPF_PROG_TEST_RUN after attach, as the
/// prog_run selftest does) rather than before ops.init.</param>
public sealed record SyscallRun(BpfProgram Program, byte[] Ctx, string Text, bool Attached = false);

/// <summary>A BTF-defined map from <c>.maps</c>.</summary>
/// <param name="TimerOffsets">Byte offsets of the struct bpf_timer members of the value type (from BTF).</param>
/// <param name="InnerMaps">BPF_MAP_TYPE_ARRAY_OF_MAPS: the map index in each slot (-1: empty), as the object's
/// static <c>.values = { [i] = &amp;map }</c> initializer fills them; <paramref name="InnerType"/> is the inner template's type.</param>
/// <param name="ValueType">The BTF type id of the value (<c>__type(value, ...)</c>), 0 when only value_size is given.</param>
/// <param name="Inner">An array of maps' inner definition (<c>__array(values, struct inner)</c>): what a map user space creates for a slot has.</param>
/// <param name="LockOffsets">Byte offsets of the struct bpf_spin_lock in the value: each element gets its own lock.</param>
public sealed record BpfMapDef(string Name, int Type, int KeySize, int ValueSize, int MaxEntries, long Flags, IReadOnlyList<int>? TimerOffsets = null,
    int[]? InnerMaps = null, int InnerType = 0, int ValueType = 0, long MapExtra = 0, BpfMapDef? Inner = null,
    IReadOnlyList<int>? LockOffsets = null);

/// <summary>
/// Bytes user space writes into a map after load and before attaching (<c>--map</c>, scenario <c>maps:</c>): at
/// <paramref name="Offset"/> of the value of <paramref name="Key"/>, <paramref name="Size"/> bytes of <paramref name="Value"/>.
/// </summary>
public sealed record BpfMapInit(int Map, long Key, int Offset, int Size, long Value, string Spec);

/// <summary>Where in a map a <see cref="BpfHolds"/> place looks for a task's pid.</summary>
public enum HoldsWhere : byte { Anywhere, Keys, Values }

/// <summary>
/// A place the scheduler keeps the tasks in its custody (<c>--holds</c>, scenario <c>holds:</c>): map
/// <paramref name="Map"/> (its keys, its values or both), or the words of global variable <paramref name="Global"/>.
/// </summary>
public sealed record BpfHolds(int Map, HoldsWhere Where, int Global, int Offset, int Size);

/// <summary>A global-data section (.data, .bss, .rodata, .data.*): shared memory unless read-only.</summary>
public sealed class BpfGlobal(string name, byte[] init, bool readOnly)
{
    public string Name { get; } = name;
    public byte[] Init { get; internal set; } = init;
    public bool ReadOnly { get; } = readOnly;
    /// <summary>Variables by name: (offset, size) in the section, from its BTF DATASEC.</summary>
    public Dictionary<string, (int Offset, int Size)> Vars { get; } = [];
    /// <summary>Offsets of the <c>struct bpf_spin_lock</c> variables in the section.</summary>
    public List<int> Locks { get; } = [];
}

/// <param name="Enable">ops.enable and ops.init_task: per-task lifecycle callbacks the model runs itself at load (its
/// tasks all exist then; BpfObjectPolicy), not through <see cref="ScxCallback"/>. ops.exit_task and ops.disable are
/// kept and not run (the model frees no task within a run, and runs nothing of the scheduler after it is disabled: docs/bpf.md).</param>
public sealed record StructOps(string MapName, Dictionary<ScxCallback, BpfProgram> Callbacks, string Name, long Flags, int TimeoutMs, int DispatchMaxBatch, IReadOnlyList<string> OtherCallbacks, BpfProgram? Enable = null, BpfProgram? InitTask = null, BpfProgram? ExitTask = null, BpfProgram? Disable = null, BpfProgram? CgroupInit = null)
{
    /// <summary>
    /// Callbacks the kernel only calls for something the model does not have, so they never run in it and cannot
    /// change a verdict: core scheduling (core_sched_before), yields (yield), CPU hotplug (cpu_online/offline),
    /// cgroups (cgroup_*), and the debug dump written after an error exit (dump, dump_cpu, dump_task). Member name → program and why.
    /// </summary>
    public IReadOnlyList<(string Member, BpfProgram Program, string Why)> NeverCalled { get; init; } = [];

    internal static string? NeverCalledWhy(string member) => member switch
    {
        "core_sched_before" => "core scheduling is not modelled",
        "yield" => "the model's tasks never call sched_yield() or yield_to()",
        "cpu_online" or "cpu_offline" => "the model has no CPU hotplug",
        "dump" or "dump_cpu" or "dump_task" => "the debug dump after an error exit is not modelled",
        // ops.cgroup_init runs, for the root cgroup (BpfObjectPolicy.Init); the others need a second cgroup, a move or a
        // change of cpu.weight/cpu.max, none of which the model has (cgroup_exit: the model runs nothing after disable).
        _ when member.StartsWith("cgroup_", StringComparison.Ordinal) => "the model has one cgroup, the root, which no task leaves and whose settings nothing changes",
        _ => null,
    };
}

/// <summary>
/// A loaded <c>.bpf.o</c>: programs with relocations applied (maps, globals, kfuncs, subprogram
/// calls, CO-RE against <see cref="ModelTypes"/>), maps, global data and the sched_ext_ops
/// struct_ops map. Everything a bad object can get wrong is a <see cref="BpfLoadException"/>.
/// </summary>
public sealed class BpfObjectFile : ISourceMap
{
    public string Path { get; private init; } = "";
    public string Sha256 { get; private init; } = "";
    public string License { get; private set; } = "";
    public Insn[] Insns { get; private set; } = [];
    public LineInfo?[] Lines { get; private set; } = [];
    public List<BpfProgram> Programs { get; } = [];
    public List<BpfMapDef> Maps { get; } = [];
    public List<BpfGlobal> Globals { get; } = [];
    public StructOps Ops { get; private set; } = null!;
    public SortedSet<string> KfuncsUsed { get; } = new(StringComparer.Ordinal);
    public SortedSet<int> HelpersUsed { get; } = [];
    public Btf Btf { get; private set; } = null!;
    private readonly Dictionary<int, string> _insnProgram = [];

    /// <summary>Strong kfunc externs the model does not implement: libbpf fails the load on them wherever they are called (only a lenient load keeps going).</summary>
    public List<string> Unsupported { get; } = [];

    /// <summary>
    /// Why each poisoned instruction is poisoned (<see cref="CallType.Poison"/>, Target = index here). libbpf does not fail
    /// a load on a CO-RE relocation it cannot resolve: it replaces the instruction with an invalid call, and only a path
    /// that reaches it fails (the verifier, at load; the model, when the path runs). scx's compat wrappers rely on it:
    /// <c>if (bpf_core_type_exists(struct X)) { ...fields of X... } else { ...older kfunc... }</c>.
    /// </summary>
    public List<string> Poisons { get; } = [];

    /// <summary>
    /// What a lenient load (<c>scxlab inspect</c>) went past that a strict load refuses: a map type or attribute, a
    /// kconfig extern, a reference to data the model does not load, a sched_ext_ops field. Empty after a strict load.
    /// </summary>
    public List<string> LoadIssues { get; } = [];

    private bool _lenient;

    /// <summary>A load error, or in a lenient load a recorded issue (the load goes on as if the thing were absent).</summary>
    private void Issue(string message)
    {
        if (!_lenient) throw new BpfLoadException(message);
        LoadIssues.Add(message);
    }

    /// <summary>Replace an instruction by a poisoned call (<see cref="Poisons"/>): fatal only on a reachable path.</summary>
    private void Poison(ref Insn insn, string why, CallType kind = CallType.Poison)
    {
        insn = new Insn { Op = 0x85, Call = kind, Target = Poisons.Count };
        Poisons.Add(why);
    }

    /// <summary>
    /// Where the model can start running code: the struct_ops callbacks it calls, ops.enable and ops.init_task, the
    /// syscall programs it is asked to run, and functions handed to helpers. Programs it never runs (callbacks for
    /// hotplug, cgroup moves and settings, core scheduling or the dump; exit_task and disable; probes and syscall programs nobody runs)
    /// are verified by the kernel, which has everything they use, so what the model lacks in them cannot matter.
    /// </summary>
    internal IEnumerable<int> RunEntries() =>
        Ops.Callbacks.Values.Select(p => p.Entry)
            .Concat(new[] { Ops.Enable, Ops.InitTask, Ops.CgroupInit }.Where(p => p != null).Select(p => p!.Entry))
            .Concat(Syscalls.Select(s => s.Program.Entry))
            .Concat(CallbackEntries());

    /// <summary>Functions passed to helpers as callbacks (ld_imm64 of a function): entries the verifier checks too.</summary>
    internal IEnumerable<int> CallbackEntries() =>
        Insns.Where(i => i.Op == 0x18 && i.Src == 4 && Mem.RegionOf((ulong)i.Imm64) == Region.Func).Select(i => Mem.Index((ulong)i.Imm64));

    /// <param name="lenient">For <c>scxlab inspect</c>: record unsupported kfuncs and helpers instead of failing.</param>
    public static BpfObjectFile Load(string path, IReadOnlyList<string>? rodata = null, bool lenient = false)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BpfLoadException($"cannot read {path}: {e.Message}");
        }
        var name = System.IO.Path.GetFileName(path);
        var o = new BpfObjectFile { Path = path, Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)) };
        try
        {
            // --ops NAME chooses among several sched_ext_ops maps before anything else is read from them.
            o._wantedOps = (rodata ?? []).LastOrDefault(r => r.StartsWith(OpsPrefix, StringComparison.Ordinal))?[OpsPrefix.Length..];
            // --max-entries sizes maps before anything is built from them, as bpf_map__set_max_entries() before load.
            foreach (var r in rodata ?? [])
                if (r.StartsWith(MaxEntriesPrefix, StringComparison.Ordinal)) o.AddMaxEntries(r[MaxEntriesPrefix.Length..]);
            o._lenient = lenient;
            o.Build(Elf.Parse(bytes, name));
            if (!lenient && o.Unsupported.Count > 0) throw new BpfLoadException($"unknown func {o.Unsupported[0]}");
            foreach (var r in rodata ?? [])
                if (r.StartsWith(OpsPrefix, StringComparison.Ordinal) || r.StartsWith(MaxEntriesPrefix, StringComparison.Ordinal)) continue;
                else if (r.StartsWith(SyscallPrefix, StringComparison.Ordinal)) o.AddSyscall(r[SyscallPrefix.Length..]);
                else if (r.StartsWith(SyscallAttachedPrefix, StringComparison.Ordinal)) o.AddSyscall(r[SyscallAttachedPrefix.Length..], attached: true);
                else if (r.StartsWith(MapPrefix, StringComparison.Ordinal)) o.AddMapInit(r[MapPrefix.Length..]);
                else if (r.StartsWith(HoldsPrefix, StringComparison.Ordinal)) o.AddHolds(r[HoldsPrefix.Length..]);
                else o.PatchRodata(r);
            // A failed CO-RE relocation fails the load only where a program can reach it (after rodata is set).
            if (!lenient && PoisonReachability.FirstReachable(o, o.RunEntries(), o.Ops.InitTask?.Entry ?? -1) is { } poisoned)
                throw new BpfLoadException($"{poisoned.Message} (reachable: insn {poisoned.Pc}, {o.Where(poisoned.Pc)})");
            // ops.dispatch's prev and ops.yield's to may be NULL: the verifier refuses a path that dereferences them unchecked.
            if (!lenient && NullableArguments.FirstViolation(o) is { } nullable) throw new BpfLoadException(nullable);
        }
        catch (BpfLoadException e) when (!e.Message.StartsWith(name + ":", StringComparison.Ordinal))
        {
            throw new BpfLoadException($"{name}: {e.Message}");
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidCastException or OverflowException
            or FormatException or KeyNotFoundException or InvalidOperationException or DivideByZeroException)
        {
            throw new BpfLoadException($"{name}: malformed object ({e.GetType().Name}: {e.Message})");
        }
        return o;
    }

    /// <summary>The program containing instruction <paramref name="pc"/> and its source line, for messages.</summary>
    public string Where(int pc)
    {
        var prog = "?";
        var best = -1;
        foreach (var (start, n) in _insnProgram)
            if (start <= pc && start > best) { best = start; prog = n; }
        var line = (uint)pc < (uint)Lines.Length ? Lines[pc] : null;
        var src = line is { } l ? $" ({System.IO.Path.GetFileName(l.File)}:{l.LineNo})" : "";
        return $"{prog} insn {pc - Math.Max(0, best)}{src}";
    }

    public LineInfo? LineAt(int pc) => (uint)pc < (uint)Lines.Length ? Lines[pc] : null;

    public string? SourceLine(int pc) => LineAt(pc) is { } l ? $"{System.IO.Path.GetFileName(l.File)}:{l.LineNo}" : null;

    private void Build(Elf elf)
    {
        var btfSec = elf.Find(".BTF") ?? throw new BpfLoadException("no .BTF section (build with clang -g)");
        Btf = Btf.Parse(btfSec.Data);
        var ext = elf.Find(".BTF.ext") is { } e ? BtfExt.Parse(e.Data, Btf) : new BtfExt();
        if (elf.Find("license") is { } lic) License = Elf.Str(lic.Data, 0);

        // Code: every executable section, appended in section order (as libbpf appends subprograms).
        var codeBase = new Dictionary<int, int>();
        var insns = new List<Insn>();
        foreach (var s in elf.Sections)
        {
            if ((s.Flags & 4) == 0 || s.Data.Length == 0) continue;
            if (s.Data.Length % 8 != 0) throw new BpfLoadException($"section {s.Name}: size {s.Data.Length} is not a multiple of 8");
            codeBase[s.Index] = insns.Count;
            for (var i = 0; i < s.Data.Length; i += 8)
            {
                var regs = s.Data[i + 1];
                insns.Add(new Insn { Op = s.Data[i], Dst = (byte)(regs & 0xf), Src = (byte)(regs >> 4), Off = BinaryPrimitives.ReadInt16LittleEndian(s.Data.AsSpan(i + 2)), Imm = BinaryPrimitives.ReadInt32LittleEndian(s.Data.AsSpan(i + 4)) });
            }
        }
        var code = insns.ToArray();
        var lines = new LineInfo?[code.Length];

        foreach (var sym in elf.Symbols)
        {
            if (sym.Type != Elf.SttFunc || !codeBase.TryGetValue(sym.Shndx, out var b)) continue;
            var sec = elf.Sections[sym.Shndx].Name;
            var entry = b + (int)(sym.Value / 8);
            _insnProgram[entry] = sym.Name;
            if (sec != ".text") Programs.Add(new BpfProgram(sym.Name, sec, entry));
        }

        // Data sections and maps (before code relocations, which point into them).
        var globalOf = new Dictionary<int, int>();
        foreach (var s in elf.Sections)
        {
            if ((s.Flags & 2) == 0 || (s.Flags & 4) != 0) continue; // SHF_ALLOC, not code
            if (!(s.Name is ".data" or ".bss" or ".rodata" || s.Name.StartsWith(".data.", StringComparison.Ordinal) || s.Name.StartsWith(".rodata.", StringComparison.Ordinal) || s.Name.StartsWith(".bss.", StringComparison.Ordinal))) continue;
            var init = s.Type == Elf.ShtNobits ? new byte[s.Size] : (byte[])s.Data.Clone();
            var g = new BpfGlobal(s.Name, init, s.Name.StartsWith(".rodata", StringComparison.Ordinal));
            foreach (var t in Btf.Types)
                if (t.Kind == BtfKind.Datasec && t.Name == s.Name)
                    foreach (var v in t.Members)
                    {
                        // clang leaves the DATASEC offset of a __weak variable at 0; libbpf takes
                        // every variable's offset from its ELF symbol, and so does the loader.
                        var vname = Btf[v.Type].Name;
                        var vsym = elf.Symbols.FirstOrDefault(y => y.Shndx == s.Index && y.Name == vname && y.Type == 1 /* STT_OBJECT */);
                        var voff = vsym.Name == vname ? (int)vsym.Value : (int)v.Offset;
                        if (voff < 0 || voff + (int)v.Size > init.Length) throw new BpfLoadException($"{s.Name}: variable {vname} lies outside the section");
                        g.Vars[vname] = (voff, (int)v.Size);
                        if (Btf.Resolve(Btf[v.Type].RefType) is { Kind: BtfKind.Struct, Name: "bpf_spin_lock" }) g.Locks.Add(voff);
                    }
            globalOf[s.Index] = Globals.Count;
            Globals.Add(g);
            // What scx's SCX_ENUM_INIT does in user space before load: every `const volatile u64
            // __SCX_NAME` of enums.autogen.bpf.h gets the value of SCX_NAME. Names the model does
            // not have stay 0, as when the running kernel lacks the enum.
            if (g.ReadOnly)
                foreach (var (vn, (vo, vs)) in g.Vars)
                    if (vn.StartsWith("__SCX_", StringComparison.Ordinal) && vs == 8 && ModelEnums.TryGet(vn[2..], out var ev))
                        BinaryPrimitives.WriteInt64LittleEndian(g.Init.AsSpan(vo), ev);
        }
        var kconfig = BuildKconfig(elf);
        HashSet<string>? btfVars = null; // the BTF VARs (extern variables among them), built on the first ksym
        var mapsSec = elf.Find(".maps");
        var mapOf = new Dictionary<string, int>();
        if (mapsSec != null)
        {
            var ds = Btf.Types.FirstOrDefault(t => t.Kind == BtfKind.Datasec && t.Name == ".maps") ?? throw new BpfLoadException(".maps section without BTF (legacy bpf_map_def maps are not supported)");
            foreach (var v in ds.Members)
            {
                var var = Btf[v.Type];
                mapOf[var.Name] = Maps.Count;
                Maps.Add(ParseMap(var.Name, Btf.Resolve(var.RefType)));
            }
            FillInnerMaps(elf, mapsSec, ds, mapOf);
        }
        foreach (var sized in _maxEntries.Keys)
            if (!mapOf.ContainsKey(sized))
                throw new BpfLoadException($"--max-entries {sized}: no map of that name (the object has: {(mapOf.Count == 0 ? "none" : string.Join(", ", mapOf.Keys))})");
        var arenaSec = LoadArena(elf);

        // Relocations of code.
        foreach (var (secIdx, b) in codeBase)
        {
            var sec = elf.Sections[secIdx];
            foreach (var r in elf.RelsFor(secIdx))
            {
                var at = b + (int)(r.Offset / 8);
                if (r.Offset % 8 != 0 || at >= code.Length) throw new BpfLoadException($"relocation at {sec.Name}+{r.Offset} is outside the code");
                if (r.Sym >= elf.Symbols.Count) throw new BpfLoadException($"relocation at {sec.Name}+{r.Offset}: bad symbol {r.Sym}");
                var sym = elf.Symbols[r.Sym];
                ref var insn = ref code[at];
                if (insn.Op == 0x85) // call
                {
                    if (sym.Shndx == 0)
                    {
                        insn.Call = CallType.Kfunc;
                        KfuncsUsed.Add(sym.Name);
                        if (Kfuncs.Supported(sym.Name)) insn.Target = Kfuncs.Resolve(sym.Name);
                        // Weak: libbpf leaves the call unresolved and the verifier refuses it only on a path it
                        // can reach (the program guards it with bpf_ksym_exists()): a poisoned call.
                        else if (Kfuncs.KernelOnly.Contains(sym.Name)) Poison(ref insn, $"kernel function {sym.Name} is not modelled", CallType.Unmodelled);
                        else if (sym.Bind == 2) Poison(ref insn, $"unknown func {sym.Name} (a weak kfunc the model does not implement)");
                        else if (!Unsupported.Contains(sym.Name + " (a kfunc the model does not implement)")) Unsupported.Add(sym.Name + " (a kfunc the model does not implement)");
                    }
                    else if (codeBase.TryGetValue(sym.Shndx, out var tb))
                    {
                        insn.Call = CallType.Subprog;
                        insn.Target = tb + (int)(sym.Value / 8) + insn.Imm + 1;
                    }
                    else throw new BpfLoadException($"call at {sec.Name}+{r.Offset} to {sym.Name}, which is neither code nor an extern");
                    continue;
                }
                if (insn.Op != 0x18) throw new BpfLoadException($"relocation at {sec.Name}+{r.Offset} on an instruction (opcode 0x{insn.Op:x2}) that is neither a call nor ld_imm64");
                if (at + 1 >= code.Length) throw new BpfLoadException($"ld_imm64 at {sec.Name}+{r.Offset} is truncated");
                if (sym.Shndx == 0 && kconfig >= 0 && Globals[kconfig].Vars.TryGetValue(sym.Name, out var kv))
                {
                    insn.Imm64 = (long)Mem.Addr(Region.Rodata, kconfig, kv.Offset + insn.Imm);
                    insn.Src = 2; // BPF_PSEUDO_MAP_VALUE into libbpf's .kconfig map
                    continue;
                }
                if (sym.Shndx == 0)
                {
                    // bpf_ksym_exists(kfunc): the address of a weak kfunc extern is non-zero exactly
                    // when the model implements the kfunc; a strong one must be implemented.
                    var supported = Kfuncs.Supported(sym.Name);
                    // clang leaves an extern variable's symbol untyped; its BTF (a VAR in .ksyms) says what it is.
                    var isVar = (btfVars ??= [.. Btf.Types.Where(t => t.Kind == BtfKind.Var).Select(t => t.Name)]).Contains(sym.Name);
                    var kernelVar = Array.IndexOf(Interpreter.KernelVars, sym.Name);
                    if (isVar && kernelVar >= 0)
                    {
                        // A per-CPU kernel variable the model has: its address (libbpf resolves it from kallsyms).
                        insn.Imm64 = (long)Mem.Addr(Region.Ctx, Interpreter.KsymCtx + kernelVar, insn.Imm);
                        insn.Src = 3; // BPF_PSEUDO_BTF_ID
                        continue;
                    }
                    // A weak one stays absent (address 0), as libbpf leaves a __weak ksym the kernel lacks.
                    if (((sym.Type != Elf.SttFunc && sym.Type != Elf.SttNotype) || isVar) && sym.Bind != 2)
                    {
                        // A __ksym variable (nr_cpu_ids, runqueues, …) or an extern another object defines.
                        var why = $"unknown ksym or kconfig extern {sym.Name} (only kfunc externs are supported)";
                        Issue(why);
                        Poison(ref insn, why);
                        continue;
                    }
                    // A strong extern the model lacks: a kfunc, or a function another object defines (link it first).
                    if (!supported && sym.Bind != 2 && !Kfuncs.KernelOnly.Contains(sym.Name)) Issue($"unknown func {sym.Name} (a kfunc the model does not implement)");
                    insn.Imm64 = supported || Kfuncs.KernelOnly.Contains(sym.Name) ? (long)Mem.Addr(Region.None, 0, 1) : 0;
                    insn.Src = 0;
                    insn.Imm = (int)insn.Imm64;
                    code[at + 1].Imm = (int)(insn.Imm64 >> 32);
                    continue;
                }
                if (mapsSec != null && sym.Shndx == mapsSec.Index)
                {
                    if (!mapOf.TryGetValue(sym.Name, out var mi)) throw new BpfLoadException($"map {sym.Name} has no BTF definition");
                    insn.Imm64 = (long)Mem.Addr(Region.Map, mi, 0);
                    insn.Src = 1; // BPF_PSEUDO_MAP_FD
                }
                else if (arenaSec >= 0 && sym.Shndx == arenaSec)
                {
                    // A __arena global: its address in the arena's user range, as libbpf relocates it (the verifier
                    // makes it a scalar; the program casts it to the kernel's address space before dereferencing).
                    insn.Imm64 = (long)(ArenaUserStart + (ulong)ArenaGlobalOffset + sym.Value + (ulong)(long)insn.Imm);
                    insn.Src = 2; // BPF_PSEUDO_MAP_VALUE on the arena map
                }
                else if (globalOf.TryGetValue(sym.Shndx, out var gi))
                {
                    var off = (long)sym.Value + insn.Imm;
                    insn.Imm64 = (long)Mem.Addr(Globals[gi].ReadOnly ? Region.Rodata : Region.Global, gi, (int)off);
                    insn.Src = 2; // BPF_PSEUDO_MAP_VALUE
                }
                else if (codeBase.TryGetValue(sym.Shndx, out var fb))
                {
                    // A callback handed to a helper (bpf_timer_set_callback, ...): the function's entry.
                    var target = fb + (int)(((long)sym.Value + insn.Imm) / 8);
                    if (target < 0 || target >= code.Length) throw new BpfLoadException($"ld_imm64 at {sec.Name}+{r.Offset}: function address outside the code");
                    insn.Imm64 = (long)Mem.Addr(Region.Func, target, 0);
                    insn.Src = 4; // BPF_PSEUDO_FUNC
                }
                else
                {
                    var why = $"ld_imm64 at {sec.Name}+{r.Offset} refers to section {elf.Sections[sym.Shndx].Name}, which is not loadable data";
                    Issue(why);
                    Poison(ref insn, why);
                }
            }
            foreach (var li in ext.Lines.GetValueOrDefault(sec.Name) ?? [])
                if (b + li.Insn < lines.Length) lines[b + li.Insn] = li;
            foreach (var cr in ext.CoreRelos.GetValueOrDefault(sec.Name) ?? [])
                try
                {
                    ApplyCore(ref code[b + cr.Insn], cr, sec.Name);
                }
                catch (CoreUnresolved unresolved)
                {
                    // A type the model has that lacks the field: the model's kernel lacks it, and libbpf poisons the
                    // instruction (the verifier refuses a path that reaches it). A type the model does not have at all
                    // (struct cgroup, …) is outside the model: what the kernel has is unknown here, so only a run that
                    // reaches the access stops (a model limit), and the object loads.
                    Poison(ref code[b + cr.Insn], unresolved.Message, unresolved.TypeModelled ? CallType.Poison : CallType.Unmodelled);
                }
        }
        // Plain ld_imm64 and non-relocated calls.
        for (var i = 0; i < code.Length; i++)
        {
            ref var insn = ref code[i];
            if (insn.Op == 0x18 && i + 1 < code.Length)
            {
                if (insn.Src == 0) insn.Imm64 = (long)(((ulong)(uint)code[i + 1].Imm << 32) | (uint)insn.Imm);
                i++;
            }
            else if (insn.Op == 0x85 && insn.Call == CallType.None)
            {
                if (insn.Src == 1) { insn.Call = CallType.Subprog; insn.Target = i + insn.Imm + 1; }
                else if (insn.Src == 0)
                {
                    HelpersUsed.Add(insn.Imm);
                    // The kernel has every helper; the verifier checks only the ones a program can reach. One the
                    // model lacks is therefore a load error only where it is reachable (scx's percpu.bpf.h calls
                    // bpf_per_cpu_ptr() behind weak ksyms the kernel may not have): a poisoned call.
                    if (Helpers.Supported(insn.Imm))
                    {
                        insn.Call = CallType.Helper;
                        insn.Target = insn.Imm;
                    }
                    else Poison(ref insn, $"unknown func {Helpers.Name(insn.Imm)}#{insn.Imm} (a helper the model does not implement)");
                }
                else throw new BpfLoadException($"call at insn {i} with src_reg {insn.Src} and no relocation");
            }
        }
        // Fill line info forward so every instruction has its statement's line.
        LineInfo? last = null;
        for (var i = 0; i < lines.Length; i++)
        {
            if (_insnProgram.ContainsKey(i)) last = null;
            if (lines[i] != null) last = lines[i];
            else lines[i] = last;
        }
        Insns = code;
        Lines = lines;
        Ops = ParseStructOps(elf, codeBase);
    }

    /// <summary>
    /// <c>__kconfig</c> externs, as libbpf resolves them into its read-only <c>.kconfig</c> map:
    /// <c>LINUX_KERNEL_VERSION</c> is the model's kernel, 7.1; the model has no kernel config, so a
    /// <c>__weak</c> <c>CONFIG_*</c> is 0 and a strong one is a load error, as libbpf reports a
    /// value it cannot find. Returns the global's index, or -1 without externs.
    /// </summary>
    private int BuildKconfig(Elf elf)
    {
        var ds = Btf.Types.FirstOrDefault(t => t.Kind == BtfKind.Datasec && t.Name == ".kconfig");
        if (ds == null || ds.Members.Length == 0) return -1;
        var vars = new List<(string Name, int Size)>();
        foreach (var v in ds.Members)
        {
            var vt = Btf[v.Type];
            vars.Add((vt.Name, (int)Btf.SizeOf(vt.RefType)));
        }
        var offsets = new int[vars.Count];
        var size = 0;
        for (var i = 0; i < vars.Count; i++)
        {
            offsets[i] = size;
            size += (vars[i].Size + 7) / 8 * 8;
        }
        var g = new BpfGlobal(".kconfig", new byte[Math.Max(8, size)], true);
        for (var i = 0; i < vars.Count; i++)
        {
            var (name, sz) = vars[i];
            g.Vars[name] = (offsets[i], sz);
            var weak = elf.Symbols.Any(y => y.Name == name && y.Shndx == 0 && y.Bind == 2);
            long value = name switch
            {
                "LINUX_KERNEL_VERSION" => (7L << 16) | (1L << 8), // KERNEL_VERSION(7, 1, 0)
                // The model's tick: ModelConfig.TickNs (4 ms) and simulate's default --hz. An object is loaded
                // before the run's options exist, so `simulate --hz N` changes the tick, not this value.
                "CONFIG_HZ" => 1_000_000_000L / Kernel.ModelConfig.DefaultTickNs,
                // The model's kernel is built for the most CPUs a model machine has (scx's arena spin lock checks it
                // against the CPUs its queue-node array can name).
                "CONFIG_NR_CPUS" => Kernel.ScxConst.MaxCpus,
                _ when weak => 0,
                _ => KconfigMissing(name),
            };
            for (var k = 0; k < sz && k < 8; k++) g.Init[offsets[i] + k] = (byte)(value >> (8 * k));
        }
        Globals.Add(g);
        return Globals.Count - 1;

        long KconfigMissing(string name)
        {
            Issue($"extern (kcfg) '{name}': value not found (the model has no kernel config; declare it __weak)");
            return 0;
        }
    }

    /// <summary>
    /// An ARRAY_OF_MAPS' initial slots: libbpf reads the relocations of <c>.maps</c> that land in the map's
    /// <c>values</c> array (one pointer per slot, naming an inner map) and fills the slots at load.
    /// </summary>
    private void FillInnerMaps(Elf elf, Elf.Section mapsSec, BtfType ds, Dictionary<string, int> mapOf)
    {
        var rels = elf.RelsFor(mapsSec.Index).ToList();
        foreach (var v in ds.Members)
        {
            var var = Btf[v.Type];
            var mi = mapOf[var.Name];
            var def = Maps[mi];
            if (def.Type != MapTypes.ArrayOfMaps) continue;
            var st = Btf.Resolve(var.RefType);
            var values = st.Members.First(m => m.Name == "values");
            // The symbol gives the map's place in .maps (clang may leave the DATASEC offsets for libbpf to fix up).
            var symbol = elf.Symbols.FirstOrDefault(y => y.Name == var.Name && y.Shndx == mapsSec.Index);
            var start = (long)(symbol.Name != null ? symbol.Value : v.Offset) + values.Offset / 8;
            var slots = Enumerable.Repeat(-1, def.MaxEntries).ToArray();
            foreach (var r in rels)
            {
                var at = (long)r.Offset - start;
                if (at < 0 || at >= 8L * def.MaxEntries) continue;
                var sym = elf.Symbols[r.Sym];
                if (at % 8 != 0 || !mapOf.TryGetValue(sym.Name, out var inner)) throw new BpfLoadException($"map {var.Name}: slot initializer at byte {at} is not a map");
                if (Maps[inner].Type != def.InnerType) throw new BpfLoadException($"map {var.Name}: slot {at / 8} holds {sym.Name}, a {MapTypes.Name(Maps[inner].Type)}, not the inner map type {MapTypes.Name(def.InnerType)}");
                slots[at / 8] = inner;
            }
            Maps[mi] = def with { InnerMaps = slots };
        }
    }

    private BpfMapDef ParseMap(string name, BtfType t)
    {
        if (t.Kind != BtfKind.Struct) throw new BpfLoadException($"map {name}: BTF definition is not a struct");
        int type = 0, maxEntries = 0, keySize = 0, valueSize = 0, innerType = 0, valueType = 0;
        long flags = 0, mapExtra = 0;
        BpfMapDef? inner = null;
        var timers = new List<int>();
        var locks = new List<int>();
        foreach (var m in t.Members)
        {
            var mt = Btf.Resolve(m.Type);
            int UintVal()
            {
                var arr = mt.Kind == BtfKind.Ptr ? Btf.Resolve(mt.RefType) : mt;
                if (arr.Kind != BtfKind.Array) throw new BpfLoadException($"map {name}: member {m.Name} is not __uint()");
                return (int)arr.ArrayLen;
            }
            int TypeSize() => mt.Kind == BtfKind.Ptr ? (int)Btf.SizeOf(mt.RefType) : throw new BpfLoadException($"map {name}: member {m.Name} is not __type()");
            switch (m.Name)
            {
                case "type": type = UintVal(); break;
                case "max_entries": maxEntries = UintVal(); break;
                case "map_flags": flags = UintVal(); break;
                case "map_extra":
                    // libbpf's __ulong(): the value of an anonymous enum's only enumerator (64-bit: ENUM64).
                    if (mt.Kind is not (BtfKind.Enum or BtfKind.Enum64) || mt.Members.Length != 1) throw new BpfLoadException($"map {name}: member map_extra is not __ulong()");
                    mapExtra = mt.Kind == BtfKind.Enum ? (long)(uint)mt.Members[0].Value : mt.Members[0].Value;
                    break;
                case "key_size": keySize = UintVal(); break;
                case "value_size": valueSize = UintVal(); break;
                case "key": keySize = TypeSize(); break;
                case "value":
                    valueSize = TypeSize();
                    valueType = mt.RefType;
                    StructsIn(Btf.Resolve(mt.RefType), 0, "bpf_timer", timers);
                    StructsIn(Btf.Resolve(mt.RefType), 0, "bpf_spin_lock", locks);
                    break;
                case "values":
                {
                    // __array(values, struct inner): an array of pointers to the inner map's definition.
                    var arr = mt.Kind == BtfKind.Array ? mt : throw new BpfLoadException($"map {name}: member values is not __array()");
                    var elem = Btf.Resolve(arr.ArrayElem);
                    if (elem.Kind != BtfKind.Ptr) throw new BpfLoadException($"map {name}: member values is not an array of map pointers");
                    inner = ParseMap(name + ".inner", Btf.Resolve(elem.RefType));
                    innerType = inner.Type;
                    break;
                }
                default: Issue($"map {name}: unsupported map attribute {m.Name}"); break;
            }
        }
        // User space's size replaces the definition's (which may leave it out: a map sized by the CPU count).
        if (_maxEntries.TryGetValue(name, out var sized)) maxEntries = sized;
        if (type == MapTypes.ArrayOfMaps)
        {
            if (innerType == 0) throw new BpfLoadException($"map {name}: BPF_MAP_TYPE_ARRAY_OF_MAPS needs __array(values, ...)");
            if (innerType == MapTypes.ArrayOfMaps) throw new BpfLoadException($"map {name}: maps of maps of maps are not modelled");
            return new BpfMapDef(name, type, 4, 4, maxEntries, flags, null, Enumerable.Repeat(-1, Math.Max(0, maxEntries)).ToArray(), innerType, Inner: inner);
        }
        if (type is MapTypes.TaskStorage or MapTypes.CgrpStorage && (flags & 1) == 0) throw new BpfLoadException($"map {name}: {MapTypes.Name(type)} needs map_flags BPF_F_NO_PREALLOC");
        // A map without a size of its own is one user space sizes before load (libbpf's bpf_map__set_max_entries()).
        if (maxEntries <= 0 && type is not (MapTypes.TaskStorage or MapTypes.CgrpStorage))
            Issue($"map {name}: max_entries must be positive (user space sizes it before load: --max-entries {name}=N)");
        if (!MapTypes.Supported(type)) Issue($"map {name}: map type {MapTypes.Name(type)} is not supported by the model");
        // An array's or a queue's every entry is memory in every state of a search (hash maps are bounded by
        // bounds: hash_elems, an arena by arena_pages): past this the world would not fit, so the load stops here,
        // naming the size, instead of the process running out of memory.
        if (type is MapTypes.Array or MapTypes.PercpuArray or MapTypes.Queue or MapTypes.Stack && (long)maxEntries * Math.Max(8, valueSize) > MaxWorldMapBytes)
            throw new BpfLoadException($"map {name}: {maxEntries} entries of {valueSize} bytes are more than the model keeps in every state (at most {MaxWorldMapBytes >> 20} MiB a map)");
        if (type == MapTypes.Arena) CheckArena(name, keySize, valueSize, maxEntries, flags, mapExtra);
        else if (mapExtra != 0) Issue($"map {name}: map_extra on {MapTypes.Name(type)} is not modelled");
        if (locks.Count > 0 && type is not (MapTypes.Array or MapTypes.Hash or MapTypes.TaskStorage or MapTypes.CgrpStorage))
            throw new BpfLoadException($"map {name}: a struct bpf_spin_lock in a {MapTypes.Name(type)} value (the kernel allows one only in array, hash and local storage maps)");
        return new BpfMapDef(name, type, keySize, valueSize, maxEntries, flags, timers, ValueType: valueType, MapExtra: mapExtra, LockOffsets: locks);
    }

    /// <summary>The most bytes of entries an array, queue or stack map may have: each is part of every state's world.</summary>
    public const long MaxWorldMapBytes = 256L << 20;

    /// <summary>The BPF_MAP_TYPE_ARENA map (libbpf allows one per object), or -1.</summary>
    public int ArenaMap { get; private set; } = -1;

    /// <summary>The arena's first user address (user_vm_start): its map_extra, or 4 GiB when that is 0 (the kernel then
    /// takes the address of user space's mmap(), which it aligns to 4 GiB; only the values of arena pointers differ).</summary>
    public ulong ArenaUserStart { get; private set; }

    /// <summary>The program's <c>__arena</c> globals (clang's <c>.addr_space.1</c>), padded to whole pages.</summary>
    public byte[] ArenaGlobals { get; private set; } = [];

    /// <summary>Where libbpf puts them: at the end of the arena (libbpf 1.6), a byte offset from its start.</summary>
    public long ArenaGlobalOffset { get; private set; }

    /// <summary>Finds the arena map and lays out the arena globals as libbpf does; returns their section's index or -1.</summary>
    private int LoadArena(Elf elf)
    {
        for (var i = 0; i < Maps.Count; i++)
        {
            if (Maps[i].Type != MapTypes.Arena) continue;
            if (ArenaMap >= 0) throw new BpfLoadException($"map '{Maps[i].Name}': only single ARENA map is supported (map '{Maps[ArenaMap].Name}' is also ARENA)");
            ArenaMap = i;
            ArenaUserStart = Maps[i].MapExtra != 0 ? (ulong)Maps[i].MapExtra : 1UL << 32;
        }
        var sec = elf.Find(".addr_space.1");
        if (sec == null) return -1;
        // A lenient load (inspect) lists these and goes on without the arena's globals (their references are poisoned).
        if (ArenaMap < 0)
        {
            Issue("elf: sec '.addr_space.1': to use global __arena variables the ARENA map should be explicitly declared in SEC(\".maps\")");
            return -1;
        }
        var size = (int)sec.Size;
        var padded = (size + ArenaShape.PageSize - 1) / ArenaShape.PageSize * ArenaShape.PageSize;
        var mmap = (long)Maps[ArenaMap].MaxEntries * ArenaShape.PageSize;
        if (padded > mmap)
        {
            Issue($"elf: sec '.addr_space.1': declared ARENA map size ({mmap}) is too small to hold global __arena variables of size {size}");
            return -1;
        }
        ArenaGlobals = new byte[padded];
        if (sec.Type != Elf.ShtNobits) sec.Data.AsSpan(0, Math.Min(size, sec.Data.Length)).CopyTo(ArenaGlobals);
        ArenaGlobalOffset = mmap - padded;
        return sec.Index;
    }

    /// <summary>arena_map_alloc()'s checks, with the errno BPF_MAP_CREATE would return.</summary>
    private static void CheckArena(string name, int keySize, int valueSize, int maxEntries, long flags, long mapExtra)
    {
        string? why = null;
        var range = (long)maxEntries * ArenaShape.PageSize;
        if (keySize != 0 || valueSize != 0 || maxEntries <= 0 || (flags & MapTypes.Mmapable) == 0 || (flags & ~(MapTypes.Mmapable | MapTypes.NoPrealloc)) != 0)
            why = "-EINVAL: an arena has no key or value, max_entries pages and map_flags BPF_F_MMAPABLE (BPF_F_NO_PREALLOC allowed)";
        else if (range > 1L << 32) why = "-E2BIG: an arena spans at most 4 GiB";
        else if ((mapExtra & (ArenaShape.PageSize - 1)) != 0) why = "-EINVAL: map_extra (the arena's user address) is not page aligned";
        else if (mapExtra != 0 && (ulong)mapExtra >> 32 != (ulong)(mapExtra + range - 1) >> 32) why = "-ERANGE: the arena must not cross a 4 GiB boundary of user addresses";
        if (why != null) throw new BpfLoadException($"map {name}: BPF_MAP_TYPE_ARENA creation failed: {why}");
    }

    /// <summary>The byte offsets of every struct <paramref name="name"/> (a bpf_timer, a bpf_spin_lock) inside <paramref name="t"/> (nested structs and unions included).</summary>
    private void StructsIn(BtfType t, int baseOffset, string name, List<int> into)
    {
        if (t.Kind is not (BtfKind.Struct or BtfKind.Union)) return;
        if (t.Kind == BtfKind.Struct && t.Name == name)
        {
            into.Add(baseOffset);
            return;
        }
        foreach (var m in t.Members)
        {
            // Bit offsets; with kind_flag the low 24 bits are the offset (bitfields are never these structs).
            var bits = t.KindFlag ? m.Offset & 0xffffff : m.Offset;
            StructsIn(Btf.Resolve(m.Type), baseOffset + (int)(bits / 8), name, into);
        }
    }

    private StructOps ParseStructOps(Elf elf, Dictionary<int, int> codeBase)
    {
        // Every sched_ext_ops map, in section order: the first is used unless --ops names another (as user space
        // attaches the one it chooses).
        foreach (var s in elf.Sections)
        {
            if (s.Name is not (".struct_ops" or ".struct_ops.link")) continue;
            if (Btf.Types.FirstOrDefault(t => t.Kind == BtfKind.Datasec && t.Name == s.Name) is not { } ds) continue;
            foreach (var v in ds.Members)
                if (Btf.Resolve(Btf[v.Type].RefType) is { Kind: BtfKind.Struct, Name: "sched_ext_ops" }) OpsMaps.Add(Btf[v.Type].Name);
        }
        if (_wantedOps != null && !OpsMaps.Contains(_wantedOps))
            throw new BpfLoadException($"--ops {_wantedOps}: no sched_ext_ops struct_ops map of that name (the object has: {(OpsMaps.Count == 0 ? "none" : string.Join(", ", OpsMaps))})");
        foreach (var s in elf.Sections)
        {
            if (s.Name is not (".struct_ops" or ".struct_ops.link")) continue;
            var ds = Btf.Types.FirstOrDefault(t => t.Kind == BtfKind.Datasec && t.Name == s.Name) ?? throw new BpfLoadException($"{s.Name} without BTF");
            var rels = elf.RelsFor(s.Index).ToList();
            foreach (var v in ds.Members)
            {
                var var = Btf[v.Type];
                var st = Btf.Resolve(var.RefType);
                if (st.Kind != BtfKind.Struct || st.Name != "sched_ext_ops") continue;
                if (_wantedOps != null && var.Name != _wantedOps) continue;
                // Where the variable sits in the section: its ELF symbol (clang leaves the DATASEC offsets at 0 for
                // libbpf to fix up from the symbols, which matters once a section holds more than one map).
                var baseOff = elf.Symbols.FirstOrDefault(y => y.Shndx == s.Index && y.Name == var.Name && y.Type == 1) is { Name: not null } sym0 ? (int)sym0.Value : (int)v.Offset;
                var cbs = new Dictionary<ScxCallback, BpfProgram>();
                var others = new List<string>();
                string opsName = "";
                BpfProgram? enable = null, initTask = null, exitTask = null, disable = null, cgroupInit = null;
                var neverCalled = new List<(string, BpfProgram, string)>();
                long flags = 0;
                int timeout = 0, batch = 0;
                foreach (var m in st.Members)
                {
                    var off = baseOff + (int)(m.Offset / 8);
                    var mt = Btf.Resolve(m.Type);
                    if (mt.Kind == BtfKind.Ptr)
                    {
                        var rel = rels.FirstOrDefault(r => (int)r.Offset == off);
                        if (rel.Sym == 0 && rel.Offset == 0 && rels.All(r => (int)r.Offset != off)) continue;
                        var sym = elf.Symbols[rel.Sym];
                        if (!codeBase.TryGetValue(sym.Shndx, out var b)) throw new BpfLoadException($"struct_ops {var.Name}.{m.Name} points to {sym.Name}, which is not a program");
                        var prog = Programs.FirstOrDefault(p => p.Entry == b + (int)(sym.Value / 8)) ?? throw new BpfLoadException($"struct_ops {var.Name}.{m.Name}: {sym.Name} is not a struct_ops program");
                        if (m.Name == "enable") enable = prog;
                        else if (m.Name == "init_task") initTask = prog;
                        else if (m.Name == "cgroup_init") cgroupInit = prog;
                        else if (m.Name == "exit_task") exitTask = prog;
                        else if (m.Name == "disable") disable = prog;
                        else if (Callbacks.FromMember(m.Name) is { } cb) cbs[cb] = prog;
                        else if (StructOps.NeverCalledWhy(m.Name) is { } why) neverCalled.Add((m.Name, prog, why));
                        else others.Add(m.Name);
                        continue;
                    }
                    var size = (int)Btf.SizeOf(m.Type);
                    long Num() => size switch
                    {
                        1 => s.Data[off],
                        2 => Elf.U16(s.Data, off),
                        4 => Elf.U32(s.Data, off),
                        8 => (long)Elf.U64(s.Data, off),
                        _ => throw new BpfLoadException($"struct_ops {var.Name}.{m.Name}: size {size}"),
                    };
                    switch (m.Name)
                    {
                        case "name": opsName = Elf.Str(s.Data.AsSpan(off, size).ToArray(), 0); break;
                        case "flags": flags = Num(); break;
                        case "timeout_ms": timeout = (int)Num(); break;
                        case "dispatch_max_batch": batch = (int)Num(); break;
                        default:
                            if (Num() != 0) others.Add(m.Name);
                            break;
                    }
                }
                if (others.Count > 0) Issue($"struct_ops {var.Name}: sched_ext_ops.{others[0]} is not supported by the model");
                return new StructOps(var.Name, cbs, opsName, flags, timeout, batch, others, enable, initTask, exitTask, disable, cgroupInit) { NeverCalled = neverCalled };
            }
        }
        throw new BpfLoadException("no struct_ops sched_ext_ops map (declare one in SEC(\".struct_ops.link\"))");
    }

    // ---- CO-RE ----

    private const int CoreFieldByteOffset = 0, CoreFieldByteSize = 1, CoreFieldExists = 2, CoreFieldSigned = 3,
        CoreTypeIdLocal = 6, CoreTypeIdTarget = 7, CoreTypeExists = 8, CoreTypeSize = 9, CoreEnumvalExists = 10, CoreEnumvalValue = 11;

    private void ApplyCore(ref Insn insn, CoreRelo cr, string sec)
    {
        var root = Btf.Resolve(cr.TypeId);
        // libbpf matches the relocated type by its own name: a typedef's (atomic_t) rather than the anonymous struct's.
        var rootName = Btf[cr.TypeId].Name is { Length: > 0 } own ? own : root.Name;
        var spec = $"[{cr.TypeId}] {KindWord(root)} {rootName} ({cr.Access})";
        long value;
        switch (cr.Kind)
        {
            case CoreFieldByteOffset or CoreFieldByteSize or CoreFieldExists or CoreFieldSigned:
            {
                var f = ResolveField(root, rootName, cr.Access);
                if (f == null)
                {
                    if (cr.Kind == CoreFieldExists) { value = 0; break; }
                    if (!ModelTypes.Structs.ContainsKey(Essential(rootName)))
                        throw new CoreUnresolved($"{sec}: relo for {spec}: {KindWord(root)} {rootName} is not modelled", typeModelled: false);
                    if (LeftOutField(root, rootName, cr.Access) is { } why)
                        throw new CoreUnresolved($"{sec}: relo for {spec}: {why}", typeModelled: false);
                    throw new CoreUnresolved($"{sec}: relo for {spec}: field not found in the model's types (the model has no such field)");
                }
                value = cr.Kind switch
                {
                    CoreFieldByteOffset => f.Value.Offset,
                    CoreFieldByteSize => f.Value.Size,
                    CoreFieldExists => 1,
                    _ => f.Value.Signed ? 1 : 0,
                };
                break;
            }
            case CoreTypeExists: value = ModelTypes.Structs.ContainsKey(Essential(rootName)) ? 1 : 0; break;
            case CoreTypeSize:
                value = ModelTypes.Structs.TryGetValue(Essential(rootName), out var ms) ? ms.Size : throw new CoreUnresolved($"{sec}: relo for {spec}: type not in the model");
                break;
            case CoreTypeIdLocal or CoreTypeIdTarget: value = cr.TypeId; break;
            case CoreEnumvalExists or CoreEnumvalValue:
            {
                var idx = int.Parse(cr.Access);
                var name = root.Members[idx].Name;
                var known = ModelEnums.TryGet(name, out var v);
                if (cr.Kind == CoreEnumvalExists) value = known ? 1 : 0;
                else value = known ? v : throw new CoreUnresolved($"{sec}: relo for {spec}: enum value {name} not in the model");
                break;
            }
            default: throw new BpfLoadException($"{sec}: unsupported CO-RE relocation kind {cr.Kind} for {spec}");
        }
        var cls = insn.Op & 7;
        if (cls is 1 or 3 or 2 && (insn.Op & 0xe0) != 0xc0) insn.Off = checked((short)value); // ldx/stx/st: the offset
        else if (insn.Op == 0x18) insn.Imm64 = value;
        else insn.Imm = checked((int)value);
    }

    /// <summary>A CO-RE relocation the model's types cannot satisfy: the instruction is poisoned, not the load.</summary>
    private sealed class CoreUnresolved(string message, bool typeModelled = true) : Exception(message)
    {
        public bool TypeModelled => typeModelled;
    }

    private static string KindWord(BtfType t) => t.Kind switch { BtfKind.Struct => "struct", BtfKind.Union => "union", BtfKind.Enum or BtfKind.Enum64 => "enum", _ => "" };

    /// <summary>libbpf's "flavors": <c>task_struct___v2</c> matches <c>task_struct</c>.</summary>
    internal static string Essential(string name)
    {
        var at = name.IndexOf("___", StringComparison.Ordinal);
        return at > 0 ? name[..at] : name;
    }

    /// <summary>A CO-RE relocation reached p->nvcsw or p->nivcsw: the model must count context switches.</summary>
    public bool ReadsSwitchCounts { get; private set; }

    /// <summary>The reason the access's first field is one the model leaves out (<see cref="ModelTypes.LeftOut"/>), or null.</summary>
    private static string? LeftOutField(BtfType root, string rootName, string access)
    {
        var parts = access.Split(':');
        if (parts.Length < 2 || root.Kind is not (BtfKind.Struct or BtfKind.Union) || !int.TryParse(parts[1], out var i) || i < 0 || i >= root.Members.Length) return null;
        var field = root.Members[i].Name;
        if (ModelTypes.PartlyModelled.TryGetValue(Essential(rootName), out var part)) return $"{rootName}.{field} is not modelled ({part})";
        return ModelTypes.LeftOut.TryGetValue((Essential(rootName), field), out var why) ? $"{rootName}.{field} is not modelled ({why})" : null;
    }

    private (int Offset, int Size, bool Signed)? ResolveField(BtfType root, string rootName, string access)
    {
        var parts = access.Split(':').Select(int.Parse).ToArray();
        if (!ModelTypes.Structs.TryGetValue(Essential(rootName), out var model)) return null;
        var off = parts[0] * model.Size;
        var local = root;
        ModelStruct? cur = model;
        ModelField? field = null;
        for (var i = 1; i < parts.Length; i++)
        {
            if (local.Kind is BtfKind.Struct or BtfKind.Union)
            {
                if (cur == null) return null;
                var m = local.Members[parts[i]];
                if (string.IsNullOrEmpty(m.Name))
                {
                    // An anonymous struct or union member (struct rq's `union { donor; curr; }` since v6.15): libbpf
                    // matches the named member inside it; the model's structs list such members flat, so the search
                    // goes on in the same model struct.
                    local = Btf.Resolve(m.Type);
                    continue;
                }
                field = cur.Field(m.Name);
                if (field == null) return null;
                if (field.Task is TaskField.Nvcsw or TaskField.Nivcsw) ReadsSwitchCounts = true;
                off += field.Offset;
                local = Btf.Resolve(m.Type);
                cur = field.Struct != null ? ModelTypes.Structs[field.Struct] : null;
            }
            else if (local.Kind == BtfKind.Array)
            {
                if (field == null || field.ArrayLen == 0 || parts[i] >= field.ArrayLen) return null;
                off += parts[i] * field.Size;
                local = Btf.Resolve(local.ArrayElem);
            }
            else return null;
        }
        if (field == null) return (off, model.Size, false);
        return (off, field.ArrayLen > 0 && local.Kind == BtfKind.Array ? field.Size * field.ArrayLen : field.Struct != null ? ModelTypes.Structs[field.Struct].Size : field.Size, field.Signed);
    }

    // ---- rodata ----

    /// <summary>
    /// <c>name[]=N</c>: what a skeleton's <c>RESIZE_ARRAY()</c> does for scx's <c>RESIZABLE_ARRAY()</c>,
    /// an array alone in its own <c>.data.NAME</c>/<c>.bss.NAME</c>/<c>.rodata.NAME</c> section, declared with one
    /// element and grown to N before load (existing bytes kept, the rest zero).
    /// </summary>
    private void ResizeArray(string name, string text, string spec)
    {
        if (!int.TryParse(text, out var n) || n < 1 || n > 1 << 20) throw new BpfLoadException($"--rodata '{spec}': the new length must be a number from 1 to {1 << 20}");
        foreach (var g in Globals)
        {
            if (g.Name is ".data" or ".bss" or ".rodata" || !g.Vars.TryGetValue(name, out var v)) continue;
            var vt = Btf.Types.First(t => t.Kind == BtfKind.Var && t.Name == name);
            var t = Btf.Resolve(vt.RefType);
            if (t.Kind != BtfKind.Array || g.Vars.Count != 1 || v.Offset != 0) throw new BpfLoadException($"--rodata {name}[]: not a RESIZABLE_ARRAY (an array alone in its own data section)");
            var elem = (int)Btf.SizeOf(t.ArrayElem);
            var init = new byte[elem * n];
            Array.Copy(g.Init, init, Math.Min(g.Init.Length, init.Length));
            g.Init = init;
            g.Vars[name] = (0, init.Length);
            return;
        }
        throw new BpfLoadException($"--rodata {name}[]: no array of that name in its own .data.{name}, .bss.{name} or .rodata.{name} section");
    }

    /// <summary>
    /// <c>--rodata OPS.field=value</c>: a field of the sched_ext_ops struct_ops map, as user space sets
    /// <c>skel->struct_ops.OPS->field</c> before load (the numa selftest adds SCX_OPS_BUILTIN_IDLE_PER_NODE to flags).
    /// </summary>
    private void PatchStructOps(string field, string text, string spec)
    {
        long value;
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? !long.TryParse(text[2..], System.Globalization.NumberStyles.HexNumber, null, out value) : !long.TryParse(text, out value))
            throw new BpfLoadException($"--rodata {spec}: '{text}' is not a number");
        Ops = field switch
        {
            "flags" => Ops with { Flags = value },
            "timeout_ms" => Ops with { TimeoutMs = (int)value },
            "dispatch_max_batch" => Ops with { DispatchMaxBatch = (int)value },
            _ => throw new BpfLoadException($"--rodata {spec}: the model reads flags, timeout_ms and dispatch_max_batch of {Ops.MapName}, not {field}"),
        };
    }

    /// <summary>A load-time item that chooses the sched_ext_ops struct_ops map by name (<c>--ops NAME</c>, scenario <c>ops:</c>).</summary>
    public const string OpsPrefix = "ops:";

    private string? _wantedOps;

    /// <summary>The names of every sched_ext_ops struct_ops map in the object (<see cref="Ops"/> is one of them).</summary>
    public List<string> OpsMaps { get; } = [];

    /// <summary>A load-time item that runs a syscall program rather than patching rodata (<c>--syscall</c>).</summary>
    public const string SyscallPrefix = "syscall:";

    /// <summary>A load-time item that runs a syscall program once while the scheduler is attached (<c>--syscall-attached</c>).</summary>
    public const string SyscallAttachedPrefix = "syscall-attached:";

    /// <summary>A load-time item that writes map contents before attaching (<c>--map</c>, scenario <c>maps:</c>).</summary>
    public const string MapPrefix = "map:";

    /// <summary>A load-time item that sizes a map before load (<c>--max-entries NAME=N</c>, scenario <c>max_entries:</c>).</summary>
    public const string MaxEntriesPrefix = "max_entries:";

    /// <summary>Map sizes user space sets before load (bpf_map__set_max_entries()), by map name; they replace the BTF's.</summary>
    private readonly Dictionary<string, int> _maxEntries = new(StringComparer.Ordinal);

    /// <summary><c>NAME=N</c>: map NAME gets N entries (N ≥ 1), as user space sizes a map by the CPU count before load.</summary>
    private void AddMaxEntries(string spec)
    {
        var eq = spec.IndexOf('=');
        if (eq <= 0) throw new BpfLoadException($"--max-entries {spec}: expected MAP=N");
        var name = spec[..eq].Trim();
        var n = ParseNumber(spec[(eq + 1)..].Trim());
        if (n is not { } v || v < 1 || v > int.MaxValue) throw new BpfLoadException($"--max-entries {spec}: '{spec[(eq + 1)..].Trim()}' is not a positive number of entries");
        _maxEntries[name] = (int)v;
    }

    /// <summary>Map contents user space writes before attaching, in order (a later write to the same bytes wins).</summary>
    public List<BpfMapInit> MapInits { get; } = [];

    /// <summary>
    /// <c>--map NAME[KEY]=VALUE</c> or <c>NAME[KEY].field.sub[i]=VALUE</c>: what user space writes with
    /// <c>bpf_map_update_elem()</c> after load and before attaching (a topology table, a CPU's LLC id). The field
    /// path is resolved through the value's BTF type; a per-CPU map gets the same value on every CPU.
    /// </summary>
    public void AddMapInit(string spec)
    {
        BpfLoadException Bad(string what) => new($"--map '{spec}': {what}");
        var eq = spec.IndexOf('=');
        var br = spec.IndexOf('[');
        var close = br < 0 ? -1 : spec.IndexOf(']', br);
        if (eq <= 0 || br <= 0 || close < br || close > eq) throw Bad("expected MAP[KEY]=VALUE or MAP[KEY].field=VALUE");
        var name = spec[..br].Trim();
        var mi = Maps.FindIndex(m => m.Name == name);
        if (mi < 0) throw Bad($"no map {name} (the object has: {string.Join(", ", Maps.Select(m => m.Name))})");
        var m = Maps[mi];
        if (m.Type == MapTypes.ArrayOfMaps)
        {
            AddInnerMap(mi, spec[(br + 1)..close].Trim(), spec[(close + 1)..eq].Trim(), spec[(eq + 1)..].Trim(), Bad);
            return;
        }
        if (!(m.Type is MapTypes.Array or MapTypes.PercpuArray || MapTypes.IsHash(m.Type)))
            throw Bad($"{MapTypes.Name(m.Type)} contents cannot be set at load in the model (arrays, hash maps and arrays of maps can)");
        var keyText = spec[(br + 1)..close].Trim();
        var key = ParseNumber(keyText) ?? throw Bad($"key '{keyText}' is not a number");
        if (m.Type is MapTypes.Array or MapTypes.PercpuArray ? key < 0 || key >= m.MaxEntries : m.KeySize < 8 && (ulong)key >> (8 * m.KeySize) != 0)
            throw Bad(m.Type is MapTypes.Array or MapTypes.PercpuArray ? $"index {key} out of range (0..{m.MaxEntries - 1})" : $"key {key} does not fit in the map's {m.KeySize}-byte key");
        var valueText = spec[(eq + 1)..].Trim();
        var value = ParseValue(valueText) ?? throw Bad($"'{valueText}' is not a number");
        // The field path, through the value's BTF type (without BTF: the whole value, at most 8 bytes).
        var path = spec[(close + 1)..eq].Trim();
        int off = 0, size;
        if (m.ValueType == 0)
        {
            if (path.Length > 0) throw Bad($"map {name} has no BTF value type (value_size only), so it has no fields");
            size = Math.Min(8, m.ValueSize);
        }
        else (off, size) = FieldPath(Btf.Resolve(m.ValueType), path, "the value", "MAP[KEY].field=VALUE", Bad);
        // struct bpf_timer (16 bytes) is the kernel's: user space cannot arm a timer by writing the map.
        if (m.TimerOffsets?.Any(t => off < t + 16 && t < off + size) == true) throw Bad("that is a struct bpf_timer, which only bpf_timer_*() may set");
        MapInits.Add(new BpfMapInit(mi, key, off, size, value, spec));
    }

    /// <summary>The value that puts a map user space creates into an array of maps' slot (<c>--map OUTER[i]=new</c>).</summary>
    public const string NewInnerMap = "new";

    /// <summary>
    /// <c>OUTER[i]=new</c>: user space creates a map with the inner definition (<c>bpf_map_create()</c>) and stores it in
    /// slot i of an array of maps (<c>bpf_map_update_elem(outer_fd, &amp;i, &amp;inner_fd)</c>), as scx_pair fills
    /// <c>cgrp_q_arr</c>. The new map is named <c>OUTER[i]</c> and starts empty.
    /// </summary>
    private void AddInnerMap(int outer, string keyText, string path, string valueText, Func<string, BpfLoadException> bad)
    {
        var m = Maps[outer];
        if (path.Length > 0) throw bad($"a slot of {MapTypes.Name(m.Type)} {m.Name} holds a map, which has no fields");
        if (valueText != NewInnerMap) throw bad($"a slot of {MapTypes.Name(m.Type)} {m.Name} takes '{NewInnerMap}' (a map user space creates with the inner map's definition), not '{valueText}'");
        var key = ParseNumber(keyText) ?? throw bad($"key '{keyText}' is not a number");
        if (key < 0 || key >= m.MaxEntries) throw bad($"index {key} out of range (0..{m.MaxEntries - 1})");
        var inner = m.Inner ?? throw bad($"map {m.Name} has no inner map definition");
        var slots = (int[])m.InnerMaps!.Clone();
        slots[key] = Maps.Count;
        Maps.Add(inner with { Name = $"{m.Name}[{key}]" });
        Maps[outer] = m with { InnerMaps = slots };
    }

    /// <summary>
    /// The byte offset and size of the number at <paramref name="path"/> (<c>.field</c> and <c>[index]</c> steps) inside
    /// a value of type <paramref name="t"/>, as user space writes it through a skeleton (map values, rodata structs).
    /// </summary>
    private (int Offset, int Size) FieldPath(BtfType t, string path, string what, string form, Func<string, BpfLoadException> bad)
    {
        string At(string done) => done.Length == 0 ? what : $"{what} at {done.TrimStart('.')}";
        var off = 0;
        var rest = path;
        while (rest.Length > 0)
        {
            if (rest[0] == '.')
            {
                var end = rest.IndexOfAny(['.', '['], 1);
                var field = end < 0 ? rest[1..] : rest[1..end];
                if (t.Kind is not (BtfKind.Struct or BtfKind.Union)) throw bad($"{field}: {At(path[..^rest.Length])} is not a struct");
                var member = t.Members.FirstOrDefault(x => x.Name == field);
                if (member.Name == null) throw bad($"struct {t.Name} has no field {field} (fields: {string.Join(", ", t.Members.Select(x => x.Name))})");
                if (member.Size != 0 || member.Offset % 8 != 0) throw bad($"{field} is a bitfield, which the model does not write");
                off += (int)(member.Offset / 8);
                t = Btf.Resolve(member.Type);
                rest = end < 0 ? "" : rest[end..];
            }
            else if (rest[0] == '[')
            {
                var end = rest.IndexOf(']');
                if (end < 0 || !int.TryParse(rest[1..end], out var i) || i < 0) throw bad("bad array index");
                if (t.Kind != BtfKind.Array) throw bad($"{At(path[..^rest.Length])} is not an array");
                if (i >= t.ArrayLen) throw bad($"index {i} out of range (0..{t.ArrayLen - 1})");
                off += i * (int)Btf.SizeOf(t.ArrayElem);
                t = Btf.Resolve(t.ArrayElem);
                rest = rest[(end + 1)..];
            }
            else throw bad("expected .field or [index]");
        }
        if (t.Kind is BtfKind.Struct or BtfKind.Union or BtfKind.Array)
            throw bad($"{(path.Length == 0 ? what : path.TrimStart('.'))} is a {(t.Kind == BtfKind.Array ? "array" : "struct")}: give each field ({form})");
        if (t.Kind == BtfKind.Ptr) throw bad("a pointer: user space cannot give one a value the program could use");
        var size = (int)Btf.SizeOf(t.Id);
        if (size is not (1 or 2 or 4 or 8)) throw bad($"a {size}-byte field is not a number");
        return (off, size);
    }

    /// <summary>A load-time item that names where the scheduler keeps its tasks (<c>--holds</c>, scenario <c>holds:</c>).</summary>
    public const string HoldsPrefix = "holds:";

    /// <summary>The places named by <see cref="HoldsPrefix"/> items; empty: every word of the object's shared memory.</summary>
    public List<BpfHolds> Holds { get; } = [];

    /// <summary>
    /// <c>--holds map:NAME[:keys|:values]</c> or <c>global:NAME</c>: a place where the scheduler keeps the pids of the
    /// tasks in its custody. Named, they are the only places: a QUEUED task whose pid is in none of them is forgotten.
    /// </summary>
    public void AddHolds(string spec)
    {
        BpfLoadException Bad(string what) => new($"--holds '{spec}': {what}");
        var parts = spec.Split(':', StringSplitOptions.TrimEntries);
        if (parts.Length is < 2 or > 3 || parts[0] is not ("map" or "global")) throw Bad("expected map:NAME, map:NAME:keys, map:NAME:values or global:NAME");
        if (parts[0] == "global")
        {
            if (parts.Length != 2) throw Bad("a global has no keys or values: global:NAME");
            for (var g = 0; g < Globals.Count; g++)
                if (!Globals[g].ReadOnly && Globals[g].Vars.TryGetValue(parts[1], out var v))
                {
                    Holds.Add(new BpfHolds(-1, HoldsWhere.Anywhere, g, v.Offset, v.Size));
                    return;
                }
            throw Bad($"no writable global variable {parts[1]} (in .data or .bss)");
        }
        var mi = Maps.FindIndex(m => m.Name == parts[1]);
        if (mi < 0) throw Bad($"no map {parts[1]} (the object has: {string.Join(", ", Maps.Select(m => m.Name))})");
        var where = parts.Length == 2 ? HoldsWhere.Anywhere
            : parts[2] == "keys" ? HoldsWhere.Keys : parts[2] == "values" ? HoldsWhere.Values : throw Bad($"'{parts[2]}': expected keys or values");
        if (where == HoldsWhere.Keys && !MapTypes.IsHash(Maps[mi].Type)) throw Bad($"{MapTypes.Name(Maps[mi].Type)} has no keys to hold pids in");
        Holds.Add(new BpfHolds(mi, where, -1, 0, 0));
    }

    /// <summary>Syscall programs to run, in order, before ops.init (<see cref="SyscallRun"/>).</summary>
    public List<SyscallRun> Syscalls { get; } = [];

    /// <summary>
    /// <c>--syscall PROG[:field=value...]</c>: run the <c>SEC("syscall")</c> program PROG before ops.init with its context
    /// struct (the type its first parameter points to, from BTF) holding those field values, the rest zero.
    /// </summary>
    public void AddSyscall(string text, bool attached = false)
    {
        var option = attached ? "--syscall-attached" : "--syscall";
        var parts = text.Split(':', StringSplitOptions.TrimEntries);
        var name = parts[0];
        var syscalls = Programs.Where(p => p.Section.StartsWith("syscall", StringComparison.Ordinal)).ToList();
        var prog = syscalls.FirstOrDefault(p => p.Name == name)
            ?? throw new BpfLoadException($"{option} {text}: no SEC(\"syscall\") program {name} (the object has: {(syscalls.Count == 0 ? "none" : string.Join(", ", syscalls.Select(p => p.Name)))})");
        var func = Btf.Types.FirstOrDefault(t => t.Kind == BtfKind.Func && t.Name == name);
        var proto = func != null ? Btf.Resolve(func.RefType) : null;
        BtfType? ctxType = null;
        if (proto is { Kind: BtfKind.FuncProto, Members.Length: > 0 } && Btf.Resolve(proto.Members[0].Type) is { Kind: BtfKind.Ptr } ptr)
            ctxType = Btf.Resolve(ptr.RefType);
        var size = ctxType is { Kind: BtfKind.Struct or BtfKind.Union } ? (int)ctxType.Size : 0;
        var ctx = new byte[size];
        foreach (var arg in parts.Skip(1))
        {
            var eq = arg.IndexOf('=');
            if (eq <= 0) throw new BpfLoadException($"{option} {text}: '{arg}': expected field=value");
            var field = arg[..eq].Trim();
            if (ctxType is not { Kind: BtfKind.Struct or BtfKind.Union })
                throw new BpfLoadException($"{option} {text}: {name} takes no context struct, so it has no field {field}");
            var found = ctxType.Members.Where(x => x.Name == field).ToList();
            var m = found.Count > 0 ? found[0] : throw new BpfLoadException($"{option} {text}: struct {ctxType.Name} has no field {field} (fields: {string.Join(", ", ctxType.Members.Select(x => x.Name))})");
            var value = ParseNumber(arg[(eq + 1)..].Trim()) ?? throw new BpfLoadException($"{option} {text}: '{arg[(eq + 1)..].Trim()}' is not a number");
            var off = (int)(m.Offset / 8);
            var fsize = (int)Btf.SizeOf(m.Type);
            for (var k = 0; k < fsize && k < 8 && off + k < ctx.Length; k++) ctx[off + k] = (byte)(value >> (8 * k));
        }
        Syscalls.Add(new SyscallRun(prog, ctx, text, attached));
    }

    /// <summary>A decimal (signed, or unsigned up to 2⁶⁴−1) or 0x-hexadecimal integer as its 64 bits, or null.</summary>
    internal static long? ParseNumber(string s) =>
        s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && long.TryParse(s[2..], System.Globalization.NumberStyles.HexNumber, null, out var h) ? h
        : long.TryParse(s, out var d) ? d
        : ulong.TryParse(s, out var u) ? unchecked((long)u) : null;

    /// <summary>A value user space writes (rodata, map contents): true, false or a <see cref="ParseNumber"/> integer; null otherwise.</summary>
    internal static long? ParseValue(string s) => s is "true" ? 1 : s is "false" ? 0 : ParseNumber(s);

    /// <summary>
    /// <c>--rodata name=value</c>, <c>name[i]=value</c>, <c>name[i][j]=value</c> or <c>name.field[.field|[i]]=value</c>: patch a <c>const volatile</c>
    /// (or a .data/.bss global) before load, as a skeleton does (<c>rodata->topo_config.nr_cpus = n</c>).
    /// </summary>
    public void PatchRodata(string spec)
    {
        var eq = spec.IndexOf('=');
        if (eq <= 0) throw new BpfLoadException($"--rodata '{spec}': expected name=value");
        var lhs = spec[..eq].Trim();
        var text = spec[(eq + 1)..].Trim();
        var dot = lhs.IndexOf('.');
        if (dot > 0 && lhs[..dot] == Ops.MapName)
        {
            PatchStructOps(lhs[(dot + 1)..], text, spec);
            return;
        }
        if (lhs.EndsWith("[]", StringComparison.Ordinal))
        {
            ResizeArray(lhs[..^2], text, spec);
            return;
        }
        if (dot > 0 || lhs.IndexOf('[') != lhs.LastIndexOf('['))
        {
            // A field of a struct (or of an array element), or an element of an array of arrays:
            // rodata.topo_config.nr_cpus = N, rodata.pco_table[i][j] = c in a skeleton.
            var cut = lhs.IndexOfAny(['.', '[']);
            var name = lhs[..cut];
            foreach (var g in Globals.Where(x => x.ReadOnly).Concat(Globals.Where(x => !x.ReadOnly)))
            {
                if (!g.Vars.TryGetValue(name, out var gv)) continue;
                var vt = Btf.Types.First(t => t.Kind == BtfKind.Var && t.Name == name);
                var (off, size) = FieldPath(Btf.Resolve(vt.RefType), lhs[cut..], name, "NAME.field=VALUE", w => new BpfLoadException($"--rodata {lhs}: {w}"));
                var fv = ParseValue(text) ?? throw new BpfLoadException($"--rodata {lhs}: '{text}' is not a number");
                for (var i = 0; i < size; i++) g.Init[gv.Offset + off + i] = (byte)(fv >> (8 * i));
                return;
            }
            throw new BpfLoadException($"--rodata {name}: no const volatile variable of that name in .rodata (nor a global in .data/.bss)");
        }
        var index = 0;
        var br = lhs.IndexOf('[');
        if (br > 0)
        {
            if (!lhs.EndsWith(']') || !int.TryParse(lhs[(br + 1)..^1], out index) || index < 0) throw new BpfLoadException($"--rodata '{spec}': bad array index");
            lhs = lhs[..br];
        }
        // A const volatile first; else a .data/.bss global, which user space may also write before attaching
        // (skel->bss->x = v, as the dequeue selftest picks its scenario).
        foreach (var g in Globals.Where(x => x.ReadOnly).Concat(Globals.Where(x => !x.ReadOnly)))
        {
            if (!g.Vars.TryGetValue(lhs, out var v)) continue;
            var vt = Btf.Types.First(t => t.Kind == BtfKind.Var && t.Name == lhs);
            var t = Btf.Resolve(vt.RefType);
            var elem = t.Kind == BtfKind.Array ? (int)Btf.SizeOf(t.ArrayElem) : v.Size;
            // The variable's bytes, not the BTF's length: a RESIZABLE_ARRAY resized above (NAME[]=N) has N elements.
            var count = t.Kind == BtfKind.Array ? v.Size / Math.Max(1, elem) : 1;
            if (br < 0 && count > 1 && t.Kind == BtfKind.Array && spec.IndexOf('[') < 0) throw new BpfLoadException($"--rodata {lhs}: an array; write {lhs}[i]=value");
            // A number only: a row of an array of arrays, or a struct, is written element by element or field by field,
            // as a skeleton does (NAME.field and NAME[i][j] take the path above).
            var target = t.Kind == BtfKind.Array && br > 0 ? Btf.Resolve(t.ArrayElem) : t;
            var named = br > 0 ? $"{lhs}[{index}]" : lhs;
            if (target.Kind == BtfKind.Array && br > 0) throw new BpfLoadException($"--rodata {named}: an array of arrays: give each element (NAME[i][j]=VALUE)");
            if (target.Kind is BtfKind.Struct or BtfKind.Union) throw new BpfLoadException($"--rodata {named}: a {(target.Kind == BtfKind.Struct ? "struct" : "union")}: give each field (NAME.field=VALUE)");
            if (elem is not (1 or 2 or 4 or 8)) throw new BpfLoadException($"--rodata {named}: a {elem}-byte value is not a number");
            if (index >= count) throw new BpfLoadException($"--rodata {lhs}[{index}]: index out of range (0..{count - 1})");
            var val = ParseValue(text) ?? throw new BpfLoadException($"--rodata {lhs}: '{text}' is not a number");
            var at = v.Offset + index * elem;
            for (var i = 0; i < elem; i++) g.Init[at + i] = (byte)(val >> (8 * i));
            return;
        }
        throw new BpfLoadException($"--rodata {lhs}: no const volatile variable of that name in .rodata (nor a global in .data/.bss)");
    }
}

public static class MapTypes
{
    public const int Hash = 1, Array = 2, PerfEventArray = 4, PercpuHash = 5, PercpuArray = 6, LruHash = 9, LruPercpuHash = 10, ArrayOfMaps = 12, Queue = 22, Stack = 23, RingBuf = 27, TaskStorage = 29, CgrpStorage = 32, Arena = 33;
    /// <summary>BPF_F_NO_PREALLOC and BPF_F_MMAPABLE (map_flags).</summary>
    public const long NoPrealloc = 1 << 0, Mmapable = 1 << 10;
    /// <summary>BPF_F_NO_COMMON_LRU: an LRU hash with per-CPU LRU lists (map_flags).</summary>
    public const long NoCommonLru = 1 << 1;
    /// <summary>
    /// CgrpStorage holds the root cgroup's value, the only cgroup the model has (bpf_cgrp_storage_get/delete).
    /// PerfEventArray is accepted as a declaration only (scx's PMU library): the model has no perf events, and the helpers that read one are not
    /// implemented, so a program that can reach them is refused at load (a poisoned call).
    /// </summary>
    /// RingBuf is a channel to user space, which the model does not run: records are reserved and written by the program
    /// and vanish when submitted (see Interpreter, bpf_ringbuf_reserve).
    public static bool Supported(int t) => t is Hash or Array or PerfEventArray or PercpuHash or PercpuArray or LruHash or LruPercpuHash or ArrayOfMaps or Queue or Stack or RingBuf or TaskStorage or CgrpStorage or Arena;
    /// <summary>The hashtab.c flavors: a key index and preallocated elements (see <c>Machine.KfBpfHash</c>).</summary>
    public static bool IsHash(int t) => t is Hash or PercpuHash or LruHash or LruPercpuHash;
    /// <summary>A value per possible CPU in each element.</summary>
    public static bool IsPerCpu(int t) => t is PercpuHash or PercpuArray or LruPercpuHash;
    public static bool IsLru(int t) => t is LruHash or LruPercpuHash;
    public static string Name(int t) => t switch
    {
        Hash => "BPF_MAP_TYPE_HASH", Array => "BPF_MAP_TYPE_ARRAY", PerfEventArray => "BPF_MAP_TYPE_PERF_EVENT_ARRAY", PercpuHash => "BPF_MAP_TYPE_PERCPU_HASH", PercpuArray => "BPF_MAP_TYPE_PERCPU_ARRAY",
        LruHash => "BPF_MAP_TYPE_LRU_HASH", LruPercpuHash => "BPF_MAP_TYPE_LRU_PERCPU_HASH", ArrayOfMaps => "BPF_MAP_TYPE_ARRAY_OF_MAPS", Queue => "BPF_MAP_TYPE_QUEUE", Stack => "BPF_MAP_TYPE_STACK",
        RingBuf => "BPF_MAP_TYPE_RINGBUF", TaskStorage => "BPF_MAP_TYPE_TASK_STORAGE", CgrpStorage => "BPF_MAP_TYPE_CGRP_STORAGE", Arena => "BPF_MAP_TYPE_ARENA", _ => $"#{t}",
    };
}

/// <summary>
/// Enum values CO-RE enum relocations may ask for (the scx headers read SCX_* this way), and the
/// values <c>SCX_ENUM_INIT</c> writes into the <c>__SCX_*</c> rodata variables of scx's
/// <c>enums.autogen.bpf.h</c>: the model's own constants, under the kernel's names.
/// </summary>
public static class ModelEnums
{
    private static readonly Dictionary<string, long> Values = Build();

    private static Dictionary<string, long> Build()
    {
        var d = new Dictionary<string, long>(StringComparer.Ordinal)
        {
            ["SCX_DSQ_FLAG_BUILTIN"] = unchecked((long)Kernel.DsqId.FlagBuiltin),
            ["SCX_DSQ_FLAG_LOCAL_ON"] = (long)Kernel.DsqId.FlagLocalOn,
            ["SCX_DSQ_INVALID"] = unchecked((long)Kernel.DsqId.Invalid),
            ["SCX_DSQ_GLOBAL"] = unchecked((long)Kernel.DsqId.Global),
            ["SCX_DSQ_LOCAL"] = unchecked((long)Kernel.DsqId.Local),
            ["SCX_DSQ_LOCAL_ON"] = unchecked((long)(Kernel.DsqId.FlagBuiltin | Kernel.DsqId.FlagLocalOn)),
            ["SCX_DSQ_LOCAL_CPU_MASK"] = 0xffffffffL,
            ["SCX_SLICE_DFL"] = Kernel.ScxConst.SliceDfl,
            ["SCX_OPS_NAME_LEN"] = 128,
            // The model's "infinite" slice (the kernel's is U64_MAX): a program only passes it on.
            ["SCX_SLICE_INF"] = Kernel.ScxConst.SliceInf,
            ["SCX_KICK_IDLE"] = (long)Kernel.KickFlags.Idle,
            ["SCX_KICK_PREEMPT"] = (long)Kernel.KickFlags.Preempt,
            ["SCX_KICK_WAIT"] = (long)Kernel.KickFlags.Wait,
            ["SCX_ENQ_WAKEUP"] = (long)Kernel.EnqFlags.Wakeup,
            ["SCX_TASK_QUEUED"] = (long)Kernel.TaskFlags.Queued,
            ["SCX_TASK_RESET_RUNNABLE_AT"] = (long)Kernel.TaskFlags.ResetRunnableAt,
            ["SCX_TASK_DEQD_FOR_SLEEP"] = (long)Kernel.TaskFlags.DeqdForSleep,
            ["SCX_TASK_STATE_SHIFT"] = 8,
            ["SCX_TASK_NONE"] = 0,
            ["SCX_TASK_INIT"] = 1,
            ["SCX_TASK_READY"] = 2,
            ["SCX_TASK_ENABLED"] = 3,
            ["SCX_TASK_NR_STATES"] = 4,
            ["SCX_TASK_STATE_BITS"] = 2,
            ["SCX_TASK_STATE_MASK"] = 3 << 8,
            ["SCX_TASK_REENQ_REASON_SHIFT"] = 12,
            ["SCX_TASK_REENQ_REASON_BITS"] = 2,
            ["SCX_TASK_REENQ_REASON_MASK"] = (long)Kernel.TaskFlags.ReenqReasonMask,
            ["SCX_TASK_REENQ_NONE"] = 0,
            ["SCX_TASK_REENQ_KFUNC"] = (long)Kernel.TaskFlags.ReenqKfunc,
            ["SCX_TASK_REENQ_IMMED"] = (long)Kernel.TaskFlags.ReenqImmed,
            ["SCX_TASK_REENQ_PREEMPTED"] = (long)Kernel.TaskFlags.ReenqPreempted,
            ["SCX_TASK_IMMED"] = (long)Kernel.TaskFlags.Immed,
            ["SCX_TASK_CURSOR"] = 1L << 31,
            ["SCX_TASK_DSQ_ON_PRIQ"] = 1,
            ["SCX_ENQ_HEAD"] = (long)Kernel.EnqFlags.Head,
            ["SCX_ENQ_CPU_SELECTED"] = (long)Kernel.EnqFlags.CpuSelected,
            ["SCX_ENQ_PREEMPT"] = (long)Kernel.EnqFlags.Preempt,
            ["SCX_ENQ_REENQ"] = (long)Kernel.EnqFlags.Reenq,
            ["SCX_ENQ_LAST"] = (long)Kernel.EnqFlags.Last,
            ["SCX_ENQ_CLEAR_OPSS"] = (long)Kernel.EnqFlags.ClearOpss,
            ["SCX_ENQ_DSQ_PRIQ"] = (long)Kernel.EnqFlags.DsqPriq,
            ["SCX_DEQ_SLEEP"] = (long)Kernel.DeqFlags.Sleep,
            ["SCX_DEQ_CORE_SCHED_EXEC"] = (long)Kernel.DeqFlags.CoreSchedExec,
            ["SCX_DEQ_SCHED_CHANGE"] = (long)Kernel.DeqFlags.SchedChange,
            ["SCX_ENQ_IMMED"] = (long)Kernel.EnqFlags.Immed,
            ["SCX_DSQ_ITER_REV"] = 1L << 16,
            ["SCX_PICK_IDLE_CORE"] = 1,
            ["SCX_PICK_IDLE_IN_NODE"] = 2,
            ["SCX_CPUPERF_ONE"] = 1024,
            ["SCX_ECODE_RSN_HOTPLUG"] = 1L << 32,
            ["SCX_ECODE_ACT_RESTART"] = 1L << 48,
            ["SCX_OPS_KEEP_BUILTIN_IDLE"] = (long)OpsFlags.KeepBuiltinIdle,
            ["SCX_OPS_ENQ_LAST"] = (long)OpsFlags.EnqLast,
            ["SCX_OPS_ENQ_EXITING"] = (long)OpsFlags.EnqExiting,
            ["SCX_OPS_SWITCH_PARTIAL"] = (long)OpsFlags.SwitchPartial,
            ["SCX_OPS_ENQ_MIGRATION_DISABLED"] = (long)OpsFlags.EnqMigrationDisabled,
            ["SCX_OPS_BUILTIN_IDLE_PER_NODE"] = (long)OpsFlags.BuiltinIdlePerNode,
            ["SCX_OPS_ALWAYS_ENQ_IMMED"] = (long)OpsFlags.AlwaysEnqImmed,
            ["SCX_WAKE_FORK"] = (long)WakeFlags.Fork,
            ["SCX_WAKE_TTWU"] = (long)WakeFlags.Ttwu,
            ["SCX_WAKE_SYNC"] = (long)WakeFlags.Sync,
        };
        foreach (var k in Enum.GetValues<Kernel.ExitKind>()) d[Kernel.ExitKinds.KernelName(k)] = (long)k;
        return d;
    }

    public static bool TryGet(string name, out long v) => Values.TryGetValue(name, out v);
}
