// SPDX-License-Identifier: GPL-2.0
/*
 * snapro - tries every modifying system call on a read-only snapshot view
 * and prints one line per call: its name and the errno it failed with
 * ("ok" if it succeeded).
 *
 *   snapro DIR FILE SUBDIR OUTSIDE
 *
 * DIR is a directory of the view, FILE a regular file and SUBDIR a
 * directory in it; OUTSIDE a file of the live file system (for renames
 * and links across the two).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

static void report(const char *what, int r)
{
	printf("%s %s\n", what, r < 0 ? strerrorname_np(errno) : "ok");
}

int main(int argc, char **argv)
{
	char p1[4096], p2[4096];
	const char *dir, *file, *sub, *out;
	struct timeval tv[2] = { { 1, 0 }, { 2, 0 } };
	void *m;
	int fd;

	if (argc != 5) {
		fprintf(stderr, "usage: snapro DIR FILE SUBDIR OUTSIDE\n");
		return 2;
	}
	dir = argv[1];
	file = argv[2];
	sub = argv[3];
	out = argv[4];
	snprintf(p1, sizeof(p1), "%s/snapro.new", dir);
	report("create", open(p1, O_CREAT | O_WRONLY, 0644));
	report("open_write", open(file, O_WRONLY));
	report("open_trunc", open(file, O_RDONLY | O_TRUNC));
	report("truncate", truncate(file, 0));
	report("chmod", chmod(file, 0600));
	report("chown", chown(file, 1, 1));
	report("utimes", utimes(file, tv));
	report("setxattr", setxattr(file, "user.x", "1", 1, 0));
	report("removexattr", removexattr(file, "user.x"));
	snprintf(p2, sizeof(p2), "%s/snapro.renamed", dir);
	report("rename", rename(file, p2));
	report("rename_out", rename(file, out));
	snprintf(p2, sizeof(p2), "%s/snapro.in", dir);
	report("rename_in", rename(out, p2));
	snprintf(p2, sizeof(p2), "%s/snapro.link", dir);
	report("link", link(file, p2));
	report("link_in", link(out, p2));
	report("unlink", unlink(file));
	report("rmdir", rmdir(sub));
	snprintf(p2, sizeof(p2), "%s/snapro.dir", dir);
	report("mkdir", mkdir(p2, 0755));
	snprintf(p2, sizeof(p2), "%s/snapro.sym", dir);
	report("symlink", symlink("x", p2));
	snprintf(p2, sizeof(p2), "%s/snapro.fifo", dir);
	report("mknod", mknod(p2, S_IFIFO | 0644, 0));
	fd = open(file, O_RDONLY);
	if (fd < 0) {
		report("open_read", fd);
		return 1;
	}
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	report("mmap_shared_write", m == MAP_FAILED ? -1 : 0);
	report("fallocate", fallocate(fd, 0, 0, 4096));
	report("write", (int)write(fd, "x", 1));
	close(fd);
	return 0;
}
