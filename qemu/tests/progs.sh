# The everyday tools on nova (issue 18), the real programs copied into
# the guest with their libraries: setfattr/getfattr (attr: a -d dump
# restored onto another file), xfs_io (fpunch, fzero, fcollapse, finsert, fiemap, chattr +i
# and +a, lsattr, shutdown) and filefrag -v (e2fsprogs). Each failed on
# nova before (EOPNOTSUPP, ENOTTY).
# boots: 1
. /tests/lib.sh
need "mount" mkfs_mount
need "the programs are in the guest" sh -c "command -v setfattr && command -v getfattr && command -v xfs_io && command -v filefrag"

# setfattr/getfattr.
echo f >$M/f
check "setfattr -n user.a" setfattr -n user.a -v hello $M/f
check_eq "getfattr --only-values" hello "$(getfattr -n user.a --only-values $M/f)"
check "setfattr a binary value and a trusted one" sh -c "setfattr -n user.bin -v 0x00ff10 $M/f && setfattr -n trusted.t -v tv $M/f"
check_eq "getfattr -e hex" "user.bin=0x00ff10" "$(getfattr -e hex -n user.bin $M/f | grep '^user')"
getfattr -d -m - -e hex $M/f >/tmp/dump
check "getfattr -d -m - dumps all three" test "$(grep -c '^[a-z]*\.[a-z]*=' /tmp/dump)" = 3
echo g >$M/g
sed "s|^# file: .*|# file: $M/g|" /tmp/dump >/tmp/dump.g
check "setfattr --restore onto another file" setfattr --restore=/tmp/dump.g
check_eq "... the same attributes" "$(grep = /tmp/dump)" "$(getfattr -d -m - -e hex $M/g | grep =)"
check "setfattr -x" setfattr -x user.a $M/f
check_fails "... getfattr: no such attribute" getfattr -n user.a $M/f
check_fails "an unknown namespace refused" setfattr -n bogus.a -v x $M/f

# xfs_io: fpunch, fzero, fiemap.
check "xfs_io pwrite 64 KiB" xfs_io -f -c "pwrite -S 0x61 0 64k" $M/p
check "xfs_io fpunch 8k 8k" xfs_io -c "fpunch 8k 8k" $M/p
check "xfs_io fzero 32k 4k" xfs_io -c "fzero 32k 4k" $M/p
check_eq "punched and zeroed bytes read 0, the rest stays" "61 00 00 61 00 61" \
	"$(for o in 8191 8192 16383 16384 32768 36864; do od -An -tx1 -j $o -N 1 $M/p | tr -d ' '; done | tr '\n' ' ' | sed 's/ $//')"
check_eq "size kept" 65536 "$(stat -c %s $M/p)"
xfs_io -c "fiemap -v" $M/p >/tmp/fiemap
sed 's/^/    | /' /tmp/fiemap
check "xfs_io fiemap: the punched range is a hole" grep -q '\[16\.\.31\]: *hole' /tmp/fiemap
check "xfs_io fiemap: data before and after it" sh -c "grep -q '\[0\.\..*[0-9] *[0-9]* *0x' /tmp/fiemap && grep -q '\[32\.\..*[0-9] *[0-9]* *0x' /tmp/fiemap"
# filefrag -v: two extents of a file with a hole between.
xfs_io -f -c "pwrite 0 4k" -c "pwrite 1m 4k" $M/sparse >/dev/null
filefrag -v $M/sparse >/tmp/frag
sed 's/^/    | /' /tmp/frag
# (Two extent records. Its "N extents found" counts physically
# discontiguous runs: two blocks the allocator happened to place side by
# side made it say 1.)
check_eq "filefrag -v: two extents" 2 "$(grep -cE '^ *[0-9]+: ' /tmp/frag)"
check "filefrag -v: logical offsets 0 and 256 (blocks)" sh -c "grep -q '^ *0: *0\.\.' /tmp/frag && grep -q '^ *1: *256\.\.' /tmp/frag"
check "filefrag -v: the last flagged" grep -q "last" /tmp/frag

# xfs_io fcollapse/finsert: 16 KiB of a, b, c, d (4 KiB each); collapse
# the b block, then insert a hole before d.
xfs_io -f -c "pwrite -S 0x61 0 4k" -c "pwrite -S 0x62 4k 4k" -c "pwrite -S 0x63 8k 4k" \
	-c "pwrite -S 0x64 12k 4k" $M/shift >/dev/null
check "xfs_io fcollapse 4k 4k" xfs_io -c "fcollapse 4k 4k" $M/shift
check_eq "collapsed: 12 KiB of a, c, d" "12288 acd" \
	"$(stat -c %s $M/shift) $(od -An -c -w4096 $M/shift | awk '{ printf "%s", $1 }')"
check "xfs_io finsert 8k 4k" xfs_io -c "finsert 8k 4k" $M/shift
check_eq "inserted: a, c, a hole, d" "16384 ac\\0d" \
	"$(stat -c %s $M/shift) $(od -An -c -w4096 $M/shift | awk '{ printf "%s", $1 }')"
check "xfs_io fiemap: the inserted range is a hole" sh -c "xfs_io -c 'fiemap -v' $M/shift | grep -q '\[16\.\.23\]: *hole'"
check_fails "xfs_io fcollapse reaching EOF is refused" xfs_io -c "fcollapse 8k 8k" $M/shift

# xfs_io chattr/lsattr: immutable and append-only, enforced.
echo i >$M/imm
check "xfs_io chattr +i" xfs_io -c "chattr +i" $M/imm
check "xfs_io lsattr shows it" sh -c "xfs_io -r -c lsattr $M/imm | grep -q '^-*i'"
check_fails "an immutable file refuses writes" sh -c "echo x >>$M/imm"
check_fails "... and unlink" rm -f $M/imm
check "xfs_io chattr -i (opened read-only)" xfs_io -r -c "chattr -i" $M/imm
echo a >$M/app
check "xfs_io chattr +a" xfs_io -c "chattr +a" $M/app
check "an append-only file takes appends" sh -c "echo b >>$M/app"
check_fails "... not overwrites (xfs_io pwrite 0)" xfs_io -c "pwrite 0 1" $M/app
check "... nor opens for writing without O_APPEND" sh -c "xfs_io -c 'pwrite 0 1' $M/app 2>&1 | grep -q 'not permitted'"
check "remount" remount
check "the flags survive: lsattr" sh -c "xfs_io -r -c lsattr $M/app | grep -q '^-*a'"
check "xfs_io chattr -a" xfs_io -r -c "chattr -a" $M/app
check "consistent" fsck_ok

# xfs_io shutdown: everything fails, the next mount recovers.
echo before >$M/s
check "xfs_io -x shutdown" xfs_io -x -c shutdown $M
check_fails "after the shutdown: create fails" touch $M/after
check_fails "... and reading" cat $M/s
umount $M
need "mount (recovery)" mount -t nova $DEV $M
check_eq "what was written before is there" before "$(cat $M/s)"
check_fails "nothing made after" test -e $M/after
check "consistent" fsck_ok
umount $M
