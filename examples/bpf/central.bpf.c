/* central: the scx_central pattern (the BPF C twin of src/Scxlab/Policies/Central.cs). One CPU
 * (central_cpu) makes every decision: it pops pids from one queue, tests p->cpus_ptr for the CPU
 * that asked, inserts SCX_DSQ_LOCAL_ON|cpu (a mismatch goes to the fallback DSQ) and kicks it. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#define FALLBACK_DSQ 0
#define QUEUE_CAP 64
#define MAX_CPUS 64

const volatile s32 central_cpu;

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, QUEUE_CAP);
	__type(value, s32);
} central_q SEC(".maps");

/* Which CPUs asked the central CPU for a task (u64 per CPU: one word each). */
u64 cpu_gimme_task[MAX_CPUS];

SCX_OPS3(s32, central_select_cpu, struct task_struct *, p, s32, prev_cpu, u64, wake_flags)
{
	/* A hint only: if the task cannot run on the central CPU the kernel picks a fallback CPU. */
	return central_cpu;
}

SCX_OPS2(void, central_enqueue, struct task_struct *, p, u64, enq_flags)
{
	s32 pid = p->pid;

	if (bpf_map_push_elem(&central_q, &pid, 0)) {
		scx_bpf_dsq_insert(p, FALLBACK_DSQ, SCX_SLICE_DFL, enq_flags);
		return;
	}
	if (!scx_bpf_task_running(p))
		scx_bpf_kick_cpu(central_cpu, SCX_KICK_PREEMPT);
}

static bool dispatch_to_cpu(s32 cpu)
{
	struct task_struct *p;
	s32 pid, other;
	u32 n, nr_cpus = scx_bpf_nr_cpu_ids();

	for (n = 0; n < QUEUE_CAP; n++) {
		if (bpf_map_pop_elem(&central_q, &pid))
			break;
		p = bpf_task_from_pid(pid);
		if (!p)
			continue;
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
			/* Bounce it to the fallback DSQ and kick idle CPUs that may run it (the
			 * C# port's stand-in for scx_central's slice timer). */
			scx_bpf_dsq_insert(p, FALLBACK_DSQ, SCX_SLICE_DFL, 0);
			bpf_task_release(p);
			for (other = 0; other < MAX_CPUS && other < nr_cpus; other++)
				if (other != central_cpu)
					scx_bpf_kick_cpu(other, SCX_KICK_IDLE);
			if (!scx_bpf_dispatch_nr_slots())
				break;
			continue;
		}
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, SCX_SLICE_DFL, 0);
		bpf_task_release(p);
		if (cpu != central_cpu)
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		return true;
	}
	return false;
}

SCX_OPS2(void, central_dispatch, s32, cpu, struct task_struct *, prev)
{
	u32 nr_cpus = scx_bpf_nr_cpu_ids();
	s32 c;

	if (cpu == central_cpu) {
		/* Serve every CPU that asked first. */
		for (c = 0; c < MAX_CPUS && c < nr_cpus; c++) {
			if (!scx_bpf_dispatch_nr_slots())
				break;
			if (!cpu_gimme_task[c])
				continue;
			if (dispatch_to_cpu(c))
				cpu_gimme_task[c] = 0;
		}
		if (!scx_bpf_dispatch_nr_slots()) {
			scx_bpf_kick_cpu(central_cpu, SCX_KICK_PREEMPT);
			return;
		}
		if (scx_bpf_dsq_move_to_local(FALLBACK_DSQ))
			return;
		dispatch_to_cpu(central_cpu);
		return;
	}
	if (scx_bpf_dsq_move_to_local(FALLBACK_DSQ))
		return;
	if (cpu < MAX_CPUS)
		cpu_gimme_task[cpu] = 1;
	scx_bpf_kick_cpu(central_cpu, SCX_KICK_PREEMPT);
}

SCX_OPS0(s32, central_init)
{
	if (scx_bpf_create_dsq(FALLBACK_DSQ, -1))
		scx_bpf_error("failed to create DSQ %d", FALLBACK_DSQ);
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops central_ops = {
	.select_cpu = (void *)central_select_cpu,
	.enqueue = (void *)central_enqueue,
	.dispatch = (void *)central_dispatch,
	.init = (void *)central_init,
	.flags = SCX_OPS_ENQ_LAST,
	.name = "central",
};
