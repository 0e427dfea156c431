// SPDX-License-Identifier: GPL-2.0
/*
 * noeventfd.so: lets Debian's perf record in the test guest (make bench
 * T=bench_profile), whose kernel (tinyconfig) has no eventfd. perf only
 * writes its wake-up count to the descriptor and polls it for reading,
 * so a FIFO opened read-write (its own writer and reader) stands in.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

int eventfd(unsigned int initval, int flags)
{
	static int n;
	char path[64];
	int fd;

	(void)initval;
	snprintf(path, sizeof(path), "/tmp/.eventfd.%d.%d", getpid(), n++);
	unlink(path);
	if (mkfifo(path, 0600))
		return -1;
	fd = open(path, O_RDWR | ((flags & EFD_NONBLOCK) ? O_NONBLOCK : 0) |
			       ((flags & EFD_CLOEXEC) ? O_CLOEXEC : 0));
	unlink(path);
	return fd;
}
