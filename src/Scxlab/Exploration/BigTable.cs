using System.Runtime.InteropServices;

namespace Scxlab.Exploration;

/// <summary>
/// A zeroed block of memory (64-bit words or bytes) outside the managed heap for the visited sets' hash tables, backed by transparent
/// huge pages where Linux offers them (<c>madvise(MADV_HUGEPAGE)</c>; Debian's default THP mode is "madvise").
/// </summary>
/// <remarks>
/// <para>A visited set probes one random slot per transition in a table of hundreds of megabytes. With 4 KiB pages each
/// probe is also a TLB miss and a page walk, and each page is a page fault when first touched (≈ 270 000 of them for
/// scale-4cpu's table, measured as kernel time); with 2 MiB pages both mostly go away. Where mmap or madvise is not
/// available the block comes from <see cref="NativeMemory.AllocZeroed(nuint)"/> on ordinary pages: same contents,
/// only slower.</para>
/// <para>A table made <see cref="Growable"/> reserves address space (no memory) for its largest size up front and
/// <see cref="TryGrow"/> extends it in place: the pages it already has stay, and only the new tail is faulted in. A
/// table that doubles by copying touches fresh memory for every size it passes through, twice the final table in all;
/// on this project's VM a first touch of a huge page costs ≈ 3 ms, and those faults were 13 % of scale-4cpu's search.</para>
/// </remarks>
internal sealed unsafe class BigTable : IDisposable
{
    private const int ProtNone = 0, ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20, MapNoReserve = 0x4000, MadvHugepage = 14, MadvPopulateWrite = 23, RlimitAs = 9;
    private const long HugePage = 2L << 20;

    private nuint _bytes;
    private readonly bool _mapped;
    // A growable table: the base of its reservation (huge-page aligned inside it: Words), and the reservation's size.
    private readonly void* _reservation;
    private readonly nuint _reservedBytes;
    private readonly nuint _usableBytes;

    public ulong* Words { get; private set; }
    public byte* Bytes => (byte*)Words;
    /// <summary>Its size in 64-bit words (rounded up).</summary>
    public long Length => (long)_bytes / sizeof(ulong);
    public long ByteLength => (long)_bytes;

    /// <param name="words">Size in 64-bit words.</param>
    public BigTable(long words) : this(Math.Max(1, words) * sizeof(ulong), 0) { }

    private BigTable(long bytes, long maxBytes)
    {
        _bytes = (nuint)bytes;
        if (OperatingSystem.IsLinux())
        {
            try
            {
                if (maxBytes > bytes && Reserve(maxBytes, out _reservation, out _reservedBytes, out var start, out _usableBytes))
                {
                    if (mprotect(start, _bytes, ProtRead | ProtWrite) == 0)
                    {
                        Words = (ulong*)start;
                        _mapped = true;
                    }
                    else
                    {
                        _ = munmap(_reservation, _reservedBytes);
                        _reservation = null;
                        _reservedBytes = _usableBytes = 0;
                    }
                }
                if (Words == null)
                {
                    var p = mmap(null, _bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
                    if (p != (void*)-1)
                    {
                        _ = madvise(p, _bytes, MadvHugepage); // a hint: without THP the pages are ordinary ones
                        Words = (ulong*)p;
                        _mapped = true;
                    }
                }
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
            }
        }
        if (Words == null) Words = (ulong*)NativeMemory.AllocZeroed(_bytes);
        GC.AddMemoryPressure((long)_bytes);
    }

    /// <summary>A block of at least <paramref name="bytes"/> bytes.</summary>
    public static BigTable OfBytes(long bytes) => new(RoundToWords(bytes), 0);

    /// <summary>
    /// A block of <paramref name="bytes"/> bytes that <see cref="TryGrow"/> can extend in place up to <paramref name="maxBytes"/>
    /// (where the OS lets it reserve the address space; else an ordinary block that cannot grow).
    /// </summary>
    /// <remarks>
    /// Only where the process's address space is unlimited (no <c>ulimit -v</c>): under a limit, address space reserved
    /// here would be taken from what the runtime's own heap may grow into.
    /// </remarks>
    public static BigTable Growable(long bytes, long maxBytes) => new(RoundToWords(bytes), AddressSpaceUnlimited ? RoundToWords(maxBytes) : 0);

    /// <summary>The number of slots a table that may use <paramref name="maxBytes"/> can reach by doubling from <paramref name="initial"/>: what it reserves for.</summary>
    public static long ReachableCapacity(long initial, long maxBytes, int slotBytes, long maxCapacity)
    {
        var c = initial;
        while (c * 2 <= maxCapacity && c * 2 * slotBytes <= maxBytes) c *= 2;
        return c;
    }

    private static readonly Lazy<bool> s_addressSpaceUnlimited = new(() =>
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            var limit = stackalloc ulong[2];
            return getrlimit(RlimitAs, limit) == 0 && limit[0] == ulong.MaxValue; // RLIM_INFINITY
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    });

    /// <summary>Linux, with no limit on the process's address space: a <see cref="Growable"/> block reserves address space and grows in place.</summary>
    internal static bool AddressSpaceUnlimited => s_addressSpaceUnlimited.Value;

    private static long RoundToWords(long bytes) => (Math.Max(1, bytes) + 7) / 8 * 8;

    /// <summary>Can this table extend in place (it has reserved address space beyond its size)?</summary>
    public bool CanGrow => _reservation != null;

    /// <summary>
    /// Extend the block in place to <paramref name="bytes"/> bytes (rounded up to whole words); the new tail reads as
    /// zeros, the old contents and address stay. False (and nothing changed) when it cannot: then the caller copies.
    /// </summary>
    public bool TryGrow(long bytes)
    {
        var want = (nuint)RoundToWords(bytes);
        if (want <= _bytes) return true;
        if (_reservation == null || want > _usableBytes) return false;
        if (mprotect(Words, want, ProtRead | ProtWrite) != 0) return false;
        GC.AddMemoryPressure((long)(want - _bytes));
        _bytes = want;
        return true;
    }

