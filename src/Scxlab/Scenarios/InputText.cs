using System.Globalization;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Scxlab.Scenarios;

/// <summary>
/// Reading user files defensively, for scenario and workload loaders alike: a size cap (so
/// <c>/dev/zero</c> or a huge file is an error, not an out-of-memory), read failures as one-line
/// errors, a nesting cap checked on YamlDotNet's event stream before its recursive representation
/// model sees the text (so 100,000 nested brackets are an error, not a stack overflow), and
/// escaping of control bytes that file content could carry into an error line.
/// </summary>
public static class InputText
{
    /// <summary>Largest scenario or workload file read: real ones are a few KiB.</summary>
    public const int MaxFileBytes = 4 << 20;

    /// <summary>Deepest YAML nesting accepted: scenario and workload files nest at most about six levels.</summary>
    public const int MaxYamlDepth = 64;

    /// <summary>
    /// The file's text, at most <see cref="MaxFileBytes"/> bytes (read with a bounded loop, so a
    /// device that never ends is caught too). Failures come back through <paramref name="error"/>
    /// as one-line messages (the caller's exception type).
    /// </summary>
    public static string ReadFile(string path, Func<string, Exception> error)
    {
        try
        {
            if (Directory.Exists(path)) throw error($"{path}: is a directory, not a file");
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1);
            var buf = new byte[64 * 1024];
            using var ms = new MemoryStream();
            int n;
            while ((n = fs.Read(buf, 0, buf.Length)) > 0)
            {
                ms.Write(buf, 0, n);
                if (ms.Length > MaxFileBytes) throw error($"{path}: larger than {MaxFileBytes >> 20} MiB; not read (scenario and workload files are a few KiB)");
            }
            return new StreamReader(new MemoryStream(ms.GetBuffer(), 0, (int)ms.Length), Encoding.UTF8, detectEncodingFromByteOrderMarks: true).ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw error($"{path}: cannot read: {e.Message}");
        }
    }

    /// <summary>
    /// Throws through <paramref name="error"/> (with the line and column) when a YAML collection nests
    /// deeper than <see cref="MaxYamlDepth"/>, or when the text is not YAML. YamlDotNet's parser is a
    /// state machine (it does not recurse), so walking its events is safe at any depth.
    /// </summary>
    public static void CheckYamlDepth(string text, Func<long, long, string, Exception> error)
    {
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        try
        {
            while (parser.MoveNext())
            {
                switch (parser.Current)
                {
                    case MappingStart or SequenceStart:
                        if (++depth > MaxYamlDepth)
                            throw error(parser.Current.Start.Line, parser.Current.Start.Column, $"nesting deeper than {MaxYamlDepth} levels; not read");
                        break;
                    case MappingEnd or SequenceEnd:
                        depth--;
                        break;
                    // Scalars, aliases, stream and document markers do not change the depth.
                    case null:
                        throw new System.Diagnostics.UnreachableException("MoveNext returned true without an event");
                    default:
                        break;
                }
            }
        }
        catch (YamlException e)
        {
            throw error(e.Start.Line, e.Start.Column, OneLine(e.InnerException?.Message ?? e.Message));
        }
    }

    /// <summary>
    /// The message on one line with control characters (C0, DEL, C1, line and paragraph separators,
    /// bidirectional overrides) written as <c>\xNN</c> / <c>\u{NNNN}</c>: file content quoted in an
    /// error must not move the cursor, recolour the terminal or split the line.
    /// </summary>
    public static string Escape(string s)
    {
        StringBuilder? sb = null;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            var bad = char.IsControl(c) || c is '\u2028' or '\u2029' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');
            if (!bad)
            {
                sb?.Append(c);
                continue;
            }
            sb ??= new StringBuilder(s, 0, i, s.Length + 16);
            sb.Append(c <= '\u00ff' ? string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}") : string.Create(CultureInfo.InvariantCulture, $"\\u{{{(int)c:x4}}}"));
        }
        return sb?.ToString() ?? s;
    }

    /// <summary>Line breaks of a multi-line message joined with spaces, then <see cref="Escape"/>d.</summary>
    public static string OneLine(string s) =>
        Escape(string.Join(' ', s.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)));
}
