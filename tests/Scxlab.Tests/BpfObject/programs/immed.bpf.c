/* immed: SCX_ENQ_IMMED (v7.1). ops.enqueue puts every task on CPU 0's local DSQ, or (mode 2) on user DSQ 7, from
 * which ops.dispatch moves two tasks at once with scx_bpf_dsq_move_to_local(dsq, SCX_ENQ_IMMED); mode 3 asks for
 * IMMED on the global DSQ, which the kernel refuses; mode 4 is mode 1 without IMMED, which the second struct_ops
 * (immed_always_ops, SCX_OPS_ALWAYS_ENQ_IMMED) adds back to every local insert; mode 5 is mode 2 moving one task;
 * mode 6 inserts a waking task as mode 1 does with SCX_ENQ_PREEMPT too and any other on the global DSQ; mode 7 is mode 1 putting a task that comes back with reason IMMED on
 * CPU 0 again, twice, before it reports. A re-enqueue ends the
 * scheduler reporting its reason (p->scx.flags' reenqueue reason), the enq_flags' REENQ bit and whether
 * SCX_TASK_IMMED is still set when ops.enqueue sees it. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#define ENQ_WAKEUP (1ULL << 0)        /* SCX_ENQ_WAKEUP */
#define ENQ_PREEMPT (1ULL << 32)      /* SCX_ENQ_PREEMPT */
#define ENQ_IMMED (1ULL << 33)        /* SCX_ENQ_IMMED */
#define ENQ_REENQ (1ULL << 40)        /* SCX_ENQ_REENQ */
#define TASK_IMMED (1U << 5)          /* SCX_TASK_IMMED */
#define REENQ_REASON_MASK (3U << 12)  /* SCX_TASK_REENQ_REASON_MASK */
#define USER_DSQ 7

bool scx_bpf_dsq_move_to_local___v2(u64 dsq_id, u64 enq_flags) __ksym __weak;

const volatile u32 mode = 1;
u64 bounces;

SCX_OPS0(s32, im_init)
{
	return mode == 2 || mode == 5 ? scx_bpf_create_dsq(USER_DSQ, -1) : 0;
}

SCX_OPS2(void, im_enqueue, struct task_struct *, p, u64, enq_flags)
{
	if ((enq_flags & ENQ_REENQ) && mode == 7 && (p->scx.flags & REENQ_REASON_MASK) == (2U << 12) && bounces < 2) {
		bounces++;
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | 0, SCX_SLICE_DFL, ENQ_IMMED);
		return;
	}
	if (enq_flags & ENQ_REENQ) {
		u64 param[] = { (p->scx.flags & REENQ_REASON_MASK) >> 12, !!(enq_flags & ENQ_REENQ), !!(p->scx.flags & TASK_IMMED) };
		static const char fmt[] = "reason=%llu reenq=%llu task_immed=%llu";

		scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
		return;
	}
	if (mode == 2 || mode == 5)
		scx_bpf_dsq_insert(p, USER_DSQ, SCX_SLICE_DFL, 0);
	else if (mode == 3)
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, ENQ_IMMED);
	else if (mode == 6 && !(enq_flags & ENQ_WAKEUP))
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	else
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | 0, SCX_SLICE_DFL, mode == 4 ? 0 : mode == 6 ? ENQ_IMMED | ENQ_PREEMPT : ENQ_IMMED);
}

SCX_OPS2(void, im_dispatch, s32, cpu, struct task_struct *, prev)
{
	if ((mode == 2 || mode == 5) && bpf_ksym_exists(scx_bpf_dsq_move_to_local___v2)) {
		scx_bpf_dsq_move_to_local___v2(USER_DSQ, ENQ_IMMED);
		if (mode == 2)
			scx_bpf_dsq_move_to_local___v2(USER_DSQ, ENQ_IMMED);
	}
}

SEC(".struct_ops.link")
struct sched_ext_ops immed_ops = {
	.init = (void *)im_init,
	.enqueue = (void *)im_enqueue,
	.dispatch = (void *)im_dispatch,
	.name = "immed",
};

SEC(".struct_ops.link")
struct sched_ext_ops immed_always_ops = {
	.init = (void *)im_init,
	.enqueue = (void *)im_enqueue,
	.dispatch = (void *)im_dispatch,
	.flags = 1ULL << 7, /* SCX_OPS_ALWAYS_ENQ_IMMED */
	.name = "immed_always",
};
