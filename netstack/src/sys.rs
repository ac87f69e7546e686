// SPDX-License-Identifier: MIT OR Apache-2.0

//! The one system call nix has no safe wrapper for: `TUNSETIFF`.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

nix::ioctl_write_ptr_bad!(tunsetiff, libc::TUNSETIFF, libc::ifreq);

/// An `ifreq` naming interface `name` (1 to 15 bytes, no NUL), all else zero.
fn ifreq(name: &str) -> io::Result<libc::ifreq> {
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
    Ok(req)
}

/// Attaches the `/dev/net/tun` fd to the TAP interface `name`, frames
/// without the packet-information header.
pub(crate) fn tun_set_iff(fd: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    let mut req = ifreq(name)?;
    // The flags are a short in ifreq; both fit.
    req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: fd is open for the call's duration; req is a valid ifreq that
    // the kernel only reads (and writes the name back into, within its size).
    unsafe { tunsetiff(fd.as_raw_fd(), &req) }?;
    Ok(())
}

nix::ioctl_write_ptr_bad!(siocsifmtu, libc::SIOCSIFMTU, libc::ifreq);

/// Sets the MTU of interface `name` (`ip link set NAME mtu MTU`; needs
/// `CAP_NET_ADMIN`).
pub(crate) fn set_mtu(name: &str, mtu: usize) -> io::Result<()> {
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_mtu = libc::c_int::try_from(mtu)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "an MTU fits an int"))?;
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: sock is open for the call's duration; req is a valid ifreq
    // that the kernel only reads.
    unsafe { siocsifmtu(sock.as_raw_fd(), &req) }?;
    Ok(())
}
