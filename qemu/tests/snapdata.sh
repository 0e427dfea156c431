# Snapshot content: a snapshot mount shows every file, directory,
# attribute and byte as it was when the snapshot was taken (checksum lists
# recorded then), after more writes, truncates, deletions and mmap stores,
# after deleting other snapshots, after remount and after a crash; blocks
# kept only for snapshots return when the snapshots go.
# boots: 2
. /tests/lib.sh
P=/proc/fs/nova/pmem0
S=/mnt/snap
held() { sed -n 's/^snapshot_held_blocks //p' $P/stats; }
snap() { echo > $P/create_snapshot; }
# same_as MANIFEST EPOCH: the snapshot's tree matches the manifest.
same_as() {
	umount $M 2>/dev/null
	mount -t nova -o snapshot=$2 $DEV $S || return 1
	treesum $S > /tmp/snapsum
	umount $S
	diff $1 /tmp/snapsum
}
sums() { treesum -x .m1 -x .m2 -x .m3 $M; }
phase=${1:-1}
mkdir -p $S
if [ "$phase" = 1 ]; then
	need "mount" mkfs_mount
	mkdir -p $M/d/e
	dd if=/dev/urandom of=$M/big bs=4096 count=300 2>/dev/null
	echo hello > $M/d/small
	ln -s ../big $M/d/e/link
	dd if=/dev/zero of=$M/mapped bs=4096 count=16 2>/dev/null
	mmapstore $M/mapped 0 65536 0x41 > /dev/null
	sums > /tmp/m1
	check "snapshot 1" snap
	# Change everything: overwrite, truncate, append, mmap store, delete,
	# rename, chmod, new files.
	dd if=/dev/urandom of=$M/big bs=4096 count=50 seek=100 conv=notrunc 2>/dev/null
	truncate -s 5000 $M/d/small
	echo more >> $M/d/small
	mmapstore $M/mapped 4096 8192 0x42 > /dev/null
	chmod 600 $M/d/small
	mv $M/d/e $M/e2
	echo new > $M/newfile
	sums > /tmp/m2
	check "snapshot 2" snap
	rm -rf $M/e2 $M/big
	mmapstore $M/mapped 0 4096 0x43 > /dev/null
	truncate -s 0 $M/mapped
	dd if=/dev/urandom of=$M/newfile bs=1000 count=7 2>/dev/null
	sums > /tmp/m3
	check "snapshot 3" snap
	echo after > $M/d/small
	rm -f $M/newfile
	check "blocks are held for the snapshots" test "$(held)" -gt 300
	check "consistent with snapshots (held blocks match the logs)" fsck_ok
	cp /tmp/m1 $M/.m1; cp /tmp/m2 $M/.m2; cp /tmp/m3 $M/.m3
	sums > /tmp/now
	umount $M
	check "snapshot 1 as taken" same_as /tmp/m1 1
	check "snapshot 2 as taken" same_as /tmp/m2 2
	check "snapshot 3 as taken" same_as /tmp/m3 3
	check_fails "a snapshot mount is read-only" sh -c \
		"mount -t nova -o snapshot=2 $DEV $S && trap 'umount $S' EXIT && echo x > $S/d/small"
	umount $S 2>/dev/null
	need "mount" mount -t nova $DEV $M
	check "snapshot 1 mounted beside the read-write mount" mount -t nova -o snapshot=1 $DEV $S
	treesum $S > /tmp/snapsum
	umount $S
	check "shows snapshot 1 as taken" diff /tmp/m1 /tmp/snapsum
	sums > /tmp/now2
	check "live tree unchanged" diff /tmp/now /tmp/now2
	check "delete snapshot 2" sh -c "echo 2 > $P/delete_snapshot"
	check "consistent after the hand-off" fsck_ok
	umount $M
	check "snapshot 1 intact after deleting 2" same_as /tmp/m1 1
	check "snapshot 3 intact after deleting 2" same_as /tmp/m3 3
	need "mount" mount -t nova $DEV $M
	# More overwrites, then a crash with the snapshots live.
	dd if=/dev/urandom of=$M/d/small bs=4096 count=3 2>/dev/null
	# Reboot without unmounting.
else
	need "mount after reboot (recovery)" mount -t nova $DEV $M
	check "consistent after recovery (held blocks match the logs)" fsck_ok
	cp $M/.m1 /tmp/m1; cp $M/.m3 /tmp/m3
	umount $M
	check "snapshot 1 intact after a crash" same_as /tmp/m1 1
	check "snapshot 3 intact after a crash" same_as /tmp/m3 3
	need "mount" mount -t nova $DEV $M
	runs0=$(sed -n 's/^cleaner_runs //p' $P/stats)
	check "delete snapshots 1 and 3" sh -c "echo 1 > $P/delete_snapshot && echo 3 > $P/delete_snapshot"
	check_eq "nothing held once they are gone" 0 "$(held)"
	# The cleaner thread frees what they kept, on its own. It takes the
	# dead list (the count reads 0 from then on; the taken blocks show in
	# snapshot_cleaning_blocks until they are free) before it frees the
	# blocks and counts its run, which on the debug kernel takes a while:
	# wait for the run too.
	i=0; while [ $i -lt 10 ] && { [ "$(sed -n 's/^snapshot_dead_blocks //p' $P/stats)" != 0 ] ||
		[ "$(sed -n 's/^cleaner_runs //p' $P/stats)" -le "$runs0" ]; }; do
		sleep 1; i=$((i + 1)); done
	check_eq "the cleaner freed everything" 0 "$(sed -n 's/^snapshot_dead_blocks //p' $P/stats)"
	check "the cleaner ran" test "$(sed -n 's/^cleaner_runs //p' $P/stats)" -gt "$runs0"
	check_eq "nothing left being cleaned" 0 "$(sed -n 's/^snapshot_cleaning_blocks //p' $P/stats)"
	check "a cleaner thread per mount" sh -c "ps | grep -q '[n]ova_cln/pmem0'"
	check "consistent" fsck_ok
	# 200 rolling snapshots under a write workload, then all deleted.
	check "rolling snapshots under writes" sh -c "
		i=0; while [ \$i -lt 200 ]; do
			dd if=/dev/urandom of=$M/d/small bs=4096 count=2 conv=notrunc 2>/dev/null || exit 1
			echo > $P/create_snapshot || exit 1
			e=\$(sed -n 's/^ *\([0-9][0-9]*\)  .*/\1/p' $P/snapshots | head -1)
			[ \$i -ge 5 ] && { echo \$e > $P/delete_snapshot || exit 1; }
			i=\$((i + 1)); done
		for e in \$(sed -n 's/^ *\([0-9][0-9]*\)  .*/\1/p' $P/snapshots); do
			echo \$e > $P/delete_snapshot || exit 1; done"
	check_eq "no snapshots left" 0 "$(sed -n 's/^snapshots //p' $P/stats)"
	check_eq "nothing held after rolling snapshots" 0 "$(held)"
	check "consistent after rolling snapshots" fsck_ok
	umount $M
fi
