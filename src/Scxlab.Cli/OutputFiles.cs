namespace Scxlab.Cli;

/// <summary>
/// Output paths given on the command line (<c>--trace-out</c>, <c>--perfetto</c>, <c>--plot</c>,
/// <c>--traces</c>): checked before a run starts, so a typo costs nothing, and written through a
/// temporary file in the same directory renamed over the target, so a failure (a full disk, an
/// interrupt) leaves nothing half-written under the user's name.
/// </summary>
internal static class OutputFiles
{
    /// <summary>
    /// Throws <see cref="UsageException"/> (one line, exit 1) when <paramref name="path"/> cannot be a
    /// file we write: empty, a directory, in a directory that does not exist or that we may not write in.
    /// </summary>
    public static void CheckFile(string option, string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{option}: empty file name");
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UsageException($"{option} {path}: bad file name: {e.Message}");
        }
        if (Directory.Exists(full) || path.EndsWith('/')) throw new UsageException($"{option} {path}: is a directory (give a file name)");
        if (IsSpecial(full)) return; // a device such as /dev/stdout: written in place, errors reported when they happen
        var dir = Path.GetDirectoryName(full) ?? "/";
        if (!Directory.Exists(dir)) throw new UsageException($"{option} {path}: directory {dir} does not exist");
        ProbeWritable(option, path, dir);
    }

    /// <summary>Like <see cref="CheckFile"/> for a directory that will hold files (created if missing, its parent must exist).</summary>
    public static void CheckDirectory(string option, string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{option}: empty directory name");
        var full = Path.GetFullPath(path);
        if (File.Exists(full)) throw new UsageException($"{option} {path}: is a file, not a directory");
        if (Directory.Exists(full))
        {
            ProbeWritable(option, path, full);
            return;
        }
        var parent = Path.GetDirectoryName(full.TrimEnd('/')) ?? "/";
        if (!Directory.Exists(parent)) throw new UsageException($"{option} {path}: directory {parent} does not exist");
        ProbeWritable(option, path, parent);
    }

    /// <summary>Write <paramref name="text"/> to <paramref name="path"/> through a temporary file and a rename.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, tmp => File.WriteAllText(tmp, text));

    /// <summary>
    /// Run <paramref name="write"/> on a temporary path next to <paramref name="path"/>, then rename it
    /// over the target; on failure the temporary file is removed and an <see cref="IOException"/> with a
    /// one-line message is thrown. Devices (<c>/dev/…</c>) are written in place: renaming over them is wrong.
    /// </summary>
    public static void Write(string path, Action<string> write)
    {
        var full = Path.GetFullPath(path);
        if (IsSpecial(full))
        {
            Try(path, () => write(full));
            return;
        }
        var tmp = TempNameFor(full);
        try
        {
            Try(path, () => write(tmp));
            Try(path, () => File.Move(tmp, full, overwrite: true));
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>A hidden temporary name in the target's directory (same file system, so the rename is atomic).</summary>
    public static string TempNameFor(string path)
    {
        var full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full) ?? "/", $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
    }

    /// <summary>Move a finished temporary file to its target (or copy onto a device).</summary>
    public static void Commit(string tmp, string path)
    {
        var full = Path.GetFullPath(path);
        try
        {
            Try(path, () => File.Move(tmp, full, overwrite: true));
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>
    /// Device and kernel files (<c>/dev/full</c>, <c>/dev/stdout</c>, <c>/proc/…</c>) are not regular
    /// files: they are written in place and never probed or renamed over. .NET has no portable file-type
    /// query, so the mount points are the test.
    /// </summary>
    public static bool IsSpecial(string fullPath) =>
        fullPath.StartsWith("/dev/", StringComparison.Ordinal) || fullPath.StartsWith("/proc/", StringComparison.Ordinal);

    private static void ProbeWritable(string option, string path, string dir)
    {
        var probe = Path.Combine(dir, $".scxlab-probe.{Environment.ProcessId}.{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{option} {path}: cannot write in {dir}: {e.Message}");
        }
    }

    private static void Try(string path, Action a)
    {
        try
        {
            a();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write {path}: {Scenarios.InputText.OneLine(e.Message)}", e);
        }
    }
}
