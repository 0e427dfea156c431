# Read-only means read-only (issue 12, item 7): an -o ro mount, a
# remount,ro and everything done while read-only (reads, refused
# snapshot commands, unmount) leave every byte of the device as it was;
# remount,rw and the next mount find everything consistent.
# pmem: 64M
# boots: 1
. /tests/lib.sh
P=/proc/fs/nova/pmem0
need "mount" mkfs_mount
mkdir $M/d
for i in 1 2 3; do echo hello$i > $M/d/f$i; done
dd if=/dev/urandom of=$M/d/big bs=4096 count=100 2>/dev/null
umount $M
a=$(dev_sum)
need "mount -o ro" mount -t nova -o ro $DEV $M
check_eq "an -o ro mount changes nothing" "$a" "$(dev_sum)"
check "read under -o ro" sh -c "cat $M/d/f1 $M/d/big > /dev/null"
check_fails "no write under -o ro" touch $M/d/new
check_fails "no snapshot under -o ro" sh -c "echo > $P/create_snapshot"
umount $M
check_eq "-o ro mount and unmount change nothing" "$a" "$(dev_sum)"

need "mount read-write" mount -t nova $DEV $M
echo more > $M/d/f4
exec 3< $M/d/big
rm $M/d/big
check_fails "no remount,ro while an unlinked file is open (VFS: EBUSY)" mount -o remount,ro $M
exec 3<&-
echo > $P/create_snapshot
need "remount,ro" mount -o remount,ro $M
b=$(dev_sum)
cat $M/d/f1 > /dev/null
check_fails "no snapshot after remount,ro" sh -c "echo > $P/create_snapshot"
check_fails "no snapshot deletion after remount,ro" sh -c "echo 1 > $P/delete_snapshot"
check_eq "reads and refused commands on a mount made read-only change nothing" "$b" "$(dev_sum)"
umount $M
check_eq "unmount of a mount made read-only changes nothing" "$b" "$(dev_sum)"
need "mount read-write again" mount -t nova $DEV $M
check_fails "the unlinked file is gone" test -e $M/d/big
check_eq "data written before remount,ro" more "$(cat $M/d/f4)"
check "consistent" fsck_ok
echo 1 > $P/delete_snapshot

need "remount,ro" mount -o remount,ro $M
c=$(dev_sum)
check "read after remount,ro" cat $M/d/f1
check_eq "remount,ro then reads change nothing" "$c" "$(dev_sum)"
need "remount,rw" mount -o remount,rw $M
echo again > $M/d/f5
check "consistent after ro, then rw" fsck_ok
check "remount" remount
check_eq "data written after remount,rw" again "$(cat $M/d/f5)"
check "consistent after remount" fsck_ok
umount $M

# An operation interrupted by a crash (an active journal) under an -o ro
# mount: rolled back in memory only; it reaches the device when the
# mount becomes writable. (Made by hand: the root's tail is journaled
# back to its value before "mv j2 j3", as if the crash came right after
# that rename stored its new tail. A rename inside one directory changes
# only that directory's log, so this one word is the whole operation and
# the rolled-back image is consistent; fsck.nova checks the names and
# link counts of the final image.)
ROOT_SLOT=$((3 * 4096 + 128)) # inode 1 in table page 0
need "mount" mount -t nova $DEV $M
mkdir $M/j1 $M/j2
need "a snapshot" sh -c "echo > $P/create_snapshot"
E=$(ls $M/.snapshots | sort -n | tail -n 1)
umount $M
t0=$(/tests/pmpoke $DEV get $((ROOT_SLOT + 32)) 8)
need "mount" mount -t nova $DEV $M
mv $M/j2 $M/j3
umount $M
need "an active journal" /tests/pmpoke $DEV journal $((ROOT_SLOT + 32)) $t0
j=$(dev_sum)
need "-o ro mount with an interrupted operation" mount -t nova -o ro $DEV $M
check "j1 is there" test -d $M/j1
check "j2 is back (in memory)" test -d $M/j2
check_fails "j3 is rolled back (in memory)" test -e $M/j3
# A snapshot view reads pmem, not the -o ro mount's memory: it waits for
# a writable mount to put the operation back together.
mkdir -p /mnt/s
check_fails "no snapshot view beside an -o ro mount with an interrupted operation" \
	mount -t nova -o snapshot=$E $DEV /mnt/s
check "the view's refusal says why" sh -c "dmesg | grep -q 'pmem0@$E: an interrupted operation awaits recovery'"
check_eq "the -o ro rollback wrote nothing" "$j" "$(dev_sum)"
need "remount,rw" mount -o remount,rw $M
check "the view mounts once the mount is writable" mount -t nova -o snapshot=$E $DEV /mnt/s
check "the view has j2" test -d /mnt/s/j2
check_fails "the view has no j3" test -e /mnt/s/j3
umount /mnt/s
check "the rollback reached pmem" sh -c "dmesg | grep -q 'rolled back an interrupted operation'"
check_fails "j3 is still rolled back" test -e $M/j3
echo after > $M/j1/f
check "consistent" fsck_ok
check "remount" remount
check_fails "j3 after remount" test -e $M/j3
check "j2 after remount" test -d $M/j2
check_eq "written after remount,rw" after "$(cat $M/j1/f)"
check "consistent after remount" fsck_ok
umount $M

# A bad primary superblock under -o ro: the replica is used and nothing
# is repaired until the mount becomes writable.
first2() {
	echo 3 > /proc/sys/vm/drop_caches
	dd if=$DEV bs=1 count=2 2>/dev/null | od -An -tx1 | tr -d ' '
}
poke 0 '\001\002'
k=$(dev_sum)
need "-o ro mount with a bad primary superblock" mount -t nova -o ro $DEV $M
check "the replica was used" sh -c "dmesg | grep -q 'primary superblock bad'"
check_eq "the -o ro mount did not repair the primary" "$k" "$(dev_sum)"
k2=$(first2)
need "remount,rw" mount -o remount,rw $M
umount $M
check_eq "the -o ro mount left the primary bad" 0102 "$k2"
check_fails "the primary is repaired once writable" test "$(first2)" = 0102
need "mount" mount -t nova $DEV $M
check "consistent" fsck_ok
umount $M
