// SPDX-License-Identifier: MIT OR Apache-2.0

//! `watch`: print each change of a vpoll fd's events as it happens.

use crate::cli::Target;
use crate::error::{Context, Result};
use crate::exit_code::ExitCode;
use crate::output::{self, Mask};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::time::{Duration, Instant};
use vpoll::Events;

/// Asserting changes wake an edge-triggered epoll at once; deletions wake
/// nobody (by design), so the mask is also re-read this often.
const REREAD: u16 = 100;

#[derive(serde::Serialize)]
struct Change {
    time: String,
    events: Mask,
}

pub fn run(
    json: bool,
    target: &Target,
    count: Option<u64>,
    timeout: Option<f64>,
) -> Result<ExitCode> {
    let vp = super::remote::open(target)?;
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create")?;
    let interest = EpollFlags::from(Events::ALL) | EpollFlags::EPOLLET;
    epoll
        .add(&vp, EpollEvent::new(interest, 0))
        .context("watching the fd")?;
    let deadline = timeout.map(|s| Instant::now() + Duration::from_secs_f64(s));
    let what = format!("fd {} of process {}", target.fd, target.pid);
    let mut last = vp.events().context(&what)?;
    let show = |ev: Events| {
        let change = Change {
            time: output::timestamp(),
            events: Mask::from(ev),
        };
        output::print(json, &change, || format!("{} {}", change.time, ev));
    };
    show(last);
    let mut changes = 0;
    while count.is_none_or(|c| changes < c) && deadline.is_none_or(|d| Instant::now() < d) {
        let mut out = [EpollEvent::empty()];
        epoll
            .wait(&mut out, EpollTimeout::from(REREAD))
            .context("epoll_wait")?;
        let now = vp.events().context(&what)?;
        if now != last {
            show(now);
            last = now;
            changes += 1;
        }
    }
    Ok(ExitCode::Success)
}
