// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The example of vpoll_create(3), written from the behaviour the man page
 * describes: a parent waits in epoll (printing "timeout" each time its wait
 * ends empty) while a forked child raises IN, IN again, OUT and finally HUP,
 * one every few ticks; the parent prints each "GOT event %x", clears what it
 * got, and stops at HUP. The man page waits 3 s between events and 1 s in
 * epoll; a tick of TICK_MS keeps the same proportions, faster.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vpoll.h>

#define TICK_MS 150

static void ticks(int n)
{
	struct timespec ts = { 0, (long)n * TICK_MS * 1000000L };

	while (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	nanosleep(&ts, NULL);
}

int main(void)
{
	static const uint32_t raised[] = { EPOLLIN, EPOLLIN, EPOLLOUT, EPOLLHUP };
	struct epoll_event wanted = { .events = EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLOUT |
						EPOLLHUP | EPOLLPRI };
	int fd = vpoll_create(0, FD_CLOEXEC), ep = epoll_create1(EPOLL_CLOEXEC), status;
	unsigned i;
	pid_t child;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &wanted) < 0) {
		perror("vpoll_create/epoll");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		for (i = 0; i < sizeof(raised) / sizeof(raised[0]); i++) {
			ticks(3);
			vpoll_ctl(fd, VPOLL_CTL_ADDEVENTS, raised[i]);
		}
		ticks(3);
		_exit(0);
	}
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(ep, &ev, 1, TICK_MS);

		if (n < 0) {
			perror("epoll_wait");
			break;
		}
		if (n == 0) {
			printf("timeout\n");
			continue;
		}
		printf("GOT event %x\n", ev.events);
		vpoll_ctl(fd, VPOLL_CTL_DELEVENTS, ev.events);
		if (ev.events & EPOLLHUP)
			break;
	}
	waitpid(child, &status, 0);
	vpoll_close(fd);
	close(ep);
	return 0;
}
