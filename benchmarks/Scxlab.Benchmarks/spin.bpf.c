/* spin: ops.init runs an arithmetic loop with no kfunc or shared-memory access inside, so timing a
 * machine boot times instruction dispatch alone (InterpreterRate in BpfBenchmarks.cs). */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

u64 seed = 88172645463325252ULL, out;

SCX_OPS0(s32, spin_init)
{
	u64 x = seed;

	for (int i = 0; i < 50000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	out = x;
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops spin_ops = {
	.init = (void *)spin_init,
	.name = "spin",
};
