/*
 * faultload - a random namespace, data and snapshot workload that runs
 * with the kernel's allocation fault injection armed for this task only
 * (/proc/self/make-it-fail), and keeps a model of the operations that
 * succeeded.
 *
 * Usage:
 *   faultload run SEED OPS DIR MODEL   run OPS random operations in DIR
 *                                      (created empty), write the model
 *   faultload verify DIR MODEL         compare DIR with the model
 *   faultload arm PERCENT TIMES        arms failslab and fail_page_alloc
 *                                      (debugfs) for tasks with
 *                                      make-it-fail, and only for
 *                                      allocations with nova.ko on the stack
 *   faultload injected TIMES           prints how many failures were
 *                                      injected since "arm", and disarms
 *   faultload arm-gc TIMES             arms failslab and fail_page_alloc
 *                                      for every task, but only for
 *                                      allocations with nova's log GC
 *                                      (gc::collect) on the stack: each
 *                                      one fails
 *
 * Every operation either succeeds, and the model follows it, or fails
 * with ENOMEM or ENOSPC and changes nothing. "run" ends by comparing DIR
 * with the model (injection off). Prints "failed-ops N" (operations that
 * returned an error) and exits 0, or prints what is wrong and exits 1.
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
#include <unistd.h>

#define NNAMES 12
#define NDIRS 3
#define MAXSZ (48 * 1024)
#define PROC "/proc/fs/nova/pmem0/"

struct ino {
	int used;
	uint32_t size;
	unsigned char data[MAXSZ];
};

struct model {
	int name[NNAMES]; /* inode index or -1 */
	int dir[NDIRS];   /* 1 if the directory exists */
	struct ino ino[NNAMES];
};

static struct model m;
static const char *dir;
static uint64_t rs;
static long failed;

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

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

/*
 * Sets or clears this task's make-it-fail. The open and the write may
 * themselves be refused with ENOMEM while it is set: the fast test
 * kernel's unwinder (UNWINDER_GUESS) reports every kernel address left on
 * the stack, so a return address into nova.ko from an earlier system call
 * can satisfy the stack filter of an allocation that is not nova's. Such
 * a refusal is retried; any other error ends the run.
 */
static void inject(int on)
{
	for (int tries = 0;; tries++) {
		int fd = open("/proc/self/make-it-fail", O_WRONLY);
		int err;

		if (fd >= 0) {
			ssize_t n = write(fd, on ? "1" : "0", 1);

			err = errno;
			close(fd);
			if (n == 1)
				return;
			if (err != ENOMEM || tries >= 1000)
				die("make-it-fail write: %s", strerror(err));
			continue;
		}
		err = errno;
		if (err != ENOMEM || tries >= 1000)
			die("make-it-fail: %s", strerror(err));
	}
}

static void path(char *p, size_t n, int i)
{
	snprintf(p, n, "%s/f%d", dir, i);
}

static void dpath(char *p, size_t n, int i)
{
	snprintf(p, n, "%s/d%d", dir, i);
}

/* An operation failed: only a lack of memory or space is acceptable. */
static void failed_with(const char *op, int err)
{
	if (err != ENOMEM && err != ENOSPC)
		die("%s failed with %s (only ENOMEM or ENOSPC may come from an allocation failure)",
		    op, strerror(err));
	failed++;
}

static int free_ino(void)
{
	int i;

	for (i = 0; i < NNAMES; i++) {
		int j, ref = 0;
		for (j = 0; j < NNAMES; j++)
			ref |= m.name[j] == i;
		if (!ref)
			return i;
	}
	return -1;
}

