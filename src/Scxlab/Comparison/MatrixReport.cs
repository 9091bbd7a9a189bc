using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Scxlab.Reporting;
using Scxlab.Exploration;
using Scxlab.Kernel;

namespace Scxlab.Comparison;

/// <summary>
/// Renders a <see cref="ComparisonResult"/>: a text matrix (rows scenario × policy, columns
/// protocols, a short verdict per cell with footnotes for the messages), a Markdown table, and
/// one JSON object. Pure functions of the result.
/// </summary>
public static class MatrixReport
{
    /// <summary>Footnotes: one number per distinct finding text, in order of first appearance.</summary>
    private sealed class Notes
    {
        public readonly List<string> Texts = [];
        private readonly Dictionary<string, int> _index = [];

        public int For(string text)
        {
            if (_index.TryGetValue(text, out var i)) return i;
            Texts.Add(text);
            return _index[text] = Texts.Count;
        }
    }

    public static string FindingText(CellFinding f)
    {
        var what = f.Outcome switch
        {
            CellOutcome.SchedulerExit => $"scheduler exit {f.Violation.Name}: {f.Violation.Message}",
            CellOutcome.TaskForgotten => $"task forgotten ({f.Violation.Name}): {f.Violation.Message}",
            CellOutcome.OtherViolation => $"{f.Violation.KindName} {f.Violation.Name}: {f.Violation.Message}",
            _ => throw new System.Diagnostics.UnreachableException($"a finding cannot be {f.Outcome}"),
        };
        if (f.TaskEnds.Count == 0) return what;
        var when = f.Outcome == CellOutcome.SchedulerExit ? "then" : "left";
        return $"{what} — {when} {string.Join("; ", f.TaskEnds)}";
    }

    private static string Word(CellOutcome o) => o switch
    {
        CellOutcome.Holds => "holds",
        CellOutcome.SchedulerExit => "exit",
        CellOutcome.TaskForgotten => "FORGOTTEN",
        CellOutcome.OtherViolation => "VIOLATION",
        CellOutcome.Incomplete => "incomplete",
        CellOutcome.NotApplicable => "n/a",
        _ => throw new System.Diagnostics.UnreachableException($"cell outcome {o}"),
    };

    private static string CellText(ComparisonCell c, Notes notes)
    {
        switch (c.Outcome)
        {
            case CellOutcome.NotApplicable:
                return $"n/a: needs {Protocols.Name(c.RequiredProtocol!.Value)}";
            case CellOutcome.Holds:
                return "holds";
            case CellOutcome.Incomplete:
                return $"incomplete [{notes.For($"incomplete: {c.IncompleteReason}; nothing violated in what was covered")}]";
            case CellOutcome.SchedulerExit or CellOutcome.TaskForgotten or CellOutcome.OtherViolation:
                var refs = string.Join(",", c.Findings.Select(f => notes.For(FindingText(f))));
                return $"{Word(c.Outcome)} [{refs}]{(c.Complete ? "" : " (incomplete)")}";
            default:
                throw new System.Diagnostics.UnreachableException($"cell outcome {c.Outcome}");
        }
    }

    private static string Cost(ComparisonCell c) => c.Stats == null ? "-"
        : string.Create(CultureInfo.InvariantCulture, $"{c.Stats.States} st {c.Seconds:0.00} s");

    private static List<string[]> Grid(ComparisonResult r, Func<ComparisonCell, string> cell)
    {
        var rows = new List<string[]>();
        foreach (var (s, pol) in r.Rows())
        {
            var row = new List<string> { s.Name, pol };
            foreach (var p in r.Protocols) row.Add(r.Cell(s.Name, pol, p) is { } c ? cell(c) : "");
            rows.Add([.. row]);
        }
        return rows;
    }

    private static string[] Header(ComparisonResult r) => ["scenario", "policy", .. r.Protocols.Select(Protocols.Name)];

