// SPDX-License-Identifier: GPL-2.0
/*
 * noshm.so: lets Debian's fio run in the test guest (make bench), whose
 * kernel (tinyconfig) has neither System V IPC nor timerfd:
 * - fio keeps its job table in a shared memory segment even with
 *   --thread; here the segment is anonymous shared memory (threads share
 *   it; nothing else needs System V semantics);
 * - fio's helper thread waits on a timerfd; here it is the read end of a
 *   pipe that a thread writes an expiration count to at the interval
 *   timerfd_settime() asked for.
 */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>
#include <sys/mman.h>
#include <sys/shm.h>

#define MAX_SEGS 64

static void *seg[MAX_SEGS];
static size_t seg_size[MAX_SEGS];
static int nsegs;

int shmget(key_t key, size_t size, int flags)
{
	(void)key;
	(void)flags;
	if (nsegs >= MAX_SEGS)
		return -1;
	seg_size[nsegs] = size;
	return nsegs++;
}

void *shmat(int id, const void *addr, int flags)
{
	(void)addr;
	(void)flags;
	if (id < 0 || id >= nsegs)
		return (void *)-1;
	if (!seg[id]) {
		void *p = mmap(NULL, seg_size[id], PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return (void *)-1;
		seg[id] = p;
	}
	return seg[id];
}

int shmdt(const void *addr)
{
	(void)addr;
	return 0;
}

int shmctl(int id, int cmd, struct shmid_ds *buf)
{
	(void)id;
	(void)cmd;
	(void)buf;
	return 0;
}

/* One emulated timerfd: the pipe, and the interval in nanoseconds. */
static int tfd_write = -1;
static volatile long long tfd_interval_ns;
static pthread_t tfd_thread;

static void *tfd_tick(void *arg)
{
	(void)arg;
	for (;;) {
		long long ns = tfd_interval_ns;
		struct timespec ts;
		uint64_t one = 1;

		if (ns <= 0)
			ns = 10 * 1000 * 1000;
		ts.tv_sec = ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		nanosleep(&ts, NULL);
		if (tfd_interval_ns > 0 && write(tfd_write, &one, sizeof(one)) < 0)
			return NULL;
	}
}

int timerfd_create(int clockid, int flags)
{
	int p[2];

	(void)clockid;
	(void)flags;
	if (tfd_write >= 0 || pipe(p))
		return -1;
	/* A tick after fio closed its end must not kill fio (SIGPIPE). */
	signal(SIGPIPE, SIG_IGN);
	tfd_write = p[1];
	if (pthread_create(&tfd_thread, NULL, tfd_tick, NULL))
		return -1;
	return p[0];
}

int timerfd_settime(int fd, int flags, const struct itimerspec *new, struct itimerspec *old)
{
	(void)fd;
	(void)flags;
	if (old) {
		old->it_interval.tv_sec = 0;
		old->it_interval.tv_nsec = 0;
		old->it_value = old->it_interval;
	}
	long long ns = (long long)new->it_interval.tv_sec * 1000000000 + new->it_interval.tv_nsec;
	if (ns == 0)
		ns = (long long)new->it_value.tv_sec * 1000000000 + new->it_value.tv_nsec;
	tfd_interval_ns = ns;
	return 0;
}
