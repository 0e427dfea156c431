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
	# Keep the manifest on nova itself and reboot without unmounting;
	# phase 2 compares the recovered tree with it.
	treesum $M > $M/.tree
else
	need "mount after reboot (recovery)" mount -t nova $DEV $M
	check "consistent after recovery" fsck_ok
	treesum -x .tree $M > /tmp/now
	grep -v '^\.tree ' $M/.tree > /tmp/was
	check "tree identical after reboot" diff /tmp/was /tmp/now
	umount $M
fi
