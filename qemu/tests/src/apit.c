/*
 * apit - checks of the Linux file APIs programs expect (issue 18), one
 * case per run.
 *
 * Usage: apit CASE DIR
 *
 * Cases (print "ok CASE" and exit 0, or say what went wrong and exit 1):
 *   odirect         a file opened with O_DIRECT (created, and reopened)
 *                   takes aligned and unaligned pwrite/pread; the bytes
 *                   read back through O_DIRECT, a plain open and a shared
 *                   mapping all agree
 *   odirect-verify  the file `odirect` wrote holds the same bytes (after
 *                   a remount)
 *   fiemap          FS_IOC_FIEMAP of a file with holes reports exactly its
 *                   written ranges, each at a device offset, the last one
 *                   flagged; a count-only call agrees; a range request
 *                   returns only the extents it overlaps
 *   phys FILE       prints the device offset of the file's first byte (from
 *                   FIEMAP): whether a write moved the block
 *   tmpfile         O_TMPFILE: an unnamed file (link count 0) that takes
 *                   data and that linkat(AT_EMPTY_PATH) names; with O_EXCL
 *                   linkat is refused; no other name appears in DIR
 *   tmpfile-hold    writes 1 MiB to an O_TMPFILE file, prints "held" and
 *                   keeps it open until killed (for a crash with it open)
 *   flags           FS_IOC_SETFLAGS/GETFLAGS and FS_IOC_FSGETXATTR:
 *                   immutable refuses every change, append-only every
 *                   non-append write, unsupported flags are refused; leaves
 *                   DIR/flagged with append-only|nodump|noatime set
 *   flags-verify    DIR/flagged still has those flags (after a remount)
 *   shutdown        FS_IOC_SHUTDOWN (FS_GOING_FLAGS_NOLOGFLUSH) on DIR
 *   shutdown-bad    FS_IOC_SHUTDOWN with an unknown flag: EINVAL
 *   btime           statx reports a birth time: a new file's is its
 *                   creation time, unchanged by writes and chmod
 *   btime-of FILE   prints FILE's birth time (seconds.nanoseconds)
 *   shutdown-mmap   a store through a mapping made before FS_IOC_SHUTDOWN
 *                   gets SIGBUS after it (shuts DIR down)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef FS_IOC_SHUTDOWN
#define FS_IOC_SHUTDOWN _IOR('X', 125, __u32)
#endif

#define PG 4096
#define SIZE (3 * PG + 100)

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	printf(" (errno %d: %s)\n", errno, strerror(errno));
	exit(1);
}

/* The expected content: byte i of the file. */
static unsigned char want(long i)
{
	return (unsigned char)(i * 7 + 3);
}

static void verify(const char *path)
{
	static unsigned char buf[SIZE + PG] __attribute__((aligned(PG)));
	int fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0)
		die("open O_DIRECT for reading");
	/* Aligned read of all pages, then an unaligned one. */
	ssize_t n = pread(fd, buf, 4 * PG, 0);
	if (n != SIZE)
		die("O_DIRECT pread returned %zd, want %d", n, SIZE);
	for (long i = 0; i < SIZE; i++)
		if (buf[i] != want(i))
			die("O_DIRECT read: byte %ld is %u, want %u", i, buf[i], want(i));
	n = pread(fd, buf + 1, 333, PG + 17);
	if (n != 333)
		die("unaligned O_DIRECT pread returned %zd", n);
	for (long i = 0; i < 333; i++)
		if (buf[1 + i] != want(PG + 17 + i))
			die("unaligned O_DIRECT read: byte %ld wrong", i);
	close(fd);
	/* A plain open and a mapping see the same bytes. */
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("plain open");
	static unsigned char plain[SIZE];
	if (pread(fd, plain, SIZE, 0) != SIZE)
		die("plain pread");
	unsigned char *m = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap");
	for (long i = 0; i < SIZE; i++)
		if (plain[i] != want(i) || m[i] != want(i))
			die("plain read or mapping: byte %ld differs", i);
	munmap(m, SIZE);
	close(fd);
}

static struct fiemap *map(int fd, unsigned long start, unsigned long len, unsigned count)
{
	struct fiemap *fm = calloc(1, sizeof(*fm) + count * sizeof(struct fiemap_extent));
	if (!fm)
		die("calloc");
	fm->fm_start = start;
	fm->fm_length = len;
	fm->fm_flags = FIEMAP_FLAG_SYNC;
	fm->fm_extent_count = count;
	if (ioctl(fd, FS_IOC_FIEMAP, fm))
		die("FS_IOC_FIEMAP");
	return fm;
}

