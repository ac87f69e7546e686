// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * vpoll_client: a C program written against the C library's <vpoll.h> and
 * nothing else of vpoll's, as an existing user-level stack is. It drives vpoll
 * fds through vpoll_create, vpoll_ctl and vpoll_close and prints, one line a
 * step, what the library returns and what every poll API then reports. The
 * transcript depends only on behaviour, so the guest suite compares it across
 * libraries and backends (tests/guest/c_clients.rs).
 *
 * Exit status: 0 when every step ran (whatever it printed), 1 when the program
 * itself could not run a step (a thread, epoll or fork failed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vpoll.h>

/* How long a waiter may sleep before the step is called lost. */
#define WAIT_LIMIT_MS 5000
/* How long a waiter must stay asleep for an event it did not ask for. */
#define GRACE_MS 100

static const struct {
	uint32_t bit;
	const char *name;
} event_names[] = {
	{ EPOLLIN, "IN" },         { EPOLLPRI, "PRI" },       { EPOLLOUT, "OUT" },
	{ EPOLLERR, "ERR" },       { EPOLLHUP, "HUP" },       { POLLNVAL, "NVAL" },
	{ EPOLLRDNORM, "RDNORM" }, { EPOLLRDBAND, "RDBAND" }, { EPOLLWRNORM, "WRNORM" },
	{ EPOLLWRBAND, "WRBAND" }, { EPOLLMSG, "MSG" },       { EPOLLRDHUP, "RDHUP" },
};
#define N_EVENTS (sizeof(event_names) / sizeof(event_names[0]))

/* Every event a vpoll fd may report through epoll (EPOLLALLMASK). */
#define ALL_EVENTS 0x0fffffffu

static void die(const char *what)
{
	fprintf(stderr, "vpoll_client: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* "IN|OUT", "-" for none, unknown bits in hex; four results may be in use at once. */
static const char *names(uint32_t mask)
{
	static char bufs[4][160];
	static unsigned next;
	char *buf = bufs[next++ % 4];
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < N_EVENTS; i++) {
		if (mask & event_names[i].bit) {
			len += snprintf(buf + len, sizeof(bufs[0]) - len, "%s%s", len ? "|" : "",
					event_names[i].name);
			mask &= ~event_names[i].bit;
		}
	}
	if (mask)
		snprintf(buf + len, sizeof(bufs[0]) - len, "%s0x%x", len ? "|" : "", mask);
	if (!buf[0])
		strcpy(buf, "-");
	return buf;
}

static const char *errno_name(int e)
{
	static char buf[16];

	switch (e) {
	case EBADF: return "EBADF";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EFAULT: return "EFAULT";
	case ENOMEM: return "ENOMEM";
	case EMFILE: return "EMFILE";
	}
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

/* "0" or "-1 EINVAL": a call's return convention as the caller sees it. */
static const char *result(int ret)
{
	static char buf[32];

	if (ret == -1)
		snprintf(buf, sizeof(buf), "-1 %s", errno_name(errno));
	else
		snprintf(buf, sizeof(buf), "%d", ret);
	return buf;
}

/* Which kernel object the library handed out. */
static const char *backend_of(int fd)
{
	static char target[128];
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		die("readlink of the vpoll fd");
	target[n] = '\0';
	if (strcmp(target, "/dev/vpoll") == 0)
		return "device";
	if (strcmp(target, "anon_inode:[eventfd]") == 0)
		return "eventfd";
	if (strncmp(target, "socket:", 7) == 0)
		return "emulation";
	return target;
}

/* The events pending now, as a level-triggered epoll reports them. */
static uint32_t pending(int fd)
{
	struct epoll_event ev = { .events = ALL_EVENTS };
	int ep = epoll_create1(EPOLL_CLOEXEC), n;

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll for the pending events");
	n = epoll_wait(ep, &ev, 1, 0);
	if (n < 0)
		die("epoll_wait for the pending events");
	close(ep);
	return n ? ev.events : 0;
}

/* The events poll(2) reports now, asked for every named event. */
static uint32_t polled(int fd)
{
	struct pollfd p = { .fd = fd };
	size_t i;

	for (i = 0; i < N_EVENTS; i++)
		p.events |= event_names[i].bit;
	if (poll(&p, 1, 0) < 0)
		die("poll for the pending events");
	return p.revents;
}

static void ctl(int fd, int op, const char *opname, uint32_t events)
{
	int ret = vpoll_ctl(fd, op, events);

	printf("ctl(%s, %s): %s, events %s\n", opname, names(events), result(ret),
	       names(pending(fd)));
}

/*
 * An unknown op, in a child of its own: Debian's libvpoll 0.1-3 emulation
 * returns from one with its table lock held, so every later call, and its
 * destructor at exit, would hang.
 */
static void unknown_op(int fd)
{
	pid_t child = fork();

	if (child < 0)
		die("fork");
	if (child == 0) {
		ctl(fd, 7, "7", EPOLLIN);
		_exit(0);
	}
	if (waitpid(child, NULL, 0) < 0)
		die("waitpid");
}

/* A thread blocked in one poll API, watched from the main thread. */
enum api { API_POLL, API_PPOLL, API_SELECT, API_PSELECT, API_EPOLL_LT, API_EPOLL_ET };
static const char *const api_names[] = { "poll", "ppoll", "select", "pselect",
					 "epoll LT", "epoll ET" };

struct waiter {
	enum api api;
	int fd, ep;
	uint32_t want;
	pid_t tid;
	volatile int started, done;
	char outcome[64];
	pthread_t thread;
};

static void *wait_once(void *arg)
{
	struct waiter *w = arg;
	int timeout = WAIT_LIMIT_MS, n = 0;
	struct timespec ts = { WAIT_LIMIT_MS / 1000, 0 };
	struct timeval tv = { WAIT_LIMIT_MS / 1000, 0 };
	struct pollfd p = { .fd = w->fd, .events = (short)w->want };
	struct epoll_event ev;
	fd_set rd, wr, ex;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_ZERO(&ex);
	/* select's sets stand for events as fs/select.c maps them. */
	if (w->want & (POLLIN | POLLRDNORM))
		FD_SET(w->fd, &rd);
	if (w->want & (POLLOUT | POLLWRNORM))
		FD_SET(w->fd, &wr);
	if (w->want & POLLPRI)
		FD_SET(w->fd, &ex);

	w->tid = (pid_t)syscall(SYS_gettid);
	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
	switch (w->api) {
	case API_POLL:
	case API_PPOLL:
		n = w->api == API_POLL ? poll(&p, 1, timeout) : ppoll(&p, 1, &ts, &mask);
		if (n > 0)
			snprintf(w->outcome, sizeof(w->outcome), "woke with %s", names(p.revents));
		break;
	case API_SELECT:
	case API_PSELECT:
		n = w->api == API_SELECT ? select(w->fd + 1, &rd, &wr, &ex, &tv) :
					   pselect(w->fd + 1, &rd, &wr, &ex, &ts, &mask);
		if (n > 0)
			snprintf(w->outcome, sizeof(w->outcome), "woke with%s%s%s",
				 FD_ISSET(w->fd, &rd) ? " readable" : "",
				 FD_ISSET(w->fd, &wr) ? " writable" : "",
				 FD_ISSET(w->fd, &ex) ? " exceptional" : "");
		break;
	case API_EPOLL_LT:
	case API_EPOLL_ET:
		n = epoll_wait(w->ep, &ev, 1, timeout);
		if (n > 0)
			snprintf(w->outcome, sizeof(w->outcome), "woke with %s", names(ev.events));
		break;
	}
	if (n == 0)
		snprintf(w->outcome, sizeof(w->outcome), "timed out");
	else if (n < 0)
		snprintf(w->outcome, sizeof(w->outcome), "failed: %s", errno_name(errno));
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Is thread tid of this process asleep in the kernel (state S)? */
static int asleep(pid_t tid)
{
	char path[64], stat[512], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	paren = strrchr(stat, ')');
	return paren && paren[1] == ' ' && paren[2] == 'S';
}

static void waiter_start(struct waiter *w)
{
	int i;

	if (w->api == API_EPOLL_LT || w->api == API_EPOLL_ET) {
		struct epoll_event ev = { .events = w->want };

		if (w->api == API_EPOLL_ET)
			ev.events |= EPOLLET;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		if (w->ep < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->fd, &ev) < 0)
			die("epoll for a waiter");
	}
	if (pthread_create(&w->thread, NULL, wait_once, w) != 0)
		die("pthread_create");
	for (i = 0; i < WAIT_LIMIT_MS; i++) {
		/* A waiter that found its event pending returns without sleeping. */
		if (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE))
			return;
		if (__atomic_load_n(&w->started, __ATOMIC_ACQUIRE) && asleep(w->tid))
			return;
		sleep_ms(1);
	}
	fprintf(stderr, "vpoll_client: a %s waiter never blocked\n", api_names[w->api]);
	exit(1);
}

static void waiter_join(struct waiter *w)
{
	pthread_join(w->thread, NULL);
	if (w->api == API_EPOLL_LT || w->api == API_EPOLL_ET)
		close(w->ep);
}

/*
 * A waiter for `want` sleeps; `other` is raised (it must stay asleep), then
 * `want` (it must wake and report it).
 */
static void wakeup(int fd, enum api api, uint32_t want, uint32_t other)
{
	struct waiter w = { .api = api, .fd = fd, .want = want };
	const char *stayed;

	vpoll_ctl(fd, VPOLL_CTL_SETEVENTS, 0);
	waiter_start(&w);
	vpoll_ctl(fd, VPOLL_CTL_ADDEVENTS, other);
	sleep_ms(GRACE_MS);
	stayed = __atomic_load_n(&w.done, __ATOMIC_ACQUIRE) ? "woke" : "slept";
	vpoll_ctl(fd, VPOLL_CTL_ADDEVENTS, want);
	waiter_join(&w);
	printf("%s for %s: %s through ADD %s, then %s\n", api_names[api], names(want),
	       stayed, names(other), w.outcome);
}

/* An edge-triggered epoll is signalled again when a pending event is re-added. */
static void edge_resignal(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	int ep = epoll_create1(EPOLL_CLOEXEC), first, again, rearmed;

	vpoll_ctl(fd, VPOLL_CTL_SETEVENTS, EPOLLIN);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll for the edge test");
	first = epoll_wait(ep, &ev, 1, 0);
	again = epoll_wait(ep, &ev, 1, 0);
	vpoll_ctl(fd, VPOLL_CTL_ADDEVENTS, EPOLLIN);
	rearmed = epoll_wait(ep, &ev, 1, 0);
	printf("epoll ET with IN pending: %d ready, then %d, then %d after re-adding IN\n",
	       first, again, rearmed);
	close(ep);
}

/* Each named event alone, as epoll and poll report it. */
static void every_event(int fd)
{
	size_t i;

	for (i = 0; i < N_EVENTS; i++) {
		int ret = vpoll_ctl(fd, VPOLL_CTL_SETEVENTS, event_names[i].bit);

		printf("ctl(SET, %s): %s, epoll %s", event_names[i].name, result(ret),
		       names(pending(fd)));
		printf(", poll %s\n", names(polled(fd)));
	}
}

/* A forked child shares the vpoll fd: its ctl wakes the parent. */
static void forked_child(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLHUP };
	int ep, n, status;
	pid_t child;

	vpoll_ctl(fd, VPOLL_CTL_SETEVENTS, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll for the fork test");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		sleep_ms(GRACE_MS);
		_exit(vpoll_ctl(fd, VPOLL_CTL_ADDEVENTS, EPOLLHUP) == 0 ? 0 : 1);
	}
	n = epoll_wait(ep, &ev, 1, WAIT_LIMIT_MS);
	if (waitpid(child, &status, 0) < 0)
		die("waitpid");
	printf("fork: child's ADD HUP %s; parent's epoll: %s\n",
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "returned 0" : "failed",
	       n == 1 ? names(ev.events) : "nothing");
	close(ep);
}

int main(void)
{
	int fd, fd2, flags;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/*
	 * Debian's libvpoll 0.1-3 emulation writes to a socket it has shut down
	 * for a hang-up; the transcript goes on and shows what it reports instead.
	 */
	signal(SIGPIPE, SIG_IGN);

	fd = vpoll_create(EPOLLOUT, FD_CLOEXEC);
	if (fd < 0) {
		printf("create(OUT, FD_CLOEXEC): %s\n", result(fd));
		return 0;
	}
	flags = fcntl(fd, F_GETFD);
	printf("backend: %s\n", backend_of(fd));
	printf("create(OUT, FD_CLOEXEC): fd, cloexec %s, events %s\n",
	       flags >= 0 && (flags & FD_CLOEXEC) ? "set" : "clear", names(pending(fd)));
	fd2 = vpoll_create(0, 0);
	flags = fcntl(fd2, F_GETFD);
	printf("create(-, 0): %s, cloexec %s, events %s\n", fd2 >= 0 ? "fd" : result(fd2),
	       flags >= 0 && (flags & FD_CLOEXEC) ? "set" : "clear", names(pending(fd2)));
	printf("close(second): %s\n", result(vpoll_close(fd2)));

	ctl(fd, VPOLL_CTL_ADDEVENTS, "ADD", EPOLLIN);
	ctl(fd, VPOLL_CTL_DELEVENTS, "DEL", EPOLLOUT);
	ctl(fd, VPOLL_CTL_SETEVENTS, "SET", EPOLLPRI | EPOLLRDHUP);
	ctl(fd, VPOLL_CTL_ADDEVENTS, "ADD", 0);
	ctl(fd, VPOLL_CTL_DELEVENTS, "DEL", EPOLLIN);
	ctl(fd, VPOLL_CTL_SETEVENTS, "SET", 0);
	printf("ctl on a closed fd: %s\n", result(vpoll_ctl(fd2, VPOLL_CTL_ADDEVENTS, EPOLLIN)));
	unknown_op(fd);

	wakeup(fd, API_POLL, EPOLLIN, EPOLLOUT);
	wakeup(fd, API_PPOLL, EPOLLPRI, EPOLLIN);
	wakeup(fd, API_SELECT, EPOLLIN, EPOLLOUT);
	wakeup(fd, API_PSELECT, EPOLLPRI, EPOLLIN);
	wakeup(fd, API_EPOLL_LT, EPOLLIN, EPOLLOUT);
	wakeup(fd, API_EPOLL_ET, EPOLLOUT, EPOLLIN);
	edge_resignal(fd);
	every_event(fd);
	forked_child(fd);

	printf("close: %s", result(vpoll_close(fd)));
	printf(", then fcntl: %s\n", result(fcntl(fd, F_GETFD)));
	return 0;
}
