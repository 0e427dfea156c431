/*
 * crashload - write/namespace workload with self-describing blocks, for
 * tests that cut the VM off in the middle and verify after remount.
 *
 * Usage:
 *   crashload [-s SEED] DIR SECONDS     run the workload for SECONDS
 *   crashload -v DIR                    verify DIR after a crash/remount
 *
 * Workload files are named cl_XXXXXXXX (8 hex digits = file id) or
 * cl_XXXXXXXX.tmp (a replacement being prepared), in DIR or in the
 * subdirectories d_XXXX of DIR.  Every 4 KiB block of such a file is
 *
 *     struct blkhdr { magic, file id, block index, generation, checksum }
 *     followed by payload bytes derived from (id, index, generation)
 *
 * with the checksum (FNV-1a 64) covering the whole block.  The workload
 * creates files, overwrites random blocks with a new generation, appends,
 * truncates, atomically replaces files (write .tmp, fsync, rename),
 * renames files and directories, unlinks, mkdirs and fsyncs sometimes,
 * printing a progress line about once a second.  ENOSPC is handled by
 * deleting files.  Written blocks are sometimes read back and checked.
 *
 * Verify mode checks that every block of every workload file is either
 * all zero (hole or never written) or a complete, valid block with the
 * right file id and block index; a partial last block must be a prefix of
 * a valid block.  It prints "crashload verify: N files, M blocks ok" or the
 * failures, and exits 1 on failure.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define BLK         4096
#define MAGIC       0x4b424c43u         /* "CLBK" little endian */
#define MAXLIVE     256                 /* live files */
#define MAXDIRS     32
#define MAXBLOCKS   64                  /* blocks per file (soft limit) */
#define MAXRUN      16                  /* blocks per write call */

struct blkhdr {
	uint32_t magic;
	uint32_t fileid;
	uint32_t blkidx;
	uint32_t gen;
	uint64_t csum;          /* FNV-1a 64 of the block with csum = 0 */
	uint64_t reserved;
};

/* ------------------------------------------------------------------ */
/* block format                                                        */
/* ------------------------------------------------------------------ */

