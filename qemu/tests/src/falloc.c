// SPDX-License-Identifier: GPL-2.0
/*
 * falloc - one fallocate(2) call, for the shell tests (busybox's
 * fallocate has no modes).
 *
 * Usage: falloc FILE MODE OFF LEN
 *   MODE: alloc | keep | punch (PUNCH_HOLE|KEEP_SIZE) | zero (ZERO_RANGE)
 *         | zero-keep (ZERO_RANGE|KEEP_SIZE) | collapse | insert
 * Exit status 0 on success; otherwise prints the error and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
};

int main(int argc, char **argv)
{
	int fd, mode = -1;

	if (argc != 5) {
		fprintf(stderr, "usage: falloc FILE MODE OFF LEN\n");
		return 2;
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
	if (fallocate(fd, mode, atoll(argv[3]), atoll(argv[4])) < 0) {
		fprintf(stderr, "falloc: %s %s %s %s: %s\n", argv[1], argv[2], argv[3], argv[4],
			strerror(errno));
		return 1;
	}
	return close(fd) < 0;
}
