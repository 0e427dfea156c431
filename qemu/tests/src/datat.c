/*
 * datat - checks of the file data paths (mmap on DAX, fallocate,
 * copy_file_range, sendfile), one case per run.
 *
 * Usage: datat CASE DIR
 *
 * Cases (each creates its own files in DIR, checks, prints "ok CASE" and
 * exits 0, or prints what went wrong and exits 1):
 *   shared    stores through MAP_SHARED are seen by read()
 *   coherent  random write()s and mapped stores on one file, each checked
 *             through the other path against a model
 *   private   MAP_PRIVATE stores stay private; the file is unchanged
 *   hole      a store into a hole of a sparse file allocates just that page
 *   sigbus    access past the end of file (and after truncate) is SIGBUS
 *   sync      MAP_SHARED_VALIDATE|MAP_SYNC is accepted; stores + msync
 *   tail      a store past EOF in the last page does not show after the
 *             file grows again (it reads as zeros)
 *   persist   (run before a remount/reboot) FILE gets a known pattern by
 *             mapped stores + msync; "verify" checks it afterwards
 *   verify    checks the pattern of "persist"
 *   falloc    fallocate: default mode grows the file with zeros and
 *             allocates; KEEP_SIZE allocates without growing; data already
 *             there is kept; COLLAPSE/INSERT_RANGE refuse an unaligned
 *             offset (EINVAL)
 *   punch     PUNCH_HOLE and ZERO_RANGE: content, size, st_blocks,
 *             SEEK_DATA/HOLE and an existing mapping agree
 *   copy      copy_file_range and sendfile between files give equal content
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

#ifndef FALLOC_FL_COLLAPSE_RANGE
#define FALLOC_FL_COLLAPSE_RANGE 0x08
#endif
#ifndef FALLOC_FL_INSERT_RANGE
#define FALLOC_FL_INSERT_RANGE 0x20
#endif
#ifndef FALLOC_FL_ZERO_RANGE
#define FALLOC_FL_ZERO_RANGE 0x10
#endif

#define PG 4096
static const char *dir;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	exit(1);
}

static int mkfile(const char *name, size_t size)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("create %s: %s", path, strerror(errno));
	if (ftruncate(fd, size) < 0)
		die("ftruncate %s: %s", path, strerror(errno));
	return fd;
}

static void *map(int fd, size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	if (p == MAP_FAILED)
		die("mmap len %zu flags %#x: %s", len, flags, strerror(errno));
	return p;
}

static void pwrite_all(int fd, const void *b, size_t n, off_t off)
{
	if (pwrite(fd, b, n, off) != (ssize_t)n)
		die("pwrite %zu at %lld: %s", n, (long long)off, strerror(errno));
}

static void pread_all(int fd, void *b, size_t n, off_t off)
{
	if (pread(fd, b, n, off) != (ssize_t)n)
		die("pread %zu at %lld: %s", n, (long long)off, strerror(errno));
}

static void fill(unsigned char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 9));
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

static void case_shared(void)
{
	size_t size = 3 * PG + 100;
	unsigned char *want = malloc(size), *got = malloc(size), *p;
	int fd = mkfile("shared", 0);

	fill(want, size, 1);
	pwrite_all(fd, want, size, 0);
	p = map(fd, size, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (memcmp(p, want, size))
		die("mapping does not show the written data");
	/* Unaligned stores across page boundaries, and in the last page. */
	for (size_t i = PG - 10; i < PG + 30; i++)
		p[i] = want[i] = (unsigned char)~want[i];
	for (size_t i = 3 * PG; i < size; i++)
		p[i] = want[i] = 0x5a;
	if (msync(p, size, MS_SYNC) < 0)
		die("msync: %s", strerror(errno));
	pread_all(fd, got, size, 0);
	if (memcmp(got, want, size))
		die("read() does not show the mapped stores");
	munmap(p, size);
	close(fd);
}

