# Crash states enumerated from a pmem trace (issue 14): for each
# operation, the image before it and the trace of its every store, flush
# and fence (/proc/fs/nova/pmem0/trace, crashop) give the images a power
# failure during it may leave (nova-crash, x86 persistence model). Each
# state is written to the device, mounted (recovery), `check`ed, compared
# with the trees before and after the operation (treesum + snapshot list:
# one of the two, nothing else), unmounted and checked by fsck.nova -n
# (also before the mount, on the crash image as it is).
# Bounded: at most CRASH_MAX states per operation (long_crashenum: more).
# pmem: 16M
. /tests/lib.sh
P=/proc/fs/nova/pmem0
W=/tmp/crash
mkdir -p $W

# The visible state: tree manifest (names, types, modes, links, sizes,
# mtimes, contents) and the snapshot list (epochs, times, tags; not the
# blocks each list holds, which a recovery rebuilds in its own way).
manifest() {
	treesum -d $M && awk '$1 ~ /^[0-9]+$/ { print $1, $2, $3, $5; next } { print }' $P/snapshots
}

# kmark: writes a line unique to this moment into the kernel log;
# since_kmark: the kernel log from it on (line counts do not work once
# the ring buffer is full).
kmark() {
	kmark_id="crashenum mark $$ $(cut -d' ' -f1 /proc/uptime)"
	echo "<7>$kmark_id" >/dev/kmsg
}
since_kmark() {
	dmesg | sed -n "/$kmark_id\$/,\$p"
}

# One crash state (run by nova-crash for each image): mount, check,
# compare, unmount, fsck. Failures are printed with the state.
state() {
	why=
	# The crash image itself, before recovery (read-only).
	if ! fsck.nova -n $DEV >$W/fsck.out 2>&1; then
		# A crash in the middle of a superblock update (unmount, mount)
		# leaves one copy torn and the other whole: the mount uses and
		# repairs it (checked by fsck after the unmount below), but
		# fsck.nova -n calls it an error (tools.sh asserts that for a
		# corrupted primary). That alone is not a violation here.
		if [ "$(grep -c '^error: ' $W/fsck.out)" = 1 ] &&
			grep -q '^error: superblock (\(primary, block 0\|replica, block 1\)): ' $W/fsck.out &&
			grep -q ': 1 error(s)' $W/fsck.out; then
			echo torn >>$W/sbtorn
		else
			why="fsck.nova -n before mount: $(grep -v '^ ' $W/fsck.out | head -n 3 | tr '\n' ' ')"
		fi
	fi
	[ -f $W/mounts ] && kmark
	if ! mount -t nova $DEV $M 2>$W/mount.err; then
		why="$why; mount failed: $(cat $W/mount.err) $(dmesg | grep nova | tail -n 2 | tr '\n' ' ')"
	else
		if ! grep -q '^check ok' $P/check; then
			why="check: $(cat $P/check)"
		fi
		manifest >$W/now 2>&1
		mid=
		for m in $W/mid.*; do
			[ -f "$m" ] && cmp -s $W/now "$m" && mid=$m
		done
		if cmp -s $W/now $W/before; then
			echo before >>$W/tally
		elif cmp -s $W/now $W/after; then
			echo after >>$W/tally
		elif [ -n "$mid" ]; then
			echo between >>$W/tally
		elif [ -s $W/relax ] && sed -f $W/relax $W/now | cmp -s - $W/before.relaxed; then
			echo between >>$W/tally
		else
			why="$why; tree is neither before nor after: $(diff $W/before $W/now | grep '^[-+][^-+]' | head -n 4 | tr '\n' ' ') / after: $(diff $W/after $W/now | grep '^[-+][^-+]' | head -n 4 | tr '\n' ' ')"
		fi
		# The unmount and recovery cases count clean and recovering mounts.
		[ -f $W/mounts ] && { since_kmark | grep -q ': clean mount' && echo clean || echo recovered; } >>$W/mounts
		umount $M || why="$why; umount failed"
		if ! fsck.nova -n $DEV >$W/fsck.out 2>&1; then
			why="$why; fsck.nova -n: $(grep -v '^ ' $W/fsck.out | head -n 3 | tr '\n' ' ')"
		fi
	fi
	if [ -n "$why" ]; then
		echo "    | $NOVA_CRASH_STATE"
		echo "    | $why"
		return 1
	fi
	return 0
}

if [ "${1:-}" = state ]; then
	state
	exit $?
