# Corrupted media with valid checksums (issue 12, items 9 and 10): each
# case changes one field with pmpoke, which recomputes the CRC-32C of the
# structure it changed, so only the parser stands in the way. Every case
# must refuse the inode (EIO) or the mount with a message, or fall back to
# a full recovery scan, with no splat, no hang and the superblock intact.
# boots: 1
. /tests/lib.sh
PP() { /tests/pmpoke $DEV "$@"; }
mounts() { mount -t nova $DEV $M; }
# Passes when the mount is refused; a mount that succeeds is undone so the
# next case starts unmounted.
refused() {
	if mounts; then
		umount $M
		return 1
	fi
}
# Block 0 as the device holds it (not a stale page of the block device's
# cache: nova writes pmem directly).
sb0() {
	echo 3 >/proc/sys/vm/drop_caches
	dd if=$DEV bs=4096 count=1 2>/dev/null | md5sum
}
said() { dmesg | grep -q "$1"; }
# Entry types and fields (format.md).
SETATTR=2 LINK=3 WRITE=4
fresh() {
	mkfs_mount || return 1
	mkdir $M/a $M/d $M/d/s || return 1
	dd if=/dev/zero bs=4096 count=1 2>/dev/null | tr '\0' 'x' >$M/a/f || return 1
	chmod 600 $M/a/f || return 1
	echo hello >$M/a/g && dd if=/dev/null of=$M/a/g bs=1 seek=3 2>/dev/null || return 1
	A=$(stat -c %i $M/a) D=$(stat -c %i $M/d) F=$(stat -c %i $M/a/f) G=$(stat -c %i $M/a/g)
	S=$(stat -c %i $M/d/s)
	umount $M
}
unclean() { PP sb 44 4 0; } # clear SB_CLEAN: the next mount runs recovery
dirty_log() { dmesg -c >/dev/null; }

# 1. A valid slot with log head = tail = 0 (outside the slot checksum):
# the next append used to overwrite the primary superblock.
need "fresh image" fresh
PP slot $F 24 8 0
PP slot $F 32 8 0
dirty_log
need "clean mount with a zeroed log head" mounts
S0=$(sb0)
check_fails "zero log head: append refused" sh -c "echo x >>$M/a/f"
check_fails "zero log head: stat refused" stat $M/a/f
check "zero log head: message names the inode" said "inode $F: log head 0x0"
check_eq "zero log head: superblock block untouched" "$S0" "$(sb0)"
check "other files still readable" cat $M/a/g
umount $M
unclean
S0=$(sb0)
check "zero log head: recovery refuses the mount" refused
check_eq "zero log head: superblock block untouched after recovery" "$S0" "$(sb0)"

# 2. A SetAttr entry that turns a regular file into a directory.
need "fresh image" fresh
e=$(PP entry $F $SETATTR -1)
PP entry-set $e 20 4 $((0x41ed))
dirty_log
need "mount" mounts
check_fails "file type change in SetAttr: inode refused" stat $M/a/f
check "message names the entry" said "inode $F: bad SetAttr entry"
umount $M

