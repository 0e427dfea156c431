# Namespace operations under allocation failure: each of create, mkdir,
# mknod, symlink, link, unlink, rmdir, rename (plain, over a name,
# NOREPLACE, EXCHANGE) is run with its 1st, 2nd, ... slab allocation
# failed (fail-nth, until the call makes no more allocations). A call
# that fails must have changed nothing, one that succeeds must be whole:
# checked right away, after a remount (what the logs hold) and by the
# module's consistency check. Before every DRAM update after a commit was
# preallocated, a late ENOMEM left a committed name that the directory
# index did not have (and a symlink lost its log page and inode number).
# A removed inode is held open across the call, so its deletion (eviction,
# which cannot report ENOMEM) happens outside the injected call.
. /tests/lib.sh
need "mount" mkfs_mount
need "debugfs" sh -c "mount -t debugfs none /sys/kernel/debug 2>/dev/null; test -d /sys/kernel/debug/failslab"
# Sleeping allocations (GFP_KERNEL) may fail too; no log spam.
echo N >/sys/kernel/debug/failslab/ignore-gfp-wait
echo 0 >/sys/kernel/debug/failslab/verbose
D=$M/d
mkdir $D
echo base >$D/base
MODEL=/tmp/model
: >$MODEL
bad=0
# expect PATH CONTENT: PATH must hold CONTENT ("-" absent, "dir", "fifo",
# "->TARGET" a symlink, else a file with that text).
expect() { echo "$1 $2" >>$MODEL; }
state() {
	if [ -L "$1" ]; then echo "->$(readlink "$1")"
	elif [ -d "$1" ]; then echo dir
	elif [ -p "$1" ]; then echo fifo
	elif [ -f "$1" ]; then cat "$1"
	else echo -; fi
}
verify() {
	n=0 wrong=0
	while read -r p want; do
		n=$((n + 1))
		got=$(state "$p")
		if [ "$got" != "$want" ]; then
			echo "    $p: expected '$want', got '$got'"
			wrong=$((wrong + 1))
		fi
	done <$MODEL
	echo "$n paths, $wrong wrong"
	[ $wrong = 0 ]
}
# run OP N ARGS...: fail the N-th allocation of the call; sets $res and
# $inj. Ends the sweep (returns 1) once the call allocates fewer than N.
run() {
	set -- $(failop "$@")
	res=$1 inj=$2
	case $res in ok | ENOMEM) ;; *) echo "    unexpected result $res"; bad=$((bad + 1)) ;; esac
}
ops=0 injected=0
sweep() {
	op=$1
	n=1
	while [ $n -le 300 ]; do
		case $op in
		create) run $n create $D/c$n
			[ $res = ok ] && expect $D/c$n "" || expect $D/c$n - ;;
		mkdir) run $n mkdir $D/m$n
			[ $res = ok ] && expect $D/m$n dir || expect $D/m$n - ;;
		mkfifo) run $n mkfifo $D/p$n
			[ $res = ok ] && expect $D/p$n fifo || expect $D/p$n - ;;
		symlink) run $n symlink target$n $D/s$n
			[ $res = ok ] && expect $D/s$n "->target$n" || expect $D/s$n - ;;
		link) run $n link $D/base $D/l$n
			[ $res = ok ] && expect $D/l$n base || expect $D/l$n - ;;
		unlink) echo u$n >$D/u$n
			exec 3<$D/u$n
			run $n unlink $D/u$n
			exec 3<&-
			[ $res = ok ] && expect $D/u$n - || expect $D/u$n u$n ;;
		rmdir) mkdir $D/r$n
			exec 3<$D/r$n
			run $n rmdir $D/r$n
			exec 3<&-
			[ $res = ok ] && expect $D/r$n - || expect $D/r$n dir ;;
		rename) echo a$n >$D/a$n
			run $n rename $D/a$n $D/A$n
			if [ $res = ok ]; then expect $D/a$n -; expect $D/A$n a$n
			else expect $D/a$n a$n; expect $D/A$n -; fi ;;
		over) echo o$n >$D/o$n; echo O$n >$D/O$n
			exec 3<$D/O$n
			run $n rename $D/o$n $D/O$n
			exec 3<&-
			if [ $res = ok ]; then expect $D/o$n -; expect $D/O$n o$n
			else expect $D/o$n o$n; expect $D/O$n O$n; fi ;;
		noreplace) echo q$n >$D/q$n
			run $n noreplace $D/q$n $D/sub/Q$n
			if [ $res = ok ]; then expect $D/q$n -; expect $D/sub/Q$n q$n
			else expect $D/q$n q$n; expect $D/sub/Q$n -; fi ;;
		mvdir) mkdir $D/v$n
			run $n rename $D/v$n $D/sub/v$n
			if [ $res = ok ]; then expect $D/v$n -; expect $D/sub/v$n dir
			else expect $D/v$n dir; expect $D/sub/v$n -; fi ;;
		swap) echo e$n >$D/e$n; echo E$n >$D/E$n
			run $n exchange $D/e$n $D/E$n
			if [ $res = ok ]; then expect $D/e$n E$n; expect $D/E$n e$n
			else expect $D/e$n e$n; expect $D/E$n E$n; fi ;;
		exchange) echo x$n >$D/x$n; mkdir $D/sub/X$n
			# A file and a directory in another directory trade places.
			run $n exchange $D/x$n $D/sub/X$n
			if [ $res = ok ]; then expect $D/x$n dir; expect $D/sub/X$n x$n
			else expect $D/x$n x$n; expect $D/sub/X$n dir; fi ;;
		esac
		ops=$((ops + 1))
		[ "$inj" = 1 ] || break
		injected=$((injected + 1))
		n=$((n + 1))
	done
	echo "$op: $n calls (the last one without a failure)"
}
mkdir $D/sub
for op in create mkdir mkfifo symlink link unlink rmdir rename over noreplace mvdir swap exchange; do
	sweep $op
