// SPDX-License-Identifier: MIT OR Apache-2.0

//! The one system call nix has no safe wrapper for: `TUNSETIFF`.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

nix::ioctl_write_ptr_bad!(tunsetiff, libc::TUNSETIFF, libc::ifreq);

/// Attaches the `/dev/net/tun` fd to the TAP interface `name`, frames
/// without the packet-information header.
pub(crate) fn tun_set_iff(fd: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= req.ifr_name.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an interface name is 1 to 15 bytes, without NUL",
        ));
    }
    for (dst, &src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    // The flags are a short in ifreq; both fit.
    req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: fd is open for the call's duration; req is a valid ifreq that
    // the kernel only reads (and writes the name back into, within its size).
    unsafe { tunsetiff(fd.as_raw_fd(), &req) }?;
    Ok(())
}
