# Corrupted images are refused cleanly (no oops): bad magic, bad checksum,
# log pointers out of range, a log page cycle. A bad primary superblock
# alone is repaired from the replica.
# boots: 1
. /tests/lib.sh
SB=0
REPLICA=4096
ROOT_SLOT=$((3 * 4096 + 128)) # inode 1 in table page 0
fresh() {
	mkfs_mount && mkdir $M/a && touch $M/a/f && umount $M
}
mounts() { mount -t nova $DEV $M; }

need "fresh image" fresh
poke $SB '\001\002'
check "bad primary magic: replica used" mounts
check_eq "replica's tree" "f" "$(ls $M/a 2>&1)"
umount $M
check "primary repaired on that mount" mounts
umount $M

poke $SB '\001\002'
poke $REPLICA '\001\002'
check_fails "bad magic in both copies: refused" mounts
check "message names the problem" sh -c "dmesg | grep -q 'not a nova file system'"

need "fresh image" fresh
poke $((SB + 64)) '\377'
poke $((REPLICA + 64)) '\377'
check_fails "bad checksum in both copies: refused" mounts
check "message names checksums" sh -c "dmesg | grep -q 'Checksum'"

need "fresh image" fresh
# Root log tail far past the device.
poke $((ROOT_SLOT + 32)) '\000\000\000\000\000\001\000\000'
check_fails "root log tail out of range: refused" mounts

need "fresh image" fresh
# Root log head unaligned.
poke $((ROOT_SLOT + 24)) '\007'
check_fails "root log head unaligned: refused" mounts

need "fresh image" fresh
# A cycle: the root's first log page points to itself, and the tail is
# moved to a page that is never reached.
head=$(dd if=$DEV bs=1 skip=$((ROOT_SLOT + 24)) count=8 2>/dev/null | od -An -tu8 | tr -d ' ')
b0=$((head & 255)); b1=$(((head >> 8) & 255)); b2=$(((head >> 16) & 255)); b3=$(((head >> 24) & 255))
oct() { printf '\\%03o' "$1"; }
poke $((head + 4032)) "$(oct $b0)$(oct $b1)$(oct $b2)$(oct $b3)\\000\\000\\000\\000"
poke $((ROOT_SLOT + 32)) '\000\000\000\000\000\000\001\000'
check_fails "root log page cycle: refused" mounts

need "fresh image" fresh
# Journal marked active with a bad checksum: refused, not replayed.
poke $((2 * 4096 + 8)) '\003\000\000\000'
poke $((2 * 4096)) 'NJRNLACT'
check_fails "active journal with bad checksum: refused" mounts

# Not a DAX device at all.
check_fails "tmpfs-backed loop is not DAX: refused" sh -c "mount -t nova /dev/ram0 $M 2>/dev/null || mount -t nova /tmp $M"
check "mount -o init still recovers the device" mkfs_mount
check "consistent after re-format" fsck_ok
umount $M
