/* current: bpf_get_current_task_btf() (scx's is_migration_disabled() compares it with p) and
 * bpf_printk(). The first ops.enqueue runs at load, in the kernel's enable path, on its helper kthread
 * (scx_enable_helper): `current` compares unequal to p; with rodata helper set the program reads what the
 * model has of it (a SCHED_FIFO kthread, child of kthreadd), with deref set its pid, which the model does not
 * have. With waker set, ops.enqueue reports what it sees of the process a scenario's scripted actor runs when that
 * actor's wakeup reaches it. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

static struct task_struct *(*bpf_get_current_task_btf)(void) = (void *)158;
static long (*bpf_trace_printk)(const char *fmt, u32 fmt_size, ...) = (void *)6;

const volatile u32 deref, helper, waker;

struct task_struct___kt {
	u32 flags;
	char comm[16];
	struct task_struct___kt *real_parent;
	s32 pid;
	int prio;
	unsigned int policy;
} __attribute__((preserve_access_index));

SCX_OPS2(void, cur_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	static const char line[] = "enqueue %d, current is p: %d, tag %X";
	u64 param[2];

	bpf_trace_printk(line, sizeof(line), p->pid, cur == p, 0xab);
	if (helper) {
		static const char hfmt[] = "kthread=%llu comm=%llu parent=%llu grandparent_idle=%llu prio=%llu policy=%llu";
		struct task_struct___kt *k = (void *)cur;
		u64 h[6];

		h[0] = (k->flags & 0x00200000) != 0;
		h[1] = !__builtin_memcmp(k->comm, "scx_enable_help", 16);
		h[2] = k->real_parent->pid;
		h[3] = !__builtin_memcmp(k->real_parent->real_parent->comm, "swapper/0", 10);
		h[4] = k->prio;
		h[5] = k->policy;
		scx_bpf_exit_bstr(0, (char *)hfmt, h, sizeof(h));
		return;
	}
	if (waker) {
		static const char wfmt[] = "pid=%llu tgid=%llu comm=%llu kthread=%llu prio=%llu policy=%llu parent=%llu";
		struct task_struct___kt *k = (void *)cur;
		u64 w[7];

		if (k->flags & 0x00200000) {
			/* The enable path's enqueues (on sched_ext's kthread): queue them. */
			scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
			return;
		}
		w[0] = k->pid;
		w[1] = ((struct task_struct *)cur)->tgid;
		w[2] = !__builtin_memcmp(k->comm, "waker", 6);
		w[3] = (k->flags & 0x00200000) != 0;
		w[4] = k->prio;
		w[5] = k->policy;
		w[6] = k->real_parent->pid;
		scx_bpf_exit_bstr(0, (char *)wfmt, w, sizeof(w));
		return;
	}
	param[0] = cur != p;
	param[1] = deref ? cur->pid : 0;
	static const char fmt[] = "differs=%llu pid=%llu";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SEC(".struct_ops.link")
struct sched_ext_ops current_ops = {
	.enqueue = (void *)cur_enqueue,
	.name = "current",
};
