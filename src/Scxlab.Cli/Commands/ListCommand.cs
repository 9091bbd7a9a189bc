using System.CommandLine;
using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Cli.Commands;

/// <summary><c>scxlab list [policies|protocols|scenarios|invariants]</c>: what is built in, read from the library.</summary>
internal static class ListCommand
{
    private static readonly string[] Kinds = ["policies", "protocols", "scenarios", "invariants"];

    public static ScxCommand Create()
    {
        var what = new Argument<string?>("what")
        {
            Description = "policies | protocols | scenarios | invariants (all of them when omitted)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        what.AcceptOnlyFromAmong(Kinds);
        var cmd = new ScxCommand("list", "List what is built in: policies, protocols, scenarios, invariants.")
        {
            Examples =
            [
                "scxlab list                      # everything, by section",
                "scxlab list policies             # one line per policy: name, description",
                "scxlab list protocols            # names accepted by --protocol",
            ],
        };
        cmd.Arguments.Add(what);
        cmd.SetAction(r =>
        {
            var output = r.InvocationConfiguration.Output;
            var kind = r.GetValue(what);
            if (kind != null)
            {
                Write(kind, output, indent: "");
                return ExitCodes.Ok;
            }
            foreach (var k in Kinds)
            {
                output.WriteLine($"{k}:");
                Write(k, output, indent: "  ");
                output.WriteLine();
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static void Write(string kind, TextWriter o, string indent)
    {
        switch (kind)
        {
            case "policies":
                Table(o, indent, PolicyRegistry.BuiltIn.Select(p => (p.Name, p.Description)));
                break;
            case "protocols":
                Table(o, indent, Protocols.All.Select(p => (p.Name, p.Description)));
                break;
            case "scenarios":
                // Built-in scenario files arrive with the explorer (issue 3); until then the scripted races are what runs.
                o.WriteLine($"{indent}(no scenario files built in yet; `scxlab demo` runs the scripted races {string.Join(", ", ScriptedRace.All.Select(s => s.Name))})");
                break;
            case "invariants":
                // Named checks arrive with the explorer (issue 3); kernel BUG/WARN sites are reported by name as steps reach them.
                o.WriteLine($"{indent}(no invariants built in yet; kernel BUG()/WARN_ON_ONCE() sites are reported by name when a step reaches one)");
                break;
            default:
                throw new UsageException($"cannot list '{kind}' (one of: {string.Join(", ", Kinds)})");
        }
    }

    private static void Table(TextWriter o, string indent, IEnumerable<(string Name, string Description)> rows)
    {
        var list = rows.ToList();
        var width = list.Count == 0 ? 0 : list.Max(r => r.Name.Length);
        foreach (var (name, description) in list) o.WriteLine($"{indent}{name.PadRight(width)}  {description}");
    }
}
