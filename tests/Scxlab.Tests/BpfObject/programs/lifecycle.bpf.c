/* lifecycle: ops.init_task and ops.enable (the kernel runs init_task for every task, then enable for
 * every task, both after ops.init) and many user DSQs created in ops.init. rodata: fail_pid makes
 * init_task fail with -ENOMEM for that pid, bad_ret makes it return a positive value (not an errno),
 * ndsqs is how many DSQs ops.init creates. ops.enqueue ends the scheduler reporting what it saw.
 * Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct scx_init_task_args {
	bool fork;
} __attribute__((preserve_access_index));

const volatile s32 fail_pid;
const volatile s32 bad_ret;
const volatile u32 ndsqs;

u64 init_tasks, enabled, enabled_before_all_init, forks;
s64 created;

SCX_OPS0(s32, lc_init)
{
	for (u32 i = 0; i < ndsqs && i < 5000; i++)
		if (scx_bpf_create_dsq(i, -1) == 0)
			created++;
	return 0;
}

SCX_OPS2(s32, lc_init_task, struct task_struct *, p, struct scx_init_task_args *, args)
{
	if (args->fork)
		forks++;
	if (p->pid == fail_pid)
		return bad_ret ? bad_ret : -12;
	init_tasks++;
	return 0;
}

SCX_OPS1(void, lc_enable, struct task_struct *, p)
{
	if (init_tasks < 2)
		enabled_before_all_init++;
	enabled++;
}

SCX_OPS2(void, lc_enqueue, struct task_struct *, p, u64, enq_flags)
{
	u64 param[] = { init_tasks, enabled, enabled_before_all_init, forks, created };
	static const char fmt[] = "init_tasks=%llu enabled=%llu early=%llu forks=%llu created=%lld";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SEC(".struct_ops.link")
struct sched_ext_ops lifecycle_ops = {
	.enqueue = (void *)lc_enqueue,
	.init_task = (void *)lc_init_task,
	.enable = (void *)lc_enable,
	.init = (void *)lc_init,
	.name = "lifecycle",
};