static void case_coherent(void)
{
	size_t size = 16 * PG;
	unsigned char *model = calloc(1, size), *buf = malloc(size), *p;
	int fd = mkfile("coherent", size);

	p = map(fd, size, PROT_READ | PROT_WRITE, MAP_SHARED);
	for (int i = 0; i < 400; i++) {
		size_t off = rnd(size), len = 1 + rnd(size - off < 3 * PG ? size - off : 3 * PG);

		if (rnd(2)) {
			fill(buf, len, (unsigned)i);
			pwrite_all(fd, buf, len, off);
			memcpy(model + off, buf, len);
			if (memcmp(p + off, model + off, len))
				die("op %d: mapping misses write() at %zu len %zu", i, off, len);
		} else {
			memset(p + off, i & 0xff, len);
			memset(model + off, i & 0xff, len);
			pread_all(fd, buf, len, off);
			if (memcmp(buf, model + off, len))
				die("op %d: read() misses mapped store at %zu len %zu", i, off, len);
		}
		if (i % 50 == 0 && memcmp(p, model, size))
			die("op %d: mapping differs from the model", i);
	}
	pread_all(fd, buf, size, 0);
	if (memcmp(buf, model, size) || memcmp(p, model, size))
		die("final content differs from the model");
	munmap(p, size);
	close(fd);
}

static void case_private(void)
{
	size_t size = 2 * PG;
	unsigned char *want = malloc(size), *got = malloc(size), *p, *s;
	int fd = mkfile("private", 0);

	fill(want, size, 3);
	pwrite_all(fd, want, size, 0);
	s = map(fd, size, PROT_READ, MAP_SHARED);
	p = map(fd, size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	memset(p + 100, 0xee, PG);
	if (p[100] != 0xee || p[PG + 99] != 0xee)
		die("private mapping lost its own store");
	pread_all(fd, got, size, 0);
	if (memcmp(got, want, size))
		die("a private store reached the file");
	if (memcmp(s, want, size))
		die("a private store reached a shared mapping");
	munmap(p, size);
	munmap(s, size);
	close(fd);
}

static void case_hole(void)
{
	size_t size = 64 * PG;
	unsigned char buf[PG];
	unsigned char *p;
	int fd = mkfile("hole", size);
	off_t d;

	p = map(fd, size, PROT_READ | PROT_WRITE, MAP_SHARED);
	for (size_t i = 0; i < size; i += PG)
		if (p[i] || p[i + PG - 1])
			die("hole reads non-zero at %zu", i);
	memset(p + 5 * PG + 17, 0x77, 100);
	if (msync(p, size, MS_SYNC) < 0)
		die("msync: %s", strerror(errno));
	d = lseek(fd, 0, SEEK_DATA);
	if (d != 5 * PG)
		die("SEEK_DATA after a store into page 5 gives %lld", (long long)d);
	d = lseek(fd, 5 * PG, SEEK_HOLE);
	if (d != 6 * PG)
		die("SEEK_HOLE after page 5 gives %lld", (long long)d);
	pread_all(fd, buf, PG, 5 * PG);
	for (int i = 0; i < PG; i++)
		if (buf[i] != ((i >= 17 && i < 117) ? 0x77 : 0))
			die("page 5 byte %d is %#x", i, buf[i]);
	munmap(p, size);
	close(fd);
}

static sigjmp_buf jb;
static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

/* 1 if touching *p raises SIGBUS. */
static int faults(volatile unsigned char *p)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	int r;

	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(jb, 1) == 0) {
		(void)*p;
		r = 0;
	} else {
		r = 1;
	}
	signal(SIGBUS, SIG_DFL);
	return r;
}

