using System.Buffers.Binary;
using System.Text;

namespace Scxlab.BpfObject;

/// <summary>A load error: one line, as the CLI prints it (exit 1).</summary>
public sealed class BpfLoadException(string message) : Exception(message);

/// <summary>
/// The relocatable ELF64 (little-endian, EM_BPF) that <c>clang -target bpf</c> writes: sections,
/// the symbol table and REL relocations. Written here rather than taken from a NuGet reader
/// because a relocatable BPF object needs only these three tables and every malformed field must
/// become a one-line load error, which is simpler to guarantee in ~100 lines than around a library.
/// </summary>
internal sealed class Elf
{
    public const ushort EmBpf = 247;
    public const uint ShtSymtab = 2, ShtNobits = 8, ShtRel = 9;
    public const byte SttFunc = 2, SttSection = 3, SttObject = 1, SttNotype = 0;

    public sealed record Section(int Index, string Name, uint Type, ulong Flags, byte[] Data, ulong Size, uint Link, uint Info);
    public readonly record struct Symbol(string Name, byte Info, ushort Shndx, ulong Value, ulong Size)
    {
        public byte Type => (byte)(Info & 0xf);
        public byte Bind => (byte)(Info >> 4);
    }
    public readonly record struct Rel(ulong Offset, int Sym, uint Type);

    public List<Section> Sections { get; } = [];
    public List<Symbol> Symbols { get; } = [];

    public static Elf Parse(byte[] b, string what)
    {
        if (b.Length < 64 || b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F')
            throw new BpfLoadException($"{what}: not an ELF file{(b.Length < 64 && b.Length >= 4 && b[0] == 0x7f ? " (truncated header)" : "")}");
        if (b[4] != 2) throw new BpfLoadException($"{what}: not a 64-bit ELF (EI_CLASS {b[4]})");
        if (b[5] != 1) throw new BpfLoadException($"{what}: not a little-endian ELF (EI_DATA {b[5]}); build with -target bpf (bpfel)");
        var machine = U16(b, 18);
        if (machine != EmBpf) throw new BpfLoadException($"{what}: ELF machine {machine} is not EM_BPF ({EmBpf}); build with clang -target bpf");
        var shoff = U64(b, 40);
        var shentsize = U16(b, 58);
        var shnum = U16(b, 60);
        var shstrndx = U16(b, 62);
        if (shentsize != 64 || shoff > (ulong)b.Length || shoff + (ulong)shnum * 64 > (ulong)b.Length)
            throw new BpfLoadException($"{what}: truncated ELF (section headers at {shoff}, {shnum}×{shentsize} bytes, file is {b.Length} bytes)");
        var elf = new Elf();
        var raw = new List<(uint name, uint type, ulong flags, ulong off, ulong size, uint link, uint info)>();
        for (var i = 0; i < shnum; i++)
        {
            var o = (int)shoff + 64 * i;
            var type = U32(b, o + 4);
            var off = U64(b, o + 24);
            var size = U64(b, o + 32);
            if (type != ShtNobits && type != 0 && (off > (ulong)b.Length || off + size > (ulong)b.Length))
                throw new BpfLoadException($"{what}: truncated ELF (section {i} ends at {off + size}, file is {b.Length} bytes)");
            raw.Add((U32(b, o), type, U64(b, o + 8), off, size, U32(b, o + 40), U32(b, o + 44)));
        }
        if (shstrndx >= raw.Count) throw new BpfLoadException($"{what}: bad section-name table index {shstrndx}");
        var shstr = Slice(b, raw[shstrndx].off, raw[shstrndx].size);
        for (var i = 0; i < raw.Count; i++)
        {
            var r = raw[i];
            var data = r.type is ShtNobits or 0 ? [] : Slice(b, r.off, r.size);
            elf.Sections.Add(new Section(i, Str(shstr, r.name), r.type, r.flags, data, r.size, r.link, r.info));
        }
        var symtab = elf.Sections.FirstOrDefault(s => s.Type == ShtSymtab) ?? throw new BpfLoadException($"{what}: no symbol table");
        if (symtab.Link >= elf.Sections.Count) throw new BpfLoadException($"{what}: bad symbol string table index");
        var strtab = elf.Sections[(int)symtab.Link].Data;
        for (var o = 0; o + 24 <= symtab.Data.Length; o += 24)
            elf.Symbols.Add(new Symbol(Str(strtab, U32(symtab.Data, o)), symtab.Data[o + 4], U16(symtab.Data, o + 6), U64(symtab.Data, o + 8), U64(symtab.Data, o + 16)));
        return elf;
    }

    public Section? Find(string name) => Sections.FirstOrDefault(s => s.Name == name);

    /// <summary>The REL section that applies to section <paramref name="target"/>.</summary>
    public IEnumerable<Rel> RelsFor(int target)
    {
        foreach (var s in Sections)
        {
            if (s.Type != ShtRel || s.Info != target) continue;
            for (var o = 0; o + 16 <= s.Data.Length; o += 16)
            {
                var info = U64(s.Data, o + 8);
                yield return new Rel(U64(s.Data, o), (int)(info >> 32), (uint)info);
            }
        }
    }

    private static byte[] Slice(byte[] b, ulong off, ulong size) => b.AsSpan((int)off, (int)size).ToArray();
    internal static string Str(byte[] tab, uint off)
    {
        if (off >= tab.Length) return "";
        var end = Array.IndexOf(tab, (byte)0, (int)off);
        if (end < 0) end = tab.Length;
        return Encoding.UTF8.GetString(tab, (int)off, end - (int)off);
    }
    internal static ushort U16(byte[] b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(o));
    internal static uint U32(byte[] b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o));
    internal static ulong U64(byte[] b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(o));
}
