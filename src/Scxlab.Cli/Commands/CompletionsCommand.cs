using System.CommandLine;

namespace Scxlab.Cli.Commands;

/// <summary>
/// <c>scxlab completions bash|zsh|fish</c>: a shell script that completes scxlab's commands, options and
/// values (policies, protocols, kernels, scenarios, workloads, allowed words). The script asks scxlab
/// itself through System.CommandLine's <c>[suggest:POS]</c> directive, so it never goes stale; where
/// scxlab has nothing to offer (a file argument), the shell completes file names.
/// </summary>
internal static class CompletionsCommand
{
    private const string Bash = """
        # scxlab completion for bash: eval "$(scxlab completions bash)"  (or save it under ~/.local/share/bash-completion/completions/scxlab)
        _scxlab_complete() {
            local cur="${COMP_WORDS[COMP_CWORD]}" IFS=$'\n'
            local words
            words=$("${COMP_WORDS[0]}" "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null)
            if [ -n "$words" ]; then
                COMPREPLY=( $(compgen -W "$words" -- "$cur") )
            fi
            if [ ${#COMPREPLY[@]} -eq 0 ]; then
                COMPREPLY=( $(compgen -f -- "$cur") )
            fi
        }
        complete -o filenames -F _scxlab_complete scxlab
        """;

    private const string Zsh = """
        # scxlab completion for zsh: eval "$(scxlab completions zsh)"
        _scxlab_complete() {
            local -a offers
            offers=("${(@f)$(scxlab "[suggest:${CURSOR}]" "$BUFFER" 2>/dev/null)}")
            if [[ -n "${offers[*]}" ]]; then
                compadd -a offers
            else
                _files
            fi
        }
        compdef _scxlab_complete scxlab
        """;

    private const string Fish = """
        # scxlab completion for fish: scxlab completions fish | source
        function __scxlab_complete
            set -l line (commandline -cp)
            scxlab "[suggest:"(string length -- $line)"]" "$line" 2>/dev/null
        end
        complete -c scxlab -f -a '(__scxlab_complete)'
        """;

    public static ScxCommand Create()
    {
        var shell = new Argument<string>("shell") { Description = "bash | zsh | fish" };
        shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        var cmd = new ScxCommand("completions", "Print a shell script that completes scxlab's commands, options and values (policies, protocols, scenarios, workloads).")
        {
            Examples =
            [
                "eval \"$(scxlab completions bash)\"          # in ~/.bashrc",
                "eval \"$(scxlab completions zsh)\"           # in ~/.zshrc, after compinit",
                "scxlab completions fish | source",
            ],
        };
        cmd.Arguments.Add(shell);
        cmd.SetAction(r =>
        {
            r.InvocationConfiguration.Output.WriteLine(r.GetValue(shell) switch
            {
                "bash" => Bash,
                "zsh" => Zsh,
                _ => Fish,
            });
            return ExitCodes.Ok;
        });
        return cmd;
    }
}
