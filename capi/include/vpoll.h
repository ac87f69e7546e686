/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * vpoll.h: synthetic poll events (libvpoll.so.0 from the vpoll project).
 *
 * Source-compatible with the C libvpoll's header: the same functions, the
 * same names and values. A vpoll fd is a file descriptor whose poll mask the
 * program sets; poll, ppoll, select, pselect, epoll and io_uring report it.
 *
 *     int fd = vpoll_create(EPOLLOUT, FD_CLOEXEC);
 *     vpoll_ctl(fd, VPOLL_CTL_ADDEVENTS, EPOLLIN);   // waiters for POLLIN wake
 *     vpoll_ctl(fd, VPOLL_CTL_DELEVENTS, EPOLLIN);
 *     vpoll_close(fd);
 *
 * Events are the EPOLL* (= POLL*) bits. The library uses the first backend
 * that works: the vpoll kernel module (/dev/vpoll), an eventfd with the
 * EFD_VPOLL kernel patch, or a socket-pair emulation, which delivers only
 * IN, OUT, PRI, RDHUP and HUP (with the events they imply). VPOLL_BACKEND=
 * device|eventfd|emulation in the environment forces one.
 *
 * Thread safety: every function may be called from any thread on any vpoll
 * fd; changes to one fd are atomic. vpoll_ctl takes no lock.
 */

#ifndef VPOLL_H
#define VPOLL_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* vpoll_ctl's ops. */
#define VPOLL_CTL_ADDEVENTS 1 /* pending |= events */
#define VPOLL_CTL_DELEVENTS 2 /* pending &= ~events */
#define VPOLL_CTL_SETEVENTS 3 /* pending = events */

/*
 * Creates a vpoll fd with init_events pending (on every backend). flags: 0 or
 * FD_CLOEXEC (O_CLOEXEC is taken as the same). Returns the fd, or -1 with
 * errno: EINVAL (other flags), EMFILE/ENFILE/ENOMEM, ENODEV (no backend
 * works), and with VPOLL_STRICT=1 in the environment EOPNOTSUPP
 * (init_events the backend cannot deliver; without it, those are left out).
 */
int vpoll_create(uint32_t init_events, int flags);

/*
 * Changes the pending events of vpoll fd fd. Returns 0, or -1 with errno:
 * EBADF (fd is not open), EINVAL (an unknown op, or fd is no vpoll fd: it is
 * left untouched), and with VPOLL_STRICT=1 in the environment EOPNOTSUPP (the
 * backend cannot deliver those events, or cannot clear them once raised, as
 * the emulation's hang-ups; nothing changed). Without VPOLL_STRICT the change
 * is made as far as the backend can show it, and 0 is returned. Also works on
 * a device or EFD_VPOLL fd made elsewhere (inherited, dup'ed).
 */
int vpoll_ctl(int fd, int op, uint32_t events);

/*
 * An extension of this library (not in the C libvpoll): many changes in one
 * call. Each entry's fd, op and events are as for vpoll_ctl; its result is
 * set to 0, or to minus the errno vpoll_ctl would have set (-EBADF, -EINVAL,
 * -EOPNOTSUPP, ...) for a change that failed, which changed nothing. The
 * changes to each fd are made in order. Device fds go to the kernel
 * together, in one system call per 1024 changes (VPOLL_IO_BATCH); the others
 * one by one. Returns n, or -1 with errno EINVAL (n < 0, or entries NULL
 * with n > 0).
 */
struct vpoll_ctl_entry {
	int fd;
	int op;
	uint32_t events;
	int result;
};
int vpoll_ctl_batch(struct vpoll_ctl_entry *entries, int n);

/*
 * Closes vpoll fd fd and what the library keeps for it. Returns 0, or -1
 * with errno: EBADF (fd is not open), EINVAL (fd is no vpoll fd: it is left
 * open).
 */
int vpoll_close(int fd);

#ifdef __cplusplus
}
#endif

#endif
