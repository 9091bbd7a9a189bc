using Scxlab.Cli.Commands;

// Minimal wiring on the simulator branch; the cli branch owns the real Program (System.CommandLine).
if (args.Length > 0 && args[0] == "simulate")
{
    try
    {
        return SimulateCommand.Run(args[1..], Console.Out, Console.Error);
    }
    catch (Exception e)
    {
        Console.Error.WriteLine($"scxlab: internal error: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
        return 3;
    }
}
Console.Error.WriteLine("usage: scxlab simulate WORKLOAD [options] (see 'scxlab simulate --help')");
return 1;
