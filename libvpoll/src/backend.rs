// SPDX-License-Identifier: MIT OR Apache-2.0

//! [`Backend`]: the three ways to make a vpoll fd, and what each can show.

use crate::abi;
use crate::events::Events;
use crate::unix_oob;
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::str::FromStr;

/// How a [`Vpoll`](crate::Vpoll) is made, in the order they are tried.
///
/// ```
/// use vpoll::{Backend, Vpoll};
/// let vp = Vpoll::builder().backend(Backend::Emulation).build()?;
/// assert_eq!(vp.backend().to_string(), "emulation");
/// # Ok::<(), vpoll::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `/dev/vpoll` from the vpoll kernel module: every event.
    Device,
    /// An eventfd with `EFD_VPOLL`, on a kernel with that patch: every event.
    EventFd,
    /// An AF_UNIX socket pair, on any kernel: only the events a socket can
    /// show (see [`Backend::deliverable`]).
    Emulation,
}

/// The environment variable that forces a backend: `device`, `eventfd` or `emulation`.
///
/// ```sh
/// VPOLL_BACKEND=emulation my-program   # never touch /dev/vpoll
/// ```
pub const BACKEND_VAR: &str = "VPOLL_BACKEND";

impl Backend {
    /// Every backend, in the order automatic selection tries them.
    ///
    /// ```
    /// # use vpoll::Backend;
    /// assert_eq!(vpoll::Backend::ALL[0], Backend::Device);
    /// ```
    pub const ALL: [Backend; 3] = [Backend::Device, Backend::EventFd, Backend::Emulation];

    /// The events this backend can make an fd report on this system (the
    /// emulation's `PRI` needs AF_UNIX `MSG_OOB`, Linux ≥ 5.15).
    ///
    /// ```
    /// use vpoll::{Backend, Events};
    /// assert_eq!(Backend::Device.deliverable(), Events::ALL);
    /// assert!(!Backend::Emulation.deliverable().contains(Events::ERR));
    /// ```
    pub fn deliverable(self) -> Events {
        match self {
            Backend::Device | Backend::EventFd => Events::ALL,
            // What a socket pair can show (see the emulation's table).
            Backend::Emulation => {
                let shown = Events::IN
                    | Events::RDNORM
                    | Events::OUT
                    | Events::WRNORM
                    | Events::WRBAND
                    | Events::RDHUP
                    | Events::HUP;
                if unix_oob::available() {
                    shown | Events::PRI
                } else {
                    shown
                }
            }
        }
    }

    /// Which kernel backend `fd` is a vpoll fd of, told by its fdinfo (see
    /// [`from_fdinfo`](Backend::from_fdinfo)). `None` for anything else,
    /// emulated vpoll fds included (they are plain sockets).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use vpoll::{Backend, Vpoll};
    /// let vp = Vpoll::new()?;
    /// let kernel = Backend::of_fd(vp.as_fd());
    /// assert_eq!(kernel.is_some(), vp.backend() != Backend::Emulation);
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn of_fd(fd: BorrowedFd<'_>) -> Option<Backend> {
        // This thread's fd table: a thread that unshared its own has fds
        // the process's view does not.
        let fdinfo =
            std::fs::read_to_string(format!("/proc/thread-self/fdinfo/{}", fd.as_raw_fd())).ok()?;
        Backend::from_fdinfo(&fdinfo).map(|(backend, _)| backend)
    }

    /// Which kernel backend the fdinfo text of an fd (`/proc/PID/fdinfo/FD`,
    /// of any process) describes, and the mask it shows there: the only way
    /// to read another process's vpoll fd without touching it. `None` for
    /// anything else, emulated vpoll fds included.
    ///
    /// ```
    /// use vpoll::{Backend, Events};
    /// let device = "pos:\t0\nflags:\t02000002\nvpoll-events:\t0x00002011\n";
    /// assert_eq!(
    ///     Backend::from_fdinfo(device),
    ///     Some((Backend::Device, Events::IN | Events::HUP | Events::RDHUP))
    /// );
    /// ```
    pub fn from_fdinfo(fdinfo: &str) -> Option<(Backend, Events)> {
        let field = |key: &str| {
            fdinfo
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().trim_start_matches("0x"))
        };
        if let Some(mask) = field(abi::FDINFO_KEY) {
            let mask = u32::from_str_radix(mask, 16).ok()?;
            return Some((Backend::Device, Events::from_mask(mask)));
        }
        if field(abi::FDINFO_EVENTFD_VPOLL) == Some("1") {
            let count = u64::from_str_radix(field(abi::FDINFO_EVENTFD_COUNT)?, 16).ok()?;
            return Some((Backend::EventFd, Events::from_mask(count as u32)));
        }
        None
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that width and alignment (`{:<9}`) work in tables.
        f.pad(match self {
            Backend::Device => "device",
            Backend::EventFd => "eventfd",
            Backend::Emulation => "emulation",
        })
    }
}

/// A backend name that is none of `device`, `eventfd`, `emulation`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend {0:?}: use device, eventfd or emulation")]
pub struct ParseBackendError(pub String);

impl FromStr for Backend {
    type Err = ParseBackendError;

    /// `device`, `eventfd` or `emulation`, in any case.
    fn from_str(s: &str) -> Result<Backend, ParseBackendError> {
        Backend::ALL
            .into_iter()
            .find(|b| b.to_string().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseBackendError(s.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in Backend::ALL {
            assert_eq!(b.to_string().parse::<Backend>().unwrap(), b);
        }
        assert_eq!("EventFD".parse::<Backend>().unwrap(), Backend::EventFd);
        assert_eq!(format!("[{:<8}]", Backend::Device), "[device  ]");
        assert_eq!(
            "kqueue".parse::<Backend>(),
            Err(ParseBackendError("kqueue".into()))
        );
    }

    #[test]
    fn fdinfo_of_each_kind() {
        let device = "pos:\t0\nflags:\t02000002\nmnt_id:\t20\nino:\t5\nvpoll-events:\t0x00002011\n";
        assert_eq!(
            Backend::from_fdinfo(device),
            Some((Backend::Device, Events::IN | Events::HUP | Events::RDHUP))
        );
        let eventfd = "pos:\t0\neventfd-count:                6\neventfd-id: 3\neventfd-semaphore: 0\neventfd-vpoll: 1\n";
        assert_eq!(
            Backend::from_fdinfo(eventfd),
            Some((Backend::EventFd, Events::PRI | Events::OUT))
        );
        let counter = "eventfd-count:                6\neventfd-id: 3\neventfd-semaphore: 0\neventfd-vpoll: 0\n";
        assert_eq!(
            Backend::from_fdinfo(counter),
            None,
            "a plain eventfd is not a vpoll fd"
        );
        assert_eq!(Backend::from_fdinfo("pos:\t0\nflags:\t02\n"), None);
    }
}
