// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * capi_test: every function, op and error of vpoll.h against the library it
 * is linked with, on whatever backend that library picks (VPOLL_BACKEND may
 * force one). Prints one line per failed check and a last line
 * "capi_test <backend>: N checks passed, M failed"; exits 1 if any failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <vpoll.h>

static int passed, failed;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (cond) {                                                \
			passed++;                                          \
		} else {                                           \
			failed++;                                          \
			printf("FAILED line %d: %s: ", __LINE__, #cond);   \
			printf(__VA_ARGS__);                               \
			printf("\n");                                      \
		}                                                          \
	} while (0)

/* The events pending now, as a level-triggered epoll reports them. */
static uint32_t pending(int fd)
{
	struct epoll_event ev = { .events = 0x0fffffff };
	int ep = epoll_create1(EPOLL_CLOEXEC), n;

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return 0xdeadbeef;
	n = epoll_wait(ep, &ev, 1, 0);
	close(ep);
	return n == 1 ? ev.events : 0;
}

static const char *backend_of(int fd)
{
	static char target[64];
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	target[n < 0 ? 0 : n] = '\0';
	if (strcmp(target, "/dev/vpoll") == 0)
		return "device";
	if (strcmp(target, "anon_inode:[eventfd]") == 0)
		return "eventfd";
	return "emulation";
}

static void *storm(void *arg)
{
	int fd = *(int *)arg, i, bad = 0;

	for (i = 0; i < 10000; i++)
		bad += vpoll_ctl(fd, VPOLL_CTL_ADDEVENTS, EPOLLIN) != 0 ||
		       vpoll_ctl(fd, VPOLL_CTL_DELEVENTS, EPOLLIN) != 0;
	return (void *)(long)bad;
}

