using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Scxlab.Simulation;

/// <summary>
/// A parsed YAML or JSON document as a small tree that remembers where each node starts, so the
/// workload interpreter can report <c>file:line:col</c> for semantic errors in either format.
/// </summary>
internal sealed class WNode
{
    public enum NodeKind { Scalar, Map, Seq }

    public NodeKind Kind;
    public string Scalar = "";
    public bool Quoted;
    public List<(string Key, WNode KeyNode, WNode Value)> Map = [];
    public List<WNode> Seq = [];
    public int Line, Col;

    public WNode? Get(string key)
    {
        foreach (var (k, _, v) in Map)
            if (k == key) return v;
        return null;
    }

    public static WNode ParseFile(string path, string text)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext == ".json") return ParseJson(path, text);
        return ParseYaml(path, text);
    }

    // ---------------------------------------------------------------- YAML (YamlDotNet's representation model keeps marks)

    public static WNode ParseYaml(string path, string text)
    {
        // Depth first: YamlStream.Load recurses once per nesting level and would overflow the stack.
        Scenarios.InputText.CheckYamlDepth(text, (line, col, what) => new WorkloadException($"{path}:{line}:{col}: {what}"));
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new WorkloadException($"{path}:{e.Start.Line}:{e.Start.Column}: {OneLine(e.InnerException?.Message ?? e.Message)}");
        }
        if (stream.Documents.Count == 0) throw new WorkloadException($"{path}:1:1: empty workload file");
        return FromYaml(stream.Documents[0].RootNode);
    }

    private static string OneLine(string s)
    {
        var i = s.IndexOfAny(['\r', '\n']);
        return i < 0 ? s : s[..i];
    }

    private static WNode FromYaml(YamlNode y)
    {
        var n = new WNode { Line = (int)y.Start.Line, Col = (int)y.Start.Column };
        switch (y)
        {
            case YamlScalarNode s:
                n.Kind = NodeKind.Scalar;
                n.Scalar = s.Value ?? "";
                n.Quoted = s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted;
                break;
            case YamlMappingNode m:
                n.Kind = NodeKind.Map;
                foreach (var kv in m.Children)
                {
                    var k = FromYaml(kv.Key);
                    n.Map.Add((k.Scalar, k, FromYaml(kv.Value)));
                }
                break;
            case YamlSequenceNode q:
                n.Kind = NodeKind.Seq;
                foreach (var c in q.Children) n.Seq.Add(FromYaml(c));
                break;
            default:
                n.Kind = NodeKind.Scalar;
                break;
        }
        return n;
    }

    // ---------------------------------------------------------------- JSON (Utf8JsonReader; comments and trailing commas allowed as rt-app files use them)

    public static WNode ParseJson(string path, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var lineStarts = new List<int> { 0 };
        for (var i = 0; i < bytes.Length; i++)
            if (bytes[i] == (byte)'\n') lineStarts.Add(i + 1);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            if (!reader.Read()) throw new WorkloadException($"{path}:1:1: empty workload file");
            var root = ReadJson(ref reader, lineStarts);
            if (reader.Read()) throw new WorkloadException($"{path}:{Pos(lineStarts, reader.TokenStartIndex)}: unexpected content after the top-level value");
            return root;
        }
        catch (JsonException e)
        {
            var msg = OneLine(e.Message);
            var cut = msg.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut > 0) msg = msg[..cut].TrimEnd(' ', '.');
            throw new WorkloadException($"{path}:{(e.LineNumber ?? 0) + 1}:{(e.BytePositionInLine ?? 0) + 1}: {msg}");
        }
    }

    private static string Pos(List<int> lineStarts, long offset)
    {
        var (l, c) = LineCol(lineStarts, offset);
        return $"{l}:{c}";
    }

    private static (int Line, int Col) LineCol(List<int> lineStarts, long offset)
    {
        var idx = lineStarts.BinarySearch((int)offset);
        if (idx < 0) idx = ~idx - 1;
        return (idx + 1, (int)offset - lineStarts[idx] + 1);
    }

    private static WNode ReadJson(ref Utf8JsonReader r, List<int> lineStarts)
    {
        var (line, col) = LineCol(lineStarts, r.TokenStartIndex);
        var n = new WNode { Line = line, Col = col };
        switch (r.TokenType)
        {
            case JsonTokenType.StartObject:
                n.Kind = NodeKind.Map;
                while (r.Read() && r.TokenType != JsonTokenType.EndObject)
                {
                    var (kl, kc) = LineCol(lineStarts, r.TokenStartIndex);
                    var key = r.GetString() ?? "";
                    var keyNode = new WNode { Kind = NodeKind.Scalar, Scalar = key, Line = kl, Col = kc, Quoted = true };
                    r.Read();
                    n.Map.Add((key, keyNode, ReadJson(ref r, lineStarts)));
                }
                break;
            case JsonTokenType.StartArray:
                n.Kind = NodeKind.Seq;
                while (r.Read() && r.TokenType != JsonTokenType.EndArray) n.Seq.Add(ReadJson(ref r, lineStarts));
                break;
            case JsonTokenType.String:
                n.Kind = NodeKind.Scalar;
                n.Scalar = r.GetString() ?? "";
                n.Quoted = true;
                break;
            case JsonTokenType.Number:
                n.Kind = NodeKind.Scalar;
                n.Scalar = Encoding.UTF8.GetString(r.ValueSpan);
                break;
            case JsonTokenType.True:
            case JsonTokenType.False:
                n.Kind = NodeKind.Scalar;
                n.Scalar = r.TokenType == JsonTokenType.True ? "true" : "false";
                break;
            case JsonTokenType.Null:
                n.Kind = NodeKind.Scalar;
                n.Scalar = "";
                break;
            default:
                throw new JsonException($"unexpected token {r.TokenType}", null, line - 1, col - 1);
        }
        return n;
    }
}
