using BenchmarkDotNet.Attributes;
using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Stepping;

namespace Scxlab.Benchmarks;

/// <summary>
/// Model steps as the explorer sees them (one interleaving point to the next), along the scripted
/// R2 schedule (the seed email's interleaving) replayed from its initial state: restore the initial
/// world, then step the fixed actor sequence. Narration is off (Trace = null), as on the explorer's
/// hot path. Reported per step: time and bytes allocated (one world restore per replay included).
/// </summary>
[MemoryDiagnoser]
public class ModelStepBenchmarks
{
    /// <summary>Steps in one R2 replay; GlobalSetup fails if the model's schedule length changes.</summary>
    public const int R2Steps = 22;
    /// <summary>Steps in one late-change replay (no scheduler exit, so no exit message is formatted).</summary>
    public const int LateChangeSteps = 27;
    private const int Replays = 64;

    private Machine _machine = null!;
    private World _initial = null!;
    private Machine _lateMachine = null!;
    private World _lateInitial = null!;
    private int[] _lateSchedule = [];
    private World _midRace = null!;
    private World _scratch = null!;
    private int[] _schedule = [];

    [GlobalSetup]
    public void Setup()
    {
        // Record the actor sequence once with the schedule driver (no narration).
        var recorded = ScriptedRace.R2.Run(narrate: false);
        _schedule = [.. recorded.Steps.Select(s => s.Actor)];
        if (_schedule.Length != R2Steps)
            throw new InvalidOperationException($"R2 schedule has {_schedule.Length} steps, benchmark expects {R2Steps}: update R2Steps");

        _machine = new Machine(ScriptedRace.R2.Config(PolicyRegistry.Resolve("local-on-peek"), "local-on-peek", Protocol.Upstream));
        _initial = _machine.World.Clone();
        _scratch = _machine.World.Clone();

        // The replay must reach the same outcome as the driver run, or we would be timing something else.
        ReplayOnce();
        if (_machine.World.ExitMessage != recorded.ExitMessage || !_machine.World.SameStateAs(recorded.Machine.World))
            throw new InvalidOperationException($"replay diverged from the recorded R2 run: exit '{_machine.World.ExitMessage}' vs '{recorded.ExitMessage}'");

        // A world in the middle of the race (after the affinity change), for fingerprinting a busier state.
        _machine.World.CopyFrom(_initial);
        for (var i = 0; i < R2Steps / 2; i++) _machine.Step(_schedule[i]);
        _midRace = _machine.World.Clone();

        var late = ScriptedRace.LateChange.Run(narrate: false);
        _lateSchedule = [.. late.Steps.Select(s => s.Actor)];
        if (_lateSchedule.Length != LateChangeSteps)
            throw new InvalidOperationException($"late-change schedule has {_lateSchedule.Length} steps, benchmark expects {LateChangeSteps}: update LateChangeSteps");
        _lateMachine = new Machine(ScriptedRace.LateChange.Config(PolicyRegistry.Resolve("local-on-peek"), "local-on-peek", Protocol.Upstream));
        _lateInitial = _lateMachine.World.Clone();
        Replay(_lateMachine, _lateInitial, _lateSchedule);
        if (!_lateMachine.World.SameStateAs(late.Machine.World))
            throw new InvalidOperationException("replay diverged from the recorded late-change run");
    }

    private void ReplayOnce() => Replay(_machine, _initial, _schedule);

    private static void Replay(Machine m, World initial, int[] schedule)
    {
        m.World.CopyFrom(initial);
        foreach (var a in schedule) m.Step(a);
    }

    [Benchmark(OperationsPerInvoke = Replays * R2Steps, Description = "Step (R2 schedule, per step)")]
    public void StepR2()
    {
        for (var r = 0; r < Replays; r++) ReplayOnce();
    }

    [Benchmark(OperationsPerInvoke = Replays * LateChangeSteps, Description = "Step (late-change schedule, per step)")]
    public void StepLateChange()
    {
        for (var r = 0; r < Replays; r++) Replay(_lateMachine, _lateInitial, _lateSchedule);
    }

    [Benchmark(Description = "World.Fingerprint (initial)")]
    public ulong FingerprintInitial() => _initial.Fingerprint();

    [Benchmark(Description = "World.Fingerprint (mid-race)")]
    public ulong FingerprintMidRace() => _midRace.Fingerprint();

    [Benchmark(Description = "World.CopyFrom")]
    public void CopyFrom() => _scratch.CopyFrom(_midRace);
}
