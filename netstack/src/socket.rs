// SPDX-License-Identifier: MIT OR Apache-2.0

//! What every socket type has: its stack, its vpoll fd, and the std-like
//! blocking mode, which waits on that same fd.

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::error::{Error, Result};
use crate::shown::Shown;
use crate::stack::Shared;

/// What a blocking call waits for.
#[derive(Clone, Copy)]
pub(crate) enum Want {
    Read,
    Write,
}

pub(crate) struct SocketFd {
    pub shared: Arc<Shared>,
    pub shown: Arc<Shown>,
    nonblocking: AtomicBool,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
}

impl SocketFd {
    pub fn new(shared: Arc<Shared>, shown: Arc<Shown>) -> SocketFd {
        SocketFd {
            shared,
            shown,
            nonblocking: AtomicBool::new(false),
            read_timeout: Mutex::new(None),
            write_timeout: Mutex::new(None),
        }
    }

    pub fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Ordering::Relaxed);
    }

    pub fn set_timeout(&self, want: Want, timeout: Option<Duration>) -> Result<()> {
        if timeout == Some(Duration::ZERO) {
            // As std: a zero timeout is an error, not "forever".
            return Err(Error::InvalidAddress {
                addr: "0s".into(),
                why: "a timeout must be longer than zero",
            });
        }
        *self
            .timeout(want)
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = timeout;
        Ok(())
    }

    pub fn timeout_of(&self, want: Want) -> Option<Duration> {
        *self
            .timeout(want)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn timeout(&self, want: Want) -> &Mutex<Option<Duration>> {
        match want {
            Want::Read => &self.read_timeout,
            Want::Write => &self.write_timeout,
        }
    }

    /// Runs `attempt` until it does not say `WouldBlock`; in blocking mode
    /// sleeps on the socket's own vpoll fd between attempts.
    pub fn blocking<T>(&self, want: Want, mut attempt: impl FnMut() -> Result<T>) -> Result<T> {
        let deadline = self.timeout_of(want).map(|t| Instant::now() + t);
        loop {
            match attempt() {
                Err(Error::WouldBlock) if !self.nonblocking.load(Ordering::Relaxed) => {
                    self.wait(want, deadline)?;
                }
                done => return done,
            }
        }
    }

    /// Sleeps until the fd reports `want`, an error or a hang-up.
    fn wait(&self, want: Want, deadline: Option<Instant>) -> Result<()> {
        let events = match want {
            // RDHUP always comes with IN.
            Want::Read => PollFlags::POLLIN,
            Want::Write => PollFlags::POLLOUT,
        };
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::TimedOut);
                }
                let ms = left.as_micros().div_ceil(1000);
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(self.shown.vpoll.as_fd(), events)];
        match poll(&mut fds, timeout) {
            Ok(0) => Err(Error::TimedOut),
            Ok(_) | Err(Errno::EINTR) => Ok(()),
            Err(e) => Err(Error::Io {
                what: "poll",
                source: e.into(),
            }),
        }
    }
}
