/* linked_lib: half of a scheduler linked from two objects (bpftool gen object), as scx links its BPF library
 * (lib/*.bpf.c) into a scheduler: a global function and a global counter the other half declares extern.
 * Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

u64 lib_calls;

__attribute__((noinline)) int lib_dsq_for(int cpu)
{
	__sync_fetch_and_add(&lib_calls, 1);
	return cpu + 100;
}
