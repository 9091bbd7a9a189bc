/* local_on_pop: pop a pid from a BPF queue, test p->cpus_ptr, insert SCX_DSQ_LOCAL_ON|cpu
 * (the BPF C twin of src/Scxlab/Policies/LocalOnPop.cs; race R1). */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 64);
	__type(value, s32);
} queue SEC(".maps");

SCX_OPS2(void, local_on_pop_enqueue, struct task_struct *, p, u64, enq_flags)
{
	s32 pid = p->pid;

	if (bpf_map_push_elem(&queue, &pid, 0))
		scx_bpf_error("Failed to enqueue %s", p->comm);
}

SCX_OPS2(void, local_on_pop_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct task_struct *p;
	s32 pid;

	if (bpf_map_pop_elem(&queue, &pid))
		return;
	p = bpf_task_from_pid(pid);
	if (!p)
		return;
	if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, SCX_SLICE_DFL, 0);
	else
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	bpf_task_release(p);
}

SEC(".struct_ops.link")
struct sched_ext_ops local_on_pop_ops = {
	.enqueue = (void *)local_on_pop_enqueue,
	.dispatch = (void *)local_on_pop_dispatch,
	.name = "local_on_pop",
};
