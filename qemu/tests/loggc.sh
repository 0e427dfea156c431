# Log GC: the log of a file overwritten a million times and of a directory
# with 100,000 create/unlink pairs stays bounded (log pages in use and
# free blocks from /proc/fs/nova/pmem0/stats), live entries scattered
# over many pages get copied into a compact log, content stays right,
# a snapshot still sees what it saw, and remount and crash recovery
# (a power cut in the middle of an overwrite loop) still work. Files
# with random writes of 1-4 blocks (with and without truncates and hole
# punches among them) keep their content through many collections and a
# remount: collections judged by the live index (no cut in the log, no
# snapshot) and by a full replay both drop only what replay does not
# need; those of a large file written at random find nothing to do
# without reading its log.
# boots: 2
# cutoff: 30
# cutoff-debug: 15
. /tests/lib.sh
# run DESC CMD...: like check, with the command's output on the console.
run() {
	d=$1
	shift
	if "$@"; then pass "$d"; else fail "$d"; fi
}
P=/proc/fs/nova/pmem0
stat() { sed -n "s/^$1 //p" $P/stats; }
# A million overwrites; 2% of that on the (slow) debug kernel. Each run
# checked against a bound of 80 log pages must append more than 80 pages
# of entries (63 a page) without GC, or the bound could not fail: 20,000
# overwrites (317 pages), 5,000 create/unlink pairs (158) and, after the
# snapshot, 8,000 overwrites (127; 2,000 made only 32).
N=1000000
C=100000 S=20000 X=30000
is_debug && N=20000 C=5000 S=8000 X=8000
phase=${1:-1}
if [ "$phase" = 1 ]; then
	mkfs_mount || exit 1
	# Overwrite until the power is cut (possibly in the middle of a GC).
	logload overwrite $M/hot 0
	exit 0
fi
need "mount after the cut-off (recovery)" mount -t nova $DEV $M
check "recovery happened" sh -c "dmesg | grep -q 'recovered after unclean shutdown'"
run "after the cut the block is one whole write" logload verify $M/hot
check "consistent after recovery" fsck_ok
start=$(free_blocks)
t0=$(date +%s)
run "$N overwrites of one block, log pages in use stay <= 80" logload -m 80 overwrite $M/one $N
echo "overwrites took $(($(date +%s) - t0)) s"
check "the last write is there" logload verify $M/one $((N - 1))
check "log GC ran" test "$(stat log_gc_runs)" -gt 10
check "fast GC freed pages" test "$(stat log_gc_fast_pages)" -gt $((N / 200))
mkdir $M/d
t0=$(date +%s)
run "$C create/unlink pairs, log pages in use stay <= 80" logload -m 80 churn $M/d $C
echo "churn took $(($(date +%s) - t0)) s"
check_eq "the directory is empty" "" "$(ls $M/d)"
copies=$(stat log_gc_copies)
run "630 blocks with live entries on every log page" logload sparse $M/sparse 630
check "thorough GC copied a log" test "$(stat log_gc_copies)" -gt "$copies"
check "sparse content right" logload sparse-verify $M/sparse 630
rm $M/sparse
check "free blocks stay bounded (start $start, now $(free_blocks))" test "$(free_blocks)" -ge $((start - 200))
check "consistent" fsck_ok
check "log GC judged logs by the live index" test "$(stat log_gc_lite)" -gt 10
# Random writes only: collections judged by the live index, entries
# partly overwritten; then with truncates and punches: full replays.
runs=$(stat log_gc_runs) lite=$(stat log_gc_lite)
run "$X random writes, content checked against a model" logload mixed $M/mw $X 1 100
check "collections ran, judged by the live index" test "$(stat log_gc_lite)" -ge $((lite + 3))
runs=$(stat log_gc_runs) lite=$(stat log_gc_lite)
run "$X writes, truncates and punches, checked against a model" logload mixed $M/mc $X 2 90
check "collections ran, some by a full replay (cuts in the log)" \
	test "$(($(stat log_gc_runs) - runs))" -gt "$(($(stat log_gc_lite) - lite))" -a "$(stat log_gc_runs)" -ge $((runs + 3))
