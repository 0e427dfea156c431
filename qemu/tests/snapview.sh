# Snapshots used while the file system is live (issue 17): the
# `.snapshots` directory (hidden by default, `snapdir=visible` lists it),
# each snapshot a read-only view automounted at `.snapshots/E` with its
# own device number and the snapshot's inode numbers, tags as symlinks;
# restoring files with cp while a writer runs; every modifying call
# refused; deleting a snapshot in use refused until it is left; snapshot
# mounts beside the live one unmounted in every order; a crash with a
# view in use.
# boots: 2
. /tests/lib.sh
P=/proc/fs/nova/pmem0
S=$M/.snapshots
R=/tests/snapro
newest() { ls $S | sort -n | tail -n 1; }
tree() { (cd "$1" && find . | sort); }
phase=${1:-1}
if [ "$phase" = 1 ]; then
	need "mount" mkfs_mount
	mkdir -p $M/d /mnt/s1 /mnt/s2
	echo one > $M/a
	echo bee > $M/d/b
	ln $M/a $M/d/hl
	ln -s a $M/s
	dd if=/dev/urandom of=$M/big bs=4k count=64 2>/dev/null
	md5sum < $M/big > /tmp/big.sum
	check "snapshot 1, tagged before" sh -c "echo tag=before > $P/create_snapshot"
	echo two > $M/a
	rm $M/d/b
	echo sea > $M/c
	dd if=/dev/zero of=$M/big bs=4k count=8 conv=notrunc 2>/dev/null
	check "snapshot 2" sh -c "echo > $P/create_snapshot"
	check_fails "hidden from the root's listing" sh -c "ls -a $M | grep -q snapshots"
	check_eq ".snapshots lists the epochs and the tag" "1 2 before" "$(ls $S | tr '\n' ' ' | sed 's/ $//')"
	check_eq "the tag is a symlink to its epoch" 1 "$(readlink $S/before)"
	check_eq "a file as snapshot 1 has it" one "$(cat $S/1/a)"
	check_eq "through the tag" one "$(cat $S/before/a)"
	check_eq "a file as snapshot 2 has it" two "$(cat $S/2/a)"
	check_eq "a deleted file is in snapshot 1" bee "$(cat $S/1/d/b)"
	check_fails "and not in snapshot 2" test -e $S/2/d/b
	check_eq "the big file as it was" "$(cat /tmp/big.sum)" "$(md5sum < $S/1/big)"
	check "a view is its own mount" sh -c "grep -q ' $S/1 nova ro' /proc/mounts"
	check "with its own device number" sh -c "[ \"\$(stat -c %d $S/1/a)\" != \"\$(stat -c %d $M/a)\" ]"
	check "each snapshot its own" sh -c "[ \"\$(stat -c %d $S/1/a)\" != \"\$(stat -c %d $S/2/a)\" ]"
	check_eq "the snapshot's inode numbers" "$(stat -c %i $M/a)" "$(stat -c %i $S/1/a)"
	check_eq "hard links stay hard links" "$(stat -c %i $S/1/a)" "$(stat -c %i $S/1/d/hl)"
	check_eq "link count 2" 2 "$(stat -c %h $S/1/a)"
	check_eq "a symlink" a "$(readlink $S/1/s)"
	# Restore while a writer keeps the live file system busy.
	( i=0; while [ $i -lt 400 ]; do echo $i >> $M/log; i=$((i + 1)); done ) &
	w=$!
	check "restore a deleted file with cp" cp $S/1/d/b $M/d/b
	check "restore an overwritten file with cp" cp $S/1/big $M/big
	wait $w
	check_eq "restored" bee "$(cat $M/d/b)"
	check_eq "restored big" "$(cat /tmp/big.sum)" "$(md5sum < $M/big)"
	check_eq "the writer's lines" 400 "$(wc -l < $M/log)"
	check "cp -a of the whole snapshot" cp -a $S/1 /tmp/copy1
	check_eq "same tree" "$(tree $S/1)" "$(tree /tmp/copy1)"
	# The view as a snapshot mount shows it: same tree, same bytes.
	check "snapshot 1 mounted beside" mount -t nova -o snapshot=1 $DEV /mnt/s1
	check_eq "find equals the snapshot mount's" "$(tree /mnt/s1)" "$(tree $S/1)"
	check "same bytes" cmp /mnt/s1/big $S/1/big
	check "the same view (one super block)" sh -c "[ \"\$(stat -c %d /mnt/s1/a)\" = \"\$(stat -c %d $S/1/a)\" ]"
	umount /mnt/s1
	# Every modifying call fails: EROFS inside the view, EXDEV across.
	$R $S/1 $S/1/a $S/1/d $M/c > /tmp/ro.txt
	cat /tmp/ro.txt
	for op in create open_write open_trunc truncate chmod chown utimes setxattr removexattr \
		rename link link_in unlink rmdir mkdir symlink mknod; do
		check_eq "$op: EROFS" "$op EROFS" "$(grep "^$op " /tmp/ro.txt)"
	done
	for op in rename_out rename_in; do
		check_eq "$op: EXDEV" "$op EXDEV" "$(grep "^$op " /tmp/ro.txt)"
	done
	check_eq "no writable shared mapping of a read-only open" "mmap_shared_write EACCES" "$(grep '^mmap' /tmp/ro.txt)"
	check_eq "no write through it" "write EBADF" "$(grep '^write ' /tmp/ro.txt)"
	check_eq "the view unchanged" "$(tree /tmp/copy1)" "$(tree $S/1)"
	# .snapshots itself lives in memory: it cannot be removed, renamed,
	# replaced or given attributes, and the live file system is unchanged.
	check_fails "rmdir .snapshots" rmdir $S
	check_fails "rename .snapshots" mv $S $M/x
	check_fails "rename over it" /tests/renat $M/d $S
	check_fails "an extended attribute on it" /tests/xattrt set $S user.x 1
	check_fails "nor create it" mkdir $S
	check_fails "nor move a file into it" mv $M/c $S/x
	check_eq "which stays where it was" sea "$(cat $M/c)"
	check_fails "nor change its mode" chmod 700 $S
	check_eq "its mode" 555 "$(stat -c %a $S)"
	check_eq "still there" "2" "$(ls $S | grep -c '^[12]$')"
	check "consistent" fsck_ok
	# The view reads logs the live mount collects meanwhile: every inode
	# of it is read again (caches dropped) while a file's log is GC'd.
	f0=$(sed -n 's/^log_pages_freed //p' $P/stats)
	cp $S/2/big /tmp/big2
	/tests/logload overwrite $M/big $(scale 40000 8000) > /dev/null &
	w=$!
	bad=0; n=0
	while kill -0 $w 2>/dev/null; do
		echo 3 > /proc/sys/vm/drop_caches
		[ "$(cat $S/2/a)" = two ] && [ "$(tree $S/2 | wc -l)" = 7 ] &&
			cmp -s $S/2/big /tmp/big2 || bad=$((bad + 1))
		n=$((n + 1))
	done
	wait $w
	echo "reads: $n"; grep log_ $P/stats
	check_eq "the view read right each time" 0 $bad
	check "the live mount freed log pages meanwhile" [ "$(sed -n 's/^log_pages_freed //p' $P/stats)" -gt "$f0" ]
	# A big directory of a snapshot read while the live mount churns
	# names (log pages freed all the time): every read succeeds.
	mkdir $M/many $M/churn
	i=0; while [ $i -lt $(scale 3000 500) ]; do : > $M/many/file_with_a_longish_name_$i; i=$((i + 1)); done
	check "snapshot 3" sh -c "echo > $P/create_snapshot"
	/tests/logload churn $M/churn 0 > /dev/null 2>&1 &
	w=$!
	bad=0
	for i in 1 2 3 4 5; do
		echo 3 > /proc/sys/vm/drop_caches
		[ "$(ls $S/3/many | wc -l)" = $(scale 3000 500) ] || bad=$((bad + 1))
	done
	kill $w; wait $w 2>/dev/null
	check_eq "no failed read of the view under churn" 0 $bad
	umount $S/3 2>/dev/null
	check "delete snapshot 3" sh -c "echo 3 > $P/delete_snapshot"
	rm -rf $M/many $M/churn
	# Snapshots taken while O_DIRECT I/O pins pages of a mapped file (a
	# pin holder then faults): none hangs.
	/tests/pinload $M/pinned $DEV 0 > /dev/null 2>&1 &
	w=$!
	stuck=0; taken=0
	for i in $(seq 1 $(scale 100 20)); do
		e=$(sed -n 's/^epoch //p' $P/stats)
		t0=$(date +%s)
		# Taken, or refused (EBUSY: pages stay pinned), never stuck.
		echo > $P/create_snapshot 2>/dev/null && taken=$((taken + 1)) &&
			echo $e > $P/delete_snapshot
		[ $(( $(date +%s) - t0 )) -lt 5 ] || stuck=$((stuck + 1))
	done
	kill $w; wait $w 2>/dev/null
	echo "snapshots taken beside the pinning reads: $taken"
	check_eq "no snapshot stuck behind a pinned page" 0 $stuck
	check "most are taken" [ $taken -gt $(( $(scale 100 20) / 2 )) ]
	rm -f $M/pinned
	# Deleting a snapshot in use fails; once left, it works.
	exec 3< $S/1/big
	check_fails "delete snapshot 1 while a file of it is open" sh -c "echo 1 > $P/delete_snapshot"
	check "named in the kernel log" sh -c "dmesg | tail -n 5 | grep -q 'snapshot 1 is mounted'"
	check_eq "the open file still reads" "$(cat /tmp/big.sum)" "$(md5sum <&3)"
	exec 3<&-
	check "closed: the delete unmounts the idle view and works" sh -c "echo 1 > $P/delete_snapshot"
	check_fails "its view is gone" sh -c "grep -q ' $S/1 ' /proc/mounts"
	check_eq "listing follows" "2" "$(ls $S | tr '\n' ' ' | sed 's/ $//')"
	check_fails "the old name no longer resolves" test -e $S/1/a
	check_fails "nor the tag" test -e $S/before
	N=$(sed -n 's/^epoch //p' $P/stats)
	check "a new snapshot appears" sh -c "echo > $P/create_snapshot && [ -d $S/$N ]"
	check "consistent after the delete" fsck_ok
	check_fails "the live unmount waits for no busy view" sh -c "cd $S/2 && umount $M"
	check "unmount with idle views" umount $M
	check "snapshot 2 mounted alone" mount -t nova -o snapshot=2 $DEV /mnt/s1
	check_fails "formatting is refused while it is" mount -t nova -o init $DEV $M
	check "named" sh -c "dmesg | tail -n 3 | grep -q 'a snapshot of the device is mounted'"
	umount /mnt/s1
	check_fails "which went with it" sh -c "grep -q ' $S/' /proc/mounts"
	# Two snapshot mounts and the live one, unmounted in every order.
	for order in "M s1 s2" "M s2 s1" "s1 M s2" "s1 s2 M" "s2 M s1" "s2 s1 M"; do
		mount -t nova $DEV $M && mount -t nova -o snapshot=2 $DEV /mnt/s1 &&
			mount -t nova -o snapshot=$N $DEV /mnt/s2 || fail "mount for $order"
		ok=1
		[ "$(cat /mnt/s1/a)" = two ] && [ -e /mnt/s2/d/b ] && [ ! -e /mnt/s1/d/b ] || ok=0
		for m in $order; do
			case $m in M) t=$M ;; *) t=/mnt/$m ;; esac
			umount $t || ok=0
		done
		check "unmount order $order" [ $ok = 1 ]
	done
	check "snapdir=visible" mount -t nova -o snapdir=visible $DEV $M
	check "the root lists .snapshots" sh -c "ls -a $M | grep -qx .snapshots"
	check "shown in /proc/mounts" sh -c "grep -q 'snapdir=visible' /proc/mounts"
	check_fails "a bad snapdir= value is refused" mount -o remount,snapdir=maybe $M
	n=$(scale 1000 100)
	check "$n snapshots" sh -c "i=0; while [ \$i -lt $n ]; do echo > $P/create_snapshot || exit 1; i=\$((i + 1)); done"
	check_eq "all listed" $((n + 2)) "$(ls $S | wc -l)"
	check_eq "the newest reads" two "$(cat $S/$(ls $S | sort -n | tail -n 1)/a)"
	# A crash with a view in use and a writer running.
	cd $S/2 && cat a > /dev/null
	echo crash >> $M/log
else
	need "mount after the crash" mount -t nova $DEV $M
	check_eq "snapshots kept" "$(( $(scale 1000 100) + 2 ))" "$(ls $S | wc -l)"
	check_eq "snapshot 2 reads" two "$(cat $S/2/a)"
	check_eq "the last write" crash "$(tail -n 1 $M/log)"
	check "consistent after recovery" fsck_ok
	umount $M
fi
