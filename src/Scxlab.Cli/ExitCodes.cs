namespace Scxlab.Cli;

/// <summary>The exit codes of the user-facing contract (DESIGN.md).</summary>
public static class ExitCodes
{
    /// <summary>Ran, and nothing was violated (or: the command reports findings as content and completed).</summary>
    public const int Ok = 0;
    /// <summary>Bad input or usage: unknown command/option, bad argument, unloadable policy, malformed file.</summary>
    public const int BadInput = 1;
    /// <summary>A violation or a scheduler exit was found (check, replay; others with --fail-on-violation).</summary>
    public const int Violation = 2;
    /// <summary>A bug in scxlab itself.</summary>
    public const int InternalError = 3;
    /// <summary>A budget or a bound stopped the search; nothing was violated in what was covered.</summary>
    public const int Incomplete = 4;
}