    /// <summary>
    /// Fault in bytes [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) of the block now,
    /// writable, without changing what they hold (<c>madvise(MADV_POPULATE_WRITE)</c>, Linux 5.14+): several threads can
    /// take the page faults of a stretch that one thread will then write. False where the OS cannot (the faults then come
    /// on first touch, as without this call).
    /// </summary>
    public bool Populate(long offset, long length)
    {
        if (!_mapped || length <= 0 || offset < 0 || offset + length > (long)_bytes) return false;
        // madvise wants a page-aligned start: round it down (the bytes before it are the block's own).
        var start = (nuint)Bytes + (nuint)offset;
        var aligned = start & ~(nuint)4095;
        try
        {
            return madvise((void*)aligned, (nuint)length + (start - aligned), MadvPopulateWrite) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Address space for <paramref name="maxBytes"/> bytes, inaccessible and uncommitted (PROT_NONE, MAP_NORESERVE), with a
    /// huge-page-aligned start: the huge pages of a table that grows stay whole.
    /// </summary>
    private static bool Reserve(long maxBytes, out void* reservation, out nuint reserved, out void* start, out nuint usable)
    {
        reserved = (nuint)(maxBytes + HugePage);
        reservation = mmap(null, reserved, ProtNone, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
        if (reservation == (void*)-1)
        {
            reservation = start = null;
            reserved = usable = 0;
            return false;
        }
        var aligned = ((nuint)reservation + (nuint)HugePage - 1) & ~(nuint)(HugePage - 1);
        start = (void*)aligned;
        usable = reserved - (aligned - (nuint)reservation);
        _ = madvise(start, usable, MadvHugepage);
        return true;
    }

    public ref ulong this[long i] => ref Words[i];

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~BigTable() => Free();

    private void Free()
    {
        var p = Words;
        if (p == null) return;
        Words = null;
        if (_reservation != null) _ = munmap(_reservation, _reservedBytes);
        else if (_mapped) _ = munmap(p, _bytes);
        else NativeMemory.Free(p);
        GC.RemoveMemoryPressure((long)_bytes);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int munmap(void* addr, nuint length);

    [DllImport("libc", SetLastError = true)]
    private static extern int madvise(void* addr, nuint length, int advice);

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, ulong* rlim);

    [DllImport("libc", SetLastError = true)]
    private static extern int mprotect(void* addr, nuint length, int prot);
}

/// <summary>
/// The doubling of an open-addressing table of 64-bit fingerprints (linear probing, home slot <c>(fp &gt;&gt; 20) &amp; mask</c>,
/// key 0 = empty) within its own memory: the key and aux tables have just grown in place (<see cref="BigTable.TryGrow"/>)
/// from <c>oldCapacity</c> slots to twice that, the upper half empty, and every entry moves to where the doubled mask puts
/// it, with no second table. Used by <see cref="FingerprintSet"/> and, while its workers are stopped, by
/// <see cref="LockFreeFingerprintSet"/>.
/// </summary>
/// <remarks>
/// An entry's home under the doubled mask is its old home h or h + N (N = oldCapacity). The old slots are taken out
/// and put back one at a time, walking from just after the first empty slot s to N − 1 (part 1), then 0 to s − 1
/// (part 2), so no old cluster is entered in its middle. An entry stays findable when nothing it probed past is emptied
/// later; walked slots never are, so it is enough that every probe runs over walked slots (or the upper half, which
/// holds only entries put back) to the slot it takes:
/// <list type="bullet">
/// <item>Home h ≤ j, at old slot j: h..j − 1 were one cluster with it, which s is not in, so they are walked; slot j
/// itself is empty now. It lands in h..j.</item>
/// <item>An old cluster that wrapped past the end (home h &gt; j, so j &lt; s &lt; h, in part 2): h..N − 1 were walked in
/// part 1; past them the probe runs in the upper half and, wrapping past its end, over 0..j.</item>
/// <item>Home h + N: the probe runs in the upper half, and in part 2 may wrap over 0..j as above. In part 1 it never
/// wraps: the entries in a run of the upper half that reaches the end, [a, 2N), all have homes in it, so they sat in
/// old slots a − N..N − 1 (part 1 has no wrapped clusters), which are as many as the run's slots.</item>
/// </list>
/// </remarks>
internal static unsafe class InPlaceDoubling
{
    /// <param name="wideAux">The aux table holds a word a slot (else a byte); its contents move with their keys unread.</param>
    public static void Rehash(BigTable keyTable, BigTable auxTable, bool wideAux, long oldCapacity)
    {
        var keys = keyTable.Words;
        var auxWords = auxTable.Words;
        var auxBytes = auxTable.Bytes;
        var mask = (int)(oldCapacity * 2 - 1);
        var s = 0;
        while (keys[s] != 0) s++; // at most 3/4 full: there is an empty slot
        for (var t = 1; t < oldCapacity; t++)
        {
            var j = (int)((s + t) & (oldCapacity - 1));
            var k = keys[j];
            if (k == 0) continue;
            keys[j] = 0;
            var i = (int)(k >> 20) & mask;
            while (keys[i] != 0) i = (i + 1) & mask;
            keys[i] = k;
            if (wideAux)
            {
                var aux = auxWords[j];
                auxWords[j] = 0;
                auxWords[i] = aux; // after the clear: i may be j
            }
            else
            {
                var aux = auxBytes[j];
                auxBytes[j] = 0;
                auxBytes[i] = aux;
            }
        }
    }
}
