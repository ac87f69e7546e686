// SPDX-License-Identifier: MIT OR Apache-2.0

//! Async sockets for tokio: `AsyncFd` on each socket's vpoll fd, so the
//! runtime's epoll wakes the task exactly when the kernel would for a kernel
//! socket. Shaped like `tokio::net`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use vpoll_netstack::{tokio::{TcpListener, TcpStream}, Link, Stack};
//!
//! let (a, b) = Link::pair()?;
//! let server = Stack::builder(a).address("10.0.0.1".parse()?, 24).start()?;
//! let client = Stack::builder(b).address("10.0.0.2".parse()?, 24).start()?;
//! let listener = TcpListener::bind(&server, "10.0.0.1:80".parse()?)?;
//! let mut out = TcpStream::connect(&client, "10.0.0.1:80".parse()?).await?;
//! let (mut conn, _) = listener.accept().await?;
//! out.write_all(b"GET /").await?;
//! let mut buf = [0; 5];
//! conn.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"GET /");
//! # Ok(()) }
//! ```

#![allow(unsafe_code)]

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::error::{Error, Result};
use crate::stack::Stack;

/// A TCP listener for tokio.
#[derive(Debug)]
pub struct TcpListener {
    inner: AsyncFd<crate::TcpListener>,
}

impl TcpListener {
    /// Listens on `addr`; must be called within a tokio runtime.
    pub fn bind(stack: &Stack, addr: SocketAddr) -> Result<TcpListener> {
        TcpListener::from_std(crate::TcpListener::bind(stack, addr)?)
    }

    /// Wraps a listener (made non-blocking).
    pub fn from_std(listener: crate::TcpListener) -> Result<TcpListener> {
        listener.set_nonblocking(true);
        // SAFETY: the listener owns its vpoll fd (an `Arc<Vpoll>` it never
        // replaces) and closes it only when dropped, which the `AsyncFd`
        // does after deregistering.
        let inner = unsafe { AsyncFd::register_with_interest(listener, Interest::READABLE) }
            .map_err(|e| io_err(e.into_parts().1))?;
        Ok(TcpListener { inner })
    }

    /// Waits for a connection.
    pub async fn accept(&self) -> Result<(TcpStream, SocketAddr)> {
        loop {
            let mut guard = self.inner.readable().await.map_err(io_err)?;
            match guard.get_inner().accept() {
                Err(Error::WouldBlock) => guard.clear_ready(),
                Ok((stream, peer)) => return Ok((TcpStream::from_std(stream)?, peer)),
                Err(e) => return Err(e),
            }
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.get_ref().local_addr()
    }
}

/// A TCP connection for tokio, `AsyncRead + AsyncWrite`.
#[derive(Debug)]
pub struct TcpStream {
    inner: AsyncFd<crate::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`.
    pub async fn connect(stack: &Stack, addr: SocketAddr) -> Result<TcpStream> {
        let stream = TcpStream::from_std(crate::TcpStream::connect_nonblocking(stack, addr)?)?;
        loop {
            let mut guard = stream.inner.writable().await.map_err(io_err)?;
            match guard.get_inner().connected() {
                Err(Error::WouldBlock) => guard.clear_ready(),
                Ok(()) => return Ok(stream),
                Err(e) => return Err(e),
            }
        }
    }

    /// Wraps a stream (made non-blocking).
    pub fn from_std(stream: crate::TcpStream) -> Result<TcpStream> {
        stream.set_nonblocking(true);
        // SAFETY: as for the listener: the stream's vpoll fd is its own, the
        // same for its whole life, closed only when the stream is dropped.
        let inner = unsafe { AsyncFd::register(stream) }.map_err(|e| io_err(e.into_parts().1))?;
        Ok(TcpStream { inner })
    }

    /// The stream underneath (non-blocking).
    pub fn get_ref(&self) -> &crate::TcpStream {
        self.inner.get_ref()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.inner.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.get_inner().read(unfilled) {
                Err(Error::WouldBlock) => guard.clear_ready(),
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.inner.poll_write_ready(cx))?;
            match guard.get_inner().write(buf) {
                Err(Error::WouldBlock) => guard.clear_ready(),
                done => return Poll::Ready(done.map_err(Into::into)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(
            self.inner
                .get_ref()
                .shutdown(Shutdown::Write)
                .map_err(Into::into),
        )
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

fn io_err(source: io::Error) -> Error {
    Error::Io {
        what: "registering with tokio",
        source,
    }
}