static void case_sigbus(void)
{
	unsigned char *p;
	int fd = mkfile("sigbus", 0);
	unsigned char b[PG];

	fill(b, PG, 4);
	pwrite_all(fd, b, PG, 0);
	p = map(fd, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (faults(p) || p[5] != b[5])
		die("page 0 of a 1-page file is not readable");
	if (!faults(p + PG))
		die("page 1 of a 1-page file is readable");
	if (ftruncate(fd, 0) < 0)
		die("ftruncate: %s", strerror(errno));
	if (!faults(p))
		die("page 0 is still readable after truncate to 0");
	if (ftruncate(fd, 2 * PG) < 0)
		die("ftruncate up: %s", strerror(errno));
	if (faults(p + PG) || p[PG] || p[0])
		die("pages after truncate up are not zero");
	munmap(p, 3 * PG);
	close(fd);
}

static void case_sync(void)
{
	unsigned char *p;
	int fd = mkfile("sync", 4 * PG);

	p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	if (p == MAP_FAILED)
		die("MAP_SYNC mapping refused: %s", strerror(errno));
	memset(p, 0x11, 4 * PG);
	if (msync(p, 4 * PG, MS_SYNC) < 0)
		die("msync: %s", strerror(errno));
	if (fsync(fd) < 0 || fdatasync(fd) < 0)
		die("fsync: %s", strerror(errno));
	munmap(p, 4 * PG);
	close(fd);
}

static void case_tail(void)
{
	unsigned char *p, buf[PG];
	int fd = mkfile("tail", 0);

	memset(buf, 0x33, 100);
	pwrite_all(fd, buf, 100, 0);
	p = map(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED);
	memset(p + 100, 0x99, PG - 100); /* past EOF, inside the page */
	munmap(p, PG);
	if (ftruncate(fd, PG) < 0)
		die("ftruncate: %s", strerror(errno));
	pread_all(fd, buf, PG, 0);
	for (int i = 100; i < PG; i++)
		if (buf[i])
			die("byte %d past the old EOF reads %#x after growing", i, buf[i]);
	close(fd);
}

static void case_persist(int verify)
{
	size_t size = 8 * PG + 123;
	unsigned char *want = malloc(size), *got = malloc(size), *p;
	char path[512];
	int fd;

	fill(want, size, 9);
	snprintf(path, sizeof(path), "%s/persist", dir);
	if (verify) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			die("open %s: %s", path, strerror(errno));
		pread_all(fd, got, size, 0);
		if (memcmp(got, want, size))
			die("mapped stores were not kept");
		close(fd);
		return;
	}
	fd = mkfile("persist", size);
	p = map(fd, size, PROT_READ | PROT_WRITE, MAP_SHARED);
	memcpy(p, want, size);
	if (msync(p, size, MS_SYNC) < 0)
		die("msync: %s", strerror(errno));
	munmap(p, size);
	close(fd);
}

static long blocks_of(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		die("fstat: %s", strerror(errno));
	return (long)st.st_blocks;
}

static off_t size_of(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		die("fstat: %s", strerror(errno));
	return st.st_size;
}

