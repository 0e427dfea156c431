# fallocate modes (issue 18): PUNCH_HOLE and ZERO_RANGE are copy-on-write
# changes committed at once: replayed at mount and by recovery, never
# applied in place under a snapshot (the snapshot still reads the punched
# data), and kept by log GC while an older write they hide stays.
# COLLAPSE_RANGE and INSERT_RANGE (shift.rs, EOPNOTSUPP before): the data
# after the offset moves by the length, as a copy-on-write rewrite in one
# transaction; checked against models built with head/tail, with their
# error cases, holes kept, mappings coherent, a snapshot still showing
# the file before, and after remount, recovery and log GC.
# boots: 1
# pmem: 64M
. /tests/lib.sh
P=/proc/fs/nova/pmem0
S=/tmp/snap
mkdir -p $S
need "mount" mkfs_mount
dd if=/dev/urandom of=/tmp/orig bs=4096 count=16 2>/dev/null
cp /tmp/orig $M/f
echo >$P/create_snapshot
E=$(awk '$1 ~ /^[0-9]+$/ {print $1; exit}' $P/snapshots)
check "punch [8192, 41060)" falloc $M/f punch 8192 32868
check "zero range [45063, 53248)" falloc $M/f zero 45063 8185
{
	head -c 8192 /tmp/orig
	head -c 32868 /dev/zero
	head -c 45063 /tmp/orig | tail -c 4003
	head -c 8185 /dev/zero
	tail -c +53249 /tmp/orig
} >/tmp/want
check "content: zeros in both ranges, the rest unchanged" cmp $M/f /tmp/want
check_eq "size unchanged" 65536 "$(stat -c %s $M/f)"
# Pages 2-9 punched (10 is a partial copy); the zeroed pages are allocated.
check_eq "st_blocks: 8 of 16 pages left" 64 "$(stat -c %b $M/f)"
check_fails "PUNCH_HOLE on a directory refused" falloc $M punch 0 4096
check "consistent" fsck_ok
check "remount" remount
check "content after remount (hole entries replayed)" cmp $M/f /tmp/want
check_eq "st_blocks after remount" 64 "$(stat -c %b $M/f)"
umount $M
need "snapshot mount" mount -t nova -o snapshot=$E $DEV $S
check "the snapshot reads the data before the punch" cmp $S/f /tmp/orig
umount $S
/tests/pmpoke $DEV sb 44 4 0 # clear SB_CLEAN: the next mount recovers
need "mount (recovery)" mount -t nova $DEV $M
check "content after recovery" cmp $M/f /tmp/want
check "consistent after recovery" fsck_ok
check "delete the snapshot" sh -c "echo $E >$P/delete_snapshot"
check "consistent after the cleaner" fsck_ok

# Log GC: g's first write (4 pages) stays for pages 2-3; its page 1 is
# punched, on another log page (150 overwrites of page 0 between); then
# 2000 overwrites of page 0 fill the log. A GC that dropped the hole entry
# but kept the first write would bring page 1 back.
dd if=/dev/zero bs=4096 count=4 2>/dev/null | tr '\0' A >/tmp/g4
cp /tmp/g4 $M/g
logload overwrite $M/g 150 >/dev/null
check "punch page 1 of g" falloc $M/g punch 4096 4096
runs0=$(sed -n 's/^log_gc_runs //p' $P/stats)
check "2000 overwrites of page 0" logload overwrite $M/g 2000
runs1=$(sed -n 's/^log_gc_runs //p' $P/stats)
check "... log GC ran" test "$runs1" -gt "$runs0"
check "remount" remount
check_eq "page 1 still a hole" "$(head -c 4096 /dev/zero | md5sum)" "$(dd if=$M/g bs=4096 skip=1 count=1 2>/dev/null | md5sum)"
check_eq "pages 2-3 still the first write" "$(tail -c 8192 /tmp/g4 | md5sum)" "$(tail -c 8192 $M/g | md5sum)"
check "page 0 the last overwrite" logload verify $M/g
check "consistent after GC" fsck_ok
umount $M

