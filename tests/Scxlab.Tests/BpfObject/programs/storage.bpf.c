/* storage: task local storage as the kernel keeps it: bpf_task_storage_get() without
 * BPF_LOCAL_STORAGE_GET_F_CREATE finds nothing until a get with it creates the storage (zeroed, or
 * from the value passed), and bpf_task_storage_delete() removes it (-ENOENT the second time).
 * ops.enqueue reports. Written for the tests. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

static long (*bpf_task_storage_delete)(void *map, struct task_struct *task) = (void *)157;

struct tctx { u64 value; };

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tctx);
} stor SEC(".maps");

SCX_OPS2(void, st_enqueue, struct task_struct *, p, u64, enq_flags)
{
	struct tctx init = { .value = 40 }, *t;
	u64 data[7];

	data[0] = bpf_task_storage_get(&stor, p, 0, 0) != 0;
	t = bpf_task_storage_get(&stor, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	data[1] = t != 0;
	if (t)
		t->value = 7;
	t = bpf_task_storage_get(&stor, p, 0, 0);
	data[2] = t ? t->value : 99;
	data[3] = bpf_task_storage_delete(&stor, p);
	data[4] = bpf_task_storage_get(&stor, p, 0, 0) != 0;
	data[5] = bpf_task_storage_delete(&stor, p);
	t = bpf_task_storage_get(&stor, p, &init, BPF_LOCAL_STORAGE_GET_F_CREATE);
	data[6] = t ? t->value : 99;
	scx_bpf_exit_bstr(0, "first=%lld created=%lld value=%lld deleted=%lld after=%lld again=%lld init=%lld", data, sizeof(data));
}

SEC(".struct_ops.link")
struct sched_ext_ops storage_ops = {
	.enqueue = (void *)st_enqueue,
	.name = "storage",
};
