// SPDX-License-Identifier: MIT OR Apache-2.0

//! The emulation backend: an AF_UNIX stream socket pair, on any kernel.
//!
//! The fd handed out is one end ("app"); the `Vpoll` keeps the other ("ctl").
//! The events are what the kernel's `unix_poll` reports for the app end, so
//! they are real; the price is that only some events exist and some come in
//! groups:
//!
//! | event | how | shown with |
//! |---|---|---|
//! | `IN`, `RDNORM` | a byte pending on app | each other |
//! | `PRI` | an out-of-band byte pending (`MSG_OOB`, Linux ≥ 5.15, detected at run time) | `IN`, `RDNORM` |
//! | `OUT`, `WRNORM`, `WRBAND` | app's send path not full | each other |
//! | `RDHUP` | `shutdown(ctl, SHUT_WR)` — irreversible | `IN`, `RDNORM` |
//! | `HUP` | `shutdown(ctl, SHUT_RDWR)` — irreversible | `RDHUP`, `IN`, `RDNORM` |
//!
//! Asking for another event is [`Error::Unsupported`]; clearing a hang-up is
//! [`Error::Irreversible`]; clearing an event that a kept one implies (`IN`
//! while `PRI` stays) is [`Error::Inseparable`].
//!
//! # One system call per change
//!
//! The common changes (`IN` and `OUT`, with no urgent data and no hang-up
//! involved) cost what the socket pair itself costs: one `send` or `recv`,
//! whose own result is the check. A byte sent to the app end, or a send that
//! finds the path full of bytes it has not read, means `IN` is pending; a
//! `recv` that empties the app end means it is not; draining our end opens the
//! app end's send path (`OUT`), one small message closes it (see
//! [`closing_send`]: the app end keeps the smallest send buffer, so a program
//! that enlarges it with `SO_SNDBUF` keeps seeing `OUT`). Each side a
//! change names is acted on even when it already looks right, so a program
//! that read or wrote the fd itself is corrected by the next change that names
//! the side it touched, and a re-`ADD` raises a new edge as on the device.
//! Adding the first hang-up is one `shutdown`, which cannot miss. A result
//! that says someone hung the socket up (`EPIPE`, end of file), and every
//! other change with `PRI` or a hang-up, takes the general path: it acts, then
//! polls, and starts again from what the socket shows if the change missed.
//! Sides a change does not name are reported as the last change left them;
//! [`events`](Emulation::events) asks the kernel.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::op::Op;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{
    getsockopt, recv, send, setsockopt, shutdown, socketpair, sockopt, AddressFamily, MsgFlags,
    Shutdown, SockFlag, SockType,
};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, OnceLock};

const BACKEND: Backend = Backend::Emulation;

const READABLE: Events = Events::IN.union(Events::RDNORM);
const WRITABLE: Events = Events::OUT.union(Events::WRNORM).union(Events::WRBAND);
const HANGUPS: Events = Events::RDHUP.union(Events::HUP);

/// The sides of the socket pair that `events` lie on, each whole: the
/// readable side (`IN`, `RDNORM`, `PRI`), the writable side, the hang-ups.
fn sides(events: Events) -> Events {
    let mut sides = Events::empty();
    for side in [READABLE | Events::PRI, WRITABLE, HANGUPS] {
        if events.intersects(side) {
            sides |= side;
        }
    }
    sides
}

/// `events` with the whole group of each event in it.
fn group(events: Events) -> Events {
    let mut grouped = events;
    if events.intersects(READABLE) {
        grouped |= READABLE;
    }
    if events.intersects(WRITABLE) {
        grouped |= WRITABLE;
    }
    grouped
}

/// What `events` looks like on a socket: its groups and what they imply.
fn closure(events: Events) -> Events {
    let mut shown = group(events);
    if events.intersects(Events::PRI | Events::RDHUP | Events::HUP) {
        shown |= READABLE;
    }
    if events.contains(Events::HUP) {
        shown |= Events::RDHUP;
    }
    shown
}

/// A vpoll fd made of a socket pair.
#[derive(Debug)]
pub(crate) struct Emulation {
    /// The end user space polls.
    app: OwnedFd,
    /// Our end, and what was asked for; the lock serialises changes, which
    /// take several system calls. Shared by clones (one socket, one state).
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    ctl: OwnedFd,
    /// The events asked for. The socket shows their [`closure`], so an event
    /// that was only implied (IN by PRI) goes when its implier goes.
    requested: Events,
    /// What the app end showed after the last change. The program may have
    /// read from or written to it since; a change that then misses its
    /// target starts again from what the socket really shows.
    shown: Events,
}

