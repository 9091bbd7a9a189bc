/* not_modelled: a FIFO of pids whose programs, as rodata mode says, reach something the model does not cover
 * (bpf_map_push_elem with BPF_EXIST, which the kernel's queue maps refuse or honour but the model has no
 * semantics for): mode 1 from ops.enqueue (so at boot), mode 2 from ops.dispatch on CPU 0 while ops.dispatch
 * on CPU 1 calls scx_bpf_error() (a real exit on other paths), mode 3 from ops.dispatch on every CPU.
 * Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#define BPF_EXIST 2

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, s32);
} fifo SEC(".maps");

const volatile u32 mode;

SCX_OPS2(void, nm_enqueue, struct task_struct *, p, u64, enq_flags)
{
	s32 pid = p->pid;

	if (bpf_map_push_elem(&fifo, &pid, mode == 1 ? BPF_EXIST : 0))
		scx_bpf_error("fifo full");
}

SCX_OPS2(void, nm_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct task_struct *p;
	s32 pid;

	if (bpf_map_pop_elem(&fifo, &pid))
		return;
	if ((mode == 2 && cpu == 0) || mode == 3) {
		bpf_map_push_elem(&fifo, &pid, BPF_EXIST);
		return;
	}
	if (mode == 2 && cpu == 1) {
		scx_bpf_error("boom on cpu 1");
		return;
	}
	p = bpf_task_from_pid(pid);
	if (!p)
		return;
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	bpf_task_release(p);
}

SEC(".struct_ops.link")
struct sched_ext_ops not_modelled_ops = {
	.enqueue = (void *)nm_enqueue,
	.dispatch = (void *)nm_dispatch,
	.name = "not_modelled",
};
