using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Policies;

namespace Scxlab.Tests.Policies;

/// <summary>A user policy as a class library would ship it: every task goes to the global DSQ.</summary>
public sealed class GlobalFifoTestPolicy : ScxOps
{
    private MapHandle _enqueued;

    public override string Name => "global_fifo_test";

    public override void DeclareMaps(MapBuilder maps) => _enqueued = maps.Array("enqueued", 1);

    public override bool? HoldsTask(MapView maps, TaskRef p, long pid) => false;

    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
    {
        await ctx.FetchAdd(_enqueued, 0, 1);
        await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);
    }
}

public sealed class ThrowingTestPolicy : ScxOps
{
    public override BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) => throw new InvalidOperationException("boom");
}

public sealed class SpinningTestPolicy : ScxOps
{
    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        while (true) await ctx.DispatchNrSlots();
    }
}

public sealed class NotAPolicy;

public sealed class NoDefaultCtorTestPolicy(int x) : ScxOps
{
    public int X => x;
}

public sealed class CtorThrowsTestPolicy : ScxOps
{
    public CtorThrowsTestPolicy() => throw new InvalidOperationException("no\nway");
}

public class PolicyLoadingTests
{
    private static string Asm => typeof(GlobalFifoTestPolicy).Assembly.Location;

    private static string Spec<T>() => $"{Asm}:{typeof(T).FullName}";

    private static PolicyRun TwoCpus(Func<ScxOps> policy) => new(policy, 2,
    [
        new TaskSpec("a", 701, CpuMask.Of(0, 1), 0, InitialTaskState.Running),
        new TaskSpec("b", 702, CpuMask.Of(0, 1), 0, InitialTaskState.Queued),
        new TaskSpec("c", 703, CpuMask.Of(0, 1), 1, InitialTaskState.Queued),
    ]);

    // One task running on CPU0: the idle CPU1 finds nothing queued and calls ops.dispatch.
    private static PolicyRun IdleCpu1(Func<ScxOps> policy) => new(policy, 2, [new TaskSpec("a", 701, CpuMask.Of(0, 1), 0, InitialTaskState.Running)]);

    [Fact]
    public void Should_LoadAndRunUserPolicy_When_SpecNamesAssemblyAndType()
    {
        // Given the test assembly and a policy type in it
        var factory = PolicyRegistry.Resolve(Spec<GlobalFifoTestPolicy>());

        // When it schedules three tasks on two CPUs
        var run = TwoCpus(factory);
        run.Rounds(4);

        // Then it is that policy, its map counts enqueues, and every task ran.
        Assert.Equal("global_fifo_test", run.M.Ops.Name);
        Assert.True(run.MapWord("enqueued", 0) >= 2);
        run.AssertHealthy();
        for (var t = 0; t < 3; t++) Assert.NotEmpty(run.RanOn[t]);
    }

    [Fact]
    public void Should_ResolveRelativeAssemblyPath_When_BaseDirectoryGiven()
    {
        var dir = Path.GetDirectoryName(Asm)!;
        var spec = $"{Path.GetFileName(Asm)}:{typeof(GlobalFifoTestPolicy).FullName}";
        Assert.IsType<GlobalFifoTestPolicy>(PolicyRegistry.Resolve(spec, dir)());
    }

    [Fact]
    public void Should_ResolveBuiltInsCaseInsensitively_When_NameGiven()
    {
        Assert.IsType<InsertRecheckCancel>(PolicyRegistry.Resolve("Insert-Recheck-Cancel")());
        Assert.IsType<Simple>(PolicyRegistry.Resolve(" simple ")());
    }

