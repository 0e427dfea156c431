# Benchmark (make bench): the same I/O on nova and on ext4 -o dax, same
# pmem, same VM. Not a test: prints NOVA-BENCH lines.
. /tests/lib.sh
run() {
	fs=$1 dir=$2
	pmbench seqwrite $dir/seq 100 | sed "s/^NOVA-BENCH /NOVA-BENCH $fs /"
	pmbench seqread $dir/seq | sed "s/^NOVA-BENCH /NOVA-BENCH $fs /"
	pmbench randwrite $dir/seq 100 20000 | sed "s/^NOVA-BENCH /NOVA-BENCH $fs /"
	pmbench append $dir/app 20000 | sed "s/^NOVA-BENCH /NOVA-BENCH $fs /"
}
mkfs_mount || exit 1
run nova $M
umount $M
mke2fs -q -b 4096 $DEV >/dev/null 2>&1 || mke2fs -b 4096 $DEV
if mount -t ext4 -o dax $DEV /mnt/ext4; then
	dmesg | grep -i dax | tail -n 2
	df -k /mnt/ext4
	run ext4-dax /mnt/ext4
	umount /mnt/ext4
else
	echo "NOVA-BENCH ext4-dax unavailable"
fi
