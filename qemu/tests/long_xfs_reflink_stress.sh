# The reflink stress of long_reflink_stress on XFS-DAX (mkfs.xfs needs
# NOVA_BENCH=1: NOVA_BENCH=1 make test T=long_xfs_reflink_stress): does the
# kernel's own reflink + DAX file system trip the same DAX association
# warnings under the same races? Only when named. Measured on 7.3: yes,
# WARNING fs/dax.c dax_folio_put (from xfs_file_dax_write's invalidation).
# mkfs.xfs wants at least 300 MB; the image is XFS (no fsck.nova).
# pmem: 512M
# fsck: no
. /tests/lib.sh
need "mkfs.xfs" mkfs.xfs.host -q -f -m reflink=1 $DEV
mkdir -p /mnt/xfs
need "mount xfs dax" mount -t xfs -o dax=always $DEV /mnt/xfs
mkdir /mnt/xfs/d /mnt/xfs/e
dmesg -c >/dev/null
/tests/rrevstress /mnt/xfs/d 30
NOSAME=1 /tests/rrevstress /mnt/xfs/e 30
check "no warning or oops on XFS-DAX" sh -c "! dmesg | grep -E -q 'WARNING|BUG|Oops'"
dmesg | grep -E -A30 'WARNING|BUG|Oops' | head -60
umount /mnt/xfs
