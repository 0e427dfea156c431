# Access times (issue 18): reads update atime as the mount says
# (relatime by default, strictatime, noatime, O_NOATIME), directories
# too; the new atime is logged once when the inode leaves memory, not
# once per read, so it survives a remount and a read-heavy workload does
# not grow the log. (Before: reads never changed atime.)
# boots: 1
. /tests/lib.sh
P=/proc/fs/nova/pmem0
at() { stat -c %X "$1"; }
logpages() { sed -n 's/^log_pages_allocated //p' $P/stats; }
need "mount" mkfs_mount
echo hello >$M/f
mkdir $M/d
touch -a -d "2001-01-01 00:00:00" $M/f $M/d
old=$(at $M/f)
check_eq "atime set in the past" "$old" "$(at $M/d)"
cat $M/f >/dev/null
new=$(at $M/f)
check "relatime: a read of a file with an old atime updates it" test "$new" -gt "$old"
ls $M/d >/dev/null
check "... and a readdir" test "$(at $M/d)" -gt "$old"
cat $M/f >/dev/null
check_eq "relatime: a second read in the same day does not" "$new" "$(at $M/f)"
check "remount" remount
check_eq "the new atime survived the remount (logged at eviction)" "$new" "$(at $M/f)"
check "the directory's too" test "$(at $M/d)" -gt "$old"
check "consistent" fsck_ok
umount $M

need "strictatime mount" mount -t nova -o strictatime $DEV $M
touch -a -d "2001-01-01 00:00:00" $M/f
p0=$(logpages)
i=0
n=$(scale 2000 200)
while [ $i -lt $n ]; do cat $M/f >/dev/null; i=$((i + 1)); done
check "strictatime: reads update atime" test "$(at $M/f)" -gt "$old"
check_eq "... $n reads allocated no log page" "$p0" "$(logpages)"
t=$(at $M/f)
check "remount" sh -c "umount $M && mount -t nova -o strictatime $DEV $M"
check_eq "... the atime survived" "$t" "$(at $M/f)"
umount $M

need "noatime mount" mount -t nova -o noatime $DEV $M
touch -a -d "2001-01-01 00:00:00" $M/f
cat $M/f >/dev/null
check_eq "noatime: a read leaves atime" "$old" "$(at $M/f)"
umount $M
need "mount" mount -t nova $DEV $M
check_eq "... also after a remount" "$old" "$(at $M/f)"
check "consistent" fsck_ok
umount $M
