# The user-space tools (issue 16): mkfs.nova writes exactly what the
# module's `mount -o init` and the `umount` after it write (the uuid and
# the clock are inputs: taken from the module's image, given to mkfs.nova
# with -U and SOURCE_DATE_EPOCH; formatting takes its first log pages
# from allocation region 0 on any CPU, as mkfs.nova does); a nova made by
# mkfs.nova mounts and works; fsck.nova finds it clean and finds
# corruptions.
# pmem: 64M
# boots: 1
# flavors: fast (user-space tools; the kernel paths run on both kernels
# in basic, snapshot and readonly)
. /tests/lib.sh
PP() { /tests/pmpoke $DEV "$@"; }
# The device as the module left it: past the block device's page cache.
fresh() { echo 3 > /proc/sys/vm/drop_caches; }
# Fills the device with a non-zero pattern, so that the comparison also
# shows that both write the same bytes (and leave the same bytes alone).
tr '\000' '\245' < /dev/zero | head -c 1048576 > /tmp/pat
pattern() {
	i=0
	while [ $i -lt 64 ]; do
		dd if=/tmp/pat of=$DEV bs=1M seek=$i count=1 conv=notrunc 2>/dev/null
		i=$((i + 1))
	done
	sync
	fresh
}
need "mkfs.nova and fsck.nova are installed" which mkfs.nova fsck.nova

pattern
# On any CPU: formatting takes its first log pages from region 0.
need "mount -o init" mount -t nova -o init $DEV $M
umount $M
fresh
dd if=$DEV of=/tmp/kernel.img bs=1M 2>/dev/null
uuid=$(od -A n -t x1 -j 72 -N 16 $DEV | tr -d ' \n')
when=$(PP get 64 8)
regions=$(PP get 40 4)
echo "module's image: uuid $uuid, time $when, $regions regions"
# Formatting wipes other file systems' signatures: the first MiB and the
# last 128 KiB (format.md), nothing else.
check_eq "formatting zeroed the start (btrfs's signature place, byte 65600)" 0 "$(PP get 65600 4)"
check_eq "... and the end (MD's superblock place, 64 KiB before it)" 0 "$(PP get $((64 * 1048576 - 65536)) 4)"
check_eq "... and left a free block in between alone" $((0xa5a5a5a5)) "$(PP get $((8 * 1048576)) 4)"

pattern
need "mkfs.nova with the module's uuid and time" env SOURCE_DATE_EPOCH=$when mkfs.nova -U $uuid $DEV
fresh
if cmp /tmp/kernel.img $DEV >/tmp/cmp.out 2>&1; then
	pass "mkfs.nova writes byte for byte what mount -o init + umount write"
else
	fail "mkfs.nova differs from mount -o init + umount"
	# Which blocks differ, and how many bytes in each.
	cmp -l /tmp/kernel.img $DEV 2>/dev/null |
		awk '{ b = int(($1 - 1) / 4096); n[b]++; if (!(b in f)) { f[b] = $1 - 1 - b * 4096; o[++k] = b } }
			END { for (i = 1; i <= k && i <= 20; i++) printf "    | block %d: %d bytes differ from +%d\n", o[i], n[o[i]], f[o[i]] }'
fi
rm -f /tmp/kernel.img

check_fails "mkfs.nova refuses an existing nova without -f" mkfs.nova $DEV
grep -q "contains a nova file system" /tmp/check.out && pass "and says why" || fail "no reason given: $(cat /tmp/check.out)"
check "mkfs.nova -f overwrites it" mkfs.nova -f -q $DEV
dd if=/dev/zero of=$DEV bs=1M count=1 conv=fsync 2>/dev/null
poke 1080 '\123\357'
check_fails "mkfs.nova refuses an ext2/3/4 signature without -f" mkfs.nova $DEV
grep -q "ext2/ext3/ext4" /tmp/check.out && pass "and names it" || fail "no ext4 named: $(cat /tmp/check.out)"
check_fails "mkfs.nova -L is refused (no label field)" mkfs.nova -f -L x $DEV
need "mkfs.nova -f over it" mkfs.nova -f $DEV

# A nova made by mkfs.nova mounts (clean, with its saved free list) and works.
dmesg -c >/dev/null
need "mount without -o init after mkfs.nova" mount -t nova $DEV $M
check "it was a clean mount" sh -c "dmesg | grep -q 'clean mount'"
echo hello > $M/f
mkdir $M/d
dd if=/dev/urandom of=$M/d/g bs=4096 count=10 2>/dev/null
check "consistent (the module's check)" fsck_ok
umount $M
need "remount" mount -t nova $DEV $M
check_eq "the file reads back" hello "$(cat $M/f)"
umount $M