# 5. Link counts that cannot be: a directory with nlink 0 in its slot, a
# directory whose last LinkChange says 0, a file with nlink 0. mkdir
# inside used to warn in inc_nlink and eviction deleted the named dir.
need "fresh image" fresh
PP slot $A 76 4 0
e=$(PP entry $D $LINK -1)
PP entry-set $e 16 4 0
PP slot $G 76 4 0
dirty_log
need "mount" mounts
check_fails "dir with nlink 0 (slot): mkdir inside refused" mkdir $M/a/x
check_fails "dir with nlink 0 (LinkChange): mkdir inside refused" mkdir $M/d/x
check_fails "file with nlink 0: stat refused" stat $M/a/g
check "message names the link count" said "inode $A: link count 0"
umount $M
need "mount again" mounts
# (names only: a glob reads the directory without an iget)
check_eq "named dirs were not deleted" "a d" "$(cd $M && echo *)"
umount $M
need "fresh image" fresh
PP slot $A 76 4 1
need "mount" mounts
check_fails "dir with nlink 1: refused" mkdir $M/a/x
umount $M
# Recovery takes an inode with no links for an orphan (unlinked while
# open) and deletes it; a directory that still has entries cannot be one.
need "fresh image" fresh
e=$(PP entry $D $LINK -1)
PP entry-set $e 16 4 0
unclean
dirty_log
need "recovery mount with a non-empty dir at nlink 0" mounts
check "the directory is kept, not deleted" said "directory $D has no links but still has entries"
check_eq "... still named" "a d" "$(cd $M && echo *)"
check_fails "... and refused" mkdir $M/d/x
check "... consistent" fsck_ok
umount $M
check_eq "... its slot is still valid" 1 $(($(PP get $(PP slot-addr $D) 4) & 1))
# Nor is an empty directory or a file whose link count says 0 while its
# parent still names it: recovery used to delete both.
need "fresh image" fresh
PP slot $S 76 4 0
PP slot $G 76 4 0
unclean
dirty_log
need "recovery mount with a named empty dir and file at nlink 0" mounts
check "the empty directory is kept, not deleted" said "inode $S has no links but directory $D names it; kept"
check "the file is kept, not deleted" said "inode $G has no links but directory $A names it; kept"
check_eq "... still named" "a/f a/g d/s" "$(cd $M && echo a/* d/*)"
check_fails "... the directory refused" stat $M/d/s
check_fails "... the file refused" cat $M/a/g
check_eq "... other files intact" "4096 0" "$(stat -c %s $M/a/f) $(tr -d x <$M/a/f | wc -c)"
check "... consistent" fsck_ok
umount $M
check_eq "... their slots are still valid" 1 $(($(PP get $(PP slot-addr $S) 4) & $(PP get $(PP slot-addr $G) 4) & 1))
fsck.nova -n $DEV >/tmp/fsck.out 2>&1
check_eq "fsck.nova -n agrees: errors (exit 4)" 4 $?
check "... naming the directory and the inode" grep -q "inode $S.*no links, but directory $D names it" /tmp/fsck.out
check "... and the file" grep -q "inode $G.*no links, but directory $A names it" /tmp/fsck.out

# 6. An inode-table page whose next points to itself.
need "fresh image" fresh
PP raw $((3 * 4096 + 3968)) 8 $((3 * 4096))
dirty_log
check "inode table cycle: mount refused" refused
check "message names the loop" said "inode table chain loops"

# 7. A log page whose tail names another inode as its owner.
need "fresh image" fresh
head=$(PP get $(($(PP slot-addr $F) + 24)) 8)
PP raw $((head + 4032 + 16)) 8 1
dirty_log
need "mount" mounts
check_fails "foreign log page: inode refused" stat $M/a/f
check "message names the owner" said "inode $F: corrupt log: Owner"
umount $M

# 8. The saved free list: an old image without its checksum, a changed
# range, and a range that frees a live log page with the checksum fixed:
# each mount falls back to the full recovery scan and nothing is lost.
need "fresh image" fresh
PP sb 44 4 1
dirty_log
check "free list without checksum (old format): mounts" mounts
check "... through recovery" said "older format"
check "... consistent" fsck_ok
check_eq "... data intact" 4096 "$(cat $M/a/f | wc -c)"
umount $M
need "fresh image" fresh
first=$(PP get 56 8)
len=$(PP get $((first * 4096 + 24)) 8)
PP raw $((first * 4096 + 24)) 8 $((len - 1))
dirty_log
check "free list with a bad checksum: mounts" mounts
check "... checksum mismatch reported" said "checksum mismatch"
check "... consistent" fsck_ok
umount $M
need "fresh image" fresh
first=$(PP get 56 8)
count=$(PP get $((first * 4096 + 8)) 8)
rh=$(($(PP get $((3 * 4096 + 128 + 24)) 8) / 4096))
# The last saved range that starts below the root's log page, stretched
# to cover it (blocks come from the ends of free ranges, so the page may
# sit above every range or between two).
i=0 last=0
while [ $i -lt $count ]; do
	s=$(PP get $((first * 4096 + 16 + 16 * i)) 8)
	[ $s -lt $rh ] && last=$i
	i=$((i + 1))
