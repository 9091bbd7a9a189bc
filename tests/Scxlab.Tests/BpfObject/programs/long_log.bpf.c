/* long_log: a callback whose kfunc log is longer than the tail the interpreter's checkpoint slots hash
 * (Interpreter.Checkpoints.cs, HashedTailCalls). ops.running reads a word the other CPU writes (the
 * only call whose result differs between paths), then makes 40 reads that give the same results on
 * every path, so two paths' logs have the same length and the same last calls and differ only far
 * back: their checkpoints share a slot, and only the word-by-word comparison tells them apart.
 * Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

u64 flag;
u64 table[40];
u64 mismatches;

SCX_OPS2(void, ll_enqueue, struct task_struct *, p, u64, enq_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SCX_OPS1(void, ll_running, struct task_struct *, p)
{
	u64 cpu = bpf_get_smp_processor_id();
	u64 first = flag, sum = 0;
	int i;

	flag = cpu + 1;
#pragma clang loop unroll(disable)
	for (i = 0; i < 40; i++)
		sum += table[i];
	if (flag != first)
		__sync_fetch_and_add(&mismatches, sum + first + 1);
}

SEC(".struct_ops.link")
struct sched_ext_ops long_log_ops = {
	.enqueue = (void *)ll_enqueue,
	.running = (void *)ll_running,
	.name = "long_log",
};
