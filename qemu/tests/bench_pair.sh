# Benchmark (make bench T=bench_pair): do writers to different files wait
# for each other? A child process overwrites 4 KiB pages of a 64 MiB file
# (its log grows, the cleaner thread collects it) while the timed writer
# overwrites 4 KiB files in turn (64 of them: their own logs stay too
# short for a GC); nova (data=cow) and ext4 -o dax, same boot.
# With one file-system-wide transaction lock, the timed writer waited out
# every log GC of the other file (its maximum latency). Not a test:
# prints NOVA-BENCH lines.
. /tests/lib.sh
N=${N:-20000}
dd if=/dev/zero of=$DEV bs=1M 2>/dev/null
mkfs_mount || exit 1
for r in 1 2; do
	pmbench pair $M/a $M/b $N | sed "s/^NOVA-BENCH /NOVA-BENCH nova /"
done
grep log_gc /proc/fs/nova/pmem0/stats
umount $M
mke2fs -q -b 4096 $DEV >/dev/null 2>&1 || mke2fs -b 4096 $DEV
if mount -t ext4 -o dax $DEV /mnt/ext4; then
	for r in 1 2; do
		pmbench pair /mnt/ext4/a /mnt/ext4/b $N | sed "s/^NOVA-BENCH /NOVA-BENCH ext4-dax /"
	done
	umount /mnt/ext4
fi