static void case_falloc(void)
{
	unsigned char buf[4 * PG], want[PG];
	int fd = mkfile("falloc", 0);
	long b0;

	fill(want, PG, 5);
	pwrite_all(fd, want, PG, 2 * PG);
	b0 = blocks_of(fd);
	if (fallocate(fd, 0, 0, 6 * PG + 10) < 0)
		die("fallocate mode 0: %s", strerror(errno));
	if (size_of(fd) != 6 * PG + 10)
		die("fallocate mode 0: size %lld", (long long)size_of(fd));
	if (blocks_of(fd) != b0 + 6 * (PG / 512))
		die("fallocate mode 0: st_blocks %ld -> %ld", b0, blocks_of(fd));
	pread_all(fd, buf, 4 * PG, 0);
	for (int i = 0; i < 4 * PG; i++)
		if (buf[i] != (i >= 2 * PG && i < 3 * PG ? want[i - 2 * PG] : 0))
			die("after fallocate byte %d is %#x", i, buf[i]);
	b0 = blocks_of(fd);
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 10 * PG, 3 * PG) < 0)
		die("fallocate KEEP_SIZE: %s", strerror(errno));
	if (size_of(fd) != 6 * PG + 10)
		die("KEEP_SIZE changed the size to %lld", (long long)size_of(fd));
	if (blocks_of(fd) != b0 + 3 * (PG / 512))
		die("KEEP_SIZE: st_blocks %ld -> %ld", b0, blocks_of(fd));
	if (ftruncate(fd, 12 * PG) < 0)
		die("ftruncate: %s", strerror(errno));
	pread_all(fd, buf, 2 * PG, 10 * PG);
	for (int i = 0; i < 2 * PG; i++)
		if (buf[i])
			die("preallocated byte %d is %#x", i, buf[i]);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, PG) == 0 || errno != EOPNOTSUPP)
		die("PUNCH_HOLE without KEEP_SIZE: expected EOPNOTSUPP");
	/* Shifts work (falloc.sh); not at an offset inside a block. */
	if (fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 1, PG) == 0 || errno != EINVAL)
		die("COLLAPSE_RANGE at an unaligned offset: expected EINVAL");
	if (fallocate(fd, FALLOC_FL_INSERT_RANGE, 1, PG) == 0 || errno != EINVAL)
		die("INSERT_RANGE at an unaligned offset: expected EINVAL");
	if (fallocate(fd, 0, 0, 0) == 0 || errno != EINVAL)
		die("fallocate len 0: expected EINVAL");
	close(fd);
}

/* Checks `n` bytes of `fd` from `off` against `want` (NULL: zeros). */
static void expect(int fd, const unsigned char *want, size_t n, off_t off, const char *what)
{
	unsigned char *got = malloc(n);

	pread_all(fd, got, n, off);
	for (size_t i = 0; i < n; i++)
		if (got[i] != (want ? want[i] : 0))
			die("%s: byte %lld is %#x, not %#x", what, (long long)(off + i), got[i],
			    want ? want[i] : 0);
	free(got);
}

static void case_punch(void)
{
	enum { N = 8 };
	unsigned char *want = malloc(N * PG);
	int fd = mkfile("punch", 0);
	unsigned char *map;
	long b0;

	fill(want, N * PG, 11);
	pwrite_all(fd, want, N * PG, 0);
	map = mmap(NULL, N * PG, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	if (map[3 * PG] != want[3 * PG])
		die("mapping reads wrong data");
	b0 = blocks_of(fd);
	/* Pages 2-4 whole, 1 and 5 in part. */
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PG + 100,
		      4 * PG + 100) < 0)
		die("PUNCH_HOLE: %s", strerror(errno));
	memset(want + PG + 100, 0, 4 * PG + 100);
	expect(fd, want, N * PG, 0, "after punch");
	if (size_of(fd) != N * PG)
		die("punch changed the size to %lld", (long long)size_of(fd));
	if (blocks_of(fd) != b0 - 3 * (PG / 512))
		die("punch: st_blocks %ld -> %ld (3 pages should go)", b0, blocks_of(fd));
	if (map[3 * PG] != 0 || map[PG + 99] != want[PG + 99] || map[PG + 100] != 0)
		die("the mapping does not see the punch");
	if (lseek(fd, 2 * PG, SEEK_DATA) != 5 * PG || lseek(fd, PG, SEEK_HOLE) != 2 * PG)
		die("SEEK_DATA/SEEK_HOLE disagree with the punch");
	/* Within one page; over holes only; past the end. */
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 6 * PG + 10, 20) < 0)
		die("PUNCH_HOLE in one page: %s", strerror(errno));
	memset(want + 6 * PG + 10, 0, 20);
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * PG, 3 * PG) < 0 ||
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 7 * PG, 100 * PG) < 0)
		die("PUNCH_HOLE over holes / past the end: %s", strerror(errno));
	memset(want + 7 * PG, 0, PG);
	expect(fd, want, N * PG, 0, "after more punches");
	if (size_of(fd) != N * PG || blocks_of(fd) != b0 - 4 * (PG / 512))
		die("punches: size %lld, st_blocks %ld", (long long)size_of(fd), blocks_of(fd));
	munmap(map, N * PG);

	/* ZERO_RANGE: zeros, and the range stays (or becomes) allocated. */
	fill(want, N * PG, 12);
	pwrite_all(fd, want, N * PG, 0);
	b0 = blocks_of(fd);
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE, PG + 10, 3 * PG) < 0)
		die("ZERO_RANGE: %s", strerror(errno));
	memset(want + PG + 10, 0, 3 * PG);
	expect(fd, want, N * PG, 0, "after zero range");
	if (size_of(fd) != N * PG || blocks_of(fd) != b0)
		die("zero range: size %lld, st_blocks %ld -> %ld", (long long)size_of(fd), b0,
		    blocks_of(fd));
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 7 * PG, 3 * PG) < 0)
		die("ZERO_RANGE|KEEP_SIZE past the end: %s", strerror(errno));
	memset(want + 7 * PG, 0, PG);
	if (size_of(fd) != N * PG || blocks_of(fd) != b0 + 2 * (PG / 512))
		die("zero range KEEP_SIZE: size %lld, st_blocks %ld", (long long)size_of(fd),
		    blocks_of(fd));
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE, N * PG - 5, 2 * PG) < 0)
		die("ZERO_RANGE past the end: %s", strerror(errno));
	memset(want + N * PG - 5, 0, 5);
	if (size_of(fd) != (N + 2) * PG - 5)
		die("zero range did not grow the file: %lld", (long long)size_of(fd));
	expect(fd, want, N * PG, 0, "after zero ranges");
	expect(fd, NULL, 2 * PG - 5, N * PG, "the grown part");
	close(fd);
	free(want);
}

