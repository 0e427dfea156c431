#!/usr/bin/env bash
# Boots the nova test VM under QEMU.
#
#   run.sh --interactive            shell on the console (make run)
#   run.sh --demo                   scripted tour, then power off (make demo)
#   run.sh --mode M [--test T --phase N] [--log F] [--timeout S] [--kill-after S]
#
# Persistent memory: guest RAM is a file (--image, default build/pmem.img)
# and memmap=512M!1G turns guest-physical 1 GiB..1.5 GiB into /dev/pmem0,
# so the pmem bytes survive reboots and sit at file offset 1 GiB, where
# the host can inspect, copy or corrupt them (see qemu/pmem.sh).
set -euo pipefail
. "$(dirname "$0")/../scripts/env.sh"

mode=run test= phase=1 log= timeout=300 kill_after= image="$NOVA_TOP/build/pmem.img"
interactive=0
while [ $# -gt 0 ]; do
	case "$1" in
	--interactive) mode=run interactive=1 ;;
	--demo) mode=demo ;;
	--mode) mode=$2; shift ;;
	--test) test=$2; shift ;;
	--phase) phase=$2; shift ;;
	--log) log=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--kill-after) kill_after=$2; shift ;;
	--image) image=$2; shift ;;
	*) die "unknown option $1" ;;
	esac
	shift
done

kdir=$(nova_kdir)
kernel="$kdir/arch/x86/boot/bzImage"
[ -f "$kernel" ] || die "no kernel image at $kernel"
# Built once by the test harness for all its boots (NOVA_INITRD).
initrd=${NOVA_INITRD:-$(bash "$NOVA_TOP/qemu/initramfs.sh")}
mkdir -p "$(dirname "$image")"
if [ ! -f "$image" ]; then
	truncate -s 2G "$image"
fi

# KVM only when /dev/kvm is usable and a probe boot with it reaches our
# init (some hosts' KVM hangs stock kernels); the verdict is cached per
# kernel build. NOVA_KVM=0 forces TCG, NOVA_KVM=1 forces KVM.
# Single-threaded TCG: multi-threaded TCG can run stale code on one vCPU
# while another live-patches kernel text (seen once as an int3 oops at
# boot). NOVA_TCG=multi asks for it anyway: the scaling benchmark
# (bench_scale) needs two vCPUs that really run at once, and any test
# can run so (Documentation/testing.md).
accel=(-accel tcg,thread=single -cpu qemu64,+clflushopt,+clwb)
if [ "${NOVA_TCG:-}" = multi ]; then
	accel=(-accel tcg,thread=multi -cpu qemu64,+clflushopt,+clwb)
fi
kvm_probe() {
	local verdict="$NOVA_CACHE/kvm-$(basename "$(dirname "$kdir")")"
	if [ ! -f "$verdict" ]; then
		local plog
		plog=$(mktemp)
		{ timeout -s KILL 40 qemu-system-x86_64 -accel kvm -cpu host -smp 2 -m 512M \
			-kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 nova.mode=kunit panic=-1 no_timer_check" \
			-nographic -no-reboot </dev/null >"$plog" 2>&1; } 2>/dev/null || true
		if grep -q NOVA-BOOTED "$plog"; then echo yes >"$verdict"; else echo no >"$verdict"; fi
		rm -f "$plog"
	fi
	[ "$(cat "$verdict")" = yes ]
}
case "${NOVA_KVM:-auto}" in
1) accel=(-accel kvm -cpu host) ;;
0) ;;
*) if [ -w /dev/kvm ] && kvm_probe; then accel=(-accel kvm -cpu host); fi ;;
esac

pmem=${NOVA_PMEM:-512M}
# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
# check can see too few ticks, fall back to the 8259A wiring and oops in
# mask_ioapic_irq at 0.02 s of boot (seen once in CI on the debug kernel);
# QEMU's timer is wired right, so the check only adds that risk.
cmdline="console=ttyS0 memmap=$pmem!1G nova.mode=$mode nova.test=$test nova.phase=$phase nova.flavor=$NOVA_KFLAVOR panic=-1 oops=panic kasan.fault=report nokaslr no_timer_check loglevel=7"
[ "$mode" = run ] && [ $interactive = 1 ] && cmdline="${cmdline/ loglevel=7/ loglevel=6}"
# NAME=VALUE words the kernel does not know go to init's environment (and
# so to the guest tests): make bench passes ROUNDS, META and N this way.
[ -z "${NOVA_GUEST_ENV:-}" ] || cmdline="$cmdline $NOVA_GUEST_ENV"
# The module's KUnit suites run at every insmod; a test boot does not need
# them (the kunit boot runs them once per flavour, and the kernel's own
# built-in suites with them). On the debug kernel they take ~35 s a boot.
[ "$mode" = kunit ] || cmdline="$cmdline kunit.autorun=0"
qemu=(qemu-system-x86_64 "${accel[@]}" -smp 2 -m 2G
	-object "memory-backend-file,id=pc.ram,size=2G,mem-path=$image,share=on"
	-machine pc,memory-backend=pc.ram
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline"
	-nographic -no-reboot -serial mon:stdio -display none -monitor none)

if [ $interactive = 1 ]; then
	qemu=("${qemu[@]/-monitor/}")
	exec qemu-system-x86_64 "${accel[@]}" -smp 2 -m 2G \
		-object "memory-backend-file,id=pc.ram,size=2G,mem-path=$image,share=on" \
		-machine pc,memory-backend=pc.ram \
		-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
		-nographic -no-reboot
fi

log=${log:-/dev/stdout}
if [ -n "$kill_after" ]; then
	# A cut-off: the VM is killed, as a power failure, $kill_after seconds
	# after the test started (boot time does not count).
	timeout -s KILL "$timeout" "${qemu[@]}" </dev/null >"$log" 2>&1 &
	qpid=$!
	waited=0
	until grep -q '^NOVA-TEST-START' "$log" 2>/dev/null || [ $waited -ge "$timeout" ]; do
		sleep 1
		waited=$((waited + 1))
		kill -0 $qpid 2>/dev/null || break
	done
	sleep "$kill_after"
	pkill -KILL -P $qpid 2>/dev/null
	kill -KILL $qpid 2>/dev/null
	wait $qpid 2>/dev/null || true
	echo "NOVA-CUTOFF ${kill_after}s after the test started" >>"$log"
else
	timeout -s KILL "$timeout" "${qemu[@]}" </dev/null >"$log" 2>&1 || echo "NOVA-TIMEOUT after ${timeout}s" >>"$log"
fi
