/* pid_list.h: a FIFO of pids that also supports removal by value, kept in global data and
 * guarded by a bpf_spin_lock (the BPF form of the C# policies' List map: each operation runs
 * under the lock, so it is atomic to every other program using the list). */
#ifndef PID_LIST_H
#define PID_LIST_H
#include <scxlab_bpf.h>

#define PID_LIST_CAP 64

struct pid_list {
	u32 head;
	u32 count;
	s32 items[PID_LIST_CAP];
};

/* Callers hold the list's lock. */
static __always_inline bool pid_list_push(struct pid_list *l, s32 pid)
{
	if (l->count >= PID_LIST_CAP)
		return false;
	l->items[(l->head + l->count) % PID_LIST_CAP] = pid;
	l->count++;
	return true;
}

static __always_inline bool pid_list_peek(struct pid_list *l, s32 *pid)
{
	if (!l->count)
		return false;
	*pid = l->items[l->head % PID_LIST_CAP];
	return true;
}

static __always_inline bool pid_list_remove(struct pid_list *l, s32 pid)
{
	u32 n = l->count, i, at = PID_LIST_CAP;

	for (i = 0; i < PID_LIST_CAP && i < n; i++) {
		if (l->items[(l->head + i) % PID_LIST_CAP] == pid) {
			at = i;
			break;
		}
	}
	if (at == PID_LIST_CAP)
		return false;
	for (i = at; i + 1 < n && i < PID_LIST_CAP; i++)
		l->items[(l->head + i) % PID_LIST_CAP] = l->items[(l->head + i + 1) % PID_LIST_CAP];
	l->items[(l->head + n - 1) % PID_LIST_CAP] = 0;
	l->count = n - 1;
	if (n == 1)
		l->head = 0;
	return true;
}
#endif
