// SPDX-License-Identifier: GPL-2.0
/*
 * pinload - O_DIRECT reads from a block device into a shared writable
 * mapping of a file, in a loop: each read pins the mapping's pages for
 * the I/O, and faults in (for write) the ones that were dropped. Beside
 * snapshot creation this is the case where a snapshot must wait for
 * pinned pages with nova's fault gate open (a pin holder may fault).
 *
 *   pinload FILE DEVICE N     N reads (0: until killed)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define LEN 16384

int main(int argc, char **argv)
{
	static char zero[LEN];
	long n, i;
	char *m;
	int f, d;

	if (argc != 4) {
		fprintf(stderr, "usage: pinload FILE DEVICE N\n");
		return 2;
	}
	n = atol(argv[3]);
	f = open(argv[1], O_RDWR | O_CREAT, 0644);
	d = open(argv[2], O_RDONLY | O_DIRECT);
	if (f < 0 || d < 0) {
		perror("open");
		return 1;
	}
	if (pwrite(f, zero, LEN, 0) != LEN) {
		perror("pwrite");
		return 1;
	}
	m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (i = 0; n == 0 || i < n; i++) {
		/* Page 0 mapped, the others not: the read faults them in. */
		m[0] = (char)i;
		madvise(m + 4096, LEN - 4096, MADV_DONTNEED);
		if (pread(d, m, LEN, 0) != LEN) {
			perror("pread");
			return 1;
		}
	}
	printf("done %ld\n", i);
	return 0;
}
