/* isa: exercises the instructions clang emits for -mcpu=v3 (and v4 when built so); ops.init
 * reports every result through scx_bpf_exit_bstr() so the test can compare them with C#. */
#include <scxlab_bpf.h>

char _license[] SEC("license") = "GPL";

/* Inputs in .data, so clang cannot fold the computations away. */
u64 c = 0x123456789abcdef0ULL;
s64 a = -7;
u64 d = 5;
u32 w = 0xfffffff0U;
s8 sb = -3;
s16 sh = -300;
u64 g64 = 10;
u32 g32 = 20;
u64 results[16];
u8 bytes[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static __attribute__((noinline)) u64 fib(u32 n)
{
	u64 x = 0, y = 1, t;
	u32 i;

	for (i = 0; i < n && i < 90; i++) {
		t = x + y;
		x = y;
		y = t;
	}
	return x;
}

static __attribute__((noinline)) u64 depth(u32 n)
{
	u64 local[8];
	u32 i;

	for (i = 0; i < 8; i++)
		local[i] = n + i;
	if (n == 0)
		return local[7];
	return depth(n - 1) + local[3];
}

SCX_OPS0(s32, isa_init)
{
	u64 data[12];

	data[0] = c / d + c % d;
	data[1] = (u64)((s64)a >> 1) + (c >> 7) + (c << 3);
	data[2] = (u32)c * 3u + (w + 0x20);
	data[3] = __builtin_bswap64(c) ^ __builtin_bswap32((u32)c) ^ __builtin_bswap16((u16)c);
	data[4] = (u64)(s64)sb + (u64)(s64)sh + (u64)(s64)(s32)w;
	data[5] = __sync_fetch_and_add(&g64, 5) * 1000 + g64;
	data[6] = __sync_fetch_and_or(&g32, 3) * 1000 + __sync_fetch_and_and(&g32, 6) * 100 + __sync_fetch_and_xor(&g32, 1);
	data[7] = __sync_lock_test_and_set(&g64, 77) * 1000 + __sync_val_compare_and_swap(&g32, 7, 9) * 10 + g32;
	data[8] = fib(50);
	data[9] = depth(5);
	data[10] = bytes[3] | (u64)bytes[6] << 8 | (u64)*(u16 *)&bytes[4] << 16;
#if __BPF_CPU_VERSION__ >= 4
	data[11] = (u64)(a / 2) + (u64)(a % 3) * 1000;
#else
	data[11] = (u64)(-a) / 2;
#endif
	results[0] = data[0];
	scx_bpf_exit_bstr(1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", data, sizeof(data));
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops isa_ops = {
	.init = (void *)isa_init,
	.name = "isa",
};
