// SPDX-License-Identifier: MIT OR Apache-2.0

//! `TcpListener` and `TcpStream` for tokio.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf, Ready};

use super::io_err;
use super::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use crate::error::{Error, Result};
use crate::stack::Stack;

/// A TCP listener for tokio.
#[derive(Debug)]
pub struct TcpListener {
    inner: AsyncFd<crate::TcpListener>,
}

impl TcpListener {
    /// Listens on `addr` with a backlog of
    /// [`DEFAULT_BACKLOG`](crate::DEFAULT_BACKLOG); must be called within a
    /// tokio runtime.
    pub fn bind(stack: &Stack, addr: SocketAddr) -> Result<TcpListener> {
        TcpListener::from_std(crate::TcpListener::bind(stack, addr)?)
    }

    /// Wraps a listener (made non-blocking); must be called within a tokio
    /// runtime.
    pub fn from_std(listener: crate::TcpListener) -> Result<TcpListener> {
        listener.set_nonblocking(true);
        // SAFETY: the listener owns its vpoll fd (an `Arc<Vpoll>` it never
        // replaces) and closes it only when dropped, which the `AsyncFd`
        // does after deregistering.
        let inner = unsafe { AsyncFd::register_with_interest(listener, Interest::READABLE) }
            .map_err(|e| io_err(e.into_parts().1))?;
        Ok(TcpListener { inner })
    }

    /// The listener, no longer registered with tokio (still non-blocking).
    pub fn into_std(self) -> Result<crate::TcpListener> {
        Ok(self.inner.into_inner())
    }

    /// Waits for a connection.
    pub async fn accept(&self) -> Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Takes a connection that waits, or registers `cx` to be woken when
    /// one does.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<(TcpStream, SocketAddr)>> {
        loop {
            let mut guard = ready!(self.inner.poll_read_ready(cx)).map_err(io_err)?;
            match guard.get_inner().accept() {
                Err(Error::WouldBlock) => guard.clear_ready(),
                Ok((stream, peer)) => return Poll::Ready(Ok((TcpStream::from_std(stream)?, peer))),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.inner.get_ref().local_addr())
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get_ref().as_fd()
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
        TcpStream::connected(crate::TcpStream::connect_nonblocking(stack, addr)?).await
    }

    /// Waits for the handshake of a stream that is connecting.
    pub(crate) async fn connected(stream: crate::TcpStream) -> Result<TcpStream> {
        let stream = TcpStream::from_std(stream)?;
        loop {
            let mut guard = stream.inner.writable().await.map_err(io_err)?;
            match guard.get_inner().connected() {
                Err(Error::WouldBlock) => guard.clear_ready(),
                Ok(()) => return Ok(stream),
                Err(e) => return Err(e),
            }
        }
    }

    /// Wraps a stream (made non-blocking); must be called within a tokio
    /// runtime.
    pub fn from_std(stream: crate::TcpStream) -> Result<TcpStream> {
        stream.set_nonblocking(true);
        // SAFETY: as for the listener: the stream's vpoll fd is its own, the
        // same for its whole life, closed only when the stream is dropped.
        let inner = unsafe { AsyncFd::register(stream) }.map_err(|e| io_err(e.into_parts().1))?;
        Ok(TcpStream { inner })
    }

    /// The stream, no longer registered with tokio (still non-blocking).
    pub fn into_std(self) -> Result<crate::TcpStream> {
        Ok(self.inner.into_inner())
    }

    /// The stream underneath (non-blocking).
    pub fn get_ref(&self) -> &crate::TcpStream {
        self.inner.get_ref()
    }

