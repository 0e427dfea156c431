# fsx-style random data operations checked against a model, then the
# content checked again after a remount and after a reboot. A fixed seed
# here; by hand: fsx -s SEED -n OPS /mnt/nova/dir in `make run`.
# boots: 2
. /tests/lib.sh
# Ops per run; a third on the (slow) debug kernel, where every op kind
# still runs dozens of times.
A=$(scale 3000 1000) B=$(scale 1500 500)
phase=${1:-1}
if [ "$phase" = 1 ]; then
	need "mount" mkfs_mount
	mkdir $M/fsx $M/fsxm $M/big
	check "fsx $A ops, seed 1" sh -c "fsx -s 1 -n $A -f 3 $M/fsx > /tmp/fsx.out"
	cat /tmp/fsx.out
	check "every fallocate mode fsx uses is supported (default, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE)" \
		sh -c "grep -q 'fallocate=[1-9]' /tmp/fsx.out && ! grep -q 'fallocate EOPNOTSUPP' /tmp/fsx.out"
	check "COLLAPSE_RANGE and INSERT_RANGE ran (model shifted with the file)" \
		grep -q 'shifts: collapse=[1-9][0-9]* insert=[1-9]' /tmp/fsx.out
	check "fsx $A ops with mmap loads/stores, seed 3" fsx -s 3 -n $A -f 3 -m $M/fsxm
	check "fsx $B ops, seed 7, sparse files past 4 GiB" fsx -s 7 -n $B -f 2 -S 6g -r $M/big.model $M/big
	check "consistent" fsck_ok
	check "remount" remount
	check "content matches model after remount" fsx -c $M/big.model $M/big
	check "consistent after remount" fsck_ok
	treesum -x big -x big.model $M > $M/.tree
	# Reboot without unmounting.
else
	need "mount after reboot (recovery)" mount -t nova $DEV $M
	check "content matches model after reboot" fsx -c $M/big.model $M/big
	treesum -x .tree -x big -x big.model $M > /tmp/now
	grep -v '^\.tree ' $M/.tree > /tmp/was
	check "tree identical after reboot" diff /tmp/was /tmp/now
	check "consistent after recovery" fsck_ok
	check "remove everything" rm -rf $M/fsx $M/fsxm $M/big $M/big.model $M/.tree
	check "consistent when empty" fsck_ok
	umount $M
fi
