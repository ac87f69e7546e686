/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A vpoll fd closed with close(2) instead of vpoll_close(3), many times
 * over under a low fd limit: what the library held for it must go once
 * the number is reused, by the program or by the library itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <vpoll.h>

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own */
}

int main(void)
{
	struct rlimit limit = { 64, 64 };
	int before, after, round;

	if (setrlimit(RLIMIT_NOFILE, &limit)) {
		perror("setrlimit");
		return 2;
	}
	before = open_fds();
	for (round = 0; round < 2000; round++) {
		int fd = vpoll_create(POLLIN, FD_CLOEXEC);

		if (fd < 0) {
			printf("round %d: vpoll_create: %s (%d fds open, %d before)\n",
			       round, strerror(errno), open_fds(), before);
			return 1;
		}
		close(fd);
	}
	after = open_fds();
	/* At most one closed fd's leftovers wait for their number. */
	if (after > before + 3) {
		printf("%d fds open after 2000 rounds, %d before\n", after, before);
		return 1;
	}
	printf("2000 rounds, %d fds open after, %d before\n", after, before);
	return 0;
}
