/* cgroups: the model's one cgroup, the root (a CONFIG_EXT_GROUP_SCHED kernel). ops.cgroup_init runs for it after
 * ops.init and before ops.init_task, with the settings the kernel gives the root (cpu.weight 100, a 100 ms period, no
 * quota, no burst), and creates its cgroup storage; ops.init_task finds the same cgroup in its arguments and the
 * storage made for it. A struct bpf_cpumask kept in the program's own global data takes the cpumask kfuncs' writes
 * (as scx_lavd's per-domain masks do), and an array of arrays and a struct are set from user space (--rodata
 * table[i][j]=v, pair.b=v).
 * ops.enqueue reports; with fail_cgroup_init set, ops.cgroup_init fails. Written for the tests. */
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
struct scx_cgroup_init_args {
	u32 weight;
	u64 bw_period_us;
	u64 bw_quota_us;
	u64 bw_burst_us;
};
struct scx_init_task_args {
	bool fork;
	struct cgroup *cgroup;
};
#pragma clang attribute pop

struct bpf_cpumask {
	struct cpumask cpumask;
	int usage;
};

struct cgctx {
	u64 weight, period, quota, burst, id;
};

struct {
	__uint(type, 32 /* BPF_MAP_TYPE_CGRP_STORAGE */);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cgctx);
} cgstor SEC(".maps");

static void *(*bpf_cgrp_storage_get)(void *map, struct cgroup *cgroup, void *value, u64 flags) = (void *)210;
struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym;
void bpf_cgroup_release(struct cgroup *cgrp) __ksym;
void bpf_cpumask_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
void bpf_cpumask_clear_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;

const volatile u32 fail_cgroup_init;
const volatile u16 table[2][3];
const volatile struct rodata_pair {
	u32 a, b;
} pair;

u64 init_done, cgroup_init_after_init, task_cgid, task_saw_storage;
struct bpf_cpumask dom_masks[2];

SCX_OPS0(s32, cg_init)
{
	init_done = 1;
	return 0;
}

SCX_OPS2(s32, cg_cgroup_init, struct cgroup *, cgrp, struct scx_cgroup_init_args *, args)
{
	struct cgctx *c;

	if (fail_cgroup_init)
		return -12;
	c = bpf_cgrp_storage_get(&cgstor, cgrp, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c)
		return -12;
	c->weight = args->weight;
	c->period = args->bw_period_us;
	c->quota = args->bw_quota_us;
	c->burst = args->bw_burst_us;
	c->id = cgrp->kn->id + 10 * cgrp->level;
	cgroup_init_after_init = init_done;
	return 0;
}

SCX_OPS2(s32, cg_init_task, struct task_struct *, p, struct scx_init_task_args *, args)
{
	struct cgroup *cg = args->cgroup;

	task_cgid = cg ? cg->kn->id : 0;
	task_saw_storage = cg && bpf_cgrp_storage_get(&cgstor, cg, 0, 0) != 0;
	return 0;
}

SCX_OPS2(void, cg_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct cgroup *root = bpf_cgroup_from_id(1);
	struct cgctx *c;
	u64 data[11];

	if (!root)
		return;
	c = bpf_cgrp_storage_get(&cgstor, root, 0, 0);
	bpf_cgroup_release(root);
	if (!c)
		return;
	bpf_cpumask_set_cpu(1, &dom_masks[1]);
	bpf_cpumask_set_cpu(0, &dom_masks[1]);
	bpf_cpumask_clear_cpu(0, &dom_masks[1]);
	data[0] = c->weight;
	data[1] = c->period;
	data[2] = c->quota;
	data[3] = c->burst;
	data[4] = c->id;
	data[5] = cgroup_init_after_init;
	data[6] = task_cgid;
	data[7] = task_saw_storage;
	data[8] = bpf_cpumask_test_cpu(1, (struct cpumask *)&dom_masks[1]);
	data[9] = bpf_cpumask_test_cpu(0, (struct cpumask *)&dom_masks[1]) + 10 * bpf_cpumask_test_cpu(1, (struct cpumask *)&dom_masks[0]);
	data[10] = table[1][2] + 1000 * pair.b;
	scx_bpf_exit_bstr(0, "weight=%llu period=%llu quota=%lld burst=%llu id=%llu after_init=%llu task_cg=%llu task_storage=%llu mask=%llu,%llu table=%llu", data, sizeof(data));
}

SEC(".struct_ops.link")
struct sched_ext_ops cgroups_ops = {
	.init = (void *)cg_init,
	.cgroup_init = (void *)cg_cgroup_init,
	.init_task = (void *)cg_init_task,
	.enqueue = (void *)cg_enqueue,
	.name = "cgroups",
};
