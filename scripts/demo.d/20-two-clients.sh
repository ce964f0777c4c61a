#!/usr/bin/env bash
# Two clients with weights 1 and 3 acquiring in a loop against a capacity
# lowered to 200 MB/s, so that they compete: their grants split about 1:3.
# Shows the grant tracepoint, the clients' figures and every sysfs figure.
set -u
sys=/sys/kernel/bwarb
trace=/sys/kernel/tracing
if [ -z "$DEMO_CLIENTS" ]; then
	echo "demo_clients is not built (make builds build/demo_clients)" >&2
	exit 1
fi
old_cap=$(cat $sys/capacity_mbps) old_guar=$(cat $sys/guaranteed_mbps)
restore() {
	echo "$old_cap" >$sys/capacity_mbps
	echo "$old_guar" >$sys/guaranteed_mbps
	[ -d $trace/events/bwarb ] && echo 0 >$trace/events/bwarb/enable
}
trap restore EXIT
# guaranteed <= capacity at every step
echo 100 >$sys/guaranteed_mbps && echo 200 >$sys/capacity_mbps || exit 1
echo "capacity_mbps $(cat $sys/capacity_mbps) MB/s, guaranteed_mbps $(cat $sys/guaranteed_mbps) MB/s, period_us $(cat $sys/period_us) us"
if [ -d $trace/events/bwarb ]; then
	echo >$trace/trace
	echo 1 >$trace/events/bwarb/enable
fi

"$DEMO_CLIENTS" -t 3 cpu:1 gpu:3
rc=$?

if [ -d $trace/events/bwarb ]; then
	echo 0 >$trace/events/bwarb/enable
	echo
	echo "bwarb tracepoints during the run (first grants):"
	grep -m 6 'bwarb_grant:' $trace/trace | sed 's/^ */  /'
	for ev in register grant complete period; do
		printf '  %-15s %8d events\n' "bwarb_$ev" "$(grep -c "bwarb_$ev:" $trace/trace)"
	done
fi
echo
echo "sysfs figures ($sys):"
for f in $sys/*; do
	[ -f "$f" ] && [ -r "$f" ] && printf '  %-20s %s\n' "$(basename "$f")" "$(paste -sd' ' "$f")"
done
exit $rc
