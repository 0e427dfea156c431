# POSIX ACLs (issue 18) with the real setfacl/getfacl (Debian's acl,
# copied into the guest): system.posix_acl_access/default through the
# kernel's ACL helpers, as ext4. An access ACL sets the mode it implies in
# the same transaction, permission checks honour it (an unprivileged user
# run by runas), a new file or directory inherits its directory's default
# ACL (and the umask is applied where there is none), chmod rewrites the
# mask; kept across remount and recovery, by a snapshot (that epoch's
# ACL, and EROFS there) and by log GC; `noacl` turns them off. (Before:
# EOPNOTSUPP, and the umask was applied under a default ACL.)
# boots: 1
. /tests/lib.sh
P=/proc/fs/nova/pmem0
S=/tmp/snap
R=/tests/runas
mkdir -p $S
need "mount" mkfs_mount
need "setfacl and getfacl in the guest" sh -c "command -v setfacl && command -v getfacl"
# The access (acl) or default (dacl) ACL's entries getfacl prints (no
# comments), on one line.
acl() { getfacl -n -a "$@" 2>/dev/null | grep -v '^#' | grep . | tr '\n' ' ' | sed 's/ $//'; }
dacl() { getfacl -n -d "$@" 2>/dev/null | grep -v '^#' | grep . | tr '\n' ' ' | sed 's/ $//'; }
umask 022
echo data >$M/f
chmod 644 $M/f
check_eq "a new file: no ACL, mode 644" "user::rw- group::r-- other::r--" "$(acl $M/f)"
check_fails "uid 1000 cannot write it yet" $R 1000 1000 sh -c "echo x >>$M/f"
check "setfacl -m u:1000:rw" setfacl -m u:1000:rw $M/f
check_eq "getfacl" "user::rw- user:1000:rw- group::r-- mask::rw- other::r--" "$(acl $M/f)"
check_eq "the mode shows the mask as group bits (same transaction)" 664 "$(stat -c %a $M/f)"
check "uid 1000 may write now" $R 1000 1000 sh -c "echo by1000 >>$M/f"
check_fails "uid 1001 may not" $R 1001 1001 sh -c "echo x >>$M/f"
check "uid 1001 may read (other::r--)" $R 1001 1001 cat $M/f
check "getfattr lists system.posix_acl_access" sh -c "getfattr -m - $M/f | grep -qx system.posix_acl_access"
check "chmod 640" chmod 640 $M/f
check_eq "... rewrites the mask" "user::rw- user:1000:rw-	#effective:r-- group::r-- mask::r-- other::---" "$(acl $M/f)"
check_fails "... uid 1000 may no longer write" $R 1000 1000 sh -c "echo x >>$M/f"
check_fails "... nor uid 1001 read" $R 1001 1001 cat $M/f
check "chmod 664 again" chmod 664 $M/f
check_fails "setfacl by a non-owner: EPERM" $R 1000 1000 setfacl -m u:1001:r $M/f
# Default ACLs: inherited by new files and directories, no umask there.
mkdir $M/d
check "setfacl -d -m u:1000:rwx on a directory" setfacl -d -m u:1000:rwx $M/d
check_eq "getfacl -d" "user::rwx user:1000:rwx group::r-x mask::rwx other::r-x" "$(dacl $M/d)"
touch $M/d/new
check_eq "a new file inherits it" "user::rw- user:1000:rwx	#effective:rw- group::r-x	#effective:r-- mask::rw- other::r--" "$(acl $M/d/new)"
check_eq "... its mode from the ACL, not the umask (664)" 664 "$(stat -c %a $M/d/new)"
mkdir $M/d/sub
check_eq "a new directory inherits the default ACL too" "user::rwx user:1000:rwx group::r-x mask::rwx other::r-x" "$(dacl $M/d/sub)"
check_eq "... and its access ACL from it" "user::rwx user:1000:rwx group::r-x mask::rwx other::r-x" "$(acl $M/d/sub)"
check "uid 1000 creates in it" $R 1000 1000 sh -c "echo u >$M/d/sub/by1000"
mknod $M/d/fifo p
check_eq "a fifo inherits it" "user::rw- user:1000:rwx	#effective:rw- group::r-x	#effective:r-- mask::rw- other::r--" "$(acl $M/d/fifo)"
umask 027
touch $M/u
mkdir $M/ud
check_eq "no default ACL: the umask applies (027: 640 and 750)" "640 750" "$(stat -c %a $M/u) $(stat -c %a $M/ud)"
umask 022
# Removal.
cp /dev/null $M/g
setfacl -m u:1000:r,g:1000:rw $M/g
check "setfacl -x u:1000" setfacl -x u:1000 $M/g
check_eq "... leaves the group entry" "user::rw- group::r-- group:1000:rw- mask::rw- other::r--" "$(acl $M/g)"
check "setfacl -b" setfacl -b $M/g
check_eq "... no ACL left" "user::rw- group::r-- other::r--" "$(acl $M/g)"
check_fails "... and not listed" sh -c "getfattr -m - $M/g | grep -q posix_acl"
check "setfacl -k (default ACL removed)" setfacl -k $M/d/sub
check_eq "... none left" "" "$(dacl $M/d/sub)"
check_fails "a default ACL on a file: EACCES" setfacl -d -m u:1:r $M/g
before="$(acl $M/f) / $(dacl $M/d) / $(acl $M/d/new)"
check "consistent" fsck_ok
check "remount" remount
check_eq "after remount: the same ACLs" "$before" "$(acl $M/f) / $(dacl $M/d) / $(acl $M/d/new)"
check_eq "after remount: the mode" 664 "$(stat -c %a $M/f)"
check "after remount: uid 1000 may write" $R 1000 1000 sh -c "echo again >>$M/f"

