/* pair_idioms: what scx_pair needs from the model. Its user space sizes a map before load (pair_ctx has no
 * max_entries of its own: --max-entries) and fills an array of maps with queues it creates (--map qarr[0]=new); its
 * values hold a struct bpf_spin_lock; ops.enqueue asks for the task's cgroup (scx_bpf_task_cgroup()); ops.cpu_release
 * marks a CPU taken by a higher class and ops.cpu_acquire unmarks it, and ops.dispatch relies on that; timestamps are
 * compared with scx_bpf_now(); a const volatile array is resized and written before load. Modes (rodata mode): 0 schedules FIFO through the queue; 1 makes ops.enqueue report;
 * 2 makes ops.dispatch ask for the cgroup of a task it is not operating on; 3 makes ops.enqueue report the rq it holds
 * (scx_bpf_locked_rq()), 4 makes ops.init ask for one (it holds none). Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
struct kernfs_node {
	u64 id;
};
struct cgroup {
	struct kernfs_node *kn;
	int level;
};
struct rq {
	int cpu;
};
#pragma clang attribute pop

struct rq *scx_bpf_locked_rq(void) __ksym;

struct cgroup *scx_bpf_task_cgroup(struct task_struct *p) __ksym;
void bpf_cgroup_release(struct cgroup *cgrp) __ksym;

struct pair_ctx {
	struct bpf_spin_lock lock;
	u64 enqueued;
	u64 started_at;
};

/* No max_entries: user space sets it (bpf_map__set_max_entries()). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, struct pair_ctx);
} ctxs SEC(".maps");

struct task_q {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, u32);
};

/* Slots filled by user space with queues it creates. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, s32);
	__array(values, struct task_q);
} qarr SEC(".maps");

const volatile u32 mode;
/* scx's RESIZABLE_ARRAY(rodata, pair_cpu): alone in its own section, grown by user space (--rodata pair_cpu[]=N). */
const volatile s32 pair_cpu[1] SEC(".rodata.pair_cpu");
const volatile u32 pair_idx = 1;
u64 now_at_init;
u32 released[2];

SCX_OPS0(s32, pi_init)
{
	now_at_init = scx_bpf_now();
	if (mode == 4 && !scx_bpf_locked_rq())
		return -22;
	return 0;
}

SCX_OPS2(void, pi_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct cgroup *cg = scx_bpf_task_cgroup(p);
	u64 cgid = cg->kn->id, expired;
	struct pair_ctx *c;
	u32 key = 0, pid = p->pid;
	void *q;

	bpf_cgroup_release(cg);
	if (mode == 3) {
		struct rq *rq = scx_bpf_locked_rq();
		u64 data[2] = { rq ? rq->cpu : -1, scx_bpf_task_cpu(p) };

		scx_bpf_exit_bstr(0, "locked_rq=%lld task_cpu=%lld", data, sizeof(data));
		return;
	}
	c = bpf_map_lookup_elem(&ctxs, &key);
	if (!c) {
		scx_bpf_error("no pair_ctx");
		return;
	}
	bpf_spin_lock(&c->lock);
	c->enqueued++;
	/* A batch that started at 0 has long expired: the clock counts from boot. */
	expired = c->started_at + 20000000 < scx_bpf_now();
	bpf_spin_unlock(&c->lock);
	q = bpf_map_lookup_elem(&qarr, &key);
	if (!q) {
		scx_bpf_error("no queue in qarr[0]");
		return;
	}
	if (mode == 1) {
		u32 i = pair_idx;
		u64 data[5] = { cgid, c->enqueued, now_at_init, expired, 0 };

		if (i < 4)
			data[4] = *(const volatile s32 *)((const volatile char *)pair_cpu + i * sizeof(s32));
		scx_bpf_exit_bstr(0, "cgroup=%llu enqueued=%llu now_at_init=%llu expired=%llu pair_cpu=%lld", data, sizeof(data));
		return;
	}
	bpf_map_push_elem(q, &pid, 0);
}

SCX_OPS2(void, pi_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct task_struct *p;
	u32 key = 0, pid;
	void *q;

	if (cpu >= 0 && cpu < 2 && released[cpu])
		scx_bpf_error("ops.dispatch on CPU %d, released to a higher class and not acquired back", cpu);
	q = bpf_map_lookup_elem(&qarr, &key);
	if (!q || bpf_map_pop_elem(q, &pid))
		return;
	p = bpf_task_from_pid(pid);
	if (!p)
		return;
	if (mode == 2) {
		struct cgroup *cg = scx_bpf_task_cgroup(p);

		bpf_cgroup_release(cg);
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	/* The task may be allowed elsewhere only: wake its CPU, which may have gone idle. */
	scx_bpf_kick_cpu(scx_bpf_task_cpu(p), SCX_KICK_IDLE);
	bpf_task_release(p);
}

SCX_OPS2(void, pi_cpu_release, s32, cpu, void *, args)
{
	if (cpu >= 0 && cpu < 2)
		released[cpu] = 1;
}

SCX_OPS2(void, pi_cpu_acquire, s32, cpu, void *, args)
{
	if (cpu >= 0 && cpu < 2)
		released[cpu] = 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops pair_idioms_ops = {
	.init = (void *)pi_init,
	.enqueue = (void *)pi_enqueue,
	.dispatch = (void *)pi_dispatch,
	.cpu_release = (void *)pi_cpu_release,
	.cpu_acquire = (void *)pi_cpu_acquire,
	.name = "pair_idioms",
};
