/* holds: a FIFO of pids in a queue map whose ops.dispatch, with rodata drop set, pops a pid and drops it
 * (the task is forgotten: QUEUED in BPF custody with nothing left to dispatch it). ops.enqueue also records
 * the last pid it saw in a global and in a hash map keyed by pid, so the task's pid lingers in the object's
 * memory: only `holds` (the places the scheduler keeps its tasks) tells the model that those are not custody.
 * Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, s32);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, s32);
	__type(value, u64);
} seen SEC(".maps");

const volatile u32 drop;
s32 last_pid;
u64 enqueues;

SCX_OPS2(void, h_enqueue, struct task_struct *, p, u64, enq_flags)
{
	s32 pid = p->pid;
	u64 one = 1;

	last_pid = pid;
	enqueues++;
	bpf_map_update_elem(&seen, &pid, &one, BPF_ANY);
	if (bpf_map_push_elem(&fifo, &pid, 0))
		scx_bpf_error("fifo full");
}

SCX_OPS2(void, h_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct task_struct *p;
	s32 pid;

	if (bpf_map_pop_elem(&fifo, &pid))
		return;
	if (drop)
		return;
	p = bpf_task_from_pid(pid);
	if (!p)
		return;
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	bpf_task_release(p);
}

SEC(".struct_ops.link")
struct sched_ext_ops holds_ops = {
	.enqueue = (void *)h_enqueue,
	.dispatch = (void *)h_dispatch,
	.name = "holds",
};
