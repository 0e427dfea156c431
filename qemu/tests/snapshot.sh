# The snapshot table: create, list and delete through /proc, epochs,
# refused input, persistence across remount and a crash (reboot without
# unmounting), read-only mounts. (Data retention by snapshots and
# snapshot mounts are later work; see issue 5.)
# boots: 2
. /tests/lib.sh
P=/proc/fs/nova/pmem0
snaps() { sed -n 's/^ *\([0-9][0-9]*\)  .*/\1/p' $P/snapshots | tr '\n' ' '; }
total() { sed -n 's/^total \([0-9]*\) snapshots.*/\1/p' $P/snapshots; }
epoch() { sed -n 's/^epoch //p' $P/stats; }
phase=${1:-1}
if [ "$phase" = 1 ]; then
	need "mount" mkfs_mount
	check_eq "no snapshots at first" 0 "$(total)"
	check_eq "first epoch is 1" 1 "$(epoch)"
	check "create a snapshot" sh -c "echo > $P/create_snapshot"
	echo data > $M/f
	check "create two more" sh -c "echo 1 > $P/create_snapshot && echo x > $P/create_snapshot"
	cat $P/snapshots
	check_eq "three snapshots listed" "1 2 3 " "$(snaps)"
	check_eq "total 3" 3 "$(total)"
	check_eq "current epoch 4" 4 "$(epoch)"
	check "lines show a UTC date and time" sh -c \
		"grep -qE '^ +1  [0-9]{4}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] +[0-9]+  -$' $P/snapshots"
	check "delete snapshot 2" sh -c "echo 2 > $P/delete_snapshot"
	check_eq "two left" "1 3 " "$(snaps)"
	check_fails "deleting it again fails" sh -c "echo 2 > $P/delete_snapshot"
	check_fails "an unknown epoch is refused" sh -c "echo 77 > $P/delete_snapshot"
	check_fails "a non-number is refused" sh -c "echo abc > $P/delete_snapshot"
	check_fails "a write of only a newline is refused" sh -c "echo > $P/delete_snapshot"
	check_fails "an epoch past 64 bits is refused" sh -c "echo 18446744073709551616 > $P/delete_snapshot"
	check_eq "still two" "1 3 " "$(snaps)"
	check "remount" remount
	check_eq "the table survives remount" "1 3 " "$(snaps)"
	check_eq "epoch survives remount" 4 "$(epoch)"
	echo four > $M/g
	check "a snapshot after remount" sh -c "echo > $P/create_snapshot"
	check_eq "it takes epoch 4" "1 3 4 " "$(snaps)"
	check "1000 rolling snapshots" sh -c "
		i=0; while [ \$i -lt 1000 ]; do
			echo > $P/create_snapshot || exit 1
			echo \$((i + 5)) > $P/delete_snapshot || exit 1
			echo \$i >> $M/f; i=\$((i + 1)); done"
	check_eq "none of them left" "1 3 4 " "$(snaps)"
	check_eq "epoch after them" 1005 "$(epoch)"
	check "consistent" fsck_ok
	umount $M
	check_fails "mounting a deleted snapshot fails" mount -t nova -o snapshot=2 $DEV $M
	dmesg | tail -3
	check "read-only mount" mount -t nova -o ro $DEV $M
	check_fails "no snapshot on a read-only mount" sh -c "echo > $P/create_snapshot"
	check_eq "unchanged on a read-only mount" "1 3 4 " "$(snaps)"
	# Each view has its own super block: a snapshot beside the live file
	# system (read-only or not) and beside another snapshot, each showing
	# its own epoch; two mounts of one snapshot share its view.
	mkdir -p /mnt/s1 /mnt/s2
	check "snapshot 3 beside the read-only live mount" mount -t nova -o snapshot=3 $DEV /mnt/s1
	check "a second read-only mount of the live view is fine" mount -t nova -o ro $DEV /mnt/s2
	check "and shows the same tree" cmp /mnt/s2/f $M/f
	check_fails "the snapshot does not show the live file" cmp /mnt/s1/f $M/f
	check_eq "it shows epoch 3's file" "data" "$(cat /mnt/s1/f)"
	check_fails "and not g, made later" test -e /mnt/s1/g
	check "its own device number" sh -c "[ \"\$(stat -c %d /mnt/s1)\" != \"\$(stat -c %d $M)\" ]"
	umount /mnt/s2
	umount $M
	check "snapshot 4 beside snapshot 3" mount -t nova -o snapshot=4 $DEV /mnt/s2
	check_eq "snapshot 4 shows g" "four" "$(cat /mnt/s2/g)"
	check_fails "snapshot 3 still does not" test -e /mnt/s1/g
	check "the read-write live view beside both" mount -t nova $DEV $M
	check_fails "a mounted snapshot cannot be deleted" sh -c "echo 3 > $P/delete_snapshot"
	check "named in the kernel log" sh -c "dmesg | tail -n 3 | grep -q 'snapshot 3 is mounted'"
	check_eq "all there" "1 3 4 " "$(snaps)"
	check "the live file system unmounts first" umount $M
	check "snapshot 3 twice is the same view" mount -t nova -o snapshot=3 $DEV $M
	check "same device number" sh -c "[ \"\$(stat -c %d /mnt/s1)\" = \"\$(stat -c %d $M)\" ]"
	umount $M
	umount /mnt/s2
	umount /mnt/s1
	need "mount" mount -t nova $DEV $M
	check "one more, then crash" sh -c "echo > $P/create_snapshot"
	# Reboot without unmounting.
else
	need "mount after reboot (recovery)" mount -t nova $DEV $M
	check_eq "the table survives a crash" "1 3 4 1005 " "$(snaps)"
	check_eq "the epoch moves past the newest snapshot" 1006 "$(epoch)"
	check "consistent after recovery" fsck_ok
	for e in 1 3 4 1005; do echo $e > $P/delete_snapshot; done
	check_eq "all deleted" 0 "$(total)"
	umount $M
fi
