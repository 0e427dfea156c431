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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: apit CASE DIR\n");
		return 2;
	}
	const char *c = argv[1];
	char path[4096];
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
	} else {
		fprintf(stderr, "apit: unknown case %s\n", c);
		return 2;
	}
	printf("ok %s\n", c);
	return 0;
}