    /// This end's address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        self.get_ref().peer_addr()
    }

    /// The pending error (a reset, a timeout), taken, as `SO_ERROR`.
    pub fn take_error(&self) -> Result<Option<Error>> {
        self.get_ref().take_error()
    }

    /// Waits until the stream is ready for any of `interest`; says which.
    pub async fn ready(&self, interest: Interest) -> Result<Ready> {
        let guard = self.inner.ready(interest).await.map_err(io_err)?;
        Ok(guard.ready())
    }

    /// Waits until a read may make progress (data, the end, an error).
    pub async fn readable(&self) -> Result<()> {
        self.ready(Interest::READABLE).await.map(drop)
    }

    /// Waits until a write may make progress.
    pub async fn writable(&self) -> Result<()> {
        self.ready(Interest::WRITABLE).await.map(drop)
    }

    /// Polls for read readiness.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner
            .poll_read_ready(cx)
            .map(|r| r.map(drop).map_err(io_err))
    }

    /// Polls for write readiness.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner
            .poll_write_ready(cx)
            .map(|r| r.map(drop).map_err(io_err))
    }

    /// Reads what has arrived without waiting: `WouldBlock` (and the
    /// readiness cleared) if nothing has.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.try_io(Interest::READABLE, |s| Ok(s.read(buf)?))
    }

    /// Writes what fits without waiting: `WouldBlock` (and the readiness
    /// cleared) if nothing does.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.try_io(Interest::WRITABLE, |s| Ok(s.write(buf)?))
    }

    /// [`try_write`](TcpStream::try_write) of several buffers, in order.
    pub fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner
            .try_io(Interest::WRITABLE, |s| Ok(s.write_vectored(bufs)?))
    }

    /// Reads what has arrived without taking it: the next read gets it
    /// again; waits for data.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .async_io(Interest::READABLE, |s| Ok(s.peek(buf)?))
            .await
    }

    /// Polls a [`peek`](TcpStream::peek).
    pub fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.inner.poll_read_ready(cx))?;
            match guard.get_inner().peek(buf.initialize_unfilled()) {
                Err(Error::WouldBlock) => guard.clear_ready(),
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(n));
                }
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }

    /// Borrowed halves, to read and write at once within one task
    /// (`join!`, `select!`).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        split::split(self)
    }

    /// Owned halves, for two tasks; the write half shuts the write
    /// direction down when dropped.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::into_split(Arc::new(self))
    }

    /// `TCP_NODELAY` ([`crate::TcpStream::set_nodelay`]; on by default).
    pub fn set_nodelay(&self, nodelay: bool) -> Result<()> {
        self.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is on.
    pub fn nodelay(&self) -> Result<bool> {
        self.get_ref().nodelay()
    }

    /// `SO_LINGER` ([`crate::TcpStream::set_linger`]).
    pub fn set_linger(&self, linger: Option<Duration>) -> Result<()> {
        self.get_ref().set_linger(linger)
    }

    /// `SO_LINGER`, as set.
    pub fn linger(&self) -> Result<Option<Duration>> {
        self.get_ref().linger()
    }

    /// The TTL of what it sends (1 to 255).
    pub fn set_ttl(&self, ttl: u32) -> Result<()> {
        self.get_ref().set_ttl(ttl)
    }

    /// The TTL of what it sends.
    pub fn ttl(&self) -> Result<u32> {
        self.get_ref().ttl()
    }

    pub(crate) fn poll_read_priv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.inner.poll_read_ready(cx))?;
            // Straight into the unfilled part, which is not zeroed first
            // (hyper hands over buffers of many KiB for a few bytes).
            match guard
                .get_inner()
                .read_into(&mut super::ReadBufInto(&mut *buf))
            {
                Err(Error::WouldBlock) => guard.clear_ready(),
                Ok(_) => return Poll::Ready(Ok(())),
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }

    pub(crate) fn poll_write_priv(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.inner.poll_write_ready(cx))?;
            match guard.get_inner().write_vectored(bufs) {
                Err(Error::WouldBlock) => guard.clear_ready(),
                done => return Poll::Ready(done.map_err(Into::into)),
            }
        }
    }

    /// Shuts the write direction down. As tokio's: on a connection that is
    /// already gone (reset, `NotConnected`) that is success.
    pub(crate) fn shutdown_priv(&self) -> io::Result<()> {
        match self.get_ref().shutdown(Shutdown::Write) {
            Err(Error::NotConnected) => Ok(()),
            done => done.map_err(Into::into),
        }
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_priv(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_priv(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown_priv())
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}
