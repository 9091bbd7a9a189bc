using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Driving;

/// <summary>What a scripted race run left behind: the machine in its final state and the steps that led there.</summary>
public sealed record ScriptedRun(ScriptedRace Race, string Policy, Protocol Protocol, ScheduleDriver Driver)
{
    public Machine Machine => Driver.Machine;
    public IReadOnlyList<StepRecord> Steps => Driver.Steps;
    public IReadOnlyList<Finding> Findings => Driver.Findings;
    public ExitKind ExitKind => Machine.World.Sched.ExitKind;
    public string? ExitMessage => Machine.World.ExitMessage;
}

/// <summary>
/// The seed races driven along fixed schedules (reference §4.2, §4.3, and the "late change"),
/// as the kernel-model tests drive them. Until the explorer finds these interleavings by itself,
/// <c>scxlab demo</c> runs these; tests and benchmarks use the same schedules.
/// </summary>
/// <remarks>
/// The setup is the seed email's: 2 CPUs, task p queued in BPF custody on CPU1 and allowed on
/// {0,1}; CPU0 runs a dispatch round whose ops.dispatch picks p for SCX_DSQ_LOCAL_ON|0; the
/// script actor "taskset" on CPU1 narrows p to {1}. The schedule cuts CPU0's ops.dispatch at a
/// kfunc (named by <see cref="CallKind"/>), runs the whole affinity change, then lets CPU0
/// finish. The cut points are defined by the policy's pending kfunc, so a policy that never
/// makes that call cannot follow the schedule (an <see cref="InvalidOperationException"/>).
/// </remarks>
public sealed record ScriptedRace(string Name, string Description, string DefaultPolicy, int Cpu0Rounds, Action<ScheduleDriver> Schedule)
{
    public const int PidP = 101;

    /// <summary>R1 (§4.2): CPU0 pops p and tests the old mask; the affinity change completes before the insert.</summary>
    public static ScriptedRace R1 { get; } = new(
        "r1",
        "race R1: the affinity change lands between pop+test and scx_bpf_dsq_insert",
        "local-on-pop",
        1,
        d =>
        {
            RunCpu0UntilPending(d, CallKind.DsqInsert);
            d.Finish("taskset");
            d.Finish("CPU0");
        });

    /// <summary>R2 (§4.3, the seed email): CPU0 tests p's mask; the affinity change completes before the remove and insert.</summary>
    public static ScriptedRace R2 { get; } = new(
        "r2",
        "race R2 (the seed email): the affinity change lands between the mask test and remove+insert",
        "local-on-peek",
        1,
        d =>
        {
            RunCpu0UntilPending(d, CallKind.TaskTestCpu);
            d.Step("CPU0"); // the test of p->cpus_ptr, still the old mask
            d.Finish("taskset");
            d.Finish("CPU0");
        });

    /// <summary>The late change: the insert is buffered with the old qseq; the affinity change lands before the flush.</summary>
    public static ScriptedRace LateChange { get; } = new(
        "late-change",
        "late change: the affinity change lands between scx_bpf_dsq_insert and the flush (finish_dispatch's qseq check)",
        "local-on-peek",
        2,
        d =>
        {
            RunCpu0UntilPending(d, CallKind.DsqInsert);
            d.Step("CPU0"); // scx_bpf_dsq_insert: buffered with the old qseq
            d.Finish("taskset");
            d.Finish("CPU0");
        });

    public static IReadOnlyList<ScriptedRace> All { get; } = [R1, R2, LateChange];

    /// <summary>The machine this race runs on.</summary>
    public ModelConfig Config(Func<ScxOps> policy, string policyName, Protocol protocol) => new()
    {
        CpuCount = 2,
        Tasks = [new TaskSpec("p", PidP, CpuMask.Of(0, 1), 1, InitialTaskState.Queued)],
        PolicyFactory = policy,
        PolicyName = policyName,
        Protocol = protocol,
        Rounds = [Cpu0Rounds, 0],
        Scripts = [new ScriptSpec("taskset", 1, [new ScriptAction(ActionKind.SetAffinity, Task: 0, Mask: CpuMask.Of(1))])],
    };

    /// <summary>Run the race along its schedule with a built-in or assembly policy (default: the race's own).</summary>
    public ScriptedRun Run(Protocol protocol = Protocol.Upstream, string? policy = null, bool narrate = true)
    {
        var name = policy ?? DefaultPolicy;
        var driver = new ScheduleDriver(new Machine(Config(PolicyRegistry.Resolve(name), name, protocol)), narrate);
        try
        {
            Schedule(driver);
        }
        catch (InvalidOperationException e)
        {
            // The driver throws when the scripted actor is not enabled or the cut point never comes.
            throw new ScheduleNotFollowedException($"policy {name} under {Protocols.Name(protocol)} does not follow the {Name} schedule: {e.Message}");
        }
        return new ScriptedRun(this, name, protocol, driver);
    }

    private static void RunCpu0UntilPending(ScheduleDriver d, CallKind kind) =>
        d.StepUntil("CPU0", m => m.PeekPendingCall(d.ActorId("CPU0")) == kind);
}

/// <summary>A policy or protocol that never reaches a scripted schedule's cut point (the schedule is the policy's pattern).</summary>
public sealed class ScheduleNotFollowedException(string message) : Exception(message);
