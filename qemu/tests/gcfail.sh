# Log GC that cannot allocate (issue 12, item 11): with every allocation
# made under nova's log GC failing (failslab and fail_page_alloc armed
# for gc::collect's code only, any task: the writer and the cleaner
# thread), a file overwritten again and again keeps a bounded log: GC is
# retried every few pages and, past the limit, writes fail with ENOMEM
# instead of the log growing. Once allocations succeed, the next write's
# GC collects the log and writes succeed again.
# boots: 1
. /tests/lib.sh
D=/sys/kernel/debug
mount -t debugfs none $D 2>/dev/null
need "fault injection in the kernel" test -w $D/failslab/probability
N=8000 TIMES=100000000
need "mount" mkfs_mount
need "arm failures under log GC" faultload arm-gc $TIMES
logload -e -m 100 overwrite $M/f $N >/tmp/o.out 2>&1
rc=$?
inj=$(faultload injected $TIMES | sed -n 's/^injected //p')
cat /tmp/o.out
check_eq "$N overwrites while log GC fails: log pages in use stay <= 100" 0 $rc
check "log GC allocations failed (${inj:-0})" test "${inj:-0}" -gt 0
enomem=$(sed -n 's/^enomem \([0-9]*\) .*/\1/p' /tmp/o.out)
last=$(sed -n 's/.* last-ok \([0-9-]*\)$/\1/p' /tmp/o.out)
check "writes past the limit failed with ENOMEM (${enomem:-0})" test "${enomem:-0}" -gt 0
check "block 0 holds the last write that succeeded ($last)" logload verify $M/f "$last"
I=$(stat -c %i $M/f)
check_eq "one warning for the failures in a row" 1 "$(dmesg | grep -c "log GC of inode $I failed")"
# Allocations succeed again: the first refused write's GC (run after
# it) collects the log; at most that one write fails.
logload -e -m 100 overwrite $M/f 2000 >/tmp/o.out 2>&1
rc=$?
cat /tmp/o.out
check_eq "2000 overwrites after: log pages in use stay <= 100" 0 $rc
check "... at most one of them failed" grep -q '^enomem [01] last-ok 1999$' /tmp/o.out
check "... the last write is there" logload verify $M/f 1999
check "consistent" fsck_ok
check "remount" remount
check "after remount too" logload verify $M/f 1999
check "consistent after remount" fsck_ok
umount $M
