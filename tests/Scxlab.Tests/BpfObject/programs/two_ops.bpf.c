/* two_ops: one object with two sched_ext_ops struct_ops maps, as a scheduler whose user space picks one to
 * attach (--ops NAME). Each ends the scheduler at its first ops.enqueue, saying which map it was. Written for
 * the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

SCX_OPS2(void, first_enqueue, struct task_struct *, p, u64, enq_flags)
{
	scx_bpf_exit_bstr(0, "first", 0, 0);
}

SCX_OPS2(void, second_enqueue, struct task_struct *, p, u64, enq_flags)
{
	scx_bpf_exit_bstr(0, "second", 0, 0);
}

SEC(".struct_ops.link")
struct sched_ext_ops first_ops = {
	.enqueue = (void *)first_enqueue,
	.name = "first",
};

SEC(".struct_ops.link")
struct sched_ext_ops second_ops = {
	.enqueue = (void *)second_enqueue,
	.name = "second",
};
