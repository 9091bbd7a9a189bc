/* switches: p->nvcsw, p->nivcsw, p->policy and p->static_prio, the task_struct fields scx_pandemonium reads
 * to tell interactive tasks from batch ones. A global FIFO; ops.running logs each run as
 * pid:nvcsw:nivcsw and, on the third run (or, with rodata voluntary set, on the first run after a task
 * blocked), ends the scheduler with the log, the policy and the static priorities. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

/* The fields the project's header leaves out, as a CO-RE flavor of task_struct. */
struct task_struct___sw {
	unsigned long nvcsw, nivcsw;
	unsigned int policy;
	int static_prio;
} __attribute__((preserve_access_index));

#define SW(p) ((struct task_struct___sw *)(p))

const volatile u32 voluntary;
u64 r[6];
u32 runs;

SCX_OPS2(void, sw_enqueue, struct task_struct *, p, u64, enq_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SCX_OPS1(void, sw_running, struct task_struct *, p)
{
	u32 i = runs++;

	if (voluntary) {
		if (SW(p)->nvcsw) {
			static const char vfmt[] = "pid=%llu nvcsw=%llu nivcsw=%llu";
			r[0] = p->pid;
			r[1] = SW(p)->nvcsw;
			r[2] = SW(p)->nivcsw;
			scx_bpf_exit_bstr(0, (char *)vfmt, r, 3 * sizeof(u64));
		}
		return;
	}
	if (i < 3)
		r[i] = p->pid * 100 + SW(p)->nvcsw * 10 + SW(p)->nivcsw;
	if (i == 0)
		r[3] = SW(p)->policy;
	if (i == 1)
		r[4] = SW(p)->static_prio;
	if (i == 2) {
		static const char fmt[] = "runs=%llu,%llu,%llu policy=%llu prio=%llu,%llu";
		r[5] = SW(p)->static_prio;
		scx_bpf_exit_bstr(0, (char *)fmt, r, sizeof(r));
	}
}

SEC(".struct_ops.link")
struct sched_ext_ops switches_ops = {
	.enqueue = (void *)sw_enqueue,
	.running = (void *)sw_running,
	.name = "switches",
};
