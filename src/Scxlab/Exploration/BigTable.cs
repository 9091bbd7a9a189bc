using System.Runtime.InteropServices;

namespace Scxlab.Exploration;

/// <summary>
/// A zeroed block of memory (64-bit words or bytes) outside the managed heap for the visited sets' hash tables, backed by transparent
/// huge pages where Linux offers them (<c>madvise(MADV_HUGEPAGE)</c>; Debian's default THP mode is "madvise").
/// </summary>
/// <remarks>
/// A visited set probes one random slot per transition in a table of hundreds of megabytes. With 4 KiB pages each
/// probe is also a TLB miss and a page walk, and each page is a page fault when first touched (≈ 270 000 of them for
/// scale-4cpu's table, measured as kernel time); with 2 MiB pages both mostly go away. Where mmap or madvise is not
/// available the block comes from <see cref="NativeMemory.AllocZeroed(nuint)"/> on ordinary pages: same contents,
/// only slower.
/// </remarks>
internal sealed unsafe class BigTable : IDisposable
{
    private const int ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20, MadvHugepage = 14;

    private readonly nuint _bytes;
    private readonly bool _mapped;

    public ulong* Words { get; private set; }
    public byte* Bytes => (byte*)Words;
    /// <summary>Its size in 64-bit words (rounded up).</summary>
    public long Length { get; }
    public long ByteLength => (long)_bytes;

    /// <param name="words">Size in 64-bit words.</param>
    public BigTable(long words) : this(words, 1) { }

    private BigTable(long words, int dummy)
    {
        Length = Math.Max(1, words);
        _bytes = (nuint)(Length * sizeof(ulong));
        if (OperatingSystem.IsLinux())
        {
            try
            {
                var p = mmap(null, _bytes, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
                if (p != (void*)-1)
                {
                    _ = madvise(p, _bytes, MadvHugepage); // a hint: without THP the pages are ordinary ones
                    Words = (ulong*)p;
                    _mapped = true;
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
    public static BigTable OfBytes(long bytes) => new((bytes + 7) / 8, 1);

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
        if (_mapped) _ = munmap(p, _bytes);
        else NativeMemory.Free(p);
        GC.RemoveMemoryPressure((long)_bytes);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int munmap(void* addr, nuint length);

    [DllImport("libc", SetLastError = true)]
    private static extern int madvise(void* addr, nuint length, int advice);
}
