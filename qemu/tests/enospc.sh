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
# (The cleaner thread may still hold the directory for a log GC queued
# while it grew: its deletion, and its log pages, wait for that.)
i=0
while [ "$(free_blocks)" != "$((start - (pages1 - pages0)))" ] && [ $i -lt 50 ]; do
	usleep 200000
	i=$((i + 1))
done
check_eq "free space back to empty (less $((pages1 - pages0)) table pages)" "$((start - (pages1 - pages0)))" "$(free_blocks)"
check "can create again" touch $M/again
check "consistent" fsck_ok

# Freeing space always works on a full device: blocks are held back for
# log appends. Fill the device with names (directory logs of several
# pages), a snapshot and data, then unlink, truncate, delete the snapshot
# and rmdir.
P=/proc/fs/nova/pmem0
mkdir $M/r
(cd $M/r && seq 1 300 | sed "s/^/g/" | xargs touch)
echo > $P/create_snapshot
E=$(awk '$1 ~ /^[0-9]+$/ {print $1; exit}' $P/snapshots)
dd if=/dev/zero of=$M/big bs=4096 2>/dev/null
(cd $M/r && seq 1 6000 | sed "s/^/h/" | xargs touch 2>/dev/null)
dd if=/dev/zero of=$M/big bs=4096 seek=$(($(stat -c %s $M/big) / 4096)) conv=notrunc 2>/dev/null
echo "full: $(free_blocks) blocks free (held back for log appends), $(df $M | tail -1)"
check_fails "full: no more data" sh -c "echo x > $M/one-more"
# The blocks held back for log appends are not for extended attributes.
check_eq "full: a 64 KiB xattr value is refused (ENOSPC)" ENOSPC "$(/tests/xattrt setn $M/big user.x 65536 1)"
check "unlink every g file on a full device" sh -c "rm $M/r/g*"
check "truncate to a partial page on a full device" truncate -s 5000 $M/big
check "delete the snapshot on a full device" sh -c "echo $E > $P/delete_snapshot"
check "rm -rf on a full device" rm -rf $M/r
check "consistent after freeing" fsck_ok
check "remount" remount
check "consistent after remount" fsck_ok
umount $M
