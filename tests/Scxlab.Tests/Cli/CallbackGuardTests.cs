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

/// <summary>The wall-clock guard stops a spinning callback with a message naming it (the process cannot interrupt the loop).</summary>
public class CallbackGuardTests
{
    [Fact]
    public async Task Should_ExitOneNamingTheCallback_When_APolicyCallbackSpinsWithoutCallingTheApi()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "scxlab.dll");
        var policy = $"{typeof(SpinningDispatchPolicy).Assembly.Location}:{typeof(SpinningDispatchPolicy).FullName}";
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(cli);
        psi.ArgumentList.Add("check");
        psi.ArgumentList.Add("seed-race-r2");
        psi.ArgumentList.Add("--policy");
        psi.ArgumentList.Add(policy);
        psi.Environment["SCXLAB_CALLBACK_GUARD_SECONDS"] = "1";
        using var proc = Process.Start(psi)!;
        var stderr = proc.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stdout = proc.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await proc.WaitForExitAsync(cts.Token);
        Assert.Equal(1, proc.ExitCode);
        var err = await stderr;
        Assert.Contains("ops.dispatch()", err);
        Assert.Contains("without calling the BPF API", err);
        Assert.DoesNotContain("   at ", err); // no stack trace
        _ = await stdout;
    }
}