fi
# Between two operations of a sequence (crashop runs it): the state then.
if [ "${1:-}" = mid ]; then
	manifest >$W/mid.$CRASHOP_STEP
	exit $?
fi

EXH=${CRASH_EXH:-8}
SAMPLES=${CRASH_SAMPLES:-6}
MAX=${CRASH_MAX:-20}
# The debug kernel (KASAN, lockdep) mounts about 20 times slower: the
# states before and after and one more per case.
is_debug && [ -z "${CRASH_MAX:-}" ] && MAX=3
SEED=${CRASH_SEED:-1}
total_states=0

# crash_case NAME SETUP OP ARGS... [-- OP ARGS...]...: a fresh file
# system, SETUP (shell), then the traced operation (or sequence: the
# states between two operations are allowed too) and its crash states. RELAX (a sed script)
# names what an operation of several commits may already have changed
# in a state between before and after (fallocate: the mtime).
# CRASH_PARTS/CRASH_PART run every PARTS-th case only (long_crashenum
# spreads the cases over boots).
# run_states NAME: the crash states of $W/trace over $W/base.img, each
# checked by "crashenum.sh state" (which tallies what it found in
# $W/tally); sets rc (nova-crash's status), sum (its summary), n (states
# checked), d (produced) and secs, and adds n to total_states.
run_states() {
	: >$W/tally
	t0=$(date +%s)
	nova-crash run -e $EXH -s $SAMPLES -m $MAX -r $SEED -k $W/$1.bad.img \
		$W/base.img $W/trace $DEV sh /tests/crashenum.sh state >$W/out 2>&1
	rc=$?
	secs=$(($(date +%s) - t0))
	grep -v '^nova-crash: \(trace\|points\)' $W/out | head -n 24
	sum=$(grep '^nova-crash: points' $W/out | sed 's/^nova-crash: //')
	n=$(echo "$sum" | sed -n 's/.* checked \([0-9]*\) .*/\1/p')
	d=$(echo "$sum" | sed -n 's/.* produced \([0-9]*\) .*/\1/p')
	total_states=$((total_states + ${n:-0}))
}

# case_start: counts the case ($name); returns 1 when CRASH_PARTS/
# CRASH_PART leave it to another boot, or when a fresh file system cannot
# be made (a failure then).
case_start() {
	ncase=$((ncase + 1))
	[ $((ncase % ${CRASH_PARTS:-1})) = $((${CRASH_PART:-1} % ${CRASH_PARTS:-1})) ] || return 1
	umount $M 2>/dev/null
	if ! mkfs_mount; then
		fail "$name: format"
		return 1
	fi
}

ncase=0
crash_case() {
	name=$1 setup=$2
	shift 2
	: >$W/relax
	[ -z "${RELAX:-}" ] || printf '%s\n' "$RELAX" >$W/relax
	case_start || return 0
	(cd $M && eval "$setup")
	sync
	rm -f $W/mid.*
	manifest >$W/before
	sed -f $W/relax $W/before >$W/before.relaxed
	nova-crash dump $DEV $W/base.img
	if ! CRASHOP_BETWEEN="sh /tests/crashenum.sh mid" crashop $P/trace 4 "$@"; then
		fail "$name: the operation failed"
		return
	fi
	manifest >$W/after
	cat $P/trace >$W/trace
	umount $M
	if cmp -s $W/before $W/after; then
		fail "$name: the operation changed nothing visible (bad case)"
		return
	fi
	run_states $name
	nb=$(grep -c before $W/tally)
	na=$(grep -c after $W/tally)
	nm=$(grep -c between $W/tally)
	echo "CRASHENUM $name: $sum; before $nb after $na between $nm; ${secs}s"
	if [ $rc = 0 ] && [ "$nb" -gt 0 ] && [ "$na" -gt 0 ]; then
		pass "$name: ${n:-0} crash states (of ${d:-0} produced), each the state before or after"
	elif [ $rc = 0 ]; then
		fail "$name: crash states did not show both before ($nb) and after ($na)"
	elif [ $rc = 1 ]; then
		fail "$name: $(grep -c VIOLATION $W/out) violating crash states"
	else
		fail "$name: nova-crash failed: $(grep -v '^nova-crash: \(points\|trace\)' $W/out | head -n 2)"
	fi
}

