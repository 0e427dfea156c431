# Saved held lists (issue 17): a clean unmount with live snapshots saves
# what each snapshot keeps beside the free list (SB_HELD), so the next
# mount is a clean mount without the recovery scan, and the lists, the
# free count and the snapshots' data are those a scan gives; a corrupted
# saved list falls back to the scan with a warning (fsck.nova names it,
# -y drops it); a read-only mount changes no byte; after a crash the scan
# runs as before.
# boots: 2
. /tests/lib.sh
P=/proc/fs/nova/pmem0
S=/mnt/snap
listing() { sed -n 's/^ *\([0-9][0-9]*\) .* \([0-9][0-9]*\)  \(.*\)$/\1 \2 \3/p' $P/snapshots | tr '\n' ';'; }
held_block() { nova-inspect $DEV sb | sed -n 's/^ *held *block \([0-9]*\).*/\1/p' | head -n 1; }
scanned() { dmesg | grep -q 'recovered after unclean shutdown'; }
# Clears the kernel log, so that scanned looks at the next mount only.
fresh() { dmesg -c > /dev/null; }
phase=${1:-1}
mkdir -p $S
if [ "$phase" = 1 ]; then
	need "mount" mkfs_mount
	mkdir $M/d
	for i in 1 2 3 4 5 6; do dd if=/dev/urandom of=$M/d/f$i bs=4k count=8 2>/dev/null; done
	md5sum $M/d/* > /tmp/s1.sum
	check "snapshot 1" sh -c "echo tag=first > $P/create_snapshot"
	for i in 1 2 3; do dd if=/dev/zero of=$M/d/f$i bs=4k count=2 conv=notrunc 2>/dev/null; done
	rm $M/d/f4
	check "snapshot 2" sh -c "echo > $P/create_snapshot"
	dd if=/dev/zero of=$M/d/f5 bs=4k count=8 conv=notrunc 2>/dev/null
	rm $M/d/f6
	check "snapshot 3" sh -c "echo > $P/create_snapshot"
	echo new > $M/d/g
	l0=$(listing); f0=$(free_blocks)
	echo "listing: $l0 free: $f0"
	check "snapshots hold blocks" [ "$(sed -n 's/^snapshot_held_blocks //p' $P/stats)" -gt 0 ]
	check "consistent" fsck_ok
	umount $M
	check "fsck.nova -n: clean, with the saved held lists" sh -c "fsck.nova -n -v $DEV > /tmp/fsck.txt; r=\$?; cat /tmp/fsck.txt; [ \$r = 0 ] && grep -q 'saved held lists' /tmp/fsck.txt"
	check "the superblock says so" sh -c "nova-inspect $DEV sb | grep -q 'flags.*held'"
	# A read-only mount with snapshots: no scan, no byte changed.
	sum=$(dev_sum)
	fresh
	check "read-only mount" mount -t nova -o ro $DEV $M
	check_fails "without the scan" scanned
	check_eq "the same lists" "$l0" "$(listing)"
	umount $M
	check_eq "the device unchanged" "$sum" "$(dev_sum)"
	# Read-write: a clean mount, the lists and free space as saved.
	fresh
	check "mount" mount -t nova $DEV $M
	check "a clean mount" sh -c "dmesg | grep -q 'clean mount'"
	check_fails "without the scan" scanned
	check_eq "the same lists (held blocks, tags)" "$l0" "$(listing)"
	check_eq "the same free blocks" "$f0" "$(free_blocks)"
	check "check recomputes the lists from the logs: equal" fsck_ok
	check "snapshot 1 mounted beside" mount -t nova -o snapshot=1 $DEV $S
	check "shows its data" sh -c "cd $S/d && md5sum * | sed 's|  |  $M/d/|' | diff - /tmp/s1.sum"
	umount $S
	umount $M
	# The same image mounted with the scan (the saved lists corrupted)
	# gives the same lists and free count.
	b=$(held_block)
	check "the held lists have a block" [ -n "$b" ] && [ "$b" -gt 0 ]
	poke $((b * 4096 + 8)) '\377'
	check_fails "fsck.nova -n names the corruption (exit 4)" sh -c "fsck.nova -n $DEV > /tmp/fsck.txt; r=\$?; cat /tmp/fsck.txt; [ \$r != 4 ] || ! grep -q 'saved held lists' /tmp/fsck.txt"
	fresh
	check "mount" mount -t nova $DEV $M
	check "a warning" sh -c "dmesg | grep -q 'saved held lists not trusted'"
	check "and the scan" scanned
	check_eq "the scan's lists equal the saved ones" "$l0" "$(listing)"
	check_eq "so does the free count" "$f0" "$(free_blocks)"
	check "consistent" fsck_ok
	# A chain that loops (its block's next is itself): refused at once.
	umount $M
	b=$(held_block)
	check "the held lists were saved again" [ -n "$b" ]
	/tests/pmpoke $DEV raw $((b * 4096)) 8 $b
	fresh
	check "a looping chain: mount" mount -t nova $DEV $M
	check "warns" sh -c "dmesg | grep -q 'saved held lists: Block'"
	check "and scans" scanned
	check_eq "the same lists" "$l0" "$(listing)"
	# Deleting snapshots after a fast mount frees exactly what they held.
	umount $M
	fresh
	check "mount again (clean, saved)" mount -t nova $DEV $M
	check_fails "no scan" scanned
	for e in 2 1; do echo $e > $P/delete_snapshot; done
	check "consistent after deletions on the loaded lists" fsck_ok
	f1=$(free_blocks)
	umount $M
	b=$(held_block)
	poke $((b * 4096 + 8)) '\377'
	check "fsck.nova -y drops them (exit 1)" sh -c "fsck.nova -y $DEV > /tmp/fsck.txt; [ \$? = 1 ]"
	fresh
	check "then mounts with the scan" mount -t nova $DEV $M
	check "scanned" scanned
	check_eq "the same free count as after the deletions" "$f1" "$(free_blocks)"
	check "consistent" fsck_ok
	# A crash with snapshots: the scan, as before.
	dd if=/dev/zero of=$M/d/f1 bs=4k count=1 conv=notrunc 2>/dev/null
	listing > $M/l2
else
	fresh
	need "mount after the crash" mount -t nova $DEV $M
	check "the scan" scanned
	check_eq "the lists" "$(cat $M/l2 2>/dev/null || echo none)" "$(listing)"
	check "consistent" fsck_ok
	umount $M
fi
