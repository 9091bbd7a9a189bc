/* syscall: SEC("syscall") programs user space runs after load and before attaching (scx_tickless's and
 * scx_bpfland's enable_primary_cpu). add_cpu sets a bit of a global mask from its context struct
 * (fail=1 makes it return -22); ops.init checks it ran first; ops.enqueue reports the mask (with
 * report=0 it queues on the global DSQ instead). stop_now, run while attached (prog_run's pattern),
 * creates a DSQ from that unlocked context and ends the scheduler. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct cpu_arg {
	s32 cpu_id;
	u32 fail;
	u64 weight;
};

u64 mask, total_weight, init_saw;
const volatile u32 report = 1;

SEC("syscall")
int add_cpu(struct cpu_arg *input)
{
	if (input->fail)
		return -22;
	mask |= 1ULL << (input->cpu_id & 63);
	total_weight += input->weight;
	return 0;
}

SCX_OPS0(s32, sc_init)
{
	init_saw = mask;
	return 0;
}

SEC("syscall")
int stop_now(void *input)
{
	u64 data[] = { scx_bpf_create_dsq(7, -1) };

	scx_bpf_exit_bstr(0xdeadbeef, "stopped by a syscall program (create_dsq=%lld)", data, sizeof(data));
	return 0;
}

SCX_OPS2(void, sc_enqueue, struct task_struct *, p, u64, enq_flags)
{
	u64 data[] = { init_saw, mask, total_weight };

	if (!report) {
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
		return;
	}
	scx_bpf_exit_bstr(0, "init_saw=0x%llx mask=0x%llx weight=%llu", data, sizeof(data));
}

SEC(".struct_ops.link")
struct sched_ext_ops syscall_ops = {
	.init = (void *)sc_init,
	.enqueue = (void *)sc_enqueue,
	.name = "syscall",
};
