// SPDX-License-Identifier: MIT OR Apache-2.0

//! `wait`: block until an fd of this process reports any of some events.
#![allow(unsafe_code)] // borrowing an inherited fd by number

use crate::error::{CliError, Context, Result};
use crate::exit_code::ExitCode;
use crate::output::{self, Mask};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};
use vpoll::Events;

pub fn run(
    json: bool,
    events: Events,
    fd: Option<i32>,
    timeout: Option<Duration>,
) -> Result<ExitCode> {
    let fd = match fd {
        Some(fd) => fd,
        None => std::env::var("VPOLL_FD")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3),
    };
    nix::fcntl::fcntl(fd_ref(fd), nix::fcntl::FcntlArg::F_GETFD)
        .map_err(|_| CliError::failed(format!("fd {fd}"), "not open in this process"))?;
    // epoll rather than poll: it reports every bit of a mask, not only the named ones.
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create")?;
    epoll
        .add(fd_ref(fd), EpollEvent::new(EpollFlags::from(events), 0))
        .context(format!("watching fd {fd}"))?;
    // A deadline too far to represent is no deadline.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut out = [EpollEvent::empty()];
    loop {
        let limit = match deadline {
            None => EpollTimeout::NONE,
            // epoll_wait takes at most i32::MAX ms: a longer wait is several.
            Some(d) => EpollTimeout::try_from(d.saturating_duration_since(Instant::now()))
                .unwrap_or(EpollTimeout::MAX),
        };
        if epoll.wait(&mut out, limit).context("epoll_wait")? > 0 {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(CliError::failed(
                format!("fd {fd}"),
                format!("none of {events} within the timeout"),
            ));
        }
    }
    let seen = Events::from(out[0].events());
    output::print(json, &Mask::from(seen), || seen.to_string());
    Ok(ExitCode::Success)
}

fn fd_ref(fd: i32) -> BorrowedFd<'static> {
    // SAFETY: the fd is only used for the fcntl/epoll_ctl calls above, while
    // this process keeps it open (it was inherited, and nothing here closes it).
    unsafe { BorrowedFd::borrow_raw(fd) }
}
