using Scxlab.Bpf;
using Scxlab.Kernel;
using Scxlab.Stepping;
using static Scxlab.Tests.Conformance.Harness;

namespace Scxlab.Tests.Conformance;

/// <summary>
/// The dispatch kfuncs against kernel/sched/ext.c (issue 10, item 8): scx_bpf_dsq_move_to_local(),
/// the DSQ iterator (bpf_iter_scx_dsq_new/next, nldsq_cursor_next_task) and scx_bpf_dsq_move()
/// (scx_dsq_move, nldsq_cursor_lost_task, move_task_between_dsqs). See docs/ext-c-notes.md.
/// </summary>
public class KfuncConformanceTests
{
    private const ulong Dsq0 = 0;

    /// <summary>ops.enqueue inserts into user DSQ 0; ops.dispatch is the subclass's; bss slot 0.. for results.</summary>
    private abstract class UserDsqPolicy : ScxOps
    {
        public MapHandle Bss;
        public override void DeclareMaps(MapBuilder maps) => Bss = maps.Array("bss", 8);
        public override async BpfTask Init(InitContext ctx) => await ctx.CreateDsq(Dsq0);
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await ctx.DsqInsert(p, Dsq0, ScxConst.SliceDfl, enqFlags);
    }

    // ---------------------------------------------------------------- scx_bpf_dsq_move does not count

