// SPDX-License-Identifier: MIT OR Apache-2.0

//! The few system calls nix does not wrap the way vpoll needs: an integer
//! ioctl and `eventfd` with the `EFD_VPOLL` flag. The only `unsafe` in the crate.

#![allow(unsafe_code)]

use crate::abi::{BatchEntry, BatchHeader, VPOLL_IO_BATCH};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `ioctl(fd, cmd, arg)` for a command whose argument is an integer, not a
/// pointer; returns the non-negative result.
///
/// # References
/// - `ioctl(2)`; the vpoll ioctls take the event mask itself.
#[inline]
pub(crate) fn ioctl_int(fd: BorrowedFd<'_>, cmd: u32, arg: u32) -> io::Result<u32> {
    // SAFETY: the argument is passed by value; the driver reads no memory
    // through it, and `fd` is a valid open descriptor for the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), cmd as _, arg as libc::c_ulong) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as u32)
    }
}

/// `ioctl(fd, VPOLL_IO_BATCH, &header)` for `entries`, which get their
/// results; returns the number of entries the kernel processed.
///
/// # References
/// - `kmod/batch.rs`: the rules, and which errors leave what applied.
pub(crate) fn ioctl_batch(fd: BorrowedFd<'_>, entries: &mut [BatchEntry]) -> io::Result<u32> {
    let header = BatchHeader {
        entries: entries.as_mut_ptr() as u64,
        count: u32::try_from(entries.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        flags: 0,
    };
    // SAFETY: `header` and the entries it points at are valid, writable
    // memory of the sizes the ioctl reads and writes, for the call's duration.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), VPOLL_IO_BATCH as _, &header) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as u32)
    }
}

/// `eventfd(initval, flags)`, passing flag bits libc and nix do not know.
///
/// # References
/// - `eventfd(2)`; `EFD_VPOLL` in vpoll's kernel patch.
pub(crate) fn eventfd(initval: u32, flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes two integers and returns a new descriptor or -1.
    let fd = unsafe { libc::eventfd(initval, flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one native-endian `u64` (the vpoll mask); a short read is an error.
pub(crate) fn read_u64(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    match nix::unistd::read(fd, &mut buf)? {
        8 => Ok(u64::from_ne_bytes(buf)),
        n => Err(io::Error::other(format!("read returned {n} of 8 bytes"))),
    }
}

/// Writes one native-endian `u64` (an `EFD_VPOLL` command); a short write is an error.
pub(crate) fn write_u64(fd: BorrowedFd<'_>, value: u64) -> io::Result<()> {
    match nix::unistd::write(fd, &value.to_ne_bytes())? {
        8 => Ok(()),
        n => Err(io::Error::other(format!("write took {n} of 8 bytes"))),
    }
}

/// The raw `revents` that `poll(2)` reports for `fd` right now, asking for
/// every event that fits its 16-bit field. (nix's `PollFd::revents` gives
/// nothing at all when a bit it does not name, such as `POLLRDHUP`, is set.)
pub(crate) fn poll_now(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: 0x7fff,
        revents: 0,
    };
    // SAFETY: one valid pollfd and no wait.
    if unsafe { libc::poll(&mut p, 1, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(p.revents as u16 as u32)
}
