/* kconfig: __kconfig externs as libbpf resolves them; ops.init reports their values. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#define __kconfig __attribute__((section(".kconfig")))

extern int LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_SCXLAB_TEST_OPTION __kconfig __weak;
#ifdef STRONG
extern bool CONFIG_SCXLAB_STRONG __kconfig;
#endif

SCX_OPS0(s32, kc_init)
{
	u64 param[] = { LINUX_KERNEL_VERSION >> 16, (LINUX_KERNEL_VERSION >> 8) & 0xff, CONFIG_SCXLAB_TEST_OPTION
#ifdef STRONG
		+ CONFIG_SCXLAB_STRONG
#endif
	};
	static const char fmt[] = "%llu.%llu %llu";
	scx_bpf_exit_bstr(0, (char *)fmt, param, sizeof(param));
	return 0;
}

SCX_OPS2(void, kc_enqueue, struct task_struct *, p, u64, enq_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SEC(".struct_ops.link")
struct sched_ext_ops kconfig_ops = {
	.enqueue = (void *)kc_enqueue,
	.init = (void *)kc_init,
	.name = "kconfig",
};
