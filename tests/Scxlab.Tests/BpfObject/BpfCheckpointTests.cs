using Scxlab.BpfObject;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// Two ways to the same search: a BPF callback resumed from a checkpoint of the interpreter (Interpreter.Checkpoints.cs)
/// and the same callback replayed from its first instruction at every step must visit the same states, make the same
/// transitions and find the same violations — for plain DFS and the reduced search, on objects that spin on locks,
/// allocate arena pages, walk DSQs, take task references and call deferred kfuncs. And the checkpoints must be used.
/// </summary>
public class BpfCheckpointTests
{
    public static TheoryData<string, string, string> Cases() => new()
    {
        // (object: an examples/bpf name or programs/NAME.bpf.c, rodata, scenario)
        { "local_on_pop", "", "seed-race-r2" },
        { "local_on_pop_arena", "", "central-remote" },
        { "central", "", "central-remote" },
        { "dequeue_sync", "", "seed-race-synced" },
        { "insert_recheck_cancel", "", "seed-race-r1" },
        { "spin_lock.bpf.c", "", "central-remote" },
        { "spin_lock.bpf.c", "@tas=1", "seed-race-r1" },
        { "arena.bpf.c", "", "seed-race-r1" },
        { "dsq_iter.bpf.c", "", "central-remote" },
        { "storage.bpf.c", "", "seed-race-r2" },
        { "hash.bpf.c", "", "seed-race-r1" },
        // Logs longer than the hashed tail, differing only far back (the slot hash collides; the words do not).
        { "long_log.bpf.c", "", "central-remote" },
        { "long_log.bpf.c", "", "running-narrow-renice" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Should_ExploreTheSameStates_When_CallbacksResumeFromCheckpointsInsteadOfReplaying(string obj, string rodata, string scenario)
    {
        var policy = (obj.EndsWith(".bpf.c", StringComparison.Ordinal) ? BpfExamples.CompileProgram(obj, "v3") : BpfExamples.Object(obj)) + rodata;
        var s = ScenarioLoader.Resolve(scenario);
        Assert.True(s.ToConfig(policy).BpfCheckpoints);
        // Every step that can resume does (in production only those with a longer prefix to replay).
        var resumed = s.ToConfig(policy).WithBpfCheckpoints(true, minCalls: 1);
        var replayed = resumed.WithBpfCheckpoints(false);
        foreach (var strategy in new[] { Strategy.Dfs, Strategy.Reduced })
        {
            var options = new ExploreOptions { Strategy = strategy, Checks = s.Checks, ShortestTraces = false };
            var withMachine = new Machine(resumed);
            var with = new Explorer(withMachine, options).Run();
            var withoutMachine = new Machine(replayed);
            var without = new Explorer(withoutMachine, options).Run();
            var cell = $"{obj}{rodata} × {scenario} × {strategy}";
            Assert.Equal((cell, without.Verdict, without.Complete), (cell, with.Verdict, with.Complete));
            Assert.Equal((cell, without.Stats.States, without.Stats.Transitions), (cell, with.Stats.States, with.Stats.Transitions));
            Assert.Equal((cell, Messages(without)), (cell, Messages(with)));
            var (hits, _) = ((BpfObjectPolicy)withMachine.Ops).CheckpointStats;
            Assert.True(hits > 0, $"{cell}: no step resumed from a checkpoint");
            Assert.Equal((cell, 0L), (cell, ((BpfObjectPolicy)withoutMachine.Ops).CheckpointStats.Hits));
        }
    }

    [Theory]
    [InlineData("local_on_pop_arena", "central-remote")]
    [InlineData("central", "central-remote")]
    public void Should_ExploreTheSameStates_When_OnlyLongPrefixesResume(string obj, string scenario)
    {
        // The production setting: steps with fewer recorded calls than Interpreter.MinCallsToResume replay.
        var s = ScenarioLoader.Resolve(scenario);
        var config = s.ToConfig(BpfExamples.Object(obj));
        var options = new ExploreOptions { Strategy = Strategy.Reduced, Checks = s.Checks, ShortestTraces = false };
        var with = new Explorer(new Machine(config), options).Run();
        var without = new Explorer(new Machine(config.WithBpfCheckpoints(false)), options).Run();
        Assert.Equal((without.Verdict, without.Stats.States, without.Stats.Transitions, Messages(without)),
            (with.Verdict, with.Stats.States, with.Stats.Transitions, Messages(with)));
    }

    [Fact]
    public void Should_WalkTheSameSchedules_When_EarlierWalksLeftTheirCheckpoints()
    {
        // Random walks restart from the initial world with the checkpoints of earlier walks still filed: every walk must
        // go exactly as it goes replayed. long_log's logs are longer than the slot hash's tail and differ only in their
        // first call between walks (a word the other CPU writes).
        var s = ScenarioLoader.Resolve(Path.Combine(BpfExamples.Root(), "examples", "selftests", "wakeup.yaml"));
        var config = s.ToConfig(BpfExamples.CompileProgram("long_log.bpf.c", "v3")).WithBpfCheckpoints(true, minCalls: 1);
        var resumed = new Scxlab.Fuzzing.Walker(config, s.Checks);
        var replayed = new Scxlab.Fuzzing.Walker(config.WithBpfCheckpoints(false), s.Checks);
        var choices = new List<int>();
        for (var i = 0; i < 300; i++)
        {
            var seenResumed = new Scxlab.Fuzzing.DistinctCounter();
            var a = resumed.Walk(Scxlab.Fuzzing.FuzzStrategy.Random, 11, i, 3, 300, 100_000, choices, seenResumed, null);
            var first = string.Join(",", choices);
            var seenReplayed = new Scxlab.Fuzzing.DistinctCounter();
            var b = replayed.Walk(Scxlab.Fuzzing.FuzzStrategy.Random, 11, i, 3, 300, 100_000, choices, seenReplayed, null);
            Assert.Equal((i, first), (i, string.Join(",", choices)));
            Assert.Equal((i, b.Violation?.Key, b.Steps), (i, a.Violation?.Key, a.Steps));
            Assert.Equal((i, resumed.Machine.World.Fingerprint()), (i, replayed.Machine.World.Fingerprint()));
        }
        Assert.True(((BpfObjectPolicy)resumed.Machine.Ops).CheckpointStats.Hits > 0, "no step resumed from a checkpoint");
    }

    private static string Messages(ExploreResult r) =>
        string.Join(" | ", r.Violations.Select(v => v.Violation.ToString()).Order(StringComparer.Ordinal)) + " / " + r.IncompleteReason;
}