    /// <summary>Moves the first task of DSQ 0 to CPU1's local DSQ: nothing lands on this CPU.</summary>
    private sealed class MoveToCpu1 : UserDsqPolicy
    {
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var it = await ctx.DsqIterNext(DispatchContext.DsqIterBegin(Dsq0));
            if (it.Done) return;
            await ctx.DsqMove(it, it.Task, DsqId.LocalOn(1));
        }
    }

    [Fact]
    public void Should_CallOpsDispatchOnce_When_DsqMoveSendsTheTaskToAnotherCpu()
    {
        // Only scx_bpf_dsq_move_to_local() bumps dspc->nr_tasks; scx_dsq_move() does not, so the
        // dispatch loop of balance_one() ends after one ops.dispatch() with an empty local DSQ.
        var d = Driver(() => new MoveToCpu1(), 2, [Queued("a", 101, 0, 0, 1)], rounds: [1, 0]);
        var m = d.Machine;
        RunActor(d, "CPU0");
        Assert.Equal(1, Count(d, "ops.dispatch("));
        Assert.Equal(["a"], Dsq(m, m.LocalSlot(1)));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        AssertNoFindings(d);
    }

    /// <summary>
    /// The proposed fixes change dispatch_to_local_dsq() only (v1's revert, v2's fallback DSQ, the cookie check
    /// at finish); move_task_between_dsqs() is untouched by all of them. So under every protocol a
    /// scx_bpf_dsq_move() to a local DSQ the task may not run on is the kernel's: the enforcing
    /// task_can_run_on_remote_rq() raises the error and the task goes to the global DSQ.
    /// </summary>
    [Theory]
    [InlineData(Protocol.Upstream)]
    [InlineData(Protocol.QseqInvalidate)]
    [InlineData(Protocol.FallbackDsq)]
    [InlineData(Protocol.Cookie)]
    public void Should_RaiseTheKernelsErrorUnderEveryProtocol_When_DsqMoveTargetsADisallowedCpu(Protocol protocol)
    {
        var d = Driver(() => new MoveToCpu1(), 2, [Queued("a", 101, 0, 0)], rounds: [1, 0], protocol: protocol);
        var m = d.Machine;
        RunActor(d, "CPU0");
        Assert.Equal(ExitKind.Error, m.World.Sched.ExitKind);
        Assert.Equal("SCX_DSQ_LOCAL[_ON] target CPU 1 not allowed for a[101]", m.World.ExitMessage);
        Assert.Empty(Dsq(m, m.LocalSlot(1)));
        Assert.Empty(Dsq(m, m.FallbackSlot(0)));
    }

    // ---------------------------------------------------------------- scx_bpf_dsq_move_to_local(SCX_DSQ_GLOBAL)

    /// <summary>Inserts its task into the local DSQ (buffered), then moves from <c>source</c>.</summary>
    private sealed class InsertThenMoveFrom(ulong source) : ScxOps
    {
        public MapHandle Q;
        public override void DeclareMaps(MapBuilder maps) => Q = maps.List("queue", 8);
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await ctx.Push(Q, ctx.Pid(p));
        public override async BpfTask Dequeue(TaskContext ctx, TaskRef p, DeqFlags deqFlags) => await ctx.ListRemove(Q, ctx.Pid(p));

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var head = await ctx.Pop(Q);
            if (!head.Found) return;
            await ctx.DsqInsert(ctx.TaskFromPid(head.Value), DsqId.Local, ScxConst.SliceDfl);
            await ctx.DsqMoveToLocal(source);
        }
    }

    [Theory]
    [InlineData(DsqId.Global)]
    [InlineData(77UL)]
    public void Should_FlushTheBufferThenExitWithInvalidDsqId_When_MovingToLocalFromANonUserDsq(ulong source)
    {
        // scx_bpf_dsq_move_to_local(): flush_dispatch_buf() first, then find_user_dsq(), which knows
        // no built-in DSQ: "invalid DSQ ID 0x%016llx".
        var d = Driver(() => new InsertThenMoveFrom(source), 1, [Queued("a", 101, 0, 0)], rounds: [1]);
        var m = d.Machine;
        RunActor(d, "CPU0");
        Assert.Equal($"invalid DSQ ID 0x{source:x16}", m.World.ExitMessage);
        var notes = Notes(d);
        var flushed = notes.FindIndex(n => n.StartsWith("finish_dispatch(a[101])", StringComparison.Ordinal));
        var exited = notes.FindIndex(n => n.StartsWith("scx_exit(", StringComparison.Ordinal));
        Assert.True(flushed >= 0 && flushed < exited, string.Join("\n", notes));
    }

    // ---------------------------------------------------------------- the DSQ iterator on a non-user DSQ

    /// <summary>ops.enqueue: "pinned" (CPU1 only) goes to the global DSQ; ops.dispatch on CPU0 iterates <c>source</c>.</summary>
    private sealed class IterateOther(ulong source, bool move) : ScxOps
    {
        public MapHandle Bss;
        public override void DeclareMaps(MapBuilder maps) => Bss = maps.Array("bss", 4);
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var it = await ctx.DsqIterNext(DispatchContext.DsqIterBegin(source));
            await ctx.Set(Bss, 0, it.Done ? -1 : ctx.Pid(it.Task));
            if (move) await ctx.Set(Bss, 1, await ctx.DsqMove(it, ctx.TaskFromPid(101), DsqId.Local) ? 1 : 2);
        }
    }

    [Theory]
    [InlineData(DsqId.Global)]
    [InlineData(77UL)]
    public void Should_IterateNothingWithoutAnError_When_TheDsqIsNotAUserDsq(ulong source)
    {
        // bpf_iter_scx_dsq_new(): find_user_dsq() fails → -ENOENT, kit->dsq = NULL, and
        // bpf_iter_scx_dsq_next() returns NULL. No scx_error().
        var d = Driver(() => new IterateOther(source, move: false), 2, [Queued("pinned", 101, 1, 1)], rounds: [1, 0]);
        var m = d.Machine;
        var policy = (IterateOther)m.Ops;
        Assert.Equal(["pinned"], Dsq(m, Machine.GlobalSlot));
        RunActor(d, "CPU0");
        Assert.Equal(-1, Get(m, policy.Bss, 0));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Equal(["pinned"], Dsq(m, Machine.GlobalSlot));
    }

    [Fact]
    public void Should_ReturnFalseWithoutAnError_When_DsqMoveUsesAnIteratorOverTheGlobalDsq()
    {
        // The iterator has no DSQ (kit->dsq == NULL after -ENOENT): scx_dsq_move() returns false
        // ("if (unlikely(!src_dsq)) return false", the upstream fix for the NULL dereference).
        var d = Driver(() => new IterateOther(DsqId.Global, move: true), 2, [Queued("pinned", 101, 1, 1)], rounds: [1, 0]);
        var m = d.Machine;
        var policy = (IterateOther)m.Ops;
        RunActor(d, "CPU0");
        Assert.Equal(2, Get(m, policy.Bss, 1));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
        Assert.Equal(["pinned"], Dsq(m, Machine.GlobalSlot));
    }

    // ---------------------------------------------------------------- the iterator cursor

    /// <summary>Moves the first task out of DSQ 0, then records the pid the iterator returns next.</summary>
    private sealed class MoveFirstThenNext : UserDsqPolicy
    {
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var it = await ctx.DsqIterNext(DispatchContext.DsqIterBegin(Dsq0));
            if (it.Done) return;
            await ctx.DsqMove(it, it.Task, DsqId.Local);
            it = await ctx.DsqIterNext(it);
            await ctx.Set(Bss, 0, it.Done ? -1 : ctx.Pid(it.Task));
        }
    }

    [Fact]
    public void Should_ContinueAfterTheCursor_When_TheCurrentTaskLeftTheDsq()
    {
        // nldsq_cursor_next_task(): the cursor node stays in the list where the moved task was, so
        // the next call returns the task after it.
        var d = Driver(() => new MoveFirstThenNext(), 1, [Queued("a", 101, 0, 0), Queued("b", 102, 0, 0), Queued("c", 103, 0, 0)], rounds: [1]);
        var m = d.Machine;
        var policy = (MoveFirstThenNext)m.Ops;
        RunActor(d, "CPU0");
        Assert.Equal(102, Get(m, policy.Bss, 0));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }

    /// <summary>Walks DSQ 0 and records the pids in order; between steps it moves the second one away.</summary>
    private sealed class WalkAll : UserDsqPolicy
    {
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var it = DispatchContext.DsqIterBegin(Dsq0);
            for (var i = 1; i < 8; i++)
            {
                it = await ctx.DsqIterNext(it);
                if (it.Done) break;
                await ctx.Set(Bss, i, ctx.Pid(it.Task));
                if (i == 1) await ctx.DsqMove(it, ctx.TaskFromPid(102), DsqId.Local); // not the current task
            }
        }
    }

    [Fact]
    public void Should_SkipATaskThatLeftAfterTheCursor_And_VisitEveryOtherTaskOnce()
    {
        var d = Driver(() => new WalkAll(), 1, [Queued("a", 101, 0, 0), Queued("b", 102, 0, 0), Queued("c", 103, 0, 0)], rounds: [1]);
        var m = d.Machine;
        var policy = (WalkAll)m.Ops;
        RunActor(d, "CPU0");
        Assert.Equal([101L, 103L, 0L], [Get(m, policy.Bss, 1), Get(m, policy.Bss, 2), Get(m, policy.Bss, 3)]);
    }

    // ---------------------------------------------------------------- scx_dsq_move while aborting

    /// <summary>Raises scx_bpf_error(), then tries to move the first task of DSQ 0; records the result.</summary>
    private sealed class ErrorThenMove : UserDsqPolicy
    {
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var it = await ctx.DsqIterNext(DispatchContext.DsqIterBegin(Dsq0));
            if (it.Done) return;
            await ctx.Error("give up");
            await ctx.Set(Bss, 0, await ctx.DsqMove(it, it.Task, DsqId.Local) ? 1 : 2);
        }
    }

    [Fact]
    public void Should_NotMove_When_TheSchedulerIsAborting()
    {
        // scx_dsq_move(): "if (unlikely(READ_ONCE(sch->aborting))) return false;" before any lock.
        var d = Driver(() => new ErrorThenMove(), 1, [Queued("a", 101, 0, 0)], rounds: [1]);
        var m = d.Machine;
        var policy = (ErrorThenMove)m.Ops;
        RunActor(d, "CPU0");
        Assert.True(m.World.Sched.Aborting);
        Assert.Equal(2, Get(m, policy.Bss, 0));
        Assert.Equal(["a"], UserDsqTasks(m, Dsq0));
    }

    // ---------------------------------------------------------------- nldsq_cursor_lost_task()'s WARN

    /// <summary>Moves the first task of DSQ 0 to the local DSQ.</summary>
    private sealed class MoveFirst : UserDsqPolicy
    {
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            var it = await ctx.DsqIterNext(DispatchContext.DsqIterBegin(Dsq0));
            if (it.Done) return;
            await ctx.Set(Bss, 0, await ctx.DsqMove(it, it.Task, DsqId.Local) ? 1 : 2);
        }
    }

    [Fact]
    public void Should_WarnAndNotMove_When_TheTaskStayedOnTheDsqButItsRqChanged()
    {
        // nldsq_cursor_lost_task(): "if @p has stayed on @dsq, its rq couldn't have changed" —
        // WARN_ON_ONCE(rq != task_rq(p)), and the move is treated as lost.
        var d = Driver(() => new MoveFirst(), 2, [Queued("a", 101, 0, 0, 1)], rounds: [1, 0]);
        var m = d.Machine;
        var policy = (MoveFirst)m.Ops;
        var cpu0 = d.ActorId("CPU0");
        while (!InPath(d, "CPU0", PathId.DsqMove)) d.Step(cpu0);
        Task(m, "a").Cpu = 1; // broken invariant, injected while scx_dsq_move() waits for the DSQ lock
        RunActor(d, "CPU0");
        Assert.Contains(d.Findings, f => f.Check == "WARN_ON_ONCE(rq != task_rq(p))");
        Assert.Equal(2, Get(m, policy.Bss, 0));
        Assert.Equal(["a"], UserDsqTasks(m, Dsq0));
    }

    // ---------------------------------------------------------------- ops.dequeue under the DSQ lock

    /// <summary>DSQ 0 consumer whose ops.dequeue stops at a kfunc, so a test can look at the locks held there.</summary>
    private sealed class DequeueWitness(bool iterate) : UserDsqPolicy
    {
        public override async BpfTask Dequeue(TaskContext ctx, TaskRef p, DeqFlags deqFlags) => await ctx.Set(Bss, 7, ctx.Pid(p));

        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
        {
            if (!iterate)
            {
                await ctx.DsqMoveToLocal(Dsq0);
                return;
            }
            var it = await ctx.DsqIterNext(DispatchContext.DsqIterBegin(Dsq0));
            if (!it.Done) await ctx.DsqMove(it, it.Task, DsqId.Local);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Should_CallOpsDequeueUnderTheSourceDsqLock_When_TheTaskMovesToTheLocalDsqOfItsOwnRq(bool iterate)
    {
        // consume_dispatch_q() / move_task_between_dsqs() on the task's own rq: task_unlink_from_dsq(),
        // move_local_task_to_local_dsq() (→ local_dsq_post_enq() → ops.dequeue), then unlock the DSQ.
        var d = Driver(() => new DequeueWitness(iterate), 1, [Queued("a", 101, 0, 0)], rounds: [1]);
        var m = d.Machine;
        var cpu0 = d.ActorId("CPU0");
        var slot = UserDsq(m, Dsq0);
        for (var i = 0; i < 1000 && Count(d, "ops.dequeue(") == 0; i++) d.Step(cpu0);
        Assert.Equal(1, Count(d, "ops.dequeue("));
        Assert.Equal(cpu0, m.World.Dsqs[slot].Lock);
        RunActor(d, "CPU0");
        Assert.Equal(0, m.World.Cpus[0].Curr);
        Assert.Equal(-1, m.World.Dsqs[slot].Lock);
        AssertNoFindings(d);
    }

    // ---------------------------------------------------------------- unlink_dsq_and_lock_src_rq()'s WARN

    private sealed class Consume : UserDsqPolicy
    {
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) => await ctx.DsqMoveToLocal(Dsq0);
    }

    [Fact]
    public void Should_WarnAndRetry_When_TheHeldTaskChangedRqDuringARemoteConsume()
    {
        // unlink_dsq_and_lock_src_rq(): while we are the holding CPU, task_rq(p) cannot change —
        // !WARN_ON_ONCE(src_rq != task_rq(p)); consume_remote_task() then treats the task as lost.
        var d = Driver(() => new Consume(), 3, [Queued("a", 101, 1, 0, 1, 2)], rounds: [1, 0, 0]);
        var m = d.Machine;
        var cpu0 = d.ActorId("CPU0");
        while (Task(m, "a").HoldingCpu != 0) d.Step(cpu0);
        Task(m, "a").Cpu = 2; // broken invariant, injected while CPU0 waits for CPU1's rq lock
        d.Step(cpu0);
        Assert.Contains(d.Findings, f => f.Check == "WARN_ON_ONCE(src_rq != task_rq(p))");
    }

    // ---------------------------------------------------------------- scx_bpf_dsq_nr_queued()

    /// <summary>ops.enqueue puts its task on the global DSQ; ops.dispatch records nr_queued(<c>id</c>).</summary>
    private sealed class NrQueued(ulong id) : ScxOps
    {
        public MapHandle Bss;
        public override void DeclareMaps(MapBuilder maps) => Bss = maps.Array("bss", 2);
        public override async BpfTask Enqueue(EnqueueContext ctx, TaskRef p, EnqFlags enqFlags) => await ctx.DsqInsert(p, DsqId.Global, ScxConst.SliceDfl, enqFlags);
        public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev) => await ctx.Set(Bss, 0, await ctx.DsqNrQueued(id));
    }

    [Fact]
    public void Should_ReturnENOENT_When_CountingTheGlobalDsq()
    {
        // scx_bpf_dsq_nr_queued(): SCX_DSQ_LOCAL, SCX_DSQ_LOCAL_ON|cpu, else find_user_dsq() — the
        // global DSQ is not found: -ENOENT, no error.
        var d = Driver(() => new NrQueued(DsqId.Global), 2, [Queued("pinned", 101, 1, 1)], rounds: [1, 0]);
        var m = d.Machine;
        Assert.Equal(["pinned"], Dsq(m, Machine.GlobalSlot));
        RunActor(d, "CPU0");
        Assert.Equal(-2, Get(m, ((NrQueued)m.Ops).Bss, 0));
        Assert.Equal(ExitKind.None, m.World.Sched.ExitKind);
    }

    [Fact]
    public void Should_ExitWithInvalidCpu_When_CountingTheLocalDsqOfACpuThatDoesNotExist()
    {
        // SCX_DSQ_LOCAL_ON|cpu goes through ops_cpu_valid(): "invalid CPU %d", then -ENOENT.
        var d = Driver(() => new NrQueued(DsqId.LocalOn(9)), 2, [Queued("pinned", 101, 1, 1)], rounds: [1, 0]);
        var m = d.Machine;
        RunActor(d, "CPU0");
        Assert.Equal(-2, Get(m, ((NrQueued)m.Ops).Bss, 0));
        Assert.Equal("invalid CPU 9", m.World.ExitMessage);
    }
}
