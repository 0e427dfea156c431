/*
 * crashop - file-system operations with nova's pmem trace around them
 * (qemu/tests/crashenum.sh, issue 14).
 *
 * Usage: crashop TRACE MIB OP ARGS... [-- OP ARGS...]...
 *
 *   OP: create PATH | mkdir PATH | mknod PATH (a FIFO) | unlink PATH |
 *       rmdir PATH | rename OLD NEW | noreplace OLD NEW | exchange OLD NEW |
 *       whiteout OLD NEW  (RENAME_WHITEOUT) |
 *       setacl PATH  (system.posix_acl_access: u::rw-,u:1000:rw-,g::r--,
 *         m::rw-,o::r--; the mode's group bits follow the mask) |
 *       link OLD NEW | symlink TARGET PATH |
 *       write PATH OFF LEN BYTE  (one pwrite of LEN bytes of BYTE) |
 *       truncate PATH LEN | fallocate PATH OFF LEN | chmod PATH MODE(octal) |
 *       punch PATH OFF LEN | zero PATH OFF LEN  (fallocate PUNCH_HOLE|KEEP_SIZE,
 *       ZERO_RANGE) | collapse PATH OFF LEN | insert PATH OFF LEN  (fallocate
 *       COLLAPSE_RANGE, INSERT_RANGE) | setxattr PATH NAME LEN  (a LEN-byte value) |
 *       rmxattr PATH NAME |
 *       chown PATH UID GID | utimes PATH SEC  (atime and mtime SEC.0) |
 *       mmapstore PATH OFF BYTE  (maps PATH shared, stores BYTE at OFF
 *         through the mapping, msync(MS_SYNC)s its page) |
 *       wait PROCDIR STAT  (waits, up to 20 s, until PROCDIR/stats shows
 *         STAT above its value before the trace: a cleaner-thread run) |
 *       logfill PATH PROCDIR PAGES [BYTE]  (set-up, untraced: chmods PATH,
 *         alternating 0600/0644, until log_pages_allocated has grown by
 *         PAGES, then until the log page the last growth began is full
 *         (the next entry begins a new page); with BYTE, every 16th entry
 *         is instead a 4 KiB pwrite of BYTE into the next page of PATH,
 *         so every log page keeps a needed entry) |
 *       umount PATH  (last only: the trace stays on; nova parks it at the
 *         end of the unmount for the next mount's trace file) |
 *       snapshot PROCDIR  (writes 1 to PROCDIR/create_snapshot) |
 *       delsnap PROCDIR EPOCH  (writes EPOCH to PROCDIR/delete_snapshot) |
 *       tmpfile DIR LEN BYTE PATH  (an O_TMPFILE file in DIR, LEN bytes of
 *         BYTE written to it, then linked as PATH: all three traced) |
 *       clone SRC SOFF DST DOFF LEN  (FICLONERANGE: LEN bytes of SRC at
 *         SOFF shared into DST, opened for writing, at DOFF; LEN 0: to
 *         the end of SRC)
 *
 * Prepares the first operation (opens its file, fills its buffer), writes
 * "1 MIB" to TRACE (/proc/fs/nova/<dev>/trace), makes the system call,
 * and writes "0" after the last operation: the trace holds the stores of
 * those calls and nothing of this process's set-up. Between two
 * operations it runs the shell command in $CRASHOP_BETWEEN, if set, with
 * CRASHOP_STEP=1, 2, ... (crashenum takes the tree manifest there: the
 * states between the operations). Exit status 0 when every call
 * succeeded, 1 when one failed (the rest are not made), 2 on bad usage or
 * a trace that could not be switched. TRACE "-": no trace (set-ups).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <time.h>
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
	if (trace_fd < 0)
		return;
	if (write(trace_fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd)) {
		fprintf(stderr, "crashop: trace '%s': %s\n", cmd, strerror(errno));
		exit(2);
	}
}

/* One operation, prepared (fd, buf) before the call. */
struct op {
	char **a;
	int n;
	int fd;
	char *buf;
	size_t len;
	long long base;
};

