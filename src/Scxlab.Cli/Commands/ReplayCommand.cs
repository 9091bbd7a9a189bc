using System.CommandLine;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Reporting;
using Scxlab.Scenarios;

namespace Scxlab.Cli.Commands;

/// <summary>
/// <c>scxlab replay TRACE.json</c>: re-run a saved trace from the initial state, print it in CPU
/// columns with its outcome. Exit 2 when the recorded violation is reproduced, 0 when the trace
/// ends with nothing violated (and none was recorded); a divergence (an actor not enabled at step
/// i, or a different outcome) is reported loudly with the step index and exits 1.
/// </summary>
public static class ReplayCommand
{
    internal static ScxCommand Create()
    {
        var traceArg = new Argument<string>("TRACE.json") { Description = "a trace written by check --trace-out, compare --traces or fuzz --out" };
        var policyOpt = CliOptions.Policy("replay with this policy instead of the recorded one (an assembly or BPF object that moved; its sha256 must match the trace's)");
        var cmd = new ScxCommand("replay", "Replay a saved trace and print it in CPU columns; fails loudly on divergence.")
        {
            Examples = ["scxlab replay r2.json", "scxlab replay r2.json --policy /elsewhere/MyPolicy.dll:My.Policy"],
        };
        cmd.Arguments.Add(traceArg);
        cmd.Options.Add(policyOpt);
        cmd.SetAction(r => Execute(r.GetValue(traceArg)!, r.GetValue(policyOpt), r.InvocationConfiguration.Output, r.InvocationConfiguration.Error));
        return cmd;
    }

    /// <summary>The command line as <c>scxlab replay ARGS</c> would run it (for tests and embedding).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Program.Run(["replay", .. args], stdout, stderr);

    private static int Execute(string file, string? policyArg, TextWriter stdout, TextWriter stderr)
    {
        string[] args = [file];
        TraceFile trace;
        ModelConfig config;
        try
        {
            trace = TraceFile.Load(args[0]);
            var scenario = ScenarioLoader.Parse(trace.ScenarioText, $"{args[0]}#scenario");
            if (!ProtocolNames.TryParse(trace.Protocol, out var protocol)) throw new ScenarioException($"{args[0]}: unknown protocol '{trace.Protocol}'");
            var granularity = trace.Granularity switch
            {
                "normal" => Granularity.Normal,
                "fine" => Granularity.Fine,
                var g => throw new ScenarioException($"{args[0]}: unknown granularity '{g}' (expected normal | fine)"),
            };
            if (!KernelEras.TryParse(trace.Kernel, out var kernel)) throw new ScenarioException($"{args[0]}: unknown kernel '{trace.Kernel}' (expected {KernelEras.Expected})");
            var policy = policyArg ?? trace.Policy;
            config = scenario.ToConfig(policy, protocol, granularity, kernel);
            if (trace.PolicySha256 != null && BpfObjectSpec.Sha256(policy) is { } objSha && !string.Equals(objSha, trace.PolicySha256, StringComparison.OrdinalIgnoreCase))
                throw new ScenarioException($"{args[0]}: recorded with BPF object sha256 {trace.PolicySha256[..12]}…, but {BpfObjectSpec.TryParseHead(policy)} is now {objSha[..12]}…; refusing to replay against another object");
            if (trace.PolicySha256 != null && BpfObjectSpec.Sha256(policy) == null && PolicyRegistry.Locate(policy).Sha256 is { } sha && !string.Equals(sha, trace.PolicySha256, StringComparison.OrdinalIgnoreCase))
                throw new ScenarioException($"{args[0]}: policy assembly {policy[..policy.LastIndexOf(':')]} has sha256 {sha}, the trace was recorded with {trace.PolicySha256} (a different build would not replay the same)");
        }
        catch (Exception e) when (e is ScenarioException or PolicyLoadException)
        {
            stderr.WriteLine($"scxlab replay: {e.Message}");
            return 1;
        }
        try
        {
            var probe = new Machine(config);
            if (probe.ActorCount != trace.Actors.Count || !probe.Actors.Select(a => a.Name).SequenceEqual(trace.Actors))
            {
                stderr.WriteLine($"scxlab replay: DIVERGENCE before step 0: the model's actors are [{string.Join(", ", probe.Actors.Select(a => a.Name))}], the trace recorded [{string.Join(", ", trace.Actors)}]");
                return 1;
            }
            var run = TraceRunner.Run(config, trace.Choices, trace.Checks);
            stdout.WriteLine($"replay of {trace.ScenarioName}: policy {BpfObjectSpec.Short(trace.Policy)}, protocol {trace.Protocol}, {trace.Choices.Count} steps");
            stdout.WriteLine();
            stdout.Write(CounterexampleRenderer.Render(run));
            stdout.WriteLine();
            if (run.Divergence != null)
            {
                stderr.WriteLine($"scxlab replay: DIVERGENCE at {run.Divergence}");
                return 1;
            }
            if (run.Outcome == null)
            {
                stderr.WriteLine($"scxlab replay: DIVERGENCE at step {trace.Choices.Count}: the trace ends with nothing violated, but it recorded {trace.Violation}");
                return 1;
            }
            if (run.Outcome.Key != trace.Violation.Key)
            {
                stderr.WriteLine($"scxlab replay: DIVERGENCE at step {run.OutcomeStep}: got {run.Outcome}, the trace recorded {trace.Violation}");
                return 1;
            }
            stdout.WriteLine($"outcome (reproduced): {run.Outcome}");
            return 2;
        }
        catch (PolicyLoadException e)
        {
            stderr.WriteLine($"scxlab replay: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stderr.WriteLine($"scxlab replay: internal error: {e.GetType().Name}: {e.Message}");
            return 3;
        }
    }
}
