using Scxlab.Bpf;
using Scxlab.Kernel;

namespace Scxlab.Policies;

/// <summary>
/// <c>cookie-peek</c>: the R2 pattern of <see cref="LocalOnPeek"/> made safe with the proposed
/// cookie API (reference §4.6, Cheng-Yang Chou 2026-05-05): take <c>scx_bpf_task_get_cookie(p)</c>
/// before reading the mask, insert with <c>scx_bpf_dsq_insert_cookie()</c>, and put the task back
/// in the queue when the insert fails because the cookie went stale. Needs the <c>cookie</c>
/// protocol; on any other kernel the first cookie kfunc ends the scheduler.
/// </summary>
public sealed class CookiePeek() : PidListPolicy("queue", 64)
{
    public override string Name => "cookie_peek";

    public override Protocol? RequiresProtocol => Protocol.Cookie;


    public override async BpfTask Dispatch(DispatchContext ctx, int cpu, TaskRef prev)
    {
        var head = await ctx.Peek(Queue);
        if (!head.Found) return;
        var p = ctx.TaskFromPid(head.Value);
        if (p.IsNone) return;
        var cookie = await ctx.TaskGetCookie(p);
        var allowed = await ctx.TaskTestCpu(p, cpu);
        if (!await ctx.ListRemove(Queue, head.Value)) return;
        if (!await ctx.DsqInsertCookie(p, allowed ? DsqId.LocalOn(cpu) : DsqId.Global, ScxConst.SliceDfl, EnqFlags.None, cookie))
            await ctx.Push(Queue, head.Value); // stale decision: the kernel refused it, keep the task
    }
}
