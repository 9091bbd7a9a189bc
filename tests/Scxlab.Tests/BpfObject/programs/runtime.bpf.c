/* runtime: reads a task's CPU time the two ways schedulers do, p->se.sum_exec_runtime (scx_userland,
 * rustland) and p->utime (the model charges all runtime as user time), through a CO-RE flavor of
 * task_struct. ops.enqueue ends the scheduler at the second re-enqueue of a task that has run, saying
 * whether the two agreed and whether the runtime was non-zero. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct sched_entity {
	u64 sum_exec_runtime;
} __attribute__((preserve_access_index));

struct task_struct___rt {
	struct sched_entity se;
	u64 utime;
} __attribute__((preserve_access_index));

u64 seen;

SCX_OPS2(void, rt_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct task_struct___rt *t = (void *)p;
	u64 se = t->se.sum_exec_runtime, ut = t->utime;

	if (se > 0 && ++seen >= 2) {
		u64 param[] = { se == ut, se > 0 };
		scx_bpf_exit_bstr(0, "agree=%llu ran=%llu", param, sizeof(param));
		return;
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SEC(".struct_ops.link")
struct sched_ext_ops runtime_ops = {
	.enqueue = (void *)rt_enqueue,
	.name = "runtime",
};
