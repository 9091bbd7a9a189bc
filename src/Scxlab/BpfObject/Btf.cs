namespace Scxlab.BpfObject;

public enum BtfKind : byte
{
    Unknown = 0, Int = 1, Ptr = 2, Array = 3, Struct = 4, Union = 5, Enum = 6, Fwd = 7, Typedef = 8,
    Volatile = 9, Const = 10, Restrict = 11, Func = 12, FuncProto = 13, Var = 14, Datasec = 15,
    Float = 16, DeclTag = 17, TypeTag = 18, Enum64 = 19,
}

/// <summary>A member of a struct/union, a param of a func proto, an enumerator, or a datasec entry.</summary>
public readonly record struct BtfMember(string Name, int Type, uint Offset, long Value, uint Size);

public sealed record BtfType(int Id, BtfKind Kind, string Name, uint SizeOrType, bool KindFlag, BtfMember[] Members, int ArrayElem = 0, uint ArrayLen = 0, uint Extra = 0)
{
    public uint Size => SizeOrType;
    public int RefType => (int)SizeOrType;
}

/// <summary>The .BTF section: types and strings (the kernel's BTF format, read for CO-RE, maps, struct_ops).</summary>
public sealed class Btf
{
    public List<BtfType> Types { get; } = [new BtfType(0, BtfKind.Unknown, "void", 0, false, [])];
    public byte[] Strings { get; private set; } = [];

    public BtfType this[int id] => (uint)id < (uint)Types.Count ? Types[id] : throw new BpfLoadException($"BTF type id {id} out of range");

    public string Str(uint off) => Elf.Str(Strings, off);

    public static Btf Parse(byte[] b)
    {
        if (b.Length < 24 || Elf.U16(b, 0) != 0xeB9F) throw new BpfLoadException("bad .BTF section (magic)");
        var hdrLen = (int)Elf.U32(b, 4);
        var typeOff = hdrLen + (int)Elf.U32(b, 8);
        var typeLen = (int)Elf.U32(b, 12);
        var strOff = hdrLen + (int)Elf.U32(b, 16);
        var strLen = (int)Elf.U32(b, 20);
        if (typeOff + typeLen > b.Length || strOff + strLen > b.Length) throw new BpfLoadException("truncated .BTF section");
        var btf = new Btf { Strings = b.AsSpan(strOff, strLen).ToArray() };
        var o = typeOff;
        var end = typeOff + typeLen;
        while (o < end)
        {
            if (o + 12 > end) throw new BpfLoadException("truncated .BTF type");
            var nameOff = Elf.U32(b, o);
            var info = Elf.U32(b, o + 4);
            var st = Elf.U32(b, o + 8);
            o += 12;
            var kind = (BtfKind)((info >> 24) & 0x1f);
            var vlen = (int)(info & 0xffff);
            var kf = (info >> 31) != 0;
            var name = btf.Str(nameOff);
            var id = btf.Types.Count;
            BtfMember[] members = [];
            int elem = 0;
            uint len = 0, extra = 0;
            switch (kind)
            {
                case BtfKind.Int: extra = Elf.U32(b, o); o += 4; break;
                case BtfKind.Ptr or BtfKind.Fwd or BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const or BtfKind.Restrict
                    or BtfKind.Func or BtfKind.Float or BtfKind.TypeTag: break;
                case BtfKind.Array:
                    elem = (int)Elf.U32(b, o);
                    len = Elf.U32(b, o + 8);
                    o += 12;
                    break;
                case BtfKind.Struct or BtfKind.Union:
                    members = new BtfMember[vlen];
                    for (var i = 0; i < vlen; i++, o += 12)
                    {
                        var off = Elf.U32(b, o + 8);
                        members[i] = new BtfMember(btf.Str(Elf.U32(b, o)), (int)Elf.U32(b, o + 4), kf ? off & 0xffffff : off, 0, kf ? off >> 24 : 0);
                    }
                    break;
                case BtfKind.Enum:
                    members = new BtfMember[vlen];
                    for (var i = 0; i < vlen; i++, o += 8)
                        members[i] = new BtfMember(btf.Str(Elf.U32(b, o)), 0, 0, kf ? (int)Elf.U32(b, o + 4) : Elf.U32(b, o + 4), 0);
                    break;
                case BtfKind.Enum64:
                    members = new BtfMember[vlen];
                    for (var i = 0; i < vlen; i++, o += 12)
                        members[i] = new BtfMember(btf.Str(Elf.U32(b, o)), 0, 0, (long)(Elf.U32(b, o + 4) | ((ulong)Elf.U32(b, o + 8) << 32)), 0);
                    break;
                case BtfKind.FuncProto:
                    members = new BtfMember[vlen];
                    for (var i = 0; i < vlen; i++, o += 8)
                        members[i] = new BtfMember(btf.Str(Elf.U32(b, o)), (int)Elf.U32(b, o + 4), 0, 0, 0);
                    break;
                case BtfKind.Var: extra = Elf.U32(b, o); o += 4; break;
                case BtfKind.Datasec:
                    members = new BtfMember[vlen];
                    for (var i = 0; i < vlen; i++, o += 12)
                        members[i] = new BtfMember("", (int)Elf.U32(b, o), Elf.U32(b, o + 4), 0, Elf.U32(b, o + 8));
                    break;
                case BtfKind.DeclTag: extra = Elf.U32(b, o); o += 4; break;
                case BtfKind.Unknown:
                default:
                    throw new BpfLoadException($"unknown BTF kind {(int)kind} (type {id})");
            }
            btf.Types.Add(new BtfType(id, kind, name, st, kf, members, elem, len, extra));
        }
        return btf;
    }

