using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Scxlab.Bpf;
using Scxlab.Cli.Commands;
using Scxlab.Policies;

namespace Scxlab.Cli;

/// <summary>
/// The <c>scxlab</c> command: parses, dispatches to one command class per file in Commands/, and
/// turns every failure into a one-line message and an exit code (see <see cref="ExitCodes"/>).
/// </summary>
public static class Program
{
    /// <summary>The subcommands, in the order --help lists them. Adding a command is adding its line here.</summary>
    private static ScxCommand[] Commands() =>
    [
        DemoCommand.Create(),
        CompareCommand.Create(),
        CompareCommand.Create(report: true),
        FuzzCommand.Create(),
        MergeCommand.Create(),
        CheckCommand.Create(),
        InspectCommand.Create(),
        ReplayCommand.Create(),
        SimulateCommand.Create(),
        ListCommand.Create(),
        CompletionsCommand.Create(),
    ];

    internal static readonly IReadOnlyList<string> RootExamples =
    [
        "scxlab demo                      # the fixes side by side, then the seed race forgotten under qseq-invalidate",
        "scxlab compare --markdown        # the protocol × policy verdict matrix",
        "scxlab list policies             # the built-in policies",
        "scxlab list protocols            # today's kernel and the proposed fixes",
        "scxlab demo --help               # options of one command",
    ];

    public static int Main(string[] args)
    {
        // A policy callback spinning without calling the BPF API cannot be interrupted; the guard's
        // watcher thread reports it and ends the process (the main thread is the one spinning).
        // SCXLAB_CALLBACK_GUARD_SECONDS shortens (or lengthens) the guard, e.g. for tests of it.
        if (double.TryParse(Environment.GetEnvironmentVariable("SCXLAB_CALLBACK_GUARD_SECONDS"), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var guardSeconds) && guardSeconds > 0)
            CallbackGuard.Limit = TimeSpan.FromSeconds(guardSeconds);
        CallbackGuard.OnStuck = message =>
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"scxlab: {message}");
            Console.Error.Flush();
            Environment.Exit(ExitCodes.BadInput);
        };
        // Ctrl-C: the first one cancels the run (check and simulate stop, report what they covered and
        // exit 4; simulate closes its Perfetto trace); a second one ends the process at once.
        using var interrupt = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (interrupt.IsCancellationRequested) return; // e.Cancel stays false: the runtime ends the process
            e.Cancel = true;
            interrupt.Cancel();
        };
        return Run(args, Console.Out, Console.Error, interrupt.Token);
    }

    /// <summary>Run the CLI in-process with the given writers; returns the exit code. Never throws.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, stdout, stderr, CancellationToken.None);

    /// <summary>
    /// As <see cref="Run(string[], TextWriter, TextWriter)"/>, with <paramref name="interrupt"/> standing
    /// for Ctrl-C: when it is cancelled, check and simulate stop, report what they covered and exit 4.
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken interrupt)
    {
        Interrupt = interrupt;
        // Decided here, on the writer the caller passed: the parser hands commands a wrapper of it.
        StderrIsTerminal.Value = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        StdoutIsTerminal.Value = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        // Every message names the command it is about: "scxlab check: ...", "scxlab: ..." for the root.
        var who = "scxlab";
        try
        {
            var root = BuildRoot();
            var parsed = root.Parse(args);
            who = CommandPath(parsed);
            if (parsed.Action is ParseErrorAction)
            {
                stderr.WriteLine($"{who}: {OneLine(FirstError(parsed))} (see '{who} --help')");
                return ExitCodes.BadInput;
            }
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = new OneLineMessages(stderr), EnableDefaultExceptionHandler = false });
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"{who}: {OneLine(e.Message)}");
            return ExitCodes.BadInput;
        }
        catch (PolicyLoadException e)
        {
            stderr.WriteLine($"{who}: {OneLine(e.Message)}");
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"{who}: internal error: {e.GetType().Name}: {OneLine(e.Message)}");
            return ExitCodes.InternalError;
        }
    }

    /// <summary>
    /// Ctrl-C of the current run (the commands read it; <see cref="Main"/> cancels it on the first SIGINT).
    /// Per invocation (async-local), so in-process runs on several threads — the tests — do not share it.
    /// </summary>
    internal static CancellationToken Interrupt
    {
        get => InterruptOfThisRun.Value;
        private set => InterruptOfThisRun.Value = value;
    }

    private static readonly AsyncLocal<CancellationToken> InterruptOfThisRun = new();

    /// <summary>True when this run's stderr is the process's, on a terminal: only then do commands draw progress (with \r).</summary>
    internal static bool ProgressOnStderr => StderrIsTerminal.Value;

    private static readonly AsyncLocal<bool> StderrIsTerminal = new();

    /// <summary>True when this run's stdout is the process's, on a terminal: only then are tables boxed (<see cref="TerminalTables"/>).</summary>
    internal static bool TablesOnStdout => StdoutIsTerminal.Value;

    private static readonly AsyncLocal<bool> StdoutIsTerminal = new();

    /// <summary>The root command with every subcommand (what the parser, --help, completion and docs/cli.md read).</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand(
            "scxlab — a laboratory for Linux sched_ext dispatch protocols: an executable model of the kernel side " +
            "(ext.c), policies in C# or as the BPF objects clang builds, and drivers that run them along schedules.");
        foreach (var c in Commands()) root.Subcommands.Add(c);
        foreach (var o in root.Options)
            if (o is HelpOption { Action: HelpAction help } h)
                h.Action = new HelpWithExamples(help);
        return root;
    }

    /// <summary>The standard help, then the command's examples and the exit codes: help that teaches.</summary>
    private sealed class HelpWithExamples(HelpAction inner) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            inner.Invoke(parseResult);
            var o = parseResult.InvocationConfiguration.Output;
            var cmd = parseResult.CommandResult.Command;
            var examples = cmd is ScxCommand c ? c.Examples : cmd is RootCommand ? RootExamples : [];
            if (examples.Count > 0)
            {
                o.WriteLine("Examples:");
                foreach (var e in examples) o.WriteLine($"  {e}");
                o.WriteLine();
            }
            o.WriteLine("Exit codes: 0 ran and nothing violated, 1 bad input or usage, 2 violation or scheduler exit found,");
            o.WriteLine("            3 internal error, 4 incomplete (a budget or bound stopped the search, or the");
            o.WriteLine("            scheduler reached something the model does not cover).");
            return ExitCodes.Ok;
        }
    }

    /// <summary><c>scxlab</c> and the subcommands the command line selected (<c>scxlab list scenarios</c>).</summary>
    private static string CommandPath(ParseResult parsed)
    {
        var names = new List<string>();
        for (SymbolResult? r = parsed.CommandResult; r != null; r = r.Parent)
            if (r is CommandResult { Command: not RootCommand } c) names.Insert(0, c.Command.Name);
        return string.Join(' ', ["scxlab", .. names]);
    }

    /// <summary>The most telling parse error: an unrecognized token says more than "command missing".</summary>
    private static string FirstError(ParseResult parsed)
    {
        if (parsed.Errors.Count == 0) return "invalid command line";
        foreach (var e in parsed.Errors)
            if (parsed.UnmatchedTokens.Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal))) return e.Message;
        return parsed.Errors[0].Message;
    }

    private static string OneLine(string s) =>
        Scenarios.InputText.Escape(string.Join(' ', s.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries)));
}
