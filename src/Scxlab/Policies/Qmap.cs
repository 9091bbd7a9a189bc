using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// <c>qmap</c>: the core of scx_qmap (tools/sched_ext/scx_qmap.bpf.c, the BPF-queue-map era).
/// Five FIFOs of pids, chosen by weight (≤25, ≤50, &lt;200, &lt;400, else). ops.dispatch first
/// consumes the shared user DSQ; otherwise it round-robins the FIFOs with a per-CPU cursor that
/// takes <c>1 &lt;&lt; idx</c> tasks from FIFO <c>idx</c> per visit (higher weights get more),
/// pops up to <see cref="DispatchBatch"/> pids into the shared DSQ and then moves one to the
/// local DSQ. ops.select_cpu claims an idle CPU and marks the task <c>force_local</c>, which
/// ops.enqueue honours with a direct dispatch to <c>SCX_DSQ_LOCAL</c>.
/// </summary>
/// <remarks>
/// <para>Dequeue bookkeeping. A BPF queue cannot remove an element, so a task that is dequeued
/// (sleep, affinity or weight change) leaves its pid behind. Each entry therefore carries the
/// task's enqueue generation (task storage, bumped by ops.enqueue and by ops.dequeue, both of
/// which run under the task's rq lock): dispatch skips an entry whose generation is no longer
/// the task's, so a dequeued instance is never dispatched a second time. Dispatch only reads
/// the generation; a write from dispatch (which holds another rq lock) could overwrite a newer
/// enqueue's bump and leave the task in BPF custody with no valid entry. The window between
/// dispatch's read and its insert is covered by the kernel: the insert samples the qseq, and a
/// stale or duplicate dispatch is dropped by finish_dispatch().</para>
/// <para>Left out: core-sched ordering, the high-priority DSQ and its timer, cpuperf targets,
/// the fault injectors and the direct LOCAL_ON dispatch from enqueue when select_cpu was
/// skipped. A FIFO overflow punts to the shared DSQ, as scx_qmap does.</para>
/// </remarks>
public sealed class Qmap : ScxOps
{
    public const ulong SharedDsq = 0;
    public const int Queues = 5;
    public const int QueueCapacity = 64;
    /// <summary>scx_qmap's <c>dsp_batch</c> (its <c>-b</c>; the C default is 1).</summary>
    public const int DispatchBatch = 4;

    private const int FieldGen = 0;
    private const int FieldForceLocal = 1;
    private const int CursorIdx = 0;
    private const int CursorCnt = 1;

    private MapHandle _q0, _q1, _q2, _q3, _q4;
    private MapHandle _taskCtx;
    private MapHandle _cpuCtx;

    public override string Name => "qmap";

    public override void DeclareMaps(MapBuilder maps)
    {
        _q0 = maps.Queue("queue0", QueueCapacity);
        _q1 = maps.Queue("queue1", QueueCapacity);
        _q2 = maps.Queue("queue2", QueueCapacity);
        _q3 = maps.Queue("queue3", QueueCapacity);
        _q4 = maps.Queue("queue4", QueueCapacity);
        _taskCtx = maps.TaskStorage("task_ctx", 2);
        _cpuCtx = maps.Array("cpu_ctx", 2 * maps.CpuCount); // per CPU: dsp_idx, dsp_cnt
    }

    private MapHandle Fifo(long idx) => idx switch
    {
        0 => _q0,
        1 => _q1,
        2 => _q2,
        3 => _q3,
        4 => _q4,
        _ => throw new ArgumentOutOfRangeException(nameof(idx), idx, "qmap has five FIFOs"),
    };

    /// <summary>A FIFO entry: the pid and the enqueue generation it was pushed with.</summary>
    public static long Entry(long pid, long gen) => (gen << 32) | (uint)pid;
    public static long EntryPid(long e) => (uint)e;
    public static long EntryGen(long e) => e >> 32;

    public static int WeightToIdx(int weight) => weight switch
    {
        <= 25 => 0,
        <= 50 => 1,
        < 200 => 2,
        < 400 => 3,
        _ => 4,
    };

