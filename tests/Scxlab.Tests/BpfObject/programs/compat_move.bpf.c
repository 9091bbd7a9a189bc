/* compat_move: scx's compat.bpf.h way of calling scx_bpf_dsq_move_to_local: the v7.1 two-argument
 * form (flavor ___v2) when the kernel has it, else the one-argument form (___v1). ops.running
 * reports which one ran and whether it moved the task. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

bool scx_bpf_dsq_move_to_local___v2(u64 dsq_id, u64 enq_flags) __ksym __weak;
bool scx_bpf_dsq_move_to_local___v1(u64 dsq_id) __ksym __weak;

u64 used_v2, moved;

SCX_OPS0(s32, cm_init)
{
	return scx_bpf_create_dsq(5, -1);
}

SCX_OPS2(void, cm_enqueue, struct task_struct *, p, u64, enq_flags)
{
	scx_bpf_dsq_insert(p, 5, SCX_SLICE_DFL, enq_flags);
}

SCX_OPS2(void, cm_dispatch, s32, cpu, struct task_struct *, prev)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local___v2)) {
		used_v2 = 1;
		moved += scx_bpf_dsq_move_to_local___v2(5, 0);
	} else {
		moved += scx_bpf_dsq_move_to_local___v1(5);
	}
}

SCX_OPS1(void, cm_running, struct task_struct *, p)
{
	u64 param[] = { used_v2, moved };
	static const char fmt[] = "v2=%llu moved=%llu";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SEC(".struct_ops.link")
struct sched_ext_ops compat_move_ops = {
	.init = (void *)cm_init,
	.enqueue = (void *)cm_enqueue,
	.dispatch = (void *)cm_dispatch,
	.running = (void *)cm_running,
	.name = "compat_move",
};
