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
	} else {
		die("bad command or arguments");
	}
	fsync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return 0;
}