# ---- COLLAPSE_RANGE and INSERT_RANGE ----
# fails_with MESSAGE CMD...: CMD fails and says MESSAGE (its errno).
fails_with() {
	msg=$1
	shift
	if out=$("$@" 2>&1); then
		echo "succeeded"
		return 1
	fi
	case "$out" in *"$msg"*) return 0 ;; esac
	echo "$out"
	return 1
}
zeros() { head -c $1 /dev/zero; }
# pages FILE: the pages that have a block (st_blocks / 8).
pages() { echo $(($(stat -c %b $1) / 8)); }
need "mount for the shifts" mount -t nova $DEV $M
# 67000 bytes: 16 whole pages and a partial one.
dd if=/dev/urandom of=/tmp/s bs=1000 count=67 2>/dev/null
for n in c0 c1 i0 i1 ic e m1 m2; do cp /tmp/s $M/$n; done
echo >$P/create_snapshot
E=$(awk '$1 ~ /^[0-9]+$/ {print $1; exit}' $P/snapshots)
tail -c +8193 /tmp/s >/tmp/c0
{ head -c 16384 /tmp/s; tail -c +28673 /tmp/s; } >/tmp/c1
{ zeros 8192; cat /tmp/s; } >/tmp/i0
{ head -c 20480 /tmp/s; zeros 4096; tail -c +20481 /tmp/s; } >/tmp/i1
{ head -c 65536 /tmp/s; zeros 8192; tail -c +65537 /tmp/s; } >/tmp/ic
check "collapse [0, 8192): the start" falloc $M/c0 collapse 0 8192
check "collapse [16384, 28672): the middle" falloc $M/c1 collapse 16384 12288
check "insert 8192 bytes at 0" falloc $M/i0 insert 0 8192
check "insert 4096 bytes at 20480" falloc $M/i1 insert 20480 4096
check "insert 8192 bytes at 65536 (in the partial last page)" falloc $M/ic insert 65536 8192
shifted_ok() {
	for n in c0 c1 i0 i1 ic; do
		cmp $M/$n /tmp/$n || return 1
	done
}
check "contents as the models" shifted_ok
check_eq "sizes: shrunk and grown by the length" "58808 54712 75192 71096 75192" \
	"$(stat -c %s $M/c0 $M/c1 $M/i0 $M/i1 $M/ic | tr '\n' ' ' | sed 's/ $//')"
check_eq "pages with blocks: 2 and 3 fewer, the same after an insert" "15 14 17 17 17" \
	"$(for n in c0 c1 i0 i1 ic; do pages $M/$n; done | tr '\n' ' ' | sed 's/ $//')"
check "insert then collapse the same range: the file as it was" \
	sh -c "falloc $M/i1 collapse 20480 4096 && cmp $M/i1 /tmp/s"
cp /tmp/s /tmp/i1

# Holes move with the data: pages 0-1 'A', 2-5 a hole, 6-9 'B'.
mkholes() {
	dd if=/dev/zero bs=4096 count=2 2>/dev/null | tr '\0' A >$1
	dd if=/dev/zero bs=4096 count=4 2>/dev/null | tr '\0' B |
		dd of=$1 bs=4096 seek=6 conv=notrunc 2>/dev/null
}
mkholes $M/h
mkholes /tmp/h
{ head -c 4096 /tmp/h; zeros 8192; tail -c +4097 /tmp/h; } >/tmp/hi
check_eq "holes before: data 0-8192 and 24576-40960" "0 8192,24576 40960," \
	"$(falloc $M/h segs 0 0 | tr '\n' ,)"
check "insert 8192 bytes at 4096 into the file with a hole" falloc $M/h insert 4096 8192
check "... content" cmp $M/h /tmp/hi
check_eq "... SEEK_DATA/SEEK_HOLE: the new hole, the moved hole" \
	"0 4096,12288 16384,32768 49152," "$(falloc $M/h segs 0 0 | tr '\n' ,)"
check_eq "... still 6 pages with blocks" 6 "$(pages $M/h)"
check "collapse it again" falloc $M/h collapse 4096 8192
check "... content as before" cmp $M/h /tmp/h
check_eq "... segments as before" "0 8192,24576 40960," "$(falloc $M/h segs 0 0 | tr '\n' ,)"
check "collapse [4096, 12288) (data and hole)" falloc $M/h collapse 4096 8192
{ head -c 4096 /tmp/h; tail -c +12289 /tmp/h; } >/tmp/hc
check "... content" cmp $M/h /tmp/hc
check_eq "... segments" "0 4096,16384 32768," "$(falloc $M/h segs 0 0 | tr '\n' ,)"
cp /tmp/hc /tmp/h

