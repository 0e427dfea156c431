/*
 * fsx - random file data tester with an in-memory model.
 *
 * Usage:
 *   fsx [-s SEED] [-n OPS] [-f NFILES] [-S MAXSIZE] [-m] [-R] [-r MODELFILE] DIR
 *   fsx -c MODELFILE [-f NFILES] [-S MAXSIZE] DIR
 *
 * Keeps NFILES files DIR/fsx.0 .. DIR/fsx.N-1 (default 3) and a sparse
 * in-memory model of their contents (max size MAXSIZE, default 1 MiB,
 * suffixes k/m/g/t accepted; e.g. -S 8g exercises offsets beyond 4 GiB).
 * Random operations (seeded xorshift64* PRNG, default seed 1):
 *   write, read+compare, truncate up/down, fallocate (0, KEEP_SIZE,
 *   PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE with and without KEEP_SIZE,
 *   COLLAPSE_RANGE, INSERT_RANGE: the model's bytes move too; a collapse
 *   reaching the end must fail with EINVAL), mmap store/load (-m), fsync/fdatasync,
 *   O_APPEND write, SEEK_DATA/SEEK_HOLE sanity, close+reopen; with -R
 *   also reflink operations between the files (FICLONERANGE, with the
 *   VFS's refusals expected; FIDEDUPERANGE, "same" exactly when the
 *   model's ranges are equal; copy_file_range at any offsets).
 * After every operation the file size is checked against the model, and
 * at the end every file is compared completely.
 *
 *   -r MODELFILE  after the run, save the model (file contents) there
 *   -c MODELFILE  only compare the files in DIR with a saved model
 *
 * Written bytes depend on (op number, offset) so stale data can be traced
 * to the operation that wrote it (the op number modulo 256 is shown).
 * On a mismatch the op number, file, offset, expected and actual bytes and
 * the last 20 operations are printed and the exit status is 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif
#ifndef FALLOC_FL_ZERO_RANGE
#define FALLOC_FL_ZERO_RANGE 0x10
#endif
#ifndef FALLOC_FL_COLLAPSE_RANGE
#define FALLOC_FL_COLLAPSE_RANGE 0x08
#endif
#ifndef FALLOC_FL_INSERT_RANGE
#define FALLOC_FL_INSERT_RANGE 0x20
#endif

#define CHUNK       (64 * 1024)     /* model granularity */
#define MAXLEN      (256 * 1024)    /* max length of one I/O */
#define MAXFILES    64
#define LOGN        20              /* operations kept for the report */

struct mfile {
	char name[32];
	char path[4096];
	int fd;
	uint64_t size;          /* model size */
	uint8_t **chunk;        /* NULL chunk == all zero */
};

static struct mfile files[MAXFILES];
static int nfiles = 3;
static uint64_t maxsize = 1 << 20;
static uint64_t nchunks;
static uint64_t opnum;          /* current operation number (1-based) */
static uint64_t seed = 1;
static long pagesize;
static uint8_t *buf_a, *buf_b;  /* I/O buffers, MAXLEN + pagesize */

static char oplog[LOGN][160];

