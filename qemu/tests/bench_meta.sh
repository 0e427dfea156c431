# Benchmark (make bench T=bench_meta): pmbench meta (creates, stats,
# renames and unlinks of META empty files, 2,000 by default) on freshly
# made nova and ext4 -o dax, ROUNDS times each (5 by default), taking
# turns, in one boot; prints each round and the median ratios. The suite
# (bench_suite) runs the same on each file system after its fio jobs:
# there ext4's unlink measured three times slower than on a fresh ext4
# (8.0k against 23.5k ops/s) and its create a little slower (7.4k
# against 8.3k), so the two benchmarks bracket the ratios.
# Not a test: prints NOVA-BENCH lines.
. /tests/lib.sh
R=${ROUNDS:-5}
META=${META:-2000}
dd if=/dev/zero of=$DEV bs=1M 2>/dev/null
: >/tmp/meta.txt
for r in $(seq 1 $R); do
	mkfs_mount || exit 1
	mkdir $M/meta
	pmbench meta $M/meta $META | sed "s/^NOVA-BENCH /NOVA-BENCH nova $r /" | tee -a /tmp/meta.txt
	umount $M
	mke2fs.host -q -b 4096 $DEV >/dev/null 2>&1 || mke2fs -q -b 4096 $DEV >/dev/null 2>&1
	mount -t ext4 -o dax $DEV /mnt/ext4 || exit 1
	mkdir /mnt/ext4/meta
	pmbench meta /mnt/ext4/meta $META | sed "s/^NOVA-BENCH /NOVA-BENCH ext4-dax $r /" | tee -a /tmp/meta.txt
	umount /mnt/ext4
done
# Medians: lines "NOVA-BENCH fs round case 0.0 MiB/s OPS ops/s".
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for c in create stat rename unlink; do
	n=$(awk -v c=$c '$2 == "nova" && $4 == c { print $7 }' /tmp/meta.txt | median)
	e=$(awk -v c=$c '$2 == "ext4-dax" && $4 == c { print $7 }' /tmp/meta.txt | median)
	awk -v c=$c -v n="$n" -v e="$e" 'BEGIN { printf "NOVA-BENCH median fresh-%s nova %d ext4-dax %d ops/s ratio %.2f\n", c, n, e, (e > 0) ? n / e : 0 }'
done
