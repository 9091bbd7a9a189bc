using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// <c>userspace</c>: decisions made off-CPU and applied later, in the style of
/// scx_rustland_core. Each task carries a cpumask generation (task storage) that
/// <c>ops.set_cpumask</c> bumps, as rustland's <c>cpumask_cnt</c> does since scx PR #133.
/// ops.enqueue queues <c>(pid, generation)</c> "to userspace". The userspace scheduler, modelled
/// as the first phase of every ops.dispatch, drains that queue and publishes decisions
/// <c>(pid, cpu, generation it saw)</c>; it picks CPUs round-robin from its own state and never
/// reads the kernel's cpumask. The second phase applies decisions: it re-tests
/// <c>p->cpus_ptr</c> for the chosen CPU (falling back to the task's CPU, then to any allowed
/// CPU), inserts <c>SCX_DSQ_LOCAL_ON|cpu</c>, and cancels the insert with
/// <c>scx_bpf_dispatch_cancel()</c> if the generation moved since userspace saw it. Queue
/// overflows go to a shared user DSQ.
/// </summary>
/// <remarks>
/// <para>The generation check comes after the insert on purpose (rustland PR #132; Tejun's five-step
/// race in PR #99/#110), and the bump happens in ops.set_cpumask, which
/// set_cpus_allowed_scx() calls between the SCHED_CHANGE dequeue and the enqueue that publishes
/// the new instance's qseq. So an insert that carries the new qseq was made after the bump, and
/// the read that follows it sees the new generation and cancels; an insert made before the new
/// qseq is published carries the old one (or NONE's), and finish_dispatch() drops it. The
/// cancelled task is not lost: its re-enqueue queued an entry with the new generation.</para>
/// <para>A re-enqueue without a mask change (a weight change) keeps the generation: a decision
/// taken for the old instance may then commit the new one, which is correct because the mask it
/// was tested against is still the task's.</para>
/// </remarks>
public sealed class Userspace : UserspaceCore
{
    public override string Name => "userspace";

    /// <summary>rustland_set_cpumask(): <c>tctx->cpumask_cnt++</c>, under p's rq lock.</summary>
    public override async BpfTask SetCpumask(TaskContext ctx, TaskRef p)
    {
        var gen = await ctx.TaskGet(TaskCtx, p, FieldGen);
        await ctx.TaskSet(TaskCtx, p, FieldGen, gen + 1);
    }
}

/// <summary>
/// <c>userspace-enqueue-gen</c>: a KNOWN-WRONG variant of <see cref="Userspace"/>, kept to show
/// why the bump belongs in ops.set_cpumask. It bumps the generation inside ops.enqueue instead.
/// enqueue_task_scx() has already published the new instance's qseq (QUEUEING|q1) when
/// ops.enqueue runs, so a dispatch on another CPU that tested the old mask can insert
/// <c>SCX_DSQ_LOCAL_ON|cpu</c> with q1 and read the generation in the window before ops.enqueue
/// bumps it: the check passes, finish_dispatch() accepts q1, and dispatch_to_local_dsq() ends the
/// scheduler with "SCX_DSQ_LOCAL[_ON] target CPU n not allowed" (seed-race-r2 under upstream).
/// </summary>
public sealed class UserspaceEnqueueGen : UserspaceCore
{
    public override string Name => "userspace-enqueue-gen";

    protected override bool BumpInEnqueue => true;
}

/// <summary>The shared body of <see cref="Userspace"/> and <see cref="UserspaceEnqueueGen"/>; they differ only in where the generation is bumped.</summary>
public abstract class UserspaceCore : ScxOps
{
    public const ulong SharedDsq = 0;
    public const int QueueCapacity = 64;
    /// <summary>How many tasks the userspace phase takes per dispatch.</summary>
    public const int UserBatch = 8;

    protected const int FieldGen = 0;

    private MapHandle _toUser;
    private MapHandle _decisions;
    private MapHandle _taskCtx;
    private MapHandle _userState; // [0] = the userspace scheduler's round-robin cursor

    /// <summary>task_ctx: [FieldGen] = the task's generation.</summary>
    protected MapHandle TaskCtx => _taskCtx;

    /// <summary>Whether ops.enqueue bumps the generation (the known-wrong placement) rather than reading it.</summary>
    protected virtual bool BumpInEnqueue => false;

    public override void DeclareMaps(MapBuilder maps)
    {
        _toUser = maps.Queue("to_user", QueueCapacity);
        _decisions = maps.Queue("decisions", QueueCapacity);
        _taskCtx = maps.TaskStorage("task_ctx", 1);
        _userState = maps.Array("user_state", 1);
    }