static uint64_t fnv1a(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* Build the block (id, idx, gen) into BUF. */
static void make_block(unsigned char *buf, uint32_t id, uint32_t idx, uint32_t gen)
{
	struct blkhdr h = { MAGIC, id, idx, gen, 0, 0 };
	uint64_t s = splitmix(((uint64_t)id << 32) ^ ((uint64_t)idx << 12) ^
			      ((uint64_t)gen * 0x100000001b3ULL));

	for (size_t o = sizeof(h); o < BLK; o += 8) {
		s = splitmix(s);
		memcpy(buf + o, &s, 8);
	}
	memcpy(buf, &h, sizeof(h));
	h.csum = fnv1a(buf, BLK);
	memcpy(buf, &h, sizeof(h));
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/*
 * Check block IDX of file ID held in BUF (LEN bytes, LEN < BLK for a
 * partial last block).  Returns NULL if fine, else a reason.
 */
static const char *check_block(const unsigned char *buf, size_t len, uint32_t id, uint32_t idx,
			       uint32_t *gen_out)
{
	static unsigned char ref[BLK];
	static char why[128];
	struct blkhdr h;

	*gen_out = 0;
	if (all_zero(buf, len))
		return NULL;
	if (len < sizeof(h)) {
		/* too short to know the generation: check magic, id, index */
		make_block(ref, id, idx, 0);
		if (memcmp(buf, ref, len < 12 ? len : 12) != 0)
			return "short partial block with bad header";
		return NULL;
	}
	memcpy(&h, buf, sizeof(h));
	*gen_out = h.gen;
	if (h.magic != MAGIC)
		return "bad magic (garbage or torn block)";
	if (h.fileid != id) {
		snprintf(why, sizeof(why), "block belongs to file id %08x", h.fileid);
		return why;
	}
	if (h.blkidx != idx) {
		snprintf(why, sizeof(why), "block claims index %u", h.blkidx);
		return why;
	}
	make_block(ref, id, idx, h.gen);
	if (len == BLK) {
		struct blkhdr z = h;

		z.csum = 0;
		memcpy(ref, &z, sizeof(z));     /* reuse ref to compute the checksum */
		memcpy(ref + sizeof(z), buf + sizeof(z), BLK - sizeof(z));
		if (fnv1a(ref, BLK) != h.csum)
			return "checksum mismatch (torn block)";
		make_block(ref, id, idx, h.gen);
	}
	if (memcmp(ref, buf, len) != 0)
		return len == BLK ? "payload mismatch" : "partial block is not a prefix of a valid block";
	return NULL;
}

/* ------------------------------------------------------------------ */
/* PRNG                                                                */
/* ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint32_t rndn(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

/* ------------------------------------------------------------------ */
/* verify mode                                                         */
/* ------------------------------------------------------------------ */

static unsigned long v_files, v_blocks, v_zero, v_fail;

static void vfail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vfail(const char *fmt, ...)
{
	va_list ap;

	if (++v_fail > 100) {
		if (v_fail == 101)
			printf("crashload verify: too many failures, not listing more\n");
		return;
	}
	printf("crashload verify: FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* cl_XXXXXXXX or cl_XXXXXXXX.tmp -> id */
static int parse_name(const char *n, uint32_t *id)
{
	char *end;
	unsigned long v;

	if (strncmp(n, "cl_", 3) != 0 || strlen(n) < 11)
		return 0;
	for (int i = 3; i < 11; i++)
		if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
			return 0;
	if (n[11] != 0 && strcmp(n + 11, ".tmp") != 0)
		return 0;
	v = strtoul(n + 3, &end, 16);
	if (end != n + 11)
		return 0;
	*id = (uint32_t)v;
	return 1;
}

static void verify_file(const char *path, uint32_t id)
{
	static unsigned char buf[BLK * 64];
	int fd = open(path, O_RDONLY);
	uint64_t off = 0;
	size_t have = 0;

	if (fd < 0) {
		vfail("%s: open: %s", path, strerror(errno));
		return;
	}
	v_files++;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			vfail("%s: read at %" PRIu64 ": %s", path, off + have, strerror(errno));
			break;
		}
		have += n;
		if (n > 0 && have < sizeof(buf))
			continue;
		/* check complete blocks (and the partial tail at EOF) */
		for (size_t o = 0; o < have; o += BLK) {
			size_t len = have - o < BLK ? have - o : BLK;
			uint32_t idx = (uint32_t)((off + o) / BLK), gen;
			const char *why;

			why = check_block(buf + o, len, id, idx, &gen);
			if (why)
				vfail("%s: block %u (offset %" PRIu64 ", %zu bytes, gen %u): %s",
				      path, idx, off + o, len, gen, why);
			else if (all_zero(buf + o, len))
				v_zero++;
			v_blocks++;
		}
		off += have;
		have = 0;
		if (n == 0)
			break;
	}
	close(fd);
}

static void verify_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if (!d) {
		vfail("opendir %s: %s", dir, strerror(errno));
		return;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct stat st;
		uint32_t id;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		if (lstat(path, &st) < 0) {
			vfail("lstat %s: %s", path, strerror(errno));
			continue;
		}
		if (S_ISDIR(st.st_mode))
			verify_dir(path);
		else if (S_ISREG(st.st_mode) && parse_name(de->d_name, &id))
			verify_file(path, id);
	}
	if (errno)
		vfail("readdir %s: %s", dir, strerror(errno));
	closedir(d);
}

/* ------------------------------------------------------------------ */
/* workload                                                            */
/* ------------------------------------------------------------------ */

struct cfile {
	uint32_t id;
	int dir;                /* index into dirs[] */
	uint32_t nblocks;       /* size in blocks as far as we know */
};

static const char *top;
static struct cfile live[MAXLIVE];
static int nlive;
static char dirs[MAXDIRS][16];  /* "" = top directory */
static int ndirs = 1;
static uint32_t next_id = 1, next_dir = 1, gen;
static unsigned long ops, enospc, readbacks, nfsync;
static uint64_t bytes_written;
static unsigned char wbuf[BLK * MAXRUN], rbuf[BLK * MAXRUN];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "crashload: FAILED after %lu ops: ", ops);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void dir_path(char *buf, size_t sz, int d)
{
	if (dirs[d][0])
		snprintf(buf, sz, "%s/%s", top, dirs[d]);
	else
		snprintf(buf, sz, "%s", top);
}

