/* upstream_idioms: what unmodified upstream schedulers rely on, written here for the tests:
 * open-coded number iterators (the kfuncs behind libbpf's bpf_for/bpf_repeat), the __SCX_*
 * rodata that scx's SCX_ENUM_INIT fills before load, a resizable array alone in its own
 * .data.NAME section, and task_struct.flags. ops.init reports everything via scx_bpf_exit_bstr(). */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct bpf_iter_num { u64 __opaque[1]; } __attribute__((aligned(8)));
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __weak __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __weak __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __weak __ksym;

/* Filled from the model's constants at load (a name the model lacks stays 0). */
const volatile u64 __SCX_SLICE_DFL __weak;
const volatile u64 __SCX_ENQ_PREEMPT __weak;
const volatile u64 __SCX_NO_SUCH_ENUM __weak;

const volatile u32 nr_slots = 1;
u32 slots[1] SEC(".data.slots");
u64 flags_seen = 7;

static u64 sum_range(int start, int end)
{
	struct bpf_iter_num it;
	u64 sum = 0;
	int *v;

	bpf_iter_num_new(&it, start, end);
	while ((v = bpf_iter_num_next(&it)))
		sum += *v;
	bpf_iter_num_destroy(&it);
	return sum;
}

SCX_OPS0(s32, ui_init)
{
	struct bpf_iter_num it;
	u64 n = 0, filled = 0;
	int bad, big;
	int *v;

	/* bpf_repeat(3) */
	bpf_iter_num_new(&it, 0, 3);
	while (bpf_iter_num_next(&it))
		n++;
	bpf_iter_num_destroy(&it);

	bad = bpf_iter_num_new(&it, 5, 2);        /* start > end: -EINVAL, and next() gives NULL */
	if (bpf_iter_num_next(&it))
		n += 100;
	bpf_iter_num_destroy(&it);
	big = bpf_iter_num_new(&it, 0, 1 << 24);  /* more than BPF_MAX_LOOPS: -E2BIG */
	bpf_iter_num_destroy(&it);

	bpf_iter_num_new(&it, 0, nr_slots);
	while ((v = bpf_iter_num_next(&it))) {
		u32 i = *v;
		if (i < nr_slots)
			slots[i & 0xff] = i + 1;
	}
	bpf_iter_num_destroy(&it);
	bpf_iter_num_new(&it, 0, nr_slots);
	while ((v = bpf_iter_num_next(&it)))
		filled += slots[*v & 0xff];
	bpf_iter_num_destroy(&it);

	u64 param[] = { sum_range(-2, 5), n, (u64)(s64)bad, (u64)(s64)big, __SCX_SLICE_DFL, __SCX_ENQ_PREEMPT, __SCX_NO_SUCH_ENUM, filled };
	static const char fmt[] = "%lld %llu %lld %lld %llu %llx %llu %llu";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
	return 0;
}

SCX_OPS2(void, ui_enqueue, struct task_struct *, p, u64, enq_flags)
{
	flags_seen = p->flags;
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SEC(".struct_ops.link")
struct sched_ext_ops upstream_idioms_ops = {
	.enqueue = (void *)ui_enqueue,
	.init = (void *)ui_init,
	.name = "upstream_idioms",
};