static void op(void)
{
	char p[512], q[512];
	int k = rnd() % NNAMES, k2 = rnd() % NNAMES, d = rnd() % NDIRS;
	int ino = m.name[k];
	int fd, r, e;

	switch (rnd() % 10) {
	case 0:
	case 1:
	case 2: { /* write */
		static unsigned char buf[8192];
		uint32_t off, len, i;
		if (ino < 0)
			return;
		off = rnd() % (MAXSZ - 8192);
		len = 1 + rnd() % 8192;
		for (i = 0; i < len; i++)
			buf[i] = rnd();
		path(p, sizeof(p), k);
		fd = open(p, O_WRONLY);
		if (fd < 0)
			die("open %s: %s", p, strerror(errno));
		inject(1);
		r = pwrite(fd, buf, len, off);
		e = errno;
		inject(0);
		close(fd);
		if (r < 0)
			return failed_with("pwrite", e);
		if ((uint32_t)r != len)
			die("pwrite wrote %d of %u bytes", r, len);
		memcpy(m.ino[ino].data + off, buf, len);
		if (off + len > m.ino[ino].size)
			m.ino[ino].size = off + len;
		return;
	}
	case 3: { /* truncate */
		uint32_t sz = rnd() % MAXSZ;
		if (ino < 0)
			return;
		path(p, sizeof(p), k);
		inject(1);
		r = truncate(p, sz);
		e = errno;
		inject(0);
		if (r)
			return failed_with("truncate", e);
		/* The model keeps every byte past the end zero. */
		if (sz < m.ino[ino].size)
			memset(m.ino[ino].data + sz, 0, m.ino[ino].size - sz);
		m.ino[ino].size = sz;
		return;
	}
	case 4: { /* create */
		int n;
		if (ino >= 0 || (n = free_ino()) < 0)
			return;
		path(p, sizeof(p), k);
		inject(1);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
		e = errno;
		inject(0);
		if (fd < 0)
			return failed_with("create", e);
		close(fd);
		m.name[k] = n;
		m.ino[n].size = 0;
		memset(m.ino[n].data, 0, MAXSZ);
		return;
	}
	case 5: /* unlink */
		if (ino < 0)
			return;
		path(p, sizeof(p), k);
		inject(1);
		r = unlink(p);
		e = errno;
		inject(0);
		if (r)
			return failed_with("unlink", e);
		m.name[k] = -1;
		return;
	case 6: /* rename, replacing the target */
		if (ino < 0 || k == k2)
			return;
		path(p, sizeof(p), k);
		path(q, sizeof(q), k2);
		inject(1);
		r = rename(p, q);
		e = errno;
		inject(0);
		if (r)
			return failed_with("rename", e);
		/* Two links to one inode: rename does nothing (POSIX). */
		if (m.name[k2] != ino) {
			m.name[k2] = ino;
			m.name[k] = -1;
		}
		return;
	case 7: /* link */
		if (ino < 0 || m.name[k2] >= 0)
			return;
		path(p, sizeof(p), k);
		path(q, sizeof(q), k2);
		inject(1);
		r = link(p, q);
		e = errno;
		inject(0);
		if (r)
			return failed_with("link", e);
		m.name[k2] = ino;
		return;
	case 8: { /* fallocate (default mode) */
		uint32_t off = rnd() % (MAXSZ / 2), len = 1 + rnd() % (MAXSZ / 2);
		if (ino < 0)
			return;
		path(p, sizeof(p), k);
		fd = open(p, O_WRONLY);
		if (fd < 0)
			die("open %s: %s", p, strerror(errno));
		inject(1);
		r = fallocate(fd, 0, off, len);
		e = errno;
		inject(0);
		close(fd);
		if (r)
			return failed_with("fallocate", e);
		if (off + len > m.ino[ino].size)
			m.ino[ino].size = off + len;
		return;
	}
	case 9: /* mkdir / rmdir, or a snapshot taken or deleted */
		if (rnd() % 4 == 0) {
			const char *f = rnd() % 2 ? PROC "create_snapshot" : PROC "delete_snapshot";
			char b[64] = "\n";
			if (strstr(f, "delete")) {
				/* The first listed epoch (lines after the header
				 * start with spaces, then the epoch). */
				FILE *s = fopen(PROC "snapshots", "r");
				char line[128];
				unsigned long long ep = 0;
				if (!s)
					return;
				while (fgets(line, sizeof(line), s))
					if (sscanf(line, " %llu", &ep) == 1)
						break;
				fclose(s);
				if (!ep)
					return;
				snprintf(b, sizeof(b), "%llu\n", ep);
			}
			fd = open(f, O_WRONLY);
			if (fd < 0)
				die("open %s: %s", f, strerror(errno));
			inject(1);
			r = write(fd, b, strlen(b));
			e = errno;
			inject(0);
			close(fd);
			if (r < 0)
				failed_with(f, e);
			return;
		}
		dpath(p, sizeof(p), d);
		inject(1);
		r = m.dir[d] ? rmdir(p) : mkdir(p, 0755);
		e = errno;
		inject(0);
		if (r)
			return failed_with(m.dir[d] ? "rmdir" : "mkdir", e);
		m.dir[d] = !m.dir[d];
		return;
	}
}

