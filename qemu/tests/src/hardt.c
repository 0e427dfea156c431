/*
 * hardt - regression checks for data-path bugs found by review (issue 12),
 * one case per run.
 *
 * Usage: hardt CASE DIR
 *
 * Cases (each creates its own files in DIR, prints "ok CASE" and exits 0,
 * or prints what went wrong and exits 1):
 *   short       a write whose user buffer faults part-way commits exactly
 *               the bytes copied; the rest of the page keeps the file's
 *               old bytes (never another file's freed data)
 *   short-ext   the same for a write that extends the file: the rest of
 *               the last page, as a mapping shows it, is zeros
 *   ext-pwrite  one thread stores words through a shared mapping while
 *   ext-falloc  another extends the file (pwrite at EOF, posix_fallocate
 *   ext-trunc   over the whole file, ftruncate up); every stored word
 *               reads back afterwards
 *   bigoff      writes, reads, truncates and fallocates at offsets next to
 *               the largest file size (2^63 - 1)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int open_new(const char *name)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open %s: %s", p, strerror(errno));
	return fd;
}

static void pwrite_all(int fd, const void *b, size_t n, off_t off)
{
	if (pwrite(fd, b, n, off) != (ssize_t)n)
		die("pwrite %zu at %lld: %s", n, (long long)off, strerror(errno));
}

/* Fills most free blocks with 0xAA and frees them again, so a block that
 * a bug exposes holds bytes no file has. */
