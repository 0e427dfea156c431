# SPDX-License-Identifier: GPL-2.0
# nova: build the module out of tree, and run the VM and the tests.
#
#   make          build nova.ko (sets up the toolchain and kernel if needed)
#   make run      boot a VM with nova mounted on /dev/pmem0 at /mnt/nova
#   make demo     a short scripted tour in the VM, then power off
#   make test     every test; ends with "N passed, N failed"
#   make test T=name   one guest test or KUnit suite
#   make test-debug [T=name]  the same on the debug kernel (KASAN,
#                 lockdep, atomic-sleep and Rust overflow checks)
#   make crashtest  crash states enumerated at length (long_crashenum)
#   make bench    benchmarks (nova vs ext4 -o dax, mount/recovery time)
#   make bench-ab BASE=<commit>   that commit's module against the working tree's, one boot
#   make tools    mkfs.nova and fsck.nova (static) into build/tools/
#
# KDIR=/path/to/linux (or KERNEL_SRC) builds against your own tree.

ifneq ($(KERNELRELEASE),)
include $(src)/Kbuild
else

SHELL := /bin/bash
TOP := $(CURDIR)

.PHONY: all module setup kernel run demo test test-debug crashtest bench bench-ab host-test tools clean fmt fmt-check

all: module

setup:
	@bash scripts/setup.sh

kernel: setup
	@bash scripts/kernel.sh >/dev/null

module: kernel
	@bash scripts/build-module.sh

run: module tools
	@bash qemu/run.sh --interactive

demo: module tools
	@bash qemu/run.sh --demo

test:
	@NOVA_KFLAVOR=fast bash scripts/test.sh $(T)

test-debug:
	@NOVA_KFLAVOR=debug bash scripts/test.sh $(T)

crashtest:
	@NOVA_KFLAVOR=fast bash scripts/test.sh long_crashenum

bench:
	@bash scripts/bench.sh $(T)

bench-ab:
	@bash scripts/bench-ab.sh $(BASE)

host-test:
	@cd format && cargo test -q
	@cd tools && cargo test -q

tools:
	@bash scripts/build-tools.sh

fmt:
	@cd format && cargo fmt
	@cd tools && cargo fmt
	@rustfmt --edition 2021 rust/nova_main.rs

fmt-check:
	@cd format && cargo fmt --check
	@cd tools && cargo fmt --check
	@rustfmt --check --edition 2021 rust/nova_main.rs

clean:
	rm -rf build
	rm -f rust/*.o rust/.*.cmd *.o .*.cmd *.ko *.mod *.mod.c modules.order Module.symvers
endif