int main(void)
{
	int fd, fd2, dupfd, pipefd[2], i, emulated;
	const uint32_t out_group = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
	const char *backend;
	pthread_t threads[4];
	void *bad;

	/* vpoll_create */
	fd = vpoll_create(EPOLLIN, FD_CLOEXEC);
	CHECK(fd >= 0, "errno %d", errno);
	backend = backend_of(fd);
	emulated = strcmp(backend, "emulation") == 0;
	CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "FD_CLOEXEC asked for");
	CHECK(pending(fd) & EPOLLIN, "initial IN: %#x", pending(fd));
	fd2 = vpoll_create(0, 0);
	CHECK(fd2 >= 0 && fcntl(fd2, F_GETFD) == 0, "no FD_CLOEXEC");
	CHECK(pending(fd2) == 0, "nothing pending: %#x", pending(fd2));
	errno = 0;
	CHECK(vpoll_create(0, 0x100) == -1 && errno == EINVAL, "unknown flag: errno %d", errno);
	i = vpoll_create(0, O_CLOEXEC);
	CHECK(i >= 0 && fcntl(i, F_GETFD) == FD_CLOEXEC, "O_CLOEXEC taken as FD_CLOEXEC");
	vpoll_close(i);

	/* vpoll_ctl: each op */
	CHECK(vpoll_ctl(fd2, VPOLL_CTL_ADDEVENTS, EPOLLOUT) == 0, "ADD");
	CHECK((pending(fd2) & ~out_group) == 0 && (pending(fd2) & EPOLLOUT), "ADD OUT: %#x", pending(fd2));
	CHECK(vpoll_ctl(fd2, VPOLL_CTL_ADDEVENTS, EPOLLIN) == 0, "ADD IN");
	CHECK(vpoll_ctl(fd2, VPOLL_CTL_DELEVENTS, EPOLLOUT) == 0, "DEL");
	CHECK((pending(fd2) & (EPOLLIN | EPOLLOUT)) == EPOLLIN, "DEL OUT: %#x", pending(fd2));
	CHECK(vpoll_ctl(fd2, VPOLL_CTL_SETEVENTS, EPOLLOUT) == 0, "SET");
	CHECK((pending(fd2) & (EPOLLIN | EPOLLOUT)) == EPOLLOUT, "SET OUT: %#x", pending(fd2));
	CHECK(vpoll_ctl(fd2, VPOLL_CTL_SETEVENTS, 0) == 0 && pending(fd2) == 0, "SET 0: %#x", pending(fd2));

	/* vpoll_ctl: errors, each leaving the events as they were */
	vpoll_ctl(fd2, VPOLL_CTL_SETEVENTS, EPOLLIN);
	errno = 0;
	CHECK(vpoll_ctl(fd2, 0, EPOLLOUT) == -1 && errno == EINVAL, "op 0: errno %d", errno);
	errno = 0;
	CHECK(vpoll_ctl(fd2, 4, EPOLLOUT) == -1 && errno == EINVAL, "op 4: errno %d", errno);
	CHECK((pending(fd2) & (EPOLLIN | EPOLLOUT)) == EPOLLIN, "unchanged: %#x", pending(fd2));
	errno = 0;
	CHECK(vpoll_ctl(-1, VPOLL_CTL_ADDEVENTS, EPOLLIN) == -1 && errno == EBADF, "fd -1: errno %d", errno);
	CHECK(pipe(pipefd) == 0, "pipe");
	errno = 0;
	CHECK(vpoll_ctl(pipefd[0], VPOLL_CTL_ADDEVENTS, EPOLLIN) == -1 && errno == EINVAL,
	      "a pipe is no vpoll fd: errno %d", errno);
	close(pipefd[0]);
	close(pipefd[1]);
	errno = 0;
	i = vpoll_ctl(fd2, VPOLL_CTL_ADDEVENTS, EPOLLMSG);
	if (emulated)
		CHECK(i == -1 && errno == EOPNOTSUPP && !(pending(fd2) & EPOLLMSG),
		      "MSG on the emulation: %d, errno %d", i, errno);
	else
		CHECK(i == 0 && (pending(fd2) & EPOLLMSG), "MSG: %d, errno %d", i, errno);

	/* A dup'ed fd: the kernel backends keep no state, the emulation does. */
	dupfd = dup(fd2);
	vpoll_ctl(fd2, VPOLL_CTL_SETEVENTS, 0);
	errno = 0;
	i = vpoll_ctl(dupfd, VPOLL_CTL_ADDEVENTS, EPOLLOUT);
	if (emulated)
		CHECK(i == -1 && errno == EINVAL, "dup'ed emulated fd: %d, errno %d", i, errno);
	else
		CHECK(i == 0 && (pending(fd2) & EPOLLOUT), "dup'ed fd drives the object: %d, errno %d", i, errno);
	close(dupfd);

	/* Threads: no lock to fight over, no error. */
	for (i = 0; i < 4; i++)
		pthread_create(&threads[i], NULL, storm, &fd2);
	for (i = 0; i < 4; i++) {
		pthread_join(threads[i], &bad);
		CHECK(bad == NULL, "thread %d: %ld failed calls", i, (long)bad);
	}

	/* vpoll_close */
	CHECK(vpoll_close(fd2) == 0, "close");
	errno = 0;
	CHECK(fcntl(fd2, F_GETFD) == -1 && errno == EBADF, "closed");
	errno = 0;
	CHECK(vpoll_close(fd2) == -1 && errno == EBADF, "closed twice: errno %d", errno);
	errno = 0;
	CHECK(vpoll_ctl(fd2, VPOLL_CTL_ADDEVENTS, EPOLLIN) == -1 && errno == EBADF, "ctl after close: errno %d", errno);
	errno = 0;
	CHECK(vpoll_close(-1) == -1 && errno == EBADF, "close(-1): errno %d", errno);
	CHECK(vpoll_close(fd) == 0, "close");

	printf("capi_test %s: %d checks passed, %d failed\n", backend, passed, failed);
	return failed != 0;
}
