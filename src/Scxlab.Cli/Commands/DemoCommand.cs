using System.CommandLine;
using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Reporting;
using Scxlab.Stepping;

namespace Scxlab.Cli.Commands;

/// <summary>
/// <c>scxlab demo</c>: the seed races along their scripted schedules, each drawn in CPU columns
/// with its outcome. (When the explorer lands, the demo finds these interleavings itself.)
/// </summary>
internal static class DemoCommand
{
    public static ScxCommand Create()
    {
        var protocol = new Option<string>("--protocol")
        {
            Description = $"kernel protocol: {string.Join(", ", Protocols.All.Select(x => x.Name))}",
            DefaultValueFactory = _ => Protocols.Name(Protocol.Upstream),
            HelpName = "P",
        };
        var policy = new Option<string?>("--policy")
        {
            Description = "run every race with this policy instead of each race's own (a built-in name or path/to/X.dll:Namespace.Type)",
            HelpName = "X",
        };
        var width = new Option<int>("--width")
        {
            Description = "line width of the CPU-column trace",
            DefaultValueFactory = _ => 120,
            HelpName = "N",
        };
        var cmd = new ScxCommand("demo", "Run the seed races R1 and R2 and the late change along their scripted schedules; print each in CPU columns with its outcome.")
        {
            Examples =
            [
                "scxlab demo                      # today's kernel (upstream)",
                "scxlab demo --width 160          # wider columns",
                "scxlab demo --policy dequeue-sync   # the same schedules with another policy",
            ],
        };
        cmd.Options.Add(protocol);
        cmd.Options.Add(policy);
        cmd.Options.Add(width);
        cmd.SetAction(r =>
        {
            var o = r.InvocationConfiguration.Output;
            var name = r.GetValue(protocol)!;
            if (!Protocols.TryParse(name, out var p)) throw new UsageException($"unknown protocol '{name}' (one of: {string.Join(", ", Protocols.All.Select(x => x.Name))})");
            var w = r.GetValue(width);
            if (w < 60) throw new UsageException($"--width {w} is too narrow (at least 60)");
            var x = r.GetValue(policy);
            if (x != null) PolicyRegistry.Resolve(x); // unknown or unloadable: one line, exit 1, before any output
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
        });
        return cmd;
    }

    private static void Print(TextWriter o, ScriptedRun run, int width)
    {
        var m = run.Machine;
        o.WriteLine($"== {run.Race.Name}: {run.Race.Description}");
        o.WriteLine($"   policy {run.Policy}, protocol {Protocols.Name(run.Protocol)}; {m.N} CPUs; " +
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
