// SPDX-License-Identifier: MIT OR Apache-2.0

//! The stack's Ethernet link: a file descriptor that carries one frame per
//! read and write. A Linux TAP interface (the kernel on the other side) and a
//! socket pair between two stacks of one process (no root, no kernel support:
//! what host tests use) are both such an fd.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::socket::{setsockopt, socketpair, sockopt, AddressFamily, SockFlag, SockType};
use nix::sys::stat::Mode;
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::error::{Error, Result};

/// Ethernet's header, which smoltcp counts in the MTU of an Ethernet device.
const ETHERNET_HEADER: usize = 14;

/// The default IP MTU of a link, Ethernet's.
pub const DEFAULT_MTU: usize = 1500;

/// An Ethernet link for a [`Stack`](crate::Stack).
///
/// ```
/// use vpoll_netstack::Link;
/// let (a, b) = Link::pair()?;
/// assert_eq!(a.mtu(), 1500);
/// # drop(b);
/// # Ok::<(), vpoll_netstack::Error>(())
/// ```
#[derive(Debug)]
pub struct Link {
    fd: OwnedFd,
    mtu: usize,
    rx: Vec<u8>,
    tx: Vec<u8>,
    /// A frame the fd refused (`EAGAIN`): sent before any other, so that a
    /// full link slows the stack down instead of losing frames.
    held: Option<Vec<u8>>,
    name: Option<String>,
}

impl Link {
    /// Two links joined back to back, for two stacks in one process: an
    /// `AF_UNIX` `SOCK_SEQPACKET` pair, one frame per message.
    pub fn pair() -> Result<(Link, Link)> {
        Link::pair_with_mtu(DEFAULT_MTU)
    }

    /// [`pair`](Link::pair) with an IP MTU of `mtu` bytes (at least 1280,
    /// IPv6's minimum; at most 65,000).
    pub fn pair_with_mtu(mtu: usize) -> Result<(Link, Link)> {
        check_mtu(mtu)?;
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| link_err("socketpair", e))?;
        for fd in [&a, &b] {
            // Room for a window's worth of frames in flight; the kernel
            // clamps what it does not allow.
            setsockopt(fd, sockopt::SndBuf, &(4 << 20)).map_err(|e| link_err("SO_SNDBUF", e))?;
        }
        Ok((Link::from_fd(a, mtu, None), Link::from_fd(b, mtu, None)))
    }

    /// Opens the TAP interface `name` (made if it does not exist; needs
    /// `CAP_NET_ADMIN`), with its MTU as the kernel reports it. Bring the
    /// kernel's side up and give it an address (`ip link set NAME up`,
    /// `ip addr add …`) to talk to the kernel's stack.
    pub fn tap(name: &str) -> Result<Link> {
        let tap_err = |source: io::Error| Error::Tap {
            name: name.to_owned(),
            source,
        };
        let fd = open(
            "/dev/net/tun",
            OFlag::O_RDWR | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| tap_err(e.into()))?;
        crate::sys::tun_set_iff(fd.as_fd(), name).map_err(tap_err)?;
        let mtu = std::fs::read_to_string(format!("/sys/class/net/{name}/mtu"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(DEFAULT_MTU);
        Ok(Link::from_fd(fd, mtu, Some(name.to_owned())))
    }

    fn from_fd(fd: OwnedFd, mtu: usize, name: Option<String>) -> Link {
        let frame = mtu + ETHERNET_HEADER;
        Link {
            fd,
            mtu,
            rx: vec![0; frame],
            tx: vec![0; frame],
            held: None,
            name,
        }
    }

    /// The IP MTU.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// The TAP interface's name, `None` for a pair.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether a frame waits for room on the fd (then the stack waits for
    /// `POLLOUT` too).
    pub(crate) fn is_blocked(&self) -> bool {
        self.held.is_some()
    }

    /// Sends the held frame if the fd takes it now.
    fn flush(&mut self) {
        if let Some(frame) = &self.held {
            match nix::unistd::write(&self.fd, frame) {
                Err(Errno::EAGAIN) => {}
                // Sent, or lost the way a wire loses it (the interface went
                // down): TCP retransmits either way.
                _ => self.held = None,
            }
        }
    }
}

fn check_mtu(mtu: usize) -> Result<()> {
    if (1280..=65_000).contains(&mtu) {
        Ok(())
    } else {
        Err(Error::InvalidAddress {
            addr: format!("mtu {mtu}"),
            why: "a link's MTU is 1280 to 65000 bytes",
        })
    }
}

fn link_err(what: &'static str, e: Errno) -> Error {
    Error::Link {
        what,
        source: e.into(),
    }
}

impl AsFd for Link {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Link {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

/// A received frame.
pub struct RxToken<'a> {
    frame: &'a [u8],
}

/// Room for one frame to send.
pub struct TxToken<'a> {
    fd: &'a OwnedFd,
    buf: &'a mut Vec<u8>,
    held: &'a mut Option<Vec<u8>>,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let frame = &mut self.buf[..len];
        let r = f(frame);
        if let Err(Errno::EAGAIN) = nix::unistd::write(self.fd, frame) {
            *self.held = Some(frame.to_vec());
        }
        r
    }
}

impl phy::Device for Link {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        self.flush();
        let n = match nix::unistd::read(&self.fd, &mut self.rx) {
            Ok(n) if n > 0 => n,
            // Nothing waiting (EAGAIN), the other end closed (0), or an
            // error a wire would show as silence.
            _ => return None,
        };
        Some((
            RxToken {
                frame: &self.rx[..n],
            },
            TxToken {
                fd: &self.fd,
                buf: &mut self.tx,
                held: &mut self.held,
            },
        ))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        self.flush();
        if self.held.is_some() {
            return None;
        }
        Some(TxToken {
            fd: &self.fd,
            buf: &mut self.tx,
            held: &mut self.held,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu + ETHERNET_HEADER;
        caps
    }
}
