// SPDX-License-Identifier: GPL-2.0
/*
 * falloc - one fallocate(2) call, for the shell tests (busybox's
 * fallocate has no modes).
 *
 * Usage: falloc [-m] FILE MODE OFF LEN
 *        falloc FILE segs 0 0
 *        falloc FILE flags VALUE 0
 *        falloc FILE stripes N 0
 *   MODE: alloc | keep | punch (PUNCH_HOLE|KEEP_SIZE) | zero (ZERO_RANGE)
 *         | zero-keep (ZERO_RANGE|KEEP_SIZE) | collapse (COLLAPSE_RANGE)
 *         | insert (INSERT_RANGE) | collapse-keep | insert-keep (with
 *         KEEP_SIZE) | collapse-insert (both)
 *   -m: before the call, map the file MAP_SHARED and read every page of
 *       the mapping; after it, the mapping must show what read(2) shows
 *       (up to the smaller of the old and new size): no stale page.
 *   flags (falloc FILE flags VALUE 0): sets the inode flags
 *       (FS_IOC_SETFLAGS) to VALUE: 16 immutable, 32 append-only, 0 none.
 *   stripes: writes N pages at every other page (0, 2, 4, ...), page i
 *       filled with bytes (i * 7 + offset) & 0xff: a file of N one-page
 *       extents.
 *   segs: prints the file's data segments as SEEK_DATA/SEEK_HOLE report
 *       them, one "START END" line each.
 * Exit status 0 on success; otherwise prints the error and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif
#ifndef FALLOC_FL_COLLAPSE_RANGE
#define FALLOC_FL_COLLAPSE_RANGE 0x08
#endif
#ifndef FALLOC_FL_ZERO_RANGE
#define FALLOC_FL_ZERO_RANGE 0x10
#endif
#ifndef FALLOC_FL_INSERT_RANGE
#define FALLOC_FL_INSERT_RANGE 0x20
#endif

static const struct {
	const char *name;
	int mode;
} modes[] = {
	{ "alloc", 0 },
	{ "keep", FALLOC_FL_KEEP_SIZE },
	{ "punch", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE },
	{ "zero", FALLOC_FL_ZERO_RANGE },
	{ "zero-keep", FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE },
	{ "collapse", FALLOC_FL_COLLAPSE_RANGE },
	{ "insert", FALLOC_FL_INSERT_RANGE },
	{ "collapse-keep", FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE },
	{ "insert-keep", FALLOC_FL_INSERT_RANGE | FALLOC_FL_KEEP_SIZE },
	{ "collapse-insert", FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE },
};

static int segs(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END), d = 0, h;

	while (d < end) {
		d = lseek(fd, d, SEEK_DATA);
		if (d < 0)
			return errno == ENXIO ? 0 : 1;
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			return 1;
		printf("%lld %lld\n", (long long)d, (long long)h);
		d = h;
	}
	return 0;
}

/* After the call: the mapping `map` (of `maplen` bytes) reads what pread
 * reads, up to the new size. */
static int compare_map(int fd, const unsigned char *map, size_t maplen)
{
	struct stat st;
	unsigned char buf[4096];
	size_t n;

	if (fstat(fd, &st) < 0)
		return 1;
	n = (size_t)st.st_size < maplen ? (size_t)st.st_size : maplen;
	for (size_t o = 0; o < n; o += sizeof(buf)) {
		size_t c = n - o < sizeof(buf) ? n - o : sizeof(buf);

		if (pread(fd, buf, c, o) != (ssize_t)c) {
			fprintf(stderr, "falloc: pread at %zu failed\n", o);
			return 1;
		}
		if (memcmp(buf, map + o, c)) {
			fprintf(stderr, "falloc: the mapping is stale at page %zu\n", o / 4096);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	int fd, mode = -1, usemap = 0;
	unsigned char *map = NULL;
	size_t maplen = 0;

	if (argc == 6 && !strcmp(argv[1], "-m")) {
		usemap = 1;
		argv++;
		argc--;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: falloc [-m] FILE MODE OFF LEN\n");
		return 2;
	}
	if (!strcmp(argv[2], "flags")) {
		int v = atoi(argv[3]);

		fd = open(argv[1], O_RDONLY);
		if (fd < 0 || ioctl(fd, FS_IOC_SETFLAGS, &v) < 0) {
			fprintf(stderr, "falloc: %s flags: %s\n", argv[1], strerror(errno));
			return 1;
		}
		return 0;
	}
	if (!strcmp(argv[2], "stripes")) {
		unsigned char page[4096];
		long n = atol(argv[3]);

		fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			return 1;
		for (long i = 0; i < n; i++) {
			for (int b = 0; b < 4096; b++)
				page[b] = (unsigned char)(i * 7 + b);
			if (pwrite(fd, page, 4096, (off_t)i * 8192) != 4096)
				return 1;
		}
		return close(fd) < 0;
	}
	if (!strcmp(argv[2], "segs")) {
		fd = open(argv[1], O_RDONLY);
		return fd < 0 || segs(fd);
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(argv[2], modes[i].name))
			mode = modes[i].mode;
	if (mode < 0) {
		fprintf(stderr, "falloc: unknown mode %s\n", argv[2]);
		return 2;
	}
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "falloc: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (usemap) {
		struct stat st;
		volatile unsigned sum = 0;

		if (fstat(fd, &st) < 0 || st.st_size == 0)
			return 1;
		maplen = st.st_size;
		map = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			perror("falloc: mmap");
			return 1;
		}
		for (size_t o = 0; o < maplen; o += 4096)
			sum += map[o];
	}
	if (fallocate(fd, mode, atoll(argv[3]), atoll(argv[4])) < 0) {
		fprintf(stderr, "falloc: %s %s %s %s: %s\n", argv[1], argv[2], argv[3], argv[4],
			strerror(errno));
		return 1;
	}
	if (usemap && compare_map(fd, map, maplen))
		return 1;
	return close(fd) < 0;
}
