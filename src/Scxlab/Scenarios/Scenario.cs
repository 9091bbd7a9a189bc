using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Scenarios;

/// <summary>A scenario as written in its YAML file (schema in docs/scenarios.md).</summary>
public sealed class Scenario
{
    public required string Name { get; init; }

    /// <summary>Why the explorer cannot take this scenario (too many actors), located in the file; null when it can.</summary>
    public string? TooBigToExplore { get; init; }

    /// <summary>Throw the located load error when the scenario is too big for exhaustive search (check, compare).</summary>
    public void RequireExplorable()
    {
        if (TooBigToExplore != null) throw new ScenarioException(TooBigToExplore);
    }
    public string Description { get; init; } = "";
    /// <summary>Where it came from: a file path, or <c>builtin:NAME</c>.</summary>
    public required string Source { get; init; }
    /// <summary>The YAML text (saved in traces so a trace replays without the file).</summary>
    public required string Text { get; init; }
    public required int Cpus { get; init; }
    public Protocol Protocol { get; init; } = Protocol.Upstream;
    /// <summary>The scenario's <c>kernel:</c> era (7.1 when absent).</summary>
    public KernelEra Kernel { get; init; } = KernelEra.V7_1;
    public required string Policy { get; init; }
    public IReadOnlyList<string> Compare { get; init; } = [];
    /// <summary>Where each policy name of <c>policy:</c> and <c>compare:</c> was written (<c>file:line:col</c>).</summary>
    public IReadOnlyDictionary<string, string> PolicyAt { get; init; } = new Dictionary<string, string>();
    /// <summary>Free-form labels; <c>long</c> marks a scenario whose search takes seconds or more (left out of default sweeps such as <c>scxlab compare</c>).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];
    public required IReadOnlyList<TaskSpec> Tasks { get; init; }
    /// <summary>Scheduling rounds per CPU (index = CPU).</summary>
    public required IReadOnlyList<int> Rounds { get; init; }
    public required IReadOnlyList<ScriptSpec> Actors { get; init; }
    /// <summary>Selected check names; empty = all.</summary>
    public IReadOnlyList<string> Checks { get; init; } = [];
    public int? MaxPreemptions { get; init; }
    /// <summary><c>bounds: timer_fires</c>: how often each BPF timer may fire in an exploration (null: the model's default).</summary>
    public int? TimerFires { get; init; }
    /// <summary><c>bounds: user_dsqs</c>: how many user DSQs can exist at once in the model (null: the model's default, 8).</summary>
    public int? UserDsqs { get; init; }
    /// <summary><c>bounds: call_budget</c>: kfunc calls and shared-memory accesses one callback may make (null: the model's default, 256).</summary>
    public int? CallBudget { get; init; }
    /// <summary><c>bounds: bpf_cpumasks</c>: struct bpf_cpumask objects a BPF object may hold at once (null: 16 + 2 per task + 4 per CPU).</summary>
    public int? BpfCpumasks { get; init; }
    /// <summary><c>bounds: arena_pages</c>: pages of a BPF arena the model backs at once (null: <see cref="ModelConfig.DefaultArenaPages"/>).</summary>
    public int? ArenaPages { get; init; }
    /// <summary><c>bounds: hash_elems</c>: elements of each BPF hash map the model backs (null: <see cref="ModelConfig.DefaultHashElems"/>).</summary>
    public int? HashElems { get; init; }
    /// <summary><c>bounds: bpf_timers</c>: struct bpf_timer instances that get an actor (null: <see cref="ModelConfig.DefaultBpfTimers"/>).</summary>
    public int? BpfTimers { get; init; }
    /// <summary>
    /// <c>rodata:</c> as <c>name=value</c> patches: what a BPF object policy's user space sets before load. Applied
    /// to every BPF object the scenario runs (before the command line's --rodata, which win); C# policies ignore them.
    /// </summary>
    public IReadOnlyList<string> Rodata { get; init; } = [];
    public double? BudgetSeconds { get; init; }
    public ScenarioExpect? Expect { get; init; }

    /// <summary>The model configuration, with optional CLI overrides of policy and protocol.</summary>
    public ModelConfig ToConfig(string? policy = null, Protocol? protocol = null, Granularity granularity = Granularity.Normal, KernelEra? kernel = null)
    {
        var pol = policy ?? Policy;
        var named = pol; // as the file names it: where PolicyAt points
        if (Rodata.Count > 0 && BpfObjectSpec.TryParse(pol, out var objPath, out var own))
            pol = $"{objPath}@{string.Join(",", Rodata.Concat(own))}";
        Func<ScxOps> factory;
        try
        {
            factory = PolicyRegistry.Resolve(pol);
        }
        catch (PolicyLoadException e) when (PolicyAt.TryGetValue(named, out var at))
        {
            throw new PolicyLoadException($"{at}: {e.Message}");
        }
        var rounds = new int[Cpus];
        for (var c = 0; c < Cpus && c < Rounds.Count; c++) rounds[c] = Rounds[c];
        return new ModelConfig
        {
            CpuCount = Cpus,
            Tasks = Tasks,
            PolicyFactory = factory,
            PolicyName = pol,
            Protocol = protocol ?? Protocol,
            Granularity = granularity,
            Kernel = kernel ?? Kernel,
            Rounds = rounds,
            Scripts = Actors,
            TimerFires = TimerFires ?? ModelConfig.DefaultTimerFires,
            MaxUserDsqs = UserDsqs ?? ModelConfig.DefaultMaxUserDsqs,
            CallBudget = CallBudget ?? ModelConfig.DefaultCallBudget,
            MaxBpfCpumasks = BpfCpumasks,
            MaxArenaPages = ArenaPages ?? ModelConfig.DefaultArenaPages,
            MaxHashElems = HashElems ?? ModelConfig.DefaultHashElems,
            MaxBpfTimers = BpfTimers ?? ModelConfig.DefaultBpfTimers,
        };
    }
}

/// <summary>The optional <c>expect:</c> block, for regression use.</summary>
public sealed record ScenarioExpect(string? Verdict, string? Exit, long? States);

/// <summary>A scenario file could not be read; <see cref="Exception.Message"/> is the one-line <c>file:line:col: what</c> report.</summary>
public sealed class ScenarioException(string message) : Exception(message);

/// <summary>Protocol names as the CLI and scenario files spell them (the one list is <see cref="Protocols.All"/>).</summary>
public static class ProtocolNames
{
    public static IReadOnlyList<(string Name, Protocol Value, string Description)> All { get; } =
        [.. Protocols.All.Select(p => (p.Name, p.Protocol, p.Description))];

    public static bool TryParse(string s, out Protocol p) => Protocols.TryParse(s, out p);

    public static string Name(Protocol p)
    {
        foreach (var (name, value, _) in All)
            if (value == p) return name;
        throw new System.Diagnostics.UnreachableException($"protocol {p} has no CLI name");
    }

    public static string Expected => string.Join(" | ", All.Select(a => a.Name));
}
