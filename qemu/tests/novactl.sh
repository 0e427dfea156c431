# novactl (issue 16): snapshot create (prints the epoch), list and
# list --json, delete (also of bad epochs: exit 1, named), prune
# --keep-last with --dry-run and for real, stats, usage errors (exit 2),
# and novactl mount of snapshots beside the live file system, beside
# each other and alone, with the right content. Everything is compared with what
# /proc/fs/nova/pmem0/snapshots says. (The time-based keep rules are
# tested on the host with a fixed clock: tools/src/retention.rs.)
# pmem: 64M
# boots: 1
# flavors: fast (user-space tools; the kernel paths run on both kernels
# in basic, snapshot and readonly)
. /tests/lib.sh
P=/proc/fs/nova/pmem0
S=/mnt/snap
mkdir -p $S
# The epochs /proc lists, and its total.
proc_snaps() { sed -n 's/^ *\([0-9][0-9]*\)  .*/\1/p' $P/snapshots | tr '\n' ' '; }
proc_total() { sed -n 's/^total \([0-9]*\) snapshots.*/\1/p' $P/snapshots; }
# The epochs novactl lists.
listed() { novactl list | awk 'NR > 1 { print $1 }' | tr '\n' ' '; }
# status DESC N PATTERN CMD...: CMD exits with status N and its output
# (stdout and stderr) matches the extended regular expression PATTERN
# (if not empty).
status() {
	d=$1
	want=$2
	pat=$3
	shift 3
	"$@" >/tmp/check.out 2>&1
	rc=$?
	if [ $rc -ne "$want" ]; then
		fail "$d: exit $rc, expected $want"
		sed 's/^/    | /' /tmp/check.out | head -10
	elif [ -n "$pat" ] && ! grep -qE "$pat" /tmp/check.out; then
		fail "$d: output does not match '$pat'"
		sed 's/^/    | /' /tmp/check.out | head -10
	else
		pass "$d"
	fi
}

need "novactl is installed" which novactl
status "novactl --help" 0 "^Usage: novactl" novactl --help
status "novactl prune --help explains the rules" 0 "keep-hourly N +the newest snapshot of each" novactl prune --help
status "with no nova mounted: exit 1" 1 "no nova file system is mounted" novactl list
status "no command: exit 2" 2 "no command given" novactl

need "mount" mkfs_mount
check_eq "an empty list" "" "$(listed)"
status "an empty list is no error" 0 "^EPOCH  CREATED \(UTC\) +AGE +HELD_BLOCKS  TAG$" novactl list

# Six snapshots, the file f holding v1..v6 when each is taken.
ok=1
want=""
for i in 1 2 3 4 5 6; do
	echo v$i > $M/f
	e=$(novactl snapshot create) || ok=0
	[ "$e" = "$i" ] || { echo "snapshot $i: novactl printed '$e'"; ok=0; }
	want="$want$i "
	[ "$(proc_snaps)" = "$want" ] || { echo "after $i: /proc lists $(proc_snaps)"; ok=0; }
done
echo v7 > $M/f
[ $ok = 1 ] && pass "snapshot create prints each new epoch (1..6), /proc agrees" ||
	fail "snapshot create"
status "snapshot create with -d" 0 "^7$" novactl -d pmem0 snapshot create
status "and with -d /dev/pmem0" 0 "^8$" novactl -d /dev/pmem0 snapshot create
check "delete 7 8" novactl delete 7 8
novactl list
check_eq "list shows 1..6" "1 2 3 4 5 6 " "$(listed)"
check_eq "as /proc does" "$(proc_snaps)" "$(listed)"
check "creation times in ISO 8601 UTC, and an age" sh -c \
	"novactl list | awk 'NR > 1' | grep -vqE '^ +[0-9]+  [0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z  [0-9]+[smhd]( [0-9]+[smhd])? +[0-9]+  -$' && exit 1; exit 0"
check_eq "the same times as /proc" \
	"$(sed -n 's/^ *[0-9][0-9]*  \([0-9-]*\) \([0-9:]*\) .*$/\1T\2Z/p' $P/snapshots | tr '\n' ' ')" \
	"$(novactl list | awk 'NR > 1 { printf "%s ", $2 }')"

# --json, checked with the shell: one object, six snapshots with the
# epochs and times of /proc, brackets balanced.
novactl list --json > /tmp/j
cat /tmp/j
check "list --json is an object naming the device" grep -q '^{"device": "pmem0", "current_epoch": 9, "snapshots": \[$' /tmp/j
check_eq "list --json: the epochs" "1 2 3 4 5 6 " \
	"$(grep -o '"epoch": [0-9]*' /tmp/j | awk '{ printf "%s ", $2 }')"