static void verify(void)
{
	static unsigned char buf[MAXSZ + 1];
	char p[512];
	int i, n = 0;
	DIR *dp;
	struct dirent *de;

	for (i = 0; i < NNAMES; i++) {
		struct stat st;
		int fd, ino = m.name[i];
		ssize_t r;
		path(p, sizeof(p), i);
		if (ino < 0) {
			if (!lstat(p, &st))
				die("%s exists; the model has no such name", p);
			continue;
		}
		n++;
		fd = open(p, O_RDONLY);
		if (fd < 0)
			die("%s: %s (the model has it)", p, strerror(errno));
		if (fstat(fd, &st) || st.st_size != m.ino[ino].size)
			die("%s: size %lld, model %u", p, (long long)st.st_size, m.ino[ino].size);
		r = pread(fd, buf, sizeof(buf), 0);
		if (r != (ssize_t)m.ino[ino].size || memcmp(buf, m.ino[ino].data, r))
			die("%s: content differs from the model", p);
		close(fd);
	}
	for (i = 0; i < NDIRS; i++) {
		struct stat st;
		dpath(p, sizeof(p), i);
		if ((lstat(p, &st) == 0) != m.dir[i])
			die("%s: exists %d, model %d", p, !lstat(p, &st), m.dir[i]);
		n += m.dir[i];
	}
	dp = opendir(dir);
	if (!dp)
		die("opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(dp)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n--;
	closedir(dp);
	if (n)
		die("readdir of %s differs from the model by %d names", dir, n);
}

#define DBG "/sys/kernel/debug/"
static const char *const kinds[] = { "failslab", "fail_page_alloc" };
static long armed_times;

static void put(const char *kind, const char *attr, const char *fmt, ...)
{
	char p[256], v[64];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	snprintf(p, sizeof(p), DBG "%s/%s", kind, attr);
	f = fopen(p, "w");
	if (!f || fputs(v, f) < 0 || fclose(f))
		die("writing %s to %s: %s", v, p, strerror(errno));
}

static long get(const char *kind, const char *attr)
{
	char p[256];
	long v = 0;
	FILE *f;

	snprintf(p, sizeof(p), DBG "%s/%s", kind, attr);
	f = fopen(p, "r");
	if (!f || fscanf(f, "%ld", &v) != 1)
		die("reading %s", p);
	fclose(f);
	return v;
}

/* nova.ko's address range, from /proc/modules. */
static void module_range(unsigned long long *start, unsigned long long *end)
{
	char name[64];
	unsigned long long size, addr;
	FILE *f = fopen("/proc/modules", "r");

	if (!f)
		die("/proc/modules: %s", strerror(errno));
	while (fscanf(f, "%63s %llu %*s %*s %*s %llx%*[^\n]", name, &size, &addr) == 3) {
		if (!strcmp(name, "nova")) {
			fclose(f);
			if (!addr)
				die("/proc/modules hides nova's address");
			*start = addr;
			*end = addr + size;
			return;
		}
	}
	die("nova is not in /proc/modules");
}

/* The address range of nova's gc::collect, from /proc/kallsyms: its
 * symbol to the next symbol above it. */
static void gc_range(unsigned long long *start, unsigned long long *end)
{
	static const char want[] = "9nova_main2gc7collect";
	char line[1024], name[900];
	unsigned long long a, s = 0, e = ~0ULL;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		die("/proc/kallsyms: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %*s %899s", &a, name) != 2)
			continue;
		size_t n = strlen(name);
		if (n >= sizeof(want) - 1 && !strcmp(name + n - (sizeof(want) - 1), want))
			s = a;
	}
	if (!s)
		die("nova's gc::collect is not in /proc/kallsyms");
	rewind(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx", &a) == 1 && a > s && a < e)
			e = a;
	fclose(f);
	*start = s;
	*end = e;
}

static int arm(int percent, long times)
{
	unsigned long long s, e;
	unsigned i;
	int gc = percent < 0;

	if (gc) {
		gc_range(&s, &e);
		percent = 100;
	} else {
		module_range(&s, &e);
	}
	for (i = 0; i < 2; i++) {
		const char *k = kinds[i];
		put(k, "task-filter", gc ? "N" : "Y");
		put(k, "ignore-gfp-wait", "N");
		put(k, "verbose", "0");
		put(k, "interval", "1");
		put(k, "stacktrace-depth", "32");
		put(k, "require-start", "%llu", s);
		put(k, "require-end", "%llu", e);
		put(k, "times", "%ld", times);
		put(k, "probability", "%d", percent);
	}
	put("fail_page_alloc", "ignore-gfp-highmem", "N");
	put("fail_page_alloc", "min-order", "0");
	printf("armed: %d%% of nova's allocations in %s, at most %ld each, %s %llx-%llx\n",
	       percent, gc ? "any task" : "marked tasks", times, gc ? "gc::collect" : "module", s, e);
	return 0;
}

static int injected(void)
{
	long n = 0;
	unsigned i;

	for (i = 0; i < 2; i++) {
		n += armed_times - get(kinds[i], "times");
		put(kinds[i], "probability", "0");
	}
	printf("injected %ld\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	FILE *f;
	int i;

	if (argc == 4 && !strcmp(argv[1], "arm"))
		return arm(atoi(argv[2]), atol(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "arm-gc"))
		return arm(-1, atol(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "injected")) {
		armed_times = atol(argv[2]);
		return injected();
	}
	if (argc == 6 && !strcmp(argv[1], "run")) {
		long ops = atol(argv[3]);
		rs = strtoull(argv[2], NULL, 0) * 2654435761u + 1;
		dir = argv[4];
		for (i = 0; i < NNAMES; i++)
			m.name[i] = -1;
		if (mkdir(dir, 0755))
			die("mkdir %s: %s", dir, strerror(errno));
		for (i = 0; i < ops; i++)
			op();
		verify();
		f = fopen(argv[5], "w");
		if (!f || fwrite(&m, sizeof(m), 1, f) != 1 || fclose(f))
			die("writing the model");
		printf("failed-ops %ld\n", failed);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "verify")) {
		dir = argv[2];
		f = fopen(argv[3], "r");
		if (!f || fread(&m, sizeof(m), 1, f) != 1)
			die("reading the model");
		fclose(f);
		verify();
		printf("ok\n");
		return 0;
	}
	fprintf(stderr, "usage: faultload run SEED OPS DIR MODEL | verify DIR MODEL\n");
	return 2;
}