done
# The sweeps above rarely make a call that needs a new log page for the
# directory (an aborted append once leaked the page it had just allocated
# when recording it failed). Creates of equal-length names fill a fresh
# directory's log page by page; a create allocates one log page for its
# inode and one more when the directory's entry starts a new page, so the
# allocation counter shows where pages end. Creates run plainly until two
# page ends give the period, then every allocation of each create fails
# in turn around the next page end, until calls failed after taking the
# directory's new page. A call can also make it past a failed allocation
# that has a fallback (kvmalloc); if such a call takes the page end first,
# the next page end is tried, with the plain creates stopping one earlier
# each time: the page end then falls on another call of a sweep (in one
# CI boot, calls that survived a failure shifted the page end onto a
# survivable call at every try).
P=$M/pages
mkdir $P
lp() { sed -n 's/^log_pages_allocated //p' /proc/fs/nova/pmem0/stats; }
i=100 ends=""
while [ $i -lt 400 ]; do
	a=$(lp)
	: >$P/p${i}_000
	[ $(($(lp) - a)) -ge 2 ] && ends="$ends $i"
	i=$((i + 1))
	set -- $ends
	[ $# -ge 2 ] && break
done
set -- $ends
period=$(($2 - $1))
echo "directory log page ends after creates$ends (period $period)"
check "a directory log page holds several entries" test "$period" -gt 2
target=$(($2 + period)) crossed=0 tries=0
while [ $crossed = 0 ] && [ $tries -lt 6 ]; do
	tries=$((tries + 1))
	while [ $i -lt $((target - 1 - tries)) ]; do : >$P/p${i}_000; i=$((i + 1)); done
	end=""
	while [ -z "$end" ] && [ $i -lt $((target + 3)) ]; do
		n=1 calls=""
		while [ $n -le 300 ]; do
			f=$P/s${i}_$(printf %03d $n)
			a=$(lp)
			run $n create $f
			d=$(($(lp) - a))
			calls="$calls $res:$d"
			if [ $res = ok ]; then
				expect $f ""
				[ $d -ge 2 ] && end=$i
			else
				expect $f -
				# Failed after the directory's new page was taken.
				[ $d -ge 2 ] && crossed=1
			fi
			ops=$((ops + 1))
			[ "$inj" = 1 ] || break
			injected=$((injected + 1))
			n=$((n + 1))
		done
		echo "create $i: result:log pages of each call:$calls"
		i=$((i + 1))
	done
	if [ -z "$end" ]; then
		# No page end in the window: the counter also counts pages a
		# log GC of another inode took meanwhile, which can misplace
		# an end. Find the next real one with plain creates.
		k=0
		while [ -z "$end" ] && [ $k -lt $((2 * period)) ]; do
			a=$(lp)
			: >$P/p${i}_000
			[ $(($(lp) - a)) -ge 2 ] && end=$i
			i=$((i + 1)) k=$((k + 1))
		done
		echo "page end found again after create ${end:-none}"
	fi
	target=$((${end:-$target} + period))
done
check_eq "calls failed after taking a new directory log page" 1 $crossed
check_eq "every call gave ok or ENOMEM" 0 $bad
echo "$ops calls, $injected with a failed allocation"
check "$injected failed allocations in namespace calls" test $injected -gt 50
check "each call all or nothing (before remount)" verify
check "consistent" fsck_ok
need "remount" remount
check "each call all or nothing (after remount)" verify
check "consistent after remount" fsck_ok
umount $M
