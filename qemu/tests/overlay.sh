# RENAME_WHITEOUT and overlayfs with nova as the upper layer (issue 18).
# renameat2(RENAME_WHITEOUT) leaves a whiteout (a character device 0:0)
# at the old name in the rename's transaction (EINVAL before). Then an
# overlay of a tmpfs lower dir and nova upper and work dirs: create,
# copy-up by a write, delete of a lower file and directory (whiteouts),
# rename of a lower file and directory, an opaque directory
# (trusted.overlay.opaque), readdir; the merged view is the same after
# the overlay's and nova's remounts and after recovery, and consistent.
# boots: 1
. /tests/lib.sh
W=/tests/renat
L=/tmp/lower
O=/tmp/ovl
need "mount" mkfs_mount
# chardev: "character special file MAJ:MIN" of a name.
kind() { stat -c '%F %t:%T' "$1" 2>&1; }
echo x >$M/x
mkdir $M/dd
echo y >$M/dd/y
check "renameat2 RENAME_WHITEOUT" $W $M/x $M/x2 whiteout
check_eq "the old name is a whiteout" "character special file 0:0" "$(kind $M/x)"
check_eq "the new name has the file" x "$(cat $M/x2)"
check "a directory across directories with a whiteout" $W $M/dd $M/x2dir whiteout
check_eq "... a whiteout at the old name" "character special file 0:0" "$(kind $M/dd)"
check_eq "... the directory moved" y "$(cat $M/x2dir/y)"
echo z >$M/z
check_eq "whiteout over an existing name with NOREPLACE: EEXIST" EEXIST "$($W $M/z $M/x2 whiteout+noreplace)"
check_eq "whiteout with EXCHANGE: EINVAL" EINVAL "$($W $M/z $M/x2 whiteout+exchange)"
check "whiteout over an existing name" $W $M/z $M/x2 whiteout
check_eq "... replaced it" z "$(cat $M/x2)"
check_eq "... and left a whiteout" "character special file 0:0" "$(kind $M/z)"
check "consistent" fsck_ok
check "remount" remount
check_eq "after remount: the whiteouts" "character special file 0:0 character special file 0:0 character special file 0:0" "$(kind $M/x) $(kind $M/dd) $(kind $M/z)"
check "... are removable" rm $M/x $M/dd $M/z
rm -rf $M/x2 $M/x2dir

# overlayfs: tmpfs lower, nova upper and work.
mkdir -p $L $O
mount -t tmpfs tmpfs $L
echo la >$L/a
echo lb >$L/b
echo lc >$L/c
mkdir $L/d $L/e $L/f
echo dx >$L/d/x
echo ey >$L/e/y
echo fz >$L/f/z
mkdir $M/upper $M/work
ovl() { mount -t overlay overlay -o lowerdir=$L,upperdir=$M/upper,workdir=$M/work $O; }
dmesg -c >/dev/null
need "mount overlay (nova upper)" ovl
check "overlayfs found every feature it wants on nova" sh -c "! dmesg | grep -i overlayfs | grep -i 'not support\|fall.*back\|disabl'"
dmesg | grep -i overlay | sed 's/^/    dmesg: /'
echo new >$O/new
check "create" test "$(cat $O/new)" = new
check "copy-up: append to a lower file" sh -c "echo more >>$O/a"
check_eq "... merged view" "la more" "$(cat $O/a | tr '\n' ' ' | sed 's/ $//')"
check_eq "... lower untouched" la "$(cat $L/a)"
check_eq "... upper has the copy" "la more" "$(cat $M/upper/a | tr '\n' ' ' | sed 's/ $//')"
check "delete a lower file" rm $O/b
check_fails "... gone from the merged view" test -e $O/b
check_eq "... a whiteout in upper" "character special file 0:0" "$(kind $M/upper/b)"
check "rename a lower file" mv $O/c $O/c2
check_eq "... merged view" "lc" "$(cat $O/c2)"
check_fails "... old name gone" test -e $O/c
check "rename a lower directory" mv $O/d $O/d2
check_eq "... its file" dx "$(cat $O/d2/x)"
check_fails "... old name gone" test -e $O/d
check "delete a lower directory" rm -r $O/e
check_fails "... gone" test -e $O/e
check "a new directory where a lower one was" sh -c "rm -r $O/f && mkdir $O/f && echo nf >$O/f/n"
check_eq "... opaque: only the new file" "n" "$(ls $O/f | tr '\n' ' ' | sed 's/ $//')"
check "... trusted.overlay.opaque on nova" sh -c "getfattr -n trusted.overlay.opaque --only-values $M/upper/f | grep -q y"
view() { (cd $O && find . | sort | while read p; do if [ -f "$p" ]; then echo "$p=$(cat $p | tr '\n' ,)"; else echo "$p"; fi; done) | tr '\n' ' '; }
expect=". ./a=la,more, ./c2=lc, ./d2 ./d2/x=dx, ./f ./f/n=nf, ./new=new,"
check_eq "readdir: the merged view" "$expect" "$(view | sed 's/ $//')"
check "umount overlay" umount $O
check "consistent" fsck_ok
check "remount nova" remount
need "mount overlay again" ovl
check_eq "the merged view after both remounts" "$expect" "$(view | sed 's/ $//')"
check "change after remount: delete the copied-up file" rm $O/a
check_eq "... gone, a whiteout now" "character special file 0:0" "$(kind $M/upper/a)"
umount $O
umount $M
/tests/pmpoke $DEV sb 44 4 0 # clear SB_CLEAN: the next mount recovers
need "mount (recovery)" mount -t nova $DEV $M
need "mount overlay after recovery" ovl
check_eq "the merged view after recovery" "$(echo "$expect" | sed 's| ./a=la,more,||')" "$(view | sed 's/ $//')"
umount $O
check "consistent" fsck_ok
umount $M
umount $L
