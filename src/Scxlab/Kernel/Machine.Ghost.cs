using System.Runtime.InteropServices;
using Scxlab.Bpf;
using Scxlab.Stepping;

namespace Scxlab.Kernel;

/// <summary>
/// ghOSt's commit protocol as a second protocol family on the same stepping
/// (reference ghost-and-scx-schedulers.md §1.3–§1.8; kernel ghost.c <c>_ghost_commit_txn()</c>).
/// </summary>
/// <remarks>
/// Mapping onto the shared model: task messages are the ops callbacks (ops.enqueue delivers
/// TASK_NEW/TASK_WAKEUP/TASK_PREEMPT, ops.dequeue TASK_BLOCKED/TASK_DEPARTED/TASK_AFFINITY_CHANGED);
/// each bumps the task's status-word barrier (<see cref="TaskState.Barrier"/>), and an affinity
/// change bumps it before the mask changes. A committed (latched) task is the CPU's next pick —
/// the head of its local DSQ — so an affinity change that moves it away dequeues it and
/// re-delivers it to the agent (TASK_PREEMPT with was_latched). The commit validates in ghOSt's
/// order and has no cpumask test: honouring masks is the agent's job. The agent barrier is not
/// modelled: it only guards an agent that blocks on its own CPU, which the model's agent never does.
/// </remarks>
public sealed partial class Machine
{
    /// <summary>
    /// _ghost_commit_txn()'s locals (Cpu = the committing CPU, Task = the txn's target task). Explicit
    /// layout: the kfunc start in Machine.Bpf.cs still writes TargetCpu and Barrier through the I0 and L0
    /// registers.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Pack = 4)]
    private struct GhostCommitLocals
    {
        /// <summary>The task's status-word barrier as the agent read it (txn->task_barrier).</summary>
        [FieldOffset(0)] public long Barrier;
        /// <summary>The CPU the txn commits to (txn->cpu).</summary>
        [FieldOffset(24)] public int TargetCpu;
        /// <summary>The rq whose lock this path holds now (this CPU's, the task's, then the target's).</summary>
        [FieldOffset(28)] public int HeldRq;
        /// <summary>The txn's outcome (txn->state), the kfunc's return value.</summary>
        [FieldOffset(32)] public GhostTxnState TxnState;
    }

    /// <summary>_ghost_commit_txn()'s resume points.</summary>
    private enum GhostCommitAt
    {
        Entry = 0,
        /// <summary>The task's rq lock taken (task_rq_lock()): validate, then latch.</summary>
        AfterTaskRqLock = 1,
        /// <summary>move_remote_task_to_local_dsq() returned, with the target rq locked.</summary>
        AfterRemoteMove = 2,
        /// <summary>The txn is decided (and the task latched): wake an idle target, switch back to this CPU's rq lock.</summary>
        Finish = 3,
        /// <summary>Return the txn state.</summary>
        Done = 4,
        /// <summary>task_rq_lock()'s retry: the task is no longer migrating; lock its rq again.</summary>
        AfterMigrationWait = 5,
    }

    /// <summary>
    /// GHOST_IOC_COMMIT_TXN as a kernel path of its own (for the deferred-kfunc start in Machine.Bpf.cs,
    /// which writes the same fields through the registers today).
    /// </summary>
    private void PushGhostCommit(int cpu, int p, int targetCpu, long barrier)
    {
        ref var f = ref Push(PathId.GhostCommit);
        f.Cpu = cpu;
        f.Task = p;
        ref var gc = ref f.Locals<GhostCommitLocals>();
        gc.TargetCpu = targetCpu;
        gc.Barrier = barrier;
    }

    // Requires: rq(c) held (the committing CPU's). Ensures: rq(c) held again.
    private void PathGhostCommit(ref Frame f)
    {
        var c = f.Cpu;
        var p = f.Task;
        ref var gc = ref f.Locals<GhostCommitLocals>();
        switch ((GhostCommitAt)f.Pc)
        {
            case GhostCommitAt.Entry:
            {
                if (gc.TargetCpu < 0 || gc.TargetCpu >= N)
                {
                    Return((long)GhostTxnState.InvalidCpu);
                    return;
                }
                // Claim the txn, then lock the target task's rq.
                var src = TkR(p).Cpu;
                gc.HeldRq = c;
                if (SwitchRqLock(ref f, ref gc.HeldRq, src, (int)GhostCommitAt.AfterTaskRqLock)) return;
                goto case GhostCommitAt.AfterTaskRqLock;
            }
            case GhostCommitAt.AfterTaskRqLock:
            {
                ref var t = ref Tk(p);
                if (t.Cpu != gc.HeldRq || t.Migrating)
                {
                    UnlockRq(gc.HeldRq);
                    WaitFor(ref f, (int)GhostCommitAt.AfterMigrationWait, WaitKind.TaskNotMigrating, p);
                    return;
                }
                GhostTxnState st;
                if (t.Class != SchedClass.Ext || t.Run == RunState.Dead) st = GhostTxnState.TargetNotFound;
                else if (t.Barrier != gc.Barrier) st = GhostTxnState.TargetStale;
                else if ((t.Flags & TaskFlags.Queued) == 0 || OpsWord.State(t.OpsState) != OpsState.Queued) st = GhostTxnState.TargetNotRunnable;
                else if (RqR(t.Cpu).Curr == p) st = GhostTxnState.TargetOnCpu;
                else st = GhostTxnState.Complete;
                gc.TxnState = st;
                Trace?.Note(_cur, $"commit txn({TaskName(p)} on CPU{gc.TargetCpu}, barrier {gc.Barrier}): {st} (task barrier {t.Barrier})");
                if (st != GhostTxnState.Complete) goto case GhostCommitAt.Finish;
                // Latch: the kernel owns the task again; move it to the target CPU as its next pick.
                t.OpsState = OpsWord.Make(OpsState.None, 0);
                // ghOSt has no slice: a latched task runs until the agent decides otherwise. The model's CPUs
                // rotate on slice expiry, so the commit grants a default slice (as scx_bpf_dsq_insert() would);
                // without it a re-committed task that used up its slice trips pick_task_scx()'s zero-slice warning.
                if (t.Slice == 0) t.Slice = ScxConst.SliceDfl;
                var src = t.Cpu;
                if (src == gc.TargetCpu)
                {
                    CallDispatchEnqueue(ref f, (int)GhostCommitAt.Finish, LocalSlot(src), p, 0);
                    return;
                }
                CallMoveRemoteTaskToLocalDsq(ref f, (int)GhostCommitAt.AfterRemoteMove, p, src, gc.TargetCpu, 0);
                return;
            }
            case GhostCommitAt.AfterRemoteMove:
                gc.HeldRq = gc.TargetCpu; // move_remote_task_to_local_dsq() returns with the target rq locked
                goto case GhostCommitAt.Finish;
            case GhostCommitAt.Finish:
                if (gc.TxnState == GhostTxnState.Complete && RqR(gc.TargetCpu).Curr < 0) Rq(gc.TargetCpu).NeedResched = true;
                if (SwitchRqLock(ref f, ref gc.HeldRq, c, (int)GhostCommitAt.Done)) return;
                goto case GhostCommitAt.Done;
            case GhostCommitAt.Done:
                Return((long)gc.TxnState);
                return;
            case GhostCommitAt.AfterMigrationWait:
                gc.HeldRq = TkR(p).Cpu;
                LockRq(ref f, gc.HeldRq, (int)GhostCommitAt.AfterTaskRqLock);
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"ghost commit resume point {f.Pc}");
        }
    }
}
