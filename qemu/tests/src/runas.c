// SPDX-License-Identifier: GPL-2.0
/*
 * runas - runs a command as another user, for the permission checks of
 * the shell tests (busybox's su needs /etc/passwd and a setuid binary).
 *
 *   runas UID GID CMD [ARGS...]     no supplementary groups; umask kept
 *
 * Exits with the command's status; 126 if the ids cannot be set, 127 if
 * the command cannot be run.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	uid_t uid;
	gid_t gid;

	if (argc < 4) {
		fprintf(stderr, "usage: runas UID GID CMD [ARGS...]\n");
		return 2;
	}
	uid = (uid_t)strtoul(argv[1], NULL, 10);
	gid = (gid_t)strtoul(argv[2], NULL, 10);
	if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) {
		perror("runas");
		return 126;
	}
	execvp(argv[3], argv + 3);
	perror(argv[3]);
	return 127;
}
