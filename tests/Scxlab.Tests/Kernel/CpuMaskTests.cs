using CsCheck;
using Scxlab.Kernel;

namespace Scxlab.Tests.Kernel;

public class CpuMaskTests
{
    /// <summary>Next() goes a word at a time (the kick irq_work's scan of every CPU was a hot spot); a CPU at a time is the reference. Below() against filtering the CPUs one by one.</summary>
    [Fact]
    public void Should_FindTheLowestSetCpuAtOrAfterFrom_When_NextScansAWordAtATime()
    {
        Gen.Select(Gen.Int[0, 255].Array[0, 12], Gen.Int[-3, 260]).Sample((cpus, from) =>
        {
            var m = CpuMask.Of(cpus);
            var expected = -1;
            for (var c = Math.Max(from, 0); c < ScxConst.MaxCpus; c++)
                if (m.Test(c)) { expected = c; break; }
            Assert.Equal(expected, m.Next(from));
            // Below(n): the CPUs under n, whatever n is against the word edges.
            var n = Math.Clamp(from, 0, ScxConst.MaxCpus);
            Assert.Equal(CpuMask.Of([.. cpus.Where(c => c < n)]), m.Below(n));
        }, iter: 5000);
        Assert.Equal(255, CpuMask.Of(255).Next(255));
        Assert.Equal(-1, CpuMask.Of(255).Next(256));
        Assert.Equal(64, CpuMask.Of(3, 64).Next(4));
        Assert.Equal(-1, default(CpuMask).Next(0));
    }
}
