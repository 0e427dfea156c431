# Benchmark (make bench T=bench_profile): where the time of a workload
# goes, by perf's sampling, on nova and ext4 -o dax: a long run of 4 KiB
# random overwrites of a 64 MiB file (N writes, 3,000,000 by
# default, after a warm-up) and 20 rounds of `pmbench meta` (2,000
# files). Prints each run's result and the symbols with the most
# samples (self time, no call chains: the test kernel unwinds by
# guessing). Debian's perf runs in the guest with noeventfd.so
# preloaded. The test kernel has no high-resolution timers, so perf
# samples at the tick (250 Hz): the runs are long enough for about
# 10,000 samples each. Identical generic code is folded into one
# symbol: a `find_best_match` of any u64-keyed red-black tree (the
# free ranges, the shared ranges) shows under one name. Not a test: prints NOVA-BENCH and NOVA-PROFILE lines.
. /tests/lib.sh
N=${N:-3000000}
dd if=/dev/zero of=$DEV bs=1M 2>/dev/null
echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid
echo 0 >/proc/sys/kernel/perf_cpu_time_max_percent
# profile FS WHAT COMMAND...: the command's results as "NOVA-BENCH FS
# profile-CASE" (so make bench prints nova/ext4-dax ratios of the
# profiled runs too), then its profile as "NOVA-PROFILE FS WHAT" lines.
profile() {
	fs=$1 what=$2
	shift 2
	LD_PRELOAD=/tests/noeventfd.so perf.host record -q -e cpu-clock -F 1000 \
		-o /tmp/perf.data -- "$@" 2>&1 | grep '^NOVA-BENCH' |
		sed "s/^NOVA-BENCH /NOVA-BENCH $fs profile-/"
	perf.host report -i /tmp/perf.data --stdio --no-children --sort sym \
		--percent-limit 0.5 2>/dev/null | grep '%' | head -40 |
		sed "s/^ */NOVA-PROFILE $fs $what /"
}
run() {
	fs=$1 dir=$2
	pmbench seqwrite $dir/f 64 >/dev/null
	pmbench randwrite $dir/f 64 20000 >/dev/null
	profile $fs randwrite4k pmbench randwrite $dir/f 64 $N
	rm $dir/f
	mkdir $dir/meta
	profile $fs meta sh -c "for i in \$(seq 20); do pmbench meta $dir/meta 2000; done"
}
mkfs_mount || exit 1
run nova $M
umount $M
mke2fs.host -q -b 4096 $DEV >/dev/null 2>&1 || mke2fs -q -b 4096 $DEV >/dev/null 2>&1
mount -t ext4 -o dax $DEV /mnt/ext4 || exit 1
run ext4-dax /mnt/ext4
umount /mnt/ext4
