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