/* ------------------------------------------------------------------ */
/* PRNG: xorshift64*                                                   */
/* ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* uniform in [0, n) (n > 0) */
static uint64_t rndn(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* ------------------------------------------------------------------ */
/* logging and failure                                                 */
/* ------------------------------------------------------------------ */

static void logop(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logop(const char *fmt, ...)
{
	va_list ap;
	char *s = oplog[opnum % LOGN];
	int n = snprintf(s, sizeof(oplog[0]), "op %" PRIu64 ": ", opnum);

	va_start(ap, fmt);
	vsnprintf(s + n, sizeof(oplog[0]) - n, fmt, ap);
	va_end(ap);
}

static void dump_log(void)
{
	uint64_t first = opnum >= LOGN ? opnum - LOGN + 1 : 1;

	if (opnum == 0)         /* compare-only mode: no operations */
		return;
	fprintf(stderr, "last operations:\n");
	for (uint64_t i = first; i <= opnum; i++)
		if (oplog[i % LOGN][0])
			fprintf(stderr, "  %s\n", oplog[i % LOGN]);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail_prefix(void)
{
	fflush(stdout);
	if (opnum)
		fprintf(stderr, "fsx: FAILED at op %" PRIu64 " (seed %" PRIu64 "): ", opnum, seed);
	else
		fprintf(stderr, "fsx: FAILED (compare with saved model): ");
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fail_prefix();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	dump_log();
	exit(1);
}

/* ------------------------------------------------------------------ */
/* data pattern                                                        */
/* ------------------------------------------------------------------ */

/* byte written by operation OP at file offset OFF */
static inline uint8_t pat_base(uint64_t off)
{
	return (uint8_t)(off % 253 + (off >> 16) * 3);
}

static inline uint8_t pattern(uint64_t op, uint64_t off)
{
	return (uint8_t)(pat_base(off) + op * 17);
}

/* op number (mod 256) whose pattern produces byte B at OFF; 241 = 17^-1 mod 256 */
static unsigned guess_op(uint8_t b, uint64_t off)
{
	return (uint8_t)((uint8_t)(b - pat_base(off)) * 241u);
}

static void fill_pattern(uint8_t *buf, uint64_t off, size_t len)
{
	uint8_t add = (uint8_t)(opnum * 17);
	uint64_t m = off % 253, hi = off >> 16;

	for (size_t i = 0; i < len; i++) {
		buf[i] = (uint8_t)(m + hi * 3 + add);
		if (++m == 253)
			m = 0;
		if (((off + i + 1) & 0xffff) == 0)
			hi = (off + i + 1) >> 16;
	}
}

/* ------------------------------------------------------------------ */
/* sparse model                                                        */
/* ------------------------------------------------------------------ */

static void model_init(struct mfile *f)
{
	f->chunk = calloc(nchunks, sizeof(*f->chunk));
	if (!f->chunk) {
		perror("calloc");
		exit(1);
	}
	f->size = 0;
}

static void model_get(struct mfile *f, uint64_t off, uint8_t *buf, size_t len)
{
	while (len) {
		uint64_t c = off / CHUNK, o = off % CHUNK;
		size_t n = CHUNK - o < len ? CHUNK - o : len;

		if (c < nchunks && f->chunk[c])
			memcpy(buf, f->chunk[c] + o, n);
		else
			memset(buf, 0, n);
		buf += n;
		off += n;
		len -= n;
	}
}

static void model_put(struct mfile *f, uint64_t off, const uint8_t *buf, size_t len)
{
	while (len) {
		uint64_t c = off / CHUNK, o = off % CHUNK;
		size_t n = CHUNK - o < len ? CHUNK - o : len;

		if (!f->chunk[c]) {
			f->chunk[c] = calloc(1, CHUNK);
			if (!f->chunk[c]) {
				perror("calloc");
				exit(1);
			}
		}
		memcpy(f->chunk[c] + o, buf, n);
		buf += n;
		off += n;
		len -= n;
	}
}

static void model_zero(struct mfile *f, uint64_t off, uint64_t len)
{
	while (len) {
		uint64_t c = off / CHUNK, o = off % CHUNK;
		uint64_t n = CHUNK - o < len ? CHUNK - o : len;

		if (c >= nchunks)
			break;
		if (f->chunk[c]) {
			if (n == CHUNK) {
				free(f->chunk[c]);
				f->chunk[c] = NULL;
			} else {
				memset(f->chunk[c] + o, 0, n);
			}
		}
		off += n;
		len -= n;
	}
}

/* Copies model bytes [src, src+len) to dst (non-overlapping pieces of at
 * most a chunk, in the order the caller needs), cheaply over NULL chunks. */
static void model_move_piece(struct mfile *f, uint64_t dst, uint64_t src, uint64_t n)
{
	static uint8_t tmp[CHUNK];

	if (src / CHUNK >= nchunks || !f->chunk[src / CHUNK]) {
		model_zero(f, dst, n);
		return;
	}
	model_get(f, src, tmp, n);
	model_put(f, dst, tmp, n);
}

/* The model of COLLAPSE_RANGE (collapse) or INSERT_RANGE at off by len. */
static void model_shift(struct mfile *f, uint64_t off, uint64_t len, int collapse)
{
	if (collapse) {
		uint64_t ns = f->size - len;

		for (uint64_t p = off; p < ns;) {
			uint64_t s = p + len, n = CHUNK - s % CHUNK;

			if (n > CHUNK - p % CHUNK)
				n = CHUNK - p % CHUNK;
			if (n > ns - p)
				n = ns - p;
			model_move_piece(f, p, s, n);
			p += n;
		}
		model_zero(f, ns, f->size - ns);
		f->size = ns;
	} else {
		/* From the end down: the destination is above the source. */
		for (uint64_t e = f->size; e > off;) {
			uint64_t n = e % CHUNK ? e % CHUNK : CHUNK, d = e + len;

			if (n > (d % CHUNK ? d % CHUNK : CHUNK))
				n = d % CHUNK ? d % CHUNK : CHUNK;
			if (n > e - off)
				n = e - off;
			model_move_piece(f, d - n, e - n, n);
			e -= n;
		}
		model_zero(f, off, len);
		f->size += len;
	}
}

/* Bytes at and beyond the size are always zero in the model. */
static void model_truncate(struct mfile *f, uint64_t size)
{
	if (size < f->size)
		model_zero(f, size, f->size - size);
	f->size = size;
}

/* first non-zero byte in [off, size), or size if none */
static uint64_t model_first_nonzero(struct mfile *f, uint64_t off)
{
	while (off < f->size) {
		uint64_t c = off / CHUNK, o = off % CHUNK;

		if (f->chunk[c]) {
			for (; o < CHUNK && c * CHUNK + o < f->size; o++)
				if (f->chunk[c][o])
					return c * CHUNK + o;
		}
		off = (c + 1) * CHUNK;
	}
	return f->size;
}

static uint8_t model_byte(struct mfile *f, uint64_t off)
{
	uint64_t c = off / CHUNK;

	return (c < nchunks && f->chunk[c]) ? f->chunk[c][off % CHUNK] : 0;
}

/* ------------------------------------------------------------------ */
/* checks                                                              */
/* ------------------------------------------------------------------ */

static void hex16(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < 16 && i < n; i++)
		out += sprintf(out, "%02x ", p[i]);
	*out = 0;
}

/* Compare actual data read from F at OFF with EXP; report and exit on mismatch. */
static void compare(struct mfile *f, uint64_t off, const uint8_t *exp,
		    const uint8_t *act, size_t len, const char *what)
{
	char e[64], a[64];
	size_t i;

	if (memcmp(exp, act, len) == 0)
		return;
	for (i = 0; exp[i] == act[i]; i++)
		;
	hex16(e, exp + i, len - i);
	hex16(a, act + i, len - i);
	fail_prefix();
	fprintf(stderr, "%s: %s: data mismatch at offset %" PRIu64 " (0x%" PRIx64 "), %s range %" PRIu64
		"+%zu, file size %" PRIu64 "\n",
		what, f->name, off + i, off + i, what, off, len, f->size);
	fprintf(stderr, "  expected: %s\n  actual:   %s\n", e, a);
	if (exp[i])
		fprintf(stderr, "  expected byte 0x%02x was written by an op == %u (mod 256)\n",
			exp[i], guess_op(exp[i], off + i));
	if (act[i])
		fprintf(stderr, "  actual byte 0x%02x matches pattern of an op == %u (mod 256)\n",
			act[i], guess_op(act[i], off + i));
	else
		fprintf(stderr, "  actual byte is zero (hole / lost write?)\n");
	dump_log();
	exit(1);
}

static void check_size(struct mfile *f)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		die("fstat %s: %s", f->name, strerror(errno));
	if ((uint64_t)st.st_size != f->size)
		die("%s: size %" PRIu64 ", model size %" PRIu64, f->name,
		    (uint64_t)st.st_size, f->size);
}

static void xpread(struct mfile *f, uint8_t *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(f->fd, buf + done, len - done, off + done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("pread %s off %" PRIu64 " len %zu: %s", f->name, off + done,
			    len - done, strerror(errno));
		}
		if (n == 0)
			break;
		done += n;
	}
	*got = done;
}

