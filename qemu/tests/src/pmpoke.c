/*
 * pmpoke - changes one field of a nova structure on the raw pmem device
 * and recomputes the CRC-32C that protects it, so that only the parser
 * (not a checksum) stands between the change and the file system. Used by
 * the corrupted-media tests (corrupt2.sh). Offsets follow
 * Documentation/format.md and format/src/layout.rs.
 *
 * Usage: pmpoke DEV CMD ARGS...   (numbers in decimal or 0x hex)
 *   get ADDR SIZE                 print the SIZE-byte (1,2,4,8) LE value
 *   raw ADDR SIZE VALUE           write it, no checksum fixed
 *   slot-addr INO                 print the byte address of INO's slot
 *   slot INO OFF SIZE VALUE       write a slot field, reseal the slot
 *   entry INO TYPE N              print the address of the N-th (0 first,
 *                                 -1 last) entry of TYPE in INO's log
 *   entry-set ADDR OFF SIZE VALUE write a field of the entry at ADDR,
 *                                 reseal the entry
 *   sb OFF SIZE VALUE             write a field of both superblock copies,
 *                                 reseal them
 *   fl-range N START LEN          set the N-th range of the saved free list
 *                                 (first block), fix the list checksum in
 *                                 both superblocks
 *   fl-add START LEN              insert a range, in order, into the first
 *                                 block of the saved free list; fix the
 *                                 checksum as fl-range does
 *   journal ADDR OLD              write an active journal holding one
 *                                 rollback record (ADDR, OLD), checksummed
 *   mutate SEED                   the fuzzer's step: picks (from SEED) one
 *                                 structure (superblock, inode slot, log
 *                                 entry, log page tail, inode-table tail,
 *                                 journal, saved free list), one field and
 *                                 a hostile value, writes it and reseals
 *                                 the structure; prints what it did
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BS 4096ULL
#define TAIL_OFF 4032ULL
#define ITAIL_OFF (31ULL * 128)

static int fd;

static void die(const char *m)
{
	fprintf(stderr, "pmpoke: %s\n", m);
	exit(2);
}

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc_upd(uint32_t c, const uint8_t *p, size_t n)
{
	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

/* CRC-32C of buf with the 4 bytes at skip taken as zero. */
static uint32_t crc_skip(const uint8_t *buf, size_t n, size_t skip)
{
	uint8_t z[4] = { 0 };
	uint32_t c = ~0u;
	c = crc_upd(c, buf, skip);
	c = crc_upd(c, z, 4);
	c = crc_upd(c, buf + skip + 4, n - skip - 4);
	return ~c;
}

static void rd(uint64_t a, void *b, size_t n)
{
	if (pread(fd, b, n, (off_t)a) != (ssize_t)n)
		die("read failed");
}

static void wr(uint64_t a, const void *b, size_t n)
{
	if (pwrite(fd, b, n, (off_t)a) != (ssize_t)n)
		die("write failed");
}

