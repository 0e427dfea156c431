/*
 * treesum - canonical manifest of a directory tree.
 *
 * Usage: treesum [-d] [-x NAME]... DIR
 *
 * Prints one line per entry of DIR (DIR itself is ".") sorted by path:
 *
 *   PATH TYPE MODE nlink=N uid=U gid=G size=S mtime=SEC.NSEC [EXTRA]
 *
 * EXTRA is "-> TARGET" for symlinks, "fnv=HASH" (FNV-1a 64 of the contents
 * read with read(2)) for regular files and "rdev=MAJ:MIN" for device nodes,
 * then "xattr=HASH" (FNV-1a 64 of the sorted names, each with its value)
 * for an entry that has extended attributes.
 * Bytes outside printable ASCII, spaces and backslashes in names are
 * escaped as \xHH so every line is unambiguous.
 *
 *   -x NAME   skip the top-level entry NAME (repeatable, e.g. lost+found)
 *   -d        print "size=-" for directories (their size is fs-specific)
 *
 * Exit status 0 on success, 1 if any entry could not be read.
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
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char **excludes;
static int nexcludes;
static int nodirsize;
static int errors;

struct plist {
	char **v;
	size_t n, cap;
};

static void add(struct plist *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v) {
			perror("realloc");
			exit(1);
		}
	}
	if (!(l->v[l->n++] = strdup(s))) {
		perror("strdup");
		exit(1);
	}
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int excluded(const char *name)
{
	for (int i = 0; i < nexcludes; i++)
		if (strcmp(excludes[i], name) == 0)
			return 1;
	return 0;
}

/* Collect relative paths below REL ("" for the top) of the tree at ROOT. */
static void walk(const char *root, const char *rel, struct plist *out)
{
	char full[8192], child[8192], cfull[8192];
	DIR *d;
	struct dirent *de;

	snprintf(full, sizeof(full), "%s%s%s", root, *rel ? "/" : "", rel);
	d = opendir(full);
	if (!d) {
		fprintf(stderr, "treesum: opendir %s: %s\n", full, strerror(errno));
		errors++;
		return;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!*rel && excluded(de->d_name))
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "",
				     de->d_name) >= sizeof(child)) {
			fprintf(stderr, "treesum: path too long below %s\n", full);
			errors++;
			continue;
		}
		add(out, child);
		if ((size_t)snprintf(cfull, sizeof(cfull), "%s/%s", root, child) >= sizeof(cfull))
			continue;       /* reported by entry() */
		if (lstat(cfull, &st) == 0 && S_ISDIR(st.st_mode))
			walk(root, child, out);
	}
	if (errno) {
		fprintf(stderr, "treesum: readdir %s: %s\n", full, strerror(errno));
		errors++;
	}
	closedir(d);
}

static void put_escaped(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The extended attributes of PATH (not followed), hashed in name order:
 * 1 and the hash if it has any, 0 if none, -1 on error. */
static int hash_xattrs(const char *path, uint64_t *out)
{
	static char names[1 << 16], value[1 << 16];
	char *list[4096];
	ssize_t n = llistxattr(path, names, sizeof(names));
	int k = 0;
	uint64_t h = 0xcbf29ce484222325ULL;

	if (n < 0)
		return errno == ENOTSUP ? 0 : -1;
	for (char *p = names; p < names + n && k < 4096; p += strlen(p) + 1)
		list[k++] = p;
	if (!k)
		return 0;
	qsort(list, k, sizeof(list[0]), cmp_str);
	for (int i = 0; i < k; i++) {
		ssize_t v = lgetxattr(path, list[i], value, sizeof(value));

		if (v < 0)
			return -1;
		h = fnv(h, list[i], strlen(list[i]) + 1);
		h = fnv(h, &v, sizeof(v));
		h = fnv(h, value, v);
	}
	*out = h;
	return 1;
}

static int hash_file(const char *path, uint64_t *out)
{
	static unsigned char buf[1 << 16];
	uint64_t h = 0xcbf29ce484222325ULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		for (ssize_t i = 0; i < n; i++) {
			h ^= buf[i];
			h *= 0x100000001b3ULL;
		}
	}
	close(fd);
	*out = h;
	return 0;
}

static const char *ftype(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	}
	return "unknown";
}

static void entry(const char *root, const char *rel)
{
	char full[8192];
	struct stat st;

	if ((size_t)snprintf(full, sizeof(full), "%s%s%s", root, *rel ? "/" : "", rel)
	    >= sizeof(full)) {
		fprintf(stderr, "treesum: path too long: %s\n", rel);
		errors++;
		return;
	}
	if (lstat(full, &st) < 0) {
		fprintf(stderr, "treesum: lstat %s: %s\n", full, strerror(errno));
		errors++;
		return;
	}
	if (*rel)
		put_escaped(rel, strlen(rel));
	else
		putchar('.');
	printf(" %s %04o nlink=%lu uid=%u gid=%u", ftype(st.st_mode),
	       (unsigned)(st.st_mode & 07777), (unsigned long)st.st_nlink,
	       (unsigned)st.st_uid, (unsigned)st.st_gid);
	if (S_ISDIR(st.st_mode) && nodirsize)
		printf(" size=-");
	else
		printf(" size=%lld", (long long)st.st_size);
	printf(" mtime=%lld.%09ld", (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
	if (S_ISLNK(st.st_mode)) {
		static char t[8192];
		ssize_t n = readlink(full, t, sizeof(t));

		if (n < 0) {
			fprintf(stderr, "treesum: readlink %s: %s\n", full, strerror(errno));
			errors++;
			printf(" -> ?");
		} else {
			printf(" -> ");
			put_escaped(t, n);
		}
	} else if (S_ISREG(st.st_mode)) {
		uint64_t h;

		if (hash_file(full, &h) < 0) {
			fprintf(stderr, "treesum: read %s: %s\n", full, strerror(errno));
			errors++;
			printf(" fnv=?");
		} else {
			printf(" fnv=%016llx", (unsigned long long)h);
		}
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		printf(" rdev=%u:%u", major(st.st_rdev), minor(st.st_rdev));
	}
	{
		uint64_t h;
		int r = hash_xattrs(full, &h);

		if (r < 0) {
			fprintf(stderr, "treesum: xattrs of %s: %s\n", full, strerror(errno));
			errors++;
			printf(" xattr=?");
		} else if (r) {
			printf(" xattr=%016llx", (unsigned long long)h);
		}
	}
	putchar('\n');
}

static void usage(void)
{
	fprintf(stderr, "usage: treesum [-d] [-x NAME]... DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct plist paths = { 0 };
	const char *root;
	struct stat st;
	int c;

	excludes = calloc(argc, sizeof(*excludes));
	if (!excludes)
		return 1;
	while ((c = getopt(argc, argv, "dx:")) != -1) {
		switch (c) {
		case 'd': nodirsize = 1; break;
		case 'x': excludes[nexcludes++] = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	root = argv[optind];
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "treesum: %s is not a directory\n", root);
		return 1;
	}
	walk(root, "", &paths);
	qsort(paths.v, paths.n, sizeof(*paths.v), cmp);
	entry(root, "");
	for (size_t i = 0; i < paths.n; i++)
		entry(root, paths.v[i]);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "treesum: write error\n");
		return 1;
	}
	return errors ? 1 : 0;
}