impl Emulation {
    /// A socket pair showing `events`.
    pub(crate) fn create(events: Events, cloexec: bool) -> Result<Emulation> {
        let (app, ctl) =
            pair().map_err(|e| crate::error::create_error(BACKEND, "socketpair", e))?;
        // Only the program's end may be inherited: a child holding the
        // control end could raise events on the parent's fd.
        if !cloexec {
            fcntl(&app, FcntlArg::F_SETFD(FdFlag::empty())).map_err(io_error("fcntl(F_SETFD)"))?;
        }
        // The smallest send buffer, so that filling app's send path (to clear OUT) takes few bytes.
        setsockopt(&app, sockopt::SndBuf, &1).map_err(io_error("setsockopt(SO_SNDBUF)"))?;
        // What SET would refuse, refused before any work.
        plan(Op::Set, events, Events::empty(), WRITABLE)?;
        // A new pair shows OUT and nothing else, and nobody else has it yet:
        // only what differs is done (SET would act on every side).
        let state = Arc::new(Mutex::new(State {
            ctl,
            requested: WRITABLE,
            shown: WRITABLE,
        }));
        let emulation = Emulation { app, state };
        if !closure(events).contains(Events::OUT) {
            emulation.apply(Op::Del, WRITABLE)?;
        }
        emulation.apply(Op::Add, events - WRITABLE)?;
        emulation.lock().requested = events;
        Ok(emulation)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the events; returns what the kernel then reports.
    pub(crate) fn apply(&self, op: Op, events: Events) -> Result<Events> {
        let mut state = self.lock();
        // What the last change left, which saves a poll on every change. If
        // someone else has changed the socket since (the program reading or
        // writing the fd, another process sharing it after fork), the change
        // misses its target, and is planned again from what the socket shows.
        let mut now = state.shown;
        let (mut target, mut want) = plan(op, events, state.requested, now)?;
        match self.direct(&state.ctl, op, events, now, want)? {
            Direct::Done(shown) => {
                state.shown = shown;
                state.requested = target;
                return Ok(shown);
            }
            Direct::Uncommon => {}
            Direct::HungUp => {
                // By someone sharing the socket: plan again from what it shows.
                now = show(&self.app);
                state.requested = reconcile(state.requested, now);
                (target, want) = plan(op, events, state.requested, now)?;
            }
        }
        let (mut shown, mut acted) = self.realize(&state.ctl, now, want)?;
        if shown != want {
            // Events the change does not name show what the socket shows; the
            // named ones must be done, or the change starts again from there.
            // (Forcing the rest back would undo a change made concurrently by
            // another process sharing the socket.) A named event on a side
            // this change did move, and that shows otherwise now, was moved
            // again by someone else since (a process sharing the socket read
            // the byte we sent): that is their change, not a miss, and doing
            // ours again would raise a second edge.
            if !acted.contains(sides(missing(op, events, shown))) {
                (target, want) = plan(op, events, reconcile(state.requested, shown), shown)?;
                (shown, acted) = self.realize(&state.ctl, shown, want)?;
            }
            if !acted.contains(sides(missing(op, events, shown))) {
                let msg = format!("the socket shows {shown} after {op:?} {events}");
                return Err(Error::Io {
                    backend: BACKEND,
                    operation: "poll(app)",
                    source: io::Error::other(msg),
                });
            }
            target = reconcile(target, shown);
        }
        state.shown = shown;
        state.requested = target;
        Ok(shown)
    }

    /// The common changes in one system call per side, each call's result
    /// being the check (see the module doc).
    fn direct(
        &self,
        ctl: &OwnedFd,
        op: Op,
        events: Events,
        now: Events,
        want: Events,
    ) -> Result<Direct> {
        if op == Op::Add
            && events.contains(Events::HUP)
            && closure(Events::HUP).contains(events)
            && !now.intersects(Events::PRI | HANGUPS)
        {
            // A hang-up is one shutdown: the app end then shows
            // HUP|RDHUP|IN|RDNORM whatever is queued, and its writable side
            // as it was. It wakes every waiter, as a new hang-up should.
            shutdown(ctl.as_raw_fd(), Shutdown::Both)
                .map_err(io_error("shutdown(ctl, SHUT_RDWR)"))?;
            return Ok(Direct::Done(want));
        }
        if (now | want | events).intersects(Events::PRI | HANGUPS) {
            return Ok(Direct::Uncommon);
        }
        let named = match op {
            Op::Set => READABLE | WRITABLE,
            Op::Add | Op::Del => sides(events),
        };
        let act = sides(now ^ want) | named;
        if act.intersects(READABLE) {
            let done = if want.contains(Events::IN) {
                raise_in(ctl).map_err(io_error("send(ctl)"))?
            } else {
                lower_in(&self.app).map_err(io_error("recv(app)"))?
            };
            if !done {
                return Ok(Direct::HungUp);
            }
        }
        if act.intersects(WRITABLE) {
            let done = if want.contains(Events::OUT) {
                if now.contains(Events::OUT) {
                    // Already open: a byte for the drain to take, whose
                    // freeing wakes the OUT waiters (a new edge, as on the
                    // device). A full path (EAGAIN) serves as well.
                    let _ = send_byte(&self.app, MsgFlags::empty());
                }
                drain(ctl, &mut [0; CHUNK]).map_err(io_error("recv(ctl)"))?
            } else {
                fill(&self.app).map_err(io_error("send(app)"))?
            };
            if !done {
                return Ok(Direct::HungUp);
            }
        }
        Ok(Direct::Done(want))
    }

    /// Moves the sockets from showing `now` to showing `want`; returns what
    /// the app end shows then, and the [`sides`] it moved.
    fn realize(&self, ctl: &OwnedFd, now: Events, want: Events) -> Result<(Events, Events)> {
        let shut = now.intersects(Events::RDHUP | Events::HUP);
        let mut acted = Events::empty();
        // Readable side. A plain read with urgent data pending drops that byte,
        // so the side is rebuilt: take the OOB byte, drain, then send afresh.
        let readable = |e: Events| e & (READABLE | Events::PRI);
        if readable(now) != readable(want) {
            acted |= READABLE | Events::PRI;
            if shut && want.contains(Events::PRI) {
                return Err(Error::Unsupported {
                    backend: BACKEND,
                    events: Events::PRI,
                });
            }
            if now.contains(Events::PRI) {
                let _ = recv(
                    self.app.as_raw_fd(),
                    &mut [0u8; 1],
                    MsgFlags::MSG_OOB | MsgFlags::MSG_DONTWAIT,
                );
            }
            // After a hang-up the end is readable (end of file) whatever is
            // queued, and ctl can send nothing: only urgent data could go.
            if !shut {
                lower_in(&self.app).map_err(io_error("recv(app)"))?;
                // One send, so pollers never see half of it: an OOB byte alone shows IN too.
                if want.contains(Events::PRI) {
                    send_byte(ctl, MsgFlags::MSG_OOB).map_err(io_error("send(ctl, MSG_OOB)"))?;
                } else if want.contains(Events::IN) && !want.contains(Events::RDHUP) {
                    send_byte(ctl, MsgFlags::empty()).map_err(io_error("send(ctl)"))?;
                }
            }
        }
        // Writable side: drain ctl to open app's send path, fill it to close it.
        if now.contains(Events::OUT) != want.contains(Events::OUT) {
            acted |= WRITABLE;
        }
        match (now.contains(Events::OUT), want.contains(Events::OUT)) {
            // End of file or a full stop: the poll below tells.
            (false, true) => {
                drain(ctl, &mut [0; CHUNK]).map_err(io_error("recv(ctl)"))?;
            }
            (true, false) if now.contains(Events::HUP) => {
                return Err(Error::Irreversible {
                    backend: BACKEND,
                    events: WRITABLE,
                });
            }
            (true, false) => {
                fill(&self.app).map_err(io_error("send(app)"))?;
            }
            _ => {}
        }
        // Hang-ups last: after them, ctl can send nothing more.
        if (want - now).intersects(HANGUPS) {
            acted |= HANGUPS;
        }
        if want.contains(Events::HUP) && !now.contains(Events::HUP) {
            shutdown(ctl.as_raw_fd(), Shutdown::Both)
                .map_err(io_error("shutdown(ctl, SHUT_RDWR)"))?;
        } else if want.contains(Events::RDHUP) && !now.contains(Events::RDHUP) {
            shutdown(ctl.as_raw_fd(), Shutdown::Write)
                .map_err(io_error("shutdown(ctl, SHUT_WR)"))?;
        }
        Ok((show(&self.app), acted))
    }

    /// What the kernel reports for the app end now.
    pub(crate) fn events(&self) -> Result<Events> {
        Ok(show(&self.app))
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.app.as_fd()
    }

    /// The numbers of both ends.
    pub(crate) fn held_fds(&self) -> [RawFd; 2] {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        [self.app.as_raw_fd(), state.ctl.as_raw_fd()]
    }

    /// A second descriptor of the app end, sharing the control end and the
    /// state: the pair hangs up when the last clone goes.
    pub(crate) fn try_clone(&self) -> Result<Emulation> {
        let app = self
            .app
            .try_clone()
            .map_err(io_error("fcntl(F_DUPFD_CLOEXEC)"))?;
        Ok(Emulation {
            app,
            state: Arc::clone(&self.state),
        })
    }

    /// The app end; the control end is leaked, since closing it would show a
    /// hang-up that nobody asked for (unless clones still hold it: the last
    /// of them closes it, as dropping it would).
    pub(crate) fn into_fd(self) -> OwnedFd {
        if let Ok(state) = Arc::try_unwrap(self.state) {
            let state = state
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::forget(state.ctl);
        }
        self.app
    }
}

/// How a change went on the direct path.
enum Direct {
    /// Done: the app end shows this.
    Done(Events),
    /// Not a common change: the general path does it.
    Uncommon,
    /// A system call found the socket hung up, which the last change did not
    /// leave: the general path does it, from what the socket shows.
    HungUp,
}

/// What `op` with `events` asks the socket to show, given the events `asked`
/// for so far and what it shows `now`: the new requested events and their
/// [`closure`], or why the socket cannot show them.
fn plan(op: Op, events: Events, asked: Events, now: Events) -> Result<(Events, Events)> {
    // IN comes with RDNORM, OUT with WRNORM|WRBAND: clearing one clears its group.
    let (target, cleared) = match op {
        Op::Add => (asked | events, Events::empty()),
        Op::Del => (asked - group(events), group(events)),
        // Exactly these, with what they imply: SET HUP is HUP|RDHUP|IN|RDNORM.
        Op::Set => (events, Events::ALL - closure(events)),
    };
    let unsupported = target - BACKEND.deliverable();
    if !unsupported.is_empty() {
        return Err(Error::Unsupported {
            backend: BACKEND,
            events: unsupported,
        });
    }
    let want = closure(target);
    // A hang-up is a shutdown: asked to clear, or dropped from the target, it stays.
    let irreversible = now & (Events::RDHUP | Events::HUP) & (cleared | (Events::ALL - want));
    if !irreversible.is_empty() {
        return Err(Error::Irreversible {
            backend: BACKEND,
            events: irreversible,
        });
    }
    // What the caller cleared must not come back as implied by what stays.
    let kept = cleared & want;
    if !kept.is_empty() {
        let with = target & (Events::PRI | Events::RDHUP | Events::HUP);
        return Err(Error::Inseparable {
            backend: BACKEND,
            events: kept,
            with,
        });
    }
    Ok((target, want))
}

/// What `op` with `events` names that the socket, showing `shown`, does not
/// show as asked (nothing once the change is done).
fn missing(op: Op, events: Events, shown: Events) -> Events {
    match op {
        Op::Add => closure(events) - shown,
        Op::Del => group(events) & shown,
        Op::Set => closure(events) ^ shown,
    }
}

/// The events asked for, brought in line with what the socket `shown` after
/// someone else changed it: what it no longer shows was cleared, what it
/// shows beyond them was added.
fn reconcile(requested: Events, shown: Events) -> Events {
    (requested & shown) | (shown - closure(requested))
}

/// A non-blocking, close-on-exec socket pair.
fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
    )?)
}

