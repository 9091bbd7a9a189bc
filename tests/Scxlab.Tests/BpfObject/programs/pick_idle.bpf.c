/* pick_idle: exercises the idle-CPU and DSQ kfuncs; BpfKfuncTests runs the same logic in C#. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#define SHARED_DSQ 0
#define SPARE_DSQ 1

SCX_OPS3(s32, pi_select_cpu, struct task_struct *, p, s32, prev_cpu, u64, wake_flags)
{
	s32 cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);

	if (cpu >= 0) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
		return cpu;
	}
	if (scx_bpf_test_and_clear_cpu_idle(prev_cpu))
		return prev_cpu;
	return scx_bpf_pick_any_cpu(p->cpus_ptr, 0);
}

SCX_OPS2(void, pi_enqueue, struct task_struct *, p, u64, enq_flags)
{
	scx_bpf_dsq_insert(p, SHARED_DSQ, SCX_SLICE_DFL, enq_flags);
}

SCX_OPS2(void, pi_dispatch, s32, cpu, struct task_struct *, prev)
{
	if (!scx_bpf_dsq_peek(SHARED_DSQ))
		return;
	scx_bpf_dsq_move_to_local(SHARED_DSQ);
}

SCX_OPS0(s32, pi_init)
{
	scx_bpf_create_dsq(SHARED_DSQ, -1);
	scx_bpf_create_dsq(SPARE_DSQ, -1);
	scx_bpf_destroy_dsq(SPARE_DSQ);
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops pi_ops = {
	.select_cpu = (void *)pi_select_cpu,
	.enqueue = (void *)pi_enqueue,
	.dispatch = (void *)pi_dispatch,
	.init = (void *)pi_init,
	.name = "pick_idle",
};
