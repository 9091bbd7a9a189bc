/* task_set: scx_bpf_task_set_slice/_dsq_vtime (v6.19) under the ___new flavor scx's compat
 * header uses, then reads the fields back. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

extern bool scx_bpf_task_set_slice___new(struct task_struct *p, u64 slice) __ksym __weak;
extern bool scx_bpf_task_set_dsq_vtime___new(struct task_struct *p, u64 vtime) __ksym __weak;

SCX_OPS2(void, ts_enqueue, struct task_struct *, p, u64, enq_flags)
{
	u64 ok = 0;

	if (bpf_ksym_exists(scx_bpf_task_set_slice___new))
		ok += scx_bpf_task_set_slice___new(p, 1234567);
	if (bpf_ksym_exists(scx_bpf_task_set_dsq_vtime___new))
		ok += scx_bpf_task_set_dsq_vtime___new(p, 42);
	u64 param[] = { ok, p->scx.slice, p->scx.dsq_vtime };
	static const char fmt[] = "ok=%llu slice=%llu vtime=%llu";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SEC(".struct_ops.link")
struct sched_ext_ops task_set_ops = {
	.enqueue = (void *)ts_enqueue,
	.name = "task_set",
};
