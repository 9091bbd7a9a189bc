using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Stepping;
using Xunit.Abstractions;

namespace Scxlab.Tests.Exploration;

public class DiamondDebugTests(ITestOutputHelper o)
{
    static readonly ExplorerPropertyTests.Small Sc = new(0, [1], [1], [0], [new ExplorerPropertyTests.Act(0, 0, 2, 1), new ExplorerPropertyTests.Act(0, 1, 2, 0)], 1, 0, 0);

    [Fact]
    public void Debug()
    {
        var res = new Dictionary<Strategy, Dictionary<ulong, List<(World parent, int a, ulong sleep)>>>();
        foreach (var s in new[] { Strategy.Dfs, Strategy.Reduced })
        {
            var map = new Dictionary<ulong, List<(World, int, ulong)>>();
            res[s] = map;
            var r = new Explorer(new Machine(Sc.Config()), new ExploreOptions
            {
                Strategy = s, ShortestTraces = false,
                OnTransition = (w, a, c, sl) =>
                {
                    var k = c.Fingerprint();
                    if (!map.TryGetValue(k, out var l)) map[k] = l = [];
                    l.Add((w.Clone(), a, sl));
                },
            }).Run();
            o.WriteLine($"{s}: {r.Stats.States} states {r.Stats.Transitions} tr; " + string.Join(" | ", r.Violations.Select(v => v.Violation.Key)));
        }
        var m = new Machine(Sc.Config());
        var missing = res[Strategy.Dfs].Keys.Except(res[Strategy.Reduced].Keys).ToList();
        o.WriteLine($"missing {missing.Count}");
        foreach (var x in missing.Take(3))
        {
            foreach (var (parent, a, _) in res[Strategy.Dfs][x])
            {
                var pk = parent.Fingerprint();
                var inRed = res[Strategy.Reduced].TryGetValue(pk, out var how);
                o.WriteLine($"  missing {x:x} = parent {pk:x} · {m.Actor(a).Name}; parent in reduced: {inRed}; sleep sets there: {(how == null ? "-" : string.Join(",", how.Select(h => $"{h.sleep:x}")))}");
                if (how == null) continue;
                foreach (var (gp, ga, gsl) in how)
                {
                    var gpk = gp.Fingerprint();
                    var gHow = res[Strategy.Reduced].TryGetValue(gpk, out var gh) ? string.Join(",", gh.Select(h => $"{m.Actor(h.a).Name}/{h.sleep:x}")) : "root";
                    o.WriteLine($"    reduced reached parent from {gpk:x} by {m.Actor(ga).Name} with sleep {gsl:x}; gp reached by {gHow}");
                    m.World = gp.Clone();
                    foreach (var b in Enumerable.Range(0, m.ActorCount).Where(m.IsEnabled).ToList())
                    {
                        var c = gp.Clone(); m.World = c; m.Step(b);
                        o.WriteLine($"      at gp {m.Actor(b).Name}: R={m.LastFootprint.Reads:x16} W={m.LastFootprint.Writes:x16} exit={c.Sched.ExitKind} -> {c.Fingerprint():x}");
                    }
                }
                // Which actor b put a to sleep? Show a's and others' footprints at parent.
                m.World = parent.Clone();
                var en = Enumerable.Range(0, m.ActorCount).Where(m.IsEnabled).ToList();
                foreach (var b in en)
                {
                    var c = parent.Clone(); m.World = c; m.Step(b);
                    o.WriteLine($"    at parent {m.Actor(b).Name}: R={m.LastFootprint.Reads:x16} W={m.LastFootprint.Writes:x16} exit={c.Sched.ExitKind}");
                }
            }
        }
    }
}