# A snapshot keeps its epoch's ACL; read-only mounts refuse changes.
echo >$P/create_snapshot
E=$(awk '$1 ~ /^[0-9]+$/ {print $1; exit}' $P/snapshots)
check "setfacl -m u:1001:r after the snapshot" setfacl -m u:1001:r $M/f
check "setfacl -b on the directory's new file" setfacl -b $M/d/new
umount $M
need "snapshot mount" mount -t nova -o snapshot=$E $DEV $S
check_eq "the snapshot: the ACL of its epoch" "user::rw- user:1000:rw- group::r-- mask::rw- other::r--" "$(acl $S/f)"
check_eq "the snapshot: the removed ACL still there" "$(echo "$before" | sed 's|.* / ||')" "$(acl $S/d/new)"
check_fails "the snapshot refuses setfacl" setfacl -m u:1002:r $S/f
check "... with EROFS" sh -c "setfacl -m u:1002:r $S/f 2>&1 | grep -q 'Read-only'"
umount $S
/tests/pmpoke $DEV sb 44 4 0 # clear SB_CLEAN: the next mount recovers
need "mount (recovery)" mount -t nova $DEV $M
check_eq "after recovery: the new ACL" "user::rw- user:1000:rw- user:1001:r-- group::r-- mask::rw- other::r--" "$(acl $M/f)"
check "after recovery: the removed one stays removed" sh -c "! getfacl -n $M/d/new | grep -q 1000"
check "delete the snapshot" sh -c "echo $E >$P/delete_snapshot"

# Log GC keeps the live ACL: many chmods (each with its ACL rewrite).
runs0=$(sed -n 's/^log_gc_runs //p' $P/stats)
n=$(scale 1000 300)
i=0
while [ $i -lt $n ]; do
	chmod 660 $M/f
	chmod 640 $M/f
	i=$((i + 1))
done
runs1=$(sed -n 's/^log_gc_runs //p' $P/stats)
check "$n chmod pairs: log GC ran ($runs0 -> $runs1)" test "$runs1" -gt "$runs0"
check_eq "... the ACL follows the last mode" "user::rw- user:1000:rw-	#effective:r-- user:1001:r-- group::r-- mask::r-- other::---" "$(acl $M/f)"
check "remount" remount
check_eq "after GC and remount: the same" "user::rw- user:1000:rw-	#effective:r-- user:1001:r-- group::r-- mask::r-- other::---" "$(acl $M/f)"
check "consistent after GC" fsck_ok

# noacl: no ACLs (EOPNOTSUPP), the VFS applies the umask; acl again: back.
umount $M
need "mount -o noacl" mount -t nova -o noacl $DEV $M
check "/proc/mounts says noacl" grep -q "pmem0 $M nova .*noacl" /proc/mounts
check_fails "setfacl refused" setfacl -m u:1000:r $M/g
check_fails "the ACL is not listed" sh -c "getfattr -m - $M/f | grep -q posix_acl"
touch $M/d/noacl
check_eq "the umask applies in the directory with a default ACL" 644 "$(stat -c %a $M/d/noacl)"
umount $M
need "mount (acl)" mount -t nova $DEV $M
check_eq "the ACL is back" "user::rw- user:1000:rw-	#effective:r-- user:1001:r-- group::r-- mask::r-- other::---" "$(acl $M/f)"
check "consistent" fsck_ok
umount $M
need "mount -o ro" mount -t nova -o ro $DEV $M
check "a read-only mount refuses setfacl (EROFS)" sh -c "setfacl -m u:1002:r $M/f 2>&1 | grep -q 'Read-only'"
check_eq "... and keeps the ACL" "user::rw- user:1000:rw-	#effective:r-- user:1001:r-- group::r-- mask::r-- other::---" "$(acl $M/f)"
umount $M
