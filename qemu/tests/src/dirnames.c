/*
 * dirnames - adversarial directory names for nova's directory index.
 *
 * Usage: dirnames OP KIND DIR N
 *
 *   OP    create  create names 0..N-1 as empty files (O_EXCL)
 *         check   every name found by stat, and readdir lists exactly
 *                 names 0..N-1 (each once, nothing else)
 *         churn   readdir with a small buffer while adding and removing
 *                 other names in between: names 0..N-1 are each seen
 *                 exactly once (the extra names are gone at the end)
 *         remove  unlink names 0..N-1
 *         cookies print "cookie name" for every name readdir returns
 *                 (in readdir order), to compare across a remount
 *         print   print names 0..N-1, one a line
 *   KIND  collide     21-byte names that all have one key under nova's
 *                     first directory hash (see below)
 *         collide255  the same with 255-byte names
 *         long        distinct 255-byte names
 *         many        short names f0000000, f0000001, ...
 *
 * The first directory index keyed names by a 54-bit prefix
 *
 *     p(name) = ((crc32c(name) << 23) ^ len ^ (crc32c_raw(0x12345678, name) >> 9))
 *               mod 2^54
 *
 * (crc32c with the usual inversions, crc32c_raw the bare table update),
 * and allowed only 256 names per prefix. CRC-32C is affine over GF(2) in
 * the message bits for a fixed length, so names with one prefix are the
 * solutions of a linear system: the names here put 4 free bits in each
 * of 20 bytes (0x40 | nibble, so '@' and 'A'..'O', never '/' or NUL),
 * find the kernel of the 54 x 80 matrix by elimination, and enumerate
 * its vectors. Every generated name is checked against p() before use.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FREE_BYTES 20
#define FREE_BITS (4 * FREE_BYTES)
#define NAME_MAX_ 255

static uint32_t table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[i] = c;
	}
}

static uint32_t crc_raw(uint32_t c, const unsigned char *p, size_t n)
{
	while (n--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

/* The first directory hash's prefix (before its shift and flag bit). */
static uint64_t old_prefix(const unsigned char *p, size_t n)
{
	uint64_t a = (uint32_t)~crc_raw(~0u, p, n);
	uint64_t b = crc_raw(0x12345678u, p, n);
	uint64_t h = (a << 23) ^ (uint64_t)n ^ (b >> 9);
	return h & ((1ull << 54) - 1);
}

typedef unsigned __int128 u128;

static int kind_len;              /* name length */
static char kind_c;               /* 'c' collide, 'l' long, 'm' many */
static u128 kernel[FREE_BITS];    /* basis of the solutions (x: 80 bits) */
static int nkernel;
static uint64_t want_prefix;

/* Writes the name for free bits x (collide kinds). */
static void name_from_bits(u128 x, char *out)
{
	memset(out, 'k', kind_len);
	out[0] = 'c';
	for (int i = 0; i < FREE_BYTES; i++)
		out[1 + i] = 0x40 | (int)((x >> (4 * i)) & 0xf);
	out[kind_len] = 0;
}

static uint64_t prefix_of_bits(u128 x)
{
	char n[NAME_MAX_ + 1];
	name_from_bits(x, n);
	return old_prefix((unsigned char *)n, kind_len);
}

static void solve(void)
{
	uint64_t base = prefix_of_bits(0);
	/* Rows: reduced 54-bit images, each with the combination of free bits. */
	uint64_t piv_val[64];
	u128 piv_comb[64];
	int piv_bit[64], npiv = 0;
	want_prefix = base;
	for (int i = 0; i < FREE_BITS; i++) {
		uint64_t v = prefix_of_bits((u128)1 << i) ^ base;
		u128 c = (u128)1 << i;
		for (int j = 0; j < npiv; j++)
			if (v >> piv_bit[j] & 1) {
				v ^= piv_val[j];
				c ^= piv_comb[j];
			}
		if (v == 0) {
			kernel[nkernel++] = c;
		} else {
			int b = 63 - __builtin_clzll(v);
			/* Keep pivots reduced against the new one. */
			for (int j = 0; j < npiv; j++)
				if (piv_val[j] >> b & 1) {
					piv_val[j] ^= v;
					piv_comb[j] ^= c;
				}
			piv_val[npiv] = v;
			piv_comb[npiv] = c;
			piv_bit[npiv++] = b;
		}
	}
}