# Mappings made before a shift read the new content after it.
{ head -c 4096 /tmp/s; tail -c +12289 /tmp/s; } >/tmp/m1
{ head -c 8192 /tmp/s; zeros 4096; tail -c +8193 /tmp/s; } >/tmp/m2
check "a mapping made before a collapse reads the new content" falloc -m $M/m1 collapse 4096 8192
check "a mapping made before an insert reads the new content" falloc -m $M/m2 insert 8192 4096
check "... contents" sh -c "cmp $M/m1 /tmp/m1 && cmp $M/m2 /tmp/m2"

# Error cases (on e, 67000 bytes, and h, 32768: page-aligned).
check "collapse: unaligned offset: EINVAL" fails_with "Invalid argument" falloc $M/e collapse 1 4096
check "collapse: unaligned length: EINVAL" fails_with "Invalid argument" falloc $M/e collapse 4096 100
check "collapse: length 0: EINVAL" fails_with "Invalid argument" falloc $M/e collapse 4096 0
check "collapse: negative offset: EINVAL" fails_with "Invalid argument" falloc $M/e collapse -4096 4096
check "collapse: past the end: EINVAL" fails_with "Invalid argument" falloc $M/e collapse 61440 8192
check "collapse: reaching the end exactly: EINVAL" fails_with "Invalid argument" falloc $M/h collapse 28672 4096
check "collapse: the whole file: EINVAL" fails_with "Invalid argument" falloc $M/h collapse 0 32768
check "insert: unaligned offset: EINVAL" fails_with "Invalid argument" falloc $M/e insert 100 4096
check "insert: unaligned length: EINVAL" fails_with "Invalid argument" falloc $M/e insert 4096 4097
check "insert: at the end: EINVAL" fails_with "Invalid argument" falloc $M/h insert 32768 4096
check "insert: past the end: EINVAL" fails_with "Invalid argument" falloc $M/e insert 69632 4096
check "insert: past the largest size: EFBIG" fails_with "File too large" \
	falloc $M/e insert 0 9223372036854771712
# The VFS of this kernel refuses other flags with them (EOPNOTSUPP).
check_fails "collapse with KEEP_SIZE refused" falloc $M/e collapse-keep 0 4096
check_fails "insert with KEEP_SIZE refused" falloc $M/e insert-keep 0 4096
check_fails "collapse with insert refused" falloc $M/e collapse-insert 0 4096
check "... e unchanged by all of them" cmp $M/e /tmp/s
check "immutable (FS_IMMUTABLE_FL)" falloc $M/e flags 16 0
check "collapse of an immutable file: EPERM" fails_with "Operation not permitted" falloc $M/e collapse 0 4096
check "insert into an immutable file: EPERM" fails_with "Operation not permitted" falloc $M/e insert 0 4096
check "append-only (FS_APPEND_FL)" falloc $M/e flags 32 0
check "collapse of an append-only file: EPERM" fails_with "Operation not permitted" falloc $M/e collapse 0 4096
check "insert into an append-only file: EPERM" fails_with "Operation not permitted" falloc $M/e insert 0 4096
check "flags cleared" falloc $M/e flags 0 0
check "... e unchanged" cmp $M/e /tmp/s
check_fails "collapse of a directory refused" falloc $M collapse 0 4096
# ENOSPC: inserting into a file whose moving part needs more blocks than
# are free fails before the commit, changing nothing.
free0=$(free_blocks)
big=$(((free0 / 2 + 64) * 4096))
# (Blocks by fallocate, marked at both ends: cheap on the debug kernel.)
marks() { dd if=$M/big bs=4096 count=1 2>/dev/null | md5sum; tail -c 4096 $M/big | md5sum; stat -c '%s %b' $M/big; }
if : >$M/big && falloc $M/big alloc 0 $big && dd if=/tmp/s of=$M/big bs=4096 count=1 conv=notrunc 2>/dev/null &&
	dd if=/tmp/s of=$M/big bs=4096 count=1 seek=$((big / 4096 - 1)) conv=notrunc 2>/dev/null; then
	bsum=$(marks)
	fb=$(free_blocks)
	check "a shift that needs more blocks than are free: ENOSPC" \
		fails_with "No space left" falloc $M/big insert 0 4096
	check_eq "... frees what it took" "$fb" "$(free_blocks)"
	check_eq "... the file unchanged" "$bsum" "$(marks)"
	rm -f $M/big
