/* linked_main: the scheduler half of linked_lib.bpf.c; it calls the library's global function and reads its
 * counter through extern declarations the linker resolves. ops.init creates the DSQ the library names;
 * ops.enqueue reports. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

extern int lib_dsq_for(int cpu);
extern u64 lib_calls;

s64 r[3];

SCX_OPS0(s32, lm_init)
{
	r[0] = lib_dsq_for(5);
	r[1] = scx_bpf_create_dsq(r[0], -1);
	r[2] = lib_calls;
	return 0;
}

SCX_OPS2(void, lm_enqueue, struct task_struct *, p, u64, enq_flags)
{
	static const char fmt[] = "dsq=%lld created=%lld calls=%lld";
	scx_bpf_exit_bstr(0, (char *)fmt, (u64 *)r, sizeof(r));
}

SEC(".struct_ops.link")
struct sched_ext_ops linked_ops = {
	.enqueue = (void *)lm_enqueue,
	.init = (void *)lm_init,
	.name = "linked",
};
