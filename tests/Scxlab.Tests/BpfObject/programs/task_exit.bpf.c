/* task_exit: ops.disable and ops.exit_task when a task dies. A FIFO of pids in a queue map, dispatched to the global
 * DSQ; ops.disable and ops.exit_task record what they see, and ops.exit_task reports it: the task, the order (disable
 * first), exit_task's args (cancelled false), that scx_bpf_task_cgroup() accepts the task (a kf_task of the op) and
 * that the dead task is no longer on the CPU. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
struct scx_exit_task_args {
	bool cancelled;
};
struct kernfs_node {
	u64 id;
};
struct cgroup {
	struct kernfs_node *kn;
	int level;
};
#pragma clang attribute pop

struct cgroup *scx_bpf_task_cgroup(struct task_struct *p) __ksym;
void bpf_cgroup_release(struct cgroup *cgrp) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, u32);
} fifo SEC(".maps");

u64 disabled_pid, exited;

SCX_OPS2(void, te_enqueue, struct task_struct *, p, u64, enq_flags)
{
	u32 pid = p->pid;

	bpf_map_push_elem(&fifo, &pid, 0);
}

SCX_OPS2(void, te_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct task_struct *p;
	u32 pid;

	if (bpf_map_pop_elem(&fifo, &pid))
		return;
	p = bpf_task_from_pid(pid);
	if (!p)
		return;
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	bpf_task_release(p);
}

SCX_OPS1(void, te_disable, struct task_struct *, p)
{
	disabled_pid = p->pid;
}

SCX_OPS2(void, te_exit_task, struct task_struct *, p, struct scx_exit_task_args *, args)
{
	struct cgroup *cg = scx_bpf_task_cgroup(p);
	u64 data[5];

	bpf_cgroup_release(cg);
	exited++;
	data[0] = p->pid;
	data[1] = disabled_pid == p->pid;
	data[2] = args->cancelled;
	data[3] = exited;
	data[4] = scx_bpf_task_running(p);
	scx_bpf_exit_bstr(0, "exit_task pid=%llu disabled_first=%llu cancelled=%llu exited=%llu running=%llu", data, sizeof(data));
}

SEC(".struct_ops.link")
struct sched_ext_ops task_exit_ops = {
	.enqueue = (void *)te_enqueue,
	.dispatch = (void *)te_dispatch,
	.disable = (void *)te_disable,
	.exit_task = (void *)te_exit_task,
	.name = "task_exit",
};
