/* events: scx_bpf_events() as scx_qmap's monitor and scx's scx_read_event() use it — a struct scx_event_stats on
 * the stack laid out as an older vmlinux.h has it, fields read through CO-RE (one the model does not keep reads as 0
 * via bpf_core_field_exists()). ops.select_cpu returns CPU 0, which the woken task may not use, so the core falls
 * back (SCX_EV_SELECT_CPU_FALLBACK); ops.dispatch reports the counters once that count is seen. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

struct scx_event_stats {
	s64 SCX_EV_SELECT_CPU_FALLBACK;
	s64 SCX_EV_DISPATCH_LOCAL_DSQ_OFFLINE;
	s64 SCX_EV_DISPATCH_KEEP_LAST;
	s64 SCX_EV_ENQ_SKIP_EXITING;
	s64 SCX_EV_ENQ_SKIP_MIGRATION_DISABLED;
	s64 SCX_EV_REFILL_SLICE_DFL;
	s64 SCX_EV_BYPASS_DURATION;
	s64 SCX_EV_BYPASS_DISPATCH;
	s64 SCX_EV_BYPASS_ACTIVATE;
} __attribute__((preserve_access_index));

void scx_bpf_events(struct scx_event_stats *events, unsigned long events__sz) __ksym __weak;

#define read_event(e, name) (__builtin_preserve_field_info((e)->name, 2) ? (e)->name : 0)

#define SHARED_DSQ 0

SCX_OPS0(s32, ev_init)
{
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

SCX_OPS3(s32, ev_select_cpu, struct task_struct *, p, s32, prev_cpu, u64, wake_flags)
{
	return 0;
}

SCX_OPS2(void, ev_enqueue, struct task_struct *, p, u64, enq_flags)
{
	scx_bpf_dsq_insert(p, SHARED_DSQ, SCX_SLICE_DFL, enq_flags);
}

SCX_OPS2(void, ev_dispatch, s32, cpu, struct task_struct *, prev)
{
	struct scx_event_stats e = {};

	if (!bpf_ksym_exists(scx_bpf_events))
		return;
	scx_bpf_events(&e, sizeof(e));
	if (!read_event(&e, SCX_EV_SELECT_CPU_FALLBACK)) {
		scx_bpf_dsq_move_to_local(SHARED_DSQ);
		return;
	}
	u64 param[] = { read_event(&e, SCX_EV_SELECT_CPU_FALLBACK), read_event(&e, SCX_EV_DISPATCH_KEEP_LAST),
			read_event(&e, SCX_EV_REFILL_SLICE_DFL), read_event(&e, SCX_EV_BYPASS_DURATION) };
	static const char fmt[] = "fallback=%lld keep_last=%lld refill=%lld bypass_duration=%lld";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
}

SEC(".struct_ops.link")
struct sched_ext_ops ev_ops = {
	.init = (void *)ev_init,
	.select_cpu = (void *)ev_select_cpu,
	.enqueue = (void *)ev_enqueue,
	.dispatch = (void *)ev_dispatch,
	.name = "events",
};