/* The value of STAT in PROCDIR/stats, or -1. */
static long long stat_of(const char *procdir, const char *stat)
{
	char path[512], line[256];
	size_t n = strlen(stat);
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/stats", procdir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, stat, n) && line[n] == ' ')
			v = atoll(line + n + 1);
	fclose(f);
	return v;
}

/*
 * logfill (see the usage above): 0, or -1 (errno). Knows nova's log
 * format: 63 slots of 64 bytes a page, a setattr entry takes 2, a
 * FileWrite entry 1 (format/src/layout.rs).
 */
static int logfill(char **a, int n)
{
	long long base = stat_of(a[2], "log_pages_allocated");
	long pages = atol(a[3]), i;
	int wbyte = n > 4 ? atoi(a[4]) : -1, fd = -1, used = -1;
	off_t wpos = 0;
	char page[4096];

	if (base < 0)
		return -1;
	if (wbyte >= 0) {
		memset(page, wbyte, sizeof(page));
		fd = open(a[1], O_WRONLY);
		if (fd < 0)
			return -1;
	}
	for (i = 0;; i++) {
		int w = fd >= 0 && i % 16 == 0, slots = w ? 1 : 2;

		/* The page the last growth began has no room for this one. */
		if (used >= 0 && used + slots > 63)
			break;
		if (w) {
			if (pwrite(fd, page, sizeof(page), wpos) != sizeof(page))
				return -1;
			wpos += sizeof(page);
		} else if (chmod(a[1], i % 2 ? 0600 : 0644)) {
			return -1;
		}
		if (used >= 0)
			used += slots;
		else if (stat_of(a[2], "log_pages_allocated") - base >= pages)
			used = slots;
		if (i > 1000000) {
			errno = E2BIG;
			return -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

static int is(const struct op *o, const char *name, int nargs)
{
	return !strcmp(o->a[0], name) && o->n == nargs + 1;
}

/* Opens what the call needs; 0, or -1 on bad usage or a failed open. */
static int prepare(struct op *o)
{
	char path[512];

	o->fd = -1;
	if (is(o, "write", 4)) {
		o->len = strtoul(o->a[3], NULL, 0);
		o->buf = malloc(o->len ? o->len : 1);
		if (!o->buf)
			return -1;
		memset(o->buf, atoi(o->a[4]), o->len);
		o->fd = open(o->a[1], O_WRONLY);
	} else if (is(o, "truncate", 2) || is(o, "fallocate", 3) || is(o, "punch", 3) ||
		   is(o, "zero", 3) || is(o, "collapse", 3) || is(o, "insert", 3)) {
		o->fd = open(o->a[1], O_WRONLY);
	} else if (is(o, "clone", 5)) {
		o->base = open(o->a[1], O_RDONLY);
		if (o->base < 0) {
			perror(o->a[1]);
			return -1;
		}
		o->fd = open(o->a[3], O_WRONLY);
		if (o->fd < 0) {
			perror(o->a[3]);
			return -1;
		}
		return 0;
	} else if (is(o, "setxattr", 3)) {
		o->len = strtoul(o->a[3], NULL, 0);
		o->buf = malloc(o->len ? o->len : 1);
		if (!o->buf)
			return -1;
		for (size_t i = 0; i < o->len; i++)
			o->buf[i] = (char)('a' + i % 23);
		return 0;
	} else if (is(o, "mmapstore", 3)) {
		struct stat st;

		o->fd = open(o->a[1], O_RDWR);
		if (o->fd < 0 || fstat(o->fd, &st)) {
			perror(o->a[1]);
			return -1;
		}
		o->len = st.st_size;
		o->buf = mmap(NULL, o->len, PROT_READ | PROT_WRITE, MAP_SHARED, o->fd, 0);
		if (o->buf == MAP_FAILED || strtoull(o->a[2], NULL, 0) >= o->len) {
			fprintf(stderr, "crashop: cannot map %s up to %s\n", o->a[1], o->a[2]);
			return -1;
		}
		return 0;
	} else if (is(o, "snapshot", 1) || is(o, "delsnap", 2)) {
		snprintf(path, sizeof(path), "%s/%s_snapshot", o->a[1],
			 is(o, "snapshot", 1) ? "create" : "delete");
		o->fd = open(path, O_WRONLY);
	} else {
		return 0;
	}
	if (o->fd < 0) {
		perror(o->a[1]);
		return -1;
	}
	return 0;
}

/* The system call: 0 ok, -1 failed (errno), -2 unknown operation. */
static int call(struct op *o)
{
	char **a = o->a;

	if (is(o, "create", 1)) {
		int fd = open(a[1], O_CREAT | O_EXCL | O_WRONLY, 0644);
		return fd < 0 ? -1 : 0;
	}
	if (is(o, "mkdir", 1))
		return mkdir(a[1], 0755);
	if (is(o, "mknod", 1))
		return mknod(a[1], S_IFIFO | 0644, 0);
	if (is(o, "unlink", 1))
		return unlink(a[1]);
	if (is(o, "rmdir", 1))
		return rmdir(a[1]);
	if (is(o, "rename", 2))
		return rename(a[1], a[2]);
	if (is(o, "noreplace", 2))
		return syscall(SYS_renameat2, AT_FDCWD, a[1], AT_FDCWD, a[2],
			       RENAME_NOREPLACE);
	if (is(o, "exchange", 2))
		return syscall(SYS_renameat2, AT_FDCWD, a[1], AT_FDCWD, a[2],
			       RENAME_EXCHANGE);
	if (is(o, "whiteout", 2))
		return syscall(SYS_renameat2, AT_FDCWD, a[1], AT_FDCWD, a[2],
			       RENAME_WHITEOUT);
	if (is(o, "setacl", 1)) {
		/* The posix_acl_xattr form: version 2, then tag, perm, id. */
		static const unsigned char acl[] = {
			2, 0, 0, 0,
			0x01, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,	/* USER_OBJ rw- */
			0x02, 0, 6, 0, 0xe8, 0x03, 0, 0,	/* USER 1000 rw- */
			0x04, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,	/* GROUP_OBJ r-- */
			0x10, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,	/* MASK rw- */
			0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,	/* OTHER r-- */
		};

		return setxattr(a[1], "system.posix_acl_access", acl, sizeof(acl), 0);
	}
	if (is(o, "link", 2))
		return link(a[1], a[2]);
	if (is(o, "symlink", 2))
		return symlink(a[1], a[2]);
	if (is(o, "write", 4))
		return pwrite(o->fd, o->buf, o->len, atoll(a[2])) == (ssize_t)o->len ? 0 : -1;
	if (is(o, "truncate", 2))
		return ftruncate(o->fd, atoll(a[2]));
	if (is(o, "fallocate", 3))
		return fallocate(o->fd, 0, atoll(a[2]), atoll(a[3]));
	if (is(o, "punch", 3))
		return fallocate(o->fd, 0x02 | 0x01, atoll(a[2]), atoll(a[3]));
	if (is(o, "zero", 3))
		return fallocate(o->fd, 0x10, atoll(a[2]), atoll(a[3]));
	if (is(o, "collapse", 3))
		return fallocate(o->fd, 0x08, atoll(a[2]), atoll(a[3]));
	if (is(o, "insert", 3))
		return fallocate(o->fd, 0x20, atoll(a[2]), atoll(a[3]));
	if (is(o, "setxattr", 3))
		return setxattr(a[1], a[2], o->buf, o->len, 0);
	if (is(o, "clone", 5)) {
		struct file_clone_range r = {
			.src_fd = o->base,
			.src_offset = strtoull(a[2], NULL, 0),
			.src_length = strtoull(a[5], NULL, 0),
			.dest_offset = strtoull(a[4], NULL, 0),
		};

		return ioctl(o->fd, FICLONERANGE, &r);
	}
	if (is(o, "rmxattr", 2))
		return removexattr(a[1], a[2]);
	if (is(o, "chmod", 2))
		return chmod(a[1], strtoul(a[2], NULL, 8));
	if (is(o, "chown", 3))
		return chown(a[1], atoi(a[2]), atoi(a[3]));
	if (is(o, "utimes", 2)) {
		struct timespec ts[2] = { { atoll(a[2]), 0 }, { atoll(a[2]), 0 } };

		return utimensat(AT_FDCWD, a[1], ts, 0);
	}
	if (is(o, "mmapstore", 3)) {
		size_t off = strtoull(a[2], NULL, 0);

		o->buf[off] = (char)strtol(a[3], NULL, 0);
		return msync(o->buf + (off & ~(size_t)4095), 4096, MS_SYNC);
	}
	if (is(o, "wait", 2)) {
		int t;

		for (t = 0; t < 2000; t++) {
			long long v = stat_of(a[1], a[2]);

			if (v < 0)
				return -1;
			if (v > o->base)
				return 0;
			usleep(10000);
		}
		errno = ETIMEDOUT;
		return -1;
	}
	if (is(o, "logfill", 3) || is(o, "logfill", 4))
		return logfill(a, o->n);
	if (is(o, "umount", 1))
		return umount(a[1]);
	if (is(o, "tmpfile", 4)) {
		size_t len = strtoul(a[2], NULL, 0);
		int fd = open(a[1], O_TMPFILE | O_RDWR, 0644);

		if (fd < 0)
			return -1;
		while (len) {
			char b[4096];
			size_t n = len < sizeof(b) ? len : sizeof(b);

			memset(b, atoi(a[3]), n);
			if (write(fd, b, n) != (ssize_t)n)
				return -1;
			len -= n;
		}
		return linkat(fd, "", AT_FDCWD, a[4], AT_EMPTY_PATH);
	}
	if (is(o, "snapshot", 1))
		return write(o->fd, "1", 1) == 1 ? 0 : -1;
	if (is(o, "delsnap", 2))
		return write(o->fd, a[2], strlen(a[2])) == (ssize_t)strlen(a[2]) ? 0 : -1;
	return -2;
}

int main(int argc, char **argv)
{
	struct op ops[8];
	int nops = 0, i, r;
	char on[32], step[16];
	const char *between = getenv("CRASHOP_BETWEEN");

	if (argc < 4) {
		fprintf(stderr, "usage: crashop TRACE MIB OP ARGS... [-- OP ARGS...]...\n");
		return 2;
	}
	/* Split OP ARGS... at "--". */
	for (i = 3; i < argc;) {
		int j = i;

		while (j < argc && strcmp(argv[j], "--"))
			j++;
		if (j == i || nops == 8) {
			fprintf(stderr, "crashop: empty operation or more than 8\n");
			return 2;
		}
		ops[nops].a = argv + i;
		ops[nops].n = j - i;
		ops[nops].buf = NULL;
		nops++;
		i = j + 1;
	}
	/* The values a "wait" waits to see exceeded, before the trace. */
	for (i = 0; i < nops; i++)
		if (is(&ops[i], "wait", 2) &&
		    (ops[i].base = stat_of(ops[i].a[1], ops[i].a[2])) < 0) {
			fprintf(stderr, "crashop: no %s in %s/stats\n", ops[i].a[2], ops[i].a[1]);
			return 2;
		}
	trace_fd = strcmp(argv[1], "-") ? open(argv[1], O_WRONLY) : -1;
	if (trace_fd < 0 && strcmp(argv[1], "-")) {
		perror(argv[1]);
		return 2;
	}
	snprintf(on, sizeof(on), "1 %d", atoi(argv[2]));
	if (prepare(&ops[0]))
		return 2;
	trace(on);
	for (i = 0; i < nops; i++) {
		if (i > 0) {
			snprintf(step, sizeof(step), "%d", i);
			setenv("CRASHOP_STEP", step, 1);
			if (between && system(between) != 0) {
				trace("0");
				fprintf(stderr, "crashop: CRASHOP_BETWEEN failed\n");
				return 2;
			}
			if (prepare(&ops[i])) {
				trace("0");
				return 2;
			}
		}
		errno = 0;
		r = call(&ops[i]);
		if (r == -2) {
			trace("0");
			fprintf(stderr, "crashop: bad operation or arguments: %s\n", ops[i].a[0]);
			return 2;
		}
		if (r < 0) {
			trace("0");
			fprintf(stderr, "crashop %s: %s\n", ops[i].a[0], strerror(errno));
			return 1;
		}
	}
	/* After an unmount the trace file is gone (the trace is parked). */
	if (!is(&ops[nops - 1], "umount", 1))
		trace("0");
	return 0;
}
