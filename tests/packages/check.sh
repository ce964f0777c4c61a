#!/usr/bin/env bash
# TAP: the Debian packages of build/deb/ (make deb) install on this machine,
# work from the installed files, and purge leaving the machine as it was.
#   check.sh DEB_DIR FIXTURE BUILT_SPLITMOE [FIRST]   (FIRST: the first TAP number)
# Needs root and none of the packages installed already (else one SKIP).
set -u
debdir=$(cd "$1" && pwd) fixture=$(cd "$2" && pwd) built=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
first=${4:-1}
pkgs=(bwarb-dkms splitmoe libsplitmoe0 libsplitmoe-dev splitmoe-swgpu)
prompt="The license"
tmp=$(mktemp -d)
n=$((first - 1)) fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; [ -n "${2:-}" ] && sed 's/^/# /' "$2" | tail -n 30; }
check() { # check DESCRIPTION LOG COMMAND...: ok when the command succeeds
	local what=$1 log=$2
	shift 2
	if "$@" >"$log" 2>&1; then ok "$what"; else notok "$what" "$log"; fi
}
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300 "$@"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "ok $first - packages # SKIP not root: installing packages needs root"
	exit 0
fi
for p in "${pkgs[@]}"; do
	if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -q '^installed$'; then
		echo "ok $first - packages # SKIP $p is installed on this machine: left alone"
		exit 0
	fi
done

# What purge must give back: the package set, the groups the rule
# names, and the DKMS signing key it may create on first use.
dpkg-query -W -f='${Package} ${Version} ${db:Status-Status}\n' | sort >"$tmp/before"
had_group=()
for g in bwarb bwarb-rt; do getent group "$g" >/dev/null && had_group+=("$g"); done
had_mok=no
[ -e /var/lib/dkms/mok.key ] && had_mok=yes

debs=()
for p in "${pkgs[@]}"; do debs+=("$(ls "$debdir"/${p}_*.deb)"); done
check "apt-get install ./*.deb: ${pkgs[*]}" "$tmp/install.log" \
	apt_get install --no-install-recommends "${debs[@]}"

