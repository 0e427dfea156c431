# Benchmark (make bench): mount time of a clean image and recovery time of
# a crashed one, with 10,000 files; then with 100 snapshots, their held
# lists saved (and spoilt, for the scan they replace); then with 1000
# reflink clones, their shared ranges saved (and spoilt). Not a test:
# prints NOVA-BENCH lines.
# boots: 2
. /tests/lib.sh
phase=${1:-1}
# held_block: the first block of the saved held lists (nova-inspect),
# or the benchmark stops: a spoilt superblock byte is no measurement.
held_block() {
	b=$(nova-inspect $DEV sb | sed -n 's/^ *held *block \([0-9]*\).*/\1/p' | head -n 1)
	[ -n "$b" ] || { echo "bench_mount: no held-list block from nova-inspect"; exit 1; }
}
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
	# 100 snapshots, each keeping a block overwritten after it.
	i=0
	while [ $i -lt 100 ]; do
		echo > /proc/fs/nova/pmem0/create_snapshot
		echo $i > $M/d0/f$((i + 1))
		i=$((i + 1))
	done
	umount $M
	pmbench time mount-clean-10000-files-100-snapshots mount -t nova $DEV $M
	umount $M
	# The same image with its saved held lists spoilt: the recovery scan
	# a clean mount with snapshots did before they were saved.
	held_block
	poke $((b * 4096 + 8)) '\377'
	pmbench time mount-clean-10000-files-100-snapshots-scan mount -t nova $DEV $M
	grep -c '^ *[0-9]' /proc/fs/nova/pmem0/snapshots
	# Reflink copies (issue 19): 1000 clones of a 64-block file, their
	# shared ranges saved at unmount (and spoilt: the scan that counts
	# the users from the logs instead).
	dd if=/dev/urandom of=$M/src bs=4k count=64 2>/dev/null
	mkdir $M/clones
	i=0
	while [ $i -lt 1000 ]; do
		/tests/reflinkt clone $M/src $M/clones/c$i || break
		i=$((i + 1))
	done
	sed -n 's/.* shared \([0-9]*\) shared-bad.*/shared blocks: \1/p' /proc/fs/nova/pmem0/check
	umount $M
	pmbench time mount-clean-10000-files-1000-clones mount -t nova $DEV $M
	umount $M
	held_block
	poke $((b * 4096 + 8)) '\377'
	pmbench time mount-clean-10000-files-1000-clones-scan mount -t nova $DEV $M
	# Reboot without unmounting: the next mount recovers.
else
	pmbench time mount-recovery-10000-files-100-snapshots mount -t nova $DEV $M
	echo "files: $(find $M -type f | wc -l)"
	cat /proc/fs/nova/pmem0/check
	umount $M
fi
