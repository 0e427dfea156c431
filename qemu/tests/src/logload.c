// SPDX-License-Identifier: GPL-2.0
/*
 * logload: log-heavy workloads for nova's log GC test.
 *
 *   logload overwrite FILE N     write block 0 of FILE N times (each 4 KiB
 *                                block says which write it was); N=0: forever
 *                                (-e: a write failing with ENOMEM is counted,
 *                                not fatal; prints "enomem K last-ok L")
 *   logload verify FILE          block 0 is one whole write of `overwrite`
 *   logload churn DIR N          N create/unlink pairs in DIR
 *   logload sparse FILE BLOCKS   write BLOCKS one-block entries, then
 *                                overwrite all but every 63rd block with
 *                                62-block writes (live entries end up
 *                                scattered one per log page), in passes
 *                                until a log GC has copied a log
 *   logload sparse-verify FILE BLOCKS
 *   logload mixed FILE N SEED W [PAGES]
 *                                N random operations on the first PAGES
 *                                (256; at most 16384) blocks of FILE:
 *                                writes of 1-4 blocks (W
 *                                percent of them), page-aligned truncates
 *                                and hole punches (half the rest each),
 *                                checked against a model of the file after
 *                                every 1,000 and at the end (log GC with
 *                                and without cuts in the log)
 *
 * Every 10% of a run it reads /proc/fs/nova/pmem0/stats and prints the
 * log pages in use (allocated - freed) and the free blocks; it exits 1
 * if the log pages in use ever exceed -m MAX (default: no limit).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BS 4096
#define MAGIC 0x6c6f676c6f616431ULL

static long max_pages = -1;
static long peak;
static int enomem_ok;

static long stat_of(const char *key)
{
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/fs/nova/pmem0/stats", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ' ')
			v = atol(line + n + 1);
	fclose(f);
	return v;
}

/* Prints and checks the log pages in use; returns -1 past the limit. */
static int sample(const char *what, long i)
{
	long used = stat_of("log_pages_allocated") - stat_of("log_pages_freed");

	if (used > peak)
		peak = used;
	printf("%s %ld: log_pages_in_use %ld free_blocks %ld gc_runs %ld\n", what, i, used,
	       stat_of("free_blocks"), stat_of("log_gc_runs"));
	fflush(stdout);
	if (max_pages >= 0 && used > max_pages) {
		fprintf(stderr, "log pages in use %ld > %ld\n", used, max_pages);
		return -1;
	}
	return 0;
}

static void fill(uint64_t *b, uint64_t tag, uint64_t i)
{
	for (size_t k = 0; k < BS / 8; k += 4) {
		b[k] = MAGIC;
		b[k + 1] = tag;
		b[k + 2] = i;
		b[k + 3] = tag ^ i ^ k;
	}
}

/* The write number a block holds, or -1 if it is not one whole write. */
static long long check(const uint64_t *b, uint64_t tag)
{
	uint64_t i = b[2];

	for (size_t k = 0; k < BS / 8; k += 4)
		if (b[k] != MAGIC || b[k + 1] != tag || b[k + 2] != i || b[k + 3] != (tag ^ i ^ k))
			return -1;
	return (long long)i;
}

static int overwrite(const char *path, long n)
{
	static uint64_t b[BS / 8];
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	long step = n > 10 ? n / 10 : 1, enomem = 0, last = -1;

	if (fd < 0)
		return perror(path), 1;
	for (long i = 0; n == 0 || i < n; i++) {
		fill(b, 0, (uint64_t)i);
		if (pwrite(fd, b, BS, 0) == BS)
			last = i;
		else if (enomem_ok && errno == ENOMEM)
			enomem++;
		else
			return perror("pwrite"), 1;
		if ((n && (i + 1) % step == 0) || (!n && i % 20000 == 0))
			if (sample("overwrite", i + 1))
				return 1;
	}
	if (enomem_ok)
		printf("enomem %ld last-ok %ld\n", enomem, last);
	return close(fd) ? 1 : 0;
}

static int verify(const char *path, long want)
{
	static uint64_t b[BS / 8];
	int fd = open(path, O_RDONLY);
	long long i;

	if (fd < 0 || pread(fd, b, BS, 0) != BS)
		return perror(path), 1;
	i = check(b, 0);
	printf("block 0 holds write %lld\n", i);
	if (i < 0 || (want >= 0 && i != want))
		return 1;
	return 0;
}

static int churn(const char *dir, long n)
{
	char name[512];
	long step = n > 10 ? n / 10 : 1;

	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s/f%ld", dir, i);
		int fd = open(name, O_CREAT | O_WRONLY | O_EXCL, 0644);
		if (fd < 0 || close(fd) || unlink(name))
			return perror(name), 1;
		if ((i + 1) % step == 0 && sample("churn", i + 1))
			return 1;
	}
	return 0;
}

