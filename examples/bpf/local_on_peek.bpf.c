/* local_on_peek: peek the head of the queue, test p->cpus_ptr, then remove it and insert
 * SCX_DSQ_LOCAL_ON|cpu; ops.dequeue removes the task from the queue (the BPF C twin of
 * src/Scxlab/Policies/LocalOnPeek.cs; race R2, the seed email). */
#include <scxlab_bpf.h>
#include <pid_list.h>

char _license[] SEC("license") = "GPL";

struct bpf_spin_lock lock SEC(".data.queue");
struct pid_list queue SEC(".data.queue");

SCX_OPS2(void, local_on_peek_enqueue, struct task_struct *, p, u64, enq_flags)
{
	bool ok;

	bpf_spin_lock(&lock);
	ok = pid_list_push(&queue, p->pid);
	bpf_spin_unlock(&lock);
	if (!ok)
		scx_bpf_error("Failed to enqueue %s", p->comm);
}

SCX_OPS2(void, local_on_peek_dequeue, struct task_struct *, p, u64, deq_flags)
{
	bpf_spin_lock(&lock);
	pid_list_remove(&queue, p->pid);
	bpf_spin_unlock(&lock);
}

SCX_OPS2(void, local_on_peek_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct task_struct *p;
	bool found, allowed, removed;
	s32 pid = 0;

	bpf_spin_lock(&lock);
	found = pid_list_peek(&queue, &pid);
	bpf_spin_unlock(&lock);
	if (!found)
		return;
	p = bpf_task_from_pid(pid);
	if (!p)
		return;
	allowed = bpf_cpumask_test_cpu(cpu, p->cpus_ptr);
	bpf_spin_lock(&lock);
	removed = pid_list_remove(&queue, pid);
	bpf_spin_unlock(&lock);
	if (removed)
		scx_bpf_dsq_insert(p, allowed ? SCX_DSQ_LOCAL_ON | cpu : SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	bpf_task_release(p);
}

SEC(".struct_ops.link")
struct sched_ext_ops local_on_peek_ops = {
	.enqueue = (void *)local_on_peek_enqueue,
	.dequeue = (void *)local_on_peek_dequeue,
	.dispatch = (void *)local_on_peek_dispatch,
	.name = "local_on_peek",
};