static void case_copy(void)
{
	size_t size = 40 * PG + 77;
	unsigned char *want = malloc(size), *got = malloc(size);
	int a = mkfile("copy-a", 0), b = mkfile("copy-b", 0), c = mkfile("copy-c", 0);
	loff_t in = 0, out = 0;
	off_t o = 0;
	ssize_t n;
	size_t done;

	fill(want, size, 6);
	pwrite_all(a, want, size, 0);
	for (done = 0; done < size; done += n) {
		n = copy_file_range(a, &in, b, &out, size - done, 0);
		if (n <= 0)
			die("copy_file_range: %s", n < 0 ? strerror(errno) : "short");
	}
	pread_all(b, got, size, 0);
	if (size_of(b) != (off_t)size || memcmp(got, want, size))
		die("copy_file_range copy differs");
	for (done = 0; done < size; done += n) {
		n = sendfile(c, a, &o, size - done);
		if (n <= 0)
			die("sendfile: %s", n < 0 ? strerror(errno) : "short");
	}
	pread_all(c, got, size, 0);
	if (size_of(c) != (off_t)size || memcmp(got, want, size))
		die("sendfile copy differs");
	close(a);
	close(b);
	close(c);
}

int main(int argc, char **argv)
{
	const char *c;

	if (argc != 3) {
		fprintf(stderr, "usage: datat CASE DIR\n");
		return 2;
	}
	c = argv[1];
	dir = argv[2];
	if (!strcmp(c, "shared"))
		case_shared();
	else if (!strcmp(c, "coherent"))
		case_coherent();
	else if (!strcmp(c, "private"))
		case_private();
	else if (!strcmp(c, "hole"))
		case_hole();
	else if (!strcmp(c, "sigbus"))
		case_sigbus();
	else if (!strcmp(c, "sync"))
		case_sync();
	else if (!strcmp(c, "tail"))
		case_tail();
	else if (!strcmp(c, "persist"))
		case_persist(0);
	else if (!strcmp(c, "verify"))
		case_persist(1);
	else if (!strcmp(c, "falloc"))
		case_falloc();
	else if (!strcmp(c, "punch"))
		case_punch();
	else if (!strcmp(c, "copy"))
		case_copy();
	else {
		fprintf(stderr, "datat: unknown case %s\n", c);
		return 2;
	}
	printf("ok %s\n", c);
	return 0;
}