# fsck.nova on images the module wrote: clean after a clean unmount.
fsck_clean() {
	fresh
	fsck.nova -n $DEV
}
check "fsck.nova -n: clean after mkfs.nova, a mount and files" fsck_clean
need "mount" mount -t nova $DEV $M
mkdir -p $M/d/e
ln -s f $M/link
ln $M/f $M/d/hard
dd if=/dev/urandom of=$M/big bs=4096 count=40 2>/dev/null
dd if=/dev/urandom of=$M/big bs=4096 seek=5 count=3 conv=notrunc 2>/dev/null
truncate -s 50000 $M/d/g
rm $M/d/e -r
echo gone > $M/gone
rm $M/gone
check "consistent (the module's check)" fsck_ok
fsck.nova -n $DEV >/tmp/fsck.out 2>&1
check_eq "fsck.nova refuses a mounted device (exit 8)" "8 busy" "$? $(grep -o busy /tmp/fsck.out)"
check_fails "mkfs.nova refuses a mounted device, even with -f" mkfs.nova -f $DEV
umount $M
check "fsck.nova -n: clean after overwrites, truncate, links, unlink" fsck_clean
# nova-inspect shows what the module wrote: the tree, the logs.
nova-inspect $DEV tree >/tmp/tree.out 2>&1
check "nova-inspect tree lists the names" grep -q "^  d/ (inode .*)" /tmp/tree.out
check "... a hard link under d/" grep -q "^    hard (inode .*)" /tmp/tree.out
check_fails "... not the removed ones" grep -q "gone\|^    e/" /tmp/tree.out
ino=$(sed -n 's/^  big (inode \([0-9]*\))$/\1/p' /tmp/tree.out)
nova-inspect $DEV log $ino >/tmp/log.out 2>&1
check "nova-inspect log shows big's writes (dd: one write per page)" grep -q "write pages 7+1 -> blocks" /tmp/log.out
# A snapshot keeps replaced blocks: fsck.nova counts them as held.
need "mount" mount -t nova $DEV $M
echo > /proc/fs/nova/pmem0/create_snapshot
dd if=/dev/urandom of=$M/big bs=4096 count=10 conv=notrunc 2>/dev/null
rm $M/d/g
check "consistent with a snapshot (the module's check)" fsck_ok
umount $M
check "fsck.nova -n: clean with a snapshot holding blocks" fsck_clean
fsck.nova -v $DEV | grep -E 'held|snapshots:' | sed 's/^/    /'
check "fsck.nova -v reports the held blocks" sh -c "fsck.nova -v $DEV | grep -q 'blocks held by snapshots'"

# Corruptions (each on a copy of the image, restored after).
dd if=$DEV of=/tmp/good.img bs=1M 2>/dev/null
restore() {
	dd if=/tmp/good.img of=$DEV bs=1M conv=fsync 2>/dev/null
	fresh
}
# fsck4 DESC PATTERN: fsck.nova -n exits 4 and its output matches PATTERN.
fsck4() {
	fresh
	fsck.nova -n $DEV >/tmp/fsck.out 2>&1
	rc=$?
	if [ $rc = 4 ] && grep -q "$2" /tmp/fsck.out; then pass "$1"; else
		fail "$1 (exit $rc)"
		sed 's/^/    | /' /tmp/fsck.out | head -10
	fi
	restore
}
need "mount" mount -t nova $DEV $M
big=$(ls -i $M/big | awk '{print $1}')
g2=$(ls -i $M/d/hard | awk '{print $1}')
umount $M
fw=$(PP entry $big 4 -1)
fw2=$(PP entry $g2 4 0)
echo "inode $big: last FileWrite at $fw"
# 1. A log entry's checksum (a byte changed, not resealed).
PP raw $((fw + 24)) 1 0x55 >/dev/null
fsck4 "fsck.nova finds a log entry with a bad checksum" "inode $big log: entry at .*checksum mismatch"
# 2. The primary superblock's checksum.
PP raw 72 1 $(( ($(PP get 72 1) + 1) % 256 )) >/dev/null
fsck4 "fsck.nova finds a superblock checksum mismatch" "superblock (primary, block 0): csum: checksum mismatch"
# 3. A FileWrite resealed to point at blocks another file uses.
other=$(PP get $((fw2 + 32)) 8)
PP entry-set $fw 32 8 $other >/dev/null
fsck4 "fsck.nova finds a doubly-used block" "doubly used"
# 4. An inode slot's mode, not resealed.
slot=$(PP slot-addr $big)
PP raw $((slot + 4)) 1 0 >/dev/null
fsck4 "fsck.nova finds an inode slot with a bad checksum" "inode $big (slot at .*): csum"
check "fsck.nova -n: the restored image is clean" fsck_clean
need "mount the restored image" mount -t nova $DEV $M
check "consistent (the module's check)" fsck_ok
umount $M

