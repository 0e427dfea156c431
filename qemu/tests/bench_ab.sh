# Benchmark (make bench-ab BASE=REV, scripts/bench-ab.sh): two builds of
# the module, /tests/nova_a.ko and /tests/nova_b.ko, loaded in turn on a
# freshly made file system for ROUNDS rounds (4): N 4 KiB random
# overwrites of a 64 MiB file (300,000, after 100,000 unmeasured), N/4
# with fdatasync, and `pmbench meta` (2,000 files, its second round in
# the same directory). Skipped without the two modules (a plain `make
# bench`). Not a test: prints NOVA-BENCH lines.
. /tests/lib.sh
if [ ! -f /tests/nova_a.ko ] || [ ! -f /tests/nova_b.ko ]; then
	echo "bench_ab: no modules to compare (make bench-ab BASE=<commit>)"
	exit 0
fi
ROUNDS=${ROUNDS:-4}
N=${N:-300000}
dd if=/dev/zero of=$DEV bs=1M 2>/dev/null
r=1
while [ $r -le $ROUNDS ]; do
	for v in a b; do
		rmmod nova && insmod /tests/nova_$v.ko || exit 1
		mkfs_mount || exit 1
		pmbench seqwrite $M/f 64 >/dev/null
		pmbench randwrite $M/f 64 100000 >/dev/null
		pmbench randwrite $M/f 64 $N | sed "s/^NOVA-BENCH /NOVA-BENCH $v r$r /"
		pmbench randwrite-sync $M/f 64 $((N / 4)) | sed "s/^NOVA-BENCH /NOVA-BENCH $v r$r /"
		mkdir $M/m
		pmbench meta $M/m 2000 >/dev/null
		pmbench meta $M/m 2000 | sed "s/^NOVA-BENCH /NOVA-BENCH $v r$r /"
		umount $M
	done
	r=$((r + 1))
done
