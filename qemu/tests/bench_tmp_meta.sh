# temp: create/unlink rates, nova vs ext4, alternating rounds
. /tests/lib.sh
dd if=/dev/zero of=$DEV bs=1M 2>/dev/null
R=${ROUNDS:-5}
for r in $(seq 1 $R); do
	mkfs_mount || exit 1
	mkdir $M/meta
	pmbench meta $M/meta 2000 | sed "s/^NOVA-BENCH /NOVA-BENCH nova $r /"
	umount $M
	mke2fs.host -q -b 4096 $DEV >/dev/null 2>&1 || mke2fs -q -b 4096 $DEV >/dev/null 2>&1
	mount -t ext4 -o dax $DEV /mnt/ext4 || exit 1
	mkdir /mnt/ext4/meta
	pmbench meta /mnt/ext4/meta 2000 | sed "s/^NOVA-BENCH /NOVA-BENCH ext4 $r /"
	umount /mnt/ext4
done
