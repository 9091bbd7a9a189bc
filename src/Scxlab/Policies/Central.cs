using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// <c>central</c>: the scx_central pattern (tools/sched_ext/scx_central.bpf.c). One CPU
/// (<see cref="CentralCpu"/>) makes every decision. ops.select_cpu steers wakeups to it;
/// ops.enqueue pushes the pid to one BPF queue and kicks the central CPU with SCX_KICK_PREEMPT.
/// The central CPU's ops.dispatch serves every CPU that asked ("gimme"): it pops pids, tests
/// <c>p->cpus_ptr</c> for that CPU, inserts <c>SCX_DSQ_LOCAL_ON|cpu</c> (a mismatch goes to the
/// fallback user DSQ) and kicks the target if idle; then it consumes the fallback DSQ or serves
/// itself. Any other CPU consumes the fallback DSQ, or raises its gimme flag and kicks central.
/// </summary>
/// <remarks>
/// The canonical exposed pattern (reference ghost-and-scx §2.1/§2.2): the mask test runs under
/// the central CPU's rq lock only, so an affinity change that completes between the test and
/// the insert is stamped with the new qseq and accepted by finish_dispatch(); the remote-rq
/// check then ends the scheduler with "SCX_DSQ_LOCAL[_ON] target CPU N not allowed". A change
/// after the insert is dropped silently (qseq mismatch). Left out: the slice timer that
/// preempts the other CPUs (its kick of idle CPUs for a non-empty fallback DSQ is done at the
/// bounce instead), statistics counters, and per-CPU kthread special cases.
/// </remarks>
public sealed class Central : ScxOps
{
    /// <summary><c>const volatile s32 central_cpu</c> (userspace sets it; 0 by default).</summary>
    public const int CentralCpu = 0;
    public const ulong FallbackDsq = 0;
    public const int QueueCapacity = 64;

    private MapHandle _centralQ;
    private MapHandle _gimme;

    public override string Name => "central";

    /// <summary>Being the last task on a CPU means nothing here: enqueue it like any other.</summary>
    public override OpsFlags Flags => OpsFlags.EnqLast;

    public override void DeclareMaps(MapBuilder maps)
    {
        _centralQ = maps.Queue("central_q", QueueCapacity);
        _gimme = maps.Array("cpu_gimme_task", maps.CpuCount);
    }

    public override bool? HoldsTask(MapView maps, TaskRef p, long pid) => maps.Contains(_centralQ, pid);

    public override async BpfTask Init(InitContext ctx)
    {
        if (!await ctx.CreateDsq(FallbackDsq)) await ctx.Error($"failed to create DSQ {FallbackDsq}");
    }

    /// <summary>A hint only: if the task cannot run on the central CPU the kernel picks a fallback CPU.</summary>
    public override BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags) => CentralCpu;

    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
    {
        if (!await ctx.Push(_centralQ, ctx.Pid(p)))
        {
            // Overflow: straight to the fallback DSQ.
            await ctx.DsqInsert(p, FallbackDsq, ScxConst.SliceDfl, enqFlags);
            return;
        }
        if (!await ctx.TaskRunning(p)) await ctx.KickCpu(CentralCpu, KickFlags.Preempt);
    }

    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        if (cpu == CentralCpu)
        {
            // Serve every CPU that asked first.
            for (var c = 0; c < ctx.NrCpuIds; c++)
            {
                if (await ctx.DispatchNrSlots() == 0) break;
                if (await ctx.Get(_gimme, c) == 0) continue; // central's own flag is never set
                if (await DispatchToCpu(ctx, c)) await ctx.Set(_gimme, c, 0);
            }
            // Out of buffer slots: some CPUs (and central itself) may not have been served; retry.
            if (await ctx.DispatchNrSlots() == 0)
            {
                await ctx.KickCpu(CentralCpu, KickFlags.Preempt);
                return;
            }
            if (await ctx.DsqMoveToLocal(FallbackDsq)) return;
            await DispatchToCpu(ctx, CentralCpu);
            return;
        }

        if (await ctx.DsqMoveToLocal(FallbackDsq)) return;
        await ctx.Set(_gimme, cpu, 1);
        // Force a dispatch on the central CPU so that it finds a task for us.
        await ctx.KickCpu(CentralCpu, KickFlags.Preempt);
    }

    /// <summary>Pop until a task that may run on <paramref name="cpu"/> is found; mismatches go to the fallback DSQ.</summary>
    private async BpfTask<bool> DispatchToCpu(DispatchContext ctx, int cpu)
    {
        for (var n = 0; n < QueueCapacity; n++)
        {
            var popped = await ctx.Pop(_centralQ);
            if (!popped.Found) break;
            var p = ctx.TaskFromPid(popped.Value);
            if (p.IsNone) continue; // lost pid

            if (!await ctx.TaskTestCpu(p, cpu))
            {
                // Do the dumb thing: bounce it to the fallback DSQ. Stop before the buffer
                // fills without a task for the target CPU.
                await ctx.DsqInsert(p, FallbackDsq, ScxConst.SliceDfl);
                // scx_central's central_timerfn kicks (SCX_KICK_PREEMPT) every non-central CPU whose slice
                // ran out while the fallback DSQ is non-empty, so an idle CPU that may run p is woken at the
                // timer's next expiry. The port has no timer; it kicks those CPUs now instead (IDLE: a busy
                // CPU is left to its slice, as the timer leaves it until the slice ends). Without this, the
                // quiescent drain rightly reports a watchdog stall the real scheduler does not have.
                for (var other = 0; other < ctx.NrCpuIds; other++)
                    if (other != CentralCpu) await ctx.KickCpu(other, KickFlags.Idle);
                if (await ctx.DispatchNrSlots() == 0) break;
                continue;
            }

            await ctx.DsqInsert(p, DsqId.LocalOn(cpu), ScxConst.SliceDfl);
            if (cpu != CentralCpu) await ctx.KickCpu(cpu, KickFlags.Idle);
            return true;
        }
        return false;
    }
}
