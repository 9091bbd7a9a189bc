/* current: bpf_get_current_task_btf() (scx's is_migration_disabled() compares it with p) and
 * bpf_printk(). The first ops.enqueue runs at load, on no task the model has: `current` compares
 * unequal to p; with rodata deref set the program reads it, which the model refuses. Written for
 * the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

static struct task_struct *(*bpf_get_current_task_btf)(void) = (void *)158;
static long (*bpf_trace_printk)(const char *fmt, u32 fmt_size, ...) = (void *)6;

const volatile u32 deref;

SCX_OPS2(void, cur_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	static const char line[] = "enqueue %d, current is p: %d, tag %X";
	u64 param[2];

	bpf_trace_printk(line, sizeof(line), p->pid, cur == p, 0xab);
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
