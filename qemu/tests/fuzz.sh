# Seeded corrupted-media fuzzing (issue 12): for each seed, a fresh image
# with files, directories, a symlink and a snapshot gets one field of one
# structure (superblock, inode slot, log entry, log page tail, inode-table
# tail, journal, saved free list) changed by `pmpoke mutate`, which
# recomputes the structure's checksum; then the image is mounted (clean or
# through recovery), walked, written to and unmounted. Every step may fail
# with an error, but nothing may hang, splat (the harness checks the
# console) or destroy the superblock when the superblock was not the
# structure changed. 200 seeds here (40 others on the debug kernel);
# qemu/tests/long_fuzz.sh runs 2000 more (make test T=long_fuzz).
# boots: 1
. /tests/lib.sh
SEEDS=${FUZZ_SEEDS:-200}
FIRST=${FUZZ_FIRST:-1}
# The debug kernel (KASAN, lockdep) is about 14 times slower: 40 other
# seeds there, so the two flavours together try 240. Seeds 201-240 change
# each of pmpoke's 8 structure kinds 3 to 8 times (a second field every
# third seed, recovery every fourth).
if is_debug && [ -z "${FUZZ_SEEDS:-}" ]; then
	SEEDS=40 FIRST=201
fi
P=/proc/fs/nova/pmem0
PP() { /tests/pmpoke $DEV "$@"; }
populate() {
	mkfs_mount || return 1
	mkdir -p $M/a/b $M/d/e || return 1
	dd if=/dev/zero bs=4096 count=3 2>/dev/null | tr '\0' 'y' >$M/a/f
	echo hello >$M/a/b/g
	ln -s ../a/f $M/d/l
	echo >$P/create_snapshot
	echo more >>$M/a/f
	chmod 640 $M/a/b/g
	dd if=/dev/null of=$M/a/b/g bs=1 seek=2 2>/dev/null
	echo gone >$M/d/e/h && rm $M/d/e/h
	mv $M/a/b/g $M/d/g2
	umount $M
}
# Exercise a mounted image: read everything, write, rename, delete (a
# script of its own so that `timeout` can bound it).
cat >/tmp/fz-ex.sh <<EOF
find $M >/tmp/fz.list 2>/dev/null
while read -r f; do
	stat "\$f" >/dev/null 2>&1
	# Bounded: a mutated size may make a legitimately huge sparse file.
	[ -f "\$f" ] && head -c 1048576 "\$f" >/dev/null 2>&1
	[ -d "\$f" ] && ls "\$f" >/dev/null 2>&1
done </tmp/fz.list
echo x >>$M/a/f 2>/dev/null
mkdir $M/a/new 2>/dev/null
echo y >$M/d/new 2>/dev/null
mv $M/d/new $M/a/b/ 2>/dev/null
rm -rf $M/d/e 2>/dev/null
dd if=/dev/zero of=$M/a/f bs=4096 seek=1 count=2 conv=notrunc 2>/dev/null
cat $P/check >/dev/null 2>&1
exit 0
EOF
# busybox timeout exits with the killed child's status (143), coreutils
# with 124.
timed_out() { [ "$1" -eq 124 ] || [ "$1" -eq 137 ] || [ "$1" -eq 143 ]; }
hangs=0 smashed=0 mounted=0 refused=0
s=$FIRST
end=$((FIRST + SEEDS))
need "fresh image" populate
while [ $s -lt $end ]; do
	populate >/dev/null 2>&1 || { fail "seed $s: populate"; s=$((s + 1)); continue; }
	what=$(PP mutate $s)
	# Every third seed changes a second field too.
	[ $((s % 3)) -eq 0 ] && what="$what; $(PP mutate $((s + 1000000)))"
	# A quarter of the seeds mount through crash recovery.
	[ $((s % 4)) -eq 0 ] && PP sb 44 4 0
	dmesg -c >/dev/null
	if timeout 30 mount -t nova $DEV $M 2>/dev/null; then
		mounted=$((mounted + 1))
		timeout 60 sh /tmp/fz-ex.sh
		rc=$?
		timed_out $rc && { hangs=$((hangs + 1)); echo "seed $s ($what): exercise timed out"; }
		if ! timeout 30 umount $M; then
			hangs=$((hangs + 1))
			echo "seed $s ($what): umount failed or hung"
			ps
			break
		fi
	else
		rc=$?
		timed_out $rc && { hangs=$((hangs + 1)); echo "seed $s ($what): mount timed out"; }
		refused=$((refused + 1))
	fi
	# A second mount sees what the first left behind.
	if timeout 30 mount -t nova $DEV $M 2>/dev/null; then timeout 30 umount $M; fi
	case "$what" in
	*superblock*) ;;
	*)
		if dmesg | grep -q "primary superblock bad\|superblock invalid"; then
			smashed=$((smashed + 1))
			echo "seed $s ($what): superblock damaged"
		fi
		;;
	esac
	s=$((s + 1))
done
echo "fuzz: $SEEDS seeds from $FIRST: $mounted mounted, $refused refused"
check_eq "no hang in $SEEDS seeds" 0 $hangs
check_eq "superblock never damaged by a non-superblock mutation" 0 $smashed
check "mount -o init still recovers the device" mkfs_mount
check "consistent after re-format" fsck_ok
umount $M
