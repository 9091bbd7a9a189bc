/* kernel_types: kernel types scx's library reaches through CO-RE beyond the sched_ext ones — atomic_t (the arena spin
 * lock's counter, relocated by its typedef's name) and p->cpus_mask (p2dq asks whether p->cpus_ptr == &p->cpus_mask,
 * i.e. whether the task's affinity is its own) — and bpf_trace_vprintk(), bpf_printk() with more than three
 * arguments. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
typedef struct {
	int counter;
} atomic_t;
struct task_struct___mask {
	const struct cpumask *cpus_ptr;
	struct cpumask cpus_mask;
};
#pragma clang attribute pop

static long (*bpf_trace_vprintk)(const char *fmt, u32 fmt_size, const void *data, u32 data_len) = (void *)177;

atomic_t hits;

SCX_OPS2(void, kt_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct task_struct___mask *t = (void *)p;
	static const char line[] = "vprintk %d %d %d %d";
	u64 args[4] = { 1, 2, 3, p->pid };
	u64 param[4];

	__sync_fetch_and_add(&hits.counter, 5);
	param[0] = hits.counter;
	param[1] = t->cpus_ptr == &t->cpus_mask;
	param[2] = bpf_cpumask_test_cpu(0, &t->cpus_mask);
	param[3] = bpf_trace_vprintk(line, sizeof(line), args, sizeof(args));
	static const char fmt[] = "%llu %llu %llu %lld";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SEC(".struct_ops.link")
struct sched_ext_ops kernel_types_ops = {
	.enqueue = (void *)kt_enqueue,
	.name = "kernel_types",
};
