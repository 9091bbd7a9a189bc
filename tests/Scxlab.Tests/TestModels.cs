using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Tests;

/// <summary>Small builders for the scripted-schedule tests.</summary>
internal static class TestModels
{
    public const int PidP = 101;

    /// <summary>The seed race setup: 2 CPUs, p queued on CPU1 allowed on {0,1}, "taskset" on CPU1 narrows p to {1}, CPU0 dispatches once.</summary>
    public static Machine SeedRace(Func<ScxOps> policy, Protocol protocol = Protocol.Upstream, int cpu0Rounds = 1) => new(new ModelConfig
    {
        CpuCount = 2,
        Tasks = [new TaskSpec("p", PidP, CpuMask.Of(0, 1), 1, InitialTaskState.Queued)],
        PolicyFactory = policy,
        Protocol = protocol,
        Rounds = [cpu0Rounds, 0],
        Scripts = [new ScriptSpec("taskset", 1, [new ScriptAction(ActionKind.SetAffinity, Task: 0, Mask: CpuMask.Of(1))])],
    });
}
