/* hash: BPF_MAP_TYPE_HASH as kernel/bpf/hashtab.c behaves. ops.init runs the helpers' return codes
 * (BPF_NOEXIST/BPF_EXIST, max_entries, delete, flags); ops.running on every CPU races an insert of
 * one key with BPF_NOEXIST and an overwrite, checking that at most one insert wins and that a reader
 * never sees a half-written value. ops.enqueue reports ops.init's results when rodata report is set.
 * Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2

struct val { u64 a; u64 b; };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, struct val);
} tbl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, struct val);
} race SEC(".maps");

const volatile u32 report;
s64 r[12];
u64 inserted;

SCX_OPS0(s32, h_init)
{
	u32 k1 = 1, k2 = 2, k3 = 3;
	struct val v12 = { 1, 2 }, v56 = { 5, 6 }, *p;

	r[0] = bpf_map_lookup_elem(&tbl, &k1) != 0;
	r[1] = bpf_map_update_elem(&tbl, &k1, &v12, BPF_NOEXIST);
	r[2] = bpf_map_update_elem(&tbl, &k1, &v12, BPF_NOEXIST);
	r[3] = bpf_map_update_elem(&tbl, &k2, &v12, BPF_EXIST);
	r[4] = bpf_map_update_elem(&tbl, &k2, &v56, BPF_ANY);
	r[5] = bpf_map_update_elem(&tbl, &k3, &v12, BPF_ANY);
	r[6] = bpf_map_update_elem(&tbl, &k1, &v56, BPF_EXIST);
	p = bpf_map_lookup_elem(&tbl, &k1);
	r[7] = p ? (s64)(p->a * 10 + p->b) : -1;
	r[8] = bpf_map_delete_elem(&tbl, &k2);
	r[9] = bpf_map_delete_elem(&tbl, &k2);
	r[10] = bpf_map_update_elem(&tbl, &k3, &v12, BPF_ANY);
	r[11] = bpf_map_update_elem(&tbl, &k3, &v12, 4);
	return 0;
}

SCX_OPS2(void, h_enqueue, struct task_struct *, p, u64, enq_flags)
{
	if (report) {
		static const char fmt[] = "miss=%lld ins=%lld dup=%lld exist=%lld any=%lld full=%lld over=%lld val=%lld del=%lld del2=%lld reuse=%lld lock=%lld";
		scx_bpf_exit_bstr(0, (char *)fmt, (u64 *)r, sizeof(r));
		return;
	}
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SCX_OPS1(void, h_running, struct task_struct *, p)
{
	u32 key = 7, cpu = bpf_get_smp_processor_id();
	struct val mine = { cpu + 1, cpu + 1 }, *seen;

	if (bpf_map_update_elem(&race, &key, &mine, BPF_NOEXIST) == 0 && __sync_fetch_and_add(&inserted, 1) > 0)
		scx_bpf_error("two BPF_NOEXIST inserts of one key both succeeded");
	bpf_map_update_elem(&race, &key, &mine, BPF_ANY);
	seen = bpf_map_lookup_elem(&race, &key);
	if (seen && seen->a != seen->b)
		scx_bpf_error("torn value %llu/%llu", seen->a, seen->b);
}

SEC(".struct_ops.link")
struct sched_ext_ops hash_ops = {
	.enqueue = (void *)h_enqueue,
	.running = (void *)h_running,
	.init = (void *)h_init,
	.name = "hash",
};