static void xpwrite(struct mfile *f, const uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(f->fd, buf + done, len - done, off + done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("pwrite %s off %" PRIu64 " len %zu: %s", f->name, off + done,
			    len - done, strerror(errno));
		}
		if (n == 0)
			die("pwrite %s returned 0", f->name);
		done += n;
	}
}

/* Compare the whole file with the model. Holes the file system reports
 * (SEEK_DATA) in ranges the model knows are zero are skipped. */
static void full_compare(struct mfile *f, const char *what)
{
	for (uint64_t c = 0; c * CHUNK < f->size; c++) {
		uint64_t off = c * CHUNK;
		size_t len = f->size - off < CHUNK ? f->size - off : CHUNK, got;

		if (!f->chunk[c]) {
			off_t d = lseek(f->fd, off, SEEK_DATA);

			if ((d < 0 && errno == ENXIO) || (d >= 0 && (uint64_t)d >= off + len))
				continue;
		}
		model_get(f, off, buf_a, len);
		xpread(f, buf_b, len, off, &got);
		if (got != len)
			die("%s: %s: short read at %" PRIu64 ": %zu of %zu (size %" PRIu64 ")",
			    what, f->name, off, got, len, f->size);
		compare(f, off, buf_a, buf_b, len, what);
	}
	check_size(f);
}

/* ------------------------------------------------------------------ */
/* operations                                                          */
/* ------------------------------------------------------------------ */

static int opt_mmap;
static unsigned long cnt_eopnotsupp[5], cnt_shift[2], cnt_shift_skip;
static unsigned long cnt_ops[16];

static int opt_reflink;
static unsigned long cnt_clone[2], cnt_dedupe[2];

enum { OP_READ, OP_WRITE, OP_MREAD, OP_MWRITE, OP_TRUNC, OP_FALLOC, OP_APPEND,
       OP_SYNC, OP_SEEK, OP_REOPEN, OP_CLONE, OP_DEDUPE, OP_COPY, OP_NR };
static const char *opnames[OP_NR] = { "read", "write", "mapread", "mapwrite", "truncate",
				      "fallocate", "append", "sync", "seek", "reopen",
				      "clone", "dedupe", "copyrange" };
static const int weights[OP_NR] = { 20, 25, 8, 8, 6, 6, 5, 3, 5, 3, 8, 4, 4 };

/* Whether op takes part: the mmap ones with -m, the reflink ones with -R. */
static int op_on(int op)
{
	if (op == OP_MREAD || op == OP_MWRITE)
		return opt_mmap;
	if (op == OP_CLONE || op == OP_DEDUPE || op == OP_COPY)
		return opt_reflink;
	return 1;
}

/* random offset: mostly uniform, sometimes near the current size */
static uint64_t pick_off(struct mfile *f)
{
	uint64_t off;

	if (rndn(4) == 0 && f->size)
		off = f->size > 8192 ? f->size - 8192 + rndn(16384) : rndn(f->size + 8192);
	else
		off = rndn(maxsize);
	return off >= maxsize ? maxsize - 1 : off;
}

/* random length; may align OFF to the block size. Result fits below maxsize. */
static size_t pick_len(uint64_t *off)
{
	size_t len;

	switch (rndn(4)) {
	case 0:
		len = 1 + rndn(512);
		break;
	case 1:
		*off &= ~(uint64_t)4095;
		len = 4096 * (1 + rndn(MAXLEN / 4096));
		break;
	default:
		len = 1 + rndn(MAXLEN);
		break;
	}
	if (*off + len > maxsize)
		len = maxsize - *off;
	return len;
}

static void do_read(struct mfile *f)
{
	uint64_t off = pick_off(f);
	size_t len = pick_len(&off), got, want;

	logop("read %s off %" PRIu64 " len %zu (size %" PRIu64 ")", f->name, off, len, f->size);
	want = off >= f->size ? 0 : (f->size - off < len ? f->size - off : len);
	xpread(f, buf_b, len, off, &got);
	if (got != want)
		die("read %s off %" PRIu64 " len %zu: got %zu bytes, expected %zu", f->name,
		    off, len, got, want);
	model_get(f, off, buf_a, want);
	compare(f, off, buf_a, buf_b, want, "read");
}

static void do_write(struct mfile *f)
{
	uint64_t off = pick_off(f);
	size_t len = pick_len(&off);

	logop("write %s off %" PRIu64 " len %zu (size %" PRIu64 ")", f->name, off, len, f->size);
	fill_pattern(buf_a, off, len);
	xpwrite(f, buf_a, len, off);
	model_put(f, off, buf_a, len);
	if (off + len > f->size)
		f->size = off + len;
}

