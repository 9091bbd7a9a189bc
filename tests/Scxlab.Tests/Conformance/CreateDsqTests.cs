using Scxlab.Bpf;
using Scxlab.Kernel;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>create_dsq</c>: ops.init creates DSQs 0..N-1 and destroys them all; then a DSQ
/// per task (id = pid) is created, with scx_bpf_error("Failed to create DSQ for %s[%d]") on
/// failure (the selftest does this in ops.init_task, which the model does not have, so this
/// policy does it at the end of ops.init). Attach succeeds and nothing errors. The model has
/// room for <see cref="ModelConfig.MaxUserDsqs"/> user DSQs instead of 1024.
/// </summary>
public class CreateDsqTests
{
    private sealed class Policy(int nrDsqs, long[] pids) : ScxOps
    {
        public override async BpfTask Init(InitContext ctx)
        {
            for (var i = 0; i < nrDsqs; i++)
                if (!await ctx.CreateDsq((ulong)i)) { await ctx.Error($"Failed to create DSQ {i}"); return; }
            for (var i = 0; i < nrDsqs; i++)
                await ctx.DestroyDsq((ulong)i);
            foreach (var pid in pids)
                if (!await ctx.CreateDsq((ulong)pid)) { await ctx.Error($"Failed to create DSQ for {ctx.Comm(ctx.TaskFromPid(pid))}"); return; }
        }
    }

    [Fact]
    public void Should_CreateDestroyAndCreateAgain_WithoutError()
    {
        var m = new Machine(new ModelConfig
        {
            CpuCount = 1,
            Tasks = [Sleeping("a", 1001, 0, 0), Sleeping("b", 1002, 0, 0)],
            PolicyFactory = () => new Policy(8, [1001, 1002]),
            MaxUserDsqs = 8,
        });

        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Null(m.World.ExitMessage);
        Assert.True(m.FindUserDsq(1001) >= 0);
        Assert.True(m.FindUserDsq(1002) >= 0);
        for (var i = 0UL; i < 8; i++)
            if (i != 1001 && i != 1002) Assert.True(m.FindUserDsq(i) < 0, $"DSQ {i} still exists after destroy");
    }

    [Fact]
    public void Should_RefuseADuplicateId()
    {
        var dup = new Machine(new ModelConfig { CpuCount = 1, Tasks = [Sleeping("a", 1001, 0, 0)], PolicyFactory = () => new Policy(1, [1001, 1001]) });
        Assert.Equal(ExitKind.ErrorBpf, dup.World.Sched.ExitKind);
        Assert.Equal("Failed to create DSQ for a[1001]", dup.World.ExitMessage);
    }
}
