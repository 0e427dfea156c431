# Adversarial directory names: 300 names that all had one key under the
# first directory hash (which allowed 256 per key: create #257 failed
# after its commit and the directory could not be read at the next
# mount), the same with 255-byte names, and a 100,000-entry directory.
# Names are made and checked by the dirnames helper (qemu/tests/src).
# pmem: 768M
. /tests/lib.sh
# A 100,000-entry directory; 3,000 entries on the (slow) debug kernel (a
# directory log of many pages, ~100 inode-table pages grown and given back).
BIG=$(scale 100000 3000)
need "mount" mkfs_mount
names() {
	kind=$1 n=$2
	mkdir $M/c
	check "$n $kind names created" dirnames create $kind $M/c $n
	check "$n $kind names found and listed" dirnames check $kind $M/c $n
	check "readdir sees each of the $n $kind names once while others come and go" \
		dirnames churn $kind $M/c $n
	dirnames cookies $kind $M/c $n >/tmp/cookies.before
	check_eq "readdir returns $n names and the dots ($kind)" "$((n + 2))" "$(wc -l </tmp/cookies.before)"
	check "remount ($kind)" remount
	check "the root is readable after remount ($kind)" ls $M
	check "$n $kind names found and listed after remount" dirnames check $kind $M/c $n
	dirnames cookies $kind $M/c $n >/tmp/cookies.after
	check "readdir cookies unchanged by the remount ($kind)" cmp /tmp/cookies.before /tmp/cookies.after
	check "$kind names removed" dirnames remove $kind $M/c $n
	check_eq "the directory is empty ($kind)" "" "$(ls -A $M/c)"
	check "rmdir ($kind)" rmdir $M/c
	check "consistent ($kind)" fsck_ok
}
names collide 300
names collide255 300
names long 300
# Name length limits.
x255=$(printf '%255s' '' | tr ' ' x)
check "a 255-byte name" touch $M/$x255
check_fails "a 256-byte name" touch $M/${x255}y
check_fails "a 256-byte name is absent" ls $M/${x255}y
check "rename to a 255-byte name" mv $M/$x255 $M/$(printf '%255s' '' | tr ' ' z)
check "rm the 255-byte name" rm $M/$(printf '%255s' '' | tr ' ' z)
check "remount" remount
check_eq "the root is empty" "" "$(ls -A $M)"

# A big directory on a fresh file system (so the root's log does not
# grow): every block but grown inode-table pages comes back.
umount $M
need "mount fresh" mkfs_mount
start=$(free_blocks)
pages0=$(sed -n "s/^inode_table_pages //p" /proc/fs/nova/pmem0/stats)
mkdir $M/big
t0=$(date +%s)
check "$BIG names created" dirnames create many $M/big $BIG
t1=$(date +%s)
dirnames cookies many $M/big $BIG >/tmp/cookies.before
check "remount (big)" remount
t2=$(date +%s)
check_eq "readdir count" "$BIG" "$(ls -A $M/big | wc -l)"
check "stat a few" ls -l $M/big/f0000000 $M/big/f0000001 $M/big/f$(printf %07d $((BIG / 2))) \
	$M/big/f$(printf %07d $((BIG - 1)))
check_fails "a name past the last is absent" ls -l $M/big/f$(printf %07d $BIG)
check "$BIG names found and listed" dirnames check many $M/big $BIG
dirnames cookies many $M/big $BIG >/tmp/cookies.after
check "readdir cookies unchanged by the remount (big)" cmp /tmp/cookies.before /tmp/cookies.after
t3=$(date +%s)
check "$BIG names removed" dirnames remove many $M/big $BIG
check "rmdir (big)" rmdir $M/big
t4=$(date +%s)
echo "big directory: create $((t1 - t0)) s, remount $((t2 - t1)) s, check $((t3 - t2)) s, remove $((t4 - t3)) s"
pages1=$(sed -n "s/^inode_table_pages //p" /proc/fs/nova/pmem0/stats)
check_eq "free space back (less $((pages1 - pages0)) table pages)" "$((start - (pages1 - pages0)))" "$(free_blocks)"
check "consistent (big)" fsck_ok
check "remount at the end" remount
check "consistent at the end" fsck_ok
umount $M
