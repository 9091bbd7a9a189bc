using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// Selftest <c>dequeue</c> (scenarios 0–6) under an affinity hammer. Terminal direct dispatch
/// (LOCAL/GLOBAL from select_cpu or enqueue: 0, 1, 3, 4) never reaches ops.dequeue; custody
/// scenarios (user DSQ 0 from select_cpu or enqueue: 2, 5; a BPF queue: 6) see exactly one
/// ops.dequeue per ops.enqueue, with SCX_DEQ_SCHED_CHANGE on property-change dequeues.
/// ops.dequeue enforces the selftest's per-task state machine with scx_bpf_error().
/// </summary>
/// <remarks>
/// Remote moves leave SCX_TASK_IN_CUSTODY set (docs/ext-c-notes.md §1.2): the ops.dequeue
/// for such a task arrives later as SCX_DEQ_CORE_SCHED_EXEC from set_next_task_scx or as a
/// SCHED_CHANGE dequeue. The selftest counts any non-SCHED_CHANGE dequeue as a dispatch
/// dequeue, so the 1:1 count still holds; <see cref="Should_DeliverLeakedCustodyAsCoreSchedExec_When_ConsumedFromAnotherCpu"/>
/// pins that behaviour.
/// </remarks>
public class DequeueTests
{
    internal enum Cnt { Enqueue, Dequeue, DispatchDequeue, ChangeDequeue, QueueFull, CoreSchedExec, Count }

    private const int None = 0, Enqueued = 1, Dispatched = 2;
    private const ulong SharedDsq = 0;

    internal sealed class Policy(int scenario) : ScxOps
    {
        public MapHandle Counters, TaskCtx, Queue;
        public override string Name => "dequeue_test";
        public override OpsFlags Flags => OpsFlags.EnqLast;

        public override void DeclareMaps(MapBuilder maps)
        {
            Counters = maps.Array("bss", (int)Cnt.Count);
            TaskCtx = maps.TaskStorage("task_ctx_stor", 2); // state, enqueue_seq
            Queue = maps.Queue("global_queue", 64);
        }

        public override async BpfTask Init(InitContext ctx)
        {
            if (!await ctx.CreateDsq(SharedDsq)) await ctx.Error("create DSQ 0");
        }

        private async BpfTask EnterCustody(EnqueueContext ctx, TaskRef p)
        {
            if (await ctx.TaskGet(TaskCtx, p, 0) == Enqueued)
                await ctx.Error($"{ctx.Pid(p)} ({ctx.Comm(p)}): enqueue while in ENQUEUED state");
        }

        private async BpfTask MarkEnqueued(EnqueueContext ctx, TaskRef p)
        {
            await ctx.FetchAdd(Counters, (int)Cnt.Enqueue, 1);
            await ctx.TaskSet(TaskCtx, p, 0, Enqueued);
            await ctx.TaskSet(TaskCtx, p, 1, await ctx.TaskGet(TaskCtx, p, 1) + 1);
        }

