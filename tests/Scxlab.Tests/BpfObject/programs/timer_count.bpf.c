/* timer_count: exercises the bpf_timer helpers' return codes in ops.init and a timer that fires.
 * rodata mode: 0 = the callback counts, 1 = the callback dereferences NULL, 2 = the callback re-arms
 * the timer (periodic, as scx_central's), 3 = the callback reads `current` (the task the timer's softirq interrupted)
 * and its CPU. ops.enqueue ends the scheduler once `fired` reaches
 * exit_at, reporting what it saw; until then it queues on the global DSQ. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct bpf_timer { u64 __opaque[2]; } __attribute__((aligned(8)));

static long (*bpf_timer_init)(struct bpf_timer *timer, void *map, u64 flags) = (void *)169;
static long (*bpf_timer_set_callback)(struct bpf_timer *timer, void *fn) = (void *)170;
static long (*bpf_timer_start)(struct bpf_timer *timer, u64 nsecs, u64 flags) = (void *)171;
static long (*bpf_timer_cancel)(struct bpf_timer *timer) = (void *)172;
static struct task_struct *(*bpf_get_current_task_btf)(void) = (void *)158;

struct tmr { u64 pad; struct bpf_timer timer; };
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct tmr);
} timers SEC(".maps");

const volatile u32 mode;
const volatile u64 exit_at = 1;

u64 fired, bad_key;
s64 cur_pid = -1, cur_cpu = -1;
s64 uninit, nocb, busy, badflags, cancel_armed, cancel_idle;

static int timerfn(void *map, int *key, struct tmr *unused)
{
	if (mode == 1) {
		u32 none = 7;
		struct tmr *t = bpf_map_lookup_elem(&timers, &none);

		return t->pad; /* NULL: key 7 is out of range */
	}
	if (mode == 3) {
		struct task_struct *cur = bpf_get_current_task_btf();

		cur_pid = cur->pid;
		cur_cpu = bpf_get_smp_processor_id();
	}
	if (*key != 0)
		bad_key++;
	fired++;
	if (mode == 2) {
		u32 zero = 0;
		struct tmr *t = bpf_map_lookup_elem(&timers, &zero);

		if (t)
			bpf_timer_start(&t->timer, 1000000, 0);
	}
	return 0;
}

SCX_OPS0(s32, tc_init)
{
	u32 key = 0;
	struct tmr *t = bpf_map_lookup_elem(&timers, &key);

	if (!t)
		return -2;
	uninit = bpf_timer_start(&t->timer, 1000, 0);
	if (bpf_timer_init(&t->timer, &timers, 1))
		return -22;
	nocb = bpf_timer_start(&t->timer, 1000, 0);
	busy = bpf_timer_init(&t->timer, &timers, 1);
	if (bpf_timer_set_callback(&t->timer, timerfn))
		return -22;
	badflags = bpf_timer_start(&t->timer, 1000, 4);
	if (bpf_timer_start(&t->timer, 1000, 0))
		return -22;
	cancel_armed = bpf_timer_cancel(&t->timer);
	cancel_idle = bpf_timer_cancel(&t->timer);
	return bpf_timer_start(&t->timer, 1000000, 0);
}

SCX_OPS2(void, tc_enqueue, struct task_struct *, p, u64, enq_flags)
{
	if (fired >= exit_at && mode == 3) {
		/* swapper/0 (pid 0) or p, whichever CPU 0 ran when the timer fired. */
		u64 param[] = { cur_pid == 0 || cur_pid == p->pid, cur_cpu };
		static const char fmt[] = "current_ok=%llu cpu=%lld";
		scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
		return;
	}
	if (fired >= exit_at) {
		u64 param[] = { fired, bad_key, uninit, nocb, busy, badflags, cancel_armed, cancel_idle };
		static const char fmt[] = "fired=%llu bad_key=%llu uninit=%lld nocb=%lld busy=%lld badflags=%lld cancel=%lld,%lld";
		scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
		return;
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SEC(".struct_ops.link")
struct sched_ext_ops timer_count_ops = {
	.enqueue = (void *)tc_enqueue,
	.init = (void *)tc_init,
	.name = "timer_count",
};
