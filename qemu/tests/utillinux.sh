# util-linux's mount, fsck and mkfs with nova (issue 16), as users type
# them: util-linux reads `-t nova` as the pattern "every type but va",
# so `mount -t nova` tries each type of /proc/filesystems until one
# mounts; formatting wipes other file systems' signatures (format.md), so
# a device that held ext4 before comes up as nova, never as the stale
# ext4. util-linux's fsck cannot tell nova from blkid (libblkid has no
# nova probe) and would run fsck.ext2: an /etc/fstab line with type nova
# makes `fsck DEV`, `fsck -t nova DEV` and `fsck MOUNTPOINT` run
# fsck.nova, with its exit status. `mkfs -t nova` runs mkfs.nova.
# pmem: 64M
# flavors: fast (user-space programs; the module's side is in basic)
. /tests/lib.sh
PP() { /tests/pmpoke $DEV "$@"; }
need "util-linux's mount, fsck, mkfs, blkid and mke2fs are installed" \
	which mount.util-linux fsck.util-linux mkfs.util-linux blkid.util-linux mke2fs.host
fstype() { awk -v d=$DEV '$1 == d { print $3 }' /proc/mounts; }
ext4() {
	mke2fs.host -q -t ext4 -b 4096 -F $DEV 2>/dev/null &&
		blkid.util-linux $DEV | grep -q 'TYPE="ext4"'
}

# 1. A device that held ext4, formatted with util-linux's mkfs wrapper.
need "an ext4 file system on the device (blkid sees it)" ext4
check_fails "mkfs -t nova refuses to overwrite ext4 without -f" mkfs.util-linux -t nova $DEV
check "the ext4 signature is still there" sh -c "blkid.util-linux $DEV | grep -q 'TYPE=\"ext4\"'"
check "mkfs -t nova -f (util-linux's wrapper runs mkfs.nova)" mkfs.util-linux -t nova -f $DEV
check_fails "no signature blkid knows is left" blkid.util-linux -p $DEV
check "mount -t nova (util-linux)" mount.util-linux -t nova $DEV $M
check_eq "it came up as nova" nova "$(fstype)"
echo data >$M/f
check "util-linux's umount path: umount" umount $M

# 2. The same after the module's own format (mount -o init).
need "ext4 again" ext4
check "mount -t nova -o init (busybox mount, the module formats)" mount -t nova -o init $DEV $M
umount $M
check_fails "no signature left by mount -o init" blkid.util-linux -p $DEV
check "mount -t nova (util-linux) after mount -o init" mount.util-linux -t nova $DEV $M
check_eq "nova again" nova "$(fstype)"
check "options pass through (-o ro,data=inplace)" sh -c \
	"umount $M && mount.util-linux -t nova -o ro,data=inplace $DEV $M && grep -q '^$DEV $M nova ro,.*data=inplace' /proc/mounts"
umount $M

# 3. fsck and mount through /etc/fstab.
echo "$DEV $M nova defaults 0 2" >/etc/fstab
check "fsck -N names fsck.nova for the device" sh -c "fsck.util-linux -N $DEV | grep -q 'fsck.nova'"
check "fsck -t nova DEV: fsck.nova, exit 0" fsck.util-linux -t nova $DEV
check "fsck DEV: exit 0" fsck.util-linux $DEV
check "fsck by mount point: exit 0" fsck.util-linux $M
check "mount by mount point (fstab)" mount.util-linux $M
check_eq "fstab mount is nova" nova "$(fstype)"
umount $M
# A corruption: fsck's exit status is fsck.nova's (4, errors left).
PP raw 72 1 $(( ($(PP get 72 1) + 1) % 256 )) >/dev/null
fsck.util-linux -t nova $DEV -- -n >/tmp/fsck.out 2>&1
check_eq "fsck -t nova -- -n on a corrupted superblock: exit 4" 4 "$?"
check "fsck.nova's finding is shown" grep -q "superblock (primary, block 0): csum" /tmp/fsck.out
fsck.util-linux -t nova $DEV -- -y >/tmp/fsck.out 2>&1
check_eq "fsck -t nova -- -y repairs it: exit 1" 1 "$?"
check "then clean" fsck.util-linux -t nova $DEV
rm /etc/fstab