/* choose a range inside the file for mmap; returns 0 if the file is empty */
static int pick_map_range(struct mfile *f, uint64_t *off, size_t *len)
{
	if (f->size == 0)
		return 0;
	*off = rndn(f->size);
	if (rndn(4) == 0)
		*off &= ~(uint64_t)(pagesize - 1);
	*len = 1 + rndn(MAXLEN);
	if (*off + *len > f->size)
		*len = f->size - *off;
	return 1;
}

static void do_mapread(struct mfile *f)
{
	uint64_t off, pg, end, pgend;
	size_t len;
	uint8_t *p;

	if (!pick_map_range(f, &off, &len)) {
		logop("mapread %s skipped (empty)", f->name);
		return;
	}
	pg = off & ~(uint64_t)(pagesize - 1);
	end = off + len;
	pgend = (end + pagesize - 1) & ~(uint64_t)(pagesize - 1);
	logop("mapread %s off %" PRIu64 " len %zu (size %" PRIu64 ")", f->name, off, len, f->size);
	p = mmap(NULL, pgend - pg, PROT_READ, MAP_SHARED, f->fd, pg);
	if (p == MAP_FAILED)
		die("mmap(read) %s off %" PRIu64 ": %s", f->name, pg, strerror(errno));
	model_get(f, off, buf_a, len);
	compare(f, off, buf_a, p + (off - pg), len, "mapread");
	/* the part of the last page beyond EOF must read as zeros */
	if (pgend > f->size && f->size > pg) {
		size_t tail = pgend - f->size;

		memset(buf_a, 0, tail);
		compare(f, f->size, buf_a, p + (f->size - pg), tail, "mapread-eof-tail");
	}
	if (munmap(p, pgend - pg) < 0)
		die("munmap: %s", strerror(errno));
}

static void do_mapwrite(struct mfile *f)
{
	uint64_t off, pg;
	size_t len, maplen;
	uint8_t *p;
	int sync = rndn(3) == 0;

	if (!pick_map_range(f, &off, &len)) {
		logop("mapwrite %s skipped (empty)", f->name);
		return;
	}
	pg = off & ~(uint64_t)(pagesize - 1);
	maplen = off + len - pg;
	logop("mapwrite %s off %" PRIu64 " len %zu%s (size %" PRIu64 ")", f->name, off, len,
	      sync ? " msync" : "", f->size);
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, pg);
	if (p == MAP_FAILED)
		die("mmap(write) %s off %" PRIu64 ": %s", f->name, pg, strerror(errno));
	fill_pattern(buf_a, off, len);
	memcpy(p + (off - pg), buf_a, len);
	if (sync && msync(p, maplen, MS_SYNC) < 0)
		die("msync %s: %s", f->name, strerror(errno));
	if (munmap(p, maplen) < 0)
		die("munmap: %s", strerror(errno));
	model_put(f, off, buf_a, len);
}

static void do_truncate(struct mfile *f)
{
	uint64_t ns;

	switch (rndn(5)) {
	case 0:  ns = 0; break;
	case 1:  ns = rndn(f->size + 1); break;                         /* down */
	case 2:  ns = f->size + rndn(maxsize - f->size + 1); break;     /* up */
	case 3:  ns = rndn(maxsize + 1) & ~(uint64_t)4095; break;       /* aligned */
	default: ns = rndn(maxsize + 1); break;
	}
	logop("truncate %s from %" PRIu64 " to %" PRIu64, f->name, f->size, ns);
	if (ftruncate(f->fd, ns) < 0)
		die("ftruncate %s %" PRIu64 ": %s", f->name, ns, strerror(errno));
	model_truncate(f, ns);
}

/* COLLAPSE_RANGE (collapse) or INSERT_RANGE of whole pages. */
static void do_shift(struct mfile *f, int collapse)
{
	const char *name = collapse ? "COLLAPSE_RANGE" : "INSERT_RANGE";
	uint64_t off, len = 4096 * (1 + rndn(MAXLEN / 4096));
	int bad;

	if (f->size == 0) {
		logop("fallocate %s %s skipped (empty)", f->name, name);
		return;
	}
	off = rndn(f->size) & ~(uint64_t)4095;
	/* A collapse reaching the end is refused; an insert the model has no
	 * room for is skipped. */
	bad = collapse && off + len >= f->size;
	if (!collapse && f->size + len > maxsize) {
		logop("fallocate %s %s skipped (max size)", f->name, name);
		cnt_shift_skip++;
		return;
	}
	logop("fallocate %s mode %s off %" PRIu64 " len %" PRIu64 " (size %" PRIu64 ")%s",
	      f->name, name, off, len, f->size, bad ? " expect EINVAL" : "");
	if (fallocate(f->fd, collapse ? FALLOC_FL_COLLAPSE_RANGE : FALLOC_FL_INSERT_RANGE, off,
		      len) < 0) {
		if (bad && errno == EINVAL)
			return;
		if (errno == ENOSPC) {
			/* The whole moving part is copied: it may not fit. */
			cnt_shift_skip++;
			return;
		}
		die("fallocate %s mode %s off %" PRIu64 " len %" PRIu64 ": %s", f->name, name, off,
		    len, strerror(errno));
	}
	if (bad)
		die("fallocate %s mode %s off %" PRIu64 " len %" PRIu64 " (size %" PRIu64
		    ") succeeded, expected EINVAL",
		    f->name, name, off, len, f->size);
	cnt_shift[!collapse]++;
	model_shift(f, off, len, collapse);
}

