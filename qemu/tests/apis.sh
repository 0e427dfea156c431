# The Linux file APIs programs expect of a file system (issue 18), as the
# guest's apit helper checks them.
# - O_DIRECT: on DAX it is the DAX path (as ext4-DAX and XFS-DAX): opens
#   with O_DIRECT succeed (they failed with EINVAL), and aligned and
#   unaligned direct I/O agree with plain reads and mappings, also after
#   a remount.
# - FIEMAP (filefrag, xfs_io -c fiemap): the extents of a file with holes,
#   from the extent index (failed with EOPNOTSUPP before).
. /tests/lib.sh
need "mount" mkfs_mount
check "O_DIRECT open, aligned and unaligned I/O" /tests/apit odirect $M
need "remount" remount
check "O_DIRECT data after remount" /tests/apit odirect-verify $M
check "FIEMAP reports the written ranges" /tests/apit fiemap $M
check "consistent" fsck_ok
umount $M
