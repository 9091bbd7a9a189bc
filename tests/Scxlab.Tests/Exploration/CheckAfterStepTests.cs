using Scxlab.Checks;
using Scxlab.Kernel;
using Scxlab.Scenarios;
using Scxlab.Stepping;

namespace Scxlab.Tests.Exploration;

/// <summary>
/// StateChecker.CheckStateAfterStep skips an invariant that reads only tasks, rqs and DSQs when the step wrote none of
/// them. Two things make that sound: the step's footprint names what it wrote (checked by the fingerprint tests), and an
/// invariant's <see cref="Invariant.Reads"/> names everything its Check reads (checked here).
/// </summary>
public class CheckAfterStepTests
{
    [Fact]
    public void Should_SkipTheInvariantOnlyWhenTheStepWroteNothingItReads()
    {
        var m = new Machine(ScenarioLoader.Resolve("seed-race-r2").ToConfig());
        var checker = new StateChecker(m, []);
        Assert.Null(checker.CheckState());
        // A global DSQ whose nr disagrees with its (empty) list: DsqOrdering fails.
        m.World.Dsqs[Machine.GlobalSlot].Nr = 3;
        Assert.Equal("DsqOrdering", checker.CheckState()?.Name);
        Assert.Equal("DsqOrdering", checker.CheckStateAfterStep(m.Bits.Of(Resource.Dsq, Machine.GlobalSlot))?.Name);
        Assert.Equal("DsqOrdering", checker.CheckStateAfterStep(ulong.MaxValue)?.Name);
        var verify = World.VerifyIncremental;
        try
        {
            World.VerifyIncremental = false;
            // A step that wrote nothing DsqOrdering reads cannot have broken it: not evaluated.
            Assert.Null(checker.CheckStateAfterStep(0));
            // The verify mode (SCXLAB_VERIFY_FINGERPRINT=1) evaluates it anyway and says the skip was wrong.
            World.VerifyIncremental = true;
            var e = Assert.Throws<InvalidOperationException>(() => checker.CheckStateAfterStep(0));
            Assert.Contains("DsqOrdering was skipped", e.Message);
        }
        finally
        {
            World.VerifyIncremental = verify;
        }
    }

    /// <summary>
    /// NoDoubleDispatch names a task current on two CPUs by its two lowest; the lowest-numbered such task when several
    /// are (it finds them in one pass over the CPUs, not one per task).
    /// </summary>
    [Fact]
    public void Should_NameTheTwoLowestCpus_When_ATaskIsCurrentOnSeveral()
    {
        var m = new Machine(ScenarioLoader.Resolve("churn-8cpu").ToConfig());
        var inv = new NoDoubleDispatch();
        Assert.Null(inv.Check(m));
        var w = m.World;
        for (var c = 0; c < w.Cpus.Length; c++) w.Cpus[c].Curr = -1;
        w.Cpus[6].Curr = 3;
        Assert.Null(inv.Check(m));
        w.Cpus[2].Curr = 3;
        w.Cpus[7].Curr = 3;
        Assert.Equal($"{m.TaskName(3)} is current on CPU2 and CPU6", inv.Check(m));
        w.Cpus[5].Curr = 1;
        w.Cpus[4].Curr = 1;
        Assert.Equal($"{m.TaskName(1)} is current on CPU4 and CPU5", inv.Check(m));
    }

    /// <summary>
    /// Every invariant that declares less than everything gives the same answer when all it says it does not read —
    /// actors, frames, kfunc logs, maps, dispatch buffers, the scheduler state, and whichever of the tasks, CPUs and
    /// DSQ slots it does not name — is overwritten with noise, on the states
    /// of random walks (and on each with a list made inconsistent, so that the answers compared are not all "holds").
    /// </summary>
    [Theory]
    [MemberData(nameof(FingerprintTests.BuiltIns), MemberType = typeof(FingerprintTests))]
    public void Should_ReadNothingButWhatItDeclares_When_TheRestOfTheWorldIsNoise(string scenario)
    {
        var config = ScenarioLoader.Resolve(scenario).ToConfig();
        var m = new Machine(config);
        var partial = InvariantCatalog.Safety.Where(i => i.Reads != StateParts.Everything).ToList();
        Assert.NotEmpty(partial);
        var initial = m.World.Clone();
        var noisy = m.World.Clone();
        var rng = new Random(11);
        var compared = 0;
        for (var walk = 0; walk < 3; walk++)
        {
            m.World.CopyFrom(initial);
            for (var step = 0; step < 200; step++)
            {
                var enabled = Enumerable.Range(0, m.ActorCount).Where(m.IsEnabled).ToList();
                if (enabled.Count == 0 || m.World.Sched.ExitKind != ExitKind.None) break;
                m.Step(enabled[rng.Next(enabled.Count)]);
                var walking = m.World;
                var clean = walking;
                foreach (var broken in new[] { false, true })
                {
                    if (broken)
                    {
                        // An inconsistent count on a slot that holds a task, or on the global DSQ.
                        var slot = Enumerable.Range(0, clean.Dsqs.Length).FirstOrDefault(s => clean.Dsqs[s].Head >= 0, Machine.GlobalSlot);
                        clean = clean.Clone();
                        clean.Dsqs[slot].Nr += 1;
                    }
                    foreach (var inv in partial)
                    {
                        noisy.CopyFrom(clean);
                        Noise(noisy, inv.Reads, rng);
                        m.World = clean;
                        var want = inv.Check(m);
                        m.World = noisy;
                        var got = inv.Check(m);
                        Assert.True(want == got, $"{scenario}: {inv.Name} read something outside {inv.Reads}: '{want}' on the world, '{got}' with the rest of it noise");
                        compared++;
                    }
                }
                m.World = walking;
            }
        }
        Assert.True(compared > 0);
    }

    /// <summary>Everything but <paramref name="keep"/> overwritten with random values.</summary>
    private static void Noise(World w, StateParts keep, Random rng)
    {
        if ((keep & StateParts.Tasks) == 0) rng.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.Tasks.AsSpan()));
        if ((keep & StateParts.Rqs) == 0) rng.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.Cpus.AsSpan()));
        if ((keep & StateParts.Dsqs) == 0) rng.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.Dsqs.AsSpan()));
        for (var a = 0; a < w.Actors.Length; a++)
        {
            w.Actors[a].Depth = rng.Next(w.MaxDepth + 1);
            w.Actors[a].LogLen = rng.Next(w.LogCapacity + 1);
            w.Actors[a].ScriptPc = rng.Next(1000);
            w.Actors[a].Done = rng.Next(2) == 0;
        }
        rng.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.Frames.AsSpan()));
        for (var i = 0; i < w.Maps.Length; i++) w.Maps[i] = rng.NextInt64();
        rng.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.DspBuf.AsSpan()));
        for (var i = 0; i < w.KickSyncs.Length; i++) w.KickSyncs[i] = rng.NextInt64();
        w.Sched.Rng = (ulong)rng.NextInt64();
        w.Sched.BypassDepth = rng.Next(3);
        w.InvalidateFingerprint();
    }
}