static void file_path(char *buf, size_t sz, const struct cfile *f, const char *suffix)
{
	char dp[4096];

	dir_path(dp, sizeof(dp), f->dir);
	if ((size_t)snprintf(buf, sz, "%s/cl_%08x%s", dp, f->id, suffix) >= sz)
		die("path too long");
}

/* Drop about half of the files to make room after ENOSPC. */
static void make_room(void)
{
	char p[4200];

	enospc++;
	for (int i = nlive - 1; i >= 0; i -= 2) {
		file_path(p, sizeof(p), &live[i], "");
		if (unlink(p) < 0 && errno != ENOENT)
			die("unlink %s: %s", p, strerror(errno));
		live[i] = live[--nlive];
	}
	sync();
}

/*
 * Write blocks [first, first+count) of file F (fd) with generation G.
 * Returns 0, or -1 on ENOSPC.
 */
static int write_blocks(int fd, const struct cfile *f, uint32_t first, uint32_t count,
			uint32_t g, const char *path)
{
	size_t len = (size_t)count * BLK, done = 0;

	for (uint32_t i = 0; i < count; i++)
		make_block(wbuf + (size_t)i * BLK, f->id, first + i, g);
	while (done < len) {
		ssize_t n = pwrite(fd, wbuf + done, len - done, (off_t)first * BLK + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == ENOSPC || errno == EDQUOT))
			return -1;
		if (n <= 0)
			die("pwrite %s block %u: %s", path, first, n < 0 ? strerror(errno) : "0");
		done += n;
	}
	bytes_written += len;
	/* sometimes read back and compare */
	if (rndn(8) == 0) {
		readbacks++;
		if (pread(fd, rbuf, len, (off_t)first * BLK) != (ssize_t)len)
			die("read back %s block %u: %s", path, first, strerror(errno));
		if (memcmp(rbuf, wbuf, len) != 0)
			die("read back %s blocks %u+%u: data differs from what was written",
			    path, first, count);
	}
	return 0;
}

static void maybe_sync(int fd, const char *path)
{
	int r = (int)rndn(8);

	if (r == 0 || r == 1) {
		nfsync++;
		if ((r ? fdatasync(fd) : fsync(fd)) < 0 && errno != ENOSPC)
			die("fsync %s: %s", path, strerror(errno));
	}
}

/* write a whole file content: NB blocks, sometimes in one call */
static int write_file(int fd, const struct cfile *f, uint32_t nb, const char *path)
{
	uint32_t g = ++gen, b = 0;

	while (b < nb) {
		uint32_t run = rndn(2) ? 1 + rndn(MAXRUN) : 1;

		if (run > nb - b)
			run = nb - b;
		if (write_blocks(fd, f, b, run, g, path) < 0)
			return -1;
		b += run;
	}
	return 0;
}

static void op_create(void)
{
	struct cfile f = { next_id++, (int)rndn(ndirs), 1 + rndn(MAXBLOCKS / 2) };
	char p[4200];
	int fd;

	file_path(p, sizeof(p), &f, "");
	fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		if (errno == ENOSPC || errno == EDQUOT) {
			make_room();
			return;
		}
		die("create %s: %s", p, strerror(errno));
	}
	if (write_file(fd, &f, f.nblocks, p) < 0) {
		close(fd);
		unlink(p);
		make_room();
		return;
	}
	maybe_sync(fd, p);
	close(fd);
	live[nlive++] = f;
}