    public static TheoryData<string, string> BadSpecs() => new()
    {
        { "", "empty policy name (built-in: simple, simple-fifo, qmap, central, local-on-pop, local-on-peek, dequeue-sync, insert-recheck-cancel, cookie-peek, ghost-peek, userspace, userspace-enqueue-gen; or path/to/X.bpf.o; or path/to/X.dll:Namespace.Type)" },
        { "fifo", "unknown policy 'fifo' (built-in: simple, simple-fifo, qmap, central, local-on-pop, local-on-peek, dequeue-sync, insert-recheck-cancel, cookie-peek, ghost-peek, userspace, userspace-enqueue-gen; or path/to/X.bpf.o; or path/to/X.dll:Namespace.Type)" },
        { "nowhere/missing.dll:Ns.T", "policy assembly not found: nowhere/missing.dll" },
        { "Policies.dll", "policy 'Policies.dll' names an assembly but no type: write Policies.dll:Namespace.Type" },
        { "Policies.dll:", "policy 'Policies.dll:' names an assembly but no type: write Policies.dll:Namespace.Type" },
    };

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public void Should_FailWithOneLine_When_SpecIsBad(string spec, string message)
    {
        var e = Assert.Throws<PolicyLoadException>(() => PolicyRegistry.Resolve(spec));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Should_ListPolicyTypesInError_When_TypeIsNotFound()
    {
        var e = Assert.Throws<PolicyLoadException>(() => PolicyRegistry.Resolve($"{Asm}:No.Such.Type"));
        Assert.StartsWith($"type 'No.Such.Type' not found in {Asm} (ScxOps types there: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Should_SuggestTheType_When_NamespaceOrCaseIsWrong()
    {
        var e = Assert.Throws<PolicyLoadException>(() => PolicyRegistry.Resolve($"{Asm}:GlobalFifoTestPolicy"));
        Assert.Equal($"type 'GlobalFifoTestPolicy' not found in {Asm} (did you mean {typeof(GlobalFifoTestPolicy).FullName}?)", e.Message);
    }

    [Fact]
    public void Should_RejectTypes_When_NotAConstructibleScxOps()
    {
        Assert.Equal($"type '{typeof(NotAPolicy).FullName}' in {Asm} is not a concrete Scxlab.Bpf.ScxOps",
            Assert.Throws<PolicyLoadException>(() => PolicyRegistry.Resolve(Spec<NotAPolicy>())).Message);
        Assert.Equal($"type '{typeof(NoDefaultCtorTestPolicy).FullName}' in {Asm} needs a public parameterless constructor",
            Assert.Throws<PolicyLoadException>(() => PolicyRegistry.Resolve(Spec<NoDefaultCtorTestPolicy>())).Message);

        // A constructor that throws is reported when the policy is created, on one line.
        var factory = PolicyRegistry.Resolve(Spec<CtorThrowsTestPolicy>());
        Assert.Equal($"constructor of '{typeof(CtorThrowsTestPolicy).FullName}' in {Asm} failed: InvalidOperationException: no way",
            Assert.Throws<PolicyLoadException>(() => factory()).Message);
    }

    [Fact]
    public void Should_FailWithOneLine_When_FileIsNotAnAssembly()
    {
        var path = Path.Combine(Path.GetTempPath(), $"scxlab-not-an-assembly-{Environment.ProcessId}.dll");
        File.WriteAllText(path, "this is not a PE file");
        try
        {
            var e = Assert.Throws<PolicyLoadException>(() => PolicyRegistry.Resolve($"{path}:Ns.T"));
            Assert.StartsWith($"cannot load policy assembly {path}: ", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Should_EndSchedulerWithErrorBpf_When_UserPolicyThrows()
    {
        // Given a loaded policy whose ops.dispatch throws
        var run = IdleCpu1(PolicyRegistry.Resolve(Spec<ThrowingTestPolicy>()));

        // When a CPU dispatches
        run.Rounds(2);

        // Then the scheduler ends like a BPF error, and the tasks go back to the fair class.
        Assert.Equal(ExitKind.ErrorBpf, run.W.Sched.ExitKind);
        Assert.Equal("ops.dispatch() failed: InvalidOperationException: boom", run.W.ExitMessage);
        run.D.Finish("scx_disable");
        Assert.True(run.W.Sched.Disabled);
    }

    [Fact]
    public void Should_EndSchedulerWithError_When_CallbackExceedsStepBudget()
    {
        var run = IdleCpu1(PolicyRegistry.Resolve(Spec<SpinningTestPolicy>()));
        run.Rounds(1);
        Assert.Equal(ExitKind.Error, run.W.Sched.ExitKind);
        Assert.Equal($"ops.dispatch() exceeded its step budget ({run.M.Config.CallBudget} calls; a model bound: bounds: {{ call_budget: N }})", run.W.ExitMessage);
    }
}

/// <summary>BpfObjectSpec.Short: how a header line shows a BPF object spec (reports and traces keep it whole).</summary>
public class BpfObjectSpecShortTests
{
    [Fact]
    public void Should_ListEverySetting_When_TheSpecFitsOnALine() =>
        Assert.Equal("x.bpf.o@a=1,b[2]=3", BpfObjectSpec.Short("x.bpf.o@a=1,b[2]=3"));

    [Fact]
    public void Should_CountTheSettingsPastALine_When_ThereAreDozens()
    {
        // scx_lavd's topology is some 80 settings: the first ones that fit are listed, the rest counted, map writes too.
        var settings = Enumerable.Range(0, 80).Select(i => $"pco_table[{i}][0]=0").ToList();
        var spec = "x.bpf.o@" + string.Join(",", settings) + ",map:m[0]=1,map:m[1]=2";
        var shown = BpfObjectSpec.Short(spec);
        Assert.StartsWith("x.bpf.o@pco_table[0][0]=0,pco_table[1][0]=0,", shown);
        var listed = shown[..shown.IndexOf(' ')].Split(',').Length;
        Assert.EndsWith($" (+{80 - listed} more settings) (+2 map writes)", shown);
        Assert.True(shown.Length < 200, shown);
    }
}
