using System.IO.MemoryMappedFiles;
using Scxlab.Stepping;

namespace Scxlab.Exploration;

/// <summary>
/// The fingerprint set of a search bigger than RAM (<c>check --memory SIZE</c>): TLC's disk-backed fingerprint
/// set, in the form of a log-structured merge tree. The newest states live in an in-memory
/// <see cref="FingerprintSet"/> that may use at most the memory budget; when it is full, its entries are sorted
/// and written to a run file, which is memory-mapped, and the table starts empty. Runs of similar size are
/// merged (a binary counter), so there are at most about log2(states / table) runs, and a lookup probes each
/// through an in-RAM sparse index (every <see cref="Run.Stride"/>th key) and one window of the file. While the
/// runs fit in the page cache the OS keeps them in RAM; beyond that they are read from disk.
/// </summary>
/// <remarks>
/// <para>It answers exactly as the in-memory set does, state for state (<c>SpillingSetTests</c>): a fingerprint
/// is in exactly one place (memory or one run), and its aux word — the sleep set the reduced search stored with
/// the state, and the taint bit — moves with it and stays writable in a run (the mapping is read-write).</para>
/// <para>Slots are the fingerprints themselves: a spill or a merge moves entries, and the DFS keeps the slots of
/// its stack to update their aux words later. The last lookup's place is cached, so the explorer's
/// Add-then-GetAux on a revisit finds it once.</para>
/// <para>A run is written with ordinary file writes (a full disk is an <see cref="IOException"/>, not a fault
/// in a mapped page), then mapped; on Linux its name is unlinked at once, so a killed search leaves nothing
/// behind. If a spill fails, the set keeps the states in memory and <see cref="WouldExceed"/> reports the
/// failure, which the search turns into an incomplete verdict.</para>
/// </remarks>
public sealed unsafe class SpillingFingerprintSet : IVisitedSet, IConcurrentLookup, IDisposable
{
    private readonly FingerprintSet _mem;
    private readonly long _memoryLimit;
    private readonly string _directory;
    private readonly bool _wide;
    private readonly List<Run> _runs = [];
    private ulong[] _sortKeys = [];
    private ulong[] _sortAux = [];
    private int _nextRunId;
    private string? _runDirectory;
    // The place of the last fingerprint looked up: -1 = memory (the table keeps its own index), else the run and _lastSlot its index there.
    private ulong _lastFp;
    private int _lastRun = -2;
    private long _lastSlot;

    /// <param name="actors">The scenario's actors (the aux word is a byte up to 7, as in <see cref="FingerprintSet"/>).</param>
    /// <param name="memoryLimit">Bytes the in-memory table may use before it spills.</param>
    /// <param name="directory">Where run files go (a private subdirectory is created there at the first spill).</param>
    public SpillingFingerprintSet(int actors, long memoryLimit, string directory)
    {
        _wide = actors > 7;
        _mem = new FingerprintSet(actors, 10, memoryLimit);
        _memoryLimit = memoryLimit;
        _directory = directory;
    }

    /// <summary>Why the last spill failed, or null.</summary>
    public string? Failure { get; private set; }
    /// <summary>States held in run files.</summary>
    public long SpilledStates { get; private set; }
    /// <summary>Bytes of the run files now in use.</summary>
    public long DiskBytes { get; private set; }
    /// <summary>Runs written (spills and merges).</summary>
    public int RunsWritten { get; private set; }
    public int RunCount => _runs.Count;
    /// <summary>The in-memory table's budget.</summary>
    public long MemoryLimit => _memoryLimit;

    public long Count => _mem.Count + SpilledStates;
    /// <summary>RAM held: the table and the runs' sparse indexes.</summary>
    public long Bytes => _mem.Bytes + _runs.Sum(r => (long)r.Sparse.Length * 8);
    public bool WouldExceed(long limit) => Failure != null;
    public string ExhaustedReason(long limit) => $"memory budget of {_memoryLimit >> 20} MiB for stored states exhausted, and spilling to disk failed: {Failure}";

    public void Prefetch(ulong fingerprint) => _mem.Prefetch(fingerprint);

