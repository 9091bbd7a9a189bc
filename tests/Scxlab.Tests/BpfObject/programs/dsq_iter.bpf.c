/* dsq_iter: a qmap-style scheduler over one user DSQ, with the kfuncs scx_bpfland and scx_qmap use.
 * ops.select_cpu claims an idle CPU with scx_bpf_select_cpu_and() (the v6.16 form, or with use_args
 * the v6.19 one taking struct scx_bpf_select_cpu_and_args) and inserts there directly; ops.enqueue
 * inserts into DSQ 0 (with use_args through __scx_bpf_dsq_insert_vtime's packed arguments, as a
 * vtime insert); ops.dispatch walks DSQ 0 with the DSQ iterator (front to back, or back to front
 * with reverse) and moves the first task this CPU may run to its local DSQ with scx_bpf_dsq_move()
 * (scx_bpf_dsq_move_vtime() with move_vtime, which the kernel refuses for a built-in DSQ). With
 * set_overrides, the move carries scx_bpf_dsq_move_set_slice/vtime() values and ops.running reports them.
 * Its C# twin is in BpfDsqIteratorTests. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct bpf_iter_scx_dsq { u64 __opaque[6]; } __attribute__((aligned(8)));
int bpf_iter_scx_dsq_new(struct bpf_iter_scx_dsq *it, u64 dsq_id, u64 flags) __ksym __weak;
struct task_struct *bpf_iter_scx_dsq_next(struct bpf_iter_scx_dsq *it) __ksym __weak;
void bpf_iter_scx_dsq_destroy(struct bpf_iter_scx_dsq *it) __ksym __weak;
bool scx_bpf_dsq_move(struct bpf_iter_scx_dsq *it, struct task_struct *p, u64 dsq_id, u64 enq_flags) __ksym __weak;
bool scx_bpf_dsq_move_vtime(struct bpf_iter_scx_dsq *it, struct task_struct *p, u64 dsq_id, u64 enq_flags) __ksym __weak;
void scx_bpf_dsq_move_set_slice(struct bpf_iter_scx_dsq *it, u64 slice) __ksym __weak;
void scx_bpf_dsq_move_set_vtime(struct bpf_iter_scx_dsq *it, u64 vtime) __ksym __weak;

struct scx_bpf_select_cpu_and_args {
	s32 prev_cpu;
	u64 wake_flags;
	u64 flags;
} __attribute__((preserve_access_index));
struct scx_bpf_dsq_insert_vtime_args {
	u64 dsq_id;
	u64 slice;
	u64 vtime;
	u64 enq_flags;
} __attribute__((preserve_access_index));
s32 scx_bpf_select_cpu_and(struct task_struct *p, s32 prev_cpu, u64 wake_flags, const struct cpumask *cpus_allowed, u64 flags) __ksym __weak;
s32 __scx_bpf_select_cpu_and(struct task_struct *p, const struct cpumask *cpus_allowed, struct scx_bpf_select_cpu_and_args *args) __ksym __weak;
bool __scx_bpf_dsq_insert_vtime(struct task_struct *p, struct scx_bpf_dsq_insert_vtime_args *args) __ksym __weak;

#define SCX_DSQ_ITER_REV (1ULL << 16)

const volatile bool reverse, use_args, move_vtime, set_overrides;

SCX_OPS0(s32, di_init)
{
	return scx_bpf_create_dsq(0, -1);
}

SCX_OPS3(s32, di_select_cpu, struct task_struct *, p, s32, prev_cpu, u64, wake_flags)
{
	s32 cpu;

	if (use_args) {
		struct scx_bpf_select_cpu_and_args args = { .prev_cpu = prev_cpu, .wake_flags = wake_flags, .flags = 0 };
		cpu = __scx_bpf_select_cpu_and(p, p->cpus_ptr, &args);
	} else {
		cpu = scx_bpf_select_cpu_and(p, prev_cpu, wake_flags, p->cpus_ptr, 0);
	}
	if (cpu >= 0) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
		return cpu;
	}
	return prev_cpu;
}

SCX_OPS2(void, di_enqueue, struct task_struct *, p, u64, enq_flags)
{
	if (use_args) {
		/* Every task has vtime 0 here, so the vtime order is the FIFO order. */
		struct scx_bpf_dsq_insert_vtime_args args = { .dsq_id = 0, .slice = SCX_SLICE_DFL, .vtime = 0, .enq_flags = enq_flags };
		__scx_bpf_dsq_insert_vtime(p, &args);
	} else {
		scx_bpf_dsq_insert(p, 0, SCX_SLICE_DFL, enq_flags);
	}
}

SCX_OPS2(void, di_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;

	bpf_iter_scx_dsq_new(&it, 0, reverse ? SCX_DSQ_ITER_REV : 0);
	while ((p = bpf_iter_scx_dsq_next(&it))) {
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		if (set_overrides) {
			scx_bpf_dsq_move_set_slice(&it, 12345);
			scx_bpf_dsq_move_set_vtime(&it, 777);
		}
		if (move_vtime ? scx_bpf_dsq_move_vtime(&it, p, SCX_DSQ_LOCAL, 0) : scx_bpf_dsq_move(&it, p, SCX_DSQ_LOCAL, 0))
			break;
	}
	bpf_iter_scx_dsq_destroy(&it);
}

SCX_OPS1(void, di_running, struct task_struct *, p)
{
	u64 data[] = { p->scx.slice, p->scx.dsq_vtime };

	if (set_overrides)
		scx_bpf_exit_bstr(0, "slice=%llu vtime=%llu", data, sizeof(data));
}

SEC(".struct_ops.link")
struct sched_ext_ops dsq_iter_ops = {
	.running = (void *)di_running,
	.select_cpu = (void *)di_select_cpu,
	.init = (void *)di_init,
	.enqueue = (void *)di_enqueue,
	.dispatch = (void *)di_dispatch,
	.name = "dsq_iter",
};
