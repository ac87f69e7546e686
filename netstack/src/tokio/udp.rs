// SPDX-License-Identifier: MIT OR Apache-2.0

//! `UdpSocket` for tokio.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{Interest, ReadBuf, Ready};

use super::io_err;
use crate::error::{Error, Result};
use crate::stack::Stack;

/// A UDP socket for tokio, addressed per datagram.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use vpoll_netstack::{tokio::UdpSocket, Link, Stack};
/// # let (a, b) = Link::pair()?;
/// # let one = Stack::builder(a).address("10.0.0.1".parse()?, 24).start()?;
/// # let two = Stack::builder(b).address("10.0.0.2".parse()?, 24).start()?;
/// let server = UdpSocket::bind(&one, "10.0.0.1:53".parse()?)?;
/// let client = UdpSocket::bind(&two, "10.0.0.2:0".parse()?)?;
/// client.send_to(b"query", "10.0.0.1:53".parse()?).await?;
/// let mut buf = [0; 64];
/// let (n, from) = server.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"query"[..], client.local_addr()?));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    inner: AsyncFd<crate::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (port 0: a free one); must be called within a tokio
    /// runtime.
    pub fn bind(stack: &Stack, addr: SocketAddr) -> Result<UdpSocket> {
        UdpSocket::from_std(crate::UdpSocket::bind(stack, addr)?)
    }

    /// Wraps a socket (made non-blocking).
    pub fn from_std(socket: crate::UdpSocket) -> Result<UdpSocket> {
        socket.set_nonblocking(true);
        // SAFETY: the socket owns its vpoll fd for its whole life and closes
        // it only when dropped, which the `AsyncFd` does after deregistering.
        let inner = unsafe { AsyncFd::register(socket) }.map_err(|e| io_err(e.into_parts().1))?;
        Ok(UdpSocket { inner })
    }

    /// The socket, no longer registered with tokio (still non-blocking).
    pub fn into_std(self) -> Result<crate::UdpSocket> {
        Ok(self.inner.into_inner())
    }

    /// The bound address, with the port chosen.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.inner.get_ref().local_addr())
    }

    /// Sends `buf` as one datagram to `target`, waiting for room.
    pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> Result<usize> {
        std::future::poll_fn(|cx| self.poll_send_to(cx, buf, target)).await
    }

    /// Polls a [`send_to`](UdpSocket::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<Result<usize>> {
        loop {
            let mut guard = ready!(self.inner.poll_write_ready(cx)).map_err(io_err)?;
            match guard.get_inner().send_to(buf, target) {
                Err(Error::WouldBlock) => guard.clear_ready(),
                done => return Poll::Ready(done),
            }
        }
    }

    /// Sends without waiting: `WouldBlock` (and the readiness cleared) if
    /// there is no room.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.inner
            .try_io(Interest::WRITABLE, |s| Ok(s.send_to(buf, target)?))
    }

    /// Waits for a datagram: its length (cut to `buf`'s) and its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        let mut buf = ReadBuf::new(buf);
        let from = std::future::poll_fn(|cx| self.poll_recv_from(cx, &mut buf)).await?;
        Ok((buf.filled().len(), from))
    }

    /// Polls a [`recv_from`](UdpSocket::recv_from): the datagram goes into
    /// `buf`'s unfilled part.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<Result<SocketAddr>> {
        loop {
            let mut guard = ready!(self.inner.poll_read_ready(cx)).map_err(io_err)?;
            match guard
                .get_inner()
                .recv_into(&mut super::ReadBufInto(&mut *buf))
            {
                Err(Error::WouldBlock) => guard.clear_ready(),
                Ok((_, from)) => return Poll::Ready(Ok(from)),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Receives without waiting: `WouldBlock` (and the readiness cleared)
    /// if no datagram waits.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner
            .try_io(Interest::READABLE, |s| Ok(s.recv_from(buf)?))
    }

    /// Waits until the socket is ready for any of `interest`; says which.
    pub async fn ready(&self, interest: Interest) -> Result<Ready> {
        let guard = self.inner.ready(interest).await.map_err(io_err)?;
        Ok(guard.ready())
    }

    /// Waits until a datagram waits.
    pub async fn readable(&self) -> Result<()> {
        self.ready(Interest::READABLE).await.map(drop)
    }

    /// Waits until a datagram may be sent.
    pub async fn writable(&self) -> Result<()> {
        self.ready(Interest::WRITABLE).await.map(drop)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get_ref().as_fd()
    }
}
