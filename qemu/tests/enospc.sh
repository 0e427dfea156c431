# A full device gives ENOSPC and stays consistent; space comes back.
# pmem: 16M
. /tests/lib.sh
need "mount 16 MiB image" mkfs_mount
start=$(free_blocks)
pages0=$(sed -n "s/^inode_table_pages //p" /proc/fs/nova/pmem0/stats)
mkdir $M/d
i=0
err=
while [ $i -lt 10000 ]; do
	if ! touch $M/d/f$i 2>/tmp/err; then err=$(cat /tmp/err); break; fi
	i=$((i + 1))
done
echo "created $i files before: $err"
check "creates stop with ENOSPC" sh -c "echo '$err' | grep -q 'No space left'"
check "consistent when full" fsck_ok
check_fails "mkdir on a full device fails" mkdir $M/more
check "remount when full" remount
check_eq "files kept" "$i" "$(ls $M/d | wc -l)"
check "consistent after remount" fsck_ok
check "delete all" rm -rf $M/d
pages1=$(sed -n "s/^inode_table_pages //p" /proc/fs/nova/pmem0/stats)
# Inode-table pages stay allocated once grown; everything else returns.
check_eq "free space back to empty (less $((pages1 - pages0)) table pages)" "$((start - (pages1 - pages0)))" "$(free_blocks)"
check "can create again" touch $M/again
check "consistent" fsck_ok
umount $M
