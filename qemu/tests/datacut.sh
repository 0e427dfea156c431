# A write-heavy workload cut off by a power loss: after recovery every
# block of every file is either a hole or a complete, valid block written
# by the workload (no torn blocks, no garbage), and the file system is
# consistent.
# boots: 2
# cutoff: 15
# cutoff-debug: 10
. /tests/lib.sh
phase=${1:-1}
if [ "$phase" = 1 ]; then
	mkfs_mount || exit 1
	mkdir $M/w
	crashload -s 3 $M/w 600
else
	need "mount after the cut-off (recovery)" mount -t nova $DEV $M
	check "recovery happened" sh -c "dmesg | grep -q 'recovered after unclean shutdown'"
	check "every block whole and valid" crashload -v $M/w
	check "consistent after recovery" fsck_ok
	check "remove everything" rm -rf $M/w
	check "consistent when empty" fsck_ok
	umount $M
fi
