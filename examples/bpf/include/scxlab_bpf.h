/* scxlab_bpf.h: the declarations scxlab's example BPF schedulers are written against.
 *
 * Written for scxlab (not taken from the kernel, libbpf or scx): just enough of a vmlinux-style
 * header for the examples. Kernel structs carry preserve_access_index, so every field access is
 * a CO-RE relocation that scxlab resolves against its own type table of the modelled objects;
 * the layouts below are placeholders, never the offsets the loader uses. */
#ifndef SCXLAB_BPF_H
#define SCXLAB_BPF_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

/* ---- the libbpf-style macros the examples need ---- */
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define __ksym __attribute__((section(".ksyms")))
#define __weak __attribute__((weak))
#define __always_inline inline __attribute__((always_inline))

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_LRU_PERCPU_HASH = 10,
	BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
	BPF_MAP_TYPE_QUEUE = 22,
	BPF_MAP_TYPE_STACK = 23,
	BPF_MAP_TYPE_TASK_STORAGE = 29,
	BPF_MAP_TYPE_ARENA = 33,
};

/* BPF arenas: memory shared by every program, addressed with pointers of clang's address space 1 (clang casts them
 * to the kernel's space before each access). __ulong() declares a 64-bit map attribute (map_extra: the arena's user
 * address) as the value of an anonymous enum. */
#define __arena __attribute__((address_space(1)))
#define __ulong(name, val) enum { ___scxlab_ulong_##name = val } name
#define BPF_F_MMAPABLE (1U << 10)
#define NUMA_NO_NODE (-1)

enum { BPF_ANY = 0, BPF_NOEXIST = 1, BPF_EXIST = 2 };

/* ---- kernel objects (CO-RE: names matter, layouts do not) ---- */
struct cpumask {
	unsigned long bits[4];
} __attribute__((preserve_access_index));

struct sched_ext_entity {
	u64 dsq_vtime;
	u64 slice;
	u32 weight;
	u32 flags;
	s32 sticky_cpu;
} __attribute__((preserve_access_index));

struct task_struct {
	s32 pid;
	s32 tgid;
	u32 flags;
	s32 nr_cpus_allowed;
	const struct cpumask *cpus_ptr;
	char comm[16];
	struct sched_ext_entity scx;
} __attribute__((preserve_access_index));

struct scx_exit_info;
struct bpf_spin_lock { u32 val; };

/* ---- sched_ext constants (enum scx_dsq_id_flags, scx_enq_flags, scx_kick_flags, ...) ---- */
#define SCX_DSQ_FLAG_BUILTIN (1ULL << 63)
#define SCX_DSQ_FLAG_LOCAL_ON (1ULL << 62)
#define SCX_DSQ_INVALID (SCX_DSQ_FLAG_BUILTIN | 0)
#define SCX_DSQ_GLOBAL (SCX_DSQ_FLAG_BUILTIN | 1)
#define SCX_DSQ_LOCAL (SCX_DSQ_FLAG_BUILTIN | 2)
#define SCX_DSQ_LOCAL_ON (SCX_DSQ_FLAG_BUILTIN | SCX_DSQ_FLAG_LOCAL_ON)
#define SCX_SLICE_DFL 20000000ULL
#define SCX_KICK_IDLE (1ULL << 0)
#define SCX_KICK_PREEMPT (1ULL << 1)
#define SCX_OPS_ENQ_LAST (1ULL << 1)

/* ---- struct sched_ext_ops: members by name, as the loader reads them from BTF ---- */
struct scx_init_task_args;
struct scx_exit_task_args;
struct cgroup;
struct scx_cgroup_init_args;

struct sched_ext_ops {
	s32 (*select_cpu)(struct task_struct *p, s32 prev_cpu, u64 wake_flags);
	void (*enqueue)(struct task_struct *p, u64 enq_flags);
	void (*dequeue)(struct task_struct *p, u64 deq_flags);
	void (*dispatch)(s32 cpu, struct task_struct *prev);
	void (*tick)(struct task_struct *p);
	void (*runnable)(struct task_struct *p, u64 enq_flags);
	void (*running)(struct task_struct *p);
	void (*stopping)(struct task_struct *p, bool runnable);
	void (*quiescent)(struct task_struct *p, u64 deq_flags);
	bool (*yield)(struct task_struct *from, struct task_struct *to);
	bool (*core_sched_before)(struct task_struct *a, struct task_struct *b);
	void (*set_weight)(struct task_struct *p, u32 weight);
	void (*set_cpumask)(struct task_struct *p, const struct cpumask *cpumask);
	s32 (*init_task)(struct task_struct *p, struct scx_init_task_args *args);
	void (*exit_task)(struct task_struct *p, struct scx_exit_task_args *args);
	void (*enable)(struct task_struct *p);
	void (*disable)(struct task_struct *p);
	void (*dump)(void *ctx);
	void (*dump_cpu)(void *ctx, s32 cpu, bool idle);
	void (*dump_task)(void *ctx, struct task_struct *p);
	void (*cpu_online)(s32 cpu);
	void (*cpu_offline)(s32 cpu);
	void (*cpu_acquire)(s32 cpu, void *args);
	void (*cpu_release)(s32 cpu, void *args);
	s32 (*cgroup_init)(struct cgroup *cgrp, struct scx_cgroup_init_args *args);
	s32 (*init)(void);
	void (*exit)(struct scx_exit_info *info);
	u32 dispatch_max_batch;
	u64 flags;
	u32 timeout_ms;
	u32 exit_dump_len;
	char name[128];
};

