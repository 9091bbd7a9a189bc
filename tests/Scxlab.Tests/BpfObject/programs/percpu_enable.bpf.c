/* percpu_enable: a BPF_MAP_TYPE_PERCPU_ARRAY of counters (as scx_simple's stats) and ops.enable
 * (as scx_simple's, which sets a task's starting vtime). Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

static void *(*bpf_map_lookup_percpu_elem)(void *map, const void *key, u32 cpu) = (void *)195;

struct {
	__uint(type, 6 /* BPF_MAP_TYPE_PERCPU_ARRAY */);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u64));
	__uint(max_entries, 2);
} counts SEC(".maps");

u64 enabled;

SCX_OPS1(void, pe_enable, struct task_struct *, p)
{
	p->scx.dsq_vtime = 1000 + p->pid;
	__sync_fetch_and_add(&enabled, 1);
}

SCX_OPS2(void, pe_enqueue, struct task_struct *, p, u64, enq_flags)
{
	u32 key = 1, cpu = bpf_get_smp_processor_id();
	u64 *mine = bpf_map_lookup_elem(&counts, &key), *other;
	u64 total = 0;

	if (!mine)
		return;
	(*mine)++;
	for (u32 c = 0; c < 8; c++) {
		other = bpf_map_lookup_percpu_elem(&counts, &key, c);
		if (other)
			total += *other;
	}
	u64 param[] = { enabled, p->scx.dsq_vtime - p->pid, *mine, total, cpu < 8 };
	static const char fmt[] = "enabled=%llu vtime-pid=%llu mine=%llu total=%llu ok=%llu";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SEC(".struct_ops.link")
struct sched_ext_ops percpu_enable_ops = {
	.enqueue = (void *)pe_enqueue,
	.enable = (void *)pe_enable,
	.name = "percpu_enable",
};
