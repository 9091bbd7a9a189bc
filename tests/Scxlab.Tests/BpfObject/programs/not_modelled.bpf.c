/* not_modelled: a FIFO of pids whose programs, as rodata mode says, reach something the model does not cover
 * (scx_bpf_pick_idle_cpu() with a flag beyond SCX_PICK_IDLE_CORE | SCX_PICK_IDLE_IN_NODE, which the kernel
 * ignores and the model does not cover): mode 1 from ops.enqueue (so at boot), mode 2 from ops.dispatch
 * on CPU 0 while ops.dispatch on CPU 1 calls scx_bpf_error() (a real exit on other paths), mode 3 from
 * ops.dispatch on every CPU. With mode 4, a full FIFO takes a push with BPF_EXIST by dropping its oldest pid.
 * Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#define BPF_NOEXIST 1
#define BPF_EXIST 2

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, s32);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 2);
	__type(value, s32);
} ring SEC(".maps");

const volatile u32 mode;


static void unmodelled(struct task_struct *p)
{
	scx_bpf_pick_idle_cpu(p->cpus_ptr, 1ULL << 8);
}

SCX_OPS2(void, nm_enqueue, struct task_struct *, p, u64, enq_flags)
{
	s32 pid = p->pid, a = 1, b = 2, c = 3, x = 0, y = 0, z = 0;
	s64 full, replaced, noexist;

	if (mode == 1)
		unmodelled(p);
	if (mode == 4) {
		bpf_map_push_elem(&ring, &a, 0);
		bpf_map_push_elem(&ring, &b, 0);
		full = bpf_map_push_elem(&ring, &c, 0);
		replaced = bpf_map_push_elem(&ring, &c, BPF_EXIST);
		noexist = bpf_map_push_elem(&ring, &c, BPF_NOEXIST);
		bpf_map_pop_elem(&ring, &x);
		bpf_map_pop_elem(&ring, &y);
		z = bpf_map_pop_elem(&ring, &z);
		{
			static const char fmt[] = "full=%lld replaced=%lld noexist=%lld x=%d y=%d empty=%d";
			u64 r[6] = { full, replaced, noexist, x, y, z };

			scx_bpf_exit_bstr(0, (char *)fmt, r, sizeof(r));
		}
		return;
	}
	if (bpf_map_push_elem(&fifo, &pid, 0))
		scx_bpf_error("fifo full");
}

SCX_OPS2(void, nm_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct task_struct *p;
	s32 pid;

	if (bpf_map_pop_elem(&fifo, &pid))
		return;
	p = bpf_task_from_pid(pid);
	if (!p)
		return;
	if ((mode == 2 && cpu == 0) || mode == 3) {
		unmodelled(p);
		bpf_task_release(p);
		return;
	}
	if (mode == 2 && cpu == 1) {
		bpf_task_release(p);
		scx_bpf_error("boom on cpu 1");
		return;
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	bpf_task_release(p);
}

SEC(".struct_ops.link")
struct sched_ext_ops not_modelled_ops = {
	.enqueue = (void *)nm_enqueue,
	.dispatch = (void *)nm_dispatch,
	.name = "not_modelled",
};
