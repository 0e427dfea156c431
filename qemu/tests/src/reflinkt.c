// SPDX-License-Identifier: GPL-2.0
/*
 * Reflink copies through the ioctls (busybox cp has no --reflink):
 *
 *   reflinkt clone SRC DST                      FICLONE (DST created/truncated)
 *   reflinkt range SRC SOFF DST DOFF LEN        FICLONERANGE (DST created)
 *   reflinkt dedupe SRC SOFF DST DOFF LEN       FIDEDUPERANGE; prints
 *                                               "same N" or "differs"
 *   reflinkt time SRC DST                       FICLONE, prints microseconds
 *   reflinkt frag FILE PAGES                    writes every other page of
 *                                               FILE up to PAGES (one extent
 *                                               per written page)
 *   reflinkt copy SRC DST                       copy_file_range of the whole
 *                                               file (DST created/truncated)
 *   reflinkt mapboth A B                        maps A and B shared, reads
 *                                               every page of both while
 *                                               both are mapped, compares
 *
 * Exit status 0 on success; on failure prints the errno name and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e)
{
	switch (e) {
	case EINVAL: return "EINVAL";
	case EXDEV: return "EXDEV";
	case EBADF: return "EBADF";
	case EROFS: return "EROFS";
	case EPERM: return "EPERM";
	case EISDIR: return "EISDIR";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOSPC: return "ENOSPC";
	case EFBIG: return "EFBIG";
	case ETXTBSY: return "ETXTBSY";
	default: return strerror(e);
	}
}

static int fail(const char *what)
{
	int e = errno;

	printf("%s: %s\n", what, ename(e));
	return 1;
}

static int open_src(const char *p)
{
	return open(p, O_RDONLY);
}

int main(int argc, char **argv)
{
	int s, d;

	if (argc < 4) {
		fprintf(stderr, "usage: see the source\n");
		return 2;
	}
	if (!strcmp(argv[1], "mapboth")) {
		struct stat st;
		volatile unsigned char sum = 0;
		unsigned char *pa, *pb;
		off_t i;

		s = open(argv[2], O_RDONLY);
		d = open(argv[3], O_RDONLY);
		if (s < 0 || d < 0 || fstat(s, &st) < 0 || st.st_size == 0)
			return fail("open");
		pa = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, s, 0);
		pb = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, d, 0);
		if (pa == MAP_FAILED || pb == MAP_FAILED)
			return fail("mmap");
		for (i = 0; i < st.st_size; i += 4096)
			sum += pa[i] + pb[i];
		if (memcmp(pa, pb, st.st_size)) {
			printf("differ\n");
			return 1;
		}
		munmap(pa, st.st_size);
		munmap(pb, st.st_size);
		return 0;
	}
	if (!strcmp(argv[1], "frag")) {
		char page[4096];
		long i, n = atol(argv[3]);

		d = open(argv[2], O_WRONLY | O_CREAT, 0644);
		if (d < 0)
			return fail("open");
		for (i = 0; i < n; i += 2) {
			memset(page, 'a' + i % 26, sizeof(page));
			if (pwrite(d, page, sizeof(page), i * 4096) != sizeof(page))
				return fail("pwrite");
		}
		return 0;
	}
	if (!strcmp(argv[1], "copy")) {
		struct stat st;
		loff_t left;

		s = open_src(argv[2]);
		if (s < 0 || fstat(s, &st) < 0)
			return fail("open src");
		d = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (d < 0)
			return fail("open dst");
		for (left = st.st_size; left > 0;) {
			ssize_t n = copy_file_range(s, NULL, d, NULL, left, 0);

			if (n <= 0)
				return fail("copy_file_range");
			left -= n;
		}
		return 0;
	}
	if (!strcmp(argv[1], "clone") || !strcmp(argv[1], "time")) {
		struct timespec a, b;

		s = open_src(argv[2]);
		if (s < 0)
			return fail("open src");
		d = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (d < 0)
			return fail("open dst");
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (ioctl(d, FICLONE, s) < 0)
			return fail("FICLONE");
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (argv[1][0] == 't')
			printf("%lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000 +
			       (b.tv_nsec - a.tv_nsec) / 1000);
		return 0;
	}
	if (argc < 7) {
		fprintf(stderr, "usage: see the source\n");
		return 2;
	}
	s = open_src(argv[2]);
	if (s < 0)
		return fail("open src");
	if (!strcmp(argv[1], "range")) {
		struct file_clone_range r = {
			.src_fd = s,
			.src_offset = strtoull(argv[3], NULL, 0),
			.src_length = strtoull(argv[6], NULL, 0),
			.dest_offset = strtoull(argv[5], NULL, 0),
		};

		d = open(argv[4], O_WRONLY | O_CREAT, 0644);
		if (d < 0)
			return fail("open dst");
		if (ioctl(d, FICLONERANGE, &r) < 0)
			return fail("FICLONERANGE");
		return 0;
	}
	if (!strcmp(argv[1], "dedupe")) {
		struct file_dedupe_range *r;

		r = calloc(1, sizeof(*r) + sizeof(struct file_dedupe_range_info));
		if (!r)
			return 2;
		d = open(argv[4], O_RDWR);
		if (d < 0)
			return fail("open dst");
		r->src_offset = strtoull(argv[3], NULL, 0);
		r->src_length = strtoull(argv[6], NULL, 0);
		r->dest_count = 1;
		r->info[0].dest_fd = d;
		r->info[0].dest_offset = strtoull(argv[5], NULL, 0);
		if (ioctl(s, FIDEDUPERANGE, r) < 0)
			return fail("FIDEDUPERANGE");
		if (r->info[0].status == FILE_DEDUPE_RANGE_SAME) {
			printf("same %llu\n", (unsigned long long)r->info[0].bytes_deduped);
			return 0;
		}
		if (r->info[0].status == FILE_DEDUPE_RANGE_DIFFERS) {
			printf("differs\n");
			return 0;
		}
		errno = -r->info[0].status;
		return fail("dedupe status");
	}
	fprintf(stderr, "unknown command %s\n", argv[1]);
	return 2;
}
