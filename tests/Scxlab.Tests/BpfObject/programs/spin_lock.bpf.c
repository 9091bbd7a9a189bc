/* spin_lock: a test-and-set spin lock in a BPF arena, spun on with may_goto as scx's arena locks do, guarding a FIFO of
 * pids in the arena; ops.dispatch moves the first task to the global DSQ. With rodata count_reads set, ops.enqueue
 * instead reads one word four times in a counting loop (no spin: the loop makes progress) and reports the sum. With
 * limit_under_lock set, ops.init takes the lock and allocates more arena pages than the model backs (a model limit
 * with the lock still taken), and ops.exit takes the lock too. With tas set the lock is a plain test-and-set (it
 * retries the compare-and-swap). Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 16);
} arena SEC(".maps");

#define CAP 8

u32 __arena lock;
u32 __arena head, count;
s32 __arena ring[CAP];
u32 __arena three = 3;

const volatile u32 count_reads, limit_under_lock, tas;

static __always_inline void take(void)
{
	if (tas) {
		/* Plain test-and-set: the retries are failed compare-and-swaps, no reads. */
		while (__sync_val_compare_and_swap(&lock, 0, 1) != 0)
			asm volatile goto("may_goto %l[out_tas]" :::: out_tas);
out_tas:
		return;
	}
	while (__sync_val_compare_and_swap(&lock, 0, 1) != 0) {
		while (*(volatile u32 __arena *)&lock)
			asm volatile goto("may_goto %l[out]" :::: out);
	}
out:;
}

static __always_inline void release(void)
{
	*(volatile u32 __arena *)&lock = 0;
}

SCX_OPS2(void, sl_enqueue, struct task_struct *, p, u64, enq_flags)
{
	if (count_reads) {
		u64 sum = 0;

		for (int i = 0; i < 4; i++)
			sum += *(volatile u32 __arena *)&three;
		static const char fmt[] = "sum=%llu";
		scx_bpf_exit_bstr(0, (char *)fmt, &sum, sizeof(sum));
		return;
	}
	take();
	if (count < CAP) {
		ring[(head + count) % CAP] = p->pid;
		count++;
	}
	release();
}

SCX_OPS2(void, sl_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct task_struct *p;
	s32 pid = 0;

	take();
	if (count) {
		pid = ring[head % CAP];
		head++;
		count--;
	}
	release();
	if (!pid)
		return;
	p = bpf_task_from_pid(pid);
	if (!p)
		return;
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, 0);
	bpf_task_release(p);
}

SCX_OPS0(s32, sl_init)
{
	if (limit_under_lock) {
		take();
		bpf_arena_alloc_pages(&arena, NULL, 9, NUMA_NO_NODE, 0);
		release();
	}
	return 0;
}

SCX_OPS1(void, sl_exit, void *, ei)
{
	take();
	release();
}

SEC(".struct_ops.link")
struct sched_ext_ops spin_lock_ops = {
	.init = (void *)sl_init,
	.exit = (void *)sl_exit,
	.enqueue = (void *)sl_enqueue,
	.dispatch = (void *)sl_dispatch,
	.name = "spin_lock",
};