static void fiemap_case(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/fiemap", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("create");
	static char buf[3 * PG];
	memset(buf, 'x', sizeof(buf));
	/* Pages 0, 2-3 and 7: holes at 1 and 4-6. */
	if (pwrite(fd, buf, PG, 0) != PG || pwrite(fd, buf, 2 * PG, 2 * PG) != 2 * PG ||
	    pwrite(fd, buf, PG, 7 * PG) != PG)
		die("pwrite");
	struct fiemap *fm = map(fd, 0, ~0UL, 16);
	const unsigned long want[][2] = { { 0, PG }, { 2 * PG, 2 * PG }, { 7 * PG, PG } };
	if (fm->fm_mapped_extents != 3)
		die("%u extents, want 3", fm->fm_mapped_extents);
	for (unsigned i = 0; i < 3; i++) {
		struct fiemap_extent *e = &fm->fm_extents[i];
		if (e->fe_logical != want[i][0] || e->fe_length != want[i][1])
			die("extent %u: logical %llu length %llu", i, (unsigned long long)e->fe_logical,
			    (unsigned long long)e->fe_length);
		if (e->fe_physical == 0 || e->fe_physical % PG)
			die("extent %u: physical %llu", i, (unsigned long long)e->fe_physical);
		if (!!(e->fe_flags & FIEMAP_EXTENT_LAST) != (i == 2))
			die("extent %u: flags %#x", i, e->fe_flags);
	}
	free(fm);
	/* Count only. */
	fm = map(fd, 0, ~0UL, 0);
	if (fm->fm_mapped_extents != 3)
		die("count-only call: %u extents", fm->fm_mapped_extents);
	free(fm);
	/* A range that overlaps only the middle extent. */
	fm = map(fd, 2 * PG + 100, PG, 16);
	if (fm->fm_mapped_extents != 1 || fm->fm_extents[0].fe_logical != 2 * PG)
		die("range request: %u extents", fm->fm_mapped_extents);
	free(fm);
	/* An empty file has none. */
	if (ftruncate(fd, 0))
		die("ftruncate");
	fm = map(fd, 0, ~0UL, 16);
	if (fm->fm_mapped_extents != 0)
		die("empty file: %u extents", fm->fm_mapped_extents);
	free(fm);
	close(fd);
}

