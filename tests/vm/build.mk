# The VM harness (tests/vm/run): the guest kernel, unpacked from Debian's
# linux-image of scripts/kver.sh's version into .cache/vm/ (fetched once,
# about 70 MB), and its busybox initramfs. A quick no-op once cached.
# After deps: it needs apt, busybox-static, cpio, kmod, xz-utils (make -j).
.PHONY: vm-image check-vm
vm-image: deps
	@tests/vm/initramfs.sh "$$(tests/vm/kernel.sh)" >/dev/null
ALL_TARGETS += vm-image

# Suite 'vm': the harness itself, three guest boots (tests/vm/selfcheck.sh).
# About 30 s on an idle 2-core machine, a minute when it is busy.
check-vm: vm-image
	@tests/vm/selfcheck.sh
CHECK_SUITES += vm

# The two-client demonstration of `make demo` (scripts/demo.d/).
build/demo_clients: build/obj/tests/vm/demo_clients.o build/obj/libruntime/bwarb_client.o
	$(CC) -o $@ $^ -lpthread
ALL_TARGETS += build/demo_clients

# Boot-to-command time of the harness (3 boots; VM_BENCH_RUNS=N for more).
.PHONY: bench-vm
bench-vm: vm-image
	@tests/vm/bench-boot.sh
BENCH_TARGETS += bench-vm