static void make_name(long i, char *out)
{
	if (kind_c == 'c') {
		u128 x = 0;
		for (int k = 0; k < nkernel; k++)
			if (i >> k & 1)
				x ^= kernel[k];
		name_from_bits(x, out);
		if (old_prefix((unsigned char *)out, kind_len) != want_prefix) {
			fprintf(stderr, "dirnames: generator bug: name %ld does not collide\n", i);
			exit(2);
		}
	} else if (kind_c == 'l') {
		memset(out, 'L', NAME_MAX_);
		snprintf(out + NAME_MAX_ - 8, 9, "%08ld", i);
	} else {
		snprintf(out, 16, "f%07ld", i);
	}
}

static char *dir;
static long n;

static int path_of(long i, char *p, size_t cap)
{
	char nm[NAME_MAX_ + 1];
	make_name(i, nm);
	return snprintf(p, cap, "%s/%s", dir, nm);
}

static int do_create(long from, long to)
{
	char p[4096 + 300];
	for (long i = from; i < to; i++) {
		path_of(i, p, sizeof(p));
		int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0) {
			fprintf(stderr, "create #%ld: %s\n", i + 1, strerror(errno));
			return 1;
		}
		close(fd);
	}
	return 0;
}

static int do_remove(long from, long to)
{
	char p[4096 + 300];
	for (long i = from; i < to; i++) {
		path_of(i, p, sizeof(p));
		if (unlink(p)) {
			fprintf(stderr, "unlink #%ld: %s\n", i + 1, strerror(errno));
			return 1;
		}
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **sorted_names(long count)
{
	char **v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		exit(2);
	for (long i = 0; i < count; i++) {
		char nm[NAME_MAX_ + 1];
		make_name(i, nm);
		v[i] = strdup(nm);
		if (!v[i])
			exit(2);
	}
	qsort(v, count, sizeof(*v), cmp);
	return v;
}

static long find(char **v, long count, const char *name)
{
	long lo = 0, hi = count;
	while (lo < hi) {
		long mid = (lo + hi) / 2;
		int c = strcmp(v[mid], name);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * Reads the directory with getdents64 and a buffer of `bufsz` bytes;
 * between calls, `churn` adds one extra name and removes an earlier one.
 */
static int list(int churn, size_t bufsz)
{
	char **v = sorted_names(n);
	unsigned char *seen = calloc(n ? n : 1, 1);
	char **extra = NULL;
	long next_extra = 0, removed_extra = 0, others = 0, bad = 0;
	char buf[8192];
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || !seen) {
		perror("open dir");
		return 1;
	}
	if (churn) {
		/* Extra names: indices n.. of the same kind. */
		long e = n + 200;
		extra = calloc(e, sizeof(*extra));
		for (long i = n; i < e; i++) {
			char nm[NAME_MAX_ + 1];
			make_name(i, nm);
			extra[i - n] = strdup(nm);
		}
	}
	for (;;) {
		long got = syscall(SYS_getdents64, fd, buf, bufsz);
		if (got < 0) {
			perror("getdents64");
			return 1;
		}
		if (got == 0)
			break;
		for (long off = 0; off < got;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			if (d->d_off <= 2) {
				fprintf(stderr, "bad cookie %lld for %s\n", (long long)d->d_off, d->d_name);
				bad++;
			}
			long k = find(v, n, d->d_name);
			if (k >= 0) {
				if (seen[k]++) {
					fprintf(stderr, "name listed twice: %s\n", d->d_name);
					bad++;
				}
			} else {
				others++;
				int known = 0;
				for (long i = 0; churn && i < next_extra; i++)
					known |= !strcmp(extra[i], d->d_name);
				if (!known) {
					fprintf(stderr, "unexpected name: %s\n", d->d_name);
					bad++;
				}
			}
		}
		if (churn && next_extra < 200) {
			char p[4096 + 300];
			snprintf(p, sizeof(p), "%s/%s", dir, extra[next_extra]);
			int f = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
			if (f < 0) {
				fprintf(stderr, "churn create: %s\n", strerror(errno));
				return 1;
			}
			close(f);
			next_extra++;
			if (next_extra % 2 == 0) {
				snprintf(p, sizeof(p), "%s/%s", dir, extra[removed_extra++]);
				if (unlink(p)) {
					fprintf(stderr, "churn unlink: %s\n", strerror(errno));
					return 1;
				}
			}
		}
	}
	close(fd);
	long listed = 0;
	for (long i = 0; i < n; i++) {
		listed += seen[i] != 0;
		if (!seen[i]) {
			fprintf(stderr, "name not listed: %s\n", v[i]);
			bad++;
		}
	}
	if (churn) {
		char p[4096 + 300];
		for (long i = removed_extra; i < next_extra; i++) {
			snprintf(p, sizeof(p), "%s/%s", dir, extra[i]);
			if (unlink(p)) {
				fprintf(stderr, "churn cleanup: %s\n", strerror(errno));
				return 1;
			}
		}
		printf("churn: %ld extra names added, %ld removed during readdir, %ld seen\n",
		       next_extra, removed_extra, others);
	} else if (others) {
		bad++;
	}
	printf("listed %ld of %ld names, %ld problems\n", listed, n, bad);
	return bad != 0;
}

static int do_check(void)
{
	char p[4096 + 300];
	struct stat st;
	for (long i = 0; i < n; i++) {
		path_of(i, p, sizeof(p));
		if (stat(p, &st)) {
			fprintf(stderr, "stat #%ld: %s\n", i + 1, strerror(errno));
			return 1;
		}
	}
	return list(0, 8192);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: dirnames create|check|churn|remove|cookies|print collide|collide255|long|many DIR N\n");
		return 2;
	}
	crc_init();
	const char *op = argv[1], *kind = argv[2];
	dir = argv[3];
	n = atol(argv[4]);
	if (!strcmp(kind, "collide")) {
		kind_c = 'c';
		kind_len = 1 + FREE_BYTES;
	} else if (!strcmp(kind, "collide255")) {
		kind_c = 'c';
		kind_len = NAME_MAX_;
	} else if (!strcmp(kind, "long")) {
		kind_c = 'l';
	} else if (!strcmp(kind, "many")) {
		kind_c = 'm';
	} else {
		fprintf(stderr, "dirnames: unknown kind %s\n", kind);
		return 2;
	}
	if (kind_c == 'c') {
		solve();
		/* churn uses 200 names past n. */
		if (n + 200 > (1l << (nkernel < 40 ? nkernel : 40))) {
			fprintf(stderr, "dirnames: only 2^%d colliding names\n", nkernel);
			return 2;
		}
	}
	if (!strcmp(op, "create"))
		return do_create(0, n);
	if (!strcmp(op, "remove"))
		return do_remove(0, n);
	if (!strcmp(op, "check"))
		return do_check();
	if (!strcmp(op, "churn"))
		return list(1, 300);
	if (!strcmp(op, "cookies")) {
		char buf[8192];
		int fd = open(dir, O_RDONLY | O_DIRECTORY);
		long got;
		if (fd < 0) {
			perror("open dir");
			return 1;
		}
		while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
			for (long off = 0; off < got;) {
				struct linux_dirent64 *d = (void *)(buf + off);
				off += d->d_reclen;
				printf("%lld %s\n", (long long)d->d_off, d->d_name);
			}
		if (got < 0) {
			perror("getdents64");
			return 1;
		}
		close(fd);
		return 0;
	}
	if (!strcmp(op, "print")) {
		char nm[NAME_MAX_ + 1];
		for (long i = 0; i < n; i++) {
			make_name(i, nm);
			printf("%s\n", nm);
		}
		printf("prefix %#llx, %d free dimensions\n", (unsigned long long)want_prefix, nkernel);
		return 0;
	}
	fprintf(stderr, "dirnames: unknown op %s\n", op);
	return 2;
}
