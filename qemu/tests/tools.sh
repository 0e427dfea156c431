# The user-space tools (issue 16): mkfs.nova writes exactly what the
# module's `mount -o init` and the `umount` after it write (the uuid and
# the clock are inputs: taken from the module's image, given to mkfs.nova
# with -U and SOURCE_DATE_EPOCH; the mount is pinned to CPU 0, whose
# region mkfs.nova takes the first log pages from); a nova made by
# mkfs.nova mounts and works; fsck.nova finds it clean and finds
# corruptions.
# pmem: 64M
# boots: 1
. /tests/lib.sh
PP() { /tests/pmpoke $DEV "$@"; }
# The device as the module left it: past the block device's page cache.
fresh() { echo 3 > /proc/sys/vm/drop_caches; }
# Fills the device with a non-zero pattern, so that the comparison also
# shows that both write the same bytes (and leave the same bytes alone).
tr '\000' '\245' < /dev/zero | head -c 1048576 > /tmp/pat
pattern() {
	i=0
	while [ $i -lt 64 ]; do
		dd if=/tmp/pat of=$DEV bs=1M seek=$i count=1 conv=notrunc 2>/dev/null
		i=$((i + 1))
	done
	sync
	fresh
}
need "mkfs.nova and fsck.nova are installed" which mkfs.nova fsck.nova

pattern
need "mount -o init (on CPU 0)" taskset 1 mount -t nova -o init $DEV $M
umount $M
fresh
dd if=$DEV of=/tmp/kernel.img bs=1M 2>/dev/null
uuid=$(od -A n -t x1 -j 72 -N 16 $DEV | tr -d ' \n')
when=$(PP get 64 8)
regions=$(PP get 40 4)
echo "module's image: uuid $uuid, time $when, $regions regions"

pattern
need "mkfs.nova with the module's uuid and time" env SOURCE_DATE_EPOCH=$when mkfs.nova -U $uuid $DEV
fresh
if cmp /tmp/kernel.img $DEV >/tmp/cmp.out 2>&1; then
	pass "mkfs.nova writes byte for byte what mount -o init + umount write"
else
	fail "mkfs.nova differs from mount -o init + umount"
	# Which blocks differ, and how many bytes in each.
	cmp -l /tmp/kernel.img $DEV 2>/dev/null |
		awk '{ b = int(($1 - 1) / 4096); n[b]++; if (!(b in f)) { f[b] = $1 - 1 - b * 4096; o[++k] = b } }
			END { for (i = 1; i <= k && i <= 20; i++) printf "    | block %d: %d bytes differ from +%d\n", o[i], n[o[i]], f[o[i]] }'
fi
rm -f /tmp/kernel.img

check_fails "mkfs.nova refuses an existing nova without -f" mkfs.nova $DEV
grep -q "contains a nova file system" /tmp/check.out && pass "and says why" || fail "no reason given: $(cat /tmp/check.out)"
check "mkfs.nova -f overwrites it" mkfs.nova -f -q $DEV
dd if=/dev/zero of=$DEV bs=1M count=1 conv=fsync 2>/dev/null
poke 1080 '\123\357'
check_fails "mkfs.nova refuses an ext2/3/4 signature without -f" mkfs.nova $DEV
grep -q "ext2/ext3/ext4" /tmp/check.out && pass "and names it" || fail "no ext4 named: $(cat /tmp/check.out)"
check_fails "mkfs.nova -L is refused (no label field)" mkfs.nova -f -L x $DEV
need "mkfs.nova -f over it" mkfs.nova -f $DEV

# A nova made by mkfs.nova mounts (clean, with its saved free list) and works.
dmesg -c >/dev/null
need "mount without -o init after mkfs.nova" mount -t nova $DEV $M
check "it was a clean mount" sh -c "dmesg | grep -q 'clean mount'"
echo hello > $M/f
mkdir $M/d
dd if=/dev/urandom of=$M/d/g bs=4096 count=10 2>/dev/null
check "consistent (the module's check)" fsck_ok
umount $M
need "remount" mount -t nova $DEV $M
check_eq "the file reads back" hello "$(cat $M/f)"
umount $M
