namespace Scxlab.Simulation;

/// <summary>
/// The built-in workload generators. Their defaults were chosen once, from the workloads they
/// imitate, and are documented in docs/simulation.md; they are never tuned per policy or protocol.
/// Task counts scale with the CPU count unless <c>tasks</c> is given.
/// </summary>
public static class Generators
{
    public static IReadOnlyList<(string Name, string Description)> All { get; } =
    [
        ("cpu-bound", "2 tasks per CPU that never sleep (fairness and tick-driven slices)"),
        ("mixed", "8 tasks per CPU: 3/4 interactive (run 100us, sleep 5ms), 1/4 batch (run 10ms, sleep 40ms)"),
        ("pingpong", "1 pair per CPU: each runs 50us, wakes its partner and suspends (wakeup chains)"),
        ("affinity-churn", "2 tasks per CPU (run 2ms, sleep 500us) whose masks alternate every 100us between one random CPU and all CPUs (stress-ng --affinity style)"),
    ];

    public static bool Exists(string name) => All.Any(g => g.Name == name);

    /// <summary>Build generator <paramref name="name"/> for <paramref name="cpus"/> CPUs; <paramref name="tasks"/> overrides the task count.</summary>
    public static Workload Create(string name, int cpus, int? tasks = null)
    {
        switch (name)
        {
            case "cpu-bound":
            {
                var n = tasks ?? 2 * cpus;
                return new Workload
                {
                    Name = name,
                    Description = All[0].Description,
                    Groups =
                    [
                        new TaskGroup { Name = "hog", Class = "cpu-bound", Count = n, Phases = [new Phase(PhaseKind.Run, long.MaxValue / 4)], StartSpreadNs = 1_000_000 },
                    ],
                };
            }
            case "mixed":
            {
                var n = tasks ?? 8 * cpus;
                var interactive = Math.Max(1, n * 3 / 4);
                var batch = Math.Max(n == 1 ? 0 : 1, n - interactive);
                var groups = new List<TaskGroup>
                {
                    new() { Name = "interactive", Class = "interactive", Count = interactive, Phases = [new Phase(PhaseKind.Run, 100_000), new Phase(PhaseKind.Sleep, 5_000_000)], StartSpreadNs = 5_000_000 },
                };
                if (batch > 0)
                    groups.Add(new TaskGroup { Name = "batch", Class = "batch", Count = batch, Phases = [new Phase(PhaseKind.Run, 10_000_000), new Phase(PhaseKind.Sleep, 40_000_000)], StartSpreadNs = 50_000_000 });
                return new Workload { Name = name, Description = All[1].Description, Groups = groups };
            }
            case "pingpong":
            {
                var pairs = Math.Max(1, (tasks ?? 2 * cpus) / 2);
                return new Workload
                {
                    Name = name,
                    Description = All[2].Description,
                    Groups =
                    [
                        new TaskGroup { Name = "ping", Class = "pingpong", Count = pairs, Phases = [new Phase(PhaseKind.Run, 50_000), new Phase(PhaseKind.Wake, 0, "pong"), new Phase(PhaseKind.Suspend)], StartSpreadNs = 1_000_000 },
                        new TaskGroup { Name = "pong", Class = "pingpong", Count = pairs, StartSuspended = true, Phases = [new Phase(PhaseKind.Run, 50_000), new Phase(PhaseKind.Wake, 0, "ping"), new Phase(PhaseKind.Suspend)] },
                    ],
                };
            }
            case "affinity-churn":
            {
                var n = tasks ?? 2 * cpus;
                return new Workload
                {
                    Name = name,
                    Description = All[3].Description,
                    Groups =
                    [
                        new TaskGroup
                        {
                            Name = "churn", Class = "churn", Count = n,
                            Phases = [new Phase(PhaseKind.Run, 2_000_000), new Phase(PhaseKind.Sleep, 500_000)],
                            StartSpreadNs = 1_000_000,
                            AffinityChurnNs = 100_000,
                            AffinityChurnMode = AffinityChurnMode.SingleOrAll,
                        },
                    ],
                };
            }
            default:
                throw new WorkloadException($"unknown workload '{name}' (built-in: {string.Join(", ", All.Select(g => g.Name))}; or a .yaml/.json file)");
        }
    }
}