    // Entries: to_user = gen << 32 | pid; decisions = gen << 40 | cpu << 32 | pid (cpu < 256).
    public static long QueuedEntry(long pid, long gen) => (gen << 32) | (uint)pid;
    public static long DecisionEntry(long pid, int cpu, long gen) => (gen << 40) | ((long)(cpu & 0xff) << 32) | (uint)pid;
    public static long EntryPid(long e) => (uint)e;
    private static long QueuedGen(long e) => e >> 32;
    public static int DecisionCpu(long e) => (int)((e >> 32) & 0xff);
    public static long DecisionGen(long e) => e >> 40;

    /// <summary>Held iff an entry with the task's current generation waits for userspace or in the decisions.</summary>
    public override bool? HoldsTask(MapView maps, TaskRef p, long pid)
    {
        var gen = maps.TaskGet(_taskCtx, p.Index, FieldGen);
        if (maps.Contains(_toUser, QueuedEntry(pid, gen))) return true;
        var n = maps.Count(_decisions);
        for (var i = 0; i < n; i++)
        {
            var e = maps.At(_decisions, i);
            if (EntryPid(e) == (uint)pid && DecisionGen(e) == gen) return true;
        }
        return false;
    }

    public override async BpfTask Init(InitContext ctx)
    {
        if (!await ctx.CreateDsq(SharedDsq)) await ctx.Error($"failed to create DSQ {SharedDsq}");
    }

    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
    {
        // The rq lock of p is held, as it is in ops.set_cpumask: the writers do not race.
        var gen = await ctx.TaskGet(_taskCtx, p, FieldGen);
        if (BumpInEnqueue)
        {
            // Too late: enqueue_task_scx() published this instance's qseq before calling us.
            gen++;
            await ctx.TaskSet(_taskCtx, p, FieldGen, gen);
        }
        if (!await ctx.Push(_toUser, QueuedEntry(ctx.Pid(p), gen)))
            await ctx.DsqInsert(p, SharedDsq, ScxConst.SliceDfl, enqFlags);
    }

    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        await UserspaceStep(ctx);

        // Apply decisions while there is room in the dispatch buffer.
        for (var n = 0; n < QueueCapacity; n++)
        {
            if (await ctx.DispatchNrSlots() == 0) break;
            var d = await ctx.Pop(_decisions);
            if (!d.Found) break;
            var p = ctx.TaskFromPid(EntryPid(d.Value));
            if (p.IsNone) continue;

            var target = DecisionCpu(d.Value);
            if (!await ctx.TaskTestCpu(p, target))
            {
                // Userspace's choice is stale: the task's CPU if allowed, else any allowed CPU.
                target = await ctx.TaskCpu(p);
                if (!await ctx.TaskTestCpu(p, target)) target = await ctx.PickAnyCpu(p);
            }
            if (target < 0)
            {
                await ctx.DsqInsert(p, SharedDsq, ScxConst.SliceDfl);
                continue;
            }
            await ctx.DsqInsert(p, DsqId.LocalOn(target), ScxConst.SliceDfl);
            if (await ctx.TaskGet(_taskCtx, p, FieldGen) != DecisionGen(d.Value))
            {
                // The generation moved since userspace decided: the re-enqueue queued a newer entry.
                await ctx.DispatchCancel();
                continue;
            }
            if (target != cpu) await ctx.KickCpu(target, KickFlags.Idle);
        }

        if (await ctx.DsqNrQueued(SharedDsq) > 0) await ctx.DsqMoveToLocal(SharedDsq);
    }

    /// <summary>The userspace scheduler: turn queued tasks into decisions, from its own state only.</summary>
    private async BpfTask UserspaceStep(DispatchContext ctx)
    {
        for (var n = 0; n < UserBatch; n++)
        {
            var e = await ctx.Pop(_toUser);
            if (!e.Found) return;
            var rr = await ctx.FetchAdd(_userState, 0, 1);
            var cpu = (int)(rr % ctx.NrCpuIds);
            if (await ctx.Push(_decisions, DecisionEntry(EntryPid(e.Value), cpu, QueuedGen(e.Value)))) continue;
            // Decisions full: hand the task back to the queue and stop for now.
            if (!await ctx.Push(_toUser, e.Value)) await ctx.Error("userspace: to_user and decisions queues both full");
            return;
        }
    }
}
