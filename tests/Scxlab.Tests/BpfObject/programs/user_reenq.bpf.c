/* user_reenq: scx_bpf_dsq_reenq() on a user DSQ (v7.1), in the shape the kernel's dsq_reenq selftest gives
 * it: every task goes through user DSQ 0, ops.tick asks for DSQ 0 to be re-enqueued, and ops.enqueue counts
 * the re-enqueues that carry SCX_TASK_REENQ_KFUNC in p->scx.flags, and those that do not. Once `exit_at`
 * re-enqueues with the reason have been seen, it ends the scheduler reporting both counts. Its C# twin is in
 * BpfUserReenqTests. With reenq_dsq = N it first creates user DSQs 1..N and re-enqueues DSQ N instead (the
 * model's limit past its 64th). Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

void scx_bpf_dsq_reenq(u64 dsq_id, u64 reenq_flags) __ksym __weak;

#define ENQ_REENQ (1ULL << 40)        /* SCX_ENQ_REENQ */
#define REENQ_REASON_MASK (3U << 12)  /* SCX_TASK_REENQ_REASON_MASK (v7.1) */
#define REENQ_KFUNC (1U << 12)        /* SCX_TASK_REENQ_KFUNC */

const volatile u64 exit_at = 2;
/* Create user DSQs 0..reenq_dsq and have ops.tick re-enqueue the last (the model's limit past its 64th). */
const volatile u32 reenq_dsq = 0;

u64 kfunc_reenqs, other_reenqs;

SCX_OPS0(s32, ur_init)
{
	s32 ret = scx_bpf_create_dsq(0, -1);

	for (u32 i = 1; !ret && i <= reenq_dsq && i < 256; i++)
		ret = scx_bpf_create_dsq(i, -1);
	return ret;
}

SCX_OPS2(void, ur_enqueue, struct task_struct *, p, u64, enq_flags)
{
	if (enq_flags & ENQ_REENQ) {
		if ((p->scx.flags & REENQ_REASON_MASK) == REENQ_KFUNC)
			__sync_fetch_and_add(&kfunc_reenqs, 1);
		else
			__sync_fetch_and_add(&other_reenqs, 1);
		if (kfunc_reenqs >= exit_at) {
			u64 param[] = { kfunc_reenqs, other_reenqs };
			static const char fmt[] = "kfunc=%llu other=%llu";
			scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
			return;
		}
	}
	scx_bpf_dsq_insert(p, 0, SCX_SLICE_DFL, enq_flags);
}

SCX_OPS2(void, ur_dispatch, s32, cpu, struct task_struct *, prev)
{
	scx_bpf_dsq_move_to_local(0);
}

SCX_OPS1(void, ur_tick, struct task_struct *, p)
{
	scx_bpf_dsq_reenq(reenq_dsq, 0);
}

SEC(".struct_ops.link")
struct sched_ext_ops user_reenq_ops = {
	.init = (void *)ur_init,
	.enqueue = (void *)ur_enqueue,
	.dispatch = (void *)ur_dispatch,
	.tick = (void *)ur_tick,
	.name = "user_reenq",
};