static void do_falloc(struct mfile *f)
{
	static const int modes[5] = { 0, FALLOC_FL_KEEP_SIZE,
				      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      FALLOC_FL_ZERO_RANGE,
				      FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE };
	static const char *mnames[5] = { "0", "KEEP_SIZE", "PUNCH_HOLE|KEEP_SIZE",
					 "ZERO_RANGE", "ZERO_RANGE|KEEP_SIZE" };
	int m = (int)rndn(7);
	uint64_t off;
	size_t len;

	if (m >= 5) {
		do_shift(f, m == 5);
		return;
	}
	off = pick_off(f);
	len = pick_len(&off);

	if (len == 0)
		len = 1;
	if (off + len > maxsize) {
		logop("fallocate %s skipped", f->name);
		return;
	}
	logop("fallocate %s mode %s off %" PRIu64 " len %zu (size %" PRIu64 ")", f->name,
	      mnames[m], off, len, f->size);
	if (fallocate(f->fd, modes[m], off, len) < 0) {
		if (errno == EOPNOTSUPP) {
			cnt_eopnotsupp[m]++;
			return;
		}
		die("fallocate %s mode %s off %" PRIu64 " len %zu: %s", f->name, mnames[m],
		    off, len, strerror(errno));
	}
	if (m == 0) {
		if (off + len > f->size)
			f->size = off + len;
	} else if (m >= 2) {
		/* Punch and zero range read as zeros inside the size; a zero
		 * range without KEEP_SIZE also grows the file. */
		if (off < f->size)
			model_zero(f, off, (off + len > f->size ? f->size : off + len) - off);
		if (m == 3 && off + len > f->size)
			f->size = off + len;
	}
}

static void do_append(struct mfile *f)
{
	uint64_t off = f->size;
	size_t len = 1 + rndn(rndn(2) ? 4096 : MAXLEN);
	int afd;
	off_t pos;

	if (off >= maxsize) {
		logop("append %s skipped (full)", f->name);
		return;
	}
	if (off + len > maxsize)
		len = maxsize - off;
	logop("append %s len %zu at %" PRIu64, f->name, len, off);
	afd = open(f->path, O_WRONLY | O_APPEND);
	if (afd < 0)
		die("open %s O_APPEND: %s", f->path, strerror(errno));
	fill_pattern(buf_a, off, len);
	for (size_t done = 0; done < len;) {
		ssize_t n = write(afd, buf_a + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("append write %s: %s", f->name, n < 0 ? strerror(errno) : "returned 0");
		done += n;
	}
	pos = lseek(afd, 0, SEEK_CUR);
	if (pos < 0 || (uint64_t)pos != off + len)
		die("append %s: file position %lld after write, expected %" PRIu64, f->name,
		    (long long)pos, off + len);
	close(afd);
	model_put(f, off, buf_a, len);
	f->size = off + len;
}

static void do_sync(struct mfile *f)
{
	int data = (int)rndn(2);

	logop("%s %s", data ? "fdatasync" : "fsync", f->name);
	if ((data ? fdatasync(f->fd) : fsync(f->fd)) < 0)
		die("%s %s: %s", data ? "fdatasync" : "fsync", f->name, strerror(errno));
}

static void do_seek(struct mfile *f)
{
	uint64_t x = rndn(f->size + 4096);
	off_t d, h;
	int derr;

	if (rndn(2))
		x &= ~(uint64_t)4095;
	logop("seek %s data/hole at %" PRIu64 " (size %" PRIu64 ")", f->name, x, f->size);
	d = lseek(f->fd, x, SEEK_DATA);
	derr = errno;
	h = lseek(f->fd, x, SEEK_HOLE);
	if (x >= f->size) {
		if (d >= 0 || derr != ENXIO)
			die("SEEK_DATA %s at %" PRIu64 " >= size: %lld, expected ENXIO",
			    f->name, x, (long long)d);
		return;
	}
	if (h < 0)
		die("SEEK_HOLE %s at %" PRIu64 ": %s", f->name, x, strerror(errno));
	if ((uint64_t)h < x || (uint64_t)h > f->size)
		die("SEEK_HOLE %s at %" PRIu64 " = %lld outside [x, size %" PRIu64 "]",
		    f->name, x, (long long)h, f->size);
	if ((uint64_t)h < f->size && model_byte(f, h) != 0)
		die("SEEK_HOLE %s at %" PRIu64 " = %lld but model byte there is non-zero",
		    f->name, x, (long long)h);
	if (d < 0) {
		if (derr != ENXIO)
			die("SEEK_DATA %s at %" PRIu64 ": %s", f->name, x, strerror(derr));
		if (model_first_nonzero(f, x) < f->size)
			die("SEEK_DATA %s at %" PRIu64 " = ENXIO but model has data at %" PRIu64,
			    f->name, x, model_first_nonzero(f, x));
	} else {
		uint64_t nz = model_first_nonzero(f, x);

		if ((uint64_t)d < x || (uint64_t)d >= f->size)
			die("SEEK_DATA %s at %" PRIu64 " = %lld outside [x, size %" PRIu64 ")",
			    f->name, x, (long long)d, f->size);
		if (nz < f->size && (uint64_t)d > nz)
			die("SEEK_DATA %s at %" PRIu64 " = %lld skips model data at %" PRIu64,
			    f->name, x, (long long)d, nz);
	}
}

/* ------------------------------------------------------------------ */
/* reflink operations (-R)                                             */
/* ------------------------------------------------------------------ */

/* d[doff, doff + len) = s[soff, soff + len) in the model (no overlap). */
static void model_copy(struct mfile *d, uint64_t doff, struct mfile *s, uint64_t soff,
		       uint64_t len)
{
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < MAXLEN ? len - done : MAXLEN;

		model_get(s, soff + done, buf_b, n);
		model_put(d, doff + done, buf_b, n);
		done += n;
	}
}

static int overlap(uint64_t a, uint64_t b, uint64_t len)
{
	return a < b + len && b < a + len;
}