static void op_overwrite(struct cfile *f, int append)
{
	char p[4200];
	uint32_t first, count = 1 + rndn(rndn(2) ? MAXRUN : 2);
	int fd;

	if (append)
		first = f->nblocks;
	else
		first = rndn(f->nblocks + 2);   /* may leave a hole past EOF */
	if (first >= MAXBLOCKS)
		first = rndn(MAXBLOCKS);
	file_path(p, sizeof(p), f, "");
	fd = open(p, O_RDWR);
	if (fd < 0)
		die("open %s: %s", p, strerror(errno));
	if (write_blocks(fd, f, first, count, ++gen, p) < 0) {
		close(fd);
		make_room();
		return;
	}
	if (first + count > f->nblocks)
		f->nblocks = first + count;
	maybe_sync(fd, p);
	close(fd);
}

/* write a complete new version to cl_X.tmp, then rename it over cl_X */
static void op_replace(struct cfile *f)
{
	char p[4200], tp[4200];
	uint32_t nb = 1 + rndn(MAXBLOCKS / 2);
	int fd;

	file_path(p, sizeof(p), f, "");
	file_path(tp, sizeof(tp), f, ".tmp");
	fd = open(tp, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		if (errno == ENOSPC || errno == EDQUOT) {
			make_room();
			return;
		}
		die("create %s: %s", tp, strerror(errno));
	}
	if (write_file(fd, f, nb, tp) < 0) {
		close(fd);
		unlink(tp);
		make_room();
		return;
	}
	if (rndn(4) != 0 && fsync(fd) < 0 && errno != ENOSPC)
		die("fsync %s: %s", tp, strerror(errno));
	close(fd);
	if (rename(tp, p) < 0)
		die("rename %s %s: %s", tp, p, strerror(errno));
	f->nblocks = nb;
}

static void op_truncate(struct cfile *f)
{
	char p[4200];
	uint32_t nb = rndn(f->nblocks + 4);

	file_path(p, sizeof(p), f, "");
	if (truncate(p, (off_t)nb * BLK) < 0) {
		if (errno == ENOSPC || errno == EDQUOT) {
			make_room();
			return;
		}
		die("truncate %s: %s", p, strerror(errno));
	}
	f->nblocks = nb;
}

static void op_move(struct cfile *f)
{
	char a[4200], b[4200];
	int nd = (int)rndn(ndirs);

	if (nd == f->dir)
		return;
	file_path(a, sizeof(a), f, "");
	f->dir = nd;
	file_path(b, sizeof(b), f, "");
	if (rename(a, b) < 0)
		die("rename %s %s: %s", a, b, strerror(errno));
}

static void op_unlink(int i)
{
	char p[4200];

	file_path(p, sizeof(p), &live[i], "");
	if (unlink(p) < 0)
		die("unlink %s: %s", p, strerror(errno));
	live[i] = live[--nlive];
}

static void op_mkdir(void)
{
	char p[4200];

	if (ndirs >= MAXDIRS)
		return;
	snprintf(dirs[ndirs], sizeof(dirs[0]), "d_%04x", next_dir++ & 0xffff);
	dir_path(p, sizeof(p), ndirs);
	if (mkdir(p, 0755) < 0) {
		if (errno == ENOSPC || errno == EDQUOT) {
			make_room();
			return;
		}
		die("mkdir %s: %s", p, strerror(errno));
	}
	ndirs++;
}

/* rename a subdirectory to a new name; its files move with it */
static void op_rendir(void)
{
	char a[4200], b[4200];
	int d;

	if (ndirs < 2)
		return;
	d = 1 + (int)rndn(ndirs - 1);
	dir_path(a, sizeof(a), d);
	snprintf(dirs[d], sizeof(dirs[0]), "d_%04x", next_dir++ & 0xffff);
	dir_path(b, sizeof(b), d);
	if (rename(a, b) < 0)
		die("rename %s %s: %s", a, b, strerror(errno));
}

