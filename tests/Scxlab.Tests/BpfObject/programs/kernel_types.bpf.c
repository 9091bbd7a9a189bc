/* kernel_types: kernel types scx's library reaches through CO-RE beyond the sched_ext ones — atomic_t (the arena spin
 * lock's counter, relocated by its typedef's name) and p->cpus_mask (p2dq asks whether p->cpus_ptr == &p->cpus_mask,
 * i.e. whether the task's affinity is its own) — bpf_trace_vprintk(), bpf_printk() with more than three arguments,
 * and the kernel's per-CPU variables runqueues and cpufreq_cpu_data (scx_lavd). With rodata cgroup set, ops.enqueue
 * looks the root cgroup up through the cgroup kfuncs and exits with what it found; with cgroup_type set it reads a
 * struct cgroup field the model does not have: the object loads, and a run that reaches it stops at a model limit.
 * Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
typedef struct {
	int counter;
} atomic_t;
struct task_struct___mask {
	const struct cpumask *cpus_ptr;
	struct cpumask cpus_mask;
};
struct rq {
	int cpu;
	u64 clock_task;
	u64 lost_idle_time;
};
struct task_struct___prio {
	int prio;
};
struct kernfs_node {
	u64 id;
};
struct cgroup {
	struct kernfs_node *kn;
	int level;
	unsigned long flags;
};
struct cpufreq_policy {
	unsigned int max;
};
#pragma clang attribute pop

extern struct rq runqueues __ksym;
extern struct cpufreq_policy *cpufreq_cpu_data __ksym;
static void *(*bpf_per_cpu_ptr)(const void *percpu_ptr, u32 cpu) = (void *)153;
static void *(*bpf_this_cpu_ptr)(const void *percpu_ptr) = (void *)154;
static long (*bpf_probe_read_kernel)(void *dst, u32 size, const void *unsafe_ptr) = (void *)113;
struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym;
struct cgroup *bpf_cgroup_ancestor(struct cgroup *cgrp, int level) __ksym;
struct cgroup *bpf_cgroup_acquire(struct cgroup *cgrp) __ksym;
long bpf_task_under_cgroup(struct task_struct *task, struct cgroup *ancestor) __ksym;
void bpf_cgroup_release(struct cgroup *cgrp) __ksym;

const volatile u32 cgroup, cgroup_type;

static long (*bpf_trace_vprintk)(const char *fmt, u32 fmt_size, const void *data, u32 data_len) = (void *)177;

atomic_t hits;

SCX_OPS2(void, kt_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct task_struct___mask *t = (void *)p;
	static const char line[] = "vprintk %d %d %d %d";
	u64 args[4] = { 1, 2, 3, p->pid };
	u64 param[10], now;
	struct cpufreq_policy **base = (struct cpufreq_policy **)&cpufreq_cpu_data, *policy = (void *)1;
	struct rq *rq1 = bpf_per_cpu_ptr(&runqueues, 1), *rq9 = bpf_per_cpu_ptr(&runqueues, 9), *here = bpf_this_cpu_ptr(&runqueues);

	if (cgroup) {
		/* The root cgroup (id 1, level 0), every task's; no cgroup 2, no ancestor at level 1. */
		struct cgroup *cg = bpf_cgroup_from_id(1), *other = bpf_cgroup_from_id(2), *anc, *deeper, *again;
		static const char cfmt[] = "cgroup %lld %lld %lld %lld %lld %lld";

		if (!cg)
			return;
		anc = bpf_cgroup_ancestor(cg, 0);
		deeper = bpf_cgroup_ancestor(cg, 1);
		again = bpf_cgroup_acquire(cg);
		param[0] = cg->kn->id;
		param[1] = cg->level;
		param[2] = other == NULL;
		param[3] = anc == cg;
		param[4] = deeper == NULL;
		param[5] = bpf_task_under_cgroup(p, cg);
		if (other)
			bpf_cgroup_release(other);
		if (anc)
			bpf_cgroup_release(anc);
		if (deeper)
			bpf_cgroup_release(deeper);
		if (again)
			bpf_cgroup_release(again);
		bpf_cgroup_release(cg);
		scx_bpf_exit_bstr(0, (char *)cfmt, param, 6 * sizeof(u64));
		return;
	}
	if (cgroup_type) {
		struct cgroup *cg = bpf_cgroup_from_id(1);

		if (!cg)
			return;
		param[0] = cg->flags;
		bpf_cgroup_release(cg);
	}

	__sync_fetch_and_add(&hits.counter, 5);
	param[0] = hits.counter;
	param[1] = t->cpus_ptr == &t->cpus_mask;
	param[2] = bpf_cpumask_test_cpu(0, &t->cpus_mask);
	param[3] = bpf_trace_vprintk(line, sizeof(line), args, sizeof(args));
	param[4] = rq1 ? rq1->cpu : -1;
	param[5] = rq9 == NULL;
	param[6] = here ? here->cpu : -1;
	param[7] = bpf_probe_read_kernel(&policy, sizeof(policy), base + 1) * 10 + (policy == NULL);
	/* The rq clocks are the model's one clock (scx_bpf_now()'s); no lost idle time. A model task's prio is its
	 * static_prio (nice 0: 120), never an RT one. */
	now = scx_bpf_now();
	param[8] = rq1 ? (rq1->clock_task == now) * 10 + (rq1->lost_idle_time == 0) : -1;
	param[9] = ((struct task_struct___prio *)p)->prio;
	static const char fmt[] = "%llu %llu %llu %lld %lld %llu %lld %lld %lld %lld";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SEC(".struct_ops.link")
struct sched_ext_ops kernel_types_ops = {
	.enqueue = (void *)kt_enqueue,
	.name = "kernel_types",
};