check_eq "list --json: the times" "$(novactl list | awk 'NR > 1 { printf "%s ", $2 }')" \
	"$(grep -o '"created": "[^"]*"' /tmp/j | tr -d '"' | awk '{ printf "%s ", $2 }')"
check_eq "list --json: braces balanced" "$(tr -cd '{' < /tmp/j | wc -c)" "$(tr -cd '}' < /tmp/j | wc -c)"
check_eq "list --json: one object per snapshot" 7 "$(tr -cd '{' < /tmp/j | wc -c)"
check "list --json ends the array and the object" sh -c "tail -n 1 /tmp/j | grep -qx ']}'"
check_eq "list --json: created_unix fields" 6 "$(grep -c '"created_unix": [0-9][0-9]*, "age_seconds": -*[0-9][0-9]*, "held_blocks": [0-9][0-9]*, "tag": null}' /tmp/j)"

# delete
status "delete 2" 0 "" novactl delete 2
check_eq "2 is gone" "1 3 4 5 6 " "$(proc_snaps)"
status "deleting 2 again: exit 1, named" 1 "no snapshot 2" novactl delete 2
status "an unknown epoch: exit 1, named" 1 "pmem0: no snapshot 99" novactl delete 99
status "not a number: exit 2" 2 "'abc' is not an epoch number" novactl delete abc
status "an epoch past 64 bits: exit 2" 2 "not an epoch number" novactl delete 18446744073709551616
status "a bad one among good ones: exit 1, the good one deleted" 1 "no snapshot 99" novactl delete 99 3
check_eq "3 is gone, nothing else" "1 4 5 6 " "$(proc_snaps)"
check_eq "/proc's total agrees" 4 "$(proc_total)"

# prune --keep-last
status "prune --keep-last 2 --dry-run" 0 "would remove 2 snapshot\(s\), keep 2" novactl prune --keep-last 2 --dry-run
cp /tmp/check.out /tmp/dry
cat /tmp/dry
check "the dry run names what it would remove" sh -c \
	"grep -qE '^remove +4 ' /tmp/dry && grep -qE '^remove +1 ' /tmp/dry && grep -qE '^keep +6 .* last$' /tmp/dry"
check_eq "the dry run deleted nothing" "1 4 5 6 " "$(proc_snaps)"
status "prune without a rule: exit 2" 2 "no --keep-\* rule" novactl prune
status "prune --keep-last 0: exit 2" 2 "no --keep-\* rule" novactl prune --keep-last 0 --dry-run
status "prune with a bad count: exit 2" 2 "needs a count" novactl prune --keep-last two
check_eq "still four" 4 "$(proc_total)"
status "prune --keep-last 2" 0 "removed 2 snapshot\(s\), kept 2" novactl prune --keep-last 2
check_eq "the two newest are left" "5 6 " "$(proc_snaps)"
check_eq "/proc's total is 2" 2 "$(proc_total)"
check_eq "novactl list agrees" "5 6 " "$(listed)"
status "prune --keep-last 5 removes nothing" 0 "removed 0 snapshot\(s\), kept 2" novactl prune --keep-last 5
status "prune --keep-daily 1 keeps the newest (all were taken today)" 0 "keep +6 .*daily" novactl prune --keep-daily 1 --dry-run
status "stats" 0 "^snapshots 2$" novactl stats
status "stats shows the epoch" 0 "^epoch 9$" novactl stats

# Tags: stored with the snapshot record, listed by /proc and novactl,
# kept by a remount; bad ones refused by novactl and by the kernel.
echo g1 > $M/g
status "snapshot create --tag before-upgrade" 0 "^9$" novactl snapshot create --tag before-upgrade
check "/proc lists the tag" grep -qE '^ +9  [0-9-]+ [0-9:]+ +[0-9]+  before-upgrade$' $P/snapshots
check "novactl list shows it" sh -c "novactl list | grep -qE '^ +9  .*  before-upgrade\$'"
check "list --json too" sh -c "novactl list --json | grep -q '\"epoch\": 9, .*\"tag\": \"before-upgrade\"}'"
check "a tag written to /proc directly" sh -c "echo tag=nightly:2026-11-26+x@y_z.1 > $P/create_snapshot"
check "listed" grep -qE '^ +10  .*  nightly:2026-11-26\+x@y_z\.1$' $P/snapshots
status "a tag with a blank: exit 2" 2 "is not a tag" novactl snapshot create --tag "a b"
status "an all-digit tag (it would read as an epoch): exit 2" 2 "is not a tag" novactl snapshot create --tag 2024
check_fails "the kernel refuses it too" sh -c "echo tag=2024 > /proc/fs/nova/pmem0/create_snapshot"
status "a 33-character tag: exit 2" 2 "is not a tag" novactl snapshot create --tag aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
check_fails "the kernel refuses a tag with a slash" sh -c "echo tag=a/b > $P/create_snapshot"
check_fails "and an empty one" sh -c "echo tag= > $P/create_snapshot"
check_fails "and '-' (the listing's word for no tag)" sh -c "echo tag=- > $P/create_snapshot"
check_eq "nothing taken by the refused ones" "5 6 9 10 " "$(proc_snaps)"
# Blocks held: g, written in epoch 9, is overwritten after snapshot 10:
# its old block is kept by the oldest snapshot that needs it, 9.
check_eq "snapshot 9 holds no block yet" 0 "$(awk '$1 == 9 { print $4 }' $P/snapshots)"
echo g2 > $M/g
sync
check "after an overwrite it holds g's old block" sh -c "[ \$(awk '\$1 == 9 { print \$4 }' $P/snapshots) -ge 1 ]"
check_eq "snapshot 10 holds none" 0 "$(awk '$1 == 10 { print $4 }' $P/snapshots)"
check_eq "novactl list shows the same count" "$(awk '$1 == 9 { print $4 }' $P/snapshots)" \
	"$(novactl list | awk '$1 == 9 { print $4 }')"
held9=$(awk '$1 == 9 { print $4 }' $P/snapshots)
umount $M
check "nova-inspect shows the tags" sh -c "nova-inspect $DEV log 2 | grep -q 'tag before-upgrade'"
need "remount" mount -t nova $DEV $M
check "after a remount the tags are kept" sh -c \
	"grep -qE '^ +9  .*  before-upgrade\$' $P/snapshots && grep -qE '^ +10  .*  nightly:2026-11-26\\+x@y_z\\.1\$' $P/snapshots"
check_eq "and snapshot 9 holds as many blocks (the recovery scan's count)" "$held9" \
	"$(awk '$1 == 9 { print $4 }' $P/snapshots)"
check "novactl delete 9 10" novactl delete 9 10
status "an unknown command: exit 2" 2 "unknown command" novactl frobnicate
check "consistent" fsck_ok

# novactl mount
status "mount beside the live file system" 0 \
	"snapshot 5 of /dev/pmem0 mounted read-only at /mnt/snap" novactl mount 5 $S
check_eq "it shows v5" v5 "$(cat $S/f)"
umount $S
status "mount of a deleted snapshot while mounted: exit 1, named" 1 "no snapshot 3" novactl mount 3 $S
umount $M
status "with the live file system unmounted: novactl -d pmem0 mount 5" 0 \
	"snapshot 5 of /dev/pmem0 mounted read-only at /mnt/snap" novactl -d pmem0 mount 5 $S
check_eq "snapshot 5 shows v5" v5 "$(cat $S/f)"
check_fails "it is read-only" sh -c "echo x > $S/f"
status "a snapshot cannot take a snapshot: exit 1" 1 "[Rr]ead-only" novactl snapshot create
mkdir -p /mnt/s6
status "another snapshot beside it" 0 "mounted read-only" novactl -d pmem0 mount 6 /mnt/s6
check_eq "each shows its own" "v5 v6" "$(cat $S/f) $(cat /mnt/s6/f)"
umount /mnt/s6
umount $S
if [ "$(ls -d /dev/pmem* | wc -l)" = 1 ]; then
	status "novactl mount 6 (the only pmem device)" 0 "mounted read-only" novactl mount 6 $S
else
	status "novactl mount 6" 0 "mounted read-only" novactl -d pmem0 mount 6 $S
fi
check_eq "snapshot 6 shows v6" v6 "$(cat $S/f)"
umount $S
status "a deleted snapshot: exit 1, named" 1 "no snapshot 3" novactl -d pmem0 mount 3 $S
status "an unknown snapshot: exit 1, named" 1 "no snapshot 1000" novactl -d /dev/pmem0 mount 1000 $S
status "not a directory: exit 1" 1 "not a directory" novactl -d pmem0 mount 5 /no/such/dir
status "not an epoch: exit 2" 2 "not an epoch number" novactl -d pmem0 mount five $S

need "mount the live file system again" mount -t nova $DEV $M
check_eq "the live file is v7" v7 "$(cat $M/f)"
check_eq "the snapshots survive" "5 6 " "$(listed)"
check "delete the rest" novactl delete 5 6
check_eq "none left" 0 "$(proc_total)"
check "consistent" fsck_ok
umount $M
