# A namespace workload cut off by a power loss; the next mount recovers
# to a consistent tree (no leaked or doubly-used blocks, every entry
# readable, everything deletable back to an empty file system).
# boots: 2
# cutoff: 20
# cutoff-debug: 10
. /tests/lib.sh
phase=${1:-1}
if [ "$phase" = 1 ]; then
	mkfs_mount || exit 1
	i=0
	while :; do
		d=$M/d$((i % 7))
		mkdir -p $d
		touch $d/f$i
		ln -s f$i $d/l$i
		[ $((i % 3)) = 0 ] && mv $d/f$i $M/d$(((i + 1) % 7))/g$i 2>/dev/null
		[ $((i % 4)) = 1 ] && rm -f $d/l$((i - 1))
		[ $((i % 5)) = 2 ] && ln $d/f$i $d/h$i 2>/dev/null
		[ $((i % 11)) = 3 ] && mkdir $d/sub$i && rmdir $d/sub$i
		i=$((i + 1))
		[ $((i % 20)) = 0 ] && echo "NOVA-PROGRESS $i"
	done
else
	need "mount after the cut-off (recovery)" mount -t nova $DEV $M
	check "recovery message" sh -c "dmesg | grep -q 'recovered after unclean shutdown'"
	check "consistent after recovery" fsck_ok
	check "every entry readable" sh -c "find $M | while read p; do stat \$p >/dev/null || exit 1; done"
	n=$(find $M | wc -l)
	echo "entries: $n"
	check "more than a few entries survived" test "$n" -gt 10
	check "remount" remount
	check "consistent after remount" fsck_ok
	check "delete everything" sh -c "rm -rf $M/*"
	check_eq "empty" "" "$(ls -A $M)"
	check "consistent when empty" fsck_ok
	umount $M
fi
