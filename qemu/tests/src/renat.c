// SPDX-License-Identifier: GPL-2.0
/*
 * renat - renameat2(2) with its flags, for the shell tests (busybox mv
 * has none). Errors print the errno's name and exit 1.
 *
 *   renat SRC DST [whiteout|noreplace|exchange]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#define RENAME_WHITEOUT (1 << 2)
#endif

int main(int argc, char **argv)
{
	unsigned int flags = 0;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: renat SRC DST [whiteout|noreplace|exchange]\n");
		return 2;
	}
	if (argc == 4) {
		if (!strcmp(argv[3], "whiteout"))
			flags = RENAME_WHITEOUT;
		else if (!strcmp(argv[3], "noreplace"))
			flags = RENAME_NOREPLACE;
		else if (!strcmp(argv[3], "exchange"))
			flags = RENAME_EXCHANGE;
		else if (!strcmp(argv[3], "whiteout+noreplace"))
			flags = RENAME_WHITEOUT | RENAME_NOREPLACE;
		else if (!strcmp(argv[3], "whiteout+exchange"))
			flags = RENAME_WHITEOUT | RENAME_EXCHANGE;
		else {
			fprintf(stderr, "renat: unknown flag %s\n", argv[3]);
			return 2;
		}
	}
	if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], flags)) {
		const char *n = errno == EINVAL ? "EINVAL" : errno == EEXIST ? "EEXIST" :
				errno == ENOENT ? "ENOENT" : errno == EPERM ? "EPERM" :
				errno == EXDEV ? "EXDEV" : strerror(errno);
		printf("%s\n", n);
		return 1;
	}
	return 0;
}