mw=$(md5sum <$M/mw) mc=$(md5sum <$M/mc)
# A file with a page past 4 GiB: too wide for the full replay's table of
# last writers (2^20 pages), so its collections replay with an index.
far=$((1 << 20))
dd if=/dev/urandom of=$M/wide bs=4k count=1 seek=$far 2>/dev/null
wide=$(dd if=$M/wide bs=4k skip=$far 2>/dev/null | md5sum)
# A snapshot keeps the entry it sees while GC collects around it.
echo > $P/create_snapshot
s=$(stat epoch)
s=$((s - 1))
lite=$(stat log_gc_lite) runs=$(stat log_gc_runs)
run "overwrites after a snapshot" logload -m 80 overwrite $M/one $S
check "collections ran beside the snapshot" test "$(stat log_gc_runs)" -gt "$runs"
check_eq "none judged by the live index (the snapshot needs death epochs)" "$lite" "$(stat log_gc_lite)"
check "the last write is there" logload verify $M/one $((S - 1))
ix=$(stat log_gc_indexed)
run "overwrites of the wide file beside the snapshot" logload overwrite $M/wide 4000
check "its collections replayed with an index" test "$(stat log_gc_indexed)" -gt "$ix"
check "its last write is there" logload verify $M/wide 3999
check_eq "and its page past 4 GiB" "$wide" "$(dd if=$M/wide bs=4k skip=$far 2>/dev/null | md5sum)"
check "remount" remount
check "after remount too" logload verify $M/one $((S - 1))
check_eq "random writes' content after remount" "$mw" "$(md5sum <$M/mw)"
check_eq "writes, truncates and punches after remount" "$mc" "$(md5sum <$M/mc)"
check "the wide file's last write after remount" logload verify $M/wide 3999
check_eq "its page past 4 GiB after remount" "$wide" "$(dd if=$M/wide bs=4k skip=$far 2>/dev/null | md5sum)"
check "consistent after remount" fsck_ok
umount $M
check "mount the snapshot" mount -t nova -o snapshot=$s $DEV $M
check "the snapshot sees the write before it" logload verify $M/one $((N - 1))
umount $M
check "mount again" mount -t nova $DEV $M
check "delete the snapshot" sh -c "echo $s > $P/delete_snapshot"
check "the live file after deleting the snapshot" logload verify $M/one $((S - 1))
# A large file written at random (the snapshot gone): until most of its
# log is dead every collection has nothing to do, and the index alone
# shows it (no entry read).
nw=$(stat log_gc_no_walk)
run "8000 random writes over 4096 blocks, checked against a model" logload mixed $M/mb 8000 3 100 4096
check "collections found nothing to do without reading the log" test "$(stat log_gc_no_walk)" -ge $((nw + 2))
# A smaller one: copied, reading only the writes the index names (after
# a first collection that read the whole log: a remount forgets which
# pages hold other entries).
sp=$(stat log_gc_sparse) cp=$(stat log_gc_copies)
run "12000 random writes over 1024 blocks, checked against a model" logload mixed $M/ms 12000 4 100 1024
check "collections read only the named writes" test "$(stat log_gc_sparse)" -ge $((sp + 1))
check "and copied the log" test "$(stat log_gc_copies)" -gt "$cp"
# Its mode changed between writes: the page of that entry is read whole
# by every such collection, and the change stays.
chmod 604 $M/ms
sp=$(stat log_gc_sparse)
run "12000 more random writes after a mode change" pmbench randwrite $M/ms 4 12000
check "collections read only the named writes again" test "$(stat log_gc_sparse)" -ge $((sp + 1))
mb=$(md5sum <$M/mb) ms=$(md5sum <$M/ms)
check "remount with the large files" remount
check_eq "the large file after remount" "$mb" "$(md5sum <$M/mb)"
check_eq "the smaller one after remount" "$ms" "$(md5sum <$M/ms)"
check_eq "its mode after remount" "604" "$(command stat -c %a $M/ms)"
# A directory of many new names: every entry stays, so its collections
# are judged by its live names alone (no walk), and the names stay.
nw=$(stat log_gc_no_walk) runs=$(stat log_gc_runs)
mkdir $M/many
i=0
while [ $i -lt 3000 ]; do : >$M/many/f$i; i=$((i + 1)); done
check "a collection of the directory found no copy due without reading its log" test "$(stat log_gc_no_walk)" -ge $((nw + 1))
check_eq "and none read it" "$runs" "$(stat log_gc_runs)"
check "remount with the directory" remount
check_eq "its names after remount" 3000 "$(ls $M/many | wc -l)"
check "the last name" test -e $M/many/f2999
check "consistent at the end" fsck_ok
umount $M
