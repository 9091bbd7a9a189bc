/* wide_cpumask: the cpumask kfuncs on a machine past 64 CPUs, where a mask is several unsigned longs: a struct
 * bpf_cpumask from bpf_cpumask_create(), one in global data, p->cpus_ptr, the idle and online masks, and the picks
 * that take a mask. ops.init builds the masks; the first ops.enqueue reports. BpfWideCpumaskTests runs it on 130
 * CPUs (three words, the last one partial). Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#include "cpumask_kfuncs.h"

static void *(*bpf_kptr_xchg)(void *dst, void *ptr) = (void *)194;

#define CAST(m) ((const struct cpumask *)(m))

struct bpf_cpumask *domain;
struct bpf_cpumask in_data;
u64 r[16];

SCX_OPS0(s32, wc_init)
{
	struct bpf_cpumask *m = bpf_cpumask_create(), *all, *old;
	const struct cpumask *online = scx_bpf_get_online_cpumask();

	if (!m)
		return -12;
	/* {0, 64, 129}; 130 is past nr_cpu_ids, which the kfunc ignores. */
	bpf_cpumask_set_cpu(0, m);
	bpf_cpumask_set_cpu(64, m);
	bpf_cpumask_set_cpu(129, m);
	bpf_cpumask_set_cpu(130, m);
	r[0] = bpf_cpumask_weight(CAST(m));
	bpf_cpumask_clear_cpu(0, m);
	r[1] = bpf_cpumask_first(CAST(m)) * 1000 + bpf_cpumask_first_zero(CAST(m));
	r[2] = bpf_cpumask_test_and_set_cpu(100, m) * 10;
	r[2] += bpf_cpumask_test_and_set_cpu(100, m);
	all = bpf_cpumask_create();
	if (!all) {
		bpf_cpumask_release(m);
		return -12;
	}
	bpf_cpumask_copy(all, online);
	r[3] = bpf_cpumask_weight(CAST(all)) * 10 + bpf_cpumask_full(CAST(all));
	r[4] = bpf_cpumask_subset(CAST(m), CAST(all)) * 10 + bpf_cpumask_equal(CAST(m), CAST(all));
	/* all \ m: its first zero is 64, and it no longer meets m. */
	bpf_cpumask_xor(all, CAST(all), CAST(m));
	r[5] = bpf_cpumask_first_zero(CAST(all)) * 10 + bpf_cpumask_intersects(CAST(all), CAST(m));
	/* From CPU 0's rotor (at CPU 0 before any pick): the next CPU of {64, 100, 129} after 0. */
	r[6] = bpf_cpumask_any_distribute(CAST(m));
	bpf_cpumask_setall(all);
	bpf_cpumask_clear_cpu(127, all);
	r[7] = bpf_cpumask_first_zero(CAST(all));
	bpf_cpumask_clear(all);
	r[8] = bpf_cpumask_empty(CAST(all));
	/* A mask in the program's own memory, past its first word. */
	bpf_cpumask_set_cpu(65, &in_data);
	bpf_cpumask_or(&in_data, CAST(&in_data), CAST(m));
	r[9] = bpf_cpumask_weight(CAST(&in_data)) * 1000 + bpf_cpumask_first_and(CAST(&in_data), CAST(m));
	scx_bpf_put_cpumask(online);
	bpf_cpumask_release(all);
	old = bpf_kptr_xchg(&domain, m);
	if (old)
		bpf_cpumask_release(old);
	return 0;
}

SCX_OPS2(void, wc_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct bpf_cpumask *d = domain, *t;
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();

	if (!d) {
		scx_bpf_put_cpumask(idle);
		return;
	}
	/* p may run on {3, 70, 129}; the domain is {64, 100, 129}. */
	r[10] = bpf_cpumask_weight(p->cpus_ptr) * 10 + bpf_cpumask_intersects(CAST(d), p->cpus_ptr);
	t = bpf_cpumask_create();
	if (t) {
		r[11] = bpf_cpumask_and(t, CAST(d), p->cpus_ptr) * 1000;
		r[11] += bpf_cpumask_first(CAST(t));
		/* An idle CPU of the domain: every CPU past 7 is idle. */
		r[12] = scx_bpf_pick_idle_cpu(CAST(d), 0);
		bpf_cpumask_clear(t);
		bpf_cpumask_set_cpu(120, t);
		r[13] = bpf_cpumask_first_and(idle, CAST(t)) * 10 + bpf_cpumask_test_cpu(120, idle);
		bpf_cpumask_release(t);
	}
	r[14] = bpf_cpumask_first_and(p->cpus_ptr, CAST(d));
	scx_bpf_put_cpumask(idle);
	static const char fmt[] = "weight=%llu first_zero=%llu tas=%llu online=%llu sub_eq=%llu xor=%llu any=%llu setall=%llu empty=%llu in_data=%llu p=%llu and=%llu pick=%llu idle=%llu p_and=%llu";
	scx_bpf_exit_bstr(0, (char *)fmt, r, sizeof(r));
}

SEC(".struct_ops.link")
struct sched_ext_ops wide_cpumask_ops = {
	.enqueue = (void *)wc_enqueue,
	.init = (void *)wc_init,
	.name = "wide_cpumask",
};
