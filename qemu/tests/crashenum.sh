# Crash states enumerated from a pmem trace (issue 14): for each
# operation, the image before it and the trace of its every store, flush
# and fence (/proc/fs/nova/pmem0/trace, crashop) give the images a power
# failure during it may leave (nova-crash, x86 persistence model). Each
# state is written to the device, mounted (recovery), `check`ed, compared
# with the trees before and after the operation (treesum + snapshot list:
# one of the two, nothing else), unmounted and checked by fsck.nova -n.
# Bounded: at most CRASH_MAX states per operation (long_crashenum: more).
# pmem: 16M
. /tests/lib.sh
P=/proc/fs/nova/pmem0
W=/tmp/crash
mkdir -p $W

# The visible state: tree manifest (names, types, modes, links, sizes,
# mtimes, contents) and the snapshot list.
manifest() {
	treesum -d $M && cat $P/snapshots
}

# One crash state (run by nova-crash for each image): mount, check,
# compare, unmount, fsck. Failures are printed with the state.
state() {
	why=
	if ! mount -t nova $DEV $M 2>$W/mount.err; then
		why="mount failed: $(cat $W/mount.err) $(dmesg | tail -n 3)"
	else
		if ! grep -q '^check ok' $P/check; then
			why="check: $(cat $P/check)"
		fi
		manifest >$W/now 2>&1
		if cmp -s $W/now $W/before; then
			echo before >>$W/tally
		elif cmp -s $W/now $W/after; then
			echo after >>$W/tally
		else
			why="$why; tree is neither before nor after: $(diff $W/before $W/now | grep '^[-+][^-+]' | head -n 4 | tr '\n' ' ') / after: $(diff $W/after $W/now | grep '^[-+][^-+]' | head -n 4 | tr '\n' ' ')"
		fi
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

EXH=${CRASH_EXH:-8}
SAMPLES=${CRASH_SAMPLES:-6}
MAX=${CRASH_MAX:-24}
SEED=${CRASH_SEED:-1}
total_states=0

# crashop_case NAME SETUP OP ARGS...: a fresh file system, SETUP (shell),
# then the traced operation and its crash states.
crash_case() {
	name=$1 setup=$2
	shift 2
	umount $M 2>/dev/null
	if ! mkfs_mount; then
		fail "$name: format"
		return
	fi
	(cd $M && eval "$setup")
	sync
	manifest >$W/before
	nova-crash dump $DEV $W/base.img
	if ! crashop $P/trace 4 "$@"; then
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
	: >$W/tally
	t0=$(date +%s)
	nova-crash run -e $EXH -s $SAMPLES -m $MAX -r $SEED -k $W/$name.bad.img \
		$W/base.img $W/trace $DEV sh /tests/crashenum.sh state >$W/out 2>&1
	rc=$?
	t1=$(date +%s)
	grep -v '^nova-crash: \(trace\|points\)' $W/out | head -n 24
	sum=$(grep '^nova-crash: points' $W/out | sed 's/^nova-crash: //')
	nb=$(grep -c before $W/tally)
	na=$(grep -c after $W/tally)
	echo "CRASHENUM $name: $sum; before $nb after $na; $((t1 - t0))s"
	n=$(echo "$sum" | sed -n 's/.* checked \([0-9]*\) .*/\1/p')
	total_states=$((total_states + ${n:-0}))
	if [ $rc = 0 ] && [ "$nb" -gt 0 ] && [ "$na" -gt 0 ]; then
		pass "$name: ${n:-0} crash states (of $(echo "$sum" | sed -n 's/.* produced \([0-9]*\) .*/\1/p') produced), each the state before or after"
	elif [ $rc = 0 ]; then
		fail "$name: crash states did not show both before ($nb) and after ($na)"
	elif [ $rc = 1 ]; then
		fail "$name: $(grep -c VIOLATION $W/out) violating crash states"
	else
		fail "$name: nova-crash failed: $(grep -v '^nova-crash: \(points\|trace\)' $W/out | head -n 2)"
	fi
}

# fill FILE KIB CHAR: a file of KIB KiB of CHAR (for the set-ups).
fill() {
	dd if=/dev/zero bs=1024 count=$2 2>/dev/null | tr '\0' "$3" >$1
}

X4K=4096
crash_cases() {
	crash_case create "mkdir d && echo a >d/a" create $M/d/new
	crash_case mkdir "mkdir d && echo a >d/a" mkdir $M/d/sub
	crash_case unlink "mkdir d && echo a >d/a && echo b >d/b" unlink $M/d/a
	crash_case rename "mkdir d e && echo a >d/a && echo b >e/b" rename $M/d/a $M/e/c
	crash_case rename_over "mkdir d && echo a >d/a && echo b >d/b" rename $M/d/a $M/d/b
	crash_case overwrite "fill f 16 o" write $M/f $X4K $X4K 110
	crash_case append "fill f 8 o" write $M/f 8192 $X4K 97
	crash_case truncate_down "fill f 16 o" truncate $M/f 5000
	crash_case truncate_up "echo hello >f" truncate $M/f 20000
	crash_case snapshot "mkdir d && echo a >d/a" snapshot $P
	crash_case link "mkdir d && echo a >d/a" link $M/d/a $M/d/l
	crash_case rmdir "mkdir d d/sub && echo a >d/a" rmdir $M/d/sub
	crash_case chmod "echo a >f" chmod $M/f 600
}

if [ "${CRASH_SOURCED:-}" != 1 ]; then
	start=$(date +%s)
	crash_cases
	echo "CRASHENUM total: $total_states crash states checked in $(($(date +%s) - start))s"
fi