    /// <param name="table">How the matrix and the cost table are drawn (default <see cref="TextTables.Plain"/>).</param>
    public static string Text(ComparisonResult r, double? budget, TableWriter? table = null)
    {
        table ??= TextTables.Plain;
        var header = Header(r);
        var sb = new StringBuilder();
        var notes = new Notes();
        var explored = r.Cells.Count(c => c.Outcome != CellOutcome.NotApplicable);
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"protocol comparison: {r.Scenarios.Count} scenario(s) × {r.Protocols.Count} protocol(s), {r.Cells.Count} cells ({explored} explored: exhaustive search with state caching and sleep sets{(budget is { } b ? $", budget {b:0.##} s per cell" : "")})"));
        sb.AppendLine();
        table(sb, header, Grid(r, c => CellText(c, notes)), header.Length);
        sb.AppendLine();
        if (notes.Texts.Count > 0)
        {
            for (var i = 0; i < notes.Texts.Count; i++) sb.AppendLine($"[{i + 1}] {notes.Texts[i]}");
            sb.AppendLine();
        }
        sb.AppendLine("legend: holds = complete search, nothing violated; exit = the scheduler was ended (loud; the kernel parks the task);");
        sb.AppendLine("        FORGOTTEN = a runnable task nobody will dispatch (silent); VIOLATION = another invariant or kernel assertion;");
        sb.AppendLine("        incomplete = a budget stopped the search; n/a = the policy needs another protocol's kfuncs (not explored).");
        sb.AppendLine();
        sb.AppendLine("cost (distinct states, seconds):");
        table(sb, header, Grid(r, Cost), 2);
        var files = r.Cells.SelectMany(c => c.Findings.Where(f => f.TraceFile != null)).ToList();
        if (files.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine($"traces ({files.Count}, replay with: scxlab replay FILE): {r.TraceDirectory}");
            foreach (var c in r.Cells)
                foreach (var f in c.Findings.Where(f => f.TraceFile != null))
                    sb.AppendLine($"  [{notes.For(FindingText(f))}] {Path.GetFileName(f.TraceFile)}  ({f.Trace.Count} steps)");
        }
        sb.AppendLine();
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"total: {r.Seconds:0.00} s"));
        return sb.ToString();
    }

    public static string Markdown(ComparisonResult r)
    {
        var sb = new StringBuilder();
        var notes = new Notes();
        var header = Header(r);
        sb.AppendLine($"| {string.Join(" | ", header)} |");
        sb.AppendLine($"|{string.Concat(header.Select(_ => "---|"))}");
        foreach (var row in Grid(r, c => $"{CellText(c, notes)}<br>{Cost(c)}"))
            sb.AppendLine($"| {string.Join(" | ", row.Select(Escape))} |");
        sb.AppendLine();
        for (var i = 0; i < notes.Texts.Count; i++) sb.AppendLine($"{i + 1}. {Escape(notes.Texts[i])}");
        return sb.ToString();
    }

    private static string Escape(string s) => s.Replace("|", "\\|", StringComparison.Ordinal).Replace("[_ON]", "\\[_ON\\]", StringComparison.Ordinal);

    public static JsonObject Json(ComparisonResult r, double? budget) => new()
    {
        // The matrix's verdict in the vocabulary every command uses (docs/json.md); the cells' outcomes say more.
        ["verdict"] = r.AnyViolation ? JsonContract.Violation : r.Cells.Any(c => c.Outcome == CellOutcome.Incomplete) ? JsonContract.Incomplete : JsonContract.Holds,
        ["complete"] = r.Cells.All(c => c.Complete || c.Outcome == CellOutcome.NotApplicable),
        ["scenarios"] = new JsonArray([.. r.Scenarios.Select(s => (JsonNode?)s.Name)]),
        ["protocols"] = new JsonArray([.. r.Protocols.Select(p => (JsonNode?)Protocols.Name(p))]),
        ["budget_seconds"] = budget,
        ["traces_dir"] = r.TraceDirectory,
        ["seconds"] = Math.Round(r.Seconds, 4),
        ["cells"] = new JsonArray([.. r.Cells.Select(c => (JsonNode?)CellJson(c))]),
    };

    private static JsonObject CellJson(ComparisonCell c)
    {
        var o = new JsonObject
        {
            ["scenario"] = c.Scenario.Name,
            ["policy"] = c.Policy,
            ["protocol"] = Protocols.Name(c.Protocol),
            ["verdict"] = c.Outcome switch
            {
                CellOutcome.Holds => JsonContract.Holds,
                CellOutcome.Incomplete => JsonContract.Incomplete,
                CellOutcome.NotApplicable => "not-applicable",
                CellOutcome.SchedulerExit or CellOutcome.TaskForgotten or CellOutcome.OtherViolation => JsonContract.Violation,
                _ => throw new System.Diagnostics.UnreachableException($"cell outcome {c.Outcome}"),
            },
            // What kind of result: holds, scheduler-exit, task-forgotten, violation, incomplete, not-applicable.
            ["outcome"] = CellOutcomes.JsonName(c.Outcome),
            ["complete"] = c.Complete,
        };
        if (c.RequiredProtocol is { } need) o["requires_protocol"] = Protocols.Name(need);
        if (c.IncompleteReason != null) o["incomplete_reason"] = c.IncompleteReason;
        o["violations"] = new JsonArray([.. c.Findings.Select(f =>
        {
            var v = TraceFile.ViolationJson(f.Violation);
            v["classification"] = CellOutcomes.JsonName(f.Outcome);
            v["task_ends"] = new JsonArray([.. f.TaskEnds.Select(t => (JsonNode?)t)]);
            v["trace"] = new JsonObject
            {
                ["file"] = f.TraceFile,
                ["steps"] = new JsonArray([.. f.Trace.Select(a => (JsonNode?)c.Actors[a])]),
            };
            return (JsonNode?)v;
        })]);
        if (c.Stats is { } s)
        {
            o["stats"] = new JsonObject
            {
                ["executions"] = s.Executions,
                ["states"] = s.States,
                ["transitions"] = s.Transitions,
                ["search_seconds"] = Math.Round(s.Seconds, 4),
                ["seconds"] = Math.Round(c.Seconds, 4),
            };
        }
        return o;
    }
}
