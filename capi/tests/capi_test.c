// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * capi_test: every function, op and error of vpoll.h against the library it
 * is linked with, on whatever backend that library picks (VPOLL_BACKEND may
 * force one; VPOLL_STRICT=1 makes changes all or nothing). Prints one line
 * per failed check and a last line
 * "capi_test <backend>: N checks passed, M failed"; exits 1 if any failed.
 * With VPOLL_NO_PROC=1 it runs where /proc is not mounted, and
 * VPOLL_BACKEND names the backend.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

	if (getenv("VPOLL_NO_PROC"))
		return getenv("VPOLL_BACKEND") ? getenv("VPOLL_BACKEND") : "unknown";
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	target[n < 0 ? 0 : n] = '\0';
	if (strcmp(target, "/dev/vpoll") == 0)
		return "device";
	if (strcmp(target, "anon_inode:[eventfd]") == 0)
		return "eventfd";
	return "emulation";
}

/* The library's own descriptors (an emulated pair's ends, the copy it keeps
 * of an eventfd) are not the program's: a call naming one (a stale number, a
 * guess) acts on nothing and closes nothing. How many there are per vpoll fd
 * is part of the fd budget the README states. */
static void own_numbers(const char *backend)
{
	enum { N = 256 };
	char before[N];
	int fd, n, ours = 0, want;

	for (n = 0; n < N; n++)
		before[n] = fcntl(n, F_GETFD) >= 0;
	fd = vpoll_create(EPOLLOUT, FD_CLOEXEC);
	for (n = 0; n < N; n++) {
		if (n == fd || before[n] || fcntl(n, F_GETFD) < 0)
			continue;
		ours++;
		errno = 0;
		CHECK(vpoll_ctl(n, VPOLL_CTL_ADDEVENTS, EPOLLIN) == -1 && errno == EINVAL,
		      "ctl on the library's own fd %d: errno %d", n, errno);
		errno = 0;
		CHECK(vpoll_close(n) == -1 && errno == EINVAL && fcntl(n, F_GETFD) >= 0,
		      "vpoll_close of the library's own fd %d: errno %d", n, errno);
	}
	CHECK(!(pending(fd) & EPOLLIN), "the program's fd unchanged: %#x", pending(fd));
	want = strcmp(backend, "emulation") == 0 ? 2 : strcmp(backend, "eventfd") == 0 ? 1 : 0;
	CHECK(ours == want, "%s: %d descriptors of the library's own per vpoll fd, not %d", backend, ours, want);
	CHECK(vpoll_close(fd) == 0, "close");
	for (n = 0, want = 0; n < N; n++)
		want += before[n] != (fcntl(n, F_GETFD) >= 0);
	CHECK(want == 0, "after vpoll_close %d descriptors are not as they were", want);
}

static void *storm(void *arg)
{
	int fd = *(int *)arg, i, bad = 0;

	for (i = 0; i < 10000; i++)
		bad += vpoll_ctl(fd, VPOLL_CTL_ADDEVENTS, EPOLLIN) != 0 ||
		       vpoll_ctl(fd, VPOLL_CTL_DELEVENTS, EPOLLIN) != 0;
	return (void *)(long)bad;
}

/* A connection ends the way user-level stacks end it: SET with ERR|HUP. On
 * the emulation (which cannot show ERR) the hang-up must show all the same,
 * unless VPOLL_STRICT=1 asked for all or nothing. */