# bwarb-dkms: DKMS built and installed the module for the kernels here
# that have headers (its postinst: dkms install).
kernels_with_headers=$(for d in /lib/modules/*/build; do [ -e "$d/Makefile" ] &&
	basename "$(dirname "$d")"; done | sort)
dkms status bwarb >"$tmp/dkms.log" 2>&1
missing=""
for k in $kernels_with_headers; do
	grep -q "bwarb/[^,]*, $k, [^:]*: installed" "$tmp/dkms.log" || missing="$missing $k"
done
if [ -n "$kernels_with_headers" ] && [ -z "$missing" ]; then
	ok "dkms status: bwarb installed for $(echo $kernels_with_headers)"
else
	notok "dkms status: bwarb installed for every kernel with headers (missing:$missing)" "$tmp/dkms.log"
fi

check "splitmoe info runs from /usr/bin" "$tmp/info.log" /usr/bin/splitmoe info
top=$(cd "$(dirname "$0")/../.." && pwd)
check "bwarbctl and bwsim run from /usr/bin (bwsim: configs/sim/admission.yaml)" "$tmp/tools.log" \
	sh -c "/usr/bin/bwarbctl --help && /usr/bin/bwsim '$top/configs/sim/admission.yaml'"
# The installed configuration parses; the installed binary generates what
# the tree's does.
/usr/bin/splitmoe run --config /etc/splitmoe/splitmoe.yaml --model "$fixture" \
	--prompt "$prompt" -n 8 >"$tmp/run.out" 2>"$tmp/run.err"
rc=$?
"$built" run --model "$fixture" --prompt "$prompt" -n 8 >"$tmp/built.out" 2>/dev/null
if [ $rc -eq 0 ] && [ -s "$tmp/run.out" ] && cmp -s "$tmp/run.out" "$tmp/built.out"; then
	ok "installed splitmoe run --config /etc/splitmoe/splitmoe.yaml on the fixture: the tree's text"
else
	notok "installed splitmoe run --config /etc/splitmoe/splitmoe.yaml on the fixture: the tree's text" \
		"$tmp/run.err"
fi
# splitmoe-swgpu: a login shell offers the software GPU to the loader, and
# the split path runs on it with the installed SPIR-V kernels.
if [ -e /usr/lib/x86_64-linux-gnu/libze_intel_gpu.so.1 ]; then
	echo "ok $((n += 1)) - software GPU registered # SKIP Intel's Level Zero driver is installed"
else
	env -u ZE_ENABLE_ALT_DRIVERS -u SPLITMOE_KERNEL_DIR bash -lc '/usr/bin/splitmoe info' \
		>"$tmp/swinfo.log" 2>&1
	if grep -q 'swgpu software test GPU' "$tmp/swinfo.log"; then
		ok "a login shell's splitmoe info lists the software GPU (/etc/profile.d)"
	else
		notok "a login shell's splitmoe info lists the software GPU (/etc/profile.d)" "$tmp/swinfo.log"
	fi
	(cd / && env -u SPLITMOE_KERNEL_DIR bash -lc '/usr/bin/splitmoe run --model "$0" \
		--prompt "$1" -n 4 --device split' "$fixture" "$prompt") >"$tmp/split.out" 2>"$tmp/split.err"
	if [ $? -eq 0 ] && grep -q '^weights held (split)' "$tmp/split.err"; then
		ok "installed splitmoe run --device split on the software GPU and installed kernels"
	else
		notok "installed splitmoe run --device split on the software GPU and installed kernels" \
			"$tmp/split.err"
	fi
fi
# libsplitmoe-dev: the example builds against the installed header and
# library through pkg-config alone and gives the CLI's text.
check "examples/generate.c builds with pkg-config --cflags --libs splitmoe" "$tmp/cc.log" \
	sh -c "cc -std=c11 -Wall -Wextra -Werror -o '$tmp/generate' '$top/examples/generate.c' \
		\$(pkg-config --cflags --libs splitmoe)"
if ldd "$tmp/generate" 2>&1 | grep -qE 'libsplitmoe.so.0 => (/usr)?/lib/[^ ]*/libsplitmoe.so.0 '; then
	ok "it links the installed libsplitmoe.so.0"
else
	ldd "$tmp/generate" >"$tmp/ldd.log" 2>&1
	notok "it links the installed libsplitmoe.so.0" "$tmp/ldd.log"
fi
"$tmp/generate" "$fixture" "$prompt" 8 >"$tmp/gen.out" 2>"$tmp/gen.err"
if [ $? -eq 0 ] && cmp -s "$tmp/gen.out" "$tmp/built.out"; then
	ok "the installed-API example generates the CLI's text"
else
	notok "the installed-API example generates the CLI's text" "$tmp/gen.err"
fi
# ABI: the installed library exports exactly the symbols the package
# declares (debian/libsplitmoe0.symbols), all of version SPLITMOE_0.
nm -D --defined-only /usr/lib/x86_64-linux-gnu/libsplitmoe.so.0 |
	awk '$2 != "A" {sub(/@@/, "@", $3); print $3}' | sort >"$tmp/exported"
grep '^ ' "$top/debian/libsplitmoe0.symbols" | awk '$1 !~ /^SPLITMOE_0@/ {print $1}' | sort >"$tmp/declared"
if diff "$tmp/declared" "$tmp/exported" >"$tmp/abi.diff"; then
	ok "libsplitmoe.so.0 exports the $(wc -l <"$tmp/declared") symbols of debian/libsplitmoe0.symbols"
else
	notok "libsplitmoe.so.0 exports the symbols of debian/libsplitmoe0.symbols" "$tmp/abi.diff"
fi
check "the udev rule and the groups it names are installed" "$tmp/udev.log" \
	sh -c 'test -f /lib/udev/rules.d/60-bwarb.rules && getent group bwarb && getent group bwarb-rt'

check "apt-get purge ${pkgs[*]}" "$tmp/purge.log" apt_get purge "${pkgs[@]}"
# Back as it was: what the packages' maintainer scripts leave by design
# (system groups, the DKMS signing key) goes too when this test made it.
for g in bwarb bwarb-rt; do
	[[ " ${had_group[*]} " == *" $g "* ]] || groupdel "$g" 2>/dev/null
done
[ "$had_mok" = no ] && rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
dpkg-query -W -f='${Package} ${Version} ${db:Status-Status}\n' | sort >"$tmp/after"
left=$(ls -d /usr/src/bwarb-* /etc/splitmoe /var/lib/dkms/bwarb /lib/modules/*/updates/dkms/bwarb.ko \
	/etc/profile.d/splitmoe-swgpu.sh 2>/dev/null)
if diff "$tmp/before" "$tmp/after" >"$tmp/state.diff" && [ -z "$left" ]; then
	ok "after purge: the same packages as before, no module, source or configuration left"
else
	echo "left: $left" >>"$tmp/state.diff"
	notok "after purge: the same packages as before, no module, source or configuration left" \
		"$tmp/state.diff"
fi
rm -rf "$tmp"
exit $fail
