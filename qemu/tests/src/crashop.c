/*
 * crashop - one file-system operation with nova's pmem trace around it
 * (qemu/tests/crashenum.sh, issue 14).
 *
 * Usage: crashop TRACE MIB OP ARGS...
 *
 *   OP: create PATH | mkdir PATH | mknod PATH (a FIFO) | unlink PATH |
 *       rmdir PATH | rename OLD NEW | noreplace OLD NEW | exchange OLD NEW |
 *       link OLD NEW | symlink TARGET PATH |
 *       write PATH OFF LEN BYTE  (one pwrite of LEN bytes of BYTE) |
 *       truncate PATH LEN | fallocate PATH OFF LEN | chmod PATH MODE(octal) |
 *       snapshot PROCDIR  (writes 1 to PROCDIR/create_snapshot) |
 *       delsnap PROCDIR EPOCH  (writes EPOCH to PROCDIR/delete_snapshot)
 *
 * Opens what the operation needs first, then writes "1 MIB" to TRACE
 * (/proc/fs/nova/<dev>/trace), makes the one system call, and writes "0":
 * the trace holds the stores of that call and nothing of this process's
 * set-up. Exit status 0 when the call succeeded, 1 when it failed, 2 on
 * bad usage or a trace that could not be switched.
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

static int trace_fd;

static void trace(const char *cmd)
{
	if (write(trace_fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd)) {
		fprintf(stderr, "crashop: trace '%s': %s\n", cmd, strerror(errno));
		exit(2);
	}
}

int main(int argc, char **argv)
{
	char on[32], path[512];
	const char *op;
	char *buf = NULL;
	size_t len = 0;
	long long off = 0;
	int fd = -1, r;

	if (argc < 5) {
		fprintf(stderr, "usage: crashop TRACE MIB OP ARGS...\n");
		return 2;
	}
	trace_fd = open(argv[1], O_WRONLY);
	if (trace_fd < 0) {
		perror(argv[1]);
		return 2;
	}
	snprintf(on, sizeof(on), "1 %d", atoi(argv[2]));
	op = argv[3];
	if (!strcmp(op, "write") && argc == 8) {
		off = atoll(argv[5]);
		len = strtoul(argv[6], NULL, 0);
		buf = malloc(len ? len : 1);
		if (!buf)
			return 2;
		memset(buf, atoi(argv[7]), len);
		fd = open(argv[4], O_WRONLY);
	} else if ((!strcmp(op, "truncate") && argc == 6) ||
		   (!strcmp(op, "fallocate") && argc == 7)) {
		fd = open(argv[4], O_WRONLY);
	} else if (!strcmp(op, "snapshot") && argc == 5) {
		snprintf(path, sizeof(path), "%s/create_snapshot", argv[4]);
		fd = open(path, O_WRONLY);
	} else if (!strcmp(op, "delsnap") && argc == 6) {
		snprintf(path, sizeof(path), "%s/delete_snapshot", argv[4]);
		fd = open(path, O_WRONLY);
	}
	if (fd < 0 && (!strcmp(op, "write") || !strcmp(op, "truncate") ||
		       !strcmp(op, "fallocate") || !strcmp(op, "snapshot") ||
		       !strcmp(op, "delsnap"))) {
		perror(argv[4]);
		return 2;
	}

	trace(on);
	errno = 0;
	if (!strcmp(op, "create") && argc == 5) {
		r = open(argv[4], O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (r >= 0)
			fd = r;
	} else if (!strcmp(op, "mkdir") && argc == 5) {
		r = mkdir(argv[4], 0755);
	} else if (!strcmp(op, "mknod") && argc == 5) {
		r = mknod(argv[4], S_IFIFO | 0644, 0);
	} else if (!strcmp(op, "unlink") && argc == 5) {
		r = unlink(argv[4]);
	} else if (!strcmp(op, "rmdir") && argc == 5) {
		r = rmdir(argv[4]);
	} else if (!strcmp(op, "rename") && argc == 6) {
		r = rename(argv[4], argv[5]);
	} else if (!strcmp(op, "noreplace") && argc == 6) {
		r = syscall(SYS_renameat2, AT_FDCWD, argv[4], AT_FDCWD, argv[5],
			    RENAME_NOREPLACE);
	} else if (!strcmp(op, "exchange") && argc == 6) {
		r = syscall(SYS_renameat2, AT_FDCWD, argv[4], AT_FDCWD, argv[5],
			    RENAME_EXCHANGE);
	} else if (!strcmp(op, "link") && argc == 6) {
		r = link(argv[4], argv[5]);
	} else if (!strcmp(op, "symlink") && argc == 6) {
		r = symlink(argv[4], argv[5]);
	} else if (!strcmp(op, "write") && argc == 8) {
		r = pwrite(fd, buf, len, off) == (ssize_t)len ? 0 : -1;
	} else if (!strcmp(op, "truncate") && argc == 6) {
		r = ftruncate(fd, atoll(argv[5]));
	} else if (!strcmp(op, "fallocate") && argc == 7) {
		r = fallocate(fd, 0, atoll(argv[5]), atoll(argv[6]));
	} else if (!strcmp(op, "chmod") && argc == 6) {
		r = chmod(argv[4], strtoul(argv[5], NULL, 8));
	} else if (!strcmp(op, "snapshot") && argc == 5) {
		r = write(fd, "1", 1) == 1 ? 0 : -1;
	} else if (!strcmp(op, "delsnap") && argc == 6) {
		r = write(fd, argv[5], strlen(argv[5])) == (ssize_t)strlen(argv[5]) ? 0 : -1;
	} else {
		trace("0");
		fprintf(stderr, "crashop: bad operation or arguments\n");
		return 2;
	}
	trace("0");
	if (r < 0) {
		fprintf(stderr, "crashop %s: %s\n", op, strerror(errno));
		return 1;
	}
	return 0;
}
