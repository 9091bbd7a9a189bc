using Scxlab.Checks;
using Scxlab.Cli.Commands;
using Scxlab.Scenarios;

// Minimal entry for the explorer branch; the CLI skeleton (branch cli) owns the real dispatcher.
return args switch
{
    ["check", .. var rest] => CheckCommand.Run(rest, Console.Out, Console.Error),
    ["replay", .. var rest] => ReplayCommand.Run(rest, Console.Out, Console.Error),
    ["list", "invariants"] => ListInvariants(),
    ["list", "scenarios"] => ListScenarios(),
    _ => Usage(),
};

static int ListInvariants()
{
    foreach (var (name, description) in InvariantCatalog.All) Console.WriteLine($"{name}\n    {description}\n");
    return 0;
}

static int ListScenarios()
{
    foreach (var n in ScenarioLoader.BuiltInNames())
    {
        var s = ScenarioLoader.Resolve(n);
        Console.WriteLine($"{n,-20} {s.Policy,-14} {s.Description}");
    }
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: scxlab check|replay|list invariants|list scenarios …");
    return 1;
}
