# FS_IOC_SHUTDOWN (issue 18; the ioctl XFS and ext4 have, which fstests
# uses to test recovery): after it every operation fails with EIO and not
# one more byte reaches the device, unmount included; the next mount
# recovers everything written before it. (ENOTTY before.)
# boots: 1
. /tests/lib.sh
P=/proc/fs/nova/pmem0
need "mount" mkfs_mount
mkdir $M/d
echo before >$M/d/f
dd if=/dev/urandom of=/tmp/big bs=4096 count=64 2>/dev/null
cp /tmp/big $M/d/big
/tests/xattrt set $M/d/f user.k v >/dev/null
check_eq "an unknown flag: EINVAL" "ok shutdown-bad" "$(/tests/apit shutdown-bad $M)"
exec 3>>$M/d/f
check "shut down" /tests/apit shutdown $M
check "... said so" sh -c "dmesg | grep -q 'pmem0: shut down'"
S0=$(dev_sum)
check_fails "write to an open file: EIO" sh -c "echo x >&3"
check_fails "create" touch $M/d/new
check_fails "mkdir" mkdir $M/d/sub
check_fails "unlink" rm $M/d/f
check_fails "rename" mv $M/d/f $M/d/g
check_fails "truncate" truncate -s 0 $M/d/big
check_fails "chmod" chmod 600 $M/d/f
check_fails "setxattr" /tests/xattrt set $M/d/f user.k w
check_fails "read" cat $M/d/f
# (busybox ls takes the EIO of getdents for the end of the directory.)
check_fails "readdir" sh -c "ls $M/d | grep -q ."
check_fails "fsync" sync $M/d/big
check_fails "take a snapshot" sh -c "echo >$P/create_snapshot"
check_eq "not one byte of the device changed" "$S0" "$(dev_sum)"
exec 3>&-
check "unmount" umount $M
check_eq "... and unmount wrote nothing" "$S0" "$(dev_sum)"
dmesg -c >/dev/null
need "mount" mount -t nova $DEV $M
check "the mount recovered (no clean flag)" sh -c "dmesg | grep -q 'recovered after unclean'"
check_eq "f as before" before "$(cat $M/d/f)"
check "big as before" cmp $M/d/big /tmp/big
# A commit the shutdown cut short stays active on pmem until the next
# mount: no snapshot view may mount beside it (it reads pmem, which that
# recovery has not put back together). The journal is made active by
# hand (rolling the root's tail back to its own value) under the mount,
# then the mount is shut down.
ROOT_SLOT=$((3 * 4096 + 128)) # inode 1 in table page 0
need "a snapshot" sh -c "echo >$P/create_snapshot"
E=$(ls $M/.snapshots | sort -n | tail -n 1)
mkdir -p /mnt/s
check "a view mounts beside the live mount" mount -t nova -o snapshot=$E $DEV /mnt/s
umount /mnt/s
sync
t0=$(/tests/pmpoke $DEV get $((ROOT_SLOT + 32)) 8)
need "an active journal under the mount" /tests/pmpoke $DEV journal $((ROOT_SLOT + 32)) $t0
need "shut down again" /tests/apit shutdown $M
check_fails "no view beside a shut-down mount with an active journal" \
	mount -t nova -o snapshot=$E $DEV /mnt/s
umount /mnt/s 2>/dev/null
check "unmount" umount $M
need "mount" mount -t nova $DEV $M
check "the view mounts after the recovery" mount -t nova -o snapshot=$E $DEV /mnt/s
umount /mnt/s
check_eq "its attribute" v "$(/tests/xattrt get $M/d/f user.k)"
check "nothing made after the shutdown" sh -c "! ls $M/d | grep -q 'new\|sub\|^g$'"
check "consistent" fsck_ok
# A mapping made before the shutdown: its next store faults and is refused.
check "a store through an older mapping after a shutdown: SIGBUS" /tests/apit shutdown-mmap $M/d
umount $M
need "mount" mount -t nova $DEV $M
check "consistent after that one too" fsck_ok
umount $M
