/*
 * mmapstore - store bytes into a file through a shared mapping.
 *
 * Usage:
 *   mmapstore FILE OFFSET LEN BYTE
 *       Map [OFFSET, OFFSET+LEN) of FILE (page-aligned around it) MAP_SHARED,
 *       fill the range with BYTE, msync(MS_SYNC), print "ok".
 *       The range must lie inside the current file size.
 *
 *   mmapstore -e FILE OFFSET LEN BYTE
 *       The same, but the range may reach past the end of the file up to
 *       the end of the page holding it (stores past EOF that stay in the
 *       block; a later extension must not expose them).
 *
 *   mmapstore -k FILE SECONDS BYTE
 *       Map the whole file MAP_SHARED and keep storing into every page for
 *       SECONDS seconds: round R fills each page with the byte (BYTE + R)
 *       & 0xff.  Ends on its own with msync + munmap and prints
 *       "ok: R rounds, last byte 0xXX" (after the last round every page of
 *       the file holds that byte).
 *
 * Numbers accept decimal, 0x hex and 0 octal.  Exit 0 on success, 1 on error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr,
		"usage: mmapstore [-e] FILE OFFSET LEN BYTE\n"
		"       mmapstore -k FILE SECONDS BYTE\n");
	exit(2);
}

static uint64_t num(const char *s, const char *what, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v > max) {
		fprintf(stderr, "mmapstore: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_rw(const char *path, struct stat *st)
{
	int fd = open(path, O_RDWR);

	if (fd < 0) {
		fprintf(stderr, "mmapstore: open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (fstat(fd, st) < 0) {
		fprintf(stderr, "mmapstore: fstat %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (!S_ISREG(st->st_mode)) {
		fprintf(stderr, "mmapstore: %s is not a regular file\n", path);
		exit(1);
	}
	return fd;
}

/* mmapstore [-e] FILE OFFSET LEN BYTE */
static int store_range(const char *path, uint64_t off, uint64_t len, int byte, int past_eof)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct stat st;
	int fd = open_rw(path, &st);
	uint64_t start, maplen, end = st.st_size;
	unsigned char *p;

	if (past_eof)
		end = (end + ps - 1) & ~(uint64_t)(ps - 1);
	if (off + len < off || off + len > end) {
		fprintf(stderr, "mmapstore: range %llu+%llu beyond end of %s (size %lld)\n",
			(unsigned long long)off, (unsigned long long)len, path,
			(long long)st.st_size);
		return 1;
	}
	if (len == 0) {
		close(fd);
		printf("ok\n");
		return 0;
	}
	start = off & ~(uint64_t)(ps - 1);
	maplen = off + len - start;
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, start);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mmapstore: mmap %s: %s\n", path, strerror(errno));
		return 1;
	}
	memset(p + (off - start), byte, len);
	if (msync(p, maplen, MS_SYNC) < 0) {
		fprintf(stderr, "mmapstore: msync %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* read back through the mapping as a cheap sanity check */
	for (uint64_t i = off - start; i < maplen; i++) {
		if (p[i] != byte) {
			fprintf(stderr, "mmapstore: %s: byte at %llu reads back 0x%02x\n", path,
				(unsigned long long)(start + i), p[i]);
			return 1;
		}
	}
	if (munmap(p, maplen) < 0 || close(fd) < 0) {
		fprintf(stderr, "mmapstore: munmap/close %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("ok\n");
	return 0;
}

/* mmapstore -k FILE SECONDS BYTE */
static int keep_busy(const char *path, double seconds, int byte)
{
	long ps = sysconf(_SC_PAGESIZE);
	struct stat st;
	int fd = open_rw(path, &st);
	uint64_t size = st.st_size, rounds = 0;
	unsigned char *p, b = (unsigned char)byte;
	double end;
	int done = 0;

	if (size == 0) {
		fprintf(stderr, "mmapstore: %s is empty, nothing to map\n", path);
		return 1;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mmapstore: mmap %s: %s\n", path, strerror(errno));
		return 1;
	}
	end = now() + seconds;
	while (!done) {
		b = (unsigned char)(byte + rounds);
		for (uint64_t off = 0; off < size; off += ps) {
			uint64_t n = size - off < (uint64_t)ps ? size - off : (uint64_t)ps;

			memset(p + off, b, n);
		}
		rounds++;
		if (now() >= end)
			done = 1;
		else
			sched_yield();
	}
	if (msync(p, size, MS_SYNC) < 0) {
		fprintf(stderr, "mmapstore: msync %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (uint64_t off = 0; off < size; off++) {
		if (p[off] != b) {
			fprintf(stderr, "mmapstore: %s: byte at %llu reads back 0x%02x, want 0x%02x\n",
				path, (unsigned long long)off, p[off], b);
			return 1;
		}
	}
	if (munmap(p, size) < 0 || close(fd) < 0) {
		fprintf(stderr, "mmapstore: munmap/close %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("ok: %llu rounds, last byte 0x%02x\n", (unsigned long long)rounds, b);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "-k") == 0)
		return keep_busy(argv[2], (double)num(argv[3], "SECONDS", 1000000),
				 (int)num(argv[4], "BYTE", 255));
	if (argc == 5 && argv[1][0] != '-')
		return store_range(argv[1], num(argv[2], "OFFSET", INT64_MAX),
				   num(argv[3], "LEN", INT64_MAX), (int)num(argv[4], "BYTE", 255), 0);
	if (argc == 6 && strcmp(argv[1], "-e") == 0)
		return store_range(argv[2], num(argv[3], "OFFSET", INT64_MAX),
				   num(argv[4], "LEN", INT64_MAX), (int)num(argv[5], "BYTE", 255), 1);
	usage();
	return 2;
}
