// SPDX-License-Identifier: GPL-2.0
/*
 * rrevstress DIR SECONDS: threads racing reflink clones (FICLONERANGE,
 * same-file and across files, FIDEDUPERANGE), mapped stores, writes,
 * truncates and hole punches on DIR/f0..f4 for SECONDS seconds.
 * With a third argument "noclone", no clone or dedupe thread runs; with
 * NOSAME set in the environment, no same-file clone and no dedupe. With
 * UNMAPLOCK set, a mapper's munmap never runs beside the other mapper's
 * faults: the DAX code itself warns when a fault drops the last
 * association of a shared page that a concurrent munmap has unmapped but
 * not yet released (its reference waits for the TLB flush); XFS-DAX shows
 * the same class of warning (long_xfs_reflink_stress).
 * Prints how many operations succeeded. Exit 0 unless setup failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NF 5
#define PG 4096
#define MAXPG 96
static int fds[NF];
static time_t end;
static long ok[6];
static __thread sigjmp_buf jb;
static int unmaplock;
static pthread_rwlock_t unmap_lock = PTHREAD_RWLOCK_INITIALIZER;

/* munmap, under unmap_lock's write side with UNMAPLOCK (a mapper holds
 * the read side from its mmap to here). */
static void unmap(char *p, size_t len)
{
	if (unmaplock) {
		pthread_rwlock_unlock(&unmap_lock);
		pthread_rwlock_wrlock(&unmap_lock);
	}
	munmap(p, len);
	if (unmaplock)
		pthread_rwlock_unlock(&unmap_lock);
}

/* A store past a size a racing truncate just cut: SIGBUS, skipped. */
static void on_bus(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

static unsigned rnd(unsigned *s) { *s = *s * 1103515245 + 12345; return (*s >> 8); }

static void *cloner(void *arg)
{
	unsigned s = (unsigned)(long)arg * 7919 + 1;
	while (time(NULL) < end) {
		int a = rnd(&s) % NF, b = rnd(&s) % NF;
		if (getenv("NOSAME") && a == b)
			continue;
		struct file_clone_range r = {
			.src_fd = fds[a],
			.src_offset = (rnd(&s) % 32) * PG,
			.src_length = (1 + rnd(&s) % 8) * PG,
			.dest_offset = (rnd(&s) % MAXPG) * PG,
		};
		if (ioctl(fds[b], FICLONERANGE, &r) == 0)
			__atomic_add_fetch(&ok[0], 1, __ATOMIC_RELAXED);
		if (!getenv("NOSAME") && rnd(&s) % 4 == 0) {
			char buf[sizeof(struct file_dedupe_range) + sizeof(struct file_dedupe_range_info)];
			struct file_dedupe_range *d = (void *)buf;
			memset(buf, 0, sizeof(buf));
			d->src_offset = (rnd(&s) % 16) * PG;
			d->src_length = 4 * PG;
			d->dest_count = 1;
			d->info[0].dest_fd = fds[rnd(&s) % NF];
			d->info[0].dest_offset = (rnd(&s) % 16) * PG;
			if (ioctl(fds[a], FIDEDUPERANGE, d) == 0 &&
			    d->info[0].status == FILE_DEDUPE_RANGE_SAME)
				__atomic_add_fetch(&ok[1], 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void *mapper(void *arg)
{
	static __thread unsigned s;
	s = (unsigned)(long)arg * 31 + 5;
	while (time(NULL) < end) {
		int f = rnd(&s) % NF;
		off_t sz = lseek(fds[f], 0, SEEK_END);
		if (sz < 2 * PG)
			continue;
		size_t len = (sz / PG) * PG;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[f], 0);
		if (p == MAP_FAILED)
			continue;
		if (unmaplock)
			pthread_rwlock_rdlock(&unmap_lock);
		if (sigsetjmp(jb, 1)) {
			unmap(p, len);
			continue;
		}
		for (int i = 0; i < 8; i++) {
			size_t o = (rnd(&s) % (len / PG)) * PG + rnd(&s) % PG;
			volatile char c = p[o];
			(void)c;
			if (rnd(&s) % 2)
				p[o] = (char)rnd(&s);
		}
		msync(p, len, MS_SYNC);
		unmap(p, len);
		__atomic_add_fetch(&ok[2], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *writer(void *arg)
{
	unsigned s = (unsigned)(long)arg * 101 + 3;
	char buf[3 * PG];
	while (time(NULL) < end) {
		int f = rnd(&s) % NF;
		memset(buf, rnd(&s), sizeof(buf));
		switch (rnd(&s) % 4) {
		case 0:
			if (pwrite(fds[f], buf, 1 + rnd(&s) % sizeof(buf), rnd(&s) % (MAXPG * PG)) > 0)
				__atomic_add_fetch(&ok[3], 1, __ATOMIC_RELAXED);
			break;
		case 1:
			if (ftruncate(fds[f], rnd(&s) % (MAXPG * PG)) == 0)
				__atomic_add_fetch(&ok[4], 1, __ATOMIC_RELAXED);
			break;
		default:
			if (fallocate(fds[f], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      rnd(&s) % (MAXPG * PG), 1 + rnd(&s) % (4 * PG)) == 0)
				__atomic_add_fetch(&ok[5], 1, __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	char path[4096], buf[PG];
	pthread_t t[6];
	if (argc < 3)
		return 2;
	for (int i = 0; i < NF; i++) {
		snprintf(path, sizeof(path), "%s/f%d", argv[1], i);
		fds[i] = open(path, O_RDWR | O_CREAT, 0644);
		if (fds[i] < 0) {
			perror(path);
			return 1;
		}
		for (int p = 0; p < 48; p++) {
			memset(buf, 'a' + i + p, sizeof(buf));
			if (pwrite(fds[i], buf, PG, (off_t)p * PG) != PG)
				return 1;
		}
	}
	signal(SIGBUS, on_bus);
	unmaplock = getenv("UNMAPLOCK") != NULL;
	end = time(NULL) + atoi(argv[2]);
	void *(*fn[6])(void *) = { cloner, cloner, mapper, mapper, writer, writer };
	if (argc > 3 && !strcmp(argv[3], "noclone"))
		fn[0] = fn[1] = writer;
	for (long i = 0; i < 6; i++)
		pthread_create(&t[i], NULL, fn[i], (void *)i);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	fflush(stdout);
	printf("clones %ld dedupes %ld maps %ld writes %ld truncates %ld punches %ld\n",
	       ok[0], ok[1], ok[2], ok[3], ok[4], ok[5]);
	return 0;
}
