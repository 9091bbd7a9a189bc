namespace Scxlab.Bpf;

public enum MapKind : byte
{
    Queue,        // BPF_MAP_TYPE_QUEUE: FIFO push/pop/peek
    Stack,        // BPF_MAP_TYPE_STACK: LIFO push/pop/peek
    List,         // a FIFO that also supports removal by value (bpf_list_head / arena list under a lock)
    Hash,         // BPF_MAP_TYPE_HASH: key → value
    Array,        // BPF_MAP_TYPE_ARRAY: index → value (also globals)
    TaskStorage,  // BPF_MAP_TYPE_TASK_STORAGE: per-task fields
    SpinLock,     // struct bpf_spin_lock
    Cpumask,      // struct bpf_cpumask kptr
    Arena,        // BPF_MAP_TYPE_ARENA: sparse pages (ArenaOps; its shape in MapBuilder.Arenas)
}

/// <summary>A declared map: its place in the world's map arena.</summary>
public readonly record struct MapHandle(int Id, MapKind Kind, int Offset, int Capacity, int Width)
{
    public override string ToString() => $"{Kind}#{Id}";
}

/// <summary>Lays out a policy's maps in the world's <c>long[]</c> arena at load time.</summary>
public sealed class MapBuilder
{
    private readonly List<(string Name, MapHandle Handle)> _maps = [];
    private int _words;

    public MapBuilder(int taskCount, int cpuCount = 1)
    {
        TaskCount = taskCount;
        CpuCount = cpuCount;
    }

    public int TaskCount { get; }

    /// <summary><c>nr_cpu_ids</c>, known at load time (size per-CPU arrays with it, like <c>RESIZABLE_ARRAY</c>).</summary>
    public int CpuCount { get; }
    public int Words => _words;

    /// <summary>The scenario's <c>bounds: bpf_cpumasks</c> (null: the model's default pool size).</summary>
    public int? BpfCpumasks { get; init; }

    /// <summary>The scenario's <c>bounds: arena_pages</c>: page slots of a BPF arena.</summary>
    public int ArenaPages { get; init; } = 8;

    /// <summary>The scenario's <c>bounds: hash_elems</c>: elements of each BPF hash map the world backs.</summary>
    public int HashElems { get; init; } = int.MaxValue;

    /// <summary>The scenario's <c>bounds: bpf_timers</c>: struct bpf_timer instances that get an actor.</summary>
    public int BpfTimers { get; init; } = Kernel.ModelConfig.DefaultBpfTimers;

    /// <summary>Initial non-zero words (a BPF object's .data), applied when the world is created.</summary>
    public List<(int Word, long Value)> Initial { get; } = [];
    public IReadOnlyList<(string Name, MapHandle Handle)> Maps => _maps;

    private MapHandle Add(string name, MapKind kind, int capacity, int width, int words)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), $"map {name}: max_entries must be positive");
        var h = new MapHandle(_maps.Count, kind, _words, capacity, width);
        _maps.Add((name, h));
        _words += words;
        return h;
    }

    // Layouts: queue/stack/list = [head, count, items…]; hash = [count, (used, key, value)…];
    // array = [values…]; task storage = [fields × tasks]; spin lock = [owner+1]; cpumask = [4 words].
    public MapHandle Queue(string name, int capacity) => Add(name, MapKind.Queue, capacity, 1, 2 + capacity);
    public MapHandle Stack(string name, int capacity) => Add(name, MapKind.Stack, capacity, 1, 2 + capacity);
    public MapHandle List(string name, int capacity) => Add(name, MapKind.List, capacity, 1, 2 + capacity);
    public MapHandle Hash(string name, int capacity) => Add(name, MapKind.Hash, capacity, 1, 1 + 3 * capacity);
    public MapHandle Array(string name, int entries) => Add(name, MapKind.Array, entries, 1, entries);
    public MapHandle TaskStorage(string name, int fields) => Add(name, MapKind.TaskStorage, TaskCount, fields, fields * Math.Max(1, TaskCount));
    public MapHandle SpinLock(string name) => Add(name, MapKind.SpinLock, 1, 1, 1);
    public MapHandle Cpumask(string name) => Add(name, MapKind.Cpumask, 1, 4, 4);

    /// <summary>A BPF arena: <see cref="ArenaShape.Slots"/> page slots of [tag, 512 data words] (BpfObject.ArenaOps).</summary>
    public MapHandle Arena(string name, ArenaShape shape)
    {
        var h = Add(name, MapKind.Arena, shape.Slots, ArenaShape.SlotWords, shape.Slots * ArenaShape.SlotWords);
        _arenas[h.Id] = shape;
        return h;
    }

    private readonly Dictionary<int, ArenaShape> _arenas = [];

    /// <summary>The shape of each arena map, by map id.</summary>
    public IReadOnlyDictionary<int, ArenaShape> Arenas => _arenas;
}

