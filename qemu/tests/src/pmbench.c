// SPDX-License-Identifier: GPL-2.0
/*
 * pmbench: tiny I/O throughput benchmark for comparing nova with ext4 -o
 * dax on the same pmem in the same VM. Only ratios mean anything under
 * emulation.
 *
 *   pmbench seqwrite FILE MIB      1 MiB writes, then fsync
 *   pmbench seqread FILE           1 MiB reads of the whole file
 *   pmbench randwrite FILE MIB N   N 4 KiB writes at random aligned offsets
 *   pmbench randwrite-sync FILE MIB N   the same, each followed by fdatasync
 *   pmbench append FILE N          N 4 KiB appends
 *   pmbench pair A B N             4 KiB random overwrites of A (64 MiB,
 *                                  by a child process, the log GC busy)
 *                                  while N 4 KiB overwrites of 64 files
 *                                  B.0..B.63 (round robin: their logs
 *                                  stay too short for a GC) are timed:
 *                                  do writers to different files wait
 *                                  for each other?
 *   pmbench meta DIR N             N creates (of empty files), stats,
 *                                  renames and unlinks in DIR
 *   pmbench time LABEL CMD ARG...  run CMD, print its wall time in ms
 *
 * Prints "NOVA-BENCH <mode> <MiB/s> MiB/s <ops/s> ops/s", and for the
 * random writes the median and 99th percentile latency of one operation.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const char *mode, double bytes, double ops, double secs)
{
	if (secs <= 0)
		secs = 1e-9;
	printf("NOVA-BENCH %s %.1f MiB/s %.0f ops/s\n", mode,
	       bytes / (1024.0 * 1024.0) / secs, ops / secs);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	uint64_t x = 88172645463325252ull;
	double t0, t1;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: see the header of pmbench.c\n");
		return 2;
	}
	memset(buf, 0x5a, sizeof(buf));
	if (!strcmp(argv[1], "time") && argc >= 4) {
		int status;
		pid_t pid;

		t0 = now();
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			execvp(argv[3], argv + 3);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid");
		t1 = now();
		printf("NOVA-BENCH %s %.1f ms (exit %d)\n", argv[2], (t1 - t0) * 1000,
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return 0;
	}
	if (!strcmp(argv[1], "seqwrite") && argc == 4) {
		long mib = atol(argv[3]);

		fd = open(argv[2], O_CREAT | O_TRUNC | O_WRONLY, 0644);
		if (fd < 0)
			die("open");
		t0 = now();
		for (long i = 0; i < mib; i++)
			if (write(fd, buf, sizeof(buf)) != sizeof(buf))
				die("write");
		if (fsync(fd))
			die("fsync");
		t1 = now();
		report("seqwrite", (double)mib * sizeof(buf), mib, t1 - t0);
	} else if (!strcmp(argv[1], "seqread")) {
		double total = 0, ops = 0;
		ssize_t n;

		fd = open(argv[2], O_RDONLY);
		if (fd < 0)
			die("open");
		t0 = now();
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			total += n;
			ops++;
		}
		if (n < 0)
			die("read");
		t1 = now();
		report("seqread", total, ops, t1 - t0);
	} else if ((!strcmp(argv[1], "randwrite") || !strcmp(argv[1], "randwrite-sync")) &&
		   argc == 5) {
		long pages = atol(argv[3]) * 256, n = atol(argv[4]);
		int sync = !strcmp(argv[1], "randwrite-sync");
		double *lat;

		fd = open(argv[2], O_WRONLY);
		if (fd < 0 || pages <= 0 || n <= 0)
			die("open");
		lat = malloc(n * sizeof(*lat));
		if (!lat)
			die("malloc");
		t0 = now();
		for (long i = 0; i < n; i++) {
			double s0 = now();

			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			off_t off = (off_t)((x * 2685821657736338717ull) % (uint64_t)pages) * 4096;
			if (pwrite(fd, buf, 4096, off) != 4096)
				die("pwrite");
			if (sync && fdatasync(fd))
				die("fdatasync");
			lat[i] = now() - s0;
		}
		t1 = now();
		qsort(lat, n, sizeof(*lat), cmp_double);
		report(sync ? "randwrite4k-sync" : "randwrite4k", (double)n * 4096, n, t1 - t0);
		printf("NOVA-BENCH %s-latency p50 %.2f us p99 %.2f us\n",
		       sync ? "randwrite4k-sync" : "randwrite4k", lat[n / 2] * 1e6,
		       lat[n * 99 / 100] * 1e6);
		free(lat);
	} else if (!strcmp(argv[1], "pair") && argc == 5) {
		long n = atol(argv[4]);
		double *lat;
		pid_t pid;
		int fa;

		int fb[64];

		fa = open(argv[2], O_CREAT | O_TRUNC | O_WRONLY, 0644);
		if (fa < 0 || n <= 0)
			die("open");
		for (int i = 0; i < 64; i++)
			if (write(fa, buf, sizeof(buf)) != sizeof(buf))
				die("write A");
		for (int i = 0; i < 64; i++) {
			char name[4096];

			snprintf(name, sizeof(name), "%s.%d", argv[3], i);
			fb[i] = open(name, O_CREAT | O_TRUNC | O_WRONLY, 0644);
			if (fb[i] < 0 || write(fb[i], buf, 4096) != 4096)
				die("create B");
		}
		fd = fb[0];
		lat = malloc(n * sizeof(*lat));
		if (!lat)
			die("malloc");
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			/* Overwrite A until killed. */
			for (;;) {
				x ^= x >> 12;
				x ^= x << 25;
				x ^= x >> 27;
				off_t off = (off_t)((x * 2685821657736338717ull) % 16384) * 4096;
				if (pwrite(fa, buf, 4096, off) != 4096)
					_exit(1);
			}
		}
		t0 = now();
		for (long i = 0; i < n; i++) {
			double s0 = now();

			if (pwrite(fb[i % 64], buf, 4096, 0) != 4096)
				die("pwrite B");
			lat[i] = now() - s0;
		}
		t1 = now();
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		qsort(lat, n, sizeof(*lat), cmp_double);
		report("pair-B", (double)n * 4096, n, t1 - t0);
		printf("NOVA-BENCH pair-B-latency p50 %.2f us p99 %.2f us max %.2f us\n",
		       lat[n / 2] * 1e6, lat[n * 99 / 100] * 1e6, lat[n - 1] * 1e6);
		free(lat);
		close(fa);
	} else if (!strcmp(argv[1], "meta") && argc == 4) {
		static const char *const phase[] = { "create", "stat", "rename", "unlink" };
		long n = atol(argv[3]);
		char p1[4096], p2[4096];
		struct stat st;

		if (n <= 0)
			die("meta: N");
		for (int ph = 0; ph < 4; ph++) {
			t0 = now();
			for (long i = 0; i < n; i++) {
				snprintf(p1, sizeof(p1), "%s/f%ld", argv[2], i);
				snprintf(p2, sizeof(p2), "%s/g%ld", argv[2], i);
				if (ph == 0) {
					int f = open(p1, O_CREAT | O_EXCL | O_WRONLY, 0644);

					if (f < 0 || close(f))
						die("create");
				} else if (ph == 1) {
					if (stat(p1, &st))
						die("stat");
				} else if (ph == 2) {
					if (rename(p1, p2))
						die("rename");
				} else if (unlink(p2)) {
					die("unlink");
				}
			}
			t1 = now();
			report(phase[ph], 0, n, t1 - t0);
		}
		return 0;
	} else if (!strcmp(argv[1], "append") && argc == 4) {
		long n = atol(argv[3]);

		fd = open(argv[2], O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644);
		if (fd < 0)
			die("open");
		t0 = now();
		for (long i = 0; i < n; i++)
			if (write(fd, buf, 4096) != 4096)
				die("append");
		t1 = now();
		report("append4k", (double)n * 4096, n, t1 - t0);
	} else {
		fprintf(stderr, "pmbench: bad arguments\n");
		return 2;
	}
	close(fd);
	return 0;
}
