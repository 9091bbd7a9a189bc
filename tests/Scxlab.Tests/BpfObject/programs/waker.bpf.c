/* waker: ops.runnable reads its waker, bpf_get_current_task_btf(), as scx_lavd and scx_bpfland do. Under simulate a
 * wakeup is a timer interrupt or a syscall on the woken task's CPU, so the waker is what that CPU runs: a task, or the
 * idle task swapper/N (pid 0, PF_IDLE). ops.runnable counts both; the tenth ops.enqueue after the start ends the
 * scheduler with the counts. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

static struct task_struct *(*bpf_get_current_task_btf)(void) = (void *)158;

#define PF_IDLE 0x00000002

u64 by_idle, by_task, enqueues;

SCX_OPS2(void, wk_runnable, struct task_struct *, p, u64, enq_flags)
{
	struct task_struct *waker = bpf_get_current_task_btf();

	if (waker->flags & PF_IDLE) {
		if (waker->pid == 0)
			__sync_fetch_and_add(&by_idle, 1);
	} else if (waker->pid > 0) {
		__sync_fetch_and_add(&by_task, 1);
	}
}

SCX_OPS2(void, wk_enqueue, struct task_struct *, p, u64, enq_flags)
{
	static const char fmt[] = "idle=%llu task=%llu";
	u64 data[2];

	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
	if (__sync_fetch_and_add(&enqueues, 1) < 40)
		return;
	data[0] = by_idle;
	data[1] = by_task;
	scx_bpf_exit_bstr(0, (char *)fmt, data, sizeof(data));
}

SEC(".struct_ops.link")
struct sched_ext_ops waker_ops = {
	.runnable = (void *)wk_runnable,
	.enqueue = (void *)wk_enqueue,
	.name = "waker",
};
