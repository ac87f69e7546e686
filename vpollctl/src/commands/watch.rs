// SPDX-License-Identifier: MIT OR Apache-2.0

//! `watch`: print each change of a vpoll fd's events as it happens.
//!
//! A raise (ADD, or SET to a non-empty mask) wakes the fd's waiters with the
//! raised events as the wakeup's key. An io_uring multishot poll completes
//! with that key, so every raise is seen, even one that a DEL undoes at once
//! (epoll re-polls at `epoll_wait` and would see nothing). A DEL wakes
//! nobody: the mask, re-read every [`REREAD`], shows it. Raises that come
//! faster than vpollctl takes them merge into one (io_uring then re-polls).
#![allow(unsafe_code)] // io_uring submissions, whose fds the ring cannot check

use crate::cli::Target;
use crate::error::{Context, Result};
use crate::exit_code::ExitCode;
use crate::output::{self, Mask};
use io_uring::{cqueue, opcode, types, IoUring};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};
use vpoll::Events;

/// How often the mask is re-read, for the changes that wake nobody.
const REREAD: Duration = Duration::from_millis(100);

#[derive(serde::Serialize)]
struct Change {
    time: String,
    /// The mask when the change was printed.
    events: Mask,
    /// The events a raise asserted, for a line that a wakeup printed.
    raised: Option<Mask>,
}

pub fn run(
    json: bool,
    target: &Target,
    count: Option<u64>,
    timeout: Option<Duration>,
) -> Result<ExitCode> {
    let vp = super::remote::open(target)?;
    let what = format!("fd {} of process {}", target.fd, target.pid);
    let mut wakeups = Wakeups::new(vp.as_fd()).context("watching the fd")?;
    let show = |now: Events, raised: Option<Events>| {
        let change = Change {
            time: output::timestamp(),
            events: Mask::from(now),
            raised: raised.map(Mask::from),
        };
        output::print(json, &change, || match raised {
            Some(r) => format!("{} {now} (raised {r})", change.time),
            None => format!("{} {now}", change.time),
        });
    };
    let mut last = vp.events().context(&what)?;
    show(last, None);
    // A deadline too far to represent is no deadline.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut changes = 0;
    while count.is_none_or(|c| changes < c) {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            break;
        }
        let raises = wakeups
            .wait(left.map_or(REREAD, |l| l.min(REREAD)))
            .context("waiting for a wakeup")?;
        let now = vp.events().context(&what)?;
        for raised in &raises {
            show(now, Some(*raised));
            changes += 1;
        }
        if raises.is_empty() && now != last {
            show(now, None);
            changes += 1;
        }
        last = now;
    }
    Ok(ExitCode::Success)
}

/// The wakeups of one fd: by io_uring with their keys, or where io_uring is
/// not to be had (disabled by `kernel.io_uring_disabled`, a seccomp filter),
/// by epoll, which only says that something happened.
enum Wakeups {
    Uring {
        ring: Box<IoUring>,
        fd: i32,
        armed: bool,
    },
    Epoll(Epoll),
}

impl Wakeups {
    fn new(fd: BorrowedFd<'_>) -> io::Result<Wakeups> {
        match IoUring::new(16) {
            Ok(ring) => {
                let mut wakeups = Wakeups::Uring {
                    ring: Box::new(ring),
                    fd: fd.as_raw_fd(),
                    armed: false,
                };
                // Arming polls once: events pending now complete it at once,
                // and that completion is the starting mask, not a raise.
                wakeups.wait(Duration::ZERO)?;
                Ok(wakeups)
            }
            Err(e) => {
                eprintln!(
                    "vpollctl: io_uring is not available ({e}); raises that a DEL undoes within {} ms go unseen",
                    REREAD.as_millis()
                );
                let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
                let interest = EpollFlags::from(Events::ALL) | EpollFlags::EPOLLET;
                epoll.add(fd, EpollEvent::new(interest, 0))?;
                Ok(Wakeups::Epoll(epoll))
            }
        }
    }

    /// Waits up to `limit` for wakeups; returns the events each raised (none
    /// from epoll, which does not know them).
    fn wait(&mut self, limit: Duration) -> io::Result<Vec<Events>> {
        match self {
            Wakeups::Epoll(epoll) => {
                let limit = EpollTimeout::try_from(limit).unwrap_or(EpollTimeout::MAX);
                epoll.wait(&mut [EpollEvent::empty()], limit)?;
                Ok(Vec::new())
            }
            Wakeups::Uring { ring, fd, armed } => {
                if !*armed {
                    let poll = opcode::PollAdd::new(types::Fd(*fd), Events::ALL.bits())
                        .multi(true)
                        .build();
                    // SAFETY: the request names only the fd, which the caller's
                    // Vpoll keeps open for as long as this ring exists.
                    unsafe { ring.submission().push(&poll) }
                        .map_err(|_| io::Error::other("the submission queue is full"))?;
                    *armed = true;
                }
                let ts = types::Timespec::from(limit);
                let args = types::SubmitArgs::new().timespec(&ts);
                match ring.submitter().submit_with_args(1, &args) {
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                            Errno::ETIME | Errno::EINTR
                        ) => {}
                    Err(e) => return Err(e),
                }
                let mut raised = Vec::new();
                for cqe in ring.completion() {
                    if cqe.result() < 0 {
                        return Err(io::Error::from_raw_os_error(-cqe.result()));
                    }
                    raised.push(Events::from_bits_retain(cqe.result() as u32));
                    // A multishot poll that ended (e.g. its completions overflowed) is armed again.
                    *armed &= cqueue::more(cqe.flags());
                }
                Ok(raised)
            }
        }
    }
}