done
s=$(PP get $((first * 4096 + 16 + 16 * last)) 8)
PP fl-range $last $s $((rh + 1 - s))
dirty_log
check "free list freeing the root's log page (checksum fixed): mounts" mounts
check "... the overlap is reported" said "which is in use"
check "... consistent" fsck_ok
mkdir $M/n1 $M/n2 && for k in 1 2 3 4 5 6 7 8; do echo $k >$M/n1/$k; done
check "... consistent after allocations" fsck_ok
check_eq "... root intact" "a d n1 n2" "$(ls $M | tr '\n' ' ' | sed 's/ $//')"
umount $M

# A list that frees a file's data block, checksum fixed: the clean mount
# cannot see it without a scan, but the file is refused when it is read
# instead of sharing its block with the next allocation.
need "fresh image" fresh
e=$(PP entry $F $WRITE -1)
PP fl-add $(PP get $((e + 32)) 8) 1
dirty_log
check "free list freeing a data block (checksum fixed): mounts" mounts
check_fails "... the file is refused" cat $M/a/f
check "... the block is named" said "inode $F: data blocks"
check "... other files readable" cat $M/a/g
umount $M

# 9. Journal rollback records aimed outside inode slots.
need "fresh image" fresh
S0=$(sb0)
PP journal 8 0
dirty_log
check "journal record on the superblock: mount refused" refused
check "message names the record" said "not an inode slot word"
check_eq "superblock untouched" "$S0" "$(sb0)"
PP journal $((3 * 4096 + 3968)) 0
check "journal record on the inode-table tail: mount refused" refused
slot=$(PP slot-addr $F)
PP journal $((slot + 40)) 0
check "journal record on a checksummed slot word: mount refused" refused
tail=$(PP get $((slot + 32)) 8)
PP journal $((slot + 32)) $tail
check "journal record on a log tail: rolled back, mounts" mounts
check_eq "... data intact" 4096 "$(cat $M/a/f | wc -c)"
umount $M

# 10. An entry stamped with an epoch past the current one.
need "fresh image" fresh
e=$(PP entry $F $WRITE -1)
PP entry-set $e 8 8 1000
dirty_log
need "mount" mounts
check_fails "entry from the future: inode refused" stat $M/a/f
check "message names the epoch" said "inode $F: FileWrite entry .* has epoch 1000"
umount $M
unclean
check "entry from the future: recovery refuses the mount" refused

# 11. Two files sharing a data block: g's FileWrite entry aimed at f's
# block (entry checksum fixed). A clean or snapshot mount loads inodes one
# at a time and used to let both map the block (a write to one changed
# the other); now the file loaded second is refused, whichever it is,
# until the first leaves memory. Recovery's full scan refuses the mount.
share() {
	ef=$(PP entry $F $WRITE -1) && eg=$(PP entry $G $WRITE -1) &&
		PP entry-set $eg 32 8 $(PP get $((ef + 32)) 8)
}
need "fresh image" fresh
need "g's block made f's" share
dirty_log
need "mount" mounts
check "shared block: the file loaded first reads" cat $M/a/f
check_fails "... the file loaded second is refused" cat $M/a/g
check "... the message names the inode" said "inode $G: data block [0-9]* is also used by another file"
check "... the others still work" sh -c "echo y >$M/d/new && cat $M/d/new"
umount $M
need "mount" mounts
check "shared block, other order: g loaded first reads" cat $M/a/g
check_fails "... now f is refused" cat $M/a/f
umount $M
need "mount" mounts
check "shared block: f reads" cat $M/a/f
echo 2 >/proc/sys/vm/drop_caches
# f left memory: its claim went with it.
check "... g reads once f is evicted" cat $M/a/g
umount $M
unclean
check "shared block: recovery refuses the mount" refused
check "... naming the block" said "inode $G: data block [0-9]* is also used by another file"
# A snapshot mount loads inodes one at a time as a clean mount does.
snap_fresh() {
	fresh && mounts && echo >/proc/fs/nova/pmem0/create_snapshot || return 1
	SE=$(awk '$1 ~ /^[0-9]+$/ {print $1; exit}' /proc/fs/nova/pmem0/snapshots)
	umount $M
}
need "fresh image with a snapshot" snap_fresh
need "g's block made f's" share
SM=/tmp/snapm
mkdir -p $SM
need "snapshot mount" mount -t nova -o snapshot=$SE $DEV $SM
check "shared block in a snapshot mount: f reads" cat $SM/a/f
check_fails "... g is refused" cat $SM/a/g
umount $SM