    /// <summary>Skip typedefs and modifiers.</summary>
    public BtfType Resolve(int id)
    {
        var t = this[id];
        for (var n = 0; n < 64 && t.Kind is BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const or BtfKind.Restrict or BtfKind.TypeTag; n++)
            t = this[t.RefType];
        return t;
    }

    public long SizeOf(int id)
    {
        var t = Resolve(id);
        return t.Kind switch
        {
            BtfKind.Int or BtfKind.Struct or BtfKind.Union or BtfKind.Enum or BtfKind.Enum64 or BtfKind.Float or BtfKind.Datasec => t.Size,
            BtfKind.Ptr => 8,
            BtfKind.Array => t.ArrayLen * SizeOf(t.ArrayElem),
            _ => throw new BpfLoadException($"BTF type {t.Id} ({t.Kind}) has no size"),
        };
    }
}

/// <summary>One record of .BTF.ext func_info, line_info or CO-RE relocations, for one section.</summary>
public readonly record struct LineInfo(int Insn, string File, string Line, int LineNo, int Col);
public readonly record struct CoreRelo(int Insn, int TypeId, string Access, int Kind);

/// <summary>The .BTF.ext section: func info, line info and CO-RE relocation records per section.</summary>
public sealed class BtfExt
{
    public Dictionary<string, List<(int Insn, int TypeId)>> FuncInfo { get; } = [];
    public Dictionary<string, List<LineInfo>> Lines { get; } = [];
    public Dictionary<string, List<CoreRelo>> CoreRelos { get; } = [];

    public static BtfExt Parse(byte[] b, Btf btf)
    {
        var ext = new BtfExt();
        if (b.Length < 24 || Elf.U16(b, 0) != 0xeB9F) throw new BpfLoadException("bad .BTF.ext section (magic)");
        var hdrLen = (int)Elf.U32(b, 4);
        Read(b, hdrLen + (int)Elf.U32(b, 8), (int)Elf.U32(b, 12), btf, (sec, o) => Add(ext.FuncInfo, sec, ((int)(Elf.U32(b, o) / 8), (int)Elf.U32(b, o + 4))));
        Read(b, hdrLen + (int)Elf.U32(b, 16), (int)Elf.U32(b, 20), btf, (sec, o) =>
        {
            var lc = Elf.U32(b, o + 12);
            Add(ext.Lines, sec, new LineInfo((int)(Elf.U32(b, o) / 8), btf.Str(Elf.U32(b, o + 4)), btf.Str(Elf.U32(b, o + 8)), (int)(lc >> 10), (int)(lc & 0x3ff)));
        });
        if (hdrLen >= 32)
            Read(b, hdrLen + (int)Elf.U32(b, 24), (int)Elf.U32(b, 28), btf, (sec, o) =>
                Add(ext.CoreRelos, sec, new CoreRelo((int)(Elf.U32(b, o) / 8), (int)Elf.U32(b, o + 4), btf.Str(Elf.U32(b, o + 8)), (int)Elf.U32(b, o + 12))));
        return ext;
    }

    private static void Add<T>(Dictionary<string, List<T>> d, string sec, T v)
    {
        if (!d.TryGetValue(sec, out var l)) d[sec] = l = [];
        l.Add(v);
    }

    private static void Read(byte[] b, int off, int len, Btf btf, Action<string, int> rec)
    {
        if (len == 0) return;
        if (off + len > b.Length || len < 4) throw new BpfLoadException("truncated .BTF.ext section");
        var recSize = (int)Elf.U32(b, off);
        var o = off + 4;
        var end = off + len;
        while (o + 8 <= end)
        {
            var sec = btf.Str(Elf.U32(b, o));
            var n = (int)Elf.U32(b, o + 4);
            o += 8;
            if (o + (long)n * recSize > end) throw new BpfLoadException("truncated .BTF.ext records");
            for (var i = 0; i < n; i++, o += recSize) rec(sec, o);
        }
    }
}
