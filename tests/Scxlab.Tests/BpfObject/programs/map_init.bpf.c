/* map_init: map contents user space writes after load and before attaching (--map, scenario maps:). ops.init
 * reads an array of u32, an array of structs (a nested struct and an array field), a per-CPU array on both
 * CPUs, a hash map with struct values, a per-CPU hash, and then inserts one more key into the hash (the
 * element count the load wrote must let it in, and max_entries then stops the next); it reports through
 * scx_bpf_exit_bstr. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

static void *(*bpf_map_lookup_percpu_elem)(void *map, const void *key, u32 cpu) = (void *)195;

struct inner { u16 a; u32 b; };
struct topo { u32 id; u8 kind; u64 weights[2]; struct inner in; };
struct hv { u64 x; u32 y; };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u32);
} cpu_llc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, struct topo);
} topo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} pc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 3);
	__type(key, u32);
	__type(value, struct hv);
} by_key SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} pch SEC(".maps");

s64 r[10];

SCX_OPS0(s32, mi_init)
{
	u32 k0 = 0, k1 = 1, k2 = 2, k3 = 3, k40 = 40, k41 = 41, k42 = 42, k9 = 9;
	struct hv nv = { 5, 6 }, *h;
	struct topo *t;
	u32 *u;
	u64 *p;

	u = bpf_map_lookup_elem(&cpu_llc, &k0);
	r[0] = u ? *u : -1;
	u = bpf_map_lookup_elem(&cpu_llc, &k3);
	r[1] = u ? *u : -1;
	t = bpf_map_lookup_elem(&topo, &k1);
	r[2] = t ? (s64)(t->id * 1000 + t->kind * 100 + t->weights[1] * 10 + t->weights[0]) : -1;
	r[3] = t ? (s64)(t->in.a * 1000 + t->in.b) : -1;
	p = bpf_map_lookup_percpu_elem(&pc, &k1, 0);
	r[4] = p ? (s64)*p : -1;
	p = bpf_map_lookup_percpu_elem(&pc, &k1, 1);
	r[5] = p ? (s64)*p : -1;
	h = bpf_map_lookup_elem(&by_key, &k40);
	r[6] = h ? (s64)(h->x * 100 + h->y) : -1;
	h = bpf_map_lookup_elem(&by_key, &k41);
	r[7] = (h ? (s64)(h->x * 100 + h->y) : -1) * 10 + (bpf_map_lookup_elem(&by_key, &k2) != 0);
	/* Two keys were written at load: a third fits (max_entries 3), a fourth does not. */
	r[8] = bpf_map_update_elem(&by_key, &k42, &nv, BPF_NOEXIST) * 100 + bpf_map_update_elem(&by_key, &k9, &nv, BPF_NOEXIST);
	p = bpf_map_lookup_percpu_elem(&pch, &k9, 1);
	r[9] = p ? (s64)*p : -1;
	return 0;
}

SCX_OPS2(void, mi_enqueue, struct task_struct *, p, u64, enq_flags)
{
	static const char fmt[] = "llc0=%lld llc3=%lld topo=%lld inner=%lld pc0=%lld pc1=%lld h40=%lld h41=%lld ins=%lld pch=%lld";
	scx_bpf_exit_bstr(0, (char *)fmt, (u64 *)r, sizeof(r));
}

SEC(".struct_ops.link")
struct sched_ext_ops map_init_ops = {
	.enqueue = (void *)mi_enqueue,
	.init = (void *)mi_init,
	.name = "map_init",
};
