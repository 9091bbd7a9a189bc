using System.CommandLine;

namespace Scxlab.Cli;

/// <summary>A subcommand with the examples its --help prints.</summary>
internal class ScxCommand(string name, string description) : Command(name, description)
{
    public IReadOnlyList<string> Examples { get; init; } = [];
}

/// <summary>Bad input found by a command after parsing (a value out of range, an unknown name): one line, exit code 1.</summary>
public sealed class UsageException(string message) : Exception(message);
