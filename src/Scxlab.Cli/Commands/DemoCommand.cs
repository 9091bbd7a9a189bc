using System.CommandLine;
using Scxlab.Comparison;
using Scxlab.Driving;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Reporting;
using Scxlab.Scenarios;
using Scxlab.Stepping;

namespace Scxlab.Cli.Commands;

/// <summary>
/// <c>scxlab demo</c>: the main job on its built-in default. The protocol comparison over the
/// built-in race scenarios (every verdict from exploration), then one counterexample as scxlab
/// found it — by default the seed email's interleaving under <c>qseq-invalidate</c> with
/// <c>local-on-peek</c> — in CPU columns, with an explanation read off its replay. <c>--scripted</c>
/// keeps the earlier demo: the seed races along their hand-written schedules.
/// </summary>
internal static class DemoCommand
{
    /// <summary>The demo's built-in focus: the scenario whose counterexample it draws (its input, not a verdict).</summary>
    private const string FocusScenario = "seed-race-r2";
    private const Protocol FocusProtocol = Protocol.QseqInvalidate;
    private const string FocusPolicy = "local-on-peek";

    public static ScxCommand Create()
    {
        var protocol = CliOptions.Protocol(description: $"the protocol of the counterexample shown (default {Protocols.Name(FocusProtocol)}; with --scripted, of every race, default upstream): {string.Join(" | ", Protocols.All.Select(x => x.Name))}");
        var policy = CliOptions.Policy($"the policy of the counterexample shown (default {FocusPolicy}; with --scripted, every race's instead of its own): a built-in name or path/to/X.dll:Namespace.Type");
        var scripted = new Option<bool>("--scripted")
        {
            Description = "instead: run the seed races R1, R2 and the late change along their hand-written schedules and print each in CPU columns",
        };
        var width = new Option<int>("--width")
        {
            Description = "line width of the --scripted CPU-column trace",
            DefaultValueFactory = _ => 120,
            HelpName = "N",
        };
        var cmd = new ScxCommand("demo", "The fixes side by side: the protocol × policy matrix over the built-in race scenarios, then the seed email's interleaving as scxlab found it under qseq-invalidate (the task forgotten), explained from the run.")
        {
            Examples =
            [
                "scxlab demo                                   # the matrix, then the forgotten task under qseq-invalidate",
                "scxlab demo --protocol upstream               # the counterexample under today's kernel (scheduler exit)",
                "scxlab demo --scripted                        # the seed races along hand-written schedules",
                "scxlab demo --scripted --width 160           # wider columns",
                "scxlab demo --scripted --policy dequeue-sync  # the same schedules with another policy",
            ],
        };
        cmd.Options.Add(protocol);
        cmd.Options.Add(policy);
        cmd.Options.Add(scripted);
        cmd.Options.Add(width);
        cmd.SetAction(r =>
        {
            var o = r.InvocationConfiguration.Output;
            Protocol? p = null;
            if (r.GetValue(protocol) is { } name)
            {
                if (!Protocols.TryParse(name, out var pp)) throw new UsageException($"unknown protocol '{name}' (one of: {string.Join(", ", Protocols.All.Select(x => x.Name))})");
                p = pp;
            }
            var w = r.GetValue(width);
            if (w < 60) throw new UsageException($"--width {w} is too narrow (at least 60)");
            var x = r.GetValue(policy);
            if (x != null) PolicyRegistry.Resolve(x); // unknown or unloadable: one line, exit 1, before any output
            if (r.GetValue(scripted)) return Scripted(o, p ?? Protocol.Upstream, x, w);
            return Compare(o, p ?? FocusProtocol, x ?? FocusPolicy);
        });
        return cmd;
    }