static sigjmp_buf jb;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: apit CASE DIR\n");
		return 2;
	}
	const char *c = argv[1];
	char path[4096];
	if (!strcmp(c, "phys")) {
		int fd = open(argv[2], O_RDONLY);
		if (fd < 0)
			die("open %s", argv[2]);
		struct fiemap *fm = map(fd, 0, 1, 1);
		if (fm->fm_mapped_extents < 1 || fm->fm_extents[0].fe_logical != 0)
			die("no extent at offset 0");
		printf("%llu\n", (unsigned long long)fm->fm_extents[0].fe_physical);
		return 0;
	}
	if (!strcmp(c, "tmpfile") || !strcmp(c, "tmpfile-hold")) {
		static unsigned char buf[1 << 20], got[SIZE];
		struct stat st;
		int fd = open(argv[2], O_TMPFILE | O_RDWR, 0600);
		if (fd < 0)
			die("open O_TMPFILE");
		for (long i = 0; i < (long)sizeof(buf); i++)
			buf[i] = want(i);
		if (!strcmp(c, "tmpfile-hold")) {
			if (write(fd, buf, sizeof(buf)) != sizeof(buf) || fsync(fd))
				die("write to the O_TMPFILE file");
			printf("held\n");
			fflush(stdout);
			for (;;)
				pause();
		}
		if (pwrite(fd, buf, SIZE, 0) != SIZE)
			die("pwrite to the O_TMPFILE file");
		if (fstat(fd, &st) || st.st_nlink != 0 || st.st_size != SIZE ||
		    !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600)
			die("O_TMPFILE file: nlink %lu size %lld mode %o", (unsigned long)st.st_nlink,
			    (long long)st.st_size, st.st_mode);
		snprintf(path, sizeof(path), "%s/tmp-linked", argv[2]);
		if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH))
			die("linkat AT_EMPTY_PATH");
		if (fstat(fd, &st) || st.st_nlink != 1)
			die("linked O_TMPFILE file: nlink %lu", (unsigned long)st.st_nlink);
		close(fd);
		fd = open(path, O_RDONLY);
		if (fd < 0 || pread(fd, got, SIZE, 0) != SIZE || memcmp(got, buf, SIZE))
			die("the linked file's data");
		close(fd);
		fd = open(argv[2], O_TMPFILE | O_RDWR | O_EXCL, 0600);
		if (fd < 0)
			die("open O_TMPFILE|O_EXCL");
		snprintf(path, sizeof(path), "%s/tmp-excl", argv[2]);
		if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0 || errno != ENOENT)
			die("linkat of an O_EXCL temporary file: expected ENOENT");
		close(fd);
		printf("ok tmpfile\n");
		return 0;
	}
	if (!strcmp(c, "btime") || !strcmp(c, "btime-of")) {
		struct statx a, b;
		if (!strcmp(c, "btime-of")) {
			if (statx(AT_FDCWD, argv[2], 0, STATX_BTIME, &a) ||
			    !(a.stx_mask & STATX_BTIME))
				die("statx %s: no birth time", argv[2]);
			printf("%lld.%09u\n", (long long)a.stx_btime.tv_sec, a.stx_btime.tv_nsec);
			return 0;
		}
		struct timespec t0, t1;
		snprintf(path, sizeof(path), "%s/born", argv[2]);
		clock_gettime(CLOCK_REALTIME, &t0);
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
		clock_gettime(CLOCK_REALTIME, &t1);
		if (fd < 0)
			die("create %s", path);
		if (statx(AT_FDCWD, path, 0, STATX_BTIME, &a) || !(a.stx_mask & STATX_BTIME))
			die("statx: no birth time");
		if (a.stx_btime.tv_sec < t0.tv_sec - 1 || a.stx_btime.tv_sec > t1.tv_sec + 1)
			die("birth time %lld not the creation time (%lld..%lld)",
			    (long long)a.stx_btime.tv_sec, (long long)t0.tv_sec, (long long)t1.tv_sec);
		sleep(1);
		if (write(fd, "x", 1) != 1 || fchmod(fd, 0600))
			die("write/chmod");
		if (statx(AT_FDCWD, path, 0, STATX_BTIME, &b) ||
		    b.stx_btime.tv_sec != a.stx_btime.tv_sec ||
		    b.stx_btime.tv_nsec != a.stx_btime.tv_nsec ||
		    b.stx_mtime.tv_sec == b.stx_btime.tv_sec)
			die("the birth time moved with a write or chmod");
		close(fd);
		printf("ok btime\n");
		return 0;
	}
	if (!strcmp(c, "shutdown-mmap")) {
		unsigned int how = 2;
		int dfd = open(argv[2], O_RDONLY | O_DIRECTORY);
		snprintf(path, sizeof(path), "%s/mapped", argv[2]);
		int fd = open(path, O_RDWR | O_CREAT, 0644);
		if (dfd < 0 || fd < 0 || ftruncate(fd, PG))
			die("create %s", path);
		volatile char *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			die("mmap");
		m[0] = 'a';
		if (ioctl(dfd, FS_IOC_SHUTDOWN, &how))
			die("FS_IOC_SHUTDOWN");
		signal(SIGBUS, on_sigbus);
		if (sigsetjmp(jb, 1) == 0) {
			m[1] = 'b';
			die("a store through an old mapping after the shutdown succeeded");
		}
		printf("ok shutdown-mmap\n");
		return 0;
	}
	if (!strcmp(c, "shutdown") || !strcmp(c, "shutdown-bad")) {
		unsigned int how = !strcmp(c, "shutdown") ? 2 : 7;
		int fd = open(argv[2], O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			die("open %s", argv[2]);
		if (!strcmp(c, "shutdown-bad")) {
			if (ioctl(fd, FS_IOC_SHUTDOWN, &how) == 0 || errno != EINVAL)
				die("FS_IOC_SHUTDOWN with flag 7: expected EINVAL");
		} else if (ioctl(fd, FS_IOC_SHUTDOWN, &how)) {
			die("FS_IOC_SHUTDOWN");
		}
		printf("ok %s\n", c);
		return 0;
	}
	if (!strcmp(c, "flags") || !strcmp(c, "flags-verify")) {
		const int want_fl = FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL;
		char p2[4096];
		int fl, fd;
		snprintf(path, sizeof(path), "%s/flagged", argv[2]);
		if (!strcmp(c, "flags-verify")) {
			fd = open(path, O_RDONLY);
			if (fd < 0 || ioctl(fd, FS_IOC_GETFLAGS, &fl) || fl != want_fl)
				die("flags after remount: %#x", fl);
			printf("ok flags-verify\n");
			return 0;
		}
		fd = open(path, O_RDWR | O_CREAT, 0644);
		if (fd < 0 || write(fd, "abc", 3) != 3)
			die("create %s", path);
		if (ioctl(fd, FS_IOC_GETFLAGS, &fl) || fl != 0)
			die("FS_IOC_GETFLAGS of a new file: %#x", fl);
		fl = FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &fl))
			die("FS_IOC_SETFLAGS immutable");
		close(fd);
		snprintf(p2, sizeof(p2), "%s/other", argv[2]);
		if (open(path, O_WRONLY) >= 0 || errno != EPERM)
			die("open for write of an immutable file: expected EPERM");
		if (unlink(path) == 0 || errno != EPERM)
			die("unlink of an immutable file: expected EPERM");
		if (rename(path, p2) == 0 || errno != EPERM)
			die("rename of an immutable file: expected EPERM");
		if (chmod(path, 0600) == 0 || errno != EPERM)
			die("chmod of an immutable file: expected EPERM");
		if (truncate(path, 0) == 0 || errno != EPERM)
			die("truncate of an immutable file: expected EPERM");
		if (setxattr(path, "user.x", "1", 1, 0) == 0 || errno != EPERM)
			die("setxattr on an immutable file: expected EPERM");
		if (link(path, p2) == 0 || errno != EPERM)
			die("link to an immutable file: expected EPERM");
		fd = open(path, O_RDONLY);
		struct fsxattr fx;
		if (fd < 0 || ioctl(fd, FS_IOC_FSGETXATTR, &fx) || !(fx.fsx_xflags & FS_XFLAG_IMMUTABLE))
			die("FS_IOC_FSGETXATTR: immutable not reported");
		fl = FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &fl))
			die("FS_IOC_SETFLAGS append|nodump|noatime");
		close(fd);
		if (open(path, O_WRONLY) >= 0 || errno != EPERM)
			die("open for write without O_APPEND of an append-only file: expected EPERM");
		fd = open(path, O_WRONLY | O_APPEND);
		if (fd < 0 || write(fd, "def", 3) != 3)
			die("append to an append-only file");
		if (ftruncate(fd, 1) == 0 || errno != EPERM)
			die("ftruncate of an append-only file: expected EPERM");
		fl = FS_COMPR_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &fl) == 0 || errno != EOPNOTSUPP)
			die("FS_IOC_SETFLAGS compress: expected EOPNOTSUPP");
		if (ioctl(fd, FS_IOC_GETFLAGS, &fl) || fl != want_fl)
			die("FS_IOC_GETFLAGS: %#x", fl);
		close(fd);
		/* The directory too. */
		fd = open(argv[2], O_RDONLY | O_DIRECTORY);
		fl = FS_IMMUTABLE_FL;
		if (fd < 0 || ioctl(fd, FS_IOC_SETFLAGS, &fl))
			die("FS_IOC_SETFLAGS on the directory");
		if (open(p2, O_WRONLY | O_CREAT, 0644) >= 0 || errno != EPERM)
			die("create in an immutable directory: expected EPERM");
		fl = 0;
		if (ioctl(fd, FS_IOC_SETFLAGS, &fl))
			die("clearing the directory's flags");
		close(fd);
		printf("ok flags\n");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/odirect", argv[2]);
	if (!strcmp(c, "odirect")) {
		static unsigned char buf[SIZE + PG] __attribute__((aligned(PG)));
		for (long i = 0; i < SIZE; i++)
			buf[i] = want(i);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
		if (fd < 0)
			die("open O_DIRECT|O_CREAT");
		/* Two aligned pages, then the rest unaligned (offset and length). */
		if (pwrite(fd, buf, 2 * PG, 0) != 2 * PG)
			die("aligned O_DIRECT pwrite");
		if (pwrite(fd, buf + 2 * PG, 1000, 2 * PG) != 1000)
			die("unaligned O_DIRECT pwrite");
		close(fd);
		fd = open(path, O_WRONLY | O_DIRECT);
		if (fd < 0)
			die("reopen O_DIRECT");
		if (pwrite(fd, buf + 2 * PG + 1000, SIZE - 2 * PG - 1000, 2 * PG + 1000) !=
		    SIZE - 2 * PG - 1000)
			die("unaligned O_DIRECT pwrite at the end");
		if (fsync(fd))
			die("fsync");
		close(fd);
		verify(path);
	} else if (!strcmp(c, "odirect-verify")) {
		verify(path);
	} else if (!strcmp(c, "fiemap")) {
		fiemap_case(argv[2]);
	} else {
		fprintf(stderr, "apit: unknown case %s\n", c);
		return 2;
	}
	printf("ok %s\n", c);
	return 0;
}
