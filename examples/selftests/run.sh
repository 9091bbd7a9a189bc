#!/bin/sh
# Runs the kernel's sched_ext selftests (tools/testing/selftests/sched_ext/*.bpf.c, built by you from a
# kernel tree: they are not part of this repository) on the model, each with what its userspace half
# does, and compares the outcome with what that userspace half asserts (docs/bpf.md, "Selftests").
#
#   examples/selftests/run.sh DIR        DIR holds NAME.bpf.o for the selftests below
#   SCXLAB=path/to/scxlab examples/selftests/run.sh DIR
#
# Exit status: 0 when every selftest found gave its asserted outcome, 1 otherwise.
dir=${1:?usage: examples/selftests/run.sh DIR-with-NAME.bpf.o}
scxlab=${SCXLAB:-scxlab}
here=$(dirname "$0")
fail=0

# expect NAME OUTCOME SCENARIO [scxlab check options...]; OUTCOME is "holds", "refused" (the object does not
# load), or the scheduler exit kind the selftest asserts, optionally with the message it asserts
# ("SCX_EXIT_UNREG_BPF: 3")
expect() {
  name=$1 want=$2 scenario=$3; shift 3
  obj="$dir/$name.bpf.o"
  if [ ! -f "$obj" ]; then printf '%-28s %-22s %s\n' "$name" "$want" "(not built)"; return; fi
  out=$("$scxlab" check "$here/$scenario" --policy "$obj" "$@" 2>&1)
  if printf '%s\n' "$out" | grep -q '^verdict: holds'; then got=holds
  elif printf '%s\n' "$out" | grep -q '^scxlab check: '"$name"'.bpf.o: '; then got=refused
  else
       case "$want" in
         *:*) got=$(printf '%s\n' "$out" | sed -n 's/^violation 1: scheduler exit \(SCX_EXIT_[A-Z_]*: .*\)/\1/p' | head -1) ;;
         *)   got=$(printf '%s\n' "$out" | sed -n 's/^violation 1: scheduler exit \(SCX_EXIT_[A-Z_]*\).*/\1/p' | head -1) ;;
       esac
       [ -n "$got" ] || got=$(printf '%s\n' "$out" | grep -m1 -E '^violation 1|^scxlab' || echo "?")
  fi
  if [ "$got" = "$want" ]; then mark=ok; else mark=DIFFERS; fail=1; fi
  printf '%-34s %-24s %-24s %s\n' "$name${1:+ ($*)}" "$want" "$got" "$mark"
}

printf '%-34s %-24s %-24s %s\n' selftest asserts scxlab ""
expect minimal                      holds wakeup.yaml
expect select_cpu_dispatch          holds wakeup.yaml
expect select_cpu_dfl               holds wakeup.yaml
expect select_cpu_dfl_nodispatch    holds wakeup.yaml
expect select_cpu_vtime             holds wakeup.yaml
expect dsp_local_on                 holds wakeup.yaml --rodata nr_cpus=2
expect ddsp_bogus_dsq_fail          SCX_EXIT_ERROR wakeup.yaml
expect ddsp_vtimelocal_fail         SCX_EXIT_ERROR wakeup.yaml
expect select_cpu_dispatch_bad_dsq  SCX_EXIT_ERROR wakeup.yaml
expect select_cpu_dispatch_dbl_dsp  SCX_EXIT_ERROR wakeup.yaml
expect enq_last_no_enq_fails        SCX_EXIT_ERROR wakeup.yaml
# enq_select_cpu_fails asserts the pre-6.16 refusal of scx_bpf_select_cpu_dfl() from ops.enqueue; the model
# follows 7.x, where ops.enqueue may call it, and the kernel renamed the selftest enq_select_cpu.
expect enq_select_cpu               holds wakeup.yaml
expect allowed_cpus                 holds wakeup-one-round.yaml
expect cyclic_kick_wait             holds cyclic-kick-wait.yaml --rodata test_cpu_a=0 --rodata test_cpu_b=1 --rodata test_cpu_c=2
for point in 0 1 2 3 4 5; do
  expect exit                       "SCX_EXIT_UNREG_BPF: $point" wakeup.yaml --rodata exit_point=$point
done
expect prog_run                     "SCX_EXIT_UNREG_BPF: Exited from PROG_RUN" wakeup.yaml --syscall-attached prog_run_syscall
expect create_dsq                   holds wakeup-1024-dsqs.yaml
expect peek_dsq                     holds wakeup.yaml
expect dsq_reenq                    holds wakeup.yaml
expect maximal                      holds wakeup.yaml
expect maybe_null                   holds wakeup.yaml
# ops.dispatch's prev and ops.yield's to are __nullable: the verifier refuses an unchecked dereference at load
expect maybe_null_fail_dsp          refused wakeup.yaml
expect maybe_null_fail_yld          refused wakeup.yaml
expect dequeue_iter                 holds wakeup.yaml
expect non_scx_kfunc_deny           refused wakeup.yaml
exit $fail