/* ---- kfuncs ---- */
void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
void scx_bpf_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime, u64 enq_flags) __ksym;
bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym;
s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags, bool *is_idle) __ksym;
void scx_bpf_kick_cpu(s32 cpu, u64 flags) __ksym;
u32 scx_bpf_dispatch_nr_slots(void) __ksym;
void scx_bpf_dispatch_cancel(void) __ksym;
s32 scx_bpf_dsq_nr_queued(u64 dsq_id) __ksym;
bool scx_bpf_task_running(const struct task_struct *p) __ksym;
s32 scx_bpf_task_cpu(const struct task_struct *p) __ksym;
u64 scx_bpf_now(void) __ksym __weak;
void scx_bpf_error_bstr(char *fmt, u64 *data, u32 data__sz) __ksym;
void scx_bpf_exit_bstr(s64 exit_code, char *fmt, u64 *data, u32 data__sz) __ksym;
u32 scx_bpf_nr_cpu_ids(void) __ksym;
s32 scx_bpf_pick_idle_cpu(const struct cpumask *cpus_allowed, u64 flags) __ksym;
s32 scx_bpf_pick_any_cpu(const struct cpumask *cpus_allowed, u64 flags) __ksym;
bool scx_bpf_test_and_clear_cpu_idle(s32 cpu) __ksym;
void scx_bpf_destroy_dsq(u64 dsq_id) __ksym;
struct task_struct *scx_bpf_dsq_peek(u64 dsq_id) __ksym;
u32 scx_bpf_reenqueue_local(void) __ksym;
bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym;
struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
void bpf_task_release(struct task_struct *p) __ksym;
void __arena *bpf_arena_alloc_pages(void *map, void __arena *addr, u32 page_cnt, int node_id, u64 flags) __ksym;
void bpf_arena_free_pages(void *map, void __arena *ptr, u32 page_cnt) __ksym;

/* ---- helpers (numbered as in enum bpf_func_id) ---- */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static u32 (*bpf_get_prandom_u32)(void) = (void *)7;
static u32 (*bpf_get_smp_processor_id)(void) = (void *)8;
static long (*bpf_map_push_elem)(void *map, const void *value, u64 flags) = (void *)87;
static long (*bpf_map_pop_elem)(void *map, void *value) = (void *)88;
static long (*bpf_map_peek_elem)(void *map, void *value) = (void *)89;
static long (*bpf_spin_lock)(struct bpf_spin_lock *lock) = (void *)93;
static long (*bpf_spin_unlock)(struct bpf_spin_lock *lock) = (void *)94;
static void *(*bpf_task_storage_get)(void *map, struct task_struct *task, void *value, u64 flags) = (void *)156;

/* True when the kernel (here: the model) provides the __weak __ksym kfunc. */
#define bpf_ksym_exists(sym) ({ _Static_assert(!__builtin_constant_p(!!sym), #sym " should be marked as __weak"); !!sym; })

#define BPF_LOCAL_STORAGE_GET_F_CREATE (1ULL << 0)
#define BPF_F_NO_PREALLOC (1U << 0)

/* scx_bpf_error(fmt, args...): the arguments go as a u64 array, as the kernel's bstr kfunc takes them. */
#define ___scx_nth(_0, _1, _2, _3, _4, N, ...) N
#define ___scx_cnt(args...) ___scx_nth(_, ##args, 4, 3, 2, 1, 0)
#define ___scx_cat(a, b) a##b
#define ___scx_apply(m, n) ___scx_cat(m, n)
#define ___scx_u64_0()
#define ___scx_u64_1(x) (u64)(x)
#define ___scx_u64_2(x, y) (u64)(x), (u64)(y)
#define ___scx_u64_3(x, y, z) (u64)(x), (u64)(y), (u64)(z)
#define ___scx_u64_4(x, y, z, w) (u64)(x), (u64)(y), (u64)(z), (u64)(w)
#define scx_bpf_error(fmt, args...)                                                 \
	({                                                                          \
		static const char ___fmt[] = fmt;                                       \
		u64 ___param[] = { 0, ___scx_apply(___scx_u64_, ___scx_cnt(args))(args) }; \
		scx_bpf_error_bstr((char *)___fmt, &___param[1], sizeof(___param) - 8);     \
	})

/* Struct_ops callbacks: a program takes the u64 argument array of its callback (ctx) and
 * hands the arguments to the body, cast to their declared types. */
#define SCX_OPS0(ret, name)                                                         \
	static __always_inline ret ____##name(void);                                \
	SEC("struct_ops/" #name) ret name(unsigned long long *ctx) { return ____##name(); } \
	static __always_inline ret ____##name(void)
#define SCX_OPS1(ret, name, t0, a0)                                                 \
	static __always_inline ret ____##name(t0 a0);                               \
	SEC("struct_ops/" #name) ret name(unsigned long long *ctx) { return ____##name((t0)ctx[0]); } \
	static __always_inline ret ____##name(t0 a0)
#define SCX_OPS2(ret, name, t0, a0, t1, a1)                                         \
	static __always_inline ret ____##name(t0 a0, t1 a1);                        \
	SEC("struct_ops/" #name) ret name(unsigned long long *ctx) { return ____##name((t0)ctx[0], (t1)ctx[1]); } \
	static __always_inline ret ____##name(t0 a0, t1 a1)
#define SCX_OPS3(ret, name, t0, a0, t1, a1, t2, a2)                                 \
	static __always_inline ret ____##name(t0 a0, t1 a1, t2 a2);                 \
	SEC("struct_ops/" #name) ret name(unsigned long long *ctx) { return ____##name((t0)ctx[0], (t1)ctx[1], (t2)ctx[2]); } \
	static __always_inline ret ____##name(t0 a0, t1 a1, t2 a2)

#endif
