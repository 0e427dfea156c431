# Benchmark (make bench): mount time of a clean image and recovery time of
# a crashed one, with 10,000 files. Not a test: prints NOVA-BENCH lines.
# boots: 2
. /tests/lib.sh
phase=${1:-1}
if [ "$phase" = 1 ]; then
	mkfs_mount || exit 1
	for d in 0 1 2 3 4 5 6 7 8 9; do
		mkdir $M/d$d
		(cd $M/d$d && seq 1 1000 | sed "s/^/f/" | xargs touch)
	done
	echo "files: $(find $M -type f | wc -l)"
	umount $M
	pmbench time mount-clean-10000-files mount -t nova $DEV $M
	ls $M/d5 | wc -l
	# Reboot without unmounting: the next mount recovers.
else
	pmbench time mount-recovery-10000-files mount -t nova $DEV $M
	echo "files: $(find $M -type f | wc -l)"
	cat /proc/fs/nova/pmem0/check
	umount $M
fi
