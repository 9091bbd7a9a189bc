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
    // Requires: rq(c) held (the committing CPU's). Task = p, I0 = target CPU, L0 = barrier seen by the agent,
    // I1 = rq currently locked, I2 = resulting GhostTxnState.
    private void PathGhostCommit(ref Frame f)
    {
        var c = f.Cpu;
        var p = f.Task;
        switch (f.Pc)
        {
            case 0:
            {
                if (f.I0 < 0 || f.I0 >= N)
                {
                    Return((long)GhostTxnState.InvalidCpu);
                    return;
                }
                // Claim the txn, then lock the target task's rq.
                var src = TkR(p).Cpu;
                f.I1 = c;
                if (SwitchRqLock(ref f, ref f.I1, src, 1)) return;
                goto case 1;
            }
            case 1:
            {
                ref var t = ref Tk(p);
                if (t.Cpu != f.I1 || t.Migrating)
                {
                    UnlockRq(f.I1);
                    WaitFor(ref f, 5, WaitKind.TaskNotMigrating, p);
                    return;
                }
                GhostTxnState st;
                if (t.Class != SchedClass.Ext || t.Run == RunState.Dead) st = GhostTxnState.TargetNotFound;
                else if (t.Barrier != f.L0) st = GhostTxnState.TargetStale;
                else if ((t.Flags & TaskFlags.Queued) == 0 || OpsWord.State(t.OpsState) != OpsState.Queued) st = GhostTxnState.TargetNotRunnable;
                else if (RqR(t.Cpu).Curr == p) st = GhostTxnState.TargetOnCpu;
                else st = GhostTxnState.Complete;
                f.I2 = (int)st;
                Trace?.Note(_cur, $"commit txn({TaskName(p)} on CPU{f.I0}, barrier {f.L0}): {st} (task barrier {t.Barrier})");
                if (st != GhostTxnState.Complete) goto case 3;
                // Latch: the kernel owns the task again; move it to the target CPU as its next pick.
                t.OpsState = OpsWord.Make(OpsState.None, 0);
                // ghOSt has no slice: a latched task runs until the agent decides otherwise. The model's CPUs
                // rotate on slice expiry, so the commit grants a default slice (as scx_bpf_dsq_insert() would);
                // without it a re-committed task that used up its slice trips pick_task_scx()'s zero-slice warning.
                if (t.Slice == 0) t.Slice = ScxConst.SliceDfl;
                var src = t.Cpu;
                if (src == f.I0)
                {
                    ref var de = ref Call(ref f, 3, PathId.DispatchEnqueue);
                    de.Dsq = LocalSlot(src);
                    de.Task = p;
                    return;
                }
                ref var mv = ref Call(ref f, 2, PathId.MoveRemoteTaskToLocalDsq);
                mv.Task = p;
                mv.I0 = src;
                mv.I1 = f.I0;
                return;
            }
            case 2:
                f.I1 = f.I0; // move_remote_task_to_local_dsq() returns with the target rq locked
                goto case 3;
            case 3:
                if (f.I2 == (int)GhostTxnState.Complete && RqR(f.I0).Curr < 0) Rq(f.I0).NeedResched = true;
                if (SwitchRqLock(ref f, ref f.I1, c, 4)) return;
                goto case 4;
            case 4:
                Return(f.I2);
                return;
            case 5:
                f.I1 = TkR(p).Cpu;
                LockRq(ref f, f.I1, 1);
                return;
            default:
                throw new System.Diagnostics.UnreachableException($"ghost commit pc {f.Pc}");
        }
    }
}
