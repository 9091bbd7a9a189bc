/* dequeue_sync: per-task "queued" state set by ops.enqueue and cleared by ops.dequeue under a
 * lock that ops.dispatch holds across "check state, test the mask, insert" (the BPF C twin of
 * src/Scxlab/Policies/DequeueSync.cs; fix (d), selftest dequeue scenario 6).
 * As in the C# policy, kfuncs are called under the lock: the real verifier forbids that, and a
 * real scheduler gets the same exclusion from an arena lock or a per-task claim flag; scxlab does
 * not run the verifier's lock-region check. */
#include <scxlab_bpf.h>
#include <pid_list.h>

char _license[] SEC("license") = "GPL";

struct task_ctx {
	u64 queued;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx SEC(".maps");

struct bpf_spin_lock lock SEC(".data.queue");
struct pid_list queue SEC(".data.queue");

SCX_OPS2(void, dequeue_sync_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct task_ctx *tctx = bpf_task_storage_get(&task_ctx, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	bool ok;

	if (!tctx)
		return;
	bpf_spin_lock(&lock);
	tctx->queued = 1;
	ok = pid_list_push(&queue, p->pid);
	bpf_spin_unlock(&lock);
	if (!ok)
		scx_bpf_error("Failed to enqueue %s", p->comm);
}

SCX_OPS2(void, dequeue_sync_dequeue, struct task_struct *, p, u64, deq_flags)
{
	struct task_ctx *tctx = bpf_task_storage_get(&task_ctx, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!tctx)
		return;
	bpf_spin_lock(&lock);
	tctx->queued = 0;
	pid_list_remove(&queue, p->pid);
	bpf_spin_unlock(&lock);
}

SCX_OPS2(void, dequeue_sync_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct task_struct *p;
	struct task_ctx *tctx;
	s32 pid = 0;
	bool allowed;

	bpf_spin_lock(&lock);
	if (!pid_list_peek(&queue, &pid)) {
		bpf_spin_unlock(&lock);
		return;
	}
	p = bpf_task_from_pid(pid);
	pid_list_remove(&queue, pid);
	if (!p) {
		bpf_spin_unlock(&lock);
		return;
	}
	tctx = bpf_task_storage_get(&task_ctx, p, 0, 0);
	if (!tctx || !tctx->queued) {
		bpf_spin_unlock(&lock);
		bpf_task_release(p);
		return;
	}
	tctx->queued = 0;
	allowed = bpf_cpumask_test_cpu(cpu, p->cpus_ptr);
	scx_bpf_dsq_insert(p, allowed ? SCX_DSQ_LOCAL_ON | cpu : SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	bpf_spin_unlock(&lock);
	bpf_task_release(p);
}

SEC(".struct_ops.link")
struct sched_ext_ops dequeue_sync_ops = {
	.enqueue = (void *)dequeue_sync_enqueue,
	.dequeue = (void *)dequeue_sync_dequeue,
	.dispatch = (void *)dequeue_sync_dispatch,
	.name = "dequeue_sync",
};
