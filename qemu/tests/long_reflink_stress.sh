# Reflink under racing threads at length (only when named: make test
# T=long_reflink_stress; layoutrace is its bounded version in make test):
# rrevstress races clones (same-file and across files), dedupes, stores
# through shared mappings, writes, truncates and hole punches on 5 files;
# then the module's check must agree with the logs.
#
# UNMAPLOCK keeps a mapper's munmap from running beside the other
# mapper's faults. Without it the DAX code warns now and then
# (fs/dax.c dax_folio_put, from dax_insert_entry in a fault): a fault
# that maps a shared page drops and retakes the page's association, and a
# concurrent munmap may have cleared its page table entry but not yet put
# its reference (that waits for the TLB flush). XFS-DAX with reflink trips
# the same warning under the same stress (long_xfs_reflink_stress).
# pmem: 128M
. /tests/lib.sh
need "mount" mkfs_mount
mkdir $M/d $M/e
dmesg -c >/dev/null
( sleep 150; echo 1 >/proc/sys/kernel/sysrq; echo w >/proc/sysrq-trigger; sleep 5; echo o >/proc/sysrq-trigger ) &
wd=$!
UNMAPLOCK=1 /tests/rrevstress $M/d $(scale 30 20)
UNMAPLOCK=1 NOSAME=1 /tests/rrevstress $M/e $(scale 30 20)
kill $wd
check "no warning or oops" sh -c "! dmesg | grep -E -q 'WARNING|BUG|Oops|refused|also used|fell short'"
dmesg | grep -E -A30 'WARNING|BUG|Oops' | head -80
check "consistent after the stress" fsck_ok