# nodebug: false on the debug kernel (with the default bound), which
# leaves some of the newer cases out (KASAN and lockdep make every mount
# slow); each kind keeps one there: chown, mmap_hole, gc_thorough,
# unmount.
nodebug() {
	! grep -q nova.flavor=debug /proc/cmdline || [ -n "${CRASH_MAX:-}" ]
}

# crash_same NAME: the crash states of $W/trace over $W/base.img for an
# operation that changes nothing visible (an unmount, a recovering
# mount): the tree after it ($W/after) must be the tree before it
# ($W/before), and so must every crash state's (state: "before"). The
# trace must give more than one image (it recorded stores).
crash_same() {
	name=$1
	if ! cmp -s $W/before $W/after; then
		fail "$name: the tree after is not the tree before: $(diff $W/before $W/after | grep '^[-+][^-+]' | head -n 4 | tr '\n' ' ')"
		return
	fi
	: >$W/mounts
	: >$W/sbtorn
	run_states $name
	nb=$(grep -c before $W/tally)
	nc=$(grep -c clean $W/mounts)
	nr=$(grep -c recovered $W/mounts)
	rm -f $W/mounts
	echo "CRASHENUM $name: $sum; before=after $nb (clean mounts $nc, recovering $nr, a superblock copy torn $(grep -c torn $W/sbtorn)); ${secs}s"
	if [ $rc = 0 ] && [ "${d:-0}" -gt 1 ] && [ "$nb" = "${n:-0}" ]; then
		pass "$name: ${n:-0} crash states (of $d produced), each the tree before (= after)"
	elif [ $rc = 0 ]; then
		fail "$name: $d images produced, $nb of ${n:-0} states the tree before"
	elif [ $rc = 1 ]; then
		fail "$name: $(grep -c VIOLATION $W/out) violating crash states"
	else
		fail "$name: nova-crash failed: $(grep -v '^nova-crash: \(points\|trace\)' $W/out | head -n 2)"
	fi
}

# crash_unmount NAME SETUP: the unmount itself traced (the free list
# saved, the clean flag set); the trace, still on, is parked by nova at
# the end of the unmount and read after the next mount. Every crash
# state must mount (clean or recovering) with the tree intact.
crash_unmount() {
	name=$1 setup=$2
	case_start || return 0
	(cd $M && eval "$setup")
	sync
	manifest >$W/before
	nova-crash dump $DEV $W/base.img
	if ! crashop $P/trace 4 umount $M; then
		fail "$name: the unmount failed"
		return
	fi
	if ! mount -t nova $DEV $M; then
		fail "$name: mount after the unmount"
		return
	fi
	manifest >$W/after
	cat $P/trace >$W/trace 2>$W/trace.err || fail "$name: no parked trace: $(cat $W/trace.err)"
	umount $M
	[ -s $W/trace ] && crash_same $name
}

# crash_recovery NAME SETUP: a crash during mount-time recovery. SETUP
# runs in the mount point and the image is taken (the power cut) still
# inside it (so a file it keeps open is an orphan); the image is put back
# on the device and mounted with a trace armed (`echo next 16 > trace`
# before the unmount): the traced operation is that mount (recovery).
# Each crash state must recover again to the tree SETUP left.
crash_recovery() {
	name=$1 setup=$2
	case_start || return 0
	if ! (cd $M && eval "$setup" && nova-crash dump $DEV $W/base.img); then
		fail "$name: set-up"
		return
	fi
	manifest >$W/before
	if ! echo next 16 >$P/trace; then
		fail "$name: arming the trace of the next mount"
		return
	fi
	umount $M
	nova-crash put $W/base.img $DEV
	kmark
	if ! mount -t nova $DEV $M; then
		fail "$name: the recovering mount failed"
		return
	fi
	since_kmark | grep -q ': clean mount' && fail "$name: the traced mount did not recover"
	echo 0 >$P/trace
	cat $P/trace >$W/trace
	manifest >$W/after
	umount $M
	crash_same $name
}

