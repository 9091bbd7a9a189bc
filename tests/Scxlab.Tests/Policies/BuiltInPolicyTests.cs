using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Stepping;

namespace Scxlab.Tests.Policies;

/// <summary>Every built-in policy schedules a small mixed workload: every task runs, nothing exits, nothing is lost.</summary>
public class BuiltInPolicyTests
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var p in PolicyRegistry.BuiltIn) data.Add(p.Name);
        return data;
    }

    /// <summary>
    /// 3 CPUs, 7 tasks: a runs on CPU0 and blocks in round 0 (woken in round 2); b, c, e are
    /// queued (e allowed on {0,1}); d is queued and pinned to CPU2; w and z sleep and are woken
    /// in rounds 1 and 3 (z allowed on {1,2}).
    /// </summary>
    internal static PolicyRun MixedWorkload(Func<Bpf.ScxOps> policy)
    {
        CpuMask all = CpuMask.Of(0, 1, 2);
        var run = new PolicyRun(policy, 3,
        [
            new TaskSpec("a", 201, all, 0, InitialTaskState.Running),
            new TaskSpec("b", 202, all, 0, InitialTaskState.Queued),
            new TaskSpec("c", 203, all, 1, InitialTaskState.Queued),
            new TaskSpec("d", 204, CpuMask.Of(2), 2, InitialTaskState.Queued),
            new TaskSpec("e", 205, CpuMask.Of(0, 1), 1, InitialTaskState.Queued, Weight: 400),
            new TaskSpec("w", 206, all, 1, InitialTaskState.Sleeping, Weight: 40),
            new TaskSpec("z", 207, CpuMask.Of(1, 2), 2, InitialTaskState.Sleeping),
        ]);
        run.Sleep("a");
        run.Round();
        run.Wake("w");
        run.Round();
        run.Wake("a");
        run.Round();
        run.Wake("z");
        run.Rounds(12);
        return run;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Should_RunEveryTaskWithoutExit_When_BuiltInSchedulesMixedWorkload(string name)
    {
        // Given the policy and the mixed workload
        var run = MixedWorkload(PolicyRegistry.Resolve(name));

        // Then the scheduler is still loaded, no kernel check fired
        run.AssertHealthy();
        // and every task ran, only on CPUs it is allowed on
        for (var t = 0; t < run.W.Tasks.Length; t++)
        {
            Assert.True(run.RanOn[t].Count > 0, $"{name}: {run.M.TaskName(t)} never ran");
            foreach (var c in run.RanOn[t]) Assert.True(run.M.Config.Tasks[t].Allowed.Test(c), $"{name}: {run.M.TaskName(t)} ran on CPU{c}");
        }
        // and at the end every task is runnable and accounted for.
        for (var t = 0; t < run.W.Tasks.Length; t++) Assert.Equal(RunState.Runnable, run.W.Tasks[t].Run);
        run.AssertNothingLost();
    }

    [Fact]
    public void Should_ListTheEightBuiltInsByTheirNames_When_RegistryIsRead()
    {
        string[] required = ["simple", "qmap", "central", "local-on-pop", "local-on-peek", "dequeue-sync", "insert-recheck-cancel", "userspace"];
        var names = PolicyRegistry.BuiltIn.Select(p => p.Name).ToList();
        foreach (var r in required) Assert.Contains(r, names);
        Assert.Equal(names.Count, names.Distinct().Count());
        foreach (var p in PolicyRegistry.BuiltIn)
        {
            Assert.False(string.IsNullOrWhiteSpace(p.Description));
            Assert.DoesNotContain('\n', p.Description);
            Assert.NotNull(p.Create());
        }
    }
}
