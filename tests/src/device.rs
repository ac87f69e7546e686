// SPDX-License-Identifier: MIT OR Apache-2.0

//! A thin handle on one open `/dev/vpoll`, speaking the raw ABI so tests can
//! see exactly what the kernel answers (the library's `Vpoll` type comes later).

use nix::errno::Errno;
use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use vpoll::abi;

/// The device node.
pub const DEVICE: &str = "/dev/vpoll";

/// One open `/dev/vpoll`: one vpoll object.
#[derive(Debug)]
pub struct Device(OwnedFd);

impl Device {
    /// Opens a new vpoll object (close-on-exec).
    pub fn open() -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(DEVICE)?;
        Ok(Self(file.into()))
    }

    /// `ioctl(fd, cmd, arg)` with an integer argument, as the C module takes it.
    pub fn ioctl(&self, cmd: u32, arg: u64) -> Result<u32, Errno> {
        // SAFETY: vpoll ioctls take an integer argument, never a pointer; an
        // unknown command is refused by the driver without touching memory.
        let ret = unsafe { libc::ioctl(self.0.as_raw_fd(), cmd as _, arg as libc::c_ulong) };
        Errno::result(ret).map(|mask| mask as u32)
    }

    /// `VPOLL_IO_ADDEVENTS`; returns the resulting mask.
    pub fn add(&self, events: u32) -> u32 {
        self.ioctl(abi::VPOLL_IO_ADDEVENTS, events.into())
            .expect("VPOLL_IO_ADDEVENTS")
    }

    /// `VPOLL_IO_DELEVENTS`; returns the resulting mask.
    pub fn del(&self, events: u32) -> u32 {
        self.ioctl(abi::VPOLL_IO_DELEVENTS, events.into())
            .expect("VPOLL_IO_DELEVENTS")
    }

    /// `VPOLL_IO_SETEVENTS`; returns the resulting mask.
    pub fn set(&self, events: u32) -> u32 {
        self.ioctl(abi::VPOLL_IO_SETEVENTS, events.into())
            .expect("VPOLL_IO_SETEVENTS")
    }

    /// The pending mask, by an 8-byte `read`.
    pub fn mask(&self) -> u32 {
        let mut buf = [0u8; 8];
        assert_eq!(
            nix::unistd::read(&self.0, &mut buf),
            Ok(8),
            "read of the mask"
        );
        let mask = u64::from_ne_bytes(buf);
        u32::try_from(mask).expect("mask fits in 32 bits")
    }

    /// An 8-byte `EFD_VPOLL` command by `write`.
    pub fn command(&self, command: u64) -> Result<usize, Errno> {
        nix::unistd::write(&self.0, &command.to_ne_bytes())
    }
}

impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for Device {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}
