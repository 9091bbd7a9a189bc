using Scxlab.Stepping;

namespace Scxlab.Kernel;

/// <summary>The dsq_list node operations and rq->scx.runnable_list bookkeeping.</summary>
public sealed partial class Machine
{
    private void LinkAfter(int slot, int after, int t)
    {
        ref var d = ref Dq(slot);
        ref var p = ref Tk(t);
        if (p.ListOn >= 0) throw new InvalidOperationException($"{TaskName(t)} is already linked on {SlotName(p.ListOn)}");
        p.ListOn = slot;
        p.Prev = after;
        if (after < 0)
        {
            p.Next = d.Head;
            if (d.Head >= 0) Tk(d.Head).Prev = t;
            else d.Tail = t;
            d.Head = t;
        }
        else
        {
            p.Next = TkR(after).Next;
            if (p.Next >= 0) Tk(p.Next).Prev = t;
            else d.Tail = t;
            Tk(after).Next = t;
        }
        d.Nr++;
    }

    private void LinkTail(int slot, int t) => LinkAfter(slot, DqR(slot).Tail, t);

    private void LinkHead(int slot, int t) => LinkAfter(slot, -1, t);

    /// <summary>task_unlink_from_dsq(): take the node off whatever list it is on.</summary>
    private void Unlink(int t)
    {
        ref var p = ref Tk(t);
        var slot = p.ListOn;
        if (slot < 0) return;
        ref var d = ref Dq(slot);
        if (p.Prev >= 0) Tk(p.Prev).Next = p.Next;
        else d.Head = p.Next;
        if (p.Next >= 0) Tk(p.Next).Prev = p.Prev;
        else d.Tail = p.Prev;
        p.Next = p.Prev = -1;
        p.ListOn = -1;
        d.Nr--;
        if ((p.Flags & TaskFlags.Immed) != 0 && IsLocalSlot(slot)) DsqDecNrImmed(LocalSlotCpu(slot), t);
        if (p.OnPriq)
        {
            d.PriqCount--;
            p.OnPriq = false;
        }
    }

    /// <summary>Insert in vtime order (rbtree order is list order): after the last task that is not after it.</summary>
    private void LinkByVtime(int slot, int t)
    {
        var vt = TkR(t).DsqVtime;
        var after = -1;
        for (var q = DqR(slot).Head; q >= 0; q = TkR(q).Next)
        {
            if (vt - TkR(q).DsqVtime < 0) break; // time_before64(vt, q.vtime)
            after = q;
        }
        LinkAfter(slot, after, t);
    }

    /// <summary>set_task_runnable(): on the runnable list; stamp runnable_at if the reset flag is set.</summary>
    private void SetTaskRunnable(int t)
    {
        ref var p = ref Tk(t);
        if ((p.Flags & TaskFlags.ResetRunnableAt) != 0)
        {
            p.RunnableAt = SchR().Clock;
            p.Flags &= ~TaskFlags.ResetRunnableAt;
        }
        p.RunnableOrder = 1;
    }

    /// <summary>clr_task_runnable().</summary>
    private void ClrTaskRunnable(int t, bool reset)
    {
        ref var p = ref Tk(t);
        p.RunnableOrder = 0;
        if (reset) p.Flags |= TaskFlags.ResetRunnableAt;
    }
}
