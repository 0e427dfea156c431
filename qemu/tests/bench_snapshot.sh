# Benchmark (make bench T=bench_snapshot): snapshot creation time with 10
# and with 10,000 files (50 snapshots each, so divide by 50), and the
# throughput of 4 KiB random writes without and with one snapshot taken
# every second. Not a test: prints NOVA-BENCH lines.
. /tests/lib.sh
P=/proc/fs/nova/pmem0
SNAPS50="i=0; while [ \$i -lt 50 ]; do echo > $P/create_snapshot; i=\$((i + 1)); done"
mkfs_mount || exit 1
mkdir $M/s && (cd $M/s && seq 1 10 | sed "s/^/f/" | xargs touch)
pmbench time 50-snapshots-10-files sh -c "$SNAPS50"
for d in 0 1 2 3 4 5 6 7 8 9; do
	mkdir $M/d$d
	(cd $M/d$d && seq 1 1000 | sed "s/^/f/" | xargs touch)
done
pmbench time 50-snapshots-10000-files sh -c "$SNAPS50"
for e in $(sed -n 's/^ *\([0-9][0-9]*\)  .*/\1/p' $P/snapshots); do echo $e > $P/delete_snapshot; done
dd if=/dev/zero of=$M/rw bs=1M count=64 2>/dev/null
pmbench randwrite $M/rw 64 20000 | sed "s/^NOVA-BENCH /NOVA-BENCH no-snapshots /"
(while [ ! -e /tmp/stop ]; do echo > $P/create_snapshot; sleep 1; done) &
pmbench randwrite $M/rw 64 20000 | sed "s/^NOVA-BENCH /NOVA-BENCH snapshot-every-second /"
touch /tmp/stop
wait
grep -E '^(snapshots|snapshot_held_blocks) ' $P/stats
umount $M
