#!/bin/sh
# nova guest init (busybox). Reads nova.mode= / nova.test= / nova.phase= from
# the kernel command line. Every line the host harness reads starts with
# "NOVA-" so that it can tell them from kernel messages.
export PATH=/bin:/sbin:/usr/bin:/tests
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /tmp /mnt/nova /mnt/snap /mnt/ext4
mount -t tmpfs tmp /tmp
mode=run test= phase=1
for a in $(cat /proc/cmdline); do
	case "$a" in
	nova.mode=*) mode=${a#nova.mode=} ;;
	nova.test=*) test=${a#nova.test=} ;;
	nova.phase=*) phase=${a#nova.phase=} ;;
	esac
done
echo 1 > /proc/sys/kernel/printk_ratelimit 2>/dev/null

off() {
	sync
	echo "NOVA-POWEROFF"
	poweroff -f
	sleep 5
}

echo "NOVA-BOOTED mode=$mode test=$test phase=$phase"
# The kunit boot loads the build with the KUnit suites compiled in
# (scripts/build-module.sh); every other boot the module people install.
ko=/nova.ko
[ "$mode" = kunit ] && ko=/nova-kunit.ko
if ! insmod $ko; then
	echo "NOVA-INSMOD-FAILED"
	off
fi
echo "NOVA-INSMOD-OK"

case "$mode" in
run | demo)
	if mount -t nova /dev/pmem0 /mnt/nova 2>/dev/null; then
		echo "nova: mounted the existing file system on /dev/pmem0 at /mnt/nova"
	else
		mount -t nova -o init /dev/pmem0 /mnt/nova && echo "nova: formatted /dev/pmem0 and mounted it at /mnt/nova"
	fi
	if [ "$mode" = demo ]; then
		sh /tests/demo.sh
		umount /mnt/nova
		off
	fi
	cat <<'MSG'

  nova is mounted at /mnt/nova (device /dev/pmem0).
  /proc/fs/nova/pmem0/ has snapshots, create_snapshot, delete_snapshot, stats.
  The pmem image persists across boots. 'poweroff -f' leaves the VM.

MSG
	cd /mnt/nova
	setsid cttyhack sh -l
	cd /
	umount /mnt/nova 2>/dev/null
	off
	;;
kunit)
	# KUnit ran at insmod. The console prints the kernel's lines from a
	# printk thread, behind the kernel log: give it time to print the
	# last results before powering off (scripts/test.sh fails a suite
	# whose results did not all arrive).
	sleep 2
	off
	;;
test)
	if [ -f "/tests/$test.sh" ]; then
		echo "NOVA-TEST-START $test $phase"
		sh "/tests/$test.sh" "$phase"
		echo "NOVA-TEST-END $test $phase rc=$?"
	else
		echo "NOVA-CHECK FAIL $test: no such guest test"
	fi
	off
	;;
esac
off