static uint64_t get(const uint8_t *p, int size)
{
	uint64_t v = 0;
	for (int i = size - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put(uint8_t *p, int size, uint64_t v)
{
	for (int i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rd64(uint64_t a)
{
	uint8_t b[8];
	rd(a, b, 8);
	return get(b, 8);
}

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 0);
}

static uint64_t slot_addr(uint64_t ino)
{
	uint64_t page = 3 * BS;
	for (uint64_t i = 0; i < ino / 31; i++) {
		page = rd64(page + ITAIL_OFF);
		if (!page)
			die("no such inode-table page");
	}
	return page + (ino % 31) * 128;
}

static void reseal_slot(uint8_t *s)
{
	uint8_t c[128];
	memcpy(c, s, 128);
	memset(c + 24, 0, 16);
	memset(c + 48, 0, 8);
	put(s + 124, 4, crc_skip(c, 128, 124));
}

static void reseal_sb(uint64_t a)
{
	uint8_t b[256];
	rd(a, b, 256);
	put(b + 252, 4, crc_skip(b, 256, 252));
	wr(a, b, 256);
}

/* --- the mutator ------------------------------------------------------- */

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t pick(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* A hostile replacement for a field of `size` bytes holding `old`. */
static uint64_t evil(uint64_t old, int size, uint64_t dev)
{
	uint64_t mask = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
	uint64_t v;
	switch (pick(12)) {
	case 0: v = 0; break;
	case 1: v = ~0ULL; break;
	case 2: v = old + 1; break;
	case 3: v = old - 1; break;
	case 4: v = old ^ (1ULL << pick(8 * size)); break;
	case 5: v = 1ULL << 52; break;
	case 6: v = 1ULL << 63; break;
	case 7: v = pick(dev / BS) * BS; break; /* some block address */
	case 8: v = pick(dev / BS); break; /* some block number */
	case 9: v = pick(dev / BS) * BS + 64 * pick(64); break;
	case 10: v = 2; break;
	default: v = rnd(); break;
	}
	return v & mask;
}

/* Valid inode numbers (up to `max`) and their slot addresses. */
static int live_inodes(uint64_t *inos, int max)
{
	int n = 0;
	uint64_t page = 3 * BS;
	for (uint64_t idx = 0; page && n < max && idx < 64; idx++) {
		for (uint64_t s = 0; s < 31 && n < max; s++) {
			uint8_t f[4];
			rd(page + s * 128, f, 4);
			if ((idx || s) && (get(f, 4) & 1))
				inos[n++] = idx * 31 + s;
		}
		page = rd64(page + ITAIL_OFF);
	}
	return n;
}

/* Entries (address) and pages of an inode's log, bounded. */
static int log_of(uint64_t ino, uint64_t *ents, int *ne, uint64_t *pages, int *np, int max,
		  uint64_t dev)
{
	uint8_t s[128];
	rd(slot_addr(ino), s, 128);
	uint64_t pos = get(s + 24, 8), tail = get(s + 32, 8);
	*ne = *np = 0;
	if (pos % BS || pos < 4 * BS || pos >= dev)
		return -1;
	pages[(*np)++] = pos;
	for (int steps = 0; pos != tail && steps < 100000 && *ne < max && *np < max; steps++) {
		uint64_t page = pos & ~(BS - 1);
		if (pos - page >= TAIL_OFF) {
			pos = rd64(page + TAIL_OFF);
			if (!pos || pos % BS || pos >= dev)
				return 0;
			pages[(*np)++] = pos;
			continue;
		}
		uint8_t h[2];
		rd(pos, h, 2);
		if (!h[0] && !h[1]) {
			pos = page + TAIL_OFF;
			continue;
		}
		if (!h[1] || h[1] > 8)
			return 0;
		ents[(*ne)++] = pos;
		pos += h[1] * 64ULL;
	}
	return 0;
}

static void mutate(uint64_t seed)
{
	static const struct { int off, size; } sbf[] = {
		{ 8, 4 }, { 12, 4 }, { 16, 8 }, { 24, 8 }, { 32, 8 }, { 40, 4 },
		{ 44, 4 }, { 48, 8 }, { 56, 8 }, { 88, 4 },
	};
	static const struct { int off, size; } slf[] = {
		{ 0, 4 }, { 4, 4 }, { 16, 8 }, { 24, 8 }, { 32, 8 }, { 40, 8 },
		{ 48, 8 }, { 56, 4 }, { 76, 4 },
	};
	uint64_t dev = (uint64_t)lseek(fd, 0, SEEK_END);
	uint64_t inos[256], ents[4096], pages[4096];
	int ne, np;
	uint8_t b[512];
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	for (int i = 0; i < 4; i++)
		rnd();
	int ni = live_inodes(inos, 256);
	if (!ni)
		die("no inodes");
	uint64_t ino = inos[pick(ni)];
	switch (pick(8)) {
	case 0: { /* superblock field, both copies resealed */
		int k = (int)pick(sizeof(sbf) / sizeof(sbf[0]));
		rd(sbf[k].off, b, 8);
		uint64_t v = evil(get(b, sbf[k].size), sbf[k].size, dev);
		for (uint64_t c = 0; c < 2; c++) {
			put(b, sbf[k].size, v);
			wr(c * BS + sbf[k].off, b, sbf[k].size);
			reseal_sb(c * BS);
		}
		printf("superblock +%d = %#llx\n", sbf[k].off, (unsigned long long)v);
		break;
	}
	case 1: { /* inode slot field, slot resealed */
		int k = (int)pick(sizeof(slf) / sizeof(slf[0]));
		uint64_t at = slot_addr(ino);
		rd(at, b, 128);
		uint64_t v = evil(get(b + slf[k].off, slf[k].size), slf[k].size, dev);
		put(b + slf[k].off, slf[k].size, v);
		reseal_slot(b);
		wr(at, b, 128);
		printf("inode %llu slot +%d = %#llx\n", (unsigned long long)ino, slf[k].off,
		       (unsigned long long)v);
		break;
	}
	case 2:
	case 3: { /* a field of a log entry, entry resealed */
		if (log_of(ino, ents, &ne, pages, &np, 4096, dev) || !ne) {
			printf("inode %llu: no entry\n", (unsigned long long)ino);
			break;
		}
		uint64_t at = ents[pick(ne)];
		rd(at, b, 2);
		size_t len = b[1] * 64;
		rd(at, b, len);
		static const int sizes[] = { 1, 2, 4, 8 };
		int sz = sizes[pick(4)];
		/* Fields sit at their natural alignment; favour the first 64 bytes. */
		size_t off = (pick(3) ? pick(64) : pick(len)) & ~(size_t)(sz - 1);
		if (off >= 4 && off < 8)
			off = 8; /* the checksum itself */
		if (off + sz > len)
			off = len - sz;
		uint64_t v = evil(get(b + off, sz), sz, dev);
		put(b + off, sz, v);
		put(b + 4, 4, crc_skip(b, len, 4));
		wr(at, b, len);
		printf("inode %llu entry %#llx type %d +%zu/%d = %#llx\n", (unsigned long long)ino,
		       (unsigned long long)at, b[0], off, sz, (unsigned long long)v);
		break;
	}
	case 4: { /* a log page tail: next, magic or owner */
		if (log_of(ino, ents, &ne, pages, &np, 4096, dev) || !np) {
			printf("inode %llu: no page\n", (unsigned long long)ino);
			break;
		}
		uint64_t pg = pages[pick(np)];
		static const struct { int off, size; } tf[] = { { 0, 8 }, { 8, 4 }, { 16, 8 } };
		int k = (int)pick(3);
		rd(pg + TAIL_OFF + tf[k].off, b, tf[k].size);
		uint64_t v = evil(get(b, tf[k].size), tf[k].size, dev);
		if (k == 0 && pick(2))
			v = pages[pick(np)]; /* a cycle, or a jump inside the log */
		if (k == 2 && pick(2))
			v = inos[pick(ni)];
		put(b, tf[k].size, v);
		wr(pg + TAIL_OFF + tf[k].off, b, tf[k].size);
		printf("inode %llu page %#llx tail +%d = %#llx\n", (unsigned long long)ino,
		       (unsigned long long)pg, tf[k].off, (unsigned long long)v);
		break;
	}
	case 5: { /* inode-table page tail next */
		uint64_t v = pick(3) ? 3 * BS : evil(0, 8, dev);
		put(b, 8, v);
		wr(3 * BS + ITAIL_OFF, b, 8);
		printf("inode table next = %#llx\n", (unsigned long long)v);
		break;
	}
	case 6: { /* an active journal with 1..3 checksummed records */
		uint8_t j[16 + 16 * 16] = { 0 };
		int n = 1 + (int)pick(3);
		put(j + 8, 4, n);
		for (int r = 0; r < n; r++) {
			uint64_t sl = slot_addr(inos[pick(ni)]);
			static const int wo[] = { 0, 24, 32, 8, 40, 48, 120 };
			uint64_t addr = pick(3) ? sl + wo[pick(7)] : evil(0, 8, dev) & ~7ULL;
			uint64_t old = evil(rd64(addr < dev - 8 ? addr : 0), 8, dev);
			put(j + 16 + 16 * r, 8, addr);
			put(j + 24 + 16 * r, 8, old);
		}
		put(j + 12, 4, crc_skip(j, sizeof(j), 12));
		memcpy(j, "NJRNLACT", 8);
		wr(2 * BS, j, sizeof(j));
		printf("journal active, %d records\n", n);
		break;
	}
	default: { /* the saved free list: a range or a header, checksum fixed */
		uint64_t first = rd64(56);
		if (!first || first >= dev / BS) {
			printf("no saved free list\n");
			break;
		}
		uint64_t cnt = rd64(first * BS + 8);
		uint64_t k = pick(cnt + 2);
		uint64_t at = k < 2 ? first * BS + 8 * k : first * BS + 16 + 16 * (k - 2);
		if (k >= 2 && pick(2))
			at += 8;
		uint64_t v = evil(rd64(at), 8, dev);
		put(b, 8, v);
		wr(at, b, 8);
		/* Fix the list checksum in both superblocks. */
		uint32_t c = ~0u;
		uint64_t blk = first;
		for (int q = 0; blk && blk < dev / BS && q < 100000; q++) {
			uint8_t h[16], r[16];
			rd(blk * BS, h, 16);
			uint64_t m = get(h + 8, 8);
			if (m > 255)
				break;
			c = crc_upd(c, h, 16);
			for (uint64_t i = 0; i < m; i++) {
				rd(blk * BS + 16 + 16 * i, r, 16);
				c = crc_upd(c, r, 16);
			}
			blk = get(h, 8);
		}
		for (uint64_t q = 0; q < 2; q++) {
			put(b, 4, ~c);
			wr(q * BS + 88, b, 4);
			reseal_sb(q * BS);
		}
		printf("free list word %#llx = %#llx\n", (unsigned long long)at,
		       (unsigned long long)v);
		break;
	}
	}
}

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage: pmpoke DEV CMD ARGS...");
	crc_init();
	fd = open(argv[1], O_RDWR | O_SYNC);
	if (fd < 0)
		die("cannot open device");
	/*
	 * nova reads and writes pmem directly (DAX): cached pages of the
	 * block device may be stale. Drop them before reading.
	 */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	const char *cmd = argv[2];
	char **a = argv + 3;
	int n = argc - 3;
	if (!strcmp(cmd, "get") && n == 2) {
		uint8_t b[8];
		int sz = (int)num(a[1]);
		rd(num(a[0]), b, sz);
		printf("%llu\n", (unsigned long long)get(b, sz));
	} else if (!strcmp(cmd, "raw") && n == 3) {
		uint8_t b[8];
		int sz = (int)num(a[1]);
		put(b, sz, num(a[2]));
		wr(num(a[0]), b, sz);
	} else if (!strcmp(cmd, "slot-addr") && n == 1) {
		printf("%llu\n", (unsigned long long)slot_addr(num(a[0])));
	} else if (!strcmp(cmd, "slot") && n == 4) {
		uint8_t s[128];
		uint64_t at = slot_addr(num(a[0]));
		rd(at, s, 128);
		put(s + num(a[1]), (int)num(a[2]), num(a[3]));
		reseal_slot(s);
		wr(at, s, 128);
	} else if (!strcmp(cmd, "entry") && n == 3) {
		uint8_t s[128];
		rd(slot_addr(num(a[0])), s, 128);
		uint64_t pos = get(s + 24, 8), tail = get(s + 32, 8);
		int type = (int)num(a[1]);
		long want = strtol(a[2], NULL, 0), seen = 0;
		uint64_t found = 0, steps = 0;
		while (pos != tail && steps++ < 10000000) {
			uint64_t page = pos & ~(BS - 1);
			if (pos - page >= TAIL_OFF) {
				pos = rd64(page + TAIL_OFF);
				if (!pos)
					break;
				continue;
			}
			uint8_t h[2];
			rd(pos, h, 2);
			if (!h[0] && !h[1]) {
				pos = page + TAIL_OFF;
				continue;
			}
			if (!h[1])
				die("bad entry");
			if (h[0] == type) {
				found = pos;
				if (seen++ == want)
					break;
			}
			pos += h[1] * 64ULL;
		}
		if (!found || (want >= 0 && seen != want + 1))
			die("no such entry");
		printf("%llu\n", (unsigned long long)found);
	} else if (!strcmp(cmd, "entry-set") && n == 4) {
		uint8_t e[512];
		uint64_t at = num(a[0]);
		rd(at, e, 2);
		size_t len = e[1] * 64;
		if (!len || len > 512)
			die("bad entry length");
		rd(at, e, len);
		put(e + num(a[1]), (int)num(a[2]), num(a[3]));
		put(e + 4, 4, crc_skip(e, len, 4));
		wr(at, e, len);
	} else if (!strcmp(cmd, "sb") && n == 3) {
		for (uint64_t c = 0; c < 2; c++) {
			uint8_t b[8];
			put(b, (int)num(a[1]), num(a[2]));
			wr(c * BS + num(a[0]), b, num(a[1]));
			reseal_sb(c * BS);
		}
	} else if ((!strcmp(cmd, "fl-range") && n == 3) ||
		   (!strcmp(cmd, "fl-add") && n == 2)) {
		uint64_t first = rd64(56), b = first, i;
		if (!first)
			die("no saved free list");
		uint8_t r[16];
		if (!strcmp(cmd, "fl-add")) {
			/* Insert (START, LEN) in order into the first block. */
			uint64_t cnt = rd64(first * BS + 8), st = num(a[0]);
			if (cnt >= 255)
				die("first free-list block is full");
			for (i = 0; i < cnt && rd64(first * BS + 16 + 16 * i) < st; i++)
				;
			for (uint64_t j = cnt; j > i; j--) {
				rd(first * BS + 16 + 16 * (j - 1), r, 16);
				wr(first * BS + 16 + 16 * j, r, 16);
			}
			put(r, 8, cnt + 1);
			wr(first * BS + 8, r, 8);
			a--;
		} else {
			i = num(a[0]);
		}
		put(r, 8, num(a[1]));
		put(r + 8, 8, num(a[2]));
		wr(first * BS + 16 + 16 * i, r, 16);
		uint32_t c = ~0u;
		for (int k = 0; b && k < 100000; k++) {
			uint8_t h[16];
			rd(b * BS, h, 16);
			uint64_t cnt = get(h + 8, 8);
			if (cnt > 255)
				die("bad count");
			c = crc_upd(c, h, 16);
			for (uint64_t j = 0; j < cnt; j++) {
				rd(b * BS + 16 + 16 * j, r, 16);
				c = crc_upd(c, r, 16);
			}
			b = get(h, 8);
		}
		for (uint64_t k = 0; k < 2; k++) {
			uint8_t v[4];
			put(v, 4, ~c);
			wr(k * BS + 88, v, 4);
			reseal_sb(k * BS);
		}
	} else if (!strcmp(cmd, "journal") && n == 2) {
		uint8_t j[16 + 16 * 16] = { 0 };
		put(j + 8, 4, 1);
		put(j + 16, 8, num(a[0]));
		put(j + 24, 8, num(a[1]));
		put(j + 12, 4, crc_skip(j, sizeof(j), 12));
		memcpy(j, "NJRNLACT", 8);
		wr(2 * BS, j, sizeof(j));
	} else if (!strcmp(cmd, "mutate") && n == 1) {
		mutate(num(a[0]));
	} else {
		die("bad command or arguments");
	}
	fsync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return 0;
}
