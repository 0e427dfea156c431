# A full device gives ENOSPC and stays consistent; space comes back.
# pmem: 16M
. /tests/lib.sh
need "mount 16 MiB image" mkfs_mount
start=$(free_blocks)
pages0=$(sed -n "s/^inode_table_pages //p" /proc/fs/nova/pmem0/stats)
mkdir $M/d
# Batches of names per touch process: creation stops at ENOSPC.
(cd $M/d && seq 1 6000 | sed "s/^/f/" | xargs touch 2>/tmp/err)
err=$(sort -u /tmp/err | head -n 3)
i=$(ls $M/d | wc -l)
echo "created $i files before: $err"
check "creates stop with ENOSPC" grep -q "No space left" /tmp/err
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
