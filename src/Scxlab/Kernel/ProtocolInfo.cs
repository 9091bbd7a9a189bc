namespace Scxlab.Kernel;

/// <summary>
/// A protocol variant as users name it: the kebab-case name used on the command line and in
/// scenario files, and a one-line description. This table is the one place those strings live;
/// the CLI, reports and scenario loading read it.
/// </summary>
public sealed record ProtocolInfo(Protocol Protocol, string Name, string Description)
{
    public static IReadOnlyList<ProtocolInfo> All { get; } =
    [
        new(Protocol.Upstream, "upstream", "today's kernel (V-B): a disallowed SCX_DSQ_LOCAL_ON target → scx_error + the global DSQ"),
        new(Protocol.QseqInvalidate, "qseq-invalidate", "fix v1: affinity generation checked at finish; a stale or disallowed dispatch is reverted to QUEUED"),
        new(Protocol.FallbackDsq, "fallback-dsq", "fix v2: a disallowed target is parked on a per-rq fallback DSQ, drained from balance with SCX_ENQ_REENQ"),
        new(Protocol.Cookie, "cookie", "scx_bpf_task_get_cookie + scx_bpf_dsq_insert_cookie, checked at insert and at finish (ghOSt style)"),
    ];

    public static ProtocolInfo Of(Protocol protocol)
    {
        foreach (var p in All)
            if (p.Protocol == protocol) return p;
        throw new ArgumentOutOfRangeException(nameof(protocol), protocol, "protocol missing from ProtocolInfo.All");
    }

    /// <summary>Look a protocol up by its name (case-insensitive).</summary>
    public static bool TryParse(string name, out Protocol protocol)
    {
        foreach (var p in All)
        {
            if (!string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) continue;
            protocol = p.Protocol;
            return true;
        }
        protocol = default;
        return false;
    }

    /// <summary>The accepted names, for error messages: "upstream, qseq-invalidate, …".</summary>
    public static string Names => string.Join(", ", All.Select(p => p.Name));
}
