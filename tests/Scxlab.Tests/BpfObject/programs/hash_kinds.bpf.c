/* hash_kinds: the other hashtab.c flavors. ops.init runs each helper's return codes on a hash with a
 * 12-byte key, a BPF_MAP_TYPE_PERCPU_HASH (in-place updates of this CPU's copy, the other CPUs' copies
 * zeroed for a new element, no extra elements), a BPF_MAP_TYPE_LRU_HASH and a
 * BPF_MAP_TYPE_LRU_PERCPU_HASH, and reports them through scx_bpf_exit_bstr from ops.enqueue. With
 * rodata fill set, ops.init instead inserts keys into the LRU hash until the model says the kernel's
 * LRU could start evicting. With rodata race set, ops.running on every CPU races BPF_NOEXIST inserts of
 * one key into the per-CPU hash. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

static void *(*bpf_map_lookup_percpu_elem)(void *map, const void *key, u32 cpu) = (void *)195;

struct key12 { u32 a, b, c; };
struct val { u64 x; u64 y; };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, struct key12);
	__type(value, u64);
} wide SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, struct val);
} pch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} lrupc SEC(".maps");

const volatile u32 fill;
const volatile u32 race;
s64 r[16];
u64 wins;

static s64 get(void *map, const void *key)
{
	u64 *v = bpf_map_lookup_elem(map, key);
	return v ? (s64)*v : -1;
}

SCX_OPS0(s32, h_init)
{
	struct key12 k123 = { 1, 2, 3 }, k124 = { 1, 2, 4 }, k125 = { 1, 2, 5 };
	u64 ten = 10, twenty = 20, thirty = 30;
	struct val v = { 7, 8 }, w = { 9, 9 }, *p;
	u32 k1 = 1, k2 = 2, k3 = 3, cpu = bpf_get_smp_processor_id(), i;

	if (fill) {
		for (i = 0; i < 40; i++)
			if (bpf_map_update_elem(&lru, &i, &ten, BPF_ANY))
				return -1;
		return 0;
	}
	if (race)
		return 0;
	/* Keys that differ only in their third word are different keys. */
	r[0] = bpf_map_update_elem(&wide, &k123, &ten, BPF_NOEXIST);
	r[1] = bpf_map_update_elem(&wide, &k124, &twenty, BPF_NOEXIST);
	r[2] = get(&wide, &k123) * 100 + get(&wide, &k124);
	r[3] = get(&wide, &k125);
	r[4] = bpf_map_delete_elem(&wide, &k124) * 10 + bpf_map_delete_elem(&wide, &k124);

	/* Per-CPU hash: this CPU's copy is the value, the other CPU's copy of a new element is zero. */
	r[5] = bpf_map_update_elem(&pch, &k1, &v, BPF_NOEXIST);
	p = bpf_map_lookup_elem(&pch, &k1);
	r[6] = p ? (s64)(p->x * 10 + p->y) : -1;
	p = bpf_map_lookup_percpu_elem(&pch, &k1, 1 - cpu);
	r[7] = p ? (s64)(p->x * 10 + p->y) : -1;
	r[8] = bpf_map_update_elem(&pch, &k1, &w, BPF_NOEXIST);
	r[9] = bpf_map_update_elem(&pch, &k1, &w, BPF_EXIST);
	p = bpf_map_lookup_elem(&pch, &k1);
	r[10] = p ? (s64)(p->x * 10 + p->y) : -1;
	/* No extra elements in a per-CPU hash: the third key does not fit in max_entries 2. */
	r[11] = bpf_map_update_elem(&pch, &k2, &v, BPF_ANY) * 100 + bpf_map_update_elem(&pch, &k3, &v, BPF_ANY);

	/* LRU hashes behave as hashes while nothing can be evicted. */
	r[12] = bpf_map_update_elem(&lru, &k1, &ten, BPF_NOEXIST) * 100 + bpf_map_update_elem(&lru, &k1, &twenty, BPF_NOEXIST);
	r[13] = bpf_map_update_elem(&lru, &k1, &thirty, BPF_ANY) * 1000 + get(&lru, &k1) * 10 + (bpf_map_update_elem(&lru, &k2, &ten, BPF_EXIST) == -2);
	r[14] = bpf_map_update_elem(&lrupc, &k1, &ten, BPF_ANY) * 1000 + bpf_map_update_elem(&lrupc, &k1, &twenty, BPF_EXIST) * 100 + get(&lrupc, &k1);
	r[15] = bpf_map_delete_elem(&lru, &k1) * 10 + bpf_map_delete_elem(&lrupc, &k2);
	return 0;
}

SCX_OPS2(void, h_enqueue, struct task_struct *, p, u64, enq_flags)
{
	if (!race) {
		static const char fmt[] = "ins=%lld ins2=%lld get=%lld miss=%lld del=%lld pc=%lld pcv=%lld other=%lld dup=%lld exist=%lld inplace=%lld full=%lld lru=%lld lru2=%lld lrupc=%lld lrudel=%lld";
		scx_bpf_exit_bstr(0, (char *)fmt, (u64 *)r, sizeof(r));
		return;
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SCX_OPS1(void, h_running, struct task_struct *, p)
{
	u32 key = 7, cpu = bpf_get_smp_processor_id();
	struct val mine = { cpu + 1, cpu + 1 }, *seen;

	if (bpf_map_update_elem(&pch, &key, &mine, BPF_NOEXIST) == 0 && __sync_fetch_and_add(&wins, 1) > 0)
		scx_bpf_error("two BPF_NOEXIST inserts of one key both succeeded");
	seen = bpf_map_lookup_elem(&pch, &key);
	if (seen && seen->x != seen->y)
		scx_bpf_error("torn value %llu/%llu", seen->x, seen->y);
}

SEC(".struct_ops.link")
struct sched_ext_ops hash_kinds_ops = {
	.enqueue = (void *)h_enqueue,
	.running = (void *)h_running,
	.init = (void *)h_init,
	.name = "hash_kinds",
};
