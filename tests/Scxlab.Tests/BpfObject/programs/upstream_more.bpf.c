/* upstream_more: what scx_qmap, scx_tickless and scx_beerland need beyond the other test programs.
 * ops.enqueue reports (mode 0): a BPF_MAP_TYPE_ARRAY_OF_MAPS of two queues filled by a static
 * initializer (push through the outer map's slot 1, pop from the inner map itself, a missing slot),
 * p->tgid, scx_bpf_cpu_curr() of an idle CPU (the idle task: non-NULL), and three
 * bpf_cpumask_any_distribute() picks over the online CPUs. Other modes: 1 scx_bpf_cpu_curr() of a CPU
 * that does not exist; 2 bpf_timer_init() on a timer past the model's 8 timer actors; 3 scx_bpf_dsq_reenq()
 * of the global DSQ, which the kernel refuses; 4 bpf_loop(): stopped early, run to the end, bad flags;
 * 5 bpf_for_each_map_elem() over an array map, whole and stopped at key 1; 6 the `current` helpers, jiffies,
 * the NUMA node and bpf_cpumask_any_and_distribute() of p's mask and the online CPUs; 7 a 64-bit
 * compare-and-swap on a global (values above 32 bits on both sides). ops.dump and
 * ops.cpu_online, ops.yield and ops.cpu_acquire are there to be accepted and never run. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct bpf_timer { u64 __opaque[2]; } __attribute__((aligned(8)));
static long (*bpf_timer_init)(struct bpf_timer *timer, void *map, u64 flags) = (void *)169;

struct task_struct *scx_bpf_cpu_curr(s32 cpu) __ksym __weak;
u32 bpf_cpumask_any_distribute(const struct cpumask *cpumask) __ksym __weak;
void scx_bpf_dsq_reenq(u64 dsq_id, u64 reenq_flags) __ksym __weak;
static long (*bpf_loop)(u32 nr_loops, void *callback_fn, void *callback_ctx, u64 flags) = (void *)181;

u32 bpf_cpumask_any_and_distribute(const struct cpumask *src1, const struct cpumask *src2) __ksym __weak;
static u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static long (*bpf_get_current_comm)(void *buf, u32 size_of_buf) = (void *)16;
static long (*bpf_get_numa_node_id)(void) = (void *)42;
static u64 (*bpf_jiffies64)(void) = (void *)118;
static u64 (*bpf_ktime_get_boot_ns)(void) = (void *)125;
static long (*bpf_for_each_map_elem)(void *map, void *callback_fn, void *callback_ctx, u64 flags) = (void *)164;

struct loop_ctx { u64 sum; u32 stop_at; };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} weights SEC(".maps");

/* bpf_for_each_map_elem()'s callback: key * 100 + value into the sum; stop at stop_at. */
static long each_body(void *map, u32 *key, u64 *value, struct loop_ctx *l)
{
	l->sum += *key * 100 + *value;
	return *key == l->stop_at;
}

/* bpf_loop()'s callback: adds the index into the caller's stack struct; 1 (stop) at stop_at. */
static long loop_body(u32 i, void *c)
{
	struct loop_ctx *l = c;

	l->sum += i;
	return i == l->stop_at;
}
const struct cpumask *scx_bpf_get_online_cpumask(void) __ksym;
void scx_bpf_put_cpumask(const struct cpumask *cpumask) __ksym;

struct ring {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, u32);
} ring0 SEC(".maps"), ring1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, int);
	__array(values, struct ring);
} rings SEC(".maps") = {
	.values = { [0] = &ring0, [1] = &ring1 },
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, struct bpf_timer);
} many_timers SEC(".maps");

const volatile u32 mode;
u64 word64;

