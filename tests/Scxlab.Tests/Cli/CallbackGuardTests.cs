using System.Diagnostics;
using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Tests.Cli;

/// <summary>A policy loaded from an assembly whose ops.dispatch spins forever without calling the BPF API.</summary>
public sealed class SpinningDispatchPolicy : ScxOps
{
    private MapHandle _q;
    public override void DeclareMaps(MapBuilder maps) => _q = maps.Queue("q", 8);
    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags f) => await ctx.Push(_q, ctx.Pid(p));

    public override BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        var x = 0UL;
        while (true) x = unchecked(x * 6364136223846793005UL + 1442695040888963407UL);
    }
}

/// <summary>
/// A policy whose first ops.dispatch in the process spins forever; every other call returns at once. In a parallel
/// search one worker is stuck while the others go on running callbacks and then finish.
/// </summary>
public sealed class SpinOnceDispatchPolicy : ScxOps
{
    private static int _claimed;
    private MapHandle _q;
    public override void DeclareMaps(MapBuilder maps) => _q = maps.Queue("q", 8);
    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags f) => await ctx.Push(_q, ctx.Pid(p));

    public override BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        if (Interlocked.Exchange(ref _claimed, 1) == 0)
        {
            var x = 0UL;
            while (true) x = unchecked(x * 6364136223846793005UL + 1442695040888963407UL);
        }
        return BpfTask.CompletedTask;
    }
}

/// <summary>The wall-clock guard stops a spinning callback with a message naming it (the process cannot interrupt the loop).</summary>
public class CallbackGuardTests
{
    [Fact]
    public async Task Should_ExitOneNamingTheCallback_When_APolicyCallbackSpinsWithoutCallingTheApi() =>
        await AssertStopped(typeof(SpinningDispatchPolicy));

    /// <summary>
    /// The guard watches each machine on its own: another worker's callbacks (which once advanced one shared counter,
    /// and whose end once cleared one shared "inside" flag) neither hide nor end a stuck one.
    /// </summary>
    [Fact]
    public async Task Should_ExitOneNamingTheCallback_When_OneWorkerOfAParallelSearchSpinsWhileTheOtherGoesOn() =>
        await AssertStopped(typeof(SpinOnceDispatchPolicy), "--jobs", "2");

    private static async Task AssertStopped(Type policyType, params string[] extra)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "scxlab.dll");
        var policy = $"{policyType.Assembly.Location}:{policyType.FullName}";
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(cli);
        psi.ArgumentList.Add("check");
        psi.ArgumentList.Add("seed-race-r2");
        psi.ArgumentList.Add("--policy");
        psi.ArgumentList.Add(policy);
        foreach (var a in extra) psi.ArgumentList.Add(a);
        psi.Environment["SCXLAB_CALLBACK_GUARD_SECONDS"] = "1";
        using var proc = Process.Start(psi)!;
        var stderr = proc.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stdout = proc.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await proc.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            proc.Kill(entireProcessTree: true);
            Assert.Fail("the guard did not stop the stuck callback within 60 s");
        }
        Assert.Equal(1, proc.ExitCode);
        var err = await stderr;
        Assert.Contains("ops.dispatch()", err);
        Assert.Contains("without calling the BPF API", err);
        Assert.DoesNotContain("   at ", err); // no stack trace
        _ = await stdout;
    }
}
