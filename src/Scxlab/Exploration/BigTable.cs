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
    private const int ProtNone = 0, ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20, MapNoReserve = 0x4000, MadvHugepage = 14;
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
    public static BigTable Growable(long bytes, long maxBytes) => new(RoundToWords(bytes), RoundToWords(maxBytes));

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
    private static extern int mprotect(void* addr, nuint length, int prot);
}