# The two cases that crashed (4: a panic) or hung (3) the old code come
# last, so that a run against it reports every other case first.
# 4. Sizes of 2^64-1 in a FileWrite and in a SetAttr: i_size became -1
# and the next append panicked.
need "fresh image" fresh
e=$(PP entry $F $WRITE -1)
PP entry-set $e 40 8 0xffffffffffffffff
e=$(PP entry $G $SETATTR -1)
mask=$(PP get $((e + 16)) 4)
PP entry-set $e 16 4 $((mask | 8))
PP entry-set $e 32 8 0xffffffffffffffff
dirty_log
need "mount" mounts
check_fails "FileWrite size 2^64-1: append refused" sh -c "echo x >>$M/a/f"
check_fails "FileWrite size 2^64-1: stat refused" stat $M/a/f
check_fails "SetAttr size 2^64-1: append refused" sh -c "echo x >>$M/a/g"
check_fails "SetAttr size 2^64-1: stat refused" stat $M/a/g
umount $M
unclean
check "huge sizes: recovery refuses the mount" refused

# 3. A FileWrite pgoff of 2^52 (page offsets shifted past 2^64): read
# used to loop forever.
need "fresh image" fresh
e=$(PP entry $F $WRITE -1)
PP entry-set $e 16 8 $((1 << 52))
dirty_log
need "mount" mounts
check_fails "pgoff 2^52: inode refused, no hang" timeout 10 cat $M/a/f
check "message names the entry" said "inode $F: bad FileWrite entry"
umount $M
# Just past the largest file (2^51 pages) too.
need "fresh image" fresh
e=$(PP entry $F $WRITE -1)
PP entry-set $e 16 8 $((1 << 51))
need "mount" mounts
check_fails "pgoff 2^51 (past s_maxbytes): inode refused" timeout 10 cat $M/a/f
umount $M
unclean
check "pgoff 2^51: recovery refuses the mount" refused

# 12. A snapshot record's tag (format.md: 32 bytes at offset 32 of the
# SnapshotInfo entry) with a blank, and a tagged deletion record: the
# mount is refused with a message, clean or recovering.
SNAPINFO=5 P=/proc/fs/nova/pmem0
for c in "create 32 1 32" "create 40 1 97" "delete 32 1 97"; do
	set -- $c
	need "fresh image" fresh
	mount -t nova $DEV $M && echo tag=t1 >$P/create_snapshot && echo 1 >$P/delete_snapshot && umount $M
	n=0
	[ $1 = delete ] && n=1
	e=$(PP entry 2 $SNAPINFO $n)
	PP entry-set $e $2 $3 $4
	dirty_log
	check "snapshot tag ($c): mount refused" refused
	check "snapshot tag ($c): message names the record" said "snapshot log: a bad record (BadTag(1))"
	unclean
	check "snapshot tag ($c): recovery refuses the mount" refused
done

check "mount -o init still recovers the device" mkfs_mount
check "consistent after re-format" fsck_ok
umount $M
