/* timer_maps: scx_nest's timers — a per-CPU timer array sized for many CPUs and a lone stats timer in a map of its
 * own, declared after it. ops.init initializes the timers of the scenario's CPUs and the stats timer, and arms the
 * stats timer; its callback counts; ops.enqueue ends the scheduler once it fired. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct bpf_timer { u64 __opaque[2]; } __attribute__((aligned(8)));

static long (*bpf_timer_init)(struct bpf_timer *timer, void *map, u64 flags) = (void *)169;
static long (*bpf_timer_set_callback)(struct bpf_timer *timer, void *fn) = (void *)170;
static long (*bpf_timer_start)(struct bpf_timer *timer, u64 nsecs, u64 flags) = (void *)171;

struct pcpu { struct bpf_timer timer; };
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, struct pcpu);
} pcpu_timers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct bpf_timer);
} stats_timer SEC(".maps");

const volatile u32 nr_cpus = 2;
u64 fired;

static int pcpu_fn(void *map, int *key, struct pcpu *p)
{
	return 0;
}

static int stats_fn(void *map, int *key, struct bpf_timer *t)
{
	fired++;
	return 0;
}

SCX_OPS0(s32, tm_init)
{
	u32 key = 0;
	struct bpf_timer *t;

	for (u32 cpu = 0; cpu < nr_cpus && cpu < 64; cpu++) {
		struct pcpu *p = bpf_map_lookup_elem(&pcpu_timers, &cpu);

		if (!p || bpf_timer_init(&p->timer, &pcpu_timers, 1) || bpf_timer_set_callback(&p->timer, pcpu_fn))
			return -22;
	}
	t = bpf_map_lookup_elem(&stats_timer, &key);
	if (!t || bpf_timer_init(t, &stats_timer, 1) || bpf_timer_set_callback(t, stats_fn))
		return -22;
	return bpf_timer_start(t, 1000000, 0);
}

SCX_OPS2(void, tm_enqueue, struct task_struct *, p, u64, enq_flags)
{
	if (fired) {
		static const char fmt[] = "stats timer fired";
		scx_bpf_exit_bstr(0, (char *)fmt, (u64 *)0, 0);
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SEC(".struct_ops.link")
struct sched_ext_ops tm_ops = {
	.init = (void *)tm_init,
	.enqueue = (void *)tm_enqueue,
	.name = "timer_maps",
};
