/* insert_recheck_cancel: pop a pid, test p->cpus_ptr, insert SCX_DSQ_LOCAL_ON|cpu, test the mask
 * again and, if it changed, scx_bpf_dispatch_cancel() and fall back to SCX_DSQ_GLOBAL (the BPF C
 * twin of src/Scxlab/Policies/InsertRecheckCancel.cs). ops.dequeue removes the pid. */
#include <scxlab_bpf.h>
#include <pid_list.h>

char _license[] SEC("license") = "GPL";

struct bpf_spin_lock lock SEC(".data.queue");
struct pid_list queue SEC(".data.queue");

SCX_OPS2(void, irc_enqueue, struct task_struct *, p, u64, enq_flags)
{
	bool ok;

	bpf_spin_lock(&lock);
	ok = pid_list_push(&queue, p->pid);
	bpf_spin_unlock(&lock);
	if (!ok)
		scx_bpf_error("Failed to enqueue %s", p->comm);
}

SCX_OPS2(void, irc_dequeue, struct task_struct *, p, u64, deq_flags)
{
	bpf_spin_lock(&lock);
	pid_list_remove(&queue, p->pid);
	bpf_spin_unlock(&lock);
}

SCX_OPS2(void, irc_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct task_struct *p;
	bool found;
	s32 pid = 0;

	bpf_spin_lock(&lock);
	found = pid_list_peek(&queue, &pid);
	if (found)
		pid_list_remove(&queue, pid);
	bpf_spin_unlock(&lock);
	if (!found)
		return;
	p = bpf_task_from_pid(pid);
	if (!p)
		return;
	if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
		bpf_task_release(p);
		return;
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, SCX_SLICE_DFL, 0);
	if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
		/* The mask changed under us: take the insert back and let any allowed CPU have it. */
		scx_bpf_dispatch_cancel();
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	}
	bpf_task_release(p);
}

SEC(".struct_ops.link")
struct sched_ext_ops insert_recheck_cancel_ops = {
	.enqueue = (void *)irc_enqueue,
	.dequeue = (void *)irc_dequeue,
	.dispatch = (void *)irc_dispatch,
	.name = "insert_recheck_cancel",
};
