# Allocation failures injected into nova's own allocations (failslab and
# fail_page_alloc, armed through debugfs for the workload's task only and
# only for allocations with nova.ko on the stack): every operation of a
# random namespace/data/snapshot workload succeeds or fails with ENOMEM or
# ENOSPC and changes nothing; no splat; afterwards the tree equals the
# model of what succeeded, after a remount too, and `check` is ok.
# `make test` runs a few seeds; FAULTINJ_SEEDS on the kernel command line
# (nova.faultinj=N) asks for more.
# boots: 1
. /tests/lib.sh
D=/sys/kernel/debug
mount -t debugfs none $D 2>/dev/null
need "fault injection in the kernel" test -w $D/failslab/probability
SEEDS=6 OPS=1500
is_debug && SEEDS=4 OPS=800
n=$(sed -n 's/.*nova.faultinj=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$n" ] && SEEDS=$n
TIMES=1000000
need "mount" mkfs_mount
total=0 fops=0
s=1
while [ $s -le $SEEDS ]; do
	pct=$((5 + (s * 7) % 30))
	faultload arm $pct $TIMES > /tmp/arm.out || { fail "arm seed $s"; cat /tmp/arm.out; break; }
	faultload run $s $OPS $M/w$s /tmp/model$s > /tmp/run.out 2>&1
	rc=$?
	inj=$(faultload injected $TIMES | sed -n 's/^injected //p')
	total=$((total + inj))
	f=$(sed -n 's/^failed-ops //p' /tmp/run.out)
	fops=$((fops + ${f:-0}))
	if [ $rc = 0 ]; then
		pass "seed $s ($pct%): $inj failures injected, ${f:-0} operations failed cleanly, tree = model"
	else
		fail "seed $s ($pct%)"
		sed 's/^/    | /' /tmp/run.out | head -20
	fi
	s=$((s + 1))
done
echo "NOVA-INFO faultinj: $SEEDS seeds x $OPS ops, $total failures injected, $fops operations failed"
check "failures were injected" test $total -gt 0
check "some operations failed" test $fops -gt 0
lost=$(sed -n "s/^recovery_at_next_mount //p" /proc/fs/nova/pmem0/stats)
# Blocks whose release ran out of memory stay allocated until the next
# mount rebuilds the allocator; only then is `check` exact.
if [ "${lost:-0}" = 0 ]; then check "fsck after the workload" fsck_ok; fi
umount $M
need "remount" mount -t nova $DEV $M
check "fsck after remount" fsck_ok
s=1
while [ $s -le $SEEDS ]; do
	[ -f /tmp/model$s ] && check "seed $s: tree = model after remount" faultload verify $M/w$s /tmp/model$s
	s=$((s + 1))
done
umount $M
