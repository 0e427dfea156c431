# Helpers for guest tests (sourced). Each check prints one NOVA-CHECK line
# that the host harness counts as a test.
M=/mnt/nova
DEV=/dev/pmem0
pass() { echo "NOVA-CHECK PASS $*"; }
fail() { echo "NOVA-CHECK FAIL $*"; }
# check DESC CMD...: passes when CMD succeeds.
check() {
	d=$1
	shift
	if "$@" >/tmp/check.out 2>&1; then pass "$d"; else
		fail "$d"
		sed 's/^/    | /' /tmp/check.out | head -20
	fi
}
# check_fails DESC CMD...: passes when CMD fails.
check_fails() {
	d=$1
	shift
	if "$@" >/tmp/check.out 2>&1; then
		fail "$d (unexpectedly succeeded)"
	else pass "$d"; fi
}
# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
mkfs_mount() { mount -t nova -o init $DEV $M; }
remount() { umount $M && mount -t nova $DEV $M; }
# need DESC CMD...: like check, but ends the test on failure (the rest
# of the test would only measure another file system).
need() {
	d=$1
	shift
	if "$@" >/tmp/check.out 2>&1; then pass "$d"; else
		fail "$d (fatal)"
		sed 's/^/    | /' /tmp/check.out | head -20
		exit 1
	fi
}
# fsck: the module's own consistency check (no leaked, no doubly-used
# blocks) on the mounted file system.
fsck_ok() {
	cat /proc/fs/nova/pmem0/check
	grep -q '^check ok' /proc/fs/nova/pmem0/check
}
free_blocks() { sed -n 's/^free_blocks //p' /proc/fs/nova/pmem0/stats; }
# Writes the octal-escaped bytes $2 at byte offset $1 of the pmem device.
poke() {
	printf "$2" | dd of=$DEV bs=1 seek=$1 conv=notrunc,fsync 2>/dev/null
}
# The debug kernel (make test-debug: KASAN, lockdep) runs the tests many
# times slower. There a test is worth a splat on each code path it
# exercises, not volume: its repetitive parts run fewer rounds.
is_debug() { grep -q nova.flavor=debug /proc/cmdline; }
# scale FAST DEBUG: prints FAST, or DEBUG on the debug kernel.
scale() { if is_debug; then echo "$2"; else echo "$1"; fi; }
# dev_sum: the device's checksum, read past the block device's page cache
# (nova writes pmem directly).
dev_sum() {
	echo 3 >/proc/sys/vm/drop_caches
	md5sum $DEV | cut -d' ' -f1
}
