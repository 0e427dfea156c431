# Benchmark (make bench T=bench_write4k): 4 KiB random overwrites of a
# 64 MiB file, plain and with fdatasync after each, on nova and ext4 -o dax,
# same pmem, same boot (nova with data=cow and data=inplace); the
# whole device is written once first (a first touch of a guest page costs
# a host page fault). On nova, /proc/fs/nova/pmem0/prof shows where the
# time of a write goes. Not a test: prints NOVA-BENCH lines.
. /tests/lib.sh
N=${N:-40000}
dd if=/dev/zero of=$DEV bs=1M 2>/dev/null
run() {
	fs=$1 dir=$2
	pmbench seqwrite $dir/f 64 >/dev/null
	for r in 1 2; do
		pmbench randwrite $dir/f 64 $N | sed "s/^NOVA-BENCH /NOVA-BENCH $fs /"
		pmbench randwrite-sync $dir/f 64 $((N / 2)) | sed "s/^NOVA-BENCH /NOVA-BENCH $fs /"
	done
}
mkfs_mount || exit 1
# Where the time goes: a short run (before the log GC starts), then a
# long one.
pmbench seqwrite $M/f 64 >/dev/null
for n in 800 $N; do
	echo 1 >/proc/fs/nova/pmem0/prof
	pmbench randwrite $M/f 64 $n
	cat /proc/fs/nova/pmem0/prof
	echo 0 >/proc/fs/nova/pmem0/prof
done
rm $M/f
run nova $M
umount $M
# data=inplace: overwrites of blocks no snapshot holds go in place.
mount -t nova -o data=inplace $DEV $M || exit 1
rm -f $M/f
run nova-inplace $M
echo 1 >/proc/fs/nova/pmem0/prof
pmbench randwrite $M/f 64 800
cat /proc/fs/nova/pmem0/prof
echo 0 >/proc/fs/nova/pmem0/prof
umount $M
mke2fs -q -b 4096 $DEV >/dev/null 2>&1 || mke2fs -b 4096 $DEV
if mount -t ext4 -o dax $DEV /mnt/ext4; then
	run ext4-dax /mnt/ext4
	umount /mnt/ext4
else
	echo "NOVA-BENCH ext4-dax unavailable"
fi
