#!/usr/bin/env bash
# make demo: shows bwarb at work. Loads the module and runs the demo steps,
# scripts/demo.d/NN-name.sh in order (add a step by adding a file), each
# with the repository top as its directory and in its environment:
#   DEMO_TOP, BWARBCTL (the bwarbctl binary), DEMO_CLIENTS (build/demo_clients)
# Where: on this host when it can load modules (root with CAP_SYS_MODULE,
# module support, the running kernel's headers at
# /lib/modules/$(uname -r)/build), otherwise in the QEMU guest of
# tests/vm/run (the usual case here).
#
#   scripts/demo.sh [--vm | --host]    choose the place instead of guessing
#   scripts/demo.sh --steps            run the steps here (bwarb loaded)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
me=demo

find_tool() { # find_tool NAME: the built binary, wherever the build put it
	local p
	for p in "build/$1" "build/tools/$1" "tools/$1/$1"; do
		[ -x "$p" ] && { echo "$top/$p"; return 0; }
	done
	command -v "$1" 2>/dev/null
}

run_steps() {
	local step name failed=()
	export DEMO_TOP=$top
	BWARBCTL=$(find_tool bwarbctl) || BWARBCTL=
	DEMO_CLIENTS=$(find_tool demo_clients) || DEMO_CLIENTS=
	export BWARBCTL DEMO_CLIENTS
	echo "== bwarb demo on $(uname -n), kernel $(uname -r), $(nproc) CPUs"
	for step in scripts/demo.d/[0-9]*.sh; do
		[ -f "$step" ] || continue
		name=$(basename "$step" .sh)
		echo
		echo "== step $name"
		if ! bash "$step"; then
			echo "== step $name FAILED"
			failed+=("$name")
		fi
	done
	echo
	if [ ${#failed[@]} -gt 0 ]; then
		echo "== demo: failed steps: ${failed[*]}"
		return 1
	fi
	echo "== demo: all steps done"
}

# Root is not enough in a container: CAP_SYS_MODULE (bit 16) must be in
# the effective set too.
has_cap_sys_module() {
	local eff
	eff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status 2>/dev/null)
	[ -n "$eff" ] && (( (16#$eff >> 16) & 1 ))
}

host_can_load_modules() {
	[ "$(id -u)" -eq 0 ] && has_cap_sys_module && [ -r /proc/modules ] &&
		[ -d "/lib/modules/$(uname -r)/build" ] &&
		[ "$(cat /proc/sys/kernel/modules_disabled 2>/dev/null)" = 0 ]
}

run_on_host() {
	local kver ko
	kver=$("$top/scripts/kver.sh")
	if [ "$(uname -r)" = "$kver" ] && [ -f bwarb.ko ]; then
		ko=$top/bwarb.ko
	else
		# The module of `make` is built for $kver: build a copy for the
		# running kernel (as the lint build does).
		local dir=build/kmod-host
		echo "$me: building bwarb.ko for the running kernel $(uname -r)"
		rm -rf "$dir" && mkdir -p "$dir/kmod/uapi" &&
			cp Kbuild "$dir/" && cp kmod/*.[ch] "$dir/kmod/" &&
			cp kmod/uapi/*.h "$dir/kmod/uapi/" &&
			make -s -C "/lib/modules/$(uname -r)/build" M="$top/$dir" modules ||
			{ echo "$me: cannot build bwarb.ko for $(uname -r)" >&2; return 1; }
		ko=$top/$dir/bwarb.ko
	fi
	if grep -q '^bwarb ' /proc/modules; then
		echo "$me: bwarb is already loaded; unloading it first"
		rmmod bwarb || { echo "$me: cannot unload the loaded bwarb (in use?)" >&2; return 1; }
	fi
	insmod "$ko" || { echo "$me: insmod $ko failed" >&2; return 1; }
	trap 'rmmod bwarb 2>/dev/null' EXIT
	run_steps
}

where=auto
case ${1:-} in
--steps) run_steps; exit ;;
--vm) where=vm ;;
--host) where=host ;;
'') ;;
*) echo "usage: scripts/demo.sh [--vm | --host | --steps]" >&2; exit 2 ;;
esac
why="(asked for)"
if [ $where = auto ]; then
	if host_can_load_modules; then
		where=host why="(this host can load modules)"
	else
		where=vm why="(this host, kernel $(uname -r), cannot load modules)"
	fi
fi
if [ $where = host ]; then
	echo "$me: running on this host $why"
	run_on_host
	exit
fi
echo "$me: running in the QEMU guest of tests/vm/run $why"
exec tests/vm/run --load --check-dmesg --timeout "${DEMO_TIMEOUT:-600}" -- scripts/demo.sh --steps