    /// <summary>Held iff some FIFO has an entry with the task's current generation.</summary>
    public override bool? HoldsTask(MapView maps, TaskRef p, long pid)
    {
        var e = Entry(pid, maps.TaskGet(_taskCtx, p.Index, FieldGen));
        for (var i = 0; i < Queues; i++)
            if (maps.Contains(Fifo(i), e)) return true;
        return false;
    }

    public override async BpfTask Init(InitContext ctx)
    {
        if (!await ctx.CreateDsq(SharedDsq)) await ctx.Error($"failed to create DSQ {SharedDsq}");
    }

    public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
    {
        // pick_direct_dispatch_cpu(): prev if it was idle (claiming it), else any idle allowed CPU.
        var cpu = prevCpu;
        if (!await ctx.TestAndClearCpuIdle(prevCpu))
        {
            cpu = await ctx.PickIdleCpu(p);
            if (cpu < 0) return prevCpu;
        }
        await ctx.TaskSet(_taskCtx, p, FieldForceLocal, 1);
        return cpu;
    }

    public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
    {
        if (await ctx.TaskGet(_taskCtx, p, FieldForceLocal) != 0)
        {
            await ctx.TaskSet(_taskCtx, p, FieldForceLocal, 0);
            await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl, enqFlags);
            return;
        }
        var idx = WeightToIdx(await ctx.TaskWeight(p));
        var gen = await ctx.TaskGet(_taskCtx, p, FieldGen) + 1;
        await ctx.TaskSet(_taskCtx, p, FieldGen, gen);
        // Queue in the selected FIFO; if it overflows, punt to the shared DSQ.
        if (!await ctx.Push(Fifo(idx), Entry(ctx.Pid(p), gen)))
            await ctx.DsqInsert(p, SharedDsq, ScxConst.SliceDfl, enqFlags);
    }

    public override async BpfTask Dequeue(TaskContext ctx, TaskRef p, DeqFlags deqFlags)
    {
        // Invalidate whatever entry this instance left in a FIFO.
        var gen = await ctx.TaskGet(_taskCtx, p, FieldGen);
        await ctx.TaskSet(_taskCtx, p, FieldGen, gen + 1);
    }

    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        if (await ctx.DsqMoveToLocal(SharedDsq)) return;

        var batch = DispatchBatch;
        var at = 2 * cpu;
        for (var i = 0; i < Queues; i++)
        {
            // Advance the cursor: FIFO idx gets 1 << idx pops per visit.
            var idx = await ctx.Get(_cpuCtx, at + CursorIdx);
            var cnt = await ctx.Get(_cpuCtx, at + CursorCnt);
            if (cnt == 0)
            {
                idx = (idx + 1) % Queues;
                cnt = 1L << (int)idx;
                await ctx.Set(_cpuCtx, at + CursorIdx, idx);
                await ctx.Set(_cpuCtx, at + CursorCnt, cnt);
            }
            var fifo = Fifo(idx);
            for (var n = 0; n < QueueCapacity; n++)
            {
                var popped = await ctx.Pop(fifo);
                if (!popped.Found) break;
                var p = ctx.TaskFromPid(EntryPid(popped.Value));
                if (p.IsNone) continue;
                if (await ctx.TaskGet(_taskCtx, p, FieldGen) != EntryGen(popped.Value)) continue; // dequeued since

                await ctx.DsqInsert(p, SharedDsq, ScxConst.SliceDfl);
                batch--;
                cnt--;
                await ctx.Set(_cpuCtx, at + CursorCnt, cnt);
                if (batch == 0 || await ctx.DispatchNrSlots() == 0)
                {
                    await ctx.DsqMoveToLocal(SharedDsq);
                    return;
                }
                if (cnt == 0) break;
            }
            await ctx.Set(_cpuCtx, at + CursorCnt, 0);
        }
        // Fewer than a batch were found: the kernel re-runs ops.dispatch when it dispatched
        // something (nr_tasks), and the re-run starts by consuming the shared DSQ.
    }
}
