/* idle_mask: scx_bpf_get_idle_cpumask()/get_idle_smtmask()/get_online_cpumask() tested with
 * bpf_cpumask_test_cpu(), the put kfuncs, and bpf_strncmp() on p->comm (as the kernel's
 * select_cpu_dfl selftest does). ops.enqueue ends the scheduler reporting what it saw. Written for
 * the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

const struct cpumask *scx_bpf_get_idle_cpumask(void) __ksym;
const struct cpumask *scx_bpf_get_idle_smtmask(void) __ksym;
const struct cpumask *scx_bpf_get_online_cpumask(void) __ksym;
void scx_bpf_put_idle_cpumask(const struct cpumask *cpumask) __ksym;
void scx_bpf_put_cpumask(const struct cpumask *cpumask) __ksym;
static long (*bpf_strncmp)(const char *s1, u32 s1_sz, const char *s2) = (void *)182;

SCX_OPS2(void, im_enqueue, struct task_struct *, p, u64, enq_flags)
{
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();
	const struct cpumask *smt = scx_bpf_get_idle_smtmask();
	const struct cpumask *online = scx_bpf_get_online_cpumask();
	u64 same = bpf_cpumask_test_cpu(0, idle) == bpf_cpumask_test_cpu(0, smt) &&
		   bpf_cpumask_test_cpu(1, idle) == bpf_cpumask_test_cpu(1, smt);
	u64 param[] = {
		same,
		bpf_cpumask_test_cpu(0, online), bpf_cpumask_test_cpu(1, online), bpf_cpumask_test_cpu(2, online),
		bpf_cpumask_test_cpu(7, idle),
		!bpf_strncmp(p->comm, 2, "p"), !bpf_strncmp(p->comm, 1, "q"), !bpf_strncmp(p->comm, 16, "px"),
		bpf_cpumask_test_cpu(0, idle), bpf_cpumask_test_cpu(1, idle),
	};
	static const char fmt[] = "smt=idle:%llu online=%llu%llu%llu idle7=%llu comm_p=%llu comm_q=%llu comm_px=%llu idle=%llu%llu";

	scx_bpf_put_idle_cpumask(idle);
	scx_bpf_put_idle_cpumask(smt);
	scx_bpf_put_cpumask(online);
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SEC(".struct_ops.link")
struct sched_ext_ops idle_mask_ops = {
	.enqueue = (void *)im_enqueue,
	.name = "idle_mask",
};
