/* older_upstream: what 2024-25 releases of scx's schedulers use and the newer ones dropped: a ring buffer to
 * user space (scx_lavd's introspection), bpf_probe_read_kernel() of a task pointer (scx_rusty's t_to_tptr),
 * scx_bpf_cpu_rq(cpu)->curr through struct rq's anonymous union (scx_lavd, scx_flash), scx_bpf_pick_idle_cpu()
 * on a struct bpf_cpumask (scx_bpfland's primary domain), and the per-CPU rotor that cpumask_any_distribute()
 * shares with the idle pick. ops.enqueue reports every result with scx_bpf_exit_bstr(). Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#define BPF_MAP_TYPE_RINGBUF 27

struct bpf_cpumask { u64 opaque; };

struct bpf_cpumask *bpf_cpumask_create(void) __ksym;
void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym;
void bpf_cpumask_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym;
u32 bpf_cpumask_any_distribute(const struct cpumask *cpumask) __ksym;
static void *(*bpf_kptr_xchg)(void *dst, void *ptr) = (void *)194;

/* v6.15+ vmlinux.h: curr shares an anonymous union with donor (proxy execution). */
struct rq {
	int cpu;
	union {
		struct task_struct *donor;
		struct task_struct *curr;
	};
} __attribute__((preserve_access_index));

struct rq *scx_bpf_cpu_rq(s32 cpu) __ksym;

/* scx_lavd compares its tasks' parents: a flavor of task_struct with the field (CO-RE drops the ___ suffix). */
struct task_struct___parent {
	struct task_struct *real_parent;
	unsigned int __state;
} __attribute__((preserve_access_index));

static long (*bpf_probe_read_kernel)(void *dst, u32 size, const void *unsafe_ptr) = (void *)113;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, u64 size, u64 flags) = (void *)130;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, u64 size, u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, u64 flags) = (void *)132;
static void (*bpf_ringbuf_discard)(void *data, u64 flags) = (void *)133;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct msg {
	u64 pid;
	u64 what;
};

/* rodata switches for the error cases: a bad CPU to scx_bpf_cpu_rq(), a record never submitted. */
const volatile u32 bad_cpu;
const volatile u32 leak_record;

struct bpf_cpumask *domain;

#define CAST(m) ((const struct cpumask *)(m))

SCX_OPS0(s32, ou_init)
{
	struct bpf_cpumask *m = bpf_cpumask_create();

	if (!m)
		return -12;
	bpf_cpumask_set_cpu(0, m);
	bpf_cpumask_set_cpu(1, m);
	m = bpf_kptr_xchg(&domain, m);
	if (m)
		bpf_cpumask_release(m);
	return 0;
}

SCX_OPS2(void, ou_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct bpf_cpumask *m = domain;
	u64 tptr = 0, zeroed = 7;
	long bad_read, out, r1, r2, idle, any;
	struct msg *rec, data = { 1, 2 };
	struct rq *rq;
	s32 rq_cpu, curr_pid;

	/* t_to_tptr(): the task pointer as a number, and a failed read zeroes its destination. */
	bpf_probe_read_kernel(&tptr, sizeof(tptr), &p);
	bad_read = bpf_probe_read_kernel(&zeroed, sizeof(zeroed), (void *)0);

	/* A record: reserved, written, submitted; one too big and one with bad flags are refused. */
	rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);
	if (!rec)
		return;
	rec->pid = p->pid;
	rec->what = enq_flags;
	if (leak_record)
		return; /* the verifier refuses this path: the record is still reserved */
	bpf_ringbuf_submit(rec, 0);
	out = bpf_ringbuf_output(&events, &data, sizeof(data), 0);
	rec = bpf_ringbuf_reserve(&events, 8192, 0);
	if (rec)
		bpf_ringbuf_discard(rec, 0);
	else
		out += 10;

	rq = scx_bpf_cpu_rq(bad_cpu ? 9 : 1);
	if (!rq)
		return;
	rq_cpu = rq->cpu;
	curr_pid = rq->curr ? rq->curr->pid : -1;

	if (!m)
		return;
	/* The rotor of this CPU: the next CPU of the mask after the last one picked here, wrapping. */
	r1 = bpf_cpumask_any_distribute(CAST(m));
	r2 = bpf_cpumask_any_distribute(CAST(m));
	idle = scx_bpf_pick_idle_cpu(CAST(m), 0);
	any = scx_bpf_pick_any_cpu(CAST(m), 0);

	struct task_struct *parent = ((struct task_struct___parent *)p)->real_parent;

	u64 param[] = { tptr == (u64)p, (u64)bad_read, zeroed, (u64)out, (u64)rq_cpu, (u64)curr_pid, (u64)(r1 != r2),
			(u64)(idle == -16 || idle == 0 || idle == 1), (u64)(any == 0 || any == 1), (u64)(parent && parent != p),
			((struct task_struct___parent *)p)->__state, parent ? (u64)parent->tgid : -1ULL };
	static const char fmt[] = "%llu %lld %llu %lld %lld %lld %llu %llu %llu %llu %llu %llu";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SEC(".struct_ops.link")
struct sched_ext_ops ou_ops = {
	.enqueue = (void *)ou_enqueue,
	.init = (void *)ou_init,
	.name = "older_upstream",
};
