/*
 * nstest - deterministic namespace-operation transcript for oracle comparison.
 *
 * Usage: nstest [-q] DIR
 *
 * Runs a fixed sequence of namespace and metadata operations inside DIR
 * (which must exist and be empty) and prints one line per operation with
 * its arguments and result ("ok" or an errno name).  At the end a
 * canonical, sorted listing of the tree is printed.  Nothing that may
 * legitimately differ between correct file systems is printed (inode
 * numbers, directory sizes, st_blocks, implicit timestamps, dirent order),
 * so the output of two runs on two correct file systems must be identical:
 *
 *     nstest /tmp/x > a; nstest /mnt/nova/x > b; diff a b
 *
 * Every operation also has an expected result.  A mismatch, or an internal
 * inconsistency (e.g. a name returned twice by readdir), is reported with a
 * "FAIL:" line and makes the program exit with status 1.
 *
 * -q prints only the final line "nstest: N ops" (failures go to stderr).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define ANY (-1)            /* expectation: any result is acceptable */

static int quiet;
static unsigned long nops;
static unsigned long nfail;

/* ------------------------------------------------------------------ */
/* output helpers                                                      */
/* ------------------------------------------------------------------ */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* Record a failure; always visible (stdout normally, stderr with -q). */
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;
	FILE *f = quiet ? stderr : stdout;

	nfail++;
	fflush(stdout);
	fputs("FAIL: ", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

static const char *errname(int e)
{
	static char buf[32];

	switch (e) {
	case 0: return "ok";
#define E(x) case x: return #x
	E(EPERM); E(ENOENT); E(ESRCH); E(EINTR); E(EIO); E(ENXIO);
	E(E2BIG); E(ENOEXEC); E(EBADF); E(ECHILD); E(EAGAIN); E(ENOMEM);
	E(EACCES); E(EFAULT); E(ENOTBLK); E(EBUSY); E(EEXIST); E(EXDEV);
	E(ENODEV); E(ENOTDIR); E(EISDIR); E(EINVAL); E(ENFILE); E(EMFILE);
	E(ENOTTY); E(ETXTBSY); E(EFBIG); E(ENOSPC); E(ESPIPE); E(EROFS);
	E(EMLINK); E(EPIPE); E(EDOM); E(ERANGE); E(EDEADLK);
	E(ENAMETOOLONG); E(ENOLCK); E(ENOSYS); E(ENOTEMPTY); E(ELOOP);
	E(ENOMSG); E(EIDRM); E(ENODATA); E(EOVERFLOW); E(EOPNOTSUPP);
	E(ESTALE); E(EDQUOT); E(EUCLEAN); E(ENOTSOCK); E(EADDRINUSE);
#undef E
	}
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/*
 * Printable form of a path: components longer than 64 bytes are shown as
 * "<first 8 bytes>...(LEN)", so long names keep the transcript readable.
 */
static const char *disp(const char *path)
{
	static char bufs[4][512];
	static int which;
	char *b = bufs[which++ & 3];
	size_t o = 0;
	const char *p = path;

	while (*p && o < sizeof(bufs[0]) - 32) {
		const char *s = strchr(p, '/');
		size_t len = s ? (size_t)(s - p) : strlen(p);

		if (len > 64)
			o += snprintf(b + o, sizeof(bufs[0]) - o, "%.8s...(%zu)", p, len);
		else
			o += snprintf(b + o, sizeof(bufs[0]) - o, "%.*s", (int)len, p);
		if (!s)
			break;
		b[o++] = '/';
		b[o] = 0;
		p = s + 1;
	}
	b[o] = 0;
	return b;
}

/*
 * Print "DESC: RESULT" for an operation that returned RC (syscall style,
 * errno valid when rc < 0) and compare with EXPECT (0, an errno, or ANY).
 * Returns 0 if the operation succeeded.
 */
static int result(int rc, int expect, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int result(int rc, int expect, const char *fmt, ...)
{
	char desc[1024];
	va_list ap;
	int e = rc < 0 ? errno : 0;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	nops++;
	out("%s: %s\n", desc, errname(e));
	if (expect != ANY && e != expect)
		fail("%s: got %s, expected %s", desc, errname(e), errname(expect));
	return e ? -1 : 0;
}

/* A check that is not a syscall: print "DESC: VALUE" and compare. */
static void check_str(const char *got, const char *want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void check_str(const char *got, const char *want, const char *fmt, ...)
{
	char desc[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	nops++;
	out("%s: %s\n", desc, got);
	if (want && strcmp(got, want) != 0)
		fail("%s: got '%s', expected '%s'", desc, got, want);
}

static void check_num(long long got, long long want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void check_num(long long got, long long want, const char *fmt, ...)
{
	char desc[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	nops++;
	out("%s: %lld\n", desc, got);
	if (got != want)
		fail("%s: got %lld, expected %lld", desc, got, want);
}

static uint64_t fnv1a(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ------------------------------------------------------------------ */
/* operation wrappers                                                  */
/* ------------------------------------------------------------------ */

static void op_mkdir(const char *p, mode_t m, int expect)
{
	result(mkdir(p, m), expect, "mkdir %s %04o", disp(p), (unsigned)m);
}

static void op_rmdir(const char *p, int expect)
{
	result(rmdir(p), expect, "rmdir %s", disp(p));
}

static void op_unlink(const char *p, int expect)
{
	result(unlink(p), expect, "unlink %s", disp(p));
}

static void op_link(const char *a, const char *b, int expect)
{
	result(link(a, b), expect, "link %s %s", disp(a), disp(b));
}

static void op_symlink(const char *target, const char *p, int expect)
{
	result(symlink(target, p), expect, "symlink %s -> %s",
	       disp(p), strlen(target) > 40 ? "(long target)" : target);
}

static void op_rename(const char *a, const char *b, int expect)
{
	result(rename(a, b), expect, "rename %s %s", disp(a), disp(b));
}

static void op_rename2(const char *a, const char *b, unsigned flags, int expect)
{
	int rc = (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);

	result(rc, expect, "renameat2 %s %s %s", disp(a), disp(b),
	       flags == RENAME_NOREPLACE ? "NOREPLACE" :
	       flags == RENAME_EXCHANGE ? "EXCHANGE" : "0");
}

/* Create a file with O_CREAT|O_EXCL and write CONTENT into it. */
static void op_create(const char *p, mode_t m, const char *content, int expect)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, m);

	if (result(fd, expect, "create %s %04o", disp(p), (unsigned)m) == 0) {
		size_t len = content ? strlen(content) : 0;

		if (len && write(fd, content, len) != (ssize_t)len)
			fail("write %s: %s", disp(p), errname(errno));
		close(fd);
	} else if (fd >= 0) {
		close(fd);
	}
}

/* Read the whole (small) file and compare with WANT. */
static void op_readfile(const char *p, const char *want)
{
	char buf[256];
	int fd = open(p, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		result(-1, 0, "read %s", disp(p));
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		result(-1, 0, "read %s", disp(p));
		return;
	}
	buf[n] = 0;
	check_str(buf, want, "read %s", disp(p));
}

static void op_readlink(const char *p, const char *want)
{
	static char buf[8192];
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);

	if (n < 0) {
		result(-1, 0, "readlink %s", disp(p));
		return;
	}
	buf[n] = 0;
	nops++;
	if (n > 40)
		out("readlink %s: len %zd fnv %016llx\n", disp(p), n,
		    (unsigned long long)fnv1a(buf, n));
	else
		out("readlink %s: %s\n", disp(p), buf);
	if (strcmp(buf, want) != 0)
		fail("readlink %s: target differs (len %zd, want len %zu)",
		     disp(p), n, strlen(want));
}

static int xlstat(const char *p, struct stat *st)
{
	if (lstat(p, st) < 0) {
		fail("lstat %s: %s", disp(p), errname(errno));
		memset(st, 0, sizeof(*st));
		return -1;
	}
	return 0;
}

static const char *ftype(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	}
	return "unknown";
}

static void check_type(const char *p, const char *want)
{
	struct stat st;

	if (lstat(p, &st) < 0) {
		result(-1, 0, "type %s", disp(p));
		return;
	}
	check_str(ftype(st.st_mode), want, "type %s", disp(p));
}

static void check_nlink(const char *p, long long want)
{
	struct stat st;

	if (xlstat(p, &st) == 0)
		check_num((long long)st.st_nlink, want, "nlink %s", disp(p));
}

static void check_size(const char *p, long long want)
{
	struct stat st;

	if (xlstat(p, &st) == 0)
		check_num((long long)st.st_size, want, "size %s", disp(p));
}

static void check_mode(const char *p, unsigned want)
{
	struct stat st;
	char buf[16];

	if (xlstat(p, &st) == 0) {
		char w[16];

		snprintf(buf, sizeof(buf), "%04o", (unsigned)(st.st_mode & 07777));
		snprintf(w, sizeof(w), "%04o", want);
		check_str(buf, w, "mode %s", disp(p));
	}
}

/* stat(P/..) must be the same inode as stat(PARENT). */
static void check_dotdot(const char *p, const char *parent)
{
	char dd[1024];
	struct stat a, b;

	snprintf(dd, sizeof(dd), "%s/..", p);
	if (stat(dd, &a) < 0 || stat(parent, &b) < 0) {
		result(-1, 0, "dotdot %s", disp(p));
		return;
	}
	nops++;
	if (a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
		out("dotdot %s == %s: yes\n", disp(p), disp(parent));
	} else {
		out("dotdot %s == %s: no\n", disp(p), disp(parent));
		fail("%s/.. is not %s", disp(p), disp(parent));
	}
}

/* ------------------------------------------------------------------ */
/* readdir helpers                                                     */
/* ------------------------------------------------------------------ */

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct namelist {
	char **v;
	size_t n, cap;
};

static void nl_add(struct namelist *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v) {
			perror("realloc");
			exit(1);
		}
	}
	l->v[l->n] = strdup(s);
	if (!l->v[l->n]) {
		perror("strdup");
		exit(1);
	}
	l->n++;
}

static void nl_free(struct namelist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Read all names of directory P into L (sorted).  Returns -1 on error. */
static int read_names(const char *p, struct namelist *l)
{
	DIR *d = opendir(p);
	struct dirent *de;

	if (!d) {
		fail("opendir %s: %s", disp(p), errname(errno));
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL)
		nl_add(l, de->d_name);
	if (errno) {
		fail("readdir %s: %s", disp(p), errname(errno));
		closedir(d);
		return -1;
	}
	closedir(d);
	qsort(l->v, l->n, sizeof(*l->v), cmpstr);
	return 0;
}

/*
 * List directory P and check that it contains ".", ".." and exactly the
 * names in WANT (sorted), each exactly once.  Prints count and a hash.
 */
static void check_listing(const char *p, struct namelist *want)
{
	struct namelist got = { 0 };
	size_t i, j, dot = 0, dotdot = 0, bad = 0;
	uint64_t h = 0xcbf29ce484222325ULL;

	if (read_names(p, &got) < 0)
		return;
	for (i = 0; i < got.n; i++) {
		if (i > 0 && strcmp(got.v[i], got.v[i - 1]) == 0) {
			fail("readdir %s: name '%s' returned twice", disp(p), disp(got.v[i]));
			bad++;
		}
		if (strcmp(got.v[i], ".") == 0)
			dot++;
		else if (strcmp(got.v[i], "..") == 0)
			dotdot++;
		h ^= fnv1a(got.v[i], strlen(got.v[i]) + 1);
		h *= 0x100000001b3ULL;
	}
	if (dot != 1 || dotdot != 1) {
		fail("readdir %s: '.' seen %zu times, '..' seen %zu times",
		     disp(p), dot, dotdot);
		bad++;
	}
	/* compare the names other than . and .. with WANT (both sorted) */
	for (i = 0, j = 0; i < got.n || j < want->n;) {
		int c;

		if (i < got.n && (strcmp(got.v[i], ".") == 0 || strcmp(got.v[i], "..") == 0)) {
			i++;
			continue;
		}
		if (i >= got.n)
			c = 1;
		else if (j >= want->n)
			c = -1;
		else
			c = strcmp(got.v[i], want->v[j]);
		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			if (i == 0 || strcmp(got.v[i], got.v[i - 1]) != 0) {
				fail("readdir %s: unexpected name '%s'", disp(p), disp(got.v[i]));
				bad++;
			}
			i++;
		} else {
			fail("readdir %s: missing name '%s'", disp(p), disp(want->v[j]));
			bad++;
			j++;
		}
	}
	nops++;
	out("readdir %s: %zu entries, hash %016llx, %s\n", disp(p), got.n,
	    (unsigned long long)h, bad ? "BAD" : "consistent");
	nl_free(&got);
}

/* ------------------------------------------------------------------ */
/* test groups                                                         */
/* ------------------------------------------------------------------ */

static void t_basic(void)
{
	out("# mkdir / create / rmdir / unlink\n");
	op_mkdir("a", 0755, 0);
	op_mkdir("a/b", 0750, 0);
	op_mkdir("c", 0700, 0);
	op_mkdir("a", 0755, EEXIST);
	op_mkdir("nonexist/x", 0755, ENOENT);
	op_create("f1", 0644, "hello", 0);
	op_create("f1", 0644, NULL, EEXIST);
	op_create("a", 0644, NULL, EEXIST);
	op_create("nonexist/f", 0644, NULL, ENOENT);
	op_create("f1/x", 0644, NULL, ENOTDIR);
	op_mkdir("f1/x", 0755, ENOTDIR);
	op_mkdir("f1", 0755, EEXIST);
	result(open("f1", O_RDONLY | O_DIRECTORY), ENOTDIR, "open f1 O_DIRECTORY");
	result(open("a", O_WRONLY), EISDIR, "open a O_WRONLY");
	result(open("nonexist", O_RDONLY), ENOENT, "open nonexist O_RDONLY");
	op_rmdir("a", ENOTEMPTY);
	op_rmdir("nonexist", ENOENT);
	op_rmdir("f1", ENOTDIR);
	op_rmdir("a/b/.", EINVAL);
	op_rmdir("a/b", 0);
	op_rmdir("a/b", ENOENT);
	op_unlink("a", ANY);            /* Linux: EISDIR; POSIX allows EPERM */
	op_unlink("nonexist", ENOENT);
	op_unlink("f1/x", ENOTDIR);
	op_create("f2", 0600, "two", 0);
	op_unlink("f2", 0);
	op_unlink("f2", ENOENT);
	check_type("a", "dir");
	check_type("f1", "file");
	op_readfile("f1", "hello");
}

static void t_link(void)
{
	out("# link\n");
	op_link("f1", "f1link", 0);
	op_link("f1", "f1link", EEXIST);
	op_link("a", "alink", EPERM);
	op_link("nonexist", "x", ENOENT);
	op_link("f1", "nonexist/x", ENOENT);
	op_link("f1", "a/f1link2", 0);
	check_nlink("f1", 3);
	op_unlink("a/f1link2", 0);
	check_nlink("f1", 2);
	op_readfile("f1link", "hello");

	/* open file that loses its last name stays usable */
	{
		struct stat st;
		int fd = open("orphan", O_RDWR | O_CREAT | O_EXCL, 0644);

		if (result(fd, 0, "create orphan 0644") == 0) {
			char buf[8] = { 0 };

			op_unlink("orphan", 0);
			result(write(fd, "abc", 3) == 3 ? 0 : -1, 0, "write orphan");
			result(fstat(fd, &st), 0, "fstat orphan");
			check_num((long long)st.st_nlink, 0, "nlink (fd) orphan");
			check_num((long long)st.st_size, 3, "size (fd) orphan");
			result(pread(fd, buf, 3, 0) == 3 ? 0 : -1, 0, "pread orphan");
			check_str(buf, "abc", "data orphan");
			close(fd);
		}
	}
}

static void make_target(char *buf, size_t len)
{
	/* deterministic long target: "dirNNN/" components, padded */
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (i % 8 == 7) ? '/' : (char)('a' + (i / 8) % 26);
	buf[len] = 0;
}

static void t_symlink(void)
{
	static char t1000[1001], t4095[4096], t4096[4097];

	out("# symlink / readlink\n");
	op_symlink("f1", "s_short", 0);
	op_readlink("s_short", "f1");
	op_readfile("s_short", "hello");
	check_size("s_short", 2);
	op_symlink("f1", "s_short", EEXIST);
	op_symlink("dangling-target", "s_dangle", 0);
	op_readlink("s_dangle", "dangling-target");
	result(open("s_dangle", O_RDONLY), ENOENT, "open s_dangle O_RDONLY");
	result(open("s_dangle", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST,
	       "open s_dangle O_CREAT|O_EXCL");
	op_mkdir("s_short", 0755, EEXIST);

	make_target(t1000, 1000);
	op_symlink(t1000, "s_1000", 0);
	op_readlink("s_1000", t1000);
	check_size("s_1000", 1000);

	make_target(t4095, 4095);
	op_symlink(t4095, "s_4095", 0);
	op_readlink("s_4095", t4095);
	check_size("s_4095", 4095);

	make_target(t4096, 4096);
	op_symlink(t4096, "s_4096", ENAMETOOLONG);

	result(readlink("f1", t4096, 10) < 0 ? -1 : 0, EINVAL, "readlink f1 (not a symlink)");
	op_symlink("x", "s_tmp", 0);
	op_unlink("s_tmp", 0);
	check_type("f1", "file");       /* unlink of a symlink keeps the target */
}

static void t_rename(void)
{
	out("# rename\n");
	/* same directory */
	op_create("r1", 0644, "r1data", 0);
	op_rename("r1", "r1b", 0);
	op_rename("r1", "r1c", ENOENT);
	/* cross directory */
	op_rename("r1b", "c/r1x", 0);
	op_readfile("c/r1x", "r1data");
	/* over existing file */
	op_create("r3", 0644, "r3data", 0);
	op_create("r4", 0600, "r4data", 0);
	op_rename("r3", "r4", 0);
	op_readfile("r4", "r3data");
	check_mode("r4", 0644);
	/* rename a name onto another hard link of the same inode: no-op */
	op_link("r4", "r4hl", 0);
	op_rename("r4", "r4hl", 0);
	check_type("r4", "file");
	check_nlink("r4", 2);
	op_unlink("r4hl", 0);
	/* dir over empty dir */
	op_mkdir("d1", 0755, 0);
	op_mkdir("d1/inner", 0755, 0);
	op_mkdir("d2", 0711, 0);
	op_rename("d1", "d2", 0);
	check_mode("d2", 0755);
	check_type("d2/inner", "dir");
	check_dotdot("d2/inner", "d2");
	/* dir over non-empty dir */
	op_mkdir("d3", 0755, 0);
	op_mkdir("d4", 0755, 0);
	op_create("d4/sub", 0644, NULL, 0);
	op_rename("d3", "d4", ENOTEMPTY);
	/* file over dir, dir over file */
	op_rename("r4", "d3", EISDIR);
	op_rename("d3", "r4", ENOTDIR);
	/* dir into its own subdirectory */
	op_rename("d2", "d2/inner/x", EINVAL);
	op_rename("d2/inner", "d2/inner", 0);
	/* dir to other parent: .. must follow */
	op_mkdir("p1", 0755, 0);
	op_mkdir("p1/child", 0755, 0);
	op_mkdir("p1/child/gc", 0755, 0);
	op_mkdir("p2", 0755, 0);
	check_nlink("p1", 3);
	check_nlink("p2", 2);
	op_rename("p1/child", "p2/moved", 0);
	check_dotdot("p2/moved", "p2");
	check_dotdot("p2/moved/gc", "p2/moved");
	check_nlink("p1", 2);
	check_nlink("p2", 3);
	check_nlink("p2/moved", 3);
	op_rmdir("p1", 0);
	/* long trailing-slash forms */
	op_rename("r4/", "r5", ENOTDIR);
	op_rename("nonexist", "r5", ENOENT);
	op_rename("r4", "nonexist/r5", ENOENT);
}

static void t_rename2(void)
{
	out("# renameat2\n");
	op_create("n1", 0644, "n1data", 0);
	op_create("n2", 0644, "n2data", 0);
	op_rename2("n1", "n2", RENAME_NOREPLACE, EEXIST);
	op_rename2("n1", "n3", RENAME_NOREPLACE, 0);
	op_readfile("n3", "n1data");
	op_rename2("n3", "nx", RENAME_EXCHANGE, ENOENT);
	/* exchange two files */
	op_rename2("n2", "n3", RENAME_EXCHANGE, 0);
	op_readfile("n2", "n1data");
	op_readfile("n3", "n2data");
	/* exchange file and dir */
	op_create("e1", 0640, "e1data", 0);
	op_mkdir("e2", 0755, 0);
	op_create("e2/inside", 0644, "in", 0);
	op_rename2("e1", "e2", RENAME_EXCHANGE, 0);
	check_type("e1", "dir");
	check_type("e2", "file");
	op_readfile("e2", "e1data");
	op_readfile("e1/inside", "in");
	check_dotdot("e1", ".");
	/* exchange directories across parents */
	op_mkdir("q1", 0755, 0);
	op_mkdir("q2", 0755, 0);
	op_mkdir("q1/qa", 0755, 0);
	op_mkdir("q1/qa/qa_sub", 0755, 0);
	op_create("q1/qa/qa_file", 0644, "qa", 0);
	op_mkdir("q2/qb", 0700, 0);
	op_create("q2/qb/qb_file", 0644, "qb", 0);
	op_create("q2/qfile", 0644, "qf", 0);
	op_rename2("q1/qa", "q2/qb", RENAME_EXCHANGE, 0);
	op_readfile("q1/qa/qb_file", "qb");
	op_readfile("q2/qb/qa_file", "qa");
	check_mode("q1/qa", 0700);
	check_mode("q2/qb", 0755);
	check_dotdot("q1/qa", "q1");
	check_dotdot("q2/qb", "q2");
	check_dotdot("q2/qb/qa_sub", "q2/qb");
	check_nlink("q1", 3);
	check_nlink("q2", 3);
	check_nlink("q2/qb", 3);
	check_nlink("q1/qa", 2);
	/* exchange a dir in one parent with a file in another */
	op_rename2("q1/qa", "q2/qfile", RENAME_EXCHANGE, 0);
	check_type("q1/qa", "file");
	check_type("q2/qfile", "dir");
	check_dotdot("q2/qfile", "q2");
	check_nlink("q1", 2);
	check_nlink("q2", 4);
}

static void t_mknod(void)
{
	out("# mknod\n");
	result(mknod("fifo", S_IFIFO | 0640, 0), 0, "mknod fifo fifo 0640");
	result(mknod("sock", S_IFSOCK | 0755, 0), 0, "mknod sock sock 0755");
	result(mknod("chr", S_IFCHR | 0600, makedev(10, 200)), 0, "mknod chr chr 0600 10:200");
	result(mknod("blk", S_IFBLK | 0660, makedev(259, 70000)), 0,
	       "mknod blk blk 0660 259:70000");
	result(mknod("fifo", S_IFIFO | 0640, 0), EEXIST, "mknod fifo fifo 0640");
	check_type("fifo", "fifo");
	check_type("sock", "sock");
	check_type("chr", "chr");
	check_type("blk", "blk");
	op_link("fifo", "fifo2", 0);
	check_nlink("fifo", 2);
	op_rename("chr", "chr2", 0);
	check_type("chr2", "chr");
}

static void t_names(void)
{
	char n255[256], n256[257], path[600];

	out("# name length\n");
	memset(n255, 'n', 255);
	n255[255] = 0;
	memset(n256, 'm', 256);
	n256[256] = 0;
	op_create(n255, 0644, "long", 0);
	op_readfile(n255, "long");
	op_create(n256, 0644, NULL, ENAMETOOLONG);
	op_mkdir(n256, 0755, ENAMETOOLONG);
	op_symlink("f1", n256, ENAMETOOLONG);
	op_link("f1", n256, ENAMETOOLONG);
	op_rename(n255, n256, ENAMETOOLONG);
	op_mkdir("ln", 0755, 0);
	memset(n255, 'd', 255);
	snprintf(path, sizeof(path), "ln/%s", n255);
	op_mkdir(path, 0755, 0);
	check_dotdot(path, "ln");
	memset(n255, 's', 255);
	snprintf(path, sizeof(path), "ln/%s", n255);
	op_symlink("../f1", path, 0);
	op_readfile(path, "hello");
	memset(n255, 'n', 255);
	snprintf(path, sizeof(path), "ln/%s", n255);
	op_rename(n255, path, 0);
	op_readfile(path, "long");
	memset(n255, 'h', 255);
	snprintf(path, sizeof(path), "ln/%s", n255);
	op_link("f1", path, 0);
	check_nlink("f1", 3);
}

static void t_attr(void)
{
	struct stat st;

	out("# chmod / chown\n");
	op_create("m1", 0644, "m1", 0);
	result(chmod("m1", 0600), 0, "chmod m1 0600");
	check_mode("m1", 0600);
	result(chmod("m1", 04755), 0, "chmod m1 4755");
	check_mode("m1", 04755);
	result(chmod("m1", 02755), 0, "chmod m1 2755");
	check_mode("m1", 02755);
	result(chmod("c", 01777), 0, "chmod c 1777");
	check_mode("c", 01777);
	result(chmod("a", 02750), 0, "chmod a 2750");
	check_mode("a", 02750);
	result(chmod("nonexist", 0644), ENOENT, "chmod nonexist 0644");

	op_create("o1", 0644, "o1", 0);
	result(chown("o1", 1234, 5678), 0, "chown o1 1234:5678");
	if (xlstat("o1", &st) == 0) {
		check_num(st.st_uid, 1234, "uid o1");
		check_num(st.st_gid, 5678, "gid o1");
	}
	result(chown("o1", (uid_t)-1, 42), 0, "chown o1 -1:42");
	if (xlstat("o1", &st) == 0) {
		check_num(st.st_uid, 1234, "uid o1");
		check_num(st.st_gid, 42, "gid o1");
	}
	result(lchown("s_short", 77, 88), 0, "lchown s_short 77:88");
	if (xlstat("f1", &st) == 0)
		check_num(st.st_uid, 0, "uid f1 (symlink target untouched)");
	result(chown("c", 1000, 1000), 0, "chown c 1000:1000");
	/* chown of a setuid executable file clears S_ISUID */
	op_create("o2", 0644, "o2", 0);
	result(chmod("o2", 06755), 0, "chmod o2 6755");
	result(chown("o2", 500, 500), 0, "chown o2 500:500");
	check_mode("o2", 0755);
}

static void t_truncate(void)
{
	char buf[256];
	int fd;

	out("# truncate\n");
	op_create("t1", 0644, NULL, 0);
	fd = open("t1", O_RDWR);
	if (result(fd, 0, "open t1 O_RDWR") < 0)
		return;
	memset(buf, 'T', 100);
	result(pwrite(fd, buf, 100, 0) == 100 ? 0 : -1, 0, "pwrite t1 0 100");
	check_size("t1", 100);
	result(truncate("t1", 10000), 0, "truncate t1 10000");
	check_size("t1", 10000);
	result(pread(fd, buf, 10, 5000) == 10 ? 0 : -1, 0, "pread t1 5000 10");
	check_num(buf[0] | buf[9], 0, "zero bytes t1 @5000");
	result(truncate("t1", 50), 0, "truncate t1 50");
	check_size("t1", 50);
	result(ftruncate(fd, 200), 0, "ftruncate t1 200");
	check_size("t1", 200);
	memset(buf, 0x55, sizeof(buf));
	if (result(pread(fd, buf, 200, 0) == 200 ? 0 : -1, 0, "pread t1 0 200") == 0) {
		int ok = 1;

		for (int i = 0; i < 200; i++)
			if (buf[i] != (i < 50 ? 'T' : 0))
				ok = 0;
		check_str(ok ? "ok" : "bad", "ok", "content t1 (50 x 'T' then zeros)");
	}
	result(truncate("t1", 0), 0, "truncate t1 0");
	check_size("t1", 0);
	result(ftruncate(fd, (1 << 20) + 7), 0, "ftruncate t1 1048583");
	check_size("t1", (1 << 20) + 7);
	result(pwrite(fd, "end", 3, 5000000) == 3 ? 0 : -1, 0, "pwrite t1 5000000 3");
	check_size("t1", 5000003);
	result(ftruncate(fd, 4097), 0, "ftruncate t1 4097");
	check_size("t1", 4097);
	close(fd);
	result(truncate("a", 0), EISDIR, "truncate a 0");
	result(truncate("t1", -1), EINVAL, "truncate t1 -1");
	result(truncate("nonexist", 0), ENOENT, "truncate nonexist 0");
}

/* Entry name in the large directory: varied lengths exercise dirent sizes.
 * Every fifth entry (i % 5 == 4) is a directory. */
static void big_name(char *buf, size_t sz, int i)
{
	int pad = (i * 7) % 60;

	snprintf(buf, sz, "e%03d_%.*s", i, pad,
		 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
}

static void t_bigdir(void)
{
	char name[128], path[256];
	struct namelist want = { 0 };
	int i, errs = 0;

	out("# large directory\n");
	op_mkdir("big", 0755, 0);
	for (i = 0; i < 300; i++) {
		big_name(name, sizeof(name), i);
		snprintf(path, sizeof(path), "big/%s", name);
		if (i % 5 == 4) {
			if (mkdir(path, 0755) < 0)
				errs++, fail("mkdir %s: %s", path, errname(errno));
		} else {
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

			if (fd < 0)
				errs++, fail("create %s: %s", path, errname(errno));
			else
				close(fd);
		}
		nl_add(&want, name);
	}
	nops++;
	out("create big/e000..e299 (60 dirs): %s\n", errs ? "errors" : "ok");
	qsort(want.v, want.n, sizeof(*want.v), cmpstr);
	check_listing("big", &want);
	check_nlink("big", 62);

	/* remove every second entry */
	nl_free(&want);
	errs = 0;
	for (i = 0; i < 300; i++) {
		big_name(name, sizeof(name), i);
		snprintf(path, sizeof(path), "big/%s", name);
		if (i % 2 == 0) {
			if ((i % 5 == 4 ? rmdir(path) : unlink(path)) < 0)
				errs++, fail("remove %s: %s", path, errname(errno));
		} else {
			nl_add(&want, name);
		}
	}
	nops++;
	out("remove even big/e*: %s\n", errs ? "errors" : "ok");
	qsort(want.v, want.n, sizeof(*want.v), cmpstr);
	check_listing("big", &want);
	check_nlink("big", 32);
	nl_free(&want);
}

/*
 * Unlink entries while iterating with readdir.  Entries that survive the
 * whole iteration must be returned exactly once; removed entries may or may
 * not be returned, but never twice.
 * Rules (deterministic survivor set independent of dirent order):
 *   - when entry i is returned and i % 3 == 0, it is unlinked;
 *   - after 50 entries were returned, all entries with i % 4 == 1 are unlinked.
 * Survivors: i % 3 != 0 && i % 4 != 1.
 */
static void t_readdir_unlink(void)
{
	enum { N = 200 };
	int seen[N] = { 0 };
	char path[64];
	DIR *d;
	struct dirent *de;
	int i, count = 0, survivors = 0, bad = 0, errs = 0;
	struct namelist want = { 0 };

	out("# readdir while unlinking\n");
	op_mkdir("churn", 0755, 0);
	for (i = 0; i < N; i++) {
		int fd;

		snprintf(path, sizeof(path), "churn/c%03d", i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			errs++, fail("create %s: %s", path, errname(errno));
		else
			close(fd);
	}
	nops++;
	out("create churn/c000..c199: %s\n", errs ? "errors" : "ok");

	d = opendir("churn");
	if (!d) {
		result(-1, 0, "opendir churn");
		return;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (sscanf(de->d_name, "c%d", &i) != 1 || i < 0 || i >= N) {
			fail("readdir churn: unexpected name '%s'", de->d_name);
			bad++;
			continue;
		}
		if (seen[i]++) {
			fail("readdir churn: '%s' returned twice", de->d_name);
			bad++;
		}
		if (i % 3 == 0) {
			snprintf(path, sizeof(path), "churn/c%03d", i);
			if (unlink(path) < 0 && errno != ENOENT)
				errs++, fail("unlink %s: %s", path, errname(errno));
		}
		if (++count == 50) {
			for (int k = 1; k < N; k += 4) {
				snprintf(path, sizeof(path), "churn/c%03d", k);
				if (unlink(path) < 0 && errno != ENOENT)
					errs++, fail("unlink %s: %s", path, errname(errno));
			}
		}
	}
	if (errno)
		fail("readdir churn: %s", errname(errno));
	closedir(d);
	for (i = 0; i < N; i++) {
		if (i % 3 != 0 && i % 4 != 1) {
			survivors++;
			if (seen[i] != 1) {
				fail("readdir churn: survivor c%03d seen %d times", i, seen[i]);
				bad++;
			}
			snprintf(path, sizeof(path), "c%03d", i);
			nl_add(&want, path);
		}
	}
	nops++;
	out("readdir-unlink churn: %d survivors, %s\n", survivors,
	    bad ? "BAD" : "each seen once");
	qsort(want.v, want.n, sizeof(*want.v), cmpstr);
	check_listing("churn", &want);
	nl_free(&want);
}

static void t_nlink(void)
{
	out("# nlink\n");
	op_mkdir("nl", 0755, 0);
	check_nlink("nl", 2);
	op_mkdir("nl/s1", 0755, 0);
	op_mkdir("nl/s2", 0755, 0);
	op_mkdir("nl/s3", 0755, 0);
	op_create("nl/file", 0644, "x", 0);
	check_nlink("nl", 5);
	op_rmdir("nl/s3", 0);
	check_nlink("nl", 4);
	op_rename("nl/s2", "nl_s2_moved", 0);
	check_nlink("nl", 3);
	op_rename("nl_s2_moved", "nl/s1/s2", 0);
	check_nlink("nl", 3);
	check_nlink("nl/s1", 3);
	op_link("nl/file", "nl/file.l1", 0);
	op_link("nl/file", "nl/s1/file.l2", 0);
	check_nlink("nl/file", 3);
	op_unlink("nl/file", 0);
	check_nlink("nl/file.l1", 2);
	op_rename("nl/file.l1", "nl/s1/file.l2", 0);   /* same inode: no-op */
	check_nlink("nl/s1/file.l2", 2);
	op_unlink("nl/file.l1", 0);
	check_nlink("nl/s1/file.l2", 1);
}

static void t_statfs(void)
{
	struct statfs s;

	out("# statfs\n");
	if (result(statfs(".", &s), 0, "statfs .") < 0)
		return;
	nops++;
	if (s.f_bfree > s.f_blocks)
		fail("statfs: f_bfree %llu > f_blocks %llu",
		     (unsigned long long)s.f_bfree, (unsigned long long)s.f_blocks);
	else if (s.f_bavail > s.f_bfree)
		fail("statfs: f_bavail %llu > f_bfree %llu",
		     (unsigned long long)s.f_bavail, (unsigned long long)s.f_bfree);
	else if (s.f_files && s.f_ffree > s.f_files)
		fail("statfs: f_ffree %llu > f_files %llu",
		     (unsigned long long)s.f_ffree, (unsigned long long)s.f_files);
	else if (s.f_bsize <= 0 || s.f_namelen < 255)
		fail("statfs: f_bsize %ld f_namelen %ld",
		     (long)s.f_bsize, (long)s.f_namelen);
	else
		out("statfs ok\n");
}

/* Paths whose times were set explicitly: their mtime.nsec is listed. */
static const char *timed[] = { "times_file", "times_dir", "times_link", "times_omit", NULL };

static void set_times(const char *p, long long as, long an, long long ms, long mn, int flags)
{
	struct timespec ts[2] = { { as, an }, { ms, mn } };
	struct stat st;

	if (result(utimensat(AT_FDCWD, p, ts, flags), 0,
		   "utimensat %s atime %lld.%09ld mtime %lld.%09ld%s", p, as, an, ms, mn,
		   flags ? " NOFOLLOW" : "") < 0)
		return;
	if (xlstat(p, &st) < 0)
		return;
	if (an != UTIME_OMIT) {
		check_num(st.st_atim.tv_sec, as, "atime.sec %s", p);
		check_num(st.st_atim.tv_nsec, an, "atime.nsec %s", p);
	}
	check_num(st.st_mtim.tv_sec, ms, "mtime.sec %s", p);
	check_num(st.st_mtim.tv_nsec, mn, "mtime.nsec %s", p);
}

static void t_times(void)
{
	struct stat st;
	struct timespec ts[2];

	out("# utimensat\n");
	op_create("times_file", 0644, "t", 0);
	op_mkdir("times_dir", 0755, 0);
	op_symlink("times_file", "times_link", 0);
	op_create("times_omit", 0644, NULL, 0);
	set_times("times_file", 1000000000, 123456789, 1234567890, 987654321, 0);
	set_times("times_dir", 1500000000, 1, 1600000000, 999999999, 0);
	set_times("times_link", 1100000000, 500, 1200000000, 600, AT_SYMLINK_NOFOLLOW);
	/* the symlink's target must not have changed */
	if (xlstat("times_file", &st) == 0)
		check_num(st.st_mtim.tv_nsec, 987654321, "mtime.nsec times_file");
	set_times("times_omit", 1300000000, 111, 1400000000, 222, 0);
	/* UTIME_OMIT for atime keeps it, mtime changes */
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 1400000001;
	ts[1].tv_nsec = 333;
	if (result(utimensat(AT_FDCWD, "times_omit", ts, 0), 0,
		   "utimensat times_omit atime OMIT mtime 1400000001.000000333") == 0 &&
	    xlstat("times_omit", &st) == 0) {
		check_num(st.st_atim.tv_sec, 1300000000, "atime.sec times_omit");
		check_num(st.st_atim.tv_nsec, 111, "atime.nsec times_omit");
		check_num(st.st_mtim.tv_sec, 1400000001, "mtime.sec times_omit");
		check_num(st.st_mtim.tv_nsec, 333, "mtime.nsec times_omit");
	}
	ts[0].tv_nsec = 1000000000;
	result(utimensat(AT_FDCWD, "times_omit", ts, 0), EINVAL,
	       "utimensat times_omit atime nsec 1000000000");
}

/* ------------------------------------------------------------------ */
/* final canonical tree listing                                        */
/* ------------------------------------------------------------------ */

static void collect(const char *dir, struct namelist *all)
{
	struct namelist names = { 0 };
	char path[8192];

	if (read_names(dir, &names) < 0)
		return;
	for (size_t i = 0; i < names.n; i++) {
		struct stat st;

		if (!strcmp(names.v[i], ".") || !strcmp(names.v[i], ".."))
			continue;
		if (strcmp(dir, ".") == 0)
			snprintf(path, sizeof(path), "%s", names.v[i]);
		else
			snprintf(path, sizeof(path), "%s/%s", dir, names.v[i]);
		nl_add(all, path);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			collect(path, all);
	}
	nl_free(&names);
}

static int is_timed(const char *p)
{
	for (int i = 0; timed[i]; i++)
		if (strcmp(timed[i], p) == 0)
			return 1;
	return 0;
}

static void tree_listing(void)
{
	struct namelist all = { 0 };
	struct stat st;

	out("# tree\n");
	if (xlstat(".", &st) == 0)
		out(". dir nlink=%lu\n", (unsigned long)st.st_nlink);
	collect(".", &all);
	qsort(all.v, all.n, sizeof(*all.v), cmpstr);
	for (size_t i = 0; i < all.n; i++) {
		const char *p = all.v[i];
		char size[32] = "-";

		if (xlstat(p, &st) < 0)
			continue;
		if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
			snprintf(size, sizeof(size), "%lld", (long long)st.st_size);
		out("%s %s %04o nlink=%lu size=%s uid=%u gid=%u", disp(p), ftype(st.st_mode),
		    (unsigned)(st.st_mode & 07777), (unsigned long)st.st_nlink, size,
		    (unsigned)st.st_uid, (unsigned)st.st_gid);
		if (S_ISLNK(st.st_mode)) {
			static char t[8192];
			ssize_t n = readlink(p, t, sizeof(t) - 1);

			if (n < 0) {
				fail("readlink %s: %s", disp(p), errname(errno));
			} else {
				t[n] = 0;
				if (n > 40)
					out(" -> len %zd fnv %016llx", n,
					    (unsigned long long)fnv1a(t, n));
				else
					out(" -> %s", t);
			}
		}
		if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
			out(" rdev=%u:%u", major(st.st_rdev), minor(st.st_rdev));
		if (is_timed(p))
			out(" mtime=%lld.%09ld", (long long)st.st_mtim.tv_sec,
			    (long)st.st_mtim.tv_nsec);
		out("\n");
	}
	nops++;
	nl_free(&all);
}

static void usage(void)
{
	fprintf(stderr, "usage: nstest [-q] DIR   (DIR must exist and be empty)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct namelist names = { 0 };
	int c;

	while ((c = getopt(argc, argv, "q")) != -1) {
		if (c == 'q')
			quiet = 1;
		else
			usage();
	}
	if (optind != argc - 1)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (chdir(argv[optind]) < 0) {
		fprintf(stderr, "nstest: cannot chdir to %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	if (read_names(".", &names) < 0)
		return 1;
	if (names.n != 2) {
		fprintf(stderr, "nstest: %s is not empty\n", argv[optind]);
		return 1;
	}
	nl_free(&names);
	umask(0);

	t_basic();
	t_link();
	t_symlink();
	t_rename();
	t_rename2();
	t_mknod();
	t_names();
	t_attr();
	t_truncate();
	t_bigdir();
	t_readdir_unlink();
	t_nlink();
	t_statfs();
	t_times();
	tree_listing();

	if (nfail) {
		fprintf(quiet ? stderr : stdout, "nstest: %lu ops, %lu FAILED\n", nops, nfail);
		if (quiet)
			printf("nstest: %lu ops\n", nops);
		return 1;
	}
	printf("nstest: %lu ops\n", nops);
	return 0;
}
