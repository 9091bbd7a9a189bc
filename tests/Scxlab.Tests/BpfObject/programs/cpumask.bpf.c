/* cpumask: struct bpf_cpumask objects (create, set/clear/test, first, weight, and/or, copy,
 * intersects/subset/equal, acquire/release) and bpf_kptr_xchg() storing one in a global, as
 * scx_bpfland and scx_cosmos keep their CPU domains. ops.init builds the masks; ops.enqueue
 * reports. rodata overrelease makes ops.init release a mask once too often. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct bpf_cpumask { u64 opaque; };

struct bpf_cpumask *bpf_cpumask_create(void) __ksym;
struct bpf_cpumask *bpf_cpumask_acquire(struct bpf_cpumask *cpumask) __ksym;
void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym;
void bpf_cpumask_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
void bpf_cpumask_clear_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
bool bpf_cpumask_test_and_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
u32 bpf_cpumask_first(const struct cpumask *cpumask) __ksym;
u32 bpf_cpumask_first_zero(const struct cpumask *cpumask) __ksym;
u32 bpf_cpumask_weight(const struct cpumask *cpumask) __ksym;
bool bpf_cpumask_empty(const struct cpumask *cpumask) __ksym;
bool bpf_cpumask_full(const struct cpumask *cpumask) __ksym;
bool bpf_cpumask_and(struct bpf_cpumask *dst, const struct cpumask *src1, const struct cpumask *src2) __ksym;
void bpf_cpumask_or(struct bpf_cpumask *dst, const struct cpumask *src1, const struct cpumask *src2) __ksym;
void bpf_cpumask_copy(struct bpf_cpumask *dst, const struct cpumask *src) __ksym;
bool bpf_cpumask_intersects(const struct cpumask *src1, const struct cpumask *src2) __ksym;
bool bpf_cpumask_subset(const struct cpumask *src1, const struct cpumask *src2) __ksym;
bool bpf_cpumask_equal(const struct cpumask *src1, const struct cpumask *src2) __ksym;
const struct cpumask *scx_bpf_get_online_cpumask(void) __ksym;
void scx_bpf_put_cpumask(const struct cpumask *cpumask) __ksym;
static void *(*bpf_kptr_xchg)(void *dst, void *ptr) = (void *)194;

#define CAST(m) ((const struct cpumask *)(m))

const volatile u32 overrelease;
const volatile u32 exhaust;
struct bpf_cpumask *domain;
u64 r[12];

SCX_OPS0(s32, cm_init)
{
	struct bpf_cpumask *m = bpf_cpumask_create(), *m2, *old, *extra[16];
	const struct cpumask *online = scx_bpf_get_online_cpumask();
	u32 made = 0;

	if (!m)
		return -12;
	bpf_cpumask_set_cpu(1, m);
	r[0] = bpf_cpumask_test_and_set_cpu(1, m);
	r[1] = bpf_cpumask_test_and_set_cpu(0, m);
	r[2] = bpf_cpumask_weight(CAST(m));
	r[3] = bpf_cpumask_full(CAST(m));
	bpf_cpumask_clear_cpu(0, m);
	r[4] = bpf_cpumask_first(CAST(m)) * 10 + bpf_cpumask_first_zero(CAST(m));
	m2 = bpf_cpumask_create();
	if (!m2) {
		bpf_cpumask_release(m);
		return -12;
	}
	r[5] = bpf_cpumask_and(m2, CAST(m), online);
	r[6] = bpf_cpumask_equal(CAST(m2), CAST(m)) * 10 + bpf_cpumask_subset(CAST(m2), online);
	bpf_cpumask_copy(m2, online);
	r[7] = bpf_cpumask_intersects(CAST(m), CAST(m2)) * 10 + bpf_cpumask_empty(CAST(m2));
	scx_bpf_put_cpumask(online);
	/* The model's pool (16 + 2 per task + 4 per CPU: 26 here) has room for 16 more beside the two taken. */
	for (int i = 0; i < 16; i++) {
		extra[i] = bpf_cpumask_create();
		if (extra[i])
			made++;
	}
	r[8] = made;
	/* Never released: the pool runs out, which is the model's limit, not a NULL for the program. */
	if (exhaust)
		for (int i = 0; i < 32; i++)
			bpf_cpumask_create();
	for (int i = 0; i < 16; i++)
		if (extra[i])
			bpf_cpumask_release(extra[i]);
	m2 = bpf_cpumask_acquire(m2);
	bpf_cpumask_release(m2);
	bpf_cpumask_release(m2);
	if (overrelease)
		bpf_cpumask_release(m2);
	old = bpf_kptr_xchg(&domain, m);
	r[9] = old == 0;
	return 0;
}

SCX_OPS2(void, cm_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct bpf_cpumask *d = domain;

	r[10] = d ? bpf_cpumask_intersects(CAST(d), p->cpus_ptr) : 99;
	r[11] = d ? bpf_cpumask_weight(CAST(d)) : 99;
	static const char fmt[] = "tas1=%llu tas0=%llu weight=%llu full=%llu first=%llu and=%llu eq_sub=%llu inter_empty=%llu made=%llu xchg=%llu enq_inter=%llu enq_weight=%llu";
	scx_bpf_exit_bstr(0, (char *)fmt, r, sizeof(r));
}

SEC(".struct_ops.link")
struct sched_ext_ops cpumask_ops = {
	.enqueue = (void *)cm_enqueue,
	.init = (void *)cm_init,
	.name = "cpumask",
};