    public bool Add(World w, ulong fingerprint, ulong aux, out long slot)
    {
        var fp = fingerprint == 0 ? 1 : fingerprint; // 0 marks an empty slot, as in FingerprintSet
        slot = (long)fp;
        if (_runs.Count == 0 && (Failure != null || !_mem.WouldExceed(_memoryLimit)))
        {
            // Nothing on disk and room in the table (the common case): one probe, as the in-memory set does.
            _lastFp = fp;
            _lastRun = -1;
            return _mem.Add(w, fp, aux, out _);
        }
        if (Locate(fp)) return false;
        if (Failure == null && _mem.WouldExceed(_memoryLimit)) Spill();
        _mem.Add(w, fp, aux, out _);
        (_lastFp, _lastRun) = (fp, -1);
        return true;
    }

    public bool Contains(ulong fingerprint)
    {
        var fp = fingerprint == 0 ? 1 : fingerprint;
        if (_mem.TryFind(fp, out _)) return true;
        foreach (var r in _runs)
            if (r.Find(fp) >= 0) return true;
        return false;
    }

    public ulong GetAux(long slot)
    {
        if (!Locate((ulong)slot)) throw new ArgumentException("no such state", nameof(slot));
        return _lastRun < 0 ? _mem.GetAux(slot) : _runs[_lastRun].GetAux(_lastSlot);
    }

    public void SetAux(long slot, ulong aux)
    {
        if (!Locate((ulong)slot)) throw new ArgumentException("no such state", nameof(slot));
        if (_lastRun < 0) _mem.SetAux(slot, aux);
        else _runs[_lastRun].SetAux(_lastSlot, aux);
    }

    /// <summary>Find <paramref name="fp"/> and remember where (the cache fields); false when absent.</summary>
    private bool Locate(ulong fp)
    {
        if (_lastRun != -2 && _lastFp == fp) return true;
        if (_mem.TryFind(fp, out _))
        {
            (_lastFp, _lastRun) = (fp, -1);
            return true;
        }
        // Newest run first: recent states are the likeliest to be met again.
        for (var r = _runs.Count - 1; r >= 0; r--)
        {
            var i = _runs[r].Find(fp);
            if (i < 0) continue;
            (_lastFp, _lastRun, _lastSlot) = (fp, r, i);
            return true;
        }
        return false;
    }

    /// <summary>Write the table as a sorted run, then merge the newest runs while they are of similar size.</summary>
    private void Spill()
    {
        var n = (int)_mem.Count;
        if (n == 0) return;
        if (_sortKeys.Length < n)
        {
            _sortKeys = new ulong[n];
            _sortAux = new ulong[n];
        }
        _mem.CopyEntries(_sortKeys, _sortAux);
        Array.Sort(_sortKeys, _sortAux, 0, n);
        Run run;
        try
        {
            run = Run.Write(NextPath(), n, _wide, i => (_sortKeys[i], _sortAux[i]));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Failure = $"{_directory}: {e.Message}";
            return;
        }
        _runs.Add(run);
        RunsWritten++;
        SpilledStates += n;
        DiskBytes += run.FileBytes;
        _mem.Clear();
        _lastRun = -2;
        try
        {
            while (_runs.Count >= 2 && _runs[^1].Count * 2 >= _runs[^2].Count) MergeLastTwo();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The runs are intact (a merge replaces them only once its output is written): only lookups get slower.
            Failure = $"{_directory}: {e.Message}";
        }
    }

    private void MergeLastTwo()
    {
        var a = _runs[^2];
        var b = _runs[^1];
        long i = 0, j = 0;
        var merged = Run.Write(NextPath(), a.Count + b.Count, _wide, _ =>
        {
            // Disjoint key sets: each fingerprint is in one place only.
            if (j >= b.Count || (i < a.Count && a.Key(i) < b.Key(j))) { var e = (a.Key(i), a.GetAux(i)); i++; return e; }
            var f = (b.Key(j), b.GetAux(j));
            j++;
            return f;
        });
        DiskBytes += merged.FileBytes - a.FileBytes - b.FileBytes;
        a.Dispose();
        b.Dispose();
        _runs.RemoveRange(_runs.Count - 2, 2);
        _runs.Add(merged);
        RunsWritten++;
        _lastRun = -2;
    }

