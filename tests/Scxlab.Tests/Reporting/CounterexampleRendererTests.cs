using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Reporting;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Reporting;

/// <summary>Which columns a replayed trace draws: every CPU and script actor on a small machine, only the ones that step on a big one.</summary>
public class CounterexampleRendererTests
{
    /// <summary>A seeded random walk of <paramref name="config"/>: the actors' choices, up to <paramref name="steps"/>.</summary>
    private static List<int> Walk(ModelConfig config, int steps, int seed)
    {
        var m = new Machine(config);
        var rng = new Random(seed);
        var choices = new List<int>();
        for (var i = 0; i < steps; i++)
        {
            var enabled = Enumerable.Range(0, m.ActorCount).Where(m.IsEnabled).ToList();
            if (enabled.Count == 0) break;
            var a = enabled[rng.Next(enabled.Count)];
            m.Step(a);
            choices.Add(a);
            if (m.World.Sched.ExitKind != ExitKind.None) break;
        }
        return choices;
    }

    [Fact]
    public void Should_DrawOnlyTheActorsThatStep_When_TheMachineHasMoreColumnsThanTheLimit()
    {
        var s = ScenarioLoader.Resolve("churn-256cpu");
        var config = s.ToConfig();
        var choices = Walk(config, 60, seed: 4);
        var run = TraceRunner.Run(config, choices, s.Checks);
        var stepped = choices.Distinct().Order().ToList();
        Assert.Equal(stepped, run.ColumnActors);
        // Every CPU and script actor that took no step (the helper never has a column unless it steps).
        Assert.Equal(256 + s.Actors.Count - stepped.Count, run.HiddenColumns);
        var text = CounterexampleRenderer.Render(run);
        Assert.Contains($"({run.HiddenColumns} CPUs and actors that take no step not shown)", text);
        Assert.All(text.Split('\n'), line => Assert.True(line.Length < stepped.Count * CounterexampleRenderer.MaxColumnWidth + 10, line));
    }

    [Fact]
    public void Should_DrawEveryCpu_When_TheMachineIsSmall()
    {
        var s = ScenarioLoader.Resolve("seed-race-r2");
        var config = s.ToConfig();
        var m = new Machine(config);
        // Only CPU0 steps: CPU1 and the taskset keep their columns.
        var cpu0 = m.Actors.Single(a => a.Name == "CPU0").Id;
        var run = TraceRunner.Run(config, [cpu0], s.Checks);
        Assert.Equal(0, run.HiddenColumns);
        Assert.Equal(m.Actors.Where(a => a.Kind != ActorKind.Helper).Select(a => a.Name), run.Columns);
        Assert.DoesNotContain("not shown", CounterexampleRenderer.Render(run));
    }
}
