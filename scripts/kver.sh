#!/bin/sh
# Prints the kernel release the module is built and tested against: the
# newest installed Debian linux-headers-*-amd64 (a 6.1 kernel on Debian 12),
# not counting other flavours (linux-headers-*-rt-amd64, if installed, would
# otherwise sort last; the RT suites fetch their own, tests/vm/kernel.sh rt).
ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | grep -v -- '-rt-amd64$' |
	sed 's|.*/linux-headers-||' | sort -V | tail -n 1
