/* cpumask_tape: ops.init runs a tape of cpumask kfunc calls (set by --rodata) on four masks — two struct
 * bpf_cpumask objects from bpf_cpumask_create() and two kept in global data — with the online mask as a fifth
 * source (the first object reuses a freed one's slot), folds every result into a hash, and the first ops.enqueue ends the scheduler reporting it.
 * BpfCpumaskTapeTests compares the hash with a C# reference on random tapes and machine sizes. Written for the tests.
 *
 * An instruction: op << 24 | dst << 20 | src1 << 16 | src2 << 12 | cpu (dst 0..3; sources 0..4, 4 = online). */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

#include "cpumask_kfuncs.h"

#define TAPE 48

const volatile u32 tape[TAPE];
const volatile u32 tape_len;
struct bpf_cpumask kept[2];
u64 result[2];

SCX_OPS0(s32, tp_init)
{
	struct bpf_cpumask *m[4];
	const struct cpumask *online = scx_bpf_get_online_cpumask();
	struct bpf_cpumask *used = bpf_cpumask_create();
	u64 h = 7;

	/* A freed object's slot comes back empty, every word of it. */
	if (!used)
		return -12;
	bpf_cpumask_setall(used);
	bpf_cpumask_release(used);
	m[0] = bpf_cpumask_create();
	m[1] = bpf_cpumask_create();
	m[2] = &kept[0];
	m[3] = &kept[1];
	if (!m[0] || !m[1])
		return -12;
	for (u32 i = 0; i < tape_len && i < TAPE; i++) {
		u32 insn = tape[i], op = insn >> 24, cpu = insn & 0xfff;
		struct bpf_cpumask *d = m[(insn >> 20) & 3];
		u32 a = (insn >> 16) & 7, b = (insn >> 12) & 7;
		const struct cpumask *s1 = a >= 4 ? online : (const struct cpumask *)m[a];
		const struct cpumask *s2 = b >= 4 ? online : (const struct cpumask *)m[b];
		u64 v = 0;

		switch (op) {
		case 0: bpf_cpumask_set_cpu(cpu, d); break;
		case 1: bpf_cpumask_clear_cpu(cpu, d); break;
		case 2: v = bpf_cpumask_test_and_set_cpu(cpu, d); break;
		case 3: v = bpf_cpumask_test_and_clear_cpu(cpu, d); break;
		case 4: bpf_cpumask_setall(d); break;
		case 5: bpf_cpumask_clear(d); break;
		case 6: v = bpf_cpumask_and(d, s1, s2); break;
		case 7: bpf_cpumask_or(d, s1, s2); break;
		case 8: bpf_cpumask_xor(d, s1, s2); break;
		case 9: bpf_cpumask_copy(d, s1); break;
		case 10: v = bpf_cpumask_first(s1); break;
		case 11: v = bpf_cpumask_first_zero(s1); break;
		case 12: v = bpf_cpumask_first_and(s1, s2); break;
		case 13: v = bpf_cpumask_weight(s1); break;
		case 14: v = bpf_cpumask_empty(s1); break;
		case 15: v = bpf_cpumask_full(s1); break;
		case 16: v = bpf_cpumask_intersects(s1, s2); break;
		case 17: v = bpf_cpumask_subset(s1, s2); break;
		case 18: v = bpf_cpumask_equal(s1, s2); break;
		case 19: v = bpf_cpumask_test_cpu(cpu, s1); break;
		default: v = bpf_cpumask_any_distribute(s1); break;
		}
		h = h * 1000003 + v;
	}
	scx_bpf_put_cpumask(online);
	bpf_cpumask_release(m[0]);
	bpf_cpumask_release(m[1]);
	result[0] = h;
	result[1] = tape_len;
	return 0;
}

SCX_OPS2(void, tp_enqueue, struct task_struct *, p, u64, enq_flags)
{
	static const char fmt[] = "hash=%llu ops=%llu";
	scx_bpf_exit_bstr(0, (char *)fmt, result, sizeof(result));
}

SEC(".struct_ops.link")
struct sched_ext_ops cpumask_tape_ops = {
	.enqueue = (void *)tp_enqueue,
	.init = (void *)tp_init,
	.name = "cpumask_tape",
};