    private static int Compare(TextWriter o, Protocol protocol, string policy)
    {
        var traces = Directory.CreateTempSubdirectory("scxlab-demo-").FullName;
        var options = new ComparisonOptions { TraceDirectory = traces, BudgetSeconds = 10 };
        o.WriteLine("scxlab demo — the proposed fixes for the affinity-vs-dispatch race, side by side.");
        o.WriteLine("Every cell below is an exhaustive exploration of the scenario under that protocol with that policy.");
        o.WriteLine();
        var result = ProtocolComparison.Run(options);
        o.Write(MatrixReport.Text(result, options.BudgetSeconds, TerminalTables.ForStdout()));

        var scenario = ScenarioLoader.Resolve(FocusScenario);
        var cell = result.Cell(scenario.Name, policy, protocol) ?? ProtocolComparison.RunCell(scenario, policy, protocol, options);
        o.WriteLine();
        o.WriteLine($"== {scenario.Name} under {Protocols.Name(protocol)} with {policy}, as scxlab found it");
        o.WriteLine($"   {scenario.Description}");
        o.WriteLine();
        var f = cell.Primary;
        if (f == null)
        {
            o.WriteLine(cell.Outcome switch
            {
                CellOutcome.Holds => $"exploration found nothing to show: holds (complete search, {cell.Stats?.States} states).",
                CellOutcome.Incomplete => $"exploration found nothing to show in what it covered: incomplete ({cell.IncompleteReason}).",
                CellOutcome.NotApplicable => $"not applicable: {policy} needs protocol {Protocols.Name(cell.RequiredProtocol!.Value)}.",
                _ => throw new System.Diagnostics.UnreachableException($"a cell without findings cannot be {cell.Outcome}"),
            });
            return ExitCodes.Ok;
        }
        var config = scenario.ToConfig(policy, protocol);
        var run = TraceRunner.Run(config, f.Trace, scenario.Checks);
        o.WriteLine($"{MatrixReport.FindingText(f)}");
        o.WriteLine($"shortest trace: {f.Trace.Count} steps{(f.TraceFile != null ? $", saved to {f.TraceFile} (scxlab replay FILE)" : "")}");
        o.WriteLine();
        o.Write(CounterexampleRenderer.Render(run));
        if (run.Divergence != null) o.WriteLine($"warning: the trace did not reproduce: {run.Divergence}");
        o.WriteLine();
        if (f.Outcome == CellOutcome.TaskForgotten && ForgottenTaskExplanation.Explain(config, f.Trace) is { } why)
        {
            o.WriteLine("Why the task is forgotten (read off the replay):");
            foreach (var line in why.Lines()) o.WriteLine(line);
        }
        else
        {
            o.WriteLine($"Outcome: {CellOutcomes.JsonName(f.Outcome)}; where the tasks ended:");
            foreach (var e in f.TaskEnds) o.WriteLine($"- {e}");
        }
        return ExitCodes.Ok;
    }

    private static int Scripted(TextWriter o, Protocol p, string? x, int w)
    {
        foreach (var race in ScriptedRace.All)
        {
            ScriptedRun run;
            try
            {
                run = race.Run(p, x);
            }
            catch (ScheduleNotFollowedException e)
            {
                throw new UsageException(e.Message);
            }
            Print(o, run, w);
        }
        return ExitCodes.Ok;
    }

    private static void Print(TextWriter o, ScriptedRun run, int width)
    {
        var m = run.Machine;
        o.WriteLine($"== {run.Race.Name}: {run.Race.Description}");
        o.WriteLine($"   policy {BpfObjectSpec.Short(run.Policy)}, protocol {Protocols.Name(run.Protocol)}; {m.N} CPUs; " +
                    $"{string.Join(", ", m.Config.Tasks.Select((t, i) => $"{m.TaskName(i)} on CPU{t.Cpu} allowed {t.Allowed}"))}; " +
                    string.Join(", ", m.Config.Scripts.Select(s => $"{s.Name} on CPU{s.Cpu}: {string.Join("; ", s.Actions.Select(a => a.Describe(m.Config)))}")));
        o.WriteLine();
        o.Write(ColumnTrace.Render(m.Actors, run.Steps, width));
        o.WriteLine();
        o.WriteLine(run.ExitKind == ExitKind.None
            ? "outcome: no scheduler exit"
            : $"outcome: scheduler exit {ExitKinds.KernelName(run.ExitKind)} ({ExitKinds.Reason(run.ExitKind)}): {run.ExitMessage}");
        for (var t = 0; t < m.Config.Tasks.Count; t++) o.WriteLine($"         {Whereabouts.Of(m, t)}");
        var events = new List<string>();
        for (var e = 0; e < (int)ScxEvent.Count; e++)
            if (m.World.Events[e] != 0) events.Add($"{(ScxEvent)e}={m.World.Events[e]}");
        if (events.Count > 0) o.WriteLine($"         events: {string.Join(", ", events)}");
        foreach (var f in run.Findings) o.WriteLine($"         kernel assertion {f.Check}: {f.Message}");
        o.WriteLine();
    }
}