# crash_journal NAME SETUP OP ARGS...: a crash during the recovery of an
# interrupted multi-inode operation. OP (through the lite journal) is
# traced as in crash_case; of its crash states, the last whose journal
# is active (fsck.nova -n: "journal (block 2): active") is kept (states
# come in trace order: the one with the most tails moved); the mount that rolls that
# journal back is traced (as in crash_recovery), and each of its crash
# states must recover again to the tree before OP.
crash_journal() {
	name=$1 setup=$2
	shift 2
	case_start || return 0
	(cd $M && eval "$setup")
	sync
	manifest >$W/before
	nova-crash dump $DEV $W/base.img
	if ! crashop $P/trace 4 "$@"; then
		fail "$name: the operation failed"
		return
	fi
	cat $P/trace >$W/trace
	umount $M
	rm -f $W/journal.img
	# Every state (no -m: the bound is for mounted states; this only runs
	# fsck), seeded as run_states is, so the pick is reproducible.
	nova-crash run -e $EXH -s $SAMPLES -r $SEED $W/base.img $W/trace $DEV sh -c \
		"! fsck.nova -n $DEV | grep -q '^warning: journal (block 2): active' || nova-crash dump $DEV $W/journal.img" \
		>$W/out 2>&1
	if [ ! -s $W/journal.img ]; then
		fail "$name: no crash state of the operation has an active journal"
		return
	fi
	# Arming needs a mount: the image before the operation (recovered).
	nova-crash put $W/base.img $DEV
	if ! mount -t nova $DEV $M || ! echo next 16 >$P/trace; then
		fail "$name: arming the trace of the next mount"
		return
	fi
	umount $M
	nova-crash put $W/journal.img $DEV
	cp $W/journal.img $W/base.img
	kmark
	if ! mount -t nova $DEV $M; then
		fail "$name: the mount rolling the journal back failed"
		return
	fi
	if ! since_kmark | grep -q 'rolled back an interrupted operation'; then
		fail "$name: the traced mount did not mention the journal: $(since_kmark | grep nova | tail -n 2 | tr '\n' ' ')"
		umount $M
		return
	fi
	echo 0 >$P/trace
	cat $P/trace >$W/trace
	manifest >$W/after
	umount $M
	crash_same $name
}

# fill FILE KIB CHAR: a file of KIB KiB of CHAR (for the set-ups).
fill() {
	dd if=/dev/zero bs=1024 count=$2 2>/dev/null | tr '\0' "$3" >$1
}