/// <summary>
/// A BPF arena as the kernel's arena.c keeps it: <see cref="Pages"/> pages (max_entries) of which any may be
/// allocated; the program's <c>__arena</c> globals, <paramref name="GlobalInit"/> (whole pages), occupy the pages from
/// <see cref="GlobalFirstPage"/> on and are allocated from the start (libbpf writes them through its mapping before
/// load). The world backs only the pages that differ from that: <see cref="Slots"/> page slots (bounds: arena_pages).
/// </summary>
public sealed record ArenaShape(int Pages, int GlobalFirstPage, byte[] GlobalInit, int Slots)
{
    public const int PageSize = 4096, PageWords = PageSize / 8;
    /// <summary>A page slot: its tag word (0 free, else the page's pgoff + 1, see BpfObject.ArenaOps), then the page.</summary>
    public const int SlotWords = 1 + PageWords;

    public int GlobalPages => GlobalInit.Length / PageSize;
    public bool IsGlobalPage(long pgoff) => pgoff >= GlobalFirstPage && pgoff < GlobalFirstPage + GlobalPages;

    /// <summary>Word <paramref name="word"/> (0..511) of a global page as libbpf initialised it.</summary>
    public long InitWord(long pgoff, int word) =>
        System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(GlobalInit.AsSpan((int)(pgoff - GlobalFirstPage) * PageSize + 8 * word, 8));
}

/// <summary>The map operations over the arena: pure functions of the words, shared by kfuncs and checks.</summary>
public static class MapOps
{
    /// <param name="replace">BPF_EXIST: a full queue or stack drops its oldest element to make room (queue_stack_maps.c
    /// advances its tail), so the push succeeds.</param>
    public static bool Push(Span<long> m, MapHandle h, long v, bool replace = false)
    {
        ref var head = ref m[h.Offset];
        ref var count = ref m[h.Offset + 1];
        if (count >= h.Capacity)
        {
            if (!replace) return false; // -E2BIG
            // The oldest element, for a queue and a stack alike, is at head.
            m[h.Offset + 2 + (int)head] = 0;
            head = (head + 1) % h.Capacity;
            count--;
        }
        var slot = (int)((head + count) % h.Capacity);
        m[h.Offset + 2 + slot] = v;
        count++;
        return true;
    }

    public static MapValue Pop(Span<long> m, MapHandle h)
    {
        ref var head = ref m[h.Offset];
        ref var count = ref m[h.Offset + 1];
        if (count == 0) return new(false, 0); // -ENOENT
        long v;
        if (h.Kind == MapKind.Stack)
        {
            var slot = (int)((head + count - 1) % h.Capacity);
            v = m[h.Offset + 2 + slot];
            m[h.Offset + 2 + slot] = 0;
        }
        else
        {
            v = m[h.Offset + 2 + (int)head];
            m[h.Offset + 2 + (int)head] = 0;
            head = (head + 1) % h.Capacity;
        }
        count--;
        if (count == 0) head = 0; // canonical empty form
        return new(true, v);
    }

    public static MapValue Peek(ReadOnlySpan<long> m, MapHandle h)
    {
        var head = m[h.Offset];
        var count = m[h.Offset + 1];
        if (count == 0) return new(false, 0);
        var slot = h.Kind == MapKind.Stack ? (int)((head + count - 1) % h.Capacity) : (int)head;
        return new(true, m[h.Offset + 2 + slot]);
    }

    public static int Count(ReadOnlySpan<long> m, MapHandle h) => h.Kind switch
    {
        MapKind.Queue or MapKind.Stack or MapKind.List => (int)m[h.Offset + 1],
        MapKind.Hash => (int)m[h.Offset],
        _ => h.Capacity,
    };

    public static long At(ReadOnlySpan<long> m, MapHandle h, int i) => m[h.Offset + 2 + (int)((m[h.Offset] + i) % h.Capacity)];

