#!/usr/bin/env bash
# splitmoe run/eval/info with --device cpu|gpu|split on the software GPU:
# every device generates the CPU's tokens; without a driver, one line and
# the CPU path; bad split rules are one error; bench --parallel (batched
# decode, CPU only) is refused in one line. TAP on stdout.
# usage: cli_test.sh SPLITMOE MODEL_DIR SWGPU_LIB
set -u
bin=$1 model=$2 lib=$3
n=0 fail=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
ids() { "$bin" run --model "$model" --prompt "Copyright 2007 Free Software Foundation" -n 16 \
	--dtype f32 --print-ids "$@" 2>/dev/null | tail -n 1; }

export ZE_ENABLE_ALT_DRIVERS=$lib
cpu=$(ids --device cpu)
[ -n "$cpu" ]; ok $? "cpu run prints ids ($cpu)"
for d in gpu split; do
	got=$(ids --device "$d")
	[ "$got" = "$cpu" ]; ok $? "--device $d generates the CPU's tokens"
done
cfg=$(mktemp)
trap 'rm -f "$cfg" "$cfg.out" "$cfg.err"' EXIT
for mode in expert-parallel dynamic; do
	printf 'split:\n  mode: %s\n  rules: attention=gpu,router=cpu,experts=gpu,head=cpu\n' "$mode" >"$cfg"
	got=$(ids --config "$cfg" --device split)
	[ "$got" = "$cpu" ]; ok $? "split mode $mode (YAML) generates the CPU's tokens"
done
printf 'split:\n  rules: attention=cpu,experts[0-x]=gpu\n' >"$cfg"
err=$("$bin" run --config "$cfg" --model "$model" --ids 1,2 -n 1 --device split 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && [[ $err == *"experts[0-x]=gpu"* ]]
ok $? "a bad split rule: one error line naming it, non-zero exit ($err)"

# batched decode runs on the CPU backend only: bench --parallel with
# --device gpu|split is refused in one line
for d in gpu split; do
	err=$("$bin" bench --model "$model" --parallel 2 -p 4 -n 2 -t 1 -r 1 --no-membw --dtype f32 \
		--device $d 2>&1 >/dev/null | grep -v '^bench: ')
	rc=$?
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
		[[ $err == "splitmoe: batched decode (max_seqs 2) runs on the CPU backend only"* ]]
	ok $? "bench --parallel 2 --device $d: one refusal line ($err)"
done

# The YAML equivalent of --device, and the YAML-named Level Zero device;
# run's stderr reports the kernel timestamps and that every kernel was
# appended under a grant of the gpu client.
printf 'device: split\ngpu:\n  device: "swgpu software"\n' >"$cfg"
"$bin" run --config "$cfg" --model "$model" --prompt "Copyright 2007 Free Software Foundation" \
	-n 16 --dtype f32 --print-ids >"$cfg.out" 2>"$cfg.err"
rc=$?
line=$(grep '^gpu kernels (Level Zero timestamps): ' "$cfg.err")
[ $rc -eq 0 ] && [ "$(tail -n 1 "$cfg.out")" = "$cpu" ] && grep -q '^weights held (split)' "$cfg.err" &&
	[[ $line =~ experts\ [0-9.]+\ ms\ in\ [1-9][0-9]*.*\;\ ([0-9]+)\ of\ ([0-9]+)\ kernels ]] &&
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && [ "${BASH_REMATCH[1]}" -gt 0 ] &&
	grep -qE '^arbiter process: gpu client ([1-9][0-9]*) acquires, \1 completed, ' "$cfg.err" &&
	grep -qE '^arbiter process: cpu client ([1-9][0-9]*) acquires, \1 completed, ' "$cfg.err"
ok $? "YAML device: split, gpu.device named: the CPU's tokens; stderr: ${line:0:100}..."
printf 'device: gpu\ngpu:\n  device: "Arc A770"\n' >"$cfg"
"$bin" run --config "$cfg" --model "$model" --prompt "Copyright 2007 Free Software Foundation" \
	-n 16 --dtype f32 --print-ids >"$cfg.out" 2>"$cfg.err"
rc=$?
[ $rc -eq 0 ] && [ "$(tail -n 1 "$cfg.out")" = "$cpu" ] &&
	[ "$(grep -c "no GPU named like 'Arc A770'; running on the CPU" "$cfg.err")" -eq 1 ] &&
	! grep -q '^gpu kernels' "$cfg.err"
ok $? "YAML gpu.device that no device matches: one line, then the CPU path"
rm -f "$cfg.out" "$cfg.err"

out=$("$bin" eval --model "$model" --reference "$model/reference.json" --dtype f32 --device split 2>&1)
[[ $out == *PASS* ]]; ok $? "eval --device split passes the fixture"
out=$("$bin" info 2>&1)
[[ $out == *"swgpu software test GPU"*"DRM node: none"* ]]; ok $? "info lists the Level Zero device and its DRM node"

# A device error mid-run (swgpu's fault injection): one error, no hang.
for d in gpu split; do
	err=$(SWGPU_FAIL_LAUNCH=40 timeout 120 "$bin" run --model "$model" --prompt "Copyright 2007" \
		-n 16 --dtype f32 --device "$d" 2>&1 >/dev/null)
	rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(printf '%s\n' "$err" | grep -c 'device lost')" -eq 1 ]
	ok $? "--device $d: a device lost mid-run ends in one error (exit $rc: $(printf '%s' "$err" | grep 'device lost'))"
done

# A kernel module that does not build: one line with the build log, then
# the CPU path.
kdir=$(mktemp -d)
cp "$(dirname "$lib")"/kernels/*.spv "$kdir"/
printf '\003\002\043\007garbage' | dd of="$kdir/layernorm.spv" bs=1 seek=20 conv=notrunc 2>/dev/null
err=$(SPLITMOE_KERNEL_DIR=$kdir "$bin" run --model "$model" --prompt "Copyright 2007 Free Software Foundation" \
	-n 16 --dtype f32 --print-ids --device gpu 2>&1 >/dev/null | grep "kernel build failed.*running on the CPU")
got=$(SPLITMOE_KERNEL_DIR=$kdir ids --device gpu)
rm -rf "$kdir"
[ -n "$err" ] && [ "$got" = "$cpu" ]
ok $? "a kernel that does not build: one line naming it, then the CPU path (${err:0:90}...)"

export ZE_ENABLE_ALT_DRIVERS=/nonexistent/libze_swgpu.so
err=$("$bin" run --model "$model" --prompt "Copyright 2007 Free Software Foundation" -n 16 --dtype f32 \
	--print-ids --device gpu 2>&1 >/dev/null | grep -c "no driver.*running on the CPU")
got=$(ids --device gpu)
[ "$err" -eq 1 ] && [ "$got" = "$cpu" ]; ok $? "no driver: one line, then the CPU path with the same tokens"
echo "1..$n"
exit $fail