static int sparse(const char *path, long blocks, int verify_only)
{
	static uint64_t b[62 * BS / 8];
	int fd = open(path, verify_only ? O_RDONLY : O_CREAT | O_RDWR, 0644);

	if (fd < 0)
		return perror(path), 1;
	if (!verify_only) {
		for (long i = 0; i < blocks; i++) {
			fill(b, 1, (uint64_t)i);
			if (pwrite(fd, b, BS, i * BS) != BS)
				return perror("pwrite"), 1;
		}
		if (sample("sparse-initial", blocks))
			return 1;
		/* Overwrite passes until the log has grown enough for a GC
		 * to copy it (at most 200 passes). */
		long copies = stat_of("log_gc_copies"), pass;
		for (pass = 1; pass <= 200 && stat_of("log_gc_copies") == copies; pass++) {
			for (long i = 0; i + 63 <= blocks; i += 63) {
				for (int k = 0; k < 62; k++)
					fill(b + k * (BS / 8), 2, (uint64_t)(i + 1 + k));
				if (pwrite(fd, b, 62 * BS, (i + 1) * BS) != 62 * BS)
					return perror("pwrite"), 1;
			}
		}
		if (sample("sparse-overwrite-passes", pass - 1))
			return 1;
	}
	for (long i = 0; i < blocks; i++) {
		uint64_t tag = (i % 63 == 0 || i >= blocks / 63 * 63) ? 1 : 2;
		if (pread(fd, b, BS, i * BS) != BS || check(b, tag) != i) {
			fprintf(stderr, "block %ld is wrong\n", i);
			return 1;
		}
	}
	return close(fd) ? 1 : 0;
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

#define MIXED_PAGES 16384

/* Whether FILE matches the model: `size` bytes, block k holding write
 * `want[k]` (-1: zeros). */
static int mixed_check(int fd, const long long *want, long size)
{
	static uint64_t b[BS / 8];
	struct stat st;

	if (fstat(fd, &st) || st.st_size != size) {
		fprintf(stderr, "size %lld, want %ld\n", (long long)st.st_size, size);
		return 1;
	}
	for (long k = 0; k < size / BS; k++) {
		if (pread(fd, b, BS, k * BS) != BS)
			return perror("pread"), 1;
		if (want[k] < 0) {
			for (size_t j = 0; j < BS / 8; j++)
				if (b[j]) {
					fprintf(stderr, "block %ld is not zeros\n", k);
					return 1;
				}
		} else if (check(b, 3) != want[k]) {
			fprintf(stderr, "block %ld holds %lld, want %lld\n", k, check(b, 3), want[k]);
			return 1;
		}
	}
	return 0;
}

static int mixed(const char *path, long n, uint64_t seed, long wpct, long pages)
{
	static uint64_t b[4 * BS / 8];
	static long long want[MIXED_PAGES];
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	long size = 0, step = n > 10 ? n / 10 : 1;

	if (fd < 0)
		return perror(path), 1;
	if (pages < 1 || pages > MIXED_PAGES)
		return fprintf(stderr, "mixed: 1 to %d pages\n", MIXED_PAGES), 1;
	for (long k = 0; k < pages; k++)
		want[k] = -1;
	for (long i = 0; i < n; i++) {
		uint64_t r = rnd(&x) % 100;
		long pg = (long)(rnd(&x) % (uint64_t)pages);
		long cnt = 1 + (long)(rnd(&x) % 4);

		if (pg + cnt > pages)
			cnt = pages - pg;
		if ((long)r < wpct) {
			for (long k = 0; k < cnt; k++) {
				want[pg + k] = (long long)i * 4 + k;
				fill(b + k * (BS / 8), 3, (uint64_t)want[pg + k]);
			}
			if (pwrite(fd, b, cnt * BS, pg * BS) != cnt * BS)
				return perror("pwrite"), 1;
			/* (Blocks past the end are zeros in the model already.) */
			if ((pg + cnt) * BS > size)
				size = (pg + cnt) * BS;
		} else if ((long)r < wpct + (100 - wpct) / 2) {
			if (ftruncate(fd, pg * BS))
				return perror("ftruncate"), 1;
			for (long k = pg; k < pages; k++)
				want[k] = -1;
			size = pg * BS;
		} else {
			if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pg * BS, cnt * BS))
				return perror("fallocate"), 1;
			for (long k = pg; k < pg + cnt; k++)
				want[k] = -1;
		}
		if ((i + 1) % 1000 == 0 && mixed_check(fd, want, size))
			return fprintf(stderr, "after operation %ld\n", i), 1;
		if ((i + 1) % step == 0 && sample("mixed", i + 1))
			return 1;
	}
	if (mixed_check(fd, want, size))
		return 1;
	return close(fd) ? 1 : 0;
}

int main(int argc, char **argv)
{
	int o;

	while ((o = getopt(argc, argv, "em:")) != -1)
		if (o == 'm')
			max_pages = atol(optarg);
		else if (o == 'e')
			enomem_ok = 1;
	argc -= optind;
	argv += optind;
	if (argc < 2)
		goto usage;
	if (!strcmp(argv[0], "overwrite") && argc == 3)
		return overwrite(argv[1], atol(argv[2]));
	if (!strcmp(argv[0], "verify"))
		return verify(argv[1], argc > 2 ? atol(argv[2]) : -1);
	if (!strcmp(argv[0], "churn") && argc == 3)
		return churn(argv[1], atol(argv[2]));
	if (!strcmp(argv[0], "sparse") && argc == 3)
		return sparse(argv[1], atol(argv[2]), 0);
	if (!strcmp(argv[0], "mixed") && (argc == 5 || argc == 6))
		return mixed(argv[1], atol(argv[2]), strtoull(argv[3], NULL, 0), atol(argv[4]),
			     argc == 6 ? atol(argv[5]) : 256);
	if (!strcmp(argv[0], "sparse-verify") && argc == 3)
		return sparse(argv[1], atol(argv[2]), 1);
usage:
	fprintf(stderr, "usage: logload [-e] [-m MAXPAGES] overwrite|verify|churn|sparse|sparse-verify|mixed ...\n");
	return 2;
}
