/* simple: the scx_simple pattern (the BPF C twin of src/Scxlab/Policies/Simple.cs): an idle CPU
 * found by select_cpu gets the task on SCX_DSQ_LOCAL, everything else goes to one shared DSQ,
 * FIFO (fifo_sched, set with --rodata fifo_sched=1) or weighted vtime. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#define SHARED_DSQ 0

const volatile bool fifo_sched;

static u64 vtime_now;

static __always_inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

SCX_OPS3(s32, simple_select_cpu, struct task_struct *, p, s32, prev_cpu, u64, wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle)
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
	return cpu;
}

SCX_OPS2(void, simple_enqueue, struct task_struct *, p, u64, enq_flags)
{
	u64 vtime, now;

	if (fifo_sched) {
		scx_bpf_dsq_insert(p, SHARED_DSQ, SCX_SLICE_DFL, enq_flags);
		return;
	}
	vtime = p->scx.dsq_vtime;
	now = vtime_now;
	/* Limit the budget an idling task can accumulate to one slice. */
	if (vtime_before(vtime, now - SCX_SLICE_DFL))
		vtime = now - SCX_SLICE_DFL;
	scx_bpf_dsq_insert_vtime(p, SHARED_DSQ, SCX_SLICE_DFL, vtime, enq_flags);
}

SCX_OPS2(void, simple_dispatch, s32, cpu, struct task_struct *, prev)
{
	scx_bpf_dsq_move_to_local(SHARED_DSQ);
}

SCX_OPS1(void, simple_running, struct task_struct *, p)
{
	u64 vtime, now;

	if (fifo_sched)
		return;
	vtime = p->scx.dsq_vtime;
	now = vtime_now;
	if (vtime_before(now, vtime))
		vtime_now = vtime;
}

SCX_OPS2(void, simple_stopping, struct task_struct *, p, bool, runnable)
{
	s64 slice, used;
	u32 weight;
	u64 vtime;

	if (fifo_sched)
		return;
	slice = p->scx.slice;
	weight = p->scx.weight;
	vtime = p->scx.dsq_vtime;
	used = (s64)SCX_SLICE_DFL - slice;
	if (used < 0)
		used = 0;
	if (weight < 1)
		weight = 1;
	p->scx.dsq_vtime = vtime + (u64)used * 100 / weight;
}

SCX_OPS0(s32, simple_init)
{
	if (scx_bpf_create_dsq(SHARED_DSQ, -1)) {
		scx_bpf_error("failed to create DSQ %d", SHARED_DSQ);
		return 0;
	}
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops simple_ops = {
	.select_cpu = (void *)simple_select_cpu,
	.enqueue = (void *)simple_enqueue,
	.dispatch = (void *)simple_dispatch,
	.running = (void *)simple_running,
	.stopping = (void *)simple_stopping,
	.init = (void *)simple_init,
	.name = "simple",
};
