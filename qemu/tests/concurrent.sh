# Two writers and a namespace workload at once on two CPUs (lockdep and
# KASAN watch), then content and consistency checks, also after remount.
# 20 s of it, 10 s on the debug kernel.
# tcg: multi (the two vCPUs really run at once)
. /tests/lib.sh
T=$(scale 20 10)
need "mount" mkfs_mount
mkdir $M/a $M/b $M/c
crashload -s 5 $M/a $T >/tmp/a.log 2>&1 &
crashload -s 6 $M/b $T >/tmp/b.log 2>&1 &
(
	end=$(($(date +%s) + $T))
	i=0
	while [ "$(date +%s)" -lt $end ]; do
		touch $M/c/f$i
		mkdir $M/c/d$i
		mv $M/c/f$i $M/c/d$i/g
		ln -s g $M/c/d$i/s
		[ $((i % 2)) = 0 ] && rm -rf $M/c/d$((i - 2))
		ls $M/c >/dev/null
		i=$((i + 1))
	done
	echo "namespace rounds: $i"
) &
wait
tail -n 1 /tmp/a.log /tmp/b.log
check "writer a's files valid" crashload -v $M/a
check "writer b's files valid" crashload -v $M/b
check "consistent" fsck_ok
check "remount" remount
check "writer a's files valid after remount" crashload -v $M/a
check "consistent after remount" fsck_ok
umount $M
