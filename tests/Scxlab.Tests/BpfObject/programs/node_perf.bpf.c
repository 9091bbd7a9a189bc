/* node_perf: the NUMA-node and cpuperf kfuncs scx_bpfland calls, and a read of p->scx.flags.
 * mode 0: ops.enqueue reports scx_bpf_nr_node_ids(), scx_bpf_cpu_node(1), scx_bpf_cpuperf_cur/cap(0) and
 * p->scx.flags; the others make the argument checks fail: 1 a cpuperf target above SCX_CPUPERF_ONE,
 * 2 a per-node idle mask without SCX_OPS_BUILTIN_IDLE_PER_NODE, 3 the node of a CPU that does not exist;
 * 4 scx_bpf_pick_idle_cpu_node(), which needs the flag (user space sets node_perf_ops.flags), and 5 the
 * non-node scx_bpf_pick_idle_cpu(), which the flag forbids.
 * Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

u32 scx_bpf_nr_node_ids(void) __ksym __weak;
int scx_bpf_cpu_node(s32 cpu) __ksym __weak;
u32 scx_bpf_cpuperf_cur(s32 cpu) __ksym __weak;
u32 scx_bpf_cpuperf_cap(s32 cpu) __ksym __weak;
void scx_bpf_cpuperf_set(s32 cpu, u32 perf) __ksym __weak;
const struct cpumask *scx_bpf_get_idle_cpumask_node(int node) __ksym __weak;
void scx_bpf_put_idle_cpumask(const struct cpumask *cpumask) __ksym;
s32 scx_bpf_pick_idle_cpu_node(const struct cpumask *cpus_allowed, int node, u64 flags) __ksym __weak;

const volatile u32 mode;

SCX_OPS2(void, np_enqueue, struct task_struct *, p, u64, enq_flags)
{
	if (mode == 1) {
		scx_bpf_cpuperf_set(0, 2048);
	} else if (mode == 2) {
		const struct cpumask *idle = scx_bpf_get_idle_cpumask_node(0);
		scx_bpf_put_idle_cpumask(idle);
	} else if (mode == 4) {
		u64 data[] = { scx_bpf_pick_idle_cpu_node(p->cpus_ptr, 0, 2) };

		scx_bpf_exit_bstr(0, "node_pick=%lld", data, sizeof(data));
	} else if (mode == 5) {
		scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	} else if (mode == 3) {
		scx_bpf_cpu_node(7);
	} else {
		u64 data[] = { scx_bpf_nr_node_ids(), scx_bpf_cpu_node(1), scx_bpf_cpuperf_cur(0), scx_bpf_cpuperf_cap(0), p->scx.flags };
		scx_bpf_exit_bstr(0, "nodes=%llu node1=%llu cur=%llu cap=%llu flags=0x%llx", data, sizeof(data));
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SEC(".struct_ops.link")
struct sched_ext_ops node_perf_ops = {
	.enqueue = (void *)np_enqueue,
	.name = "node_perf",
};
