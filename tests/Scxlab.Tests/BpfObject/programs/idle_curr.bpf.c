/* idle_curr: scx_bpf_cpu_curr() of an idle CPU is that CPU's idle task, swapper/N, and a scheduler may read it
 * (scx_beerland's enqueue reads curr->scx.dsq_vtime to tell a sched_ext task from the idle task). ops.dispatch
 * on an idle CPU reads its curr's fields and reports; with rodata storage set it passes the idle task to a
 * kfunc, which the model refuses; with shorten set it first writes the idle task's slice (as scx_lavd shortens
 * whatever runs on a CPU it wants back) and reads it back. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct task_struct *scx_bpf_cpu_curr(s32 cpu) __ksym;

#define PF_IDLE 0x00000002
#define PF_KTHREAD 0x00200000

const volatile u32 storage, shorten;

SCX_OPS2(void, ic_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct task_struct *curr = scx_bpf_cpu_curr(cpu);
	u64 r[8];

	if (prev || !curr)
		return;
	if (storage) {
		scx_bpf_task_cpu(curr);
		return;
	}
	if (shorten)
		curr->scx.slice = 7;
	r[0] = curr->pid * 10 + curr->tgid;
	r[1] = (curr->flags & (PF_IDLE | PF_KTHREAD)) == (PF_IDLE | PF_KTHREAD);
	r[2] = curr->comm[0] == 's' && curr->comm[1] == 'w' && curr->comm[7] == '/' && curr->comm[8] == '0' + cpu;
	r[3] = curr->scx.dsq_vtime;
	r[4] = shorten ? curr->scx.slice : curr->scx.slice == SCX_SLICE_DFL;
	r[5] = curr->scx.weight;
	r[6] = curr->nr_cpus_allowed;
	r[7] = bpf_cpumask_test_cpu(cpu, curr->cpus_ptr) * 10 + bpf_cpumask_test_cpu(cpu ^ 1, curr->cpus_ptr);
	static const char fmt[] = "pid=%llu idle=%llu comm=%llu vtime=%llu slice_dfl=%llu weight=%llu nr=%llu mask=%llu";
	scx_bpf_exit_bstr(0, (char *)fmt, r, sizeof(r));
}

SEC(".struct_ops.link")
struct sched_ext_ops idle_curr_ops = {
	.dispatch = (void *)ic_dispatch,
	.name = "idle_curr",
};