/* find the highest ids already used in DIR so a rerun does not collide */
static void scan_existing(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[4200];

	if (!d)
		die("opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		uint32_t id;
		unsigned dn;

		if (parse_name(de->d_name, &id) && id >= next_id)
			next_id = id + 1;
		if (depth == 0 && sscanf(de->d_name, "d_%4x", &dn) == 1) {
			if (dn >= next_dir)
				next_dir = dn + 1;
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			scan_existing(p, 1);
		}
	}
	closedir(d);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run(const char *dir, double seconds, uint64_t seed)
{
	double start = now(), next_report = start + 1;

	top = dir;
	rng_state = seed ? seed : 1;
	scan_existing(dir, 0);
	printf("crashload: dir %s, %.0f s, seed %" PRIu64 ", first id %08x\n", dir, seconds,
	       seed, next_id);
	for (;;) {
		double t = now();
		int r = (int)rndn(100);

		if (t >= start + seconds)
			break;
		if (t >= next_report) {
			printf("crashload: t=%.0fs ops=%lu files=%d dirs=%d gen=%u written=%" PRIu64
			       "KiB fsyncs=%lu enospc=%lu\n", t - start, ops, nlive, ndirs, gen,
			       bytes_written >> 10, nfsync, enospc);
			next_report += 1;
		}
		ops++;
		if (nlive == 0 || (r < 20 && nlive < MAXLIVE)) {
			op_create();
			continue;
		}
		if (r < 20) {
			op_unlink((int)rndn(nlive));
			continue;
		}
		{
			int i = (int)rndn(nlive);
			struct cfile *f = &live[i];

			if (r < 50)
				op_overwrite(f, 0);
			else if (r < 58)
				op_overwrite(f, 1);
			else if (r < 68)
				op_replace(f);
			else if (r < 74)
				op_truncate(f);
			else if (r < 82)
				op_move(f);
			else if (r < 90)
				op_unlink(i);
			else if (r < 94)
				op_mkdir();
			else if (r < 97)
				op_rendir();
			else if (r < 99) {
				char p[4200];
				int fd;

				file_path(p, sizeof(p), f, "");
				fd = open(p, O_RDONLY);
				if (fd < 0 || fsync(fd) < 0)
					die("fsync %s: %s", p, strerror(errno));
				nfsync++;
				close(fd);
			} else {
				sync();
			}
		}
	}
	printf("crashload: done: %lu ops, %d files, %d dirs, gen %u, %" PRIu64
	       " KiB written, %lu read-backs ok, %lu ENOSPC recoveries\n", ops, nlive, ndirs,
	       gen, bytes_written >> 10, readbacks, enospc);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: crashload [-s SEED] DIR SECONDS\n"
		"       crashload -v DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	int verify = 0, c;
	struct stat st;
	char *end;
	double secs;

	while ((c = getopt(argc, argv, "vs:")) != -1) {
		switch (c) {
		case 'v': verify = 1; break;
		case 's':
			seed = strtoull(optarg, &end, 0);
			if (*end || end == optarg)
				usage();
			break;
		default: usage();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (optind >= argc || stat(argv[optind], &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (optind < argc)
			fprintf(stderr, "crashload: %s is not a directory\n", argv[optind]);
		usage();
	}
	if (verify) {
		if (optind != argc - 1)
			usage();
		verify_dir(argv[optind]);
		if (v_fail) {
			printf("crashload verify: %lu FAILURES in %lu files, %lu blocks\n", v_fail,
			       v_files, v_blocks);
			return 1;
		}
		printf("crashload verify: %lu of the blocks are zero (holes)\n", v_zero);
		printf("crashload verify: %lu files, %lu blocks ok\n", v_files, v_blocks);
		return 0;
	}
	if (optind != argc - 2)
		usage();
	secs = strtod(argv[optind + 1], &end);
	if (*end || end == argv[optind + 1] || secs < 0)
		usage();
	return run(argv[optind], secs, seed);
}