else
	fail "ENOSPC set-up: a file of half the free space"
	rm -f $M/big
fi
# A file of 2048 one-page extents (256 on the debug kernel): a shift of
# it is 2047 FileWrite entries in one transaction (over 30 log pages).
N=$(scale 2048 256)
falloc /tmp/st stripes $N 0
check "a file of $N one-page extents" falloc $M/st stripes $N 0
{ head -c 4096 /tmp/st; zeros 8192; tail -c +4097 /tmp/st; } >/tmp/sti
lp0=$(sed -n 's/^log_pages_allocated //p' $P/stats)
check "insert 8192 bytes at 4096 into it" falloc $M/st insert 4096 8192
lp1=$(sed -n 's/^log_pages_allocated //p' $P/stats)
# (md5sum: busybox cmp reads a byte at a time)
msum() { md5sum <$1; }
check_eq "... content" "$(msum /tmp/sti)" "$(msum $M/st)"
check "... its transaction took over $((N / 64 - 2)) log pages" test $((lp1 - lp0)) -gt $((N / 64 - 2))
check "collapse them again" falloc $M/st collapse 4096 8192
check_eq "... the file as it was" "$(msum /tmp/st)" "$(msum $M/st)"
check "consistent after the shifts" fsck_ok
check "remount" remount
check "contents after remount" shifted_ok
check "... the hole file" cmp $M/h /tmp/hc
check "... the mapped ones" sh -c "cmp $M/m1 /tmp/m1 && cmp $M/m2 /tmp/m2"
check_eq "... the striped one" "$(msum /tmp/st)" "$(msum $M/st)"
check_eq "... segments after remount" "0 4096,16384 32768," "$(falloc $M/h segs 0 0 | tr '\n' ,)"
check "a remounted file shifts again" falloc $M/c1 insert 16384 12288
{ head -c 16384 /tmp/s; zeros 12288; tail -c +28673 /tmp/s; } >/tmp/c1
check "... content" cmp $M/c1 /tmp/c1
# Log GC over a shifted file: the cut entry stays while the older writes
# it hides stay (2000 overwrites of page 0 fill the log).
runs0=$(sed -n 's/^log_gc_runs //p' $P/stats)
check "2000 overwrites of page 0 of c1" logload overwrite $M/c1 2000
runs1=$(sed -n 's/^log_gc_runs //p' $P/stats)
check "... log GC ran" test "$runs1" -gt "$runs0"
check "remount" remount
check_eq "pages 1 on as before the GC" "$(tail -c +4097 /tmp/c1 | md5sum)" "$(tail -c +4097 $M/c1 | md5sum)"
check "page 0 the last overwrite" logload verify $M/c1
head -c 4096 $M/c1 >/tmp/c1h && { cat /tmp/c1h; tail -c +4097 /tmp/c1; } >/tmp/c1g && mv /tmp/c1g /tmp/c1
check "consistent after GC" fsck_ok
umount $M
need "snapshot mount" mount -t nova -o snapshot=$E $DEV $S
check "the snapshot reads every file as before the shifts" \
	sh -c "for n in c0 c1 i0 i1 ic m1 m2; do cmp $S/\$n /tmp/s || exit 1; done"
check "a shift on the snapshot mount: EROFS" fails_with "Read-only file system" falloc $S/c0 collapse 0 4096
umount $S
/tests/pmpoke $DEV sb 44 4 0 # clear SB_CLEAN: the next mount recovers
need "mount (recovery)" mount -t nova $DEV $M
check "contents after recovery" sh -c "cmp $M/c0 /tmp/c0 && cmp $M/i0 /tmp/i0 && cmp $M/c1 /tmp/c1 && cmp $M/h /tmp/hc"
check "consistent after recovery" fsck_ok
check "delete the snapshot" sh -c "echo $E >$P/delete_snapshot"
check "consistent after the cleaner" fsck_ok
umount $M
