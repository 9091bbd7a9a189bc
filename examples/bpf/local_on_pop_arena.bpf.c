/* local_on_pop_arena: local_on_pop with its FIFO of pids in a BPF arena (BPF_MAP_TYPE_ARENA): each queued task gets
 * a node in a page of its own from bpf_arena_alloc_pages(), linked in a list whose head and tail are __arena globals (in the arena's last page),
 * under a bpf_spin_lock; ops.dispatch unlinks the first node, frees its page and inserts the task as local_on_pop
 * does (the C# twin: src/Scxlab/Policies/LocalOnPop.cs). */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 16);
	__ulong(map_extra, 1ull << 44);
} arena SEC(".maps");

struct node {
	struct node __arena *next;
	s32 pid;
};

struct node __arena *__arena head; /* in the arena too: its global pages */
struct node __arena *__arena tail;
struct bpf_spin_lock lock;

SCX_OPS2(void, lopa_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct node __arena *n = bpf_arena_alloc_pages(&arena, NULL, 1, NUMA_NO_NODE, 0);

	if (!n) {
		scx_bpf_error("Failed to enqueue %s", p->comm);
		return;
	}
	n->pid = p->pid;
	bpf_spin_lock(&lock);
	if (tail)
		tail->next = n;
	else
		head = n;
	tail = n;
	bpf_spin_unlock(&lock);
}

SCX_OPS2(void, lopa_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct node __arena *n;
	struct task_struct *p;
	s32 pid;

	bpf_spin_lock(&lock);
	n = head;
	if (n) {
		head = n->next;
		if (!head)
			tail = NULL;
	}
	bpf_spin_unlock(&lock);
	if (!n)
		return;
	pid = n->pid;
	bpf_arena_free_pages(&arena, n, 1);
	p = bpf_task_from_pid(pid);
	if (!p)
		return;
	if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, SCX_SLICE_DFL, 0);
	else
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	bpf_task_release(p);
}

SEC(".struct_ops.link")
struct sched_ext_ops local_on_pop_arena_ops = {
	.enqueue = (void *)lopa_enqueue,
	.dispatch = (void *)lopa_dispatch,
	.name = "local_on_pop_arena",
};
