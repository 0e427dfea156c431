# fallocate modes (issue 18): PUNCH_HOLE and ZERO_RANGE are copy-on-write
# changes committed at once: replayed at mount and by recovery, never
# applied in place under a snapshot (the snapshot still reads the punched
# data), and kept by log GC while an older write they hide stays.
# boots: 1
. /tests/lib.sh
P=/proc/fs/nova/pmem0
S=/tmp/snap
mkdir -p $S
need "mount" mkfs_mount
dd if=/dev/urandom of=/tmp/orig bs=4096 count=16 2>/dev/null
cp /tmp/orig $M/f
echo >$P/create_snapshot
E=$(awk '$1 ~ /^[0-9]+$/ {print $1; exit}' $P/snapshots)
check "punch [8192, 41060)" falloc $M/f punch 8192 32868
check "zero range [45063, 53248)" falloc $M/f zero 45063 8185
{
	head -c 8192 /tmp/orig
	head -c 32868 /dev/zero
	head -c 45063 /tmp/orig | tail -c 4003
	head -c 8185 /dev/zero
	tail -c +53249 /tmp/orig
} >/tmp/want
check "content: zeros in both ranges, the rest unchanged" cmp $M/f /tmp/want
check_eq "size unchanged" 65536 "$(stat -c %s $M/f)"
# Pages 2-9 punched (10 is a partial copy); the zeroed pages are allocated.
check_eq "st_blocks: 8 of 16 pages left" 64 "$(stat -c %b $M/f)"
check_fails "COLLAPSE_RANGE refused (EOPNOTSUPP)" falloc $M/f collapse 0 4096
check_fails "PUNCH_HOLE on a directory refused" falloc $M punch 0 4096
check "consistent" fsck_ok
check "remount" remount
check "content after remount (hole entries replayed)" cmp $M/f /tmp/want
check_eq "st_blocks after remount" 64 "$(stat -c %b $M/f)"
umount $M
need "snapshot mount" mount -t nova -o snapshot=$E $DEV $S
check "the snapshot reads the data before the punch" cmp $S/f /tmp/orig
umount $S
/tests/pmpoke $DEV sb 44 4 0 # clear SB_CLEAN: the next mount recovers
need "mount (recovery)" mount -t nova $DEV $M
check "content after recovery" cmp $M/f /tmp/want
check "consistent after recovery" fsck_ok
check "delete the snapshot" sh -c "echo $E >$P/delete_snapshot"
check "consistent after the cleaner" fsck_ok

# Log GC: g's first write (4 pages) stays for pages 2-3; its page 1 is
# punched, on another log page (150 overwrites of page 0 between); then
# 2000 overwrites of page 0 fill the log. A GC that dropped the hole entry
# but kept the first write would bring page 1 back.
dd if=/dev/zero bs=4096 count=4 2>/dev/null | tr '\0' A >/tmp/g4
cp /tmp/g4 $M/g
logload overwrite $M/g 150 >/dev/null
check "punch page 1 of g" falloc $M/g punch 4096 4096
runs0=$(sed -n 's/^log_gc_runs //p' $P/stats)
check "2000 overwrites of page 0" logload overwrite $M/g 2000
runs1=$(sed -n 's/^log_gc_runs //p' $P/stats)
check "... log GC ran" test "$runs1" -gt "$runs0"
check "remount" remount
check_eq "page 1 still a hole" "$(head -c 4096 /dev/zero | md5sum)" "$(dd if=$M/g bs=4096 skip=1 count=1 2>/dev/null | md5sum)"
check_eq "pages 2-3 still the first write" "$(tail -c 8192 /tmp/g4 | md5sum)" "$(tail -c 8192 $M/g | md5sum)"
check "page 0 the last overwrite" logload verify $M/g
check "consistent after GC" fsck_ok
umount $M