    private string NextPath()
    {
        if (_runDirectory == null)
        {
            Directory.CreateDirectory(_directory);
            _runDirectory = Path.Combine(_directory, $"scxlab-spill-{Environment.ProcessId}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(_runDirectory);
        }
        return Path.Combine(_runDirectory, $"run-{_nextRunId++}.fps");
    }

    public void Dispose()
    {
        _mem.Dispose();
        foreach (var r in _runs) r.Dispose();
        _runs.Clear();
        if (_runDirectory != null)
        {
            try { Directory.Delete(_runDirectory, recursive: true); }
            catch (IOException) { /* already gone, or busy: nothing of the search depends on it */ }
            _runDirectory = null;
        }
    }

    /// <summary>One sorted run file: the keys (8 bytes each, ascending), then the aux words (1 or 8 bytes each).</summary>
    private sealed class Run : IDisposable
    {
        /// <summary>Keys per sparse-index entry: a lookup reads one window of this many keys (2 KiB).</summary>
        public const int Stride = 256;

        private readonly MemoryMappedFile _file;
        private readonly MemoryMappedViewAccessor _view;
        private readonly byte* _base;
        private readonly bool _wide;
        private readonly string _path;

        public long Count { get; }
        public ulong[] Sparse { get; }
        public long FileBytes => Count * (_wide ? 16 : 9);

        private Run(string path, long count, bool wide)
        {
            _path = path;
            Count = count;
            _wide = wide;
            _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
            _view = _file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.ReadWrite);
            byte* p = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _base = p + _view.PointerOffset;
            // The mapping keeps the data; the name can go (Linux), so nothing outlives a killed process.
            if (!OperatingSystem.IsWindows()) File.Delete(path);
            Sparse = new ulong[(count + Stride - 1) / Stride];
            for (var k = 0; k < Sparse.Length; k++) Sparse[k] = Key((long)k * Stride);
        }

        /// <summary>Write <paramref name="count"/> entries (ascending keys) with plain writes, then map the file.</summary>
        public static Run Write(string path, long count, bool wide, Func<long, (ulong Key, ulong Aux)> entry)
        {
            const int Chunk = 8192; // entries per buffered write
            var auxWidth = wide ? 8 : 1;
            var keys = new ulong[Chunk];
            var aux = new byte[Chunk * auxWidth];
            using (var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
            {
                long keyOffset = 0, auxOffset = count * 8;
                for (long done = 0; done < count;)
                {
                    var n = (int)Math.Min(Chunk, count - done);
                    for (var i = 0; i < n; i++)
                    {
                        var (k, a) = entry(done + i);
                        keys[i] = k;
                        if (wide) BitConverter.TryWriteBytes(aux.AsSpan(i * 8), a);
                        else aux[i] = (byte)a;
                    }
                    var keyBytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(keys.AsSpan(0, n));
                    RandomAccess.Write(handle, keyBytes, keyOffset);
                    RandomAccess.Write(handle, aux.AsSpan(0, n * auxWidth), auxOffset);
                    keyOffset += keyBytes.Length;
                    auxOffset += n * auxWidth;
                    done += n;
                }
            }
            return new Run(path, count, wide);
        }

        public ulong Key(long i) => ((ulong*)_base)[i];

        public ulong GetAux(long i) => _wide ? ((ulong*)(_base + Count * 8))[i] : _base[Count * 8 + i];

        public void SetAux(long i, ulong aux)
        {
            if (_wide) ((ulong*)(_base + Count * 8))[i] = aux;
            else _base[Count * 8 + i] = (byte)aux;
        }

        /// <summary>The index of <paramref name="fp"/>, or −1. Safe from several threads (reads only).</summary>
        public long Find(ulong fp)
        {
            var sp = Sparse;
            if (sp.Length == 0 || fp < sp[0]) return -1;
            int lo = 0, hi = sp.Length - 1;
            while (lo < hi)
            {
                var mid = (lo + hi + 1) >> 1;
                if (sp[mid] <= fp) lo = mid;
                else hi = mid - 1;
            }
            long l = (long)lo * Stride, h = Math.Min(Count, l + Stride) - 1;
            var keys = (ulong*)_base;
            while (l <= h)
            {
                var mid = (l + h) >> 1;
                var k = keys[mid];
                if (k == fp) return mid;
                if (k < fp) l = mid + 1;
                else h = mid - 1;
            }
            return -1;
        }

        public void Dispose()
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _file.Dispose();
            if (OperatingSystem.IsWindows()) File.Delete(_path);
        }
    }
}