    public static bool Contains(ReadOnlySpan<long> m, MapHandle h, long v)
    {
        var n = Count(m, h);
        for (var i = 0; i < n; i++)
            if (At(m, h, i) == v) return true;
        return false;
    }

    /// <summary>Remove the first occurrence of <paramref name="v"/>, keeping order (list maps).</summary>
    public static bool Remove(Span<long> m, MapHandle h, long v)
    {
        var n = (int)m[h.Offset + 1];
        var at = -1;
        for (var i = 0; i < n; i++)
            if (At(m, h, i) == v) { at = i; break; }
        if (at < 0) return false;
        var head = (int)m[h.Offset];
        for (var i = at; i < n - 1; i++)
            m[h.Offset + 2 + (head + i) % h.Capacity] = m[h.Offset + 2 + (head + i + 1) % h.Capacity];
        m[h.Offset + 2 + (head + n - 1) % h.Capacity] = 0;
        m[h.Offset + 1] = n - 1;
        if (n - 1 == 0) m[h.Offset] = 0;
        return true;
    }

    public static MapValue HashLookup(ReadOnlySpan<long> m, MapHandle h, long key)
    {
        for (var i = 0; i < h.Capacity; i++)
        {
            var b = h.Offset + 1 + 3 * i;
            if (m[b] != 0 && m[b + 1] == key) return new(true, m[b + 2]);
        }
        return new(false, 0);
    }

    public static bool HashUpdate(Span<long> m, MapHandle h, long key, long value)
    {
        var free = -1;
        for (var i = 0; i < h.Capacity; i++)
        {
            var b = h.Offset + 1 + 3 * i;
            if (m[b] != 0 && m[b + 1] == key) { m[b + 2] = value; return true; }
            if (m[b] == 0 && free < 0) free = b;
        }
        if (free < 0) return false; // -E2BIG
        m[free] = 1;
        m[free + 1] = key;
        m[free + 2] = value;
        m[h.Offset]++;
        return true;
    }

    public static bool HashDelete(Span<long> m, MapHandle h, long key)
    {
        for (var i = 0; i < h.Capacity; i++)
        {
            var b = h.Offset + 1 + 3 * i;
            if (m[b] != 0 && m[b + 1] == key)
            {
                m[b] = m[b + 1] = m[b + 2] = 0;
                m[h.Offset]--;
                return true;
            }
        }
        return false;
    }

    public static int TaskSlot(MapHandle h, int task, int field)
    {
        if ((uint)field >= (uint)h.Width) throw new PolicyMisuseException($"task storage {h}: field {field} out of range (0..{h.Width - 1})");
        return h.Offset + task * h.Width + field;
    }

    public static int ArraySlot(MapHandle h, long index)
    {
        if ((ulong)index >= (ulong)h.Capacity) throw new PolicyMisuseException($"array map {h}: index {index} out of range (0..{h.Capacity - 1})");
        return h.Offset + (int)index;
    }

    public static bool CpumaskTest(ReadOnlySpan<long> m, MapHandle h, int cpu) =>
        (uint)cpu < 256 && (m[h.Offset + (cpu >> 6)] & (1L << (cpu & 63))) != 0;
}

/// <summary>A read-only view of the policy's maps, for ownership queries and reports.</summary>
public readonly ref struct MapView(ReadOnlySpan<long> words)
{
    private readonly ReadOnlySpan<long> _m = words;
    public bool Contains(MapHandle h, long v) => MapOps.Contains(_m, h, v);
    public int Count(MapHandle h) => MapOps.Count(_m, h);
    public long At(MapHandle h, int i) => MapOps.At(_m, h, i);
    public MapValue Lookup(MapHandle h, long key) => MapOps.HashLookup(_m, h, key);
    public long Get(MapHandle h, long index) => _m[MapOps.ArraySlot(h, index)];
    /// <summary>Word <paramref name="word"/> of the map's words (all <c>Capacity × Width</c> of them).</summary>
    public long Word(MapHandle h, int word) => (uint)word < (uint)(h.Capacity * h.Width) ? _m[h.Offset + word] : throw new ArgumentOutOfRangeException(nameof(word));
    public long TaskGet(MapHandle h, int task, int field) => _m[MapOps.TaskSlot(h, task, field)];
}
