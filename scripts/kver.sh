#!/bin/sh
# Prints the kernel release the module is built and tested against: the
# newest installed Debian linux-headers-*-amd64 (a 6.1 kernel on Debian 12).
ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sed 's|.*/linux-headers-||' | sort -V | tail -n 1