/* The last clone that worked, for a dedupe likely to find equal ranges. */
static struct mfile *last_src, *last_dst;
static uint64_t last_soff, last_doff, last_len;

static void do_clone(struct mfile *f)
{
	struct mfile *g = &files[rndn(nfiles)];
	uint64_t soff, len, doff, room, blocks;
	int expect_einval;
	struct file_clone_range r;

	if (g->size < 4096) {
		logop("clone %s -> %s skipped (small source)", g->name, f->name);
		return;
	}
	blocks = g->size / 4096;
	soff = rndn(blocks) * 4096;
	room = g->size - soff;
	if (rndn(3) == 0 || room < 4096)
		len = room; /* to the source's end of file: may end mid-page */
	else
		len = (1 + rndn((room / 4096 < 64 ? room / 4096 : 64))) * 4096;
	doff = rndn((f->size + 65536) / 4096 + 1) * 4096;
	if (doff + len > maxsize) {
		logop("clone %s -> %s skipped (past max size)", g->name, f->name);
		return;
	}
	/* The VFS refuses an unaligned end inside the destination, and an
	 * overlap within one file. */
	expect_einval = (len % 4096 && doff + len < f->size) ||
			(f == g && overlap(soff, doff, len));
	logop("clone %s off %" PRIu64 " len %" PRIu64 " -> %s off %" PRIu64 " (size %" PRIu64
	      ")%s", g->name, soff, len, f->name, doff, f->size,
	      expect_einval ? " expecting EINVAL" : "");
	r.src_fd = g->fd;
	r.src_offset = soff;
	r.src_length = len;
	r.dest_offset = doff;
	if (ioctl(f->fd, FICLONERANGE, &r) < 0) {
		if (expect_einval && errno == EINVAL) {
			cnt_clone[1]++;
			return;
		}
		die("FICLONERANGE %s -> %s: %s", g->name, f->name, strerror(errno));
	}
	if (expect_einval)
		die("FICLONERANGE %s -> %s worked, expected EINVAL", g->name, f->name);
	cnt_clone[0]++;
	/* Bytes between the old end and doff read as zeros: the model's
	 * bytes past the size are. */
	model_copy(f, doff, g, soff, len);
	if (doff + len > f->size)
		f->size = doff + len;
	last_src = g;
	last_dst = f;
	last_soff = soff;
	last_doff = doff;
	last_len = len & ~(uint64_t)4095;
}

static void do_dedupe(struct mfile *f)
{
	struct mfile *g;
	uint64_t soff, doff, len;
	struct file_dedupe_range *r;
	int same;

	if (last_src && last_len && rndn(2)) {
		g = last_src;
		f = last_dst;
		soff = last_soff;
		doff = last_doff;
		len = last_len;
	} else {
		g = &files[rndn(nfiles)];
		if (g->size < 4096 || f->size < 4096) {
			logop("dedupe %s -> %s skipped (small)", g->name, f->name);
			return;
		}
		soff = rndn(g->size / 4096) * 4096;
		doff = rndn(f->size / 4096) * 4096;
		len = 4096 * (1 + rndn(8));
	}
	if (soff + len > g->size || doff + len > f->size || (f == g && overlap(soff, doff, len))) {
		logop("dedupe %s -> %s skipped (range)", g->name, f->name);
		return;
	}
	/* The model says whether the ranges are equal. */
	same = 1;
	for (uint64_t done = 0; done < len && same;) {
		size_t n = len - done < MAXLEN ? len - done : MAXLEN;

		model_get(g, soff + done, buf_a, n);
		model_get(f, doff + done, buf_b, n);
		same = !memcmp(buf_a, buf_b, n);
		done += n;
	}
	logop("dedupe %s off %" PRIu64 " -> %s off %" PRIu64 " len %" PRIu64 " (%s)", g->name,
	      soff, f->name, doff, len, same ? "equal" : "different");
	r = calloc(1, sizeof(*r) + sizeof(struct file_dedupe_range_info));
	if (!r)
		die("calloc");
	r->src_offset = soff;
	r->src_length = len;
	r->dest_count = 1;
	r->info[0].dest_fd = f->fd;
	r->info[0].dest_offset = doff;
	if (ioctl(g->fd, FIDEDUPERANGE, r) < 0)
		die("FIDEDUPERANGE %s -> %s: %s", g->name, f->name, strerror(errno));
	if (r->info[0].status < 0)
		die("FIDEDUPERANGE %s -> %s: status %s", g->name, f->name,
		    strerror(-r->info[0].status));
	if (!same && r->info[0].status == FILE_DEDUPE_RANGE_SAME)
		die("FIDEDUPERANGE %s -> %s: same, but the model's ranges differ", g->name,
		    f->name);
	if (same && r->info[0].status != FILE_DEDUPE_RANGE_SAME) {
		/* The DAX comparison calls a hole and a block of zeros
		 * different (as on XFS-DAX): fine if the files hold the
		 * model's bytes. */
		for (uint64_t done = 0; done < len;) {
			size_t n = len - done < MAXLEN ? len - done : MAXLEN, got;

			model_get(g, soff + done, buf_a, n);
			xpread(g, buf_b, n, soff + done, &got);
			compare(g, soff + done, buf_a, buf_b, n, "dedupe-source");
			xpread(f, buf_b, n, doff + done, &got);
			compare(f, doff + done, buf_a, buf_b, n, "dedupe-dest");
			done += n;
		}
		same = 0;
	}
	if (same && r->info[0].bytes_deduped != len)
		die("FIDEDUPERANGE %s -> %s: %llu bytes deduped of %" PRIu64, g->name, f->name,
		    (unsigned long long)r->info[0].bytes_deduped, len);
	cnt_dedupe[!same]++;
	free(r);
}

