# Format, mount, basic namespace operations, remount, reboot.
# boots: 2
. /tests/lib.sh
phase=${1:-1}
if [ "$phase" = 1 ]; then
	need "mount -o init formats and mounts" mkfs_mount
	check "/proc/fs/nova/pmem0 exists" test -r /proc/fs/nova/pmem0/snapshots
	check "fresh root is empty" sh -c "[ -z \"\$(ls -A $M)\" ]"
	check "mkdir" mkdir $M/d
	check "create a file" touch $M/d/f
	check "mknod fifo" mknod $M/fifo p
	check "symlink" ln -s d/f $M/sl
	check_eq "readlink" "d/f" "$(readlink $M/sl)"
	check "hard link" ln $M/d/f $M/d/g
	check_eq "link count 2" 2 "$(stat -c %h $M/d/f)"
	check_eq "dir link count" 2 "$(stat -c %h $M/d)"
	check "mkdir nested" mkdir $M/d/sub
	check_eq "dir link count after subdir" 3 "$(stat -c %h $M/d)"
	check_fails "rmdir non-empty fails" rmdir $M/d
	check "rename" mv $M/d/g $M/d/h
	check "chmod" chmod 640 $M/d/h
	check_eq "mode after chmod" 640 "$(stat -c %a $M/d/f)"
	check_eq "readdir" "f h sub" "$(ls $M/d | tr '\n' ' ' | sed 's/ $//')"
	check "statfs" df -k $M
	check "umount" umount $M
	need "mount existing (clean)" mount -t nova $DEV $M
	check_eq "readdir after remount" "f h sub" "$(ls $M/d | tr '\n' ' ' | sed 's/ $//')"
	check_eq "mode after remount" 640 "$(stat -c %a $M/d/h)"
	check_eq "symlink after remount" "d/f" "$(readlink $M/sl)"
	check "fifo after remount" test -p $M/fifo
	check "unlink" rm $M/d/h
	check_eq "link count after unlink" 1 "$(stat -c %h $M/d/f)"
	check "rmdir" rmdir $M/d/sub
	check "umount again" umount $M
	# Leave a tree for the reboot phase; unmount uncleanly by rebooting
	# with it mounted.
	mount -t nova $DEV $M && mkdir $M/keep && touch $M/keep/a $M/keep/b
	ls $M/keep >/dev/null
	# And a file unlinked while a process holds it open: an orphan that
	# the recovery deletes (no name reaches it).
	echo orphan >$M/keep/gone
	exec 3<$M/keep/gone
	sleep 1000 &
	rm $M/keep/gone
	exec 3<&-
else
	need "mount after reboot without umount (recovery)" mount -t nova $DEV $M
	check_eq "tree survived" "a b" "$(ls $M/keep | tr '\n' ' ' | sed 's/ $//')"
	check_eq "older files survived" "f" "$(ls $M/d | tr '\n' ' ' | sed 's/ $//')"
	check "the file unlinked while open was removed as an orphan" sh -c "dmesg | grep -q 'removed orphan inode'"
	check "consistent after recovery" fsck_ok
	check "umount" umount $M
	check "mount clean" mount -t nova $DEV $M
	check "umount" umount $M
fi
