# Faults racing layout changes (issue 19): two threads fault pages of five
# files through mappings while others truncate and punch with partial
# pages at the edges (each change breaks the layout of a range and then
# copies an edge page: a second break that may wait for a page an unmap
# is still releasing, which drops the mapping lock for a while), write,
# clone and dedupe. Once a layout change left a DAX entry behind for a
# block it freed (a fault during the second break's wait re-mapped a page
# of the first range): the block's next owner then tripped the DAX code's
# "already associated" warning, which the harness counts as a failure.
# UNMAPLOCK keeps munmap from racing the other mapper's faults (a window
# of the DAX code itself, long_reflink_stress).
# pmem: 128M
# tcg: multi (the racing threads really run at once)
. /tests/lib.sh
need "mount" mkfs_mount
mkdir $M/a $M/b
check "clones, dedupes, mapped stores, writes, truncates and punches race" \
	env UNMAPLOCK=1 /tests/rrevstress $M/a $(scale 20 8)
cat /tmp/check.out
check "mapped stores, writes, truncates and punches race" \
	env UNMAPLOCK=1 /tests/rrevstress $M/b $(scale 10 5) noclone
cat /tmp/check.out
check "no DAX warning" sh -c "! dmesg | grep -E -q 'WARNING|BUG'"
check "consistent" fsck_ok
