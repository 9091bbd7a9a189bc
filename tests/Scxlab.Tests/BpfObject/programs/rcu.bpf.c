/* rcu: bpf_rcu_read_lock/unlock sections, nested and balanced in ops.init; ops.enqueue leaves
 * one open when rodata leak_rcu is set. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

const volatile u32 leak_rcu;

SCX_OPS0(s32, rcu_init)
{
	bpf_rcu_read_lock();
	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	bpf_rcu_read_unlock();
	return 0;
}

SCX_OPS2(void, rcu_enqueue, struct task_struct *, p, u64, enq_flags)
{
	bpf_rcu_read_lock();
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
	if (!leak_rcu)
		bpf_rcu_read_unlock();
}

SEC(".struct_ops.link")
struct sched_ext_ops rcu_ops = {
	.enqueue = (void *)rcu_enqueue,
	.init = (void *)rcu_init,
	.name = "rcu",
};
