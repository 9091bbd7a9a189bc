using Scxlab.Driving;
using Scxlab.Kernel;
using Scxlab.Reporting;

namespace Scxlab.Tests.Cli;

/// <summary>The library pieces the CLI prints: scripted races, the CPU-column trace, protocol names.</summary>
public class ReportingTests
{
    private static readonly ActorInfo[] Actors =
    [
        new(0, ActorKind.Cpu, "CPU0", 0, null),
        new(1, ActorKind.Cpu, "CPU1", 1, null),
        new(2, ActorKind.Script, "taskset", 1, null),
        new(3, ActorKind.Helper, "scx_disable", 0, null),
    ];

    private static StepRecord Step(int index, int actor, params string[] notes) => new(index, actor, Actors[actor].Name, notes, []);

    [Fact]
    public void Should_PutEachStepInItsActorsColumn_When_Rendering()
    {
        var text = ColumnTrace.Render(Actors, [Step(0, 0, "ops.dispatch(cpu=0)"), Step(1, 2, "sched_setaffinity(p, {1})")], width: 100);
        var lines = text.TrimEnd('\n').Split('\n');

        // header + rule + one line per step; the idle helper gets no column
        Assert.Equal(4, lines.Length);
        Assert.DoesNotContain("scx_disable", text);
        var cpu0 = lines[0].IndexOf("CPU0", StringComparison.Ordinal);
        var taskset = lines[0].IndexOf("taskset", StringComparison.Ordinal);
        Assert.Equal(cpu0, lines[2].IndexOf("ops.dispatch", StringComparison.Ordinal));
        Assert.Equal(taskset, lines[3].IndexOf("sched_setaffinity", StringComparison.Ordinal));
        Assert.StartsWith("0 |", lines[2]);
        Assert.StartsWith("1 |", lines[3]);
    }

    [Fact]
    public void Should_WrapLongNotesWithinTheWidth_When_Rendering()
    {
        var note = string.Join(' ', Enumerable.Repeat("finish_dispatch(p[101]): QUEUED|q1 -cmpxchg-> DISPATCHING", 4)) + " " + new string('x', 70);
        var text = ColumnTrace.Render(Actors, [Step(0, 0, note), Step(1, 2, "x")], width: 60);
        var lines = text.TrimEnd('\n').Split('\n');

        Assert.All(lines, l => Assert.True(l.Length <= 60, $"{l.Length}: {l}"));
        // Nothing is lost in the wrapping.
        var cpu0 = lines[0].IndexOf("CPU0", StringComparison.Ordinal);
        var col = string.Join(' ', lines.Skip(2).Select(l => l.Length > cpu0 ? l[cpu0..].Split(" | ")[0].Trim() : "").Where(s => s.Length > 0 && s != "x"));
        Assert.Equal(note.Replace(" ", "", StringComparison.Ordinal), col.Replace(" ", "", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_KeepTheNestingIndentOfANote_When_Rendering()
    {
        var text = ColumnTrace.Render(Actors, [Step(0, 0, "ops.dispatch(cpu=0)", "  bpf_map_pop_elem() = 101")], width: 80);
        var lines = text.TrimEnd('\n').Split('\n');

        var cpu0 = lines[0].IndexOf("CPU0", StringComparison.Ordinal);
        Assert.Equal(cpu0 + 2, lines[3].IndexOf("bpf_map_pop_elem", StringComparison.Ordinal));
    }

    [Fact]
    public void Should_GiveEveryProtocolOneName_When_ListingProtocols()
    {
        foreach (var p in Enum.GetValues<Protocol>())
        {
            Assert.True(Protocols.TryParse(Protocols.Name(p).ToUpperInvariant(), out var back));
            Assert.Equal(p, back);
        }
        Assert.Equal(Protocols.All.Count, Protocols.All.Select(i => i.Name).Distinct().Count());
        Assert.False(Protocols.TryParse("ghost-of-upstream", out _));
    }

    [Theory]
    [InlineData("r1", true)]
    [InlineData("r2", true)]
    [InlineData("late-change", false)]
    public void Should_ReachTheKernelOutcome_When_ScriptedRaceRunsUnderUpstream(string name, bool exits)
    {
        var race = ScriptedRace.All.Single(r => r.Name == name);

        var run = race.Run();

        Assert.Equal(exits ? ExitKind.Error : ExitKind.None, run.ExitKind);
        if (exits) Assert.Equal($"SCX_DSQ_LOCAL[_ON] target CPU 0 not allowed for p[{ScriptedRace.PidP}]", run.ExitMessage);
        Assert.Equal(Machine.GlobalSlot, run.Machine.World.Tasks[0].Dsq); // parked or dispatched later: never lost
        Assert.StartsWith("p[101]: on SCX_DSQ_GLOBAL", Whereabouts.Of(run.Machine, 0));
        Assert.Contains(run.Steps, s => s.ActorName == "taskset");
    }

    [Fact]
    public void Should_SayWhichScheduleWasNotFollowed_When_PolicyNeverReachesTheCutPoint()
    {
        var e = Assert.Throws<ScheduleNotFollowedException>(() => ScriptedRace.R1.Run(policy: "dequeue-sync"));
        Assert.Contains("r1 schedule", e.Message);
    }
}
