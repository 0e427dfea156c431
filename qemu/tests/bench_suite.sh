# Benchmark suite (make bench T=bench_suite): fio (qemu/tests/fio/suite.fio:
# 4 KiB random overwrites, the same with fdatasync, 4 KiB appends with
# fsync, 1 MiB sequential write and read) and a metadata benchmark
# (pmbench meta: create, stat, rename, unlink of empty files) on nova
# (data=cow and data=inplace), ext4 -o dax, xfs -o dax=always and the raw
# /dev/pmem0, in one boot, ROUNDS rounds, the whole device written once
# first. Not a test: prints fio's JSON between NOVA-FIO lines and
# NOVA-BENCH lines; scripts/bench.sh makes the table and the chart.
. /tests/lib.sh
ROUNDS=${ROUNDS:-3}
META=${META:-2000}
FIO=/sbin/fio.host
# (noshm.so: the guest kernel has no System V IPC, see qemu/bench/noshm.c)
export LD_PRELOAD=/tests/noshm.so
dd if=/dev/zero of=$DEV bs=1M 2>/dev/null
# Each file system's setup: mounts it at $M (or nothing, for raw).
up() {
	case $1 in
	nova) mount -t nova -o init $DEV $M ;;
	nova-inplace) mount -t nova -o init $DEV $M && umount $M && mount -t nova -o data=inplace $DEV $M ;;
	ext4-dax) /sbin/mke2fs.host -q -F -t ext4 -b 4096 $DEV >/dev/null && mount -t ext4 -o dax $DEV $M ;;
	xfs-dax) /sbin/mkfs.xfs.host -q -f $DEV && mount -t xfs -o dax=always $DEV $M ;;
	raw) : ;;
	esac
}
down() { [ "$1" = raw ] || umount $M; }
[ -x $FIO ] || echo "NOVA-BENCH fio unavailable"
for r in $(seq 1 $ROUNDS); do
	for fs in nova nova-inplace ext4-dax xfs-dax raw; do
		if ! up $fs; then
			echo "NOVA-BENCH $fs unavailable"
			continue
		fi
		if [ $fs = raw ]; then
			rm -f /tmp/fio.json
			F=$DEV A=$DEV S=$DEV R=$DEV
		else
			F=$M/rand A=$M/app S=$M/seq R=$M/seqr
		fi
		if [ -x $FIO ]; then
			echo "NOVA-FIO-BEGIN $fs $r"
			FILE=$F AFILE=$A SFILE=$S RFILE=$R $FIO --thread --output-format=json \
				--output=/tmp/fio.json /tests/suite.fio >/tmp/fio.out 2>&1 ||
				echo "fio on $fs: exit $?"
			grep -v 'cache invalidation' /tmp/fio.out
			cat /tmp/fio.json
			echo "NOVA-FIO-END $fs $r"
		fi
		if [ $fs != raw ]; then
			mkdir $M/meta
			pmbench meta $M/meta $META | sed "s/^NOVA-BENCH /NOVA-BENCH $fs $r /"
		fi
		down $fs
	done
done
