/* arena: BPF arena memory (BPF_MAP_TYPE_ARENA) as kernel/bpf/arena.c and libbpf give it: first-fit page allocation,
 * allocation at an address, freed pages reading 0 and dropping stores, __arena globals at the end of the arena with
 * their initial values, atomics, address-space casts both ways, lists of arena pointers. ops.init records each result
 * and ops.enqueue reports them with scx_bpf_exit_bstr(). Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#define PAGE 4096
#define BASE (1ull << 44)

struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 64);
	__ulong(map_extra, BASE);
} arena SEC(".maps");

void bpf_preempt_disable(void) __ksym;
void bpf_preempt_enable(void) __ksym;

struct node {
	struct node __arena *next;
	u64 val;
};

u64 __arena gval = 42;
struct node __arena *head;

/* rodata switches: leave preemption disabled at exit; allocate more pages than the model backs. */
const volatile u32 unbalanced;
const volatile u32 many;

u64 res[13];

SCX_OPS0(s32, ar_init)
{
	volatile u64 __arena *a;
	u64 __arena *b, *c, *d, *e;

	a = (volatile u64 __arena *)bpf_arena_alloc_pages(&arena, NULL, 2, NUMA_NO_NODE, 0);
	res[0] = (u64)a - BASE;
	b = bpf_arena_alloc_pages(&arena, (void __arena *)(BASE + 5 * PAGE), 1, NUMA_NO_NODE, 0);
	res[1] = (u64)b - BASE;
	c = bpf_arena_alloc_pages(&arena, (void __arena *)(BASE + 5 * PAGE), 1, NUMA_NO_NODE, 0);
	res[2] = (u64)c;
	d = bpf_arena_alloc_pages(&arena, NULL, 1, NUMA_NO_NODE, 0);
	res[3] = (u64)d - BASE;
	bpf_arena_free_pages(&arena, (void __arena *)((u64)a + PAGE), 1);
	e = bpf_arena_alloc_pages(&arena, NULL, 1, NUMA_NO_NODE, 0);
	res[4] = (u64)e - BASE;
	if (!a || !d)
		return -12;
	a[3] = 7;
	res[5] = a[3];
	bpf_arena_free_pages(&arena, (void __arena *)a, 1);
	res[6] = a[3];
	a[3] = 9;
	res[7] = a[3];
	res[8] = gval;
	res[9] = (u64)&gval - BASE;
	res[10] = __sync_fetch_and_add(&gval, 1) * 100 + gval;
	res[11] = (u64)bpf_arena_alloc_pages(&arena, NULL, 65, NUMA_NO_NODE, 0);

	/* To the kernel's address space and back (cast_kern, then cast_user): the same user address. */
	u64 *kern = (u64 *)d;
	asm volatile("" : "+r"(kern)); /* keep clang from folding the casts away */
	u64 __arena *user = (u64 __arena *)kern;
	res[12] = user == d;

	struct node __arena *n = (struct node __arena *)d;
	n->val = 5;
	n->next = (struct node __arena *)((u64)d + sizeof(*n));
	n->next->val = 6;
	head = n;
	if (many && !bpf_arena_alloc_pages(&arena, NULL, 9, NUMA_NO_NODE, 0))
		return -12;
	bpf_preempt_disable();
	if (!unbalanced)
		bpf_preempt_enable();
	return 0;
}

SCX_OPS2(void, ar_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct node __arena *n = head;
	u64 param[16], sum = 0;

	for (int i = 0; i < 13; i++)
		param[i] = res[i];
	param[13] = n ? n->val * 10 + n->next->val : 0;
	param[14] = (u64)n - BASE;
	/* may_goto (cond_break in scx's headers): the kernel jumps only after 8M iterations, so never here. */
	for (int i = 0; i < 10; i++) {
		asm volatile goto("may_goto %l[out]" :::: out);
		sum += i;
	}
out:
	param[15] = sum;
	static const char fmt[] = "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SEC(".struct_ops.link")
struct sched_ext_ops ar_ops = {
	.enqueue = (void *)ar_enqueue,
	.init = (void *)ar_init,
	.name = "arena",
};
