# File data beyond read/write: mmap on DAX (shared, private, holes,
# SIGBUS past EOF, MAP_SYNC, coherence with write()), fallocate,
# copy_file_range and sendfile; mapped stores kept across remount and
# reboot.
# boots: 2
. /tests/lib.sh
phase=${1:-1}
if [ "$phase" = 1 ]; then
	need "mount" mkfs_mount
	mkdir $M/d
	for c in shared coherent private hole sigbus sync tail falloc punch copy; do
		check "datat $c" datat $c $M/d
	done
	check "consistent after the cases" fsck_ok
	check "mapped stores + msync" datat persist $M/d
	check "remount" remount
	check "mapped stores kept across remount" datat verify $M/d
	# write() copies on write the pages another process keeps storing
	# into; the stores go on in the new blocks. The writes stop well
	# before the stores' last round, after which every page must hold
	# that round's byte.
	check "concurrent mapped stores and writes" sh -c "
		dd if=/dev/zero of=$M/d/busy bs=4096 count=64 2>/dev/null &&
		(mmapstore -k $M/d/busy 12 1 > /tmp/ms.out 2>&1 &) &&
		i=0; while [ \$i -lt 100 ]; do
			dd if=/dev/urandom of=$M/d/busy bs=512 count=1 seek=\$((i * 7 % 500)) conv=notrunc 2>/dev/null
			i=\$((i + 1)); done; sleep 13; cat /tmp/ms.out; grep -q '^ok' /tmp/ms.out"
	check "consistent after concurrent use" fsck_ok
	# Taking a snapshot drops the page tables of shared writable
	# mappings: it looks only at inodes that have had one, not at every
	# cached inode (snapshot_unmap_inodes counts those it looked at).
	P=/proc/fs/nova/pmem0
	mkdir $M/many
	i=0
	while [ $i -lt 300 ]; do echo $i >$M/many/f$i; i=$((i + 1)); done
	cat $M/many/* >/dev/null
	dd if=/dev/zero of=$M/d/mapped bs=4096 count=4 2>/dev/null
	unmapped() { awk '$1 == "snapshot_unmap_inodes" { print $2 }' $P/stats; }
	(mmapstore -k $M/d/mapped 3 7 >/tmp/ms2.out 2>&1 &)
	sleep 1
	u0=$(unmapped)
	check "a snapshot while one file of 300+ cached is mapped" sh -c "echo 1 >$P/create_snapshot"
	u1=$(unmapped)
	check "it looked at the mapped inodes only (not the 300 cached)" sh -c "[ $((u1 - u0)) -ge 1 ] && [ $((u1 - u0)) -le 3 ]"
	sleep 3
	check "the stores went on after the snapshot (copied, not lost)" grep -q '^ok' /tmp/ms2.out
	check "the file holds the last round" sh -c "[ \$(od -An -tx1 -N1 $M/d/mapped | tr -d ' ') = \$(sed -n 's/.*last byte 0x\(..\).*/\1/p' /tmp/ms2.out) ]"
	E=$(awk '$1 ~ /^[0-9]+$/ {print $1; exit}' $P/snapshots)
	echo $E >$P/delete_snapshot
	rm -rf $M/many
	check "mapped stores + msync again" datat persist $M/d
	# Reboot without unmounting.
else
	need "mount after reboot (recovery)" mount -t nova $DEV $M
	check "mapped stores kept across reboot" datat verify $M/d
	check "consistent after recovery" fsck_ok
	check "remove everything" rm -rf $M/d
	check "consistent when empty" fsck_ok
	umount $M
fi
