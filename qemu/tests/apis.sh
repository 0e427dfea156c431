# The Linux file APIs programs expect of a file system (issue 18), as the
# guest's apit helper checks them.
# - O_DIRECT: on DAX it is the DAX path (as ext4-DAX and XFS-DAX): opens
#   with O_DIRECT succeed (they failed with EINVAL), and aligned and
#   unaligned direct I/O agree with plain reads and mappings, also after
#   a remount.
# - FIEMAP (filefrag, xfs_io -c fiemap): the extents of a file with holes,
#   from the extent index (failed with EOPNOTSUPP before).
# - Inode flags (chattr +i/+a, lsattr; ENOTTY before).
# - statx birth time (the slot's creation time; not reported before).
# - O_TMPFILE (failed with EOPNOTSUPP before): an unnamed file that linkat
#   can name; freed at its last close unless named; an open one at a
#   crash is removed by recovery.
# boots: 2
. /tests/lib.sh
P=/proc/fs/nova/pmem0
free() { sed -n 's/^free_blocks //p' $P/stats; }
if [ "${1:-1}" = 2 ]; then
	dmesg -c >/dev/null
	need "mount after the crash (recovery)" mount -t nova $DEV $M
	check "the open O_TMPFILE file was removed as an orphan" sh -c "dmesg | grep -q 'removed orphan inode'"
	check_eq "its blocks are free again" "$(cat $M/.free)" "$(free)"
	check_eq "no name appeared" "tmp-linked" "$(ls $M/d)"
	check "consistent" fsck_ok
	umount $M
	exit 0
fi
need "mount" mkfs_mount
check "O_DIRECT open, aligned and unaligned I/O" /tests/apit odirect $M
need "remount" remount
check "O_DIRECT data after remount" /tests/apit odirect-verify $M
check "FIEMAP reports the written ranges" /tests/apit fiemap $M
check "statx birth time: the creation time, kept by writes and chmod" /tests/apit btime $M
b0=$(/tests/apit btime-of $M/born)
check_eq "... and after a remount" "$b0" "$(umount $M && mount -t nova $DEV $M && /tests/apit btime-of $M/born)"
mkdir $M/fl
check "inode flags: immutable, append-only, refused ones, a directory" /tests/apit flags $M/fl
check "inode flags after remount" sh -c "umount $M && mount -t nova $DEV $M && /tests/apit flags-verify $M/fl"
mkdir $M/d
f0=$(free)
check "O_TMPFILE: write, linkat names it, O_EXCL refuses linkat" /tests/apit tmpfile $M/d
f1=$(free)
check "... only the linked file's blocks stay in use (the O_EXCL one went at close)" \
	test $((f0 - f1)) -ge 4 -a $((f0 - f1)) -le 8
check "consistent" fsck_ok
linked_ok() { remount && test "$(stat -c %s $M/d/tmp-linked)" = $((3 * 4096 + 100)); }
check "linked O_TMPFILE data after remount" linked_ok
# An open O_TMPFILE file at a crash: recovery removes it. (.free is
# rewritten with its own length: its blocks are in the count.)
v=$(free) && echo $v >$M/.free
v=$(free) && echo $v >$M/.free
sync
/tests/apit tmpfile-hold $M/d >/tmp/hold &
i=0
while ! grep -q held /tmp/hold && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
check "an O_TMPFILE file held open with 1 MiB" grep -q held /tmp/hold
# Reboot without unmounting.
