// SPDX-License-Identifier: MIT OR Apache-2.0

//! The fds being compared, each with the cheapest way to raise and clear one
//! readiness event: the two ioctls of a vpoll device, an eventfd's write and
//! read, an `EFD_VPOLL` eventfd's two commands.
#![allow(unsafe_code)] // raw system calls on the fds it measures

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use vpoll::abi::{self, events::IN};

/// Our device node.
pub const VPOLL_NODE: &str = "/dev/vpoll";

/// The node of the C module, renamed so that it loads beside ours.
pub const C_MODULE_NODE: &str = "/dev/vpoll_c";

/// A kind of signalling fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Our module's `/dev/vpoll`.
    Vpoll,
    /// The C module (`vpoll-dkms`), at [`C_MODULE_NODE`].
    CModule,
    /// A plain eventfd used as a counter: the floor for "signal an fd".
    EventFd,
    /// An `EFD_VPOLL` eventfd (the test kernel's patch).
    EfdVpoll,
}

impl Kind {
    /// A short name for tables.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Vpoll => "vpoll",
            Kind::CModule => "C module",
            Kind::EventFd => "eventfd",
            Kind::EfdVpoll => "EFD_VPOLL",
        }
    }
}

/// One open fd of a [`Kind`].
pub struct Signal {
    kind: Kind,
    fd: OwnedFd,
}

impl Signal {
    /// Opens a new fd of `kind`, its event clear.
    pub fn open(kind: Kind) -> io::Result<Signal> {
        let fd = match kind {
            Kind::Vpoll => open_node(VPOLL_NODE)?,
            Kind::CModule => open_node(C_MODULE_NODE)?,
            Kind::EventFd => eventfd(0)?,
            Kind::EfdVpoll => eventfd(abi::EFD_VPOLL)?,
        };
        Ok(Signal { kind, fd })
    }

    /// Makes the fd readable (IN).
    #[inline]
    pub fn raise(&self) {
        match self.kind {
            Kind::Vpoll | Kind::CModule => ioctl(self.fd.as_raw_fd(), abi::VPOLL_IO_ADDEVENTS),
            Kind::EventFd => write_u64(self.fd.as_raw_fd(), 1),
            Kind::EfdVpoll => write_u64(self.fd.as_raw_fd(), abi::EFD_VPOLL_ADDEVENTS | IN as u64),
        }
    }

    /// Makes it not readable again.
    #[inline]
    pub fn clear(&self) {
        match self.kind {
            Kind::Vpoll | Kind::CModule => ioctl(self.fd.as_raw_fd(), abi::VPOLL_IO_DELEVENTS),
            Kind::EventFd => {
                let mut buf = [0u8; 8];
                // SAFETY: an 8-byte buffer for an 8-byte read.
                let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
                assert_eq!(n, 8, "eventfd read");
            }
            Kind::EfdVpoll => write_u64(self.fd.as_raw_fd(), abi::EFD_VPOLL_DELEVENTS | IN as u64),
        }
    }
}

impl AsRawFd for Signal {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn open_node(path: &str) -> io::Result<OwnedFd> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)?;
    Ok(file.into())
}

fn eventfd(flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes two integers.
    let fd = unsafe { libc::eventfd(0, flags | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[inline]
fn ioctl(fd: RawFd, cmd: u32) {
    // SAFETY: vpoll ioctls take an integer argument.
    let ret = unsafe { libc::ioctl(fd, cmd as _, IN as libc::c_ulong) };
    assert!(ret >= 0, "vpoll ioctl failed");
}

#[inline]
fn write_u64(fd: RawFd, value: u64) {
    let buf = value.to_ne_bytes();
    // SAFETY: an 8-byte buffer for an 8-byte write.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), 8) };
    assert_eq!(n, 8, "eventfd write");
}
