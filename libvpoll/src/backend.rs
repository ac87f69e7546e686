// SPDX-License-Identifier: MIT OR Apache-2.0

//! [`Backend`]: the three ways to make a vpoll fd, and choosing one.

use crate::{Error, Events, Result};
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::str::FromStr;
use std::sync::OnceLock;

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
            Backend::Emulation => crate::emulation::deliverable(),
        }
    }

    /// Which kernel backend `fd` is a vpoll fd of, told by its fdinfo: a
    /// `/dev/vpoll` fd shows [`FDINFO_KEY`](crate::abi::FDINFO_KEY), an
    /// `EFD_VPOLL` eventfd `eventfd-vpoll: 1`. `None` for anything else,
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
        let fdinfo =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
        fdinfo.lines().find_map(|line| {
            if line.starts_with(crate::abi::FDINFO_KEY) {
                Some(Backend::Device)
            } else if line
                .split_whitespace()
                .eq([crate::abi::FDINFO_EVENTFD_VPOLL, "1"])
            {
                Some(Backend::EventFd)
            } else {
                None
            }
        })
    }

    /// The backend `VPOLL_BACKEND` forces, if it is set.
    ///
    /// ```
    /// # use vpoll::Backend;
    /// match Backend::from_env()? {
    ///     Some(b) => println!("forced: {b}"),
    ///     None => println!("automatic"),
    /// }
    /// # Ok::<(), vpoll::Error>(())
    /// ```
    pub fn from_env() -> Result<Option<Backend>> {
        match std::env::var(BACKEND_VAR) {
            Ok(value) => value.parse().map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(v)) => Err(Error::BadBackendVar {
                value: v.to_string_lossy().into_owned(),
            }),
        }
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

impl FromStr for Backend {
    type Err = Error;

    /// `device`, `eventfd` or `emulation`, in any case.
    fn from_str(s: &str) -> Result<Backend> {
        Backend::ALL
            .into_iter()
            .find(|b| b.to_string().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::BadBackendVar { value: s.into() })
    }
}

/// The backend automatic selection settled on, once one worked.
static AUTO: OnceLock<Backend> = OnceLock::new();

/// Runs `create` with the backend to use: the forced one, the cached automatic
/// choice, or each in order until one works (then cached).
pub(crate) fn select<T>(
    forced: Option<Backend>,
    mut create: impl FnMut(Backend) -> Result<T>,
) -> Result<T> {
    // An explicit choice wins; VPOLL_BACKEND is read (and must be valid) only without one.
    let forced = match forced {
        Some(backend) => Some(backend),
        None => Backend::from_env()?,
    };
    if let Some(backend) = forced {
        return create(backend);
    }
    if let Some(&backend) = AUTO.get() {
        return create(backend);
    }
    let mut tried = Vec::new();
    for backend in Backend::ALL {
        match create(backend) {
            Ok(made) => {
                let _ = AUTO.set(backend);
                return Ok(made);
            }
            Err(Error::Unavailable { backend, source }) => tried.push((backend, source)),
            Err(other) => return Err(other),
        }
    }
    Err(Error::NoBackend { tried })
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
        assert!(
            matches!("kqueue".parse::<Backend>(), Err(Error::BadBackendVar { value }) if value == "kqueue")
        );
    }
}