static void do_copyrange(struct mfile *f)
{
	struct mfile *g = &files[rndn(nfiles)];
	uint64_t soff, len, doff;
	loff_t si, di;

	if (g->size == 0) {
		logop("copyrange %s -> %s skipped (empty source)", g->name, f->name);
		return;
	}
	soff = rndn(g->size);
	if (rndn(2))
		soff &= ~(uint64_t)4095;
	len = 1 + rndn(g->size - soff < MAXLEN ? g->size - soff : MAXLEN);
	doff = rndn(f->size + 65536);
	if (rndn(2))
		doff &= ~(uint64_t)4095;
	if (doff + len > maxsize || (f == g && overlap(soff, doff, len))) {
		logop("copyrange %s -> %s skipped", g->name, f->name);
		return;
	}
	logop("copyrange %s off %" PRIu64 " len %" PRIu64 " -> %s off %" PRIu64 " (size %" PRIu64
	      ")", g->name, soff, len, f->name, doff, f->size);
	si = soff;
	di = doff;
	for (uint64_t done = 0; done < len;) {
		ssize_t n = copy_file_range(g->fd, &si, f->fd, &di, len - done, 0);

		if (n <= 0)
			die("copy_file_range %s -> %s: %s", g->name, f->name,
			    n < 0 ? strerror(errno) : "returned 0");
		done += n;
	}
	model_copy(f, doff, g, soff, len);
	if (doff + len > f->size)
		f->size = doff + len;
}

static void set_path(struct mfile *f, const char *dir)
{
	if ((size_t)snprintf(f->path, sizeof(f->path), "%s/%s", dir, f->name) >= sizeof(f->path)) {
		fprintf(stderr, "fsx: path too long: %s\n", dir);
		exit(2);
	}
}

static void open_file(struct mfile *f, int flags)
{
	f->fd = open(f->path, O_RDWR | flags, 0644);
	if (f->fd < 0)
		die("open %s: %s", f->path, strerror(errno));
}

static void do_reopen(struct mfile *f)
{
	logop("close+reopen %s", f->name);
	if (close(f->fd) < 0)
		die("close %s: %s", f->name, strerror(errno));
	open_file(f, 0);
}

/* ------------------------------------------------------------------ */
/* model file                                                          */
/* ------------------------------------------------------------------ */

static const char model_magic[8] = "FSXMODL1";

