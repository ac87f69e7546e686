// SPDX-License-Identifier: MIT OR Apache-2.0

//! The device backend: `/dev/vpoll` from the vpoll kernel module.

use crate::abi::{VPOLL_IO_ADDEVENTS, VPOLL_IO_DELEVENTS, VPOLL_IO_SETEVENTS};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::events::Events;
use crate::op::Op;
use crate::sys;
use std::fs::OpenOptions;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

const BACKEND: Backend = Backend::Device;

/// One open `/dev/vpoll`.
#[derive(Debug)]
pub(crate) struct Device {
    fd: OwnedFd,
}

impl Device {
    /// Opens a new vpoll object with `events` pending.
    pub(crate) fn create(events: Events, cloexec: bool) -> Result<Device> {
        // std opens every file close-on-exec; an inheritable fd is asked for afterwards.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(crate::abi::DEVICE_PATH)
            .map_err(|e| crate::error::create_error(BACKEND, "open(/dev/vpoll)", e))?;
        let device = Device { fd: file.into() };
        if !cloexec {
            use nix::fcntl::{fcntl, FcntlArg, FdFlag};
            fcntl(&device.fd, FcntlArg::F_SETFD(FdFlag::empty())).map_err(|e| Error::Io {
                backend: BACKEND,
                operation: "fcntl(F_SETFD)",
                source: e.into(),
            })?;
        }
        if !events.is_empty() {
            device.apply(Op::Set, events)?;
        }
        Ok(device)
    }

    /// Applies `op` atomically in the kernel; returns the resulting mask.
    #[inline]
    pub(crate) fn apply(&self, op: Op, events: Events) -> Result<Events> {
        apply(self.fd.as_fd(), op, events)
    }

    /// The pending mask (see [`events`]).
    pub(crate) fn events(&self) -> Result<Events> {
        events(self.fd.as_fd())
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Adopts an fd already known to be one of ours.
    pub(crate) fn from_fd(fd: OwnedFd) -> Device {
        Device { fd }
    }

    pub(crate) fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

/// Applies `op` to the `/dev/vpoll` fd `fd` (ours or the C module's)
/// atomically in the kernel; returns the resulting mask. Any other file
/// refuses the ioctls (`ENOTTY`, or `EINVAL` from some drivers): their magic
/// `'^'` is registered to nobody else.
#[inline]
pub(crate) fn apply(fd: BorrowedFd<'_>, op: Op, events: Events) -> Result<Events> {
    let cmd = match op {
        Op::Add => VPOLL_IO_ADDEVENTS,
        Op::Del => VPOLL_IO_DELEVENTS,
        Op::Set => VPOLL_IO_SETEVENTS,
    };
    sys::ioctl_int(fd, cmd, events.bits())
        // The driver answers with the mask itself, already within EPOLLALLMASK.
        .map(Events::from_bits_retain)
        .map_err(|source| Error::Io {
            backend: BACKEND,
            // Named only on failure: this is the fast path.
            operation: match op {
                Op::Add => "ioctl(VPOLL_IO_ADDEVENTS)",
                Op::Del => "ioctl(VPOLL_IO_DELEVENTS)",
                Op::Set => "ioctl(VPOLL_IO_SETEVENTS)",
            },
            source,
        })
}

/// Whether a file answered a vpoll ioctl as one it does not have: `ENOTTY`,
/// or `EINVAL` from some drivers and from the C module for commands it
/// lacks (`VPOLL_IO_BATCH`).
pub(crate) fn refuses(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTTY | libc::EINVAL))
}

/// The pending mask of `/dev/vpoll` fd `fd`: an 8-byte `read`, or for the C
/// module (which has no `read`) a DEL of nothing, which changes nothing and
/// returns the mask.
pub(crate) fn events(fd: BorrowedFd<'_>) -> Result<Events> {
    match sys::read_u64(fd) {
        Ok(mask) => Ok(Events::from_mask(mask as u32)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => apply(fd, Op::Del, Events::empty()),
        Err(source) => Err(Error::Io {
            backend: BACKEND,
            operation: "read(/dev/vpoll)",
            source,
        }),
    }
}