# Every operation kind once (namespace, data, size, attributes, snapshots).
crash_cases() {
	D="mkdir d && echo a >d/a"
	crash_case create "$D" create $M/d/new
	crash_case mkdir "$D" mkdir $M/d/sub
	crash_case mknod "$D" mknod $M/d/fifo
	crash_case symlink "$D" symlink /some/target $M/d/sym
	crash_case link "$D" link $M/d/a $M/d/l
	crash_case unlink "$D && echo b >d/b" unlink $M/d/a
	crash_case unlink_linked "$D && ln d/a d/l" unlink $M/d/a
	crash_case rmdir "$D && mkdir d/sub" rmdir $M/d/sub
	crash_case rename "$D && mkdir e && echo b >e/b" rename $M/d/a $M/e/c
	crash_case rename_over "$D && echo b >d/b" rename $M/d/a $M/d/b
	crash_case rename_dir "$D && mkdir d/sub e && echo s >d/sub/s" rename $M/d/sub $M/e/sub
	crash_case noreplace "$D" noreplace $M/d/a $M/d/n
	crash_case exchange "$D && mkdir e && echo b >e/b" exchange $M/d/a $M/e/b
	# RENAME_WHITEOUT: the rename and the whiteout at the old name, one
	# journal commit.
	crash_case whiteout "$D && mkdir e" whiteout $M/d/a $M/e/w
	# A commit writes only its own records, and zeros over those a
	# longer one left (the checksum covers all 16): a create's two after
	# the four of a directory renamed over an empty one elsewhere.
	crash_case create_after_rename "$D && mkdir d/sub e e/sub && crashop - 0 rename d/sub e/sub" \
		create $M/d/new
	crash_case overwrite "fill f 16 o" write $M/f 4096 4096 110
	crash_case write_partial "fill f 16 o" write $M/f 5000 100 112
	crash_case write_multi "fill f 16 o" write $M/f 2048 12288 109
	crash_case append "fill f 8 o" write $M/f 8192 4096 97
	crash_case write_past_eof "fill f 5 o" write $M/f 40000 3000 101
	crash_case truncate_down "fill f 16 o" truncate $M/f 5000
	# Bytes stored through a mapping past EOF stay in the last block: a
	# truncate up must not expose them in any crash state (it copies the
	# page with them cleared and commits the size with that copy).
	crash_case truncate_up "echo hello >f && mmapstore -e f 100 200 0x41 >/dev/null" \
		truncate $M/f 20000
	# Blocks are committed with the old size, then the size (design.md,
	# "fallocate"): between the two, the old size with the new mtime.
	RELAX='s/^\(f file .*\) mtime=[0-9.]*/\1/'
	crash_case fallocate "echo hello >f" fallocate $M/f 0 40000
	RELAX=
	# fallocate modes: a punch is one transaction (the hole entry and the
	# copies of the partial pages at both ends); a zero range is a punch,
	# then blocks for the holes, which change no byte.
	crash_case punch "fill f 16 o" punch $M/f 5000 30000
	nodebug && crash_case zero_range "fill f 16 o" zero $M/f 3000 10000
	# A shift is one transaction (the cut at the offset, copies of the
	# moved pages at their new offsets, the new size): the file of 3
	# runs (o, a hole, p; a partial last page) is before or after it.
	S3="fill f 8 o && dd if=/dev/zero bs=1024 count=9 2>/dev/null | tr '\\0' p | dd of=f bs=1024 seek=16 2>/dev/null"
	crash_case collapse "$S3" collapse $M/f 4096 8192
	crash_case insert "$S3" insert $M/f 4096 8192
	# The same with a snapshot holding the old blocks (they go to its
	# list, not back to the allocator).
	nodebug && crash_case collapse_snapshot "$S3 && echo 1 >$P/create_snapshot" collapse $M/f 0 8192
	# Reflink copies: a clone is one transaction of the destination (a
	# hole entry over the range, one write entry per run of the source's
	# blocks); the first of an image writes format version 2 before it.
	# A write to a shared block copies it; an unlink drops one user of
	# each shared block (the clone keeps them).
	RC="fill f 16 o && fill g 12 p && echo >h"
	crash_case clone "$RC" clone $M/f 4096 $M/g 8192 8192
	nodebug && crash_case clone_whole "$RC && crashop - 0 clone f 0 h 0 0" clone $M/g 0 $M/h 0 0
	crash_case write_shared "$RC && crashop - 0 clone f 0 h 0 0" write $M/h 4096 4096 110
	nodebug && crash_case unlink_shared "$RC && crashop - 0 clone f 0 h 0 0" unlink $M/f
	nodebug && crash_case clone_snapshot "$RC && echo 1 >$P/create_snapshot" clone $M/f 0 $M/g 0 8192
	# Extended attributes: a 3000-byte value is 7 entries of one
	# transaction; a removal is one.
	crash_case setxattr "echo a >f && xattrt set f user.k old >/dev/null" setxattr $M/f user.k 3000
	crash_case rmxattr "echo a >f && xattrt setn f user.k 600 1 >/dev/null" rmxattr $M/f user.k
	crash_case chmod "echo a >f" chmod $M/f 600
	# POSIX ACLs: an access ACL and the mode it implies, one transaction;
	# a chmod and the access ACL's mask it rewrites, one transaction.
	crash_case setacl "echo a >f" setacl $M/f
	crash_case chmod_acl "echo a >f && setfacl -m u:1000:rw f" chmod $M/f 600
	crash_case chown "echo a >f" chown $M/f 1000 100
	nodebug && crash_case utimes "echo a >f" utimes $M/f 1000000000
	# A store through a shared mapping, then msync: the user's store is
	# not traced (DAX), nova's part of the write fault is: a block for a
	# hole (zeroed) or for a page a snapshot keeps (a copy), committed
	# with a FileWrite entry before it is mapped. The store puts the
	# bytes the page already shows (zeros in the hole, 'o' over 'o'), so
	# the page reads the same before and after and a block mapped before
	# its zeroing or copy is durable shows (the hole's block is taken
	# from the blocks of a deleted file of 'g's); the mtime tells before
	# from after.
	crash_case mmap_hole "fill g 4096 g && rm g && fill f 4 o && crashop - 0 write f 8192 4096 111" \
		mmapstore $M/f 5000 0
	nodebug && crash_case mmap_cow "fill f 12 o && echo 1 >$P/create_snapshot" \
		mmapstore $M/f 5000 111
	crash_case snapshot "$D" snapshot $P
	crash_case snapshot_delete "fill f 8 o && echo 1 >$P/create_snapshot && fill f 8 n" delsnap $P 1
	# The cleaner thread's work, traced until it is done (crashop's
	# wait): the log GC of a file whose log the chmod brings to its
	# threshold (16 pages; set up by logfill: 14 more pages of chmods,
	# the last one full), fast (every older page holds only dead
	# entries) and thorough (a 4 KiB write every 16 entries keeps each
	# page needed: the live entries are copied to a new log); and a
	# cleaner run after a snapshot delete (it frees the blocks and the
	# deleted inode the snapshot kept). GC and cleaner change nothing
	# visible: each of their crash states must be the state after the
	# chmod or the delete.
	nodebug && crash_case gc_fast "echo a >f && crashop - 0 logfill f $P 14" \
		chmod $M/f 640 -- wait $P log_gc_runs
	crash_case gc_thorough "echo a >f && crashop - 0 logfill f $P 14 119" \
		chmod $M/f 640 -- wait $P log_gc_copies
	crash_case cleaner "fill f 8 o && echo g >g && echo 1 >$P/create_snapshot && fill f 8 n && rm g" \
		delsnap $P 1 -- wait $P cleaner_runs
	# The unmount (the free list saved, the clean flag; the next mount
	# loads the list), and the same with a snapshot (the next mount scans
	# the logs). Then a mount that recovers an image cut while three
	# files were open after their last unlink: one a snapshot keeps
	# (recovery sets its delete epoch and keeps it), two it deletes.
	crash_unmount unmount "fill f 8 o && $D && mkdir e && mv d/a e/b && fill f 4 n"
	nodebug && crash_unmount unmount_snapshot "fill f 8 o && $D && echo 1 >$P/create_snapshot && fill f 8 n && rm d/a"
	crash_recovery recovery "$D && exec 3>o1 && echo x >&3 && echo 1 >$P/create_snapshot && rm o1 && fill o2 16 z && exec 4<o2 && rm o2 && fill o3 4 y && exec 5<o3 && rm o3"
	# A crash while recovery rolls back a rename over an existing file
	# across directories (four inodes' log tails in the journal).
	crash_journal journal "$D && mkdir e && echo b >e/b" rename $M/d/a $M/e/b
	# O_TMPFILE: the unnamed file (an orphan until linked: recovery
	# deletes it) written and linked, all traced.
	crash_case tmpfile "$D" tmpfile $M/d 6000 116 $M/d/t
	# Sequences: each crash state is before, between two, or after all.
	crash_case seq_create_write "$D" create $M/d/f -- write $M/d/f 0 6000 120
	crash_case seq_mkdir_create_rename "$D && mkdir e" \
		mkdir $M/d/s -- create $M/d/s/f -- rename $M/d/s $M/e/s
	crash_case seq_snapshot_overwrite_delete "fill f 8 o" \
		snapshot $P -- write $M/f 0 4096 110 -- delsnap $P 1
	crash_case seq_link_unlink_truncate "fill f 12 o" \
		link $M/f $M/g -- unlink $M/f -- truncate $M/g 100
}

