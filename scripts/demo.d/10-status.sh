#!/usr/bin/env bash
# The arbiter as bwarbctl shows it, before any client.
if [ -z "$BWARBCTL" ]; then
	echo "bwarbctl is not built (make builds build/bwarbctl)" >&2
	exit 1
fi
echo "\$ bwarbctl status"
"$BWARBCTL" status
