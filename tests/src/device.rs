// SPDX-License-Identifier: MIT OR Apache-2.0

//! A thin handle on one open `/dev/vpoll`, speaking the raw ABI so tests can
//! see exactly what the kernel answers (the library's `Vpoll` type comes later).
#![allow(unsafe_code)] // ioctls and reads on the device, as C clients make them

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

    /// `VPOLL_IO_BATCH` for `entries`, which get their results; returns what
    /// the ioctl returned.
    pub fn batch(&self, entries: &mut [abi::BatchEntry]) -> Result<u32, Errno> {
        let header = abi::BatchHeader {
            entries: entries.as_mut_ptr() as u64,
            count: entries.len() as u32,
            flags: 0,
        };
        // SAFETY: the header and the entries are valid, writable memory of
        // the sizes the ioctl reads and writes.
        unsafe { self.batch_raw(&header) }
    }

    /// `VPOLL_IO_BATCH` with any header, which may point anywhere.
    ///
    /// # Safety
    ///
    /// `header` and what it points at must be memory the kernel may read
    /// and write, or memory the process does not map (the kernel then
    /// answers `EFAULT`).
    pub unsafe fn batch_raw(&self, header: *const abi::BatchHeader) -> Result<u32, Errno> {
        // SAFETY: the caller vouches for the memory; the kernel checks it.
        let ret = unsafe { libc::ioctl(self.0.as_raw_fd(), abi::VPOLL_IO_BATCH as _, header) };
        Errno::result(ret).map(|n| n as u32)
    }

    /// An 8-byte `EFD_VPOLL` command by `write`.
    pub fn command(&self, command: u64) -> Result<usize, Errno> {
        nix::unistd::write(&self.0, &command.to_ne_bytes())
    }
}

/// One entry of a `VPOLL_IO_BATCH`.
pub fn entry(fd: &impl AsRawFd, op: i32, events: u32) -> abi::BatchEntry {
    abi::BatchEntry {
        fd: fd.as_raw_fd(),
        op: op as u32,
        events,
        result: 0,
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