/// The events `poll` reports for `fd` right now (poll cannot fail on one valid fd).
fn show(fd: &OwnedFd) -> Events {
    crate::sys::poll_now(fd.as_fd()).map_or(Events::empty(), Events::from_mask)
}

fn send_byte(fd: &OwnedFd, flags: MsgFlags) -> nix::Result<usize> {
    send(
        fd.as_raw_fd(),
        b"v",
        flags | MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
    )
}

/// Makes `IN` pending on the app end with a byte from ctl. `Ok(false)`: ctl
/// was shut down (a hang-up someone else made).
fn raise_in(ctl: &OwnedFd) -> io::Result<bool> {
    match send_byte(ctl, MsgFlags::empty()) {
        // Sent; or the path is full of bytes the app end has not read, so
        // IN is pending anyway.
        Ok(_) | Err(Errno::EAGAIN) => Ok(true),
        Err(Errno::EPIPE) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Makes `IN` go from the app end by reading all it holds. `Ok(false)`: end
/// of file, the other end was shut down.
fn lower_in(app: &OwnedFd) -> io::Result<bool> {
    // Usually one byte waits: a small buffer, cheap to set up on every call.
    drain(app, &mut [0; 256])
}

/// How many bytes one call moves when draining or filling a path whole:
/// more than a minimal send buffer holds (`SOCK_MIN_SNDBUF`, about 4.5
/// KiB), so one call does it.
const CHUNK: usize = 8 << 10;

/// Reads everything pending on `fd` into `buf`: one call unless a whole
/// buffer came (a stream socket's recv takes from every queued message).
/// `Ok(false)`: end of file.
fn drain(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<bool> {
    loop {
        match recv(fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return Ok(false),
            Ok(n) if n == buf.len() => continue,
            Ok(_) | Err(Errno::EAGAIN) => return Ok(true),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Zeros to send: what fills a path carries nothing.
static ZEROS: [u8; CHUNK] = [0; CHUNK];

/// Closes `fd`'s send path (clears `OUT`). `Ok(false)`: the other end was
/// shut down.
///
/// Where this kernel closes a path with one [`closing_send`], that is
/// sent: one small message, as cheap as sending a byte. Elsewhere, bytes
/// are sent until the path is full: one call that stops short.
fn fill(fd: &OwnedFd) -> io::Result<bool> {
    fill_by(fd, closing_send())
}

/// [`fill`] with one send of `closing` bytes, or with sends until the path
/// is full.
fn fill_by(fd: &OwnedFd, closing: Option<usize>) -> io::Result<bool> {
    let len = closing.unwrap_or(CHUNK);
    loop {
        match send(
            fd.as_raw_fd(),
            &ZEROS[..len],
            MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(n) if n == len && closing.is_none() => continue,
            // All of a closing send, or a send stopped short by a full path.
            Ok(_) | Err(Errno::EAGAIN) => return Ok(true),
            Err(Errno::EPIPE) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
}

/// How many bytes one send needs to close an empty send path of ours, if
/// this kernel shows it (checked once per process, on a pair of its own).
///
/// An AF_UNIX stream socket stops showing `OUT` once more than a quarter of
/// its send buffer is in flight (`unix_writable`), and a message is charged
/// at least its length: so one message of a quarter of the smallest buffer
/// (which every pair here has) and a byte closes it, whatever else is in
/// flight; filling the path whole takes two messages of half the buffer
/// and costs twice as much. A program that enlarges its fd's send buffer
/// (`SO_SNDBUF`) therefore keeps seeing `OUT` where the emulation cleared it.
fn closing_send() -> Option<usize> {
    static LEN: OnceLock<Option<usize>> = OnceLock::new();
    *LEN.get_or_init(|| {
        let (app, _ctl) = pair().ok()?;
        setsockopt(&app, sockopt::SndBuf, &1).ok()?;
        let len = getsockopt(&app, sockopt::SndBuf).ok()? / 4 + 1;
        let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
        let sent = send(app.as_raw_fd(), ZEROS.get(..len)?, flags).ok()?;
        (sent == len && !show(&app).contains(Events::OUT)).then_some(len)
    })
}

fn io_error<E: Into<io::Error>>(operation: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::Io {
        backend: BACKEND,
        operation,
        source: e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh pair of ours: the app end with the smallest send buffer.
    fn fresh() -> (OwnedFd, OwnedFd) {
        let (app, ctl) = pair().unwrap();
        setsockopt(&app, sockopt::SndBuf, &1).unwrap();
        (app, ctl)
    }

    #[test]
    fn this_kernel_closes_a_path_with_one_small_send() {
        let len = closing_send().expect("AF_UNIX's writability rule changed");
        assert!(len < CHUNK / 2, "{len} bytes is no saving");
    }

    /// Both ways of filling clear OUT, and draining brings it back, on an
    /// empty path and on one the program has already put bytes on.
    #[test]
    fn either_fill_clears_out_and_a_drain_restores_it() {
        for closing in [closing_send(), None] {
            for already in [0, 1, 100] {
                let (app, ctl) = fresh();
                if already > 0 {
                    send(app.as_raw_fd(), &ZEROS[..already], MsgFlags::MSG_DONTWAIT).unwrap();
                }
                assert!(show(&app).contains(Events::OUT));
                assert!(fill_by(&app, closing).unwrap());
                assert!(
                    !show(&app).contains(Events::OUT),
                    "{closing:?} after {already} bytes: OUT still shown"
                );
                assert!(drain(&ctl, &mut [0; CHUNK]).unwrap());
                assert!(show(&app).contains(Events::OUT));
            }
        }
    }

    #[test]
    fn a_fill_on_a_pair_hung_up_by_the_other_end_says_so() {
        for closing in [closing_send(), None] {
            let (app, ctl) = fresh();
            drop(ctl);
            assert!(!fill_by(&app, closing).unwrap(), "{closing:?}");
        }
    }
}