# The trace file itself: commands, reading while on, overflow.
trace_checks() {
	umount $M 2>/dev/null
	need "trace checks: format" mkfs_mount
	check_fails "trace: unknown command refused" sh -c "echo 2 >$P/trace"
	check_fails "trace: a buffer over 256 MiB refused" sh -c "echo 1 300 >$P/trace"
	check_fails "trace: nothing to read before a trace" cat $P/trace
	check_fails "trace: arming the next mount with over 256 MiB refused" sh -c "echo next 300 >$P/trace"
	check "trace: on" sh -c "echo 1 1 >$P/trace"
	echo x >$M/x
	check_fails "trace: not readable while on" cat $P/trace
	check "trace: off" sh -c "echo 0 >$P/trace"
	check "trace: a file write traced (stores and fences)" sh -c \
		"cat $P/trace >$W/t && nova-crash info $W/t | grep -q ' nt ' && nova-crash info $W/t | grep -q fence"
	fill $M/big 64 z
	sync
	nova-crash dump $DEV $W/base.img
	check "trace: a 2 MiB write into a 1 MiB buffer" crashop $P/trace 1 write $M/big 0 2097152 7
	cat $P/trace >$W/t
	check "trace: overflow flagged" sh -c "nova-crash info $W/t | grep -q OVERFLOW"
	check_fails "trace: nova-crash refuses an overflowed trace" nova-crash run $W/base.img $W/t $DEV
	umount $M
}

if [ "${CRASH_SOURCED:-}" != 1 ]; then
	start=$(date +%s)
	trace_checks
	crash_cases
	echo "CRASHENUM total: $total_states crash states checked in $(($(date +%s) - start))s"
fi
