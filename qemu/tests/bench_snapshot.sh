# Benchmark (make bench T=bench_snapshot): snapshot creation time with 10
# and with 10,000 files (50 snapshots each, so divide by 50), and the
# throughput of 4 KiB random writes without and with one snapshot taken
# every second. Not a test: prints NOVA-BENCH lines.
#
# The write runs are made comparable: the whole device is written once
# first (a first touch of a guest page costs a host page fault, and with
# snapshots the overwritten blocks stay, so new ones come from pages not
# used before); the file is overwritten at random once before (a file
# fresh from dd has one extent, a short index and a short log); each run
# is N writes (100,000: 1.5 s, so the snapshot loop takes a few); the
# snapshots of a round are deleted and the cleaner has freed what they
# held before the next round; ROUNDS pairs (3), each line printed, the
# medians last.
. /tests/lib.sh
P=/proc/fs/nova/pmem0
N=${N:-100000}
ROUNDS=${ROUNDS:-3}
SNAPS50="i=0; while [ \$i -lt 50 ]; do echo > $P/create_snapshot; i=\$((i + 1)); done"
stat() { sed -n "s/^$1 //p" $P/stats; }
delete_all() {
	for e in $(sed -n 's/^ *\([0-9][0-9]*\)  .*/\1/p' $P/snapshots); do echo $e > $P/delete_snapshot; done
	# The cleaner thread frees what they held: wait, so that it does
	# not run during the next measurement.
	i=0
	while [ "$(stat snapshot_dead_blocks)" != 0 ] || [ "$(stat snapshot_cleaning_blocks)" != 0 ]; do
		[ $i -lt 100 ] || break
		usleep 100000
		i=$((i + 1))
	done
	sync
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
dd if=/dev/zero of=$DEV bs=1M 2>/dev/null
mkfs_mount || exit 1
mkdir $M/s && (cd $M/s && seq 1 10 | sed "s/^/f/" | xargs touch)
pmbench time 50-snapshots-10-files sh -c "$SNAPS50"
for d in 0 1 2 3 4 5 6 7 8 9; do
	mkdir $M/d$d
	(cd $M/d$d && seq 1 1000 | sed "s/^/f/" | xargs touch)
done
pmbench time 50-snapshots-10000-files sh -c "$SNAPS50"
delete_all
dd if=/dev/zero of=$M/rw bs=1M count=64 2>/dev/null
pmbench randwrite $M/rw 64 20000 >/dev/null
r=1
while [ $r -le $ROUNDS ]; do
	pmbench randwrite $M/rw 64 $N | sed "s/^NOVA-BENCH /NOVA-BENCH no-snapshots /" | tee -a /tmp/none
	rm -f /tmp/stop
	(while [ ! -e /tmp/stop ]; do echo > $P/create_snapshot; sleep 1; done) &
	pmbench randwrite $M/rw 64 $N | sed "s/^NOVA-BENCH /NOVA-BENCH snapshot-every-second /" | tee -a /tmp/snap
	touch /tmp/stop
	wait
	echo "NOVA-BENCH round $r: $(stat snapshots) snapshots, $(stat snapshot_held_blocks) blocks held"
	delete_all
	r=$((r + 1))
done
a=$(sed -n 's/.* \([0-9][0-9]*\) ops\/s$/\1/p' /tmp/none | median)
b=$(sed -n 's/.* \([0-9][0-9]*\) ops\/s$/\1/p' /tmp/snap | median)
echo "NOVA-BENCH median of $ROUNDS: no-snapshots $a ops/s, snapshot-every-second $b ops/s, ratio $(awk "BEGIN { printf \"%.3f\", $b / $a }")"
grep -E '^(snapshots_taken|log_gc_runs|log_gc_lite|cleaner_runs) ' $P/stats
umount $M