static void hangups(int emulated, int strict)
{
	const uint32_t fin = EPOLLOUT | EPOLLWRNORM | EPOLLERR | EPOLLHUP;
	const uint32_t closed = EPOLLIN | EPOLLOUT | EPOLLWRNORM | EPOLLERR | EPOLLHUP | EPOLLRDHUP;
	int fd = vpoll_create(EPOLLOUT, FD_CLOEXEC), i;

	errno = 0;
	i = vpoll_ctl(fd, VPOLL_CTL_SETEVENTS, fin);
	if (emulated && strict) {
		CHECK(i == -1 && errno == EOPNOTSUPP && !(pending(fd) & EPOLLHUP),
		      "strict SET ERR|HUP: %d, errno %d, %#x", i, errno, pending(fd));
	} else {
		CHECK(i == 0 && (pending(fd) & (EPOLLHUP | EPOLLOUT)) == (EPOLLHUP | EPOLLOUT),
		      "SET OUT|ERR|HUP shows the hang-up: %d, errno %d, %#x", i, errno, pending(fd));
		CHECK(emulated || (pending(fd) & EPOLLERR), "ERR where it can be shown: %#x", pending(fd));
		CHECK(vpoll_ctl(fd, VPOLL_CTL_SETEVENTS, closed) == 0 &&
		      (pending(fd) & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) == (EPOLLIN | EPOLLHUP | EPOLLRDHUP),
		      "SET IN|OUT|ERR|HUP|RDHUP: %#x", pending(fd));
	}
	CHECK(vpoll_close(fd) == 0, "close after the hang-up");
	/* SET HUP alone, as the library's own example does. */
	fd = vpoll_create(EPOLLIN, FD_CLOEXEC);
	CHECK(vpoll_ctl(fd, VPOLL_CTL_SETEVENTS, EPOLLHUP) == 0 && (pending(fd) & EPOLLHUP),
	      "SET HUP: %#x", pending(fd));
	vpoll_close(fd);
}

/* The program closes a vpoll fd with close(2) and the number is reused:
 * whatever now has the number is never changed or closed on the strength of
 * what was there before. */
static void numbers_reused(int emulated)
{
	int fd, again, pipefd[2], other[2];
	char byte = 'x';

	/* ... by an unrelated file */
	fd = vpoll_create(0, FD_CLOEXEC);
	close(fd);
	CHECK(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) == 0, "pipe");
	if (pipefd[0] != fd) {
		dup2(pipefd[0], fd);
		close(pipefd[0]);
		pipefd[0] = fd;
	}
	errno = 0;
	CHECK(vpoll_ctl(fd, VPOLL_CTL_ADDEVENTS, EPOLLIN) == -1 && errno == EINVAL,
	      "ctl on the pipe that got the number: errno %d", errno);
	errno = 0;
	CHECK(vpoll_close(fd) == -1 && errno == EINVAL, "vpoll_close of the pipe: errno %d", errno);
	CHECK(write(pipefd[1], &byte, 1) == 1 && read(fd, &byte, 1) == 1,
	      "the pipe is open and works: errno %d", errno);
	close(pipefd[0]);
	close(pipefd[1]);

	/* ... by a new vpoll fd: a kernel one takes the number; an emulated one
	 * takes it for its own end of the socket, which is not the program's */
	fd = vpoll_create(0, FD_CLOEXEC);
	close(fd);
	again = vpoll_create(EPOLLOUT, FD_CLOEXEC);
	if (!emulated) {
		CHECK(again == fd, "the number is reused: %d, %d", again, fd);
	} else {
		errno = 0;
		CHECK(again != fd && vpoll_ctl(fd, VPOLL_CTL_ADDEVENTS, EPOLLPRI) == -1 && errno == EINVAL &&
		      !(pending(again) & EPOLLPRI), "the old number acts on nothing: errno %d", errno);
	}
	CHECK(vpoll_ctl(again, VPOLL_CTL_ADDEVENTS, EPOLLIN) == 0 &&
	      (pending(again) & (EPOLLIN | EPOLLOUT)) == (EPOLLIN | EPOLLOUT),
	      "ctl acts on the new vpoll fd: %#x", pending(again));
	CHECK(vpoll_close(again) == 0, "close the new vpoll fd");

	/* ... by dup2 onto it */
	fd = vpoll_create(0, FD_CLOEXEC);
	CHECK(pipe2(other, O_CLOEXEC | O_NONBLOCK) == 0, "pipe");
	CHECK(dup2(other[1], fd) == fd, "dup2 onto the vpoll fd");
	errno = 0;
	CHECK(vpoll_ctl(fd, VPOLL_CTL_SETEVENTS, EPOLLIN) == -1 && errno == EINVAL,
	      "ctl on the pipe dup2'ed over it: errno %d", errno);
	errno = 0;
	CHECK(vpoll_close(fd) == -1 && errno == EINVAL, "vpoll_close of that pipe: errno %d", errno);
	CHECK(write(fd, &byte, 1) == 1 && read(other[0], &byte, 1) == 1, "that pipe still works");
	close(fd);
	close(other[0]);
	close(other[1]);
}

