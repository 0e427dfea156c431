# Extended attributes (issue 18): user.*, trusted.*, security.* set,
# read, listed and removed with ext4's errors; kept in the inode's log
# (values past one entry in chunks of one transaction), so they survive a
# remount and a crash, a snapshot shows those of its epoch, and log GC
# keeps every chunk of a live value. (Before: EOPNOTSUPP.)
# boots: 1
. /tests/lib.sh
P=/proc/fs/nova/pmem0
X=/tests/xattrt
S=/tmp/snap
mkdir -p $S
need "mount" mkfs_mount
echo data >$M/f
mkdir $M/d
ln -s f $M/l
check "set user.a" $X set $M/f user.a hello
check_eq "get user.a" hello "$($X get $M/f user.a)"
check "set trusted.t and security.s" sh -c "$X set $M/f trusted.t tv && $X set $M/f security.s sv"
check_eq "list: all three" "security.s trusted.t user.a" "$($X list $M/f | sort | tr '\n' ' ' | sed 's/ $//')"
check "replace user.a" $X set $M/f user.a world replace
check_eq "... the new value" world "$($X get $M/f user.a)"
check_eq "create over an existing name: EEXIST" EEXIST "$($X set $M/f user.a x create)"
check_eq "replace of a missing name: ENODATA" ENODATA "$($X set $M/f user.none x replace)"
check_eq "get of a missing name: ENODATA" ENODATA "$($X get $M/f user.none)"
check_eq "remove of a missing name: ENODATA" ENODATA "$($X rm $M/f user.none)"
check_eq "a buffer too small: ERANGE" ERANGE "$($X getsmall $M/f user.a)"
check_eq "an unknown namespace: EOPNOTSUPP" EOPNOTSUPP "$($X set $M/f other.a x)"
check "an empty value" sh -c "$X set $M/f user.empty '' && test -z \"\$($X get $M/f user.empty)\""
check "a 20000-byte value (chunks of one transaction)" sh -c "$X setn $M/f user.big 20000 1 && $X getn $M/f user.big 20000 1"
check "a 65536-byte value on the directory" sh -c "$X setn $M/d user.max 65536 2 && $X getn $M/d user.max 65536 2"
check_eq "65537 bytes: E2BIG" E2BIG "$($X setn $M/f user.huge 65537 3)"
check "another 1000 bytes there" $X setn $M/d user.more 1000 4
check_eq "past 128 KiB of attributes on one inode: ENOSPC" ENOSPC "$($X setn $M/d user.max2 65536 4)"
# Names alone must fit one listxattr (64 KiB): 249-byte list items, empty values.
echo h >$M/h
long=$(printf '%0240d' 0)
r=$($X fill $M/h user.$long 300)
i=${r%% *}
check_eq "names past one listxattr's 64 KiB: ENOSPC" "ENOSPC" "${r#* }"
check "... after 200 to 300 names ($i)" test $i -ge 200 -a $i -lt 300
check_eq "... and every name is listed" $i "$($X list $M/h | wc -l)"
check "trusted.* on the symlink itself" sh -c "$X lset $M/l trusted.x lx && test \"\$($X lget $M/l trusted.x)\" = lx"
check "remove user.empty" $X rm $M/f user.empty
check "consistent" fsck_ok
check "remount" remount
check_eq "after remount: the values" "world tv sv" "$($X get $M/f user.a) $($X get $M/f trusted.t) $($X get $M/f security.s)"
check "after remount: the chunked values" sh -c "$X getn $M/f user.big 20000 1 && $X getn $M/d user.max 65536 2"
check_eq "after remount: the removed one is gone" ENODATA "$($X get $M/f user.empty)"
check_eq "after remount: the symlink's" lx "$($X lget $M/l trusted.x)"

# A snapshot keeps the attributes of its epoch.
echo >$P/create_snapshot
E=$(awk '$1 ~ /^[0-9]+$/ {print $1; exit}' $P/snapshots)
check "change user.a, remove trusted.t, a new big value" sh -c "$X set $M/f user.a after && $X rm $M/f trusted.t && $X setn $M/f user.big 30000 5"
umount $M
need "snapshot mount" mount -t nova -o snapshot=$E $DEV $S
check_eq "the snapshot: user.a as it was" world "$($X get $S/f user.a)"
check_eq "the snapshot: trusted.t still there" tv "$($X get $S/f trusted.t)"
check "the snapshot: the old big value" $X getn $S/f user.big 20000 1
check_eq "the snapshot refuses changes: EROFS" EROFS "$($X set $S/f user.a x)"
umount $S
/tests/pmpoke $DEV sb 44 4 0 # clear SB_CLEAN: the next mount recovers
need "mount (recovery)" mount -t nova $DEV $M
check_eq "after recovery: user.a" after "$($X get $M/f user.a)"
check_eq "after recovery: trusted.t removed" ENODATA "$($X get $M/f trusted.t)"
check "after recovery: the new big value" $X getn $M/f user.big 30000 5
check "delete the snapshot" sh -c "echo $E >$P/delete_snapshot"

# Log GC: one 2000-byte value set once, then 1500 changes of a 1000-byte
# value (3 chunks each, across page boundaries). Every chunk of the live
# values must survive the collection.
echo g >$M/g
check "set user.keep (2000 bytes)" $X setn $M/g user.keep 2000 7
runs0=$(sed -n 's/^log_gc_runs //p' $P/stats)
check "1500 changes" $X churn $M/g user.v 1500 1000
runs1=$(sed -n 's/^log_gc_runs //p' $P/stats)
check "... log GC ran" test "$runs1" -gt "$runs0"
check "remount" remount
check "after GC: user.keep" $X getn $M/g user.keep 2000 7
check "after GC: the last user.v" $X getn $M/g user.v 1000 1499
check "consistent after GC" fsck_ok
umount $M
