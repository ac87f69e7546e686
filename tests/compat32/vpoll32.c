// SPDX-License-Identifier: MIT OR Apache-2.0
//
// A 32-bit client of /dev/vpoll, built with `gcc -m32 -static` and run in the
// guest through IA32 emulation: the ioctls reach the module's compat_ioctl.
// Written as an existing C user of the C vpoll module would write it.
// Prints every failed check; exits with the number of failures.

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../clib/vpoll_dev.h"

static int checks, failures;

#define CHECK(cond)                                                             \
	do {                                                                    \
		checks++;                                                       \
		if (!(cond)) {                                                  \
			failures++;                                             \
			printf("vpoll32: FAILED line %d: %s (errno %d)\n",      \
			       __LINE__, #cond, errno);                         \
		}                                                               \
	} while (0)

int main(void)
{
	CHECK(sizeof(long) == 4);
	int fd = open("/dev/vpoll", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd < 0)
		return 1;

	CHECK(ioctl(fd, VPOLL_IO_ADDEVENTS, EPOLLIN) == EPOLLIN);
	CHECK(ioctl(fd, VPOLL_IO_ADDEVENTS, EPOLLPRI | EPOLLOUT) == (EPOLLIN | EPOLLPRI | EPOLLOUT));
	CHECK(ioctl(fd, VPOLL_IO_DELEVENTS, EPOLLOUT) == (EPOLLIN | EPOLLPRI));
	CHECK(ioctl(fd, VPOLL_IO_SETEVENTS, 0xffffffffUL) == 0x0fffffff);
	CHECK(ioctl(fd, VPOLL_IO_SETEVENTS, EPOLLHUP) == EPOLLHUP);
	errno = 0;
	CHECK(ioctl(fd, _IO(VPOLL_IOC_MAGIC, 4), EPOLLIN) == -1 && errno == ENOTTY);

	struct pollfd p = { .fd = fd, .events = POLLIN };
	CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLHUP);

	uint64_t cmd = EFD_VPOLL_ADDEVENTS | EPOLLRDHUP, mask = 0;
	CHECK(write(fd, &cmd, sizeof(cmd)) == 8);
	CHECK(read(fd, &mask, sizeof(mask)) == 8 && mask == (EPOLLHUP | EPOLLRDHUP));

	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLRDHUP }, out;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	CHECK(epoll_wait(ep, &out, 1, 0) == 1 && out.events == (EPOLLHUP | EPOLLRDHUP));

	int other = open("/dev/vpoll", O_RDWR | O_CLOEXEC);
	struct vpoll_batch_entry e[3] = {
		{ .fd = other, .op = 1, .events = EPOLLIN },
		{ .fd = other, .op = 1, .events = EPOLLOUT },
		{ .fd = 999, .op = 1, .events = EPOLLIN },
	};
	struct vpoll_batch b = { .entries = (uintptr_t)e, .count = 3 };
	CHECK(sizeof(b) == 16 && VPOLL_IO_BATCH == 0xc0105e04);
	CHECK(ioctl(fd, VPOLL_IO_BATCH, &b) == 3);
	CHECK(e[0].result == EPOLLIN && e[1].result == (EPOLLIN | EPOLLOUT) && e[2].result == -EBADF);
	CHECK(ioctl(other, VPOLL_IO_DELEVENTS, 0) == (EPOLLIN | EPOLLOUT));

	close(other);
	close(ep);
	close(fd);
	printf("vpoll32: %d of %d checks passed\n", checks - failures, checks);
	return failures;
}