/* vpoll_ctl_batch: each entry as vpoll_ctl, a bad one failing alone. */
static void batch(int fd, int emulated, int strict)
{
	int other = vpoll_create(0, FD_CLOEXEC), pipefd[2];
	CHECK(pipe(pipefd) == 0, "pipe");
	struct vpoll_ctl_entry e[6] = {
		{ .fd = fd, .op = VPOLL_CTL_SETEVENTS, .events = 0 },
		{ .fd = other, .op = VPOLL_CTL_ADDEVENTS, .events = EPOLLIN },
		{ .fd = fd, .op = VPOLL_CTL_ADDEVENTS, .events = EPOLLOUT },
		{ .fd = -1, .op = VPOLL_CTL_ADDEVENTS, .events = EPOLLIN },
		{ .fd = pipefd[0], .op = VPOLL_CTL_ADDEVENTS, .events = EPOLLIN },
		{ .fd = other, .op = 7, .events = EPOLLOUT },
	};
	CHECK(vpoll_ctl_batch(e, 6) == 6, "batch of 6: errno %d", errno);
	CHECK(e[0].result == 0 && e[1].result == 0 && e[2].result == 0, "results %d %d %d",
	      e[0].result, e[1].result, e[2].result);
	CHECK(e[3].result == -EBADF && e[4].result == -EINVAL && e[5].result == -EINVAL,
	      "bad entries: %d %d %d", e[3].result, e[4].result, e[5].result);
	CHECK((pending(other) & (EPOLLIN | EPOLLOUT)) == EPOLLIN, "other: %#x", pending(other));
	CHECK((pending(fd) & (EPOLLIN | EPOLLOUT)) == EPOLLOUT, "fd: %#x", pending(fd));
	/* On the emulation, ERR is left out unless strict; elsewhere it is shown. */
	struct vpoll_ctl_entry err = { .fd = other, .op = VPOLL_CTL_ADDEVENTS, .events = EPOLLERR };
	CHECK(vpoll_ctl_batch(&err, 1) == 1, "batch of 1");
	CHECK(err.result == (emulated && strict ? -EOPNOTSUPP : 0), "ERR: %d", err.result);
	errno = 0;
	CHECK(vpoll_ctl_batch(e, -1) == -1 && errno == EINVAL, "n < 0: errno %d", errno);
	errno = 0;
	CHECK(vpoll_ctl_batch(NULL, 1) == -1 && errno == EINVAL, "NULL: errno %d", errno);
	CHECK(vpoll_ctl_batch(NULL, 0) == 0, "nothing to do");
	close(pipefd[0]);
	close(pipefd[1]);
	vpoll_close(other);
}

int main(void)
{
	int fd, fd2, dupfd, pipefd[2], i, emulated;
	int strict = getenv("VPOLL_STRICT") && strcmp(getenv("VPOLL_STRICT"), "1") == 0;
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
	if (emulated && strict)
		CHECK(i == -1 && errno == EOPNOTSUPP && !(pending(fd2) & EPOLLMSG),
		      "MSG on the strict emulation: %d, errno %d", i, errno);
	else if (emulated)
		CHECK(i == 0 && !(pending(fd2) & EPOLLMSG) && (pending(fd2) & EPOLLIN),
		      "MSG on the emulation, left out: %d, errno %d", i, errno);
	else
		CHECK(i == 0 && (pending(fd2) & EPOLLMSG), "MSG: %d, errno %d", i, errno);

	/* A dup'ed fd: the kernel backends keep their state, the emulation
	 * keeps its in the library, under the number it handed out. An eventfd
	 * the library did not hand out proves itself by its fdinfo, which needs
	 * /proc. */
	dupfd = dup(fd2);
	vpoll_ctl(fd2, VPOLL_CTL_SETEVENTS, 0);
	errno = 0;
	i = vpoll_ctl(dupfd, VPOLL_CTL_ADDEVENTS, EPOLLOUT);
	if (emulated || (getenv("VPOLL_NO_PROC") && strcmp(backend, "eventfd") == 0))
		CHECK(i == -1 && errno == EINVAL, "dup'ed %s fd: %d, errno %d", backend, i, errno);
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

	hangups(emulated, strict);
	numbers_reused(emulated);
	own_numbers(backend);
	batch(fd2, emulated, strict);

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
