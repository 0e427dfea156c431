# Reflink copies (issue 19): FICLONE, FICLONERANGE and FIDEDUPERANGE make
# files share blocks; a shared block is never written in place (writes,
# mapped stores and data=inplace writes copy it), it goes back to the
# allocator only when its last user (file extent or snapshot item) drops
# it, the users are counted again from the logs at every mount of an
# image with reflink copies (format version 2), and `check` compares that
# count with the one in memory. Phase 2 boots after a crash with shared
# blocks in use.
# boots: 2
# pmem: 256M
. /tests/lib.sh
P=/proc/fs/nova/pmem0
S=/mnt/snap
R=/tests/reflinkt
shared() { sed -n 's/.* shared \([0-9]*\) shared-bad.*/\1/p' $P/check; }
version() { echo 3 >/proc/sys/vm/drop_caches; dd if=$DEV bs=1 skip=8 count=1 2>/dev/null | od -An -tu1 | tr -d ' '; }
phase=${1:-1}
mkdir -p $S
if [ "$phase" = 1 ]; then
	need "mount" mkfs_mount
	dd if=/dev/urandom of=$M/a bs=4k count=64 2>/dev/null
	cp $M/a /tmp/a
	check_eq "a fresh image is format version 1" 1 "$(version)"
	f0=$(free_blocks)
	need "FICLONE" $R clone $M/a $M/b
	check "the clone reads as the source" cmp $M/a $M/b
	took=$((f0 - $(free_blocks)))
	check "no data block taken, only the new file's log ($took)" [ $took -le 2 ]
	check_eq "format version 2 once blocks are shared" 2 "$(version)"
	check "consistent" fsck_ok
	check_eq "64 blocks with two users" 64 "$(shared)"
	check_eq "st_blocks of the clone counts its extents" 512 "$(stat -c %b $M/b)"
	if [ -x /usr/bin/filefrag ]; then
		check "filefrag -v shows the extents shared" sh -c "filefrag -v $M/b | grep -q shared"
	fi
	# Writes to either side leave the other intact.
	dd if=/dev/zero of=$M/b bs=4k count=2 seek=3 conv=notrunc 2>/dev/null
	check "a write to the clone leaves the source" cmp $M/a /tmp/a
	dd if=/dev/zero of=$M/a bs=4k count=1 seek=10 conv=notrunc 2>/dev/null
	{ head -c 12288 /tmp/a; head -c 8192 /dev/zero; tail -c +20481 /tmp/a; } >/tmp/b
	check "a write to the source leaves the clone" cmp $M/b /tmp/b
	check_eq "61 blocks still shared" 61 "$(shared)"
	check "consistent after writes" fsck_ok
	# data=inplace writes shared blocks by copy too.
	umount $M
	dmesg -c >/dev/null
	need "mount data=inplace" mount -t nova -o data=inplace $DEV $M
	check "a clean mount (the shared ranges were saved)" sh -c "dmesg | grep -q 'pmem0: clean mount'"
	check_eq "with the shared count" 61 "$(shared)"
	dd if=/dev/zero of=$M/a bs=4k count=1 seek=20 conv=notrunc 2>/dev/null
	check "an in-place write to a shared block leaves the clone" cmp $M/b /tmp/b
	check_eq "60 blocks still shared" 60 "$(shared)"
	umount $M
	need "mount" mount -t nova $DEV $M
	# Mapped stores copy a shared block at their first write fault.
	$R clone $M/b $M/c
	cp $M/c /tmp/c
	check "a store through a mapping of a clone" /tests/mmapstore $M/c 8192 1 0x58
	check "... leaves its source" cmp $M/b /tmp/b
	check "... and changes the clone" sh -c "[ \"\$(dd if=$M/c bs=1 skip=8192 count=1 2>/dev/null)\" = X ]"
	check "consistent after mapped stores" fsck_ok
	# Both sides mapped for reading at once: no warning from the DAX code.
	dmesg -c >/dev/null
	$R clone $M/b $M/c2
	check "both sides mapped together" $R mapboth $M/b $M/c2
	check "... without a warning" sh -c "! dmesg | grep -q 'WARNING'"
	# FICLONERANGE into the middle of a file; source holes become holes.
	dd if=/dev/urandom of=$M/h bs=4k count=4 2>/dev/null
	dd if=/dev/urandom of=$M/h bs=4k count=4 seek=8 2>/dev/null
	dd if=/dev/urandom of=$M/m bs=4k count=16 2>/dev/null
	cp $M/h /tmp/h
	cp $M/m /tmp/m
	check "FICLONERANGE 12 pages with a hole into the middle" $R range $M/h 0 $M/m 8192 49152
	{ head -c 8192 /tmp/m; head -c 49152 /tmp/h; tail -c +57345 /tmp/m; } >/tmp/mm
	check "the destination has the range" cmp $M/m /tmp/mm
	check_eq "the hole stays a hole (8 of 16 pages mapped from h)" $((12 * 8)) "$(stat -c %b $M/m)"
	check "within one file, at another offset" $R range $M/m 40960 $M/m 0 8192
	{ tail -c +40961 /tmp/mm | head -c 8192; tail -c +8193 /tmp/mm; } >/tmp/mm2
	check "... reads as expected" cmp $M/m /tmp/mm2
	check_fails "an overlapping range within one file: EINVAL" $R range $M/m 0 $M/m 4096 8192
	check_fails "an unaligned offset: EINVAL" $R range $M/h 100 $M/m 0 4096
	check_fails "a directory: refused" $R clone $M $M/x
	check "consistent after ranges" fsck_ok
	# A clone past the end of file: bytes a mapping stored past the old
	# end (in its last page) must not show (the page is copied with them
	# cleared first).
	echo hello >$M/e
	/tests/mmapstore -e $M/e 100 200 0x41 >/dev/null
	check "a clone past the end of file" $R range $M/h 0 $M/e 8192 4096
	check_eq "... the bytes stored past the old end read as zeros" 0 "$(head -c 8192 $M/e | tail -c +7 | tr -d '\000' | wc -c)"
	check "... the cloned range reads as its source" sh -c "tail -c +8193 $M/e | cmp - /tmp/h -n 4096"
	# The source's partial last block goes with a clone to its end.
	head -c 10000 /dev/urandom >$M/p
	check "a file with a partial last block" $R clone $M/p $M/p2
	check "... reads as the source" cmp $M/p $M/p2
	check_eq "... with its size" 10000 "$(stat -c %s $M/p2)"
	# What users type: GNU cp --reflink=always, and xfs_io's reflink
	# and dedupe commands (fstests' _require_scratch_reflink).
	if [ -x /usr/bin/cp-coreutils ]; then
		check "cp --reflink=always" cp-coreutils --reflink=always $M/p $M/gnu
		check "... reads as the source" cmp $M/p $M/gnu
	fi
	if [ -x /usr/bin/xfs_io ]; then
		check "xfs_io -c reflink" sh -c "xfs_io -f -c 'reflink $M/h 0 0 16384' $M/xr >/dev/null"
		check "... reads as the source's range" sh -c "head -c 16384 $M/h | cmp - $M/xr"
		check "xfs_io -c dedupe" sh -c "xfs_io -c 'dedupe $M/h 0 0 16384' $M/xr | grep -q 'deduped 16384'"
	fi
	# Dedupe: equal ranges share their blocks, unequal ones do not.
	dd if=/dev/urandom of=$M/d1 bs=4k count=8 2>/dev/null
	cp $M/d1 $M/d2
	fd=$(free_blocks)
	check_eq "dedupe of equal ranges" "same 32768" "$($R dedupe $M/d1 0 $M/d2 0 32768)"
	check_eq "frees the duplicate's blocks" $((fd + 8)) "$(free_blocks)"
	check "both still read the same" cmp $M/d1 $M/d2
	dd if=/dev/urandom of=$M/d3 bs=4k count=8 2>/dev/null
	check_eq "dedupe of unequal ranges" "differs" "$($R dedupe $M/d1 0 $M/d3 0 32768)"
	check "consistent after dedupe" fsck_ok
	# Many clones, clones of clones; deleting every copy frees every block.
	fm=$(free_blocks)
	sm=$(shared)
	mkdir $M/n
	for i in $(seq 1 20); do $R clone $M/a $M/n/$i || break; done
	$R clone $M/n/20 $M/n/nn
	check "20 clones and a clone of a clone read as the source" sh -c "for f in $M/n/* ; do cmp $M/a \$f || exit 1; done"
	check "21 clones of 64 blocks took at most 3 blocks each (their logs)" [ $((fm - $(free_blocks))) -le 63 ]
	check "consistent with 23 users of a block" fsck_ok
	rm -r $M/n
	check_eq "deleting the copies leaves the blocks shared as before" "$sm" "$(shared)"
	check "... with no block leaked or freed twice" fsck_ok
	fa=$(free_blocks)
	rm $M/a
	freed=$(($(free_blocks) - fa))
	check "deleting the source frees its 4 own blocks and its log, not the 60 it shares ($freed)" [ $freed -ge 4 -a $freed -lt 20 ]
	check "consistent after deletions" fsck_ok
	# Snapshots before and after clones.
	dd if=/dev/urandom of=$M/s bs=4k count=16 2>/dev/null
	md5sum <$M/s >/tmp/s.sum
	echo >$P/create_snapshot
	E1=$(awk '$1 ~ /^[0-9]+$/ {e=$1} END {print e}' $P/snapshots)
	$R clone $M/s $M/s2
	echo >$P/create_snapshot
	E2=$(awk '$1 ~ /^[0-9]+$/ {e=$1} END {print e}' $P/snapshots)
	dd if=/dev/zero of=$M/s bs=4k count=16 conv=notrunc 2>/dev/null
	rm $M/s2
	check "consistent with snapshots holding shared blocks" fsck_ok
	sc=$(shared)
	umount $M
	check "fsck.nova -n -v: the saved shared ranges match the logs" sh -c "fsck.nova -n -v $DEV >/tmp/fsck.txt; r=\$?; cat /tmp/fsck.txt; [ \$r = 0 ] && grep -q 'shared data blocks: $sc ' /tmp/fsck.txt"
	need "remount" mount -t nova $DEV $M
	check "snapshot $E2 mounts" mount -t nova -o snapshot=$E2 $DEV $S
	check "... its source reads as before" sh -c "md5sum <$S/s | cmp - /tmp/s.sum"
	check "... and its clone" sh -c "md5sum <$S/s2 | cmp - /tmp/s.sum"
	check_fails "a clone from a view into the live file system: EXDEV" $R clone $S/s $M/fromview
	dmesg -c >/dev/null
	check "a file mapped in the view and in the live file system at once" $R mapboth $S/h $M/h
	check "... without a warning" sh -c "! dmesg | grep -q 'WARNING'"
	# An instant restore from a snapshot: copy_file_range from a view
	# into the live file system shares the snapshot's blocks.
	fr0=$(free_blocks)
	check "copy_file_range from a view restores a file" $R copy $S/s $M/restored
	check "... with the snapshot's data" sh -c "md5sum <$M/restored | cmp - /tmp/s.sum"
	check "... sharing its blocks (only a log page taken)" [ $((fr0 - $(free_blocks))) -le 1 ]
	check "... consistent" fsck_ok
	umount $S
	if [ -x /usr/bin/cp-coreutils ]; then
		fr0=$(free_blocks)
		check "GNU cp from .snapshots restores by sharing (copy_file_range)" cp-coreutils $M/.snapshots/$E2/s $M/restored3
		check "... the snapshot's data" sh -c "md5sum <$M/restored3 | cmp - /tmp/s.sum"
		check "... sharing its blocks" [ $((fr0 - $(free_blocks))) -le 1 ]
		check_fails "cp --reflink=always cannot cross mounts (EXDEV in the VFS)" cp-coreutils --reflink=always $M/.snapshots/$E2/s $M/restored4
	fi
	check "the same through .snapshots" $R copy $M/.snapshots/$E2/s2 $M/restored2
	check "... with the snapshot's data" sh -c "md5sum <$M/restored2 | cmp - /tmp/s.sum"
	check "copy_file_range within the file system shares too" $R copy $M/p $M/p3
	check "... and reads the same" cmp $M/p $M/p3
	check "delete snapshot $E1" sh -c "echo $E1 >$P/delete_snapshot"
	check "consistent" fsck_ok
	check "delete snapshot $E2" sh -c "echo $E2 >$P/delete_snapshot"
	check "consistent after both deletions" fsck_ok
	if [ -x /usr/bin/filefrag ]; then
		check "filefrag -v: an unshared file's extents are not shared" sh -c "! filefrag -v $M/d3 | grep -q shared"
	fi
	check "the restored files keep the data" sh -c "md5sum <$M/restored | cmp - /tmp/s.sum && md5sum <$M/restored2 | cmp - /tmp/s.sum"
	# A source of more than 4096 runs is cloned in parts.
	nf=$(scale 8200 8200)
	$R frag $M/frag $nf
	check "a clone of $((nf / 2)) one-page runs" $R clone $M/frag $M/frag2
	check "... reads as the source" cmp $M/frag $M/frag2
	check_eq "... with its holes" "$(stat -c %b $M/frag)" "$(stat -c %b $M/frag2)"
	check "consistent" fsck_ok
	rm $M/frag $M/frag2
	# Random clones, dedupes and range copies among 4 files, with writes,
	# truncates, fallocate modes and mapped stores, against fsx's model.
	mkdir $M/fsx $M/fsxm
	fo=$(scale 3000 800)
	check "fsx -R: $fo ops with reflink operations, seed 11" sh -c "fsx -R -s 11 -n $fo -f 4 $M/fsx >/tmp/fsx.out"
	cat /tmp/fsx.out
	check "... clones, refusals, equal and unequal dedupes all ran" grep -q 'clones=[1-9][0-9]* refused=[1-9][0-9]* dedupe same=[1-9][0-9]* differs=[1-9]' /tmp/fsx.out
	check "fsx -R -m: with mapped loads and stores, seed 12" fsx -R -m -s 12 -n $fo -f 4 $M/fsxm
	check "consistent after fsx" fsck_ok
	rm -r $M/fsx $M/fsxm
	# Log GC of a log full of clone entries.
	dd if=/dev/urandom of=$M/g bs=4k count=4 2>/dev/null
	n=$(scale 400 60)
	for i in $(seq 1 $n); do $R range $M/g 0 $M/gc 0 16384 || break; done
	check "$n clones into one file" cmp $M/g $M/gc
	check "consistent after its log GC" fsck_ok
	echo "stats: $(grep log_gc_runs $P/stats)"
	# Remount: the users are counted again.
	fr=$(free_blocks)
	sh0=$(shared)
	umount $M
	need "remount" mount -t nova $DEV $M
	check_eq "the same free count" "$fr" "$(free_blocks)"
	check_eq "the same shared count" "$sh0" "$(shared)"
	check "consistent" fsck_ok
	umount $M
	check "fsck.nova accepts the image" fsck.nova -n $DEV
	# A spoilt saved list: the mount counts the users from the logs.
	hb=$(nova-inspect $DEV sb | sed -n 's/^ *held *block \([0-9]*\).*/\1/p' | head -n 1)
	check "the shared ranges are saved in the held-list chain" [ -n "$hb" ]
	poke $((hb * 4096 + 16 + 32)) '\377'
	dmesg -c >/dev/null
	need "mount with the saved list spoilt" mount -t nova $DEV $M
	check "... warns and scans" sh -c "dmesg | grep -q 'saved held lists not trusted'"
	check_eq "... with the same free count" "$fr" "$(free_blocks)"
	check_eq "... and shared count" "$sh0" "$(shared)"
	check "consistent" fsck_ok
	umount $M
	# Clones cost per run of blocks, not per byte: a 1 MiB and a 100 MiB
	# file each written in one write (one run each) clone in about the
	# same time; a 100 MiB file written in 100 writes of 1 MiB takes up
	# to one entry per write (reported).
	need "mount" mount -t nova $DEV $M
	mb=$(scale 100 20)
	dd if=/dev/zero of=$M/small bs=1M count=1 2>/dev/null
	dd if=/dev/zero of=$M/big bs=${mb}M count=1 2>/dev/null
	dd if=/dev/zero of=$M/big100 bs=1M count=$mb 2>/dev/null
	t1=$($R time $M/small $M/small2)
	tb=$($R time $M/big $M/big2)
	t100=$($R time $M/big100 $M/big1002)
	echo "clone time: 1 MiB ${t1} us, $mb MiB (one write) ${tb} us, $mb MiB ($mb writes) ${t100} us"
	check "a $mb MiB clone of one run takes about the time of a 1 MiB one" [ "$tb" -lt $((t1 * 4 + 5000)) ]
	check "... and reads the same" cmp $M/big $M/big2
	check "... and the $mb-write one too" cmp $M/big100 $M/big1002
	rm $M/big $M/big2 $M/big100 $M/big1002
	# A crash with shared blocks: recovery counts them.
	$R clone $M/g $M/g2
	dd if=/dev/zero of=$M/g bs=4k count=1 conv=notrunc 2>/dev/null
	cat $M/g2 | md5sum >$M/g2.sum
	shared >$M/shared
	sync
else
	need "mount after the crash" mount -t nova $DEV $M
	check "recovered" sh -c "dmesg | grep -q 'recovered after unclean shutdown'"
	check "the clone reads as before" sh -c "md5sum <$M/g2 | cmp - $M/g2.sum"
	check_eq "the shared count" "$(cat $M/shared)" "$(shared)"
	check "consistent" fsck_ok
	umount $M
fi
