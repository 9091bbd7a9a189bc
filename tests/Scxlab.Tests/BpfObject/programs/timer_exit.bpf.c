/* timer_exit: arms a bpf_timer with a callback in ops.init (as scx_central does) and records
 * the scx_exit_info it gets in ops.exit (as scx's UEI_RECORD does). Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct bpf_timer { u64 __opaque[2]; } __attribute__((aligned(8)));
struct scx_exit_info {
	int kind;
	s64 exit_code;
	const char *reason;
	const char *msg;
} __attribute__((preserve_access_index));

static long (*bpf_probe_read_kernel_str)(void *dst, u32 size, const void *src) = (void *)115;
static long (*bpf_timer_init)(struct bpf_timer *timer, void *map, u64 flags) = (void *)169;
static long (*bpf_timer_set_callback)(struct bpf_timer *timer, void *fn) = (void *)170;
static long (*bpf_timer_start)(struct bpf_timer *timer, u64 nsecs, u64 flags) = (void *)171;

struct tmr { struct bpf_timer timer; };
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct tmr);
} timers SEC(".maps");

u64 fired, armed;
char reason[16] = "unset";
s64 kind, code, copied;

static int timerfn(void *map, int *key, struct bpf_timer *timer)
{
	fired++;
	return 0;
}

SCX_OPS0(s32, te_init)
{
	u32 key = 0;
	struct tmr *t = bpf_map_lookup_elem(&timers, &key);

	if (!t)
		return -2;
	if (bpf_timer_init(&t->timer, &timers, 1) || bpf_timer_set_callback(&t->timer, timerfn) ||
	    bpf_timer_start(&t->timer, 1000000, 0))
		return -22;
	armed = 1;
	return 0;
}

SCX_OPS2(void, te_enqueue, struct task_struct *, p, u64, enq_flags)
{
	u64 param[] = { armed, fired };
	static const char fmt[] = "armed=%llu fired=%llu";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SCX_OPS1(void, te_exit, struct scx_exit_info *, ei)
{
	copied = bpf_probe_read_kernel_str(reason, sizeof(reason), ei->reason);
	kind = ei->kind;
	code = ei->exit_code;
}

SEC(".struct_ops.link")
struct sched_ext_ops timer_exit_ops = {
	.enqueue = (void *)te_enqueue,
	.init = (void *)te_init,
	.exit = (void *)te_exit,
	.name = "timer_exit",
};
