// SPDX-License-Identifier: MIT OR Apache-2.0

//! The eventfd backend: `eventfd(…, EFD_VPOLL)`, on a kernel with vpoll's
//! eventfd patch (`qemu/patches/` in the vpoll repository).

use crate::abi::{EFD_VPOLL, EFD_VPOLL_ADDEVENTS, EFD_VPOLL_DELEVENTS, EFD_VPOLL_MODEVENTS};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::op::Op;
use crate::sys;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

const BACKEND: Backend = Backend::EventFd;

/// One `EFD_VPOLL` eventfd.
#[derive(Debug)]
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// Creates the eventfd with `events` as its initial mask (the C library
    /// passes 0 here and loses them). An unpatched kernel refuses the flag
    /// with `EINVAL`.
    pub(crate) fn create(events: Events, cloexec: bool) -> Result<EventFd> {
        let flags = EFD_VPOLL | if cloexec { libc::EFD_CLOEXEC } else { 0 };
        let fd = sys::eventfd(events.bits(), flags)
            .map_err(|e| crate::error::create_error(BACKEND, "eventfd(EFD_VPOLL)", e))?;
        Ok(EventFd { fd })
    }

    /// Applies `op`; returns the mask (see [`apply`]).
    pub(crate) fn apply(&self, op: Op, events: Events) -> Result<Events> {
        apply(self.fd.as_fd(), op, events)
    }

    /// The mask (see [`events`]).
    pub(crate) fn events(&self) -> Result<Events> {
        events(self.fd.as_fd())
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Adopts an fd already known to be one of ours.
    pub(crate) fn from_fd(fd: OwnedFd) -> EventFd {
        EventFd { fd }
    }

    pub(crate) fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

/// Writes the command to `EFD_VPOLL` eventfd `fd`, then reads the mask back
/// (two system calls: another writer may change the mask in between). Only
/// for an fd known to be one: a plain eventfd would add the command to its
/// counter.
pub(crate) fn apply(fd: BorrowedFd<'_>, op: Op, ev: Events) -> Result<Events> {
    let (code, operation) = match op {
        Op::Add => (EFD_VPOLL_ADDEVENTS, "write(EFD_VPOLL_ADDEVENTS)"),
        Op::Del => (EFD_VPOLL_DELEVENTS, "write(EFD_VPOLL_DELEVENTS)"),
        Op::Set => (EFD_VPOLL_MODEVENTS, "write(EFD_VPOLL_MODEVENTS)"),
    };
    sys::write_u64(fd, code | u64::from(ev.bits())).map_err(|source| Error::Io {
        backend: BACKEND,
        operation,
        source,
    })?;
    events(fd)
}

/// The mask of `EFD_VPOLL` eventfd `fd`, by an 8-byte `read` (never blocks).
pub(crate) fn events(fd: BorrowedFd<'_>) -> Result<Events> {
    sys::read_u64(fd)
        .map(|mask| Events::from_mask(mask as u32))
        .map_err(|source| Error::Io {
            backend: BACKEND,
            operation: "read(eventfd)",
            source,
        })
}
