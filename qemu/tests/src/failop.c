/*
 * failop - one namespace system call with the N-th slab allocation in it
 * failed (the kernel's fail-nth fault injection, CONFIG_FAILSLAB).
 *
 * Usage: failop N OP ARGS...
 *
 *   OP: create PATH | mkdir PATH | mkfifo PATH | symlink TARGET PATH |
 *       link OLD NEW | unlink PATH | rmdir PATH |
 *       rename OLD NEW | noreplace OLD NEW | exchange OLD NEW
 *
 * Writes N to /proc/thread-self/fail-nth right before the call (so only
 * allocations made by the call itself count) and prints one line:
 * "RESULT INJECTED", RESULT "ok" or the errno name, INJECTED 1 when the
 * N-th allocation was reached (and failed), 0 when the call made fewer
 * than N allocations. N = 0 injects nothing. Needs failslab's
 * ignore-gfp-wait set to N(o) so sleeping allocations can fail too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static const char *ename(int e)
{
	switch (e) {
	case 0: return "ok";
	case ENOMEM: return "ENOMEM";
	case ENOSPC: return "ENOSPC";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case ENOTEMPTY: return "ENOTEMPTY";
	case EIO: return "EIO";
	case EINVAL: return "EINVAL";
	default: return "EOTHER";
	}
}

static int ren(const char *a, const char *b, unsigned flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: failop N OP ARGS...\n");
		return 2;
	}
	const char *op = argv[2];
	const char *a = argv[3], *b = argc > 4 ? argv[4] : NULL;
	int two = !strcmp(op, "symlink") || !strcmp(op, "link") || !strcmp(op, "rename") ||
		  !strcmp(op, "noreplace") || !strcmp(op, "exchange");
	if (two && !b) {
		fprintf(stderr, "failop: %s needs two paths\n", op);
		return 2;
	}
	int nth = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth < 0) {
		perror("failop: /proc/thread-self/fail-nth");
		return 2;
	}
	char n[32];
	snprintf(n, sizeof(n), "%d", atoi(argv[1]));
	int r, e;
	if (pwrite(nth, n, strlen(n), 0) < 0) {
		perror("failop: write fail-nth");
		return 2;
	}
	if (!strcmp(op, "create")) {
		r = open(a, O_CREAT | O_EXCL | O_WRONLY, 0644);
		e = errno;
		if (r >= 0)
			close(r);
	} else if (!strcmp(op, "mkdir")) {
		r = mkdir(a, 0755);
		e = errno;
	} else if (!strcmp(op, "mkfifo")) {
		r = mknod(a, S_IFIFO | 0644, 0);
		e = errno;
	} else if (!strcmp(op, "symlink")) {
		r = symlink(a, b);
		e = errno;
	} else if (!strcmp(op, "link")) {
		r = link(a, b);
		e = errno;
	} else if (!strcmp(op, "unlink")) {
		r = unlink(a);
		e = errno;
	} else if (!strcmp(op, "rmdir")) {
		r = rmdir(a);
		e = errno;
	} else if (!strcmp(op, "rename")) {
		r = ren(a, b, 0);
		e = errno;
	} else if (!strcmp(op, "noreplace")) {
		r = ren(a, b, RENAME_NOREPLACE);
		e = errno;
	} else if (!strcmp(op, "exchange")) {
		r = ren(a, b, RENAME_EXCHANGE);
		e = errno;
	} else {
		fprintf(stderr, "failop: unknown op %s\n", op);
		return 2;
	}
	/* fail-nth reads 0 once the N-th allocation failed. */
	char left[32] = "";
	ssize_t got = pread(nth, left, sizeof(left) - 1, 0);
	int injected = atoi(argv[1]) > 0 && got > 0 && atoi(left) == 0;
	if (pwrite(nth, "0", 1, 0) < 0)
		return 2;
	printf("%s %d\n", ename(r < 0 ? e : 0), injected);
	return 0;
}