# fsck.nova -y (issue 16) on what the module wrote: each repaired image
# passes fsck.nova -n, and the module mounts it and `check`s it clean.
P=/proc/fs/nova/pmem0
W=/tmp/fsckfix
mkdir -p $W
# fsck_y DESC PATTERN: fsck.nova -y exits 1 and says PATTERN; then -n is clean.
fsck_y() {
	fresh
	fsck.nova -y $DEV >/tmp/fsck.out 2>&1
	rc=$?
	if [ $rc = 1 ] && grep -q "$2" /tmp/fsck.out; then pass "$1"; else
		fail "$1 (exit $rc)"
		sed 's/^/    | /' /tmp/fsck.out | head -10
	fi
	check "... then fsck.nova -n is clean" fsck_clean
}
# After a repair, on the mounted image: the module's check, the tree as
# before ($W/before; $1 names that check), and fsck.nova clean after unmount.
repaired_ok() {
	check "consistent (the module's check)" fsck_ok
	treesum -d $M >$W/now
	check "$1" cmp -s $W/before $W/now
	umount $M
	check "fsck.nova -n: clean after the module's mount" fsck_clean
}
# 1. An active journal: a crash state of a rename across directories (four
#    inodes' words journaled), made with nova-crash as crashenum does.
need "mkfs.nova" mkfs.nova -f -q $DEV
need "mount" mount -t nova $DEV $M
mkdir $M/d $M/e
echo a >$M/d/a
echo b >$M/e/b
mkdir $M/d/sub
sync
treesum -d $M >$W/before
nova-crash dump $DEV $W/base.img
need "the traced rename" crashop $P/trace 4 rename $M/d/sub $M/e/sub
cat $P/trace >$W/trace
umount $M
rm -f $W/journal.img
nova-crash run -e 8 -s 6 $W/base.img $W/trace $DEV sh -c \
	"! fsck.nova -n $DEV | grep -q '^warning: journal (block 2): active' || nova-crash dump $DEV $W/journal.img" \
	>$W/out 2>&1
need "a crash state of the rename has an active journal" test -s $W/journal.img
nova-crash put $W/journal.img $DEV
fresh
fsck.nova -n $DEV >/tmp/fsck.out 2>&1
check_eq "fsck.nova -n: the journal is a warning (exit 0)" "0 1" "$? $(grep -c 'warning: journal (block 2): active' /tmp/fsck.out)"
fsck_y "fsck.nova -y rolls the journal back" "repaired: rolled back the active journal"
check_eq "the journal is idle" 0 "$(PP get 8192 8)"
dmesg -c >/dev/null
need "mount the repaired image" mount -t nova $DEV $M
check_fails "the mount had nothing to roll back" sh -c "dmesg | grep -q 'rolled back an interrupted operation'"
repaired_ok "the tree is the one before the rename"
rm -f $W/base.img $W/journal.img
# 2. A leaked block: the saved free list forgets one (the last of the
#    last range of its first block; checksum fixed).
dd if=$DEV of=/tmp/good.img bs=1M 2>/dev/null
fl=$(( $(PP get 56 8) * 4096 ))
n=$(( $(PP get $((fl + 8)) 8) - 1 ))
s0=$(PP get $((fl + 16 + n * 16)) 8)
l0=$(PP get $((fl + 24 + n * 16)) 8)
echo "saved free list range $n: $s0+$l0"
PP fl-range $n $s0 $((l0 - 1)) >/dev/null
fresh
fsck.nova -n $DEV >/tmp/fsck.out 2>&1
check_eq "fsck.nova -n finds the leaked block (exit 4)" "4 1" "$? $(grep -c "block $((s0 + l0 - 1)): leaked" /tmp/fsck.out)"
fsck_y "fsck.nova -y drops the saved free list" "repaired: dropped the saved free list"
check_eq "the clean flag is gone" 0 "$(( $(PP get 44 4) & 1 ))"
dmesg -c >/dev/null
need "mount the repaired image" mount -t nova $DEV $M
check "the mount rebuilt the free list from the logs" sh -c "dmesg | grep -q 'recovered after unclean shutdown'"
repaired_ok "the tree is unchanged"
restore
# 3. A saved free list whose checksum does not match.
PP sb 88 4 $(( $(PP get 88 4) ^ 1 )) >/dev/null
fresh
fsck.nova -n $DEV >/tmp/fsck.out 2>&1
check_eq "fsck.nova -n refuses the saved free list (exit 4)" "4 1" "$? $(grep -c 'saved free list: checksum does not match' /tmp/fsck.out)"
fsck_y "fsck.nova -y drops it" "repaired: dropped the saved free list"
need "mount the repaired image" mount -t nova $DEV $M
check "consistent (the module's check)" fsck_ok
umount $M
check "fsck.nova -n: clean after the module's mount" fsck_clean
# 4. What is not safely repairable stays: a name whose inode slot was
#    cleared (dangling), fsck.nova -y exits 4 and writes nothing.
restore
need "mount" mount -t nova $DEV $M
a=$(ls -i $M/d/a | awk '{print $1}')
umount $M
PP raw $(PP slot-addr $a) 4 0 >/dev/null
fresh
dd if=$DEV of=/tmp/bad.img bs=1M 2>/dev/null
fsck.nova -y $DEV >/tmp/fsck.out 2>&1
check_eq "fsck.nova -y leaves a dangling name (exit 4)" "4 1" "$? $(grep -c "name \"a\": ino: inode $a is not in use" /tmp/fsck.out)"
fresh
check "... and writes nothing" cmp -s /tmp/bad.img $DEV
rm -f /tmp/bad.img
restore
check "fsck.nova -n: the restored image is clean" fsck_clean
