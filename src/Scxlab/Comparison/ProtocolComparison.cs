using System.Diagnostics;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Scenarios;

namespace Scxlab.Comparison;

/// <summary>
/// The protocol × policy matrix: for each scenario, each policy its <c>compare:</c> list names and
/// each protocol, an exhaustive exploration (sleep sets with state caching, a time budget per cell)
/// whose result alone decides the cell (<see cref="CellClassifier"/>). Nothing here knows what any
/// policy or protocol is supposed to do: a policy that declares a protocol it needs
/// (<see cref="Bpf.ScxOps.RequiresProtocol"/>) is marked not applicable elsewhere, everything else is run.
/// </summary>
public static class ProtocolComparison
{
    /// <summary>The tag that keeps a scenario out of the default set: its search takes seconds or more.</summary>
    public const string LongTag = "long";

    /// <summary>The built-in scenarios that have a <c>compare:</c> list and are not tagged <see cref="LongTag"/>.</summary>
    public static IReadOnlyList<Scenario> DefaultScenarios() =>
        [.. ScenarioLoader.BuiltInNames().Select(ScenarioLoader.Resolve).Where(s => s.Compare.Count > 0 && !s.Tags.Contains(LongTag))];

    /// <summary>The policies compared in <paramref name="scenario"/>: the override, else its list, else its own policy.</summary>
    public static IReadOnlyList<string> PoliciesOf(Scenario scenario, IReadOnlyList<string> overrides) =>
        overrides.Count > 0 ? overrides : scenario.Compare.Count > 0 ? scenario.Compare : [scenario.Policy];

    public static ComparisonResult Run(ComparisonOptions options)
    {
        var clock = Stopwatch.StartNew();
        var scenarios = options.Scenarios.Count > 0 ? options.Scenarios : DefaultScenarios();
        var protocols = options.Protocols.Count > 0 ? options.Protocols : [.. Protocols.All.Select(p => p.Protocol)];
        var work = new List<(Scenario Scenario, string Policy, Protocol Protocol)>();
        foreach (var s in scenarios)
            foreach (var pol in PoliciesOf(s, options.Policies))
                foreach (var pr in protocols)
                    work.Add((s, pol, pr));
        if (options.TraceDirectory != null) Directory.CreateDirectory(options.TraceDirectory);
        var cells = new List<ComparisonCell>(work.Count);
        for (var i = 0; i < work.Count; i++)
        {
            var (s, pol, pr) = work[i];
            options.CellStarted?.Invoke(i, work.Count, $"{s.Name} × {pol} × {Protocols.Name(pr)}");
            cells.Add(RunCell(s, pol, pr, options));
        }
        return new ComparisonResult(scenarios, protocols, cells, options.TraceDirectory, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Explore one cell and classify what was found.</summary>
    public static ComparisonCell RunCell(Scenario scenario, string policy, Protocol protocol, ComparisonOptions options)
    {
        scenario.RequireExplorable();
        var config = scenario.ToConfig(policy, protocol, kernel: options.Kernel);
        var required = config.PolicyFactory().RequiresProtocol;
        if (required is { } need && need != protocol)
            return new ComparisonCell { Scenario = scenario, Policy = policy, Protocol = protocol, Outcome = CellOutcome.NotApplicable, RequiredProtocol = need, Complete = true };

        var clock = Stopwatch.StartNew();
        var machine = new Machine(config);
        var actors = machine.Actors.Select(a => a.Name).ToList();
        var exploreOptions = new ExploreOptions
        {
            // Sleep sets with state caching: the same states and verdicts as plain DFS, fewer transitions;
            // plain DFS where a preemption bound applies (the bound is defined on DFS paths).
            Strategy = scenario.MaxPreemptions is null ? Strategy.Reduced : Strategy.Dfs,
            BudgetSeconds = options.BudgetSeconds,
            MaxPreemptions = scenario.MaxPreemptions,
            Checks = scenario.Checks,
            ShortestTraces = true,
            Progress = options.Progress,
        };
        var result = new Explorer(machine, exploreOptions).Run();

        var findings = new List<CellFinding>();
        foreach (var f in result.Violations)
        {
            var (outcome, ends) = CellClassifier.Classify(config, f);
            findings.Add(new CellFinding { Outcome = outcome, Violation = f.Violation, Trace = f.Trace, TaskEnds = ends });
        }
        findings = [.. findings.OrderBy(f => f.Outcome).ThenBy(f => f.Trace.Count)];
        if (options.TraceDirectory != null)
        {
            for (var k = 0; k < findings.Count; k++)
            {
                var file = Path.Combine(options.TraceDirectory, TraceFileName(scenario.Name, policy, protocol, k));
                new TraceFile
                {
                    ScenarioName = scenario.Name,
                    ScenarioSource = scenario.Source,
                    ScenarioText = scenario.Text,
                    // As check records it: an absolute assembly path and its SHA-256, so the trace replays
                    // from any directory and refuses a different build.
                    Policy = PolicyRegistry.Locate(policy).Spec,
                    PolicySha256 = PolicyRegistry.Locate(policy).Sha256,
                    Protocol = Protocols.Name(protocol),
                    Checks = scenario.Checks,
                    Strategy = result.Strategy.ToString().ToLowerInvariant(),
                    MaxPreemptions = scenario.MaxPreemptions,
                    Kernel = KernelEras.Name(config.Kernel),
                    Violation = findings[k].Violation,
                    Actors = actors,
                    Choices = findings[k].Trace,
                }.Save(file);
                findings[k] = findings[k] with { TraceFile = file };
            }
        }
        var cellOutcome = findings.Count > 0 ? findings[0].Outcome : result.Complete ? CellOutcome.Holds : CellOutcome.Incomplete;
        return new ComparisonCell
        {
            Scenario = scenario,
            Policy = policy,
            Protocol = protocol,
            Outcome = cellOutcome,
            Findings = findings,
            Complete = result.Complete,
            IncompleteReason = result.IncompleteReason,
            Stats = result.Stats,
            Seconds = clock.Elapsed.TotalSeconds,
            Actors = actors,
        };
    }

    /// <summary><c>SCENARIO.POLICY.PROTOCOL[.k].json</c>, with characters a file name cannot hold replaced.</summary>
    public static string TraceFileName(string scenario, string policy, Protocol protocol, int index)
    {
        var invalid = Path.GetInvalidFileNameChars();
        string Clean(string s) => new([.. s.Select(ch => invalid.Contains(ch) || ch is ':' or '/' or '\\' ? '_' : ch)]);
        return $"{Clean(scenario)}.{Clean(policy)}.{Protocols.Name(protocol)}{(index == 0 ? "" : $".{index + 1}")}.json";
    }
}