static void dirty_free_space(void)
{
	static char buf[1 << 20];
	int fd = open_new("dirt");
	int i;

	memset(buf, 0xAA, sizeof(buf));
	for (i = 0; i < 64; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			break;
	fsync(fd);
	close(fd);
	{
		char p[512];
		snprintf(p, sizeof(p), "%s/dirt", dir);
		unlink(p);
	}
}

/* A buffer of two pages whose second page is PROT_NONE. */
static char *half_buffer(void)
{
	char *b = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	memset(b, 'N', PG);
	if (mprotect(b + PG, PG, PROT_NONE))
		die("mprotect: %s", strerror(errno));
	return b;
}

static void case_short(int extend)
{
	char *b = half_buffer();
	char old[2 * PG], got[2 * PG];
	int fd, i;
	ssize_t n;
	off_t pos = 100;
	size_t want = 200, copied = 96; /* the buffer starts 96 bytes before the fault */

	dirty_free_space();
	fd = open_new(extend ? "short-ext" : "short");
	memset(old, 'B', sizeof(old));
	if (!extend)
		pwrite_all(fd, old, sizeof(old), 0);
	else
		pwrite_all(fd, old, 50, 0);
	n = pwrite(fd, b + PG - copied, want, pos);
	if (n != (ssize_t)copied)
		die("short pwrite returned %zd (errno %d), expected %zu", n, errno, copied);
	if (extend) {
		struct stat st;
		char *m;
		if (fstat(fd, &st) || st.st_size != pos + (off_t)copied)
			die("size after a short extending write: %lld", (long long)st.st_size);
		/* A mapping shows the whole last page: past the end of file
		 * it must be zeros. */
		m = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			die("mmap: %s", strerror(errno));
		memcpy(got, m, PG);
		munmap(m, PG);
	} else if (pread(fd, got, sizeof(got), 0) != (ssize_t)sizeof(got)) {
		die("pread: %s", strerror(errno));
	}
	for (i = 0; i < (extend ? PG : 2 * PG); i++) {
		char e;
		if (i >= pos && i < pos + (off_t)copied)
			e = 'N';
		else if (!extend)
			e = 'B';
		else
			e = i < 50 ? 'B' : 0;
		if (got[i] != e)
			die("byte %d is %#x, expected %#x (stale bytes after a short write)", i,
			    (unsigned char)got[i], (unsigned char)e);
	}
	close(fd);
	printf("ok %s\n", extend ? "short-ext" : "short");
}

/* ---- mapped stores racing extensions ---- */

#define BASE (16u << 20)
#define STEP 100
#define STEPS 3000
#define MAPLEN (BASE + STEPS * STEP + PG)

static int xfd;
static char *map;
static _Atomic uint64_t cur_size;
static _Atomic int done;
static uint32_t *shadow; /* expected value of each 8-byte word (low 32 bits) */
static int mode;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *storer(void *arg)
{
	uint64_t s = 88172645463325252ull;
	uint32_t v = 1;

	(void)arg;
	while (!atomic_load(&done)) {
		uint64_t sz = atomic_load(&cur_size);
		uint64_t w;
		/* Half of the stores go near the end of file, where the
		 * extensions work. */
		if (rnd(&s) & 1)
			w = (sz - 1 - rnd(&s) % (2 * PG < sz ? 2 * PG : sz)) / 8;
		else
			w = rnd(&s) % (sz / 8);
		if ((w + 1) * 8 > sz)
			continue;
		*(volatile uint64_t *)(map + w * 8) = v;
		shadow[w] = v;
		v++;
	}
	return NULL;
}

static void case_ext(const char *name)
{
	pthread_t t;
	static char zeros[STEP];
	uint64_t sz = BASE + 37; /* unaligned: the last page is partial */
	uint64_t w;
	char *buf;
	int i;

	xfd = open_new(name);
	if (ftruncate(xfd, sz))
		die("ftruncate: %s", strerror(errno));
	shadow = calloc(MAPLEN / 8 + 1, sizeof(*shadow));
	map = mmap(NULL, MAPLEN, PROT_READ | PROT_WRITE, MAP_SHARED, xfd, 0);
	if (!shadow || map == MAP_FAILED)
		die("setup: %s", strerror(errno));
	atomic_store(&cur_size, sz);
	if (pthread_create(&t, NULL, storer, NULL))
		die("pthread_create");
	for (i = 0; i < STEPS; i++) {
		uint64_t n = sz + STEP;
		int r = 0;
		switch (mode) {
		case 0:
			pwrite_all(xfd, zeros, STEP, sz);
			break;
		case 1:
			r = posix_fallocate(xfd, 0, n);
			if (r)
				die("posix_fallocate: %s", strerror(r));
			break;
		case 2:
			if (ftruncate(xfd, n))
				die("ftruncate: %s", strerror(errno));
			break;
		}
		sz = n;
		atomic_store(&cur_size, sz);
	}
	atomic_store(&done, 1);
	pthread_join(t, NULL);
	buf = malloc(sz);
	if (!buf || pread(xfd, buf, sz, 0) != (ssize_t)sz)
		die("pread: %s", strerror(errno));
	for (w = 0; (w + 1) * 8 <= sz; w++) {
		uint64_t got;
		memcpy(&got, buf + w * 8, 8);
		if (got != shadow[w])
			die("%s: word at %llu reads %llu, stored %u", name,
			    (unsigned long long)(w * 8), (unsigned long long)got, shadow[w]);
	}
	munmap(map, MAPLEN);
	close(xfd);
	printf("ok %s\n", name);
}

static void case_bigoff(void)
{
	const off_t max = INT64_MAX;
	char got[16];
	struct stat st;
	ssize_t n;
	int fd = open_new("bigoff");

	n = pwrite(fd, "0123456789", 10, max - 10);
	if (n != 10)
		die("pwrite of the last 10 bytes of the largest size returned %zd (errno %d)", n,
		    errno);
	if (fstat(fd, &st) || st.st_size != max)
		die("size %lld, expected 2^63 - 1", (long long)st.st_size);
	if (pread(fd, got, 5, max - 5) != 5 || memcmp(got, "56789", 5))
		die("reading back the last 5 bytes");
	if (pread(fd, got, 4, 1ll << 62) != 4 || memcmp(got, "\0\0\0\0", 4))
		die("the hole at 2^62 does not read as zeros");
	if (fallocate(fd, 0, max - (1 << 20), 8192))
		die("fallocate near the largest size: %s", strerror(errno));
	if (lseek(fd, 0, SEEK_DATA) != ((max - (1 << 20)) & ~(off_t)(PG - 1)))
		die("SEEK_DATA: %lld", (long long)lseek(fd, 0, SEEK_DATA));
	if (ftruncate(fd, max - 2) || ftruncate(fd, max))
		die("ftruncate near the largest size: %s", strerror(errno));
	if (pread(fd, got, 5, max - 5) != 5 || memcmp(got, "567\0\0", 5))
		die("after truncating 2 bytes and growing again");
	close(fd);
	printf("ok bigoff\n");
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: hardt CASE DIR\n");
		return 2;
	}
	dir = argv[2];
	if (!strcmp(argv[1], "short"))
		case_short(0);
	else if (!strcmp(argv[1], "short-ext"))
		case_short(1);
	else if (!strcmp(argv[1], "bigoff"))
		case_bigoff();
	else if (!strcmp(argv[1], "ext-pwrite"))
		mode = 0, case_ext(argv[1]);
	else if (!strcmp(argv[1], "ext-falloc"))
		mode = 1, case_ext(argv[1]);
	else if (!strcmp(argv[1], "ext-trunc"))
		mode = 2, case_ext(argv[1]);
	else {
		fprintf(stderr, "unknown case %s\n", argv[1]);
		return 2;
	}
	return 0;
}