SCX_OPS2(void, um_enqueue, struct task_struct *, p, u64, enq_flags)
{
	if (mode == 1) {
		scx_bpf_cpu_curr(9);
	} else if (mode == 4) {
		struct loop_ctx a = { 0, 3 }, b = { 0, 100 };
		u64 data[5];

		data[0] = bpf_loop(10, loop_body, &a, 0);
		data[1] = bpf_loop(5, loop_body, &b, 0);
		data[2] = a.sum;
		data[3] = b.sum;
		data[4] = bpf_loop(1, loop_body, &a, 1);
		scx_bpf_exit_bstr(0, "loops=%lld,%lld sums=%lld,%lld flags=%lld", data, sizeof(data));
	} else if (mode == 6) {
		const struct cpumask *online = scx_bpf_get_online_cpumask();
		char comm[16];
		u64 data[6];

		data[0] = bpf_get_current_comm(comm, sizeof(comm));
		data[1] = comm[0] != 0 && comm[15] == 0;
		data[2] = bpf_get_numa_node_id();
		data[3] = bpf_ktime_get_boot_ns() == bpf_ktime_get_ns();
		data[4] = bpf_jiffies64();
		data[5] = bpf_cpumask_any_and_distribute(online, p->cpus_ptr);
		scx_bpf_put_cpumask(online);
		scx_bpf_exit_bstr(0, "comm=%lld named=%lld node=%lld boot=%lld jiffies=%lld any_and=%lld", data, sizeof(data));
	} else if (mode == 7) {
		u64 data[4];

		data[0] = __sync_val_compare_and_swap(&word64, 0, 0x100000002ULL);
		data[1] = __sync_val_compare_and_swap(&word64, 2, 5);		/* low half matches only: fails */
		data[2] = __sync_val_compare_and_swap(&word64, 0x100000002ULL, 0x300000004ULL);
		data[3] = word64;
		scx_bpf_exit_bstr(0, "cas=%llx,%llx,%llx now=%llx", data, sizeof(data));
	} else if (mode == 5) {
		struct loop_ctx a = { 0, 100 }, b = { 0, 1 };
		u64 data[4];

		for (u32 k = 0; k < 4; k++) {
			u64 *v = bpf_map_lookup_elem(&weights, &k);

			if (v)
				*v = k + 1;
		}
		data[0] = bpf_for_each_map_elem(&weights, each_body, &a, 0);
		data[1] = a.sum;
		data[2] = bpf_for_each_map_elem(&weights, each_body, &b, 0);
		data[3] = b.sum;
		scx_bpf_exit_bstr(0, "each=%lld sum=%lld each_stopped=%lld sum=%lld", data, sizeof(data));
	} else if (mode == 3) {
		scx_bpf_dsq_reenq(SCX_DSQ_GLOBAL, 0);
	} else if (mode == 2) {
		u32 key = 12;
		struct bpf_timer *t = bpf_map_lookup_elem(&many_timers, &key);

		if (t)
			bpf_timer_init(t, &many_timers, 1);
	} else {
		int one = 1, two = 2;
		u32 pid = p->pid, popped = 0;
		void *ring = bpf_map_lookup_elem(&rings, &one);
		const struct cpumask *online = scx_bpf_get_online_cpumask();
		u64 data[7];

		data[0] = ring ? bpf_map_push_elem(ring, &pid, 0) : 99;
		data[1] = bpf_map_pop_elem(&ring1, &popped) == 0 && popped == pid;
		data[2] = bpf_map_lookup_elem(&rings, &two) == 0;
		data[3] = p->tgid == p->pid;
		data[4] = scx_bpf_cpu_curr(0) != 0;
		data[5] = bpf_cpumask_any_distribute(online) * 10 + bpf_cpumask_any_distribute(online);
		data[6] = bpf_cpumask_any_distribute(online);
		scx_bpf_put_cpumask(online);
		scx_bpf_exit_bstr(0, "push=%llu popped=%llu missing=%llu tgid=%llu curr=%llu distribute=%llu,%llu", data, sizeof(data));
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SCX_OPS1(void, um_dump, void *, ctx) { }
SCX_OPS1(void, um_cpu_online, s32, cpu) { }
SCX_OPS2(bool, um_yield, struct task_struct *, from, struct task_struct *, to) { return false; }
SCX_OPS2(void, um_cpu_acquire, s32, cpu, void *, args) { }

SEC(".struct_ops.link")
struct sched_ext_ops upstream_more_ops = {
	.enqueue = (void *)um_enqueue,
	.dump = (void *)um_dump,
	.cpu_online = (void *)um_cpu_online,
	.yield = (void *)um_yield,
	.cpu_acquire = (void *)um_cpu_acquire,
	.name = "upstream_more",
};
