// SPDX-License-Identifier: GPL-2.0
/*
 * xattrt - extended-attribute calls for the shell tests (busybox has no
 * setfattr/getfattr). Errors print the errno's name (ENODATA, ERANGE, ...)
 * and exit 1.
 *
 *   xattrt set FILE NAME VALUE [create|replace]
 *   xattrt setn FILE NAME LEN SEED   a LEN-byte value made from SEED
 *   xattrt get FILE NAME             prints the value
 *   xattrt getn FILE NAME LEN SEED   checks the value setn made
 *   xattrt getsmall FILE NAME        a buffer one byte too small
 *   xattrt list FILE                 the names, one per line
 *   xattrt rm FILE NAME
 *   xattrt fill FILE PREFIX MAX      sets PREFIX0, PREFIX1, ... (empty
 *                                    values) until one fails or MAX;
 *                                    prints the count and the error
 *   xattrt churn FILE NAME N LEN     sets NAME N times to setn's values of
 *                                    LEN bytes, seeds 0..N-1
 * The l* forms (lset, lget, llist, lrm) act on a symlink itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

static int fail(void)
{
	const char *n = errno == ENODATA ? "ENODATA" : errno == ERANGE ? "ERANGE" :
			errno == EEXIST ? "EEXIST" : errno == E2BIG ? "E2BIG" :
			errno == ENOSPC ? "ENOSPC" : errno == EOPNOTSUPP ? "EOPNOTSUPP" :
			errno == EPERM ? "EPERM" : errno == EROFS ? "EROFS" :
			errno == EINVAL ? "EINVAL" : strerror(errno);
	printf("%s\n", n);
	return 1;
}

static void pattern(char *b, long n, long seed)
{
	for (long i = 0; i < n; i++)
		b[i] = (char)((i * 131 + seed * 7 + i / 253) & 0xff);
}

int main(int argc, char **argv)
{
	static char buf[1 << 17], want[1 << 17];
	const char *op;
	int l;
	long n;

	if (argc < 3)
		return 2;
	op = argv[1];
	l = op[0] == 'l' && strcmp(op, "list") != 0;
	if (l)
		op++;
	if (!strcmp(op, "set") && argc >= 5) {
		int fl = argc > 5 ? (!strcmp(argv[5], "create") ? XATTR_CREATE : XATTR_REPLACE) : 0;
		if ((l ? lsetxattr : setxattr)(argv[2], argv[3], argv[4], strlen(argv[4]), fl))
			return fail();
	} else if (!strcmp(op, "setn") && argc == 6) {
		n = atol(argv[4]);
		if (n > (long)sizeof(buf))
			return 2;
		pattern(buf, n, atol(argv[5]));
		if (setxattr(argv[2], argv[3], buf, n, 0))
			return fail();
	} else if (!strcmp(op, "get") && argc == 4) {
		n = (l ? lgetxattr : getxattr)(argv[2], argv[3], buf, sizeof(buf));
		if (n < 0)
			return fail();
		printf("%.*s\n", (int)n, buf);
	} else if (!strcmp(op, "getn") && argc == 6) {
		long want_n = atol(argv[4]);
		n = getxattr(argv[2], argv[3], buf, sizeof(buf));
		if (n < 0)
			return fail();
		pattern(want, want_n, atol(argv[5]));
		if (n != want_n || memcmp(buf, want, n)) {
			printf("value differs (%ld bytes)\n", n);
			return 1;
		}
		if (getxattr(argv[2], argv[3], NULL, 0) != want_n) {
			printf("size query differs\n");
			return 1;
		}
	} else if (!strcmp(op, "getsmall") && argc == 4) {
		n = getxattr(argv[2], argv[3], NULL, 0);
		if (n <= 0)
			return fail();
		if (getxattr(argv[2], argv[3], buf, n - 1) >= 0)
			return 1;
		return fail();
	} else if (!strcmp(op, "list") && argc == 3) {
		n = (argv[1][0] == 'l' && argv[1][1] == 'l' ? llistxattr : listxattr)(argv[2], buf,
										 sizeof(buf));
		if (n < 0)
			return fail();
		if (n > 0 && listxattr(argv[2], buf, n - 1) >= 0 && argv[1][0] != 'l') {
			printf("a short list buffer was not refused\n");
			return 1;
		}
		for (char *p = buf; p < buf + n; p += strlen(p) + 1)
			printf("%s\n", p);
	} else if (!strcmp(op, "fill") && argc == 5) {
		char name[512];
		long i, max = atol(argv[4]);
		for (i = 0; i < max; i++) {
			snprintf(name, sizeof(name), "%s%ld", argv[3], i);
			if (setxattr(argv[2], name, "", 0, 0))
				break;
		}
		printf("%ld ", i);
		if (i == max) {
			printf("none\n");
			return 0;
		}
		fail();
	} else if (!strcmp(op, "churn") && argc == 6) {
		long count = atol(argv[4]);
		n = atol(argv[5]);
		if (n > (long)sizeof(buf))
			return 2;
		for (long i = 0; i < count; i++) {
			pattern(buf, n, i);
			if (setxattr(argv[2], argv[3], buf, n, 0)) {
				printf("change %ld: ", i);
				return fail();
			}
		}
	} else if (!strcmp(op, "rm") && argc == 4) {
		if ((l ? lremovexattr : removexattr)(argv[2], argv[3]))
			return fail();
	} else {
		return 2;
	}
	return 0;
}
