using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// A world of more than 1 024 chunks (a BPF object's big maps or arena) restores by history: the chunks and the log
/// words that changed since the copy it was based on, going back to the parent's last copy from the same source
/// version when the parent was restored since (World.ChangedSince), and an actor's log from its low-water mark. A small
/// world is copied whole whenever its parent changed. The same program with an unused 512 KiB array (a large world,
/// the same behaviour) must explore exactly what the small one does, with plain DFS and the reduced search; the CI's
/// verify pass (SCXLAB_VERIFY_FINGERPRINT=1) also compares every restore with its source.
/// </summary>
public class LargeWorldRestoreTests
{
    [Theory]
    [InlineData("central-remote")]
    [InlineData("running-narrow-renice")]
    public void Should_ExploreWhatASmallWorldExplores_When_TheWorldRestoresByHistory(string scenario)
    {
        var source = File.ReadAllText(Path.Combine(BpfExamples.Root(), "tests", "Scxlab.Tests", "BpfObject", "programs", "long_log.bpf.c"));
        var small = BpfExamples.Compile("long_log_small-v3", source);
        var large = BpfExamples.Compile("long_log_large-v3", source + "\nu64 unused_pad[65536];\n");
        var s = ScenarioLoader.Resolve(scenario);
        foreach (var strategy in new[] { Strategy.Dfs, Strategy.Reduced })
        {
            var options = new ExploreOptions { Strategy = strategy, Checks = s.Checks, ShortestTraces = false };
            var smallMachine = new Machine(s.ToConfig(small));
            var largeMachine = new Machine(s.ToConfig(large));
            Assert.False(smallMachine.World.RestoresByHistory);
            Assert.True(largeMachine.World.RestoresByHistory, "the padded object's world is not large: the test no longer covers restores by history");
            var a = new Explorer(smallMachine, options).Run();
            var b = new Explorer(largeMachine, options).Run();
            var cell = $"{scenario} × {strategy}";
            Assert.Equal((cell, a.Verdict, a.Complete, a.Stats.States, a.Stats.Transitions), (cell, b.Verdict, b.Complete, b.Stats.States, b.Stats.Transitions));
        }
    }
}
