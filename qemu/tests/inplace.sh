# In-place overwrites (-o data=inplace, issue 15): an overwrite inside a
# file on blocks no snapshot holds keeps its block (FIEMAP shows the same
# device offset) and its bytes; with data=cow (the default) the block
# moves. After a snapshot, the first overwrite of a block the snapshot
# holds copies it (the snapshot keeps the old bytes), the next one goes
# in place. Writes that grow the file, or fill holes, copy. The
# modification time is logged and survives a remount; fsck is clean.
# boots: 1
. /tests/lib.sh
P=/proc/fs/nova/pmem0
S=/mnt/snap
mkdir -p $S
phys() { /tests/apit phys "$1"; }
need "format" mkfs_mount
umount $M
check_fails "data= refuses other values" mount -t nova -o data=sometimes $DEV $M
need "mount -o data=inplace" mount -t nova -o data=inplace $DEV $M
check "/proc/mounts shows data=inplace" grep -q " $M nova rw.*,data=inplace" /proc/mounts
dd if=/dev/urandom of=$M/f bs=4096 count=8 2>/dev/null
b0=$(phys $M/f)
head -c 4096 /dev/urandom > /tmp/p
dd if=/tmp/p of=$M/f bs=4096 seek=0 conv=notrunc 2>/dev/null
check_eq "an overwrite keeps its block" "$b0" "$(phys $M/f)"
check "and has the new bytes" cmp -n 4096 /tmp/p $M/f
# A store through a shared mapping (a write fault: mmap_lock, then the
# fault gate) beside in-place writes (the fault gate, then a user copy):
# the copy must not be able to fault while the gate is held, or lockdep
# (debug kernel) reports the cycle.
dd if=/dev/zero of=$M/g bs=4096 count=2 2>/dev/null
check "a store through a mapping" /tests/mmapstore $M/g 0 8192 0x41
dd if=/tmp/p of=$M/g bs=4096 seek=1 conv=notrunc 2>/dev/null
check "an in-place write beside it" cmp -n 4096 /tmp/p $M/g 0 4096
# A partial overwrite in the middle of a page.
printf 'hello' | dd of=$M/f bs=1 seek=100 conv=notrunc 2>/dev/null
check_eq "a partial overwrite too" "$b0" "$(phys $M/f)"
check_eq "partial bytes" "hello" "$(dd if=$M/f bs=1 skip=100 count=5 2>/dev/null)"
check_eq "size unchanged" 32768 "$(stat -c %s $M/f)"
# Snapshot: the first overwrite copies, the next goes in place.
cp $M/f /tmp/f.snap
echo > $P/create_snapshot
E=$(awk '$1 ~ /^[0-9]+$/ {print $1; exit}' $P/snapshots)
head -c 4096 /dev/urandom > /tmp/q
dd if=/tmp/q of=$M/f bs=4096 seek=0 conv=notrunc 2>/dev/null
b1=$(phys $M/f)
check "after a snapshot the block a snapshot holds is copied" [ "$b1" != "$b0" ]
dd if=/tmp/p of=$M/f bs=4096 seek=0 conv=notrunc 2>/dev/null
check_eq "the copy is then overwritten in place" "$b1" "$(phys $M/f)"
# Writes past the end copy (the size changes), holes are filled by copy.
dd if=/tmp/q of=$M/f bs=4096 seek=8 conv=notrunc 2>/dev/null
check_eq "append grows the file" 36864 "$(stat -c %s $M/f)"
touch -d '2001-02-03 04:05:06' $M/f
dd if=/tmp/q of=$M/f bs=4096 seek=2 conv=notrunc 2>/dev/null
m=$(stat -c %Y $M/f)
check "an in-place write sets the modification time" [ "$m" -gt 981173106 ]
cp $M/f /tmp/f.live
check "fsck with data=inplace" fsck_ok
umount $M
need "mount snapshot" mount -t nova -o snapshot=$E $DEV $S
check "/proc/mounts shows snapshot=$E" grep -q " $S nova ro.*,snapshot=$E" /proc/mounts
check "the snapshot kept every byte" cmp $S/f /tmp/f.snap
umount $S
need "remount (data=cow)" mount -t nova $DEV $M
check_fails "data=cow is not shown (the default)" grep -q "data=" /proc/mounts
check "live bytes survive a remount" cmp $M/f /tmp/f.live
check_eq "and the modification time" "$m" "$(stat -c %Y $M/f)"
b=$(phys $M/f)
dd if=/tmp/q of=$M/f bs=4096 seek=0 conv=notrunc 2>/dev/null
check "with data=cow an overwrite moves the block" [ "$b" != "$(phys $M/f)" ]
check "consistent" fsck_ok
umount $M
