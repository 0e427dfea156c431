# Benchmark (make bench T=bench_scale): one writer against two, each on a
# file (and for the metadata case, in a directory) of its own, on nova,
# ext4 -o dax and xfs -o dax=always, ROUNDS rounds (3 by default) in one
# boot. The only benchmark on multi-threaded TCG (`# tcg: multi` below:
# scripts/bench.sh passes NOVA_TCG=multi to qemu/run.sh), where the two
# vCPUs run on two host threads and so can show scaling; the machine has
# two cores, so 2.0 is the ceiling and the host's own work takes from it.
# Cases: fio 4 KiB random overwrites (a 32 MiB file per job, 128 MiB
# written per job), the same with fdatasync (32 MiB per job), and pmbench
# meta (META creates, stats, renames and unlinks per process; the two
# processes' rates are added). Not a test: prints NOVA-BENCH lines, then
# the medians and the two-to-one ratios.
# tcg: multi
. /tests/lib.sh
R=${ROUNDS:-3}
META=${META:-2000}
FIO=/sbin/fio.host
export LD_PRELOAD=/tests/noshm.so
echo "NOVA-BENCH cpus $(grep -c ^processor /proc/cpuinfo)"
dd if=/dev/zero of=$DEV bs=1M 2>/dev/null
up() {
	case $1 in
	nova) mount -t nova -o init $DEV $M ;;
	ext4-dax) /sbin/mke2fs.host -q -F -t ext4 -b 4096 $DEV >/dev/null && mount -t ext4 -o dax $DEV $M ;;
	xfs-dax) /sbin/mkfs.xfs.host -q -f $DEV && mount -t xfs -o dax=always $DEV $M ;;
	esac
}
# fio's terse output: field 49 is the write IOPS of the group.
io() {
	fs=$1 r=$2 j=$3 case=$4
	shift 4
	mkdir $M/io$j
	$FIO --thread --name=w --directory=$M/io$j --rw=randwrite --bs=4k --size=32m \
		--overwrite=1 --ioengine=psync --numjobs=$j --group_reporting \
		--randrepeat=1 --fallocate=none --invalidate=0 --minimal "$@" 2>/dev/null |
		awk -F';' -v p="NOVA-BENCH $fs $r $case jobs $j" '$1 == 3 { print p, $49, "ops/s" }'
	rm -rf $M/io$j
}
meta() {
	fs=$1 r=$2 j=$3
	for k in $(seq 1 $j); do
		mkdir $M/m$k
		pmbench meta $M/m$k $META >/tmp/meta.$k &
	done
	wait
	for c in create unlink; do
		for k in $(seq 1 $j); do cat /tmp/meta.$k; done | awk -v c=$c -v p="NOVA-BENCH $fs $r $c jobs $j" \
			'$2 == c { s += $5 } END { print p, int(s), "ops/s" }'
	done
	rm -rf $M/m*
}
: >/tmp/scale.txt
for r in $(seq 1 $R); do
	for fs in nova ext4-dax xfs-dax; do
		if ! up $fs; then
			echo "NOVA-BENCH $fs unavailable"
			continue
		fi
		for j in 1 2; do
			[ -x $FIO ] && io $fs $r $j randwrite4k --io_size=128m | tee -a /tmp/scale.txt
			[ -x $FIO ] && io $fs $r $j randwrite4k-sync --io_size=32m --fdatasync=1 | tee -a /tmp/scale.txt
			meta $fs $r $j | tee -a /tmp/scale.txt
		done
		umount $M
	done
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for fs in nova ext4-dax xfs-dax; do
	for c in randwrite4k randwrite4k-sync create unlink; do
		one=$(awk -v f=$fs -v c=$c '$2 == f && $4 == c && $6 == 1 { print $7 }' /tmp/scale.txt | median)
		two=$(awk -v f=$fs -v c=$c '$2 == f && $4 == c && $6 == 2 { print $7 }' /tmp/scale.txt | median)
		awk -v f=$fs -v c=$c -v a="$one" -v b="$two" 'BEGIN { if (a > 0) printf "NOVA-BENCH median %s %s one %d two %d ops/s scaling %.2f\n", f, c, a, b, b / a }'
	done
done
