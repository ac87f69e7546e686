// SPDX-License-Identifier: MIT OR Apache-2.0

//! UDP, shaped like `std::net::UdpSocket`.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use std::sync::Arc;

use vpoll::Backend;

use crate::engine::{Key, ReadInto, SliceInto};
use crate::error::{Error, Result};
use crate::socket::{SocketFd, Want};
use crate::stack::Stack;

/// A UDP socket of a [`Stack`]. Its fd is readable when a datagram waits and
/// writable while the send buffer has room.
///
/// ```
/// # use vpoll_netstack::{Link, Stack, UdpSocket};
/// # let (link, _peer) = Link::pair()?;
/// # let stack = Stack::builder(link).address("10.0.0.1".parse().unwrap(), 24).start()?;
/// let socket = UdpSocket::bind(&stack, "0.0.0.0:0".parse().unwrap())?;
/// assert_ne!(socket.local_addr().port(), 0);
/// # Ok::<(), vpoll_netstack::Error>(())
/// ```
pub struct UdpSocket {
    fd: SocketFd,
    key: Key,
    local: SocketAddr,
}

impl UdpSocket {
    /// Binds to `addr`; port 0 picks a free port.
    pub fn bind(stack: &Stack, addr: SocketAddr) -> Result<UdpSocket> {
        let shown = stack.shared.new_fd()?;
        let (key, port) = stack.shared.lock().bind_udp(addr, Arc::clone(&shown))?;
        let mut local = addr;
        local.set_port(port);
        Ok(UdpSocket {
            fd: SocketFd::new(stack.shared.clone(), shown),
            key,
            local,
        })
    }

    /// Sends `buf` as one datagram to `addr`.
    pub fn send_to(&self, buf: &[u8], addr: SocketAddr) -> Result<usize> {
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return Err(Error::InvalidAddress {
                addr: addr.to_string(),
                why: "a datagram needs an address and a port",
            });
        }
        self.fd.blocking(Want::Write, || {
            self.fd.shared.lock().send_to(self.key, buf, addr)
        })
    }

    /// Receives one datagram: its length (cut to `buf`'s, as the kernel
    /// does) and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        self.recv_into(&mut SliceInto::new(buf))
    }

    /// [`recv_from`](UdpSocket::recv_from) into any destination: tokio's
    /// `ReadBuf` takes the datagram without being zeroed first.
    pub(crate) fn recv_into(&self, dest: &mut dyn ReadInto) -> Result<(usize, SocketAddr)> {
        self.fd.blocking(Want::Read, || {
            self.fd.shared.lock().recv_from(self.key, &mut *dest)
        })
    }

    /// The bound address, with the port chosen.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// In non-blocking mode calls that would wait say [`Error::WouldBlock`].
    pub fn set_nonblocking(&self, nonblocking: bool) {
        self.fd.set_nonblocking(nonblocking);
    }

    /// How long a blocking `recv_from` waits (`None`: for ever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        self.fd.set_timeout(Want::Read, timeout)
    }

    /// The vpoll backend that shows its readiness.
    pub fn backend(&self) -> Backend {
        self.fd.shown.vpoll.backend()
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        self.fd.shared.lock().release_udp(self.key);
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.shown.vpoll.as_fd()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.shown.vpoll.as_raw_fd()
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local)
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