static void xfwrite(const void *p, size_t n, FILE *fp, const char *path)
{
	if (fwrite(p, 1, n, fp) != n) {
		fprintf(stderr, "fsx: write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void xfread(void *p, size_t n, FILE *fp, const char *path)
{
	if (fread(p, 1, n, fp) != n) {
		fprintf(stderr, "fsx: %s: truncated or unreadable model file\n", path);
		exit(1);
	}
}

static void save_model(const char *path)
{
	FILE *fp = fopen(path, "w");
	uint32_t n = nfiles;

	if (!fp) {
		fprintf(stderr, "fsx: cannot create %s: %s\n", path, strerror(errno));
		exit(1);
	}
	xfwrite(model_magic, 8, fp, path);
	xfwrite(&n, 4, fp, path);
	xfwrite(&maxsize, 8, fp, path);
	for (int i = 0; i < nfiles; i++) {
		struct mfile *f = &files[i];
		uint64_t present = 0;

		for (uint64_t c = 0; c < nchunks; c++)
			present += f->chunk[c] != NULL;
		xfwrite(f->name, sizeof(f->name), fp, path);
		xfwrite(&f->size, 8, fp, path);
		xfwrite(&present, 8, fp, path);
		for (uint64_t c = 0; c < nchunks; c++) {
			if (!f->chunk[c])
				continue;
			xfwrite(&c, 8, fp, path);
			xfwrite(f->chunk[c], CHUNK, fp, path);
		}
	}
	if (fflush(fp) != 0 || fsync(fileno(fp)) < 0 || fclose(fp) != 0) {
		fprintf(stderr, "fsx: write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void load_model(const char *path)
{
	FILE *fp = fopen(path, "r");
	char magic[8];
	uint32_t n;

	if (!fp) {
		fprintf(stderr, "fsx: cannot open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	xfread(magic, 8, fp, path);
	if (memcmp(magic, model_magic, 8) != 0) {
		fprintf(stderr, "fsx: %s: not a model file\n", path);
		exit(1);
	}
	xfread(&n, 4, fp, path);
	xfread(&maxsize, 8, fp, path);
	if (n == 0 || n > MAXFILES || maxsize == 0) {
		fprintf(stderr, "fsx: %s: bad model header\n", path);
		exit(1);
	}
	nfiles = n;
	nchunks = (maxsize + CHUNK - 1) / CHUNK;
	for (int i = 0; i < nfiles; i++) {
		struct mfile *f = &files[i];
		uint64_t present;

		model_init(f);
		xfread(f->name, sizeof(f->name), fp, path);
		f->name[sizeof(f->name) - 1] = 0;
		xfread(&f->size, 8, fp, path);
		xfread(&present, 8, fp, path);
		while (present--) {
			uint64_t c;

			xfread(&c, 8, fp, path);
			if (c >= nchunks || f->chunk[c]) {
				fprintf(stderr, "fsx: %s: bad chunk index\n", path);
				exit(1);
			}
			f->chunk[c] = malloc(CHUNK);
			if (!f->chunk[c]) {
				perror("malloc");
				exit(1);
			}
			xfread(f->chunk[c], CHUNK, fp, path);
		}
	}
	fclose(fp);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

static uint64_t parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		goto bad;
	switch (*end) {
	case 't': case 'T': v <<= 10; /* fall through */
	case 'g': case 'G': v <<= 10; /* fall through */
	case 'm': case 'M': v <<= 10; /* fall through */
	case 'k': case 'K': v <<= 10; end++; break;
	case 0: break;
	default: goto bad;
	}
	if (*end)
		goto bad;
	return v;
bad:
	fprintf(stderr, "fsx: bad %s '%s'\n", what, s);
	exit(2);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fsx [-s SEED] [-n OPS] [-f NFILES] [-S MAXSIZE] [-m] [-R] [-r MODELFILE] DIR\n"
		"       fsx -c MODELFILE DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t nops = 10000;
	const char *save = NULL, *check = NULL, *dir;
	int c, total = 0;

	while ((c = getopt(argc, argv, "s:n:f:S:mRr:c:")) != -1) {
		switch (c) {
		case 's': seed = parse_size(optarg, "seed"); break;
		case 'n': nops = parse_size(optarg, "op count"); break;
		case 'f': nfiles = (int)parse_size(optarg, "file count"); break;
		case 'S': maxsize = parse_size(optarg, "max size"); break;
		case 'm': opt_mmap = 1; break;
		case 'R': opt_reflink = 1; break;
		case 'r': save = optarg; break;
		case 'c': check = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || (save && check))
		usage();
	dir = argv[optind];
	if (nfiles < 1 || nfiles > MAXFILES) {
		fprintf(stderr, "fsx: NFILES must be 1..%d\n", MAXFILES);
		return 2;
	}
	if (maxsize < 1 || maxsize > (1ULL << 50)) {
		fprintf(stderr, "fsx: MAXSIZE must be 1..2^50\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pagesize = sysconf(_SC_PAGESIZE);
	buf_a = aligned_alloc(4096, MAXLEN + pagesize);
	buf_b = aligned_alloc(4096, MAXLEN + pagesize);
	if (!buf_a || !buf_b) {
		perror("malloc");
		return 1;
	}

	if (check) {
		/* compare-only mode */
		load_model(check);
		for (int i = 0; i < nfiles; i++) {
			struct mfile *f = &files[i];

			set_path(f, dir);
			open_file(f, 0);
			full_compare(f, "compare");
			close(f->fd);
		}
		printf("fsx: compare ok: %d files match %s\n", nfiles, check);
		return 0;
	}

	nchunks = (maxsize + CHUNK - 1) / CHUNK;
	rng_state = seed ? seed : 0x9E3779B97F4A7C15ULL;
	for (int i = 0; i < nfiles; i++) {
		struct mfile *f = &files[i];

		snprintf(f->name, sizeof(f->name), "fsx.%d", i);
		set_path(f, dir);
		model_init(f);
		open_file(f, O_CREAT | O_TRUNC);
	}
	for (int i = 0; i < OP_NR; i++)
		if (op_on(i))
			total += weights[i];

	for (opnum = 1; opnum <= nops; opnum++) {
		struct mfile *f = &files[rndn(nfiles)];
		int r = (int)rndn(total), op;

		for (op = 0; op < OP_NR; op++) {
			if (!op_on(op))
				continue;
			if (r < weights[op])
				break;
			r -= weights[op];
		}
		cnt_ops[op]++;
		switch (op) {
		case OP_READ:   do_read(f); break;
		case OP_WRITE:  do_write(f); break;
		case OP_MREAD:  do_mapread(f); break;
		case OP_MWRITE: do_mapwrite(f); break;
		case OP_TRUNC:  do_truncate(f); break;
		case OP_FALLOC: do_falloc(f); break;
		case OP_APPEND: do_append(f); break;
		case OP_SYNC:   do_sync(f); break;
		case OP_SEEK:   do_seek(f); break;
		case OP_CLONE:  do_clone(f); break;
		case OP_DEDUPE: do_dedupe(f); break;
		case OP_COPY:   do_copyrange(f); break;
		default:        do_reopen(f); break;
		}
		check_size(f);
		if (opnum % 1000 == 0)
			for (int i = 0; i < nfiles; i++)
				full_compare(&files[i], "periodic-compare");
	}
	opnum = nops;
	for (int i = 0; i < nfiles; i++)
		full_compare(&files[i], "final-compare");
	for (int i = 0; i < nfiles; i++)
		if (close(files[i].fd) < 0)
			die("close %s: %s", files[i].name, strerror(errno));
	if (save)
		save_model(save);

	printf("fsx: counts:");
	for (int i = 0; i < OP_NR; i++)
		printf(" %s=%lu", opnames[i], cnt_ops[i]);
	printf("\n");
	if (cnt_eopnotsupp[0] + cnt_eopnotsupp[1] + cnt_eopnotsupp[2] + cnt_eopnotsupp[3] +
	    cnt_eopnotsupp[4])
		printf("fsx: fallocate EOPNOTSUPP: mode0=%lu keep_size=%lu punch_hole=%lu "
		       "zero_range=%lu zero_range_keep=%lu\n",
		       cnt_eopnotsupp[0], cnt_eopnotsupp[1], cnt_eopnotsupp[2], cnt_eopnotsupp[3],
		       cnt_eopnotsupp[4]);
	printf("fsx: shifts: collapse=%lu insert=%lu skipped=%lu\n", cnt_shift[0], cnt_shift[1],
	       cnt_shift_skip);
	if (opt_reflink)
		printf("fsx: reflink: clones=%lu refused=%lu dedupe same=%lu differs=%lu\n",
		       cnt_clone[0], cnt_clone[1], cnt_dedupe[0], cnt_dedupe[1]);
	printf("fsx: %" PRIu64 " ops ok (seed %" PRIu64 ")\n", nops, seed);
	return 0;
}