        public override async BpfTask<int> SelectCpu(SelectCpuContext ctx, TaskRef p, int prevCpu, WakeFlags wakeFlags)
        {
            switch (scenario)
            {
                case 0:
                    await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl);
                    await ctx.TaskSet(TaskCtx, p, 0, Dispatched);
                    break;
                case 1:
                    await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl);
                    await ctx.TaskSet(TaskCtx, p, 0, Dispatched);
                    break;
                case 2:
                    await EnterCustody(ctx, p);
                    await ctx.DsqInsert(p, SharedDsq, ScxConst.SliceDfl);
                    await MarkEnqueued(ctx, p);
                    break;
            }
            return prevCpu;
        }

        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags)
        {
            switch (scenario)
            {
                case 3:
                    await ctx.DsqInsert(p, DsqId.Local, ScxConst.SliceDfl, enqFlags);
                    await ctx.TaskSet(TaskCtx, p, 0, Dispatched);
                    break;
                case 5:
                    await EnterCustody(ctx, p);
                    await ctx.DsqInsert(p, SharedDsq, ScxConst.SliceDfl, enqFlags);
                    await MarkEnqueued(ctx, p);
                    break;
                case 6:
                    await EnterCustody(ctx, p);
                    if (!await ctx.Push(Queue, ctx.Pid(p)))
                    {
                        await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);
                        await ctx.FetchAdd(Counters, (int)Cnt.QueueFull, 1);
                        await ctx.TaskSet(TaskCtx, p, 0, Dispatched);
                    }
                    else
                    {
                        await MarkEnqueued(ctx, p);
                    }
                    break;
                default: // 4, and every other scenario's ops.enqueue
                    await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);
                    await ctx.TaskSet(TaskCtx, p, 0, Dispatched);
                    break;
            }
            await ctx.KickCpu(await ctx.TaskCpu(p), KickFlags.Idle);
        }

        public override async BpfTask Dequeue(TaskContext ctx, TaskRef p, DeqFlags deqFlags)
        {
            await ctx.FetchAdd(Counters, (int)Cnt.Dequeue, 1);
            if (scenario is 0 or 3)
            {
                await ctx.Error($"{ctx.Pid(p)} ({ctx.Comm(p)}): dequeue called for local DSQ scenario");
                return;
            }
            if (scenario is 1 or 4)
            {
                await ctx.Error($"{ctx.Pid(p)} ({ctx.Comm(p)}): dequeue called for global DSQ scenario");
                return;
            }
            var state = await ctx.TaskGet(TaskCtx, p, 0);
            if ((deqFlags & DeqFlags.SchedChange) != 0)
            {
                await ctx.FetchAdd(Counters, (int)Cnt.ChangeDequeue, 1);
                if (state != Enqueued && state != Dispatched)
                    await ctx.Error($"{ctx.Pid(p)} ({ctx.Comm(p)}): invalid property change dequeue state={state}");
                await ctx.TaskSet(TaskCtx, p, 0, None);
            }
            else
            {
                await ctx.FetchAdd(Counters, (int)Cnt.DispatchDequeue, 1);
                if ((deqFlags & DeqFlags.CoreSchedExec) != 0) await ctx.FetchAdd(Counters, (int)Cnt.CoreSchedExec, 1);
                if (state != Enqueued && state != None)
                    await ctx.Error($"{ctx.Pid(p)} ({ctx.Comm(p)}): dispatch dequeue from state {state}");
                if (state == Enqueued) await ctx.TaskSet(TaskCtx, p, 0, Dispatched);
            }
        }

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            if (scenario != 6)
            {
                await ctx.DsqMoveToLocal(SharedDsq);
                return;
            }
            var popped = await ctx.Pop(Queue);
            if (!popped.Found) return;
            var p = ctx.TaskFromPid(popped.Value);
            if (p.IsNone || await ctx.TaskGet(TaskCtx, p, 0) == None) return;
            if (await ctx.TaskTestCpu(p, cpu)) await ctx.DsqInsert(p, DsqId.LocalOn(cpu), ScxConst.SliceDfl);
            else await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl);
        }
    }

    /// <summary>4 workers on 3 CPUs; one script wakes and blocks them, one hammers their affinity, one ticks.</summary>
    internal static Scxlab.Driving.ScheduleDriver Hammer(int scenario)
    {
        var tasks = new[]
        {
            Sleeping("w0", 1201, 0, 0, 1, 2), Sleeping("w1", 1202, 1, 0, 1, 2),
            Sleeping("w2", 1203, 2, 0, 1, 2), Sleeping("w3", 1204, 0, 0, 1, 2),
        };
        var workload = new List<ScriptAction>();
        for (var round = 0; round < 6; round++)
        {
            for (var t = 0; t < 4; t++) workload.Add(Wake(t));
            for (var t = 0; t < 4; t++) workload.Add(Sleep(t));
        }
        for (var t = 0; t < 4; t++) workload.Add(Wake(t));
        for (var t = 0; t < 4; t++) workload.Add(Sleep(t));
        int[][] masks = [[0], [1], [2], [0, 1], [1, 2], [0, 1, 2]];
        var hammer = new List<ScriptAction>();
        for (var i = 0; i < 48; i++) hammer.Add(Affinity(i % 4, masks[(i * 5 + i / 4) % masks.Length]));
        for (var t = 0; t < 4; t++) hammer.Add(Affinity(t, 0, 1, 2));
        var ticks = new List<ScriptAction>();
        for (var i = 0; i < 30; i++) ticks.Add(Tick(i % 3));
        return Driver(() => new Policy(scenario), 3, tasks, rounds: [150, 150, 150],
            scripts: [new ScriptSpec("workload", 0, workload), new ScriptSpec("hammer", 1, hammer), new ScriptSpec("ticker", 2, ticks)],
            tickNs: ScxConst.SliceDfl, narrate: false);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void Should_NeverCallOpsDequeue_When_TasksAreDispatchedToTerminalDsqs(int scenario)
    {
        var d = Hammer(scenario);
        var m = d.Machine;
        var c = ((Policy)m.Ops).Counters;

        RoundRobin(d);

        Assert.True(m.World.Sched.ExitKind == ExitKind.None, m.World.ExitMessage);
        AssertNoFindings(d);
        for (var i = 0; i < (int)Cnt.Count; i++) Assert.Equal(0, Get(m, c, i));
        Assert.All(m.World.Tasks, t => Assert.Equal(RunState.Sleeping, t.Run));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(6)]
    public void Should_PairEveryEnqueueWithOneDequeue_When_TasksEnterBpfCustody(int scenario)
    {
        var d = Hammer(scenario);
        var m = d.Machine;
        var c = ((Policy)m.Ops).Counters;

        RoundRobin(d);

        Assert.True(m.World.Sched.ExitKind == ExitKind.None, m.World.ExitMessage);
        AssertNoFindings(d);
        // Every worker blocked at the end: nothing is left in custody.
        Assert.All(m.World.Tasks, t => Assert.Equal(RunState.Sleeping, t.Run));
        Assert.All(m.World.Tasks, t => Assert.Equal(TaskFlags.None, t.Flags & TaskFlags.InCustody));
        var enq = Get(m, c, (int)Cnt.Enqueue);
        var deq = Get(m, c, (int)Cnt.Dequeue);
        Assert.True(enq > 0, "no ops.enqueue into custody");
        Assert.True(deq > 0, "no ops.dequeue");
        Assert.Equal(enq, deq);
        Assert.Equal(deq, Get(m, c, (int)Cnt.DispatchDequeue) + Get(m, c, (int)Cnt.ChangeDequeue));
        Assert.True(Get(m, c, (int)Cnt.ChangeDequeue) > 0, $"the hammer never caught a task in custody (ops.enqueue into custody {enq}, ops.dequeue {deq}, from dispatch {Get(m, c, (int)Cnt.DispatchDequeue)})");
    }

    [Fact]
    public void Should_DeliverSchedChange_When_AffinityChangesWhileOnTheUserDsq()
    {
        // p sits on DSQ 0 in custody; an affinity change dequeues it (SCHED_CHANGE) and re-enqueues it.
        var d = Driver(() => new Policy(5), 2, [Queued("p", 1301, 1, 0, 1)], rounds: [0, 0],
            scripts: [new ScriptSpec("taskset", 0, [Affinity(0, 1)])]);
        var m = d.Machine;
        var c = ((Policy)m.Ops).Counters;
        Assert.Equal(["p"], UserDsqTasks(m, SharedDsq));
        Assert.NotEqual(TaskFlags.None, Task(m, "p").Flags & TaskFlags.InCustody);

        RunActor(d, "taskset");

        Assert.Equal(["ops.dequeue(p[1301])", "ops.enqueue(p[1301])"], Callbacks(d));
        Assert.Equal(1, Get(m, c, (int)Cnt.ChangeDequeue));
        Assert.Equal(2, Get(m, c, (int)Cnt.Enqueue));
        Assert.Equal(["p"], UserDsqTasks(m, SharedDsq));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }

    [Fact]
    public void Should_DeliverLeakedCustodyAsCoreSchedExec_When_ConsumedFromAnotherCpu()
    {
        // p (task_cpu 1) on DSQ 0; CPU0 consumes it: move_remote_task_to_local_dsq runs with sticky_cpu set,
        // so no ops.dequeue(p, 0) at the local insert; custody ends when CPU0 picks p (CORE_SCHED_EXEC).
        var d = Driver(() => new Policy(5), 2, [Queued("p", 1301, 1, 0, 1)], rounds: [1, 0]);
        var m = d.Machine;
        var c = ((Policy)m.Ops).Counters;

        d.StepUntil("CPU0", mm => mm.World.Tasks[0].Dsq == mm.LocalSlot(0));
        Assert.Equal(0, Get(m, c, (int)Cnt.Dequeue));
        Assert.NotEqual(TaskFlags.None, Task(m, "p").Flags & TaskFlags.InCustody);

        RunActor(d, "CPU0");
        Assert.Equal(0, m.World.Cpus[0].Curr);
        Assert.Equal(1, Get(m, c, (int)Cnt.Dequeue));
        Assert.Equal(1, Get(m, c, (int)Cnt.CoreSchedExec));
        Assert.Equal(TaskFlags.None, Task(m, "p").Flags & TaskFlags.InCustody);
    }
}
