// SPDX-License-Identifier: MIT OR Apache-2.0

//! TCP: a listener and a stream, shaped like `std::net`'s.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use std::sync::Arc;

use vpoll::Backend;

use crate::config::{Buffers, Keepalive};
use crate::engine::{Key, ReadInto, SliceInto};
use crate::error::{Error, Result};
use crate::socket::{SocketFd, Want};
use crate::stack::{Shared, Stack};

/// The accept queue of [`TcpListener::bind`]: Linux's default `somaxconn`.
pub const DEFAULT_BACKLOG: usize = 4096;

/// A TCP listener of a [`Stack`]. Its fd is readable when a connection waits
/// to be accepted.
///
/// ```
/// # use vpoll_netstack::{Link, Stack, TcpListener};
/// # let (link, _peer) = Link::pair()?;
/// # let stack = Stack::builder(link).address("10.0.0.1".parse().unwrap(), 24).start()?;
/// let listener = TcpListener::bind(&stack, "10.0.0.1:80".parse().unwrap())?;
/// listener.set_nonblocking(true);
/// assert!(matches!(listener.accept(), Err(vpoll_netstack::Error::WouldBlock)));
/// # Ok::<(), vpoll_netstack::Error>(())
/// ```
pub struct TcpListener {
    fd: SocketFd,
    id: usize,
    local: SocketAddr,
}

impl TcpListener {
    /// Listens on `addr` (an address of the stack, or unspecified for all of
    /// them) with a backlog of [`DEFAULT_BACKLOG`].
    pub fn bind(stack: &Stack, addr: SocketAddr) -> Result<TcpListener> {
        TcpListener::bind_with_backlog(stack, addr, DEFAULT_BACKLOG)
    }

    /// [`bind`](TcpListener::bind) with room for `backlog` established
    /// connections not accepted yet. While that queue is full a SYN goes
    /// unanswered and the client sends it again, as with Linux. Handshakes
    /// in progress have a queue of their own, no longer than this one (see
    /// [`Builder::syn_backlog`](crate::Builder::syn_backlog)).
    pub fn bind_with_backlog(
        stack: &Stack,
        addr: SocketAddr,
        backlog: usize,
    ) -> Result<TcpListener> {
        TcpListener::listen(&stack.shared, addr, backlog, None)
    }

    pub(crate) fn listen(
        shared: &Arc<Shared>,
        addr: SocketAddr,
        backlog: usize,
        buffers: Option<Buffers>,
    ) -> Result<TcpListener> {
        let shown = shared.new_fd()?;
        let id = shared
            .lock()
            .listen(addr, backlog, buffers, Arc::clone(&shown))?;
        Ok(TcpListener {
            fd: SocketFd::new(Arc::clone(shared), shown),
            id,
            local: addr,
        })
    }

    /// Takes a connection that waits, or waits for one (unless
    /// non-blocking: then [`Error::WouldBlock`]).
    pub fn accept(&self) -> Result<(TcpStream, SocketAddr)> {
        self.fd.blocking(Want::Read, || {
            let shared = &self.fd.shared;
            let accepted = shared.lock().accept(self.id, || shared.make_fd())?;
            let (key, shown, peer) = accepted.ok_or(Error::WouldBlock)?;
            let stream = TcpStream {
                fd: SocketFd::new(shared.clone(), shown),
                key,
            };
            Ok((stream, peer))
        })
    }

    /// The address it listens on, as bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// In non-blocking mode `accept` says [`Error::WouldBlock`] instead of
    /// waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) {
        self.fd.set_nonblocking(nonblocking);
    }

    /// The vpoll backend that shows its readiness.
    pub fn backend(&self) -> Backend {
        self.fd.shown.vpoll.backend()
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.fd.shared.lock().release_listener(self.id);
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.shown.vpoll.as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.shown.vpoll.as_raw_fd()
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local)
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// A TCP connection of a [`Stack`]. Its fd reports what a kernel TCP
/// socket's would: `IN` with data (`IN|RDHUP` after the peer's FIN), `OUT`
/// with room to send, `HUP` when both directions are closed, `ERR` after a
/// reset or refusal until [`take_error`](TcpStream::take_error).
pub struct TcpStream {
    fd: SocketFd,
    key: Key,
}

impl TcpStream {
    /// Connects to `addr` and waits until the connection is established or
    /// fails ([`Error::ConnectionRefused`], …).
    pub fn connect(stack: &Stack, addr: SocketAddr) -> Result<TcpStream> {
        TcpStream::connect_with(&stack.shared, addr, None)
    }

    pub(crate) fn connect_with(
        shared: &Arc<Shared>,
        addr: SocketAddr,
        buffers: Option<Buffers>,
    ) -> Result<TcpStream> {
        let stream = TcpStream::start_connect(shared, addr, buffers)?;
        stream.fd.blocking(Want::Write, || stream.connected())?;
        Ok(stream)
    }

    /// Starts connecting to `addr` and returns at once, as a non-blocking
    /// socket's `connect` does with `EINPROGRESS`: the fd reports `OUT` once
    /// connected, `ERR|HUP` if it fails. The stream is non-blocking.
    pub fn connect_nonblocking(stack: &Stack, addr: SocketAddr) -> Result<TcpStream> {
        TcpStream::connect_nonblocking_with(&stack.shared, addr, None)
    }

    pub(crate) fn connect_nonblocking_with(
        shared: &Arc<Shared>,
        addr: SocketAddr,
        buffers: Option<Buffers>,
    ) -> Result<TcpStream> {
        let stream = TcpStream::start_connect(shared, addr, buffers)?;
        stream.set_nonblocking(true);
        Ok(stream)
    }

    fn start_connect(
        shared: &Arc<Shared>,
        addr: SocketAddr,
        buffers: Option<Buffers>,
    ) -> Result<TcpStream> {
        let shown = shared.new_fd()?;
        let key = shared.lock().connect(addr, buffers, Arc::clone(&shown))?;
        Ok(TcpStream {
            fd: SocketFd::new(Arc::clone(shared), shown),
            key,
        })
    }

    /// Whether the handshake is over: `Ok` when connected, the failure if it
    /// failed, [`Error::WouldBlock`] while it goes on.
    pub fn connected(&self) -> Result<()> {
        self.fd.shared.lock().connected(self.key)
    }

    /// Reads what has arrived; `Ok(0)` once the peer closed its side and
    /// everything was read.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.read_into(&mut SliceInto::new(buf))
    }

    /// [`read`](TcpStream::read) into any destination: tokio's `ReadBuf`
    /// takes the bytes without being zeroed first.
    pub(crate) fn read_into(&self, dest: &mut dyn ReadInto) -> Result<usize> {
        self.fd.blocking(Want::Read, || {
            self.fd.shared.lock().recv(self.key, &mut *dest)
        })
    }

    /// Queues `buf` (or as much of it as fits) for sending.
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        self.fd
            .blocking(Want::Write, || self.fd.shared.lock().send(self.key, buf))
    }

    /// Queues as much of `bufs`, in order, as fits (or waits for room):
    /// one call into the stack for all of them, as `writev`.
    pub fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> Result<usize> {
        self.fd.blocking(Want::Write, || {
            self.fd.shared.lock().send_vectored(self.key, bufs)
        })
    }

    /// Reads what has arrived without taking it: the next read gets it
    /// again (`MSG_PEEK`).
    pub fn peek(&self, buf: &mut [u8]) -> Result<usize> {
        self.fd
            .blocking(Want::Read, || self.fd.shared.lock().peek(self.key, buf))
    }

    /// Writes all of `buf`, waiting for room as needed.
    pub fn write_all(&self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            let n = self.write(buf)?;
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Shuts down one or both directions, as `shutdown(2)`: `Write` sends a
    /// FIN after the queued data; `Read` makes reads return 0.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        self.fd.shared.lock().shutdown(self.key, how)
    }

    /// The pending error (a reset, a refused connect, a timeout), taken, as
    /// `SO_ERROR`: the fd's `ERR` clears.
    pub fn take_error(&self) -> Result<Option<Error>> {
        self.fd.shared.lock().take_error(self.key)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        let (_, peer) = self.fd.shared.lock().ends(self.key)?;
        peer.ok_or(Error::NotConnected)
    }

    /// This end's address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        let (local, _) = self.fd.shared.lock().ends(self.key)?;
        local.ok_or(Error::NotConnected)
    }

    /// Keepalive (`SO_KEEPALIVE`, with `TCP_KEEPIDLE`, `TCP_KEEPINTVL` and
    /// `TCP_KEEPCNT`; `None`, the default: off). A peer that stops
    /// answering ends the connection with [`Error::TimedOut`] and the fd
    /// shows `ERR|HUP`, as a kernel socket's does.
    ///
    /// ```
    /// # use vpoll_netstack::{Keepalive, Link, Stack, TcpListener, TcpStream};
    /// # use std::time::Duration;
    /// # let (a, b) = Link::pair()?;
    /// # let server = Stack::builder(a).address("10.0.0.1".parse().unwrap(), 24).start()?;
    /// # let client = Stack::builder(b).address("10.0.0.2".parse().unwrap(), 24).start()?;
    /// # let _l = TcpListener::bind(&server, "10.0.0.1:7".parse().unwrap())?;
    /// let stream = TcpStream::connect(&client, "10.0.0.1:7".parse().unwrap())?;
    /// stream.set_keepalive(Some(Keepalive {
    ///     idle: Duration::from_secs(60),
    ///     interval: Duration::from_secs(10),
    ///     count: 6,
    /// }))?;
    /// # Ok::<(), vpoll_netstack::Error>(())
    /// ```
    pub fn set_keepalive(&self, keepalive: Option<Keepalive>) -> Result<()> {
        self.fd.shared.lock().set_keepalive(self.key, keepalive)
    }

    /// `TCP_USER_TIMEOUT` (`None`, the default: off): how long data may go
    /// unacknowledged (or a connect unanswered) before the connection fails
    /// with [`Error::TimedOut`].
    pub fn set_user_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        self.fd.shared.lock().set_user_timeout(self.key, timeout)
    }

    /// `TCP_NODELAY`. On by default here (unlike a kernel socket): smoltcp
    /// would hold a small write back for the ACK of the last one, which
    /// costs a request/response exchange a delayed ACK each time. Off,
    /// small writes are coalesced (Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> Result<()> {
        self.fd.shared.lock().set_nodelay(self.key, nodelay)
    }

    /// Whether `TCP_NODELAY` is on.
    pub fn nodelay(&self) -> Result<bool> {
        self.fd.shared.lock().nodelay(self.key)
    }

    /// The TTL (hop limit, on IPv6) of what it sends: 1 to 255 (default 64).
    pub fn set_ttl(&self, ttl: u32) -> Result<()> {
        self.fd.shared.lock().set_ttl(self.key, ttl)
    }

    /// The TTL of what it sends.
    pub fn ttl(&self) -> Result<u32> {
        self.fd.shared.lock().ttl(self.key)
    }

    /// `SO_LINGER`. `Some(Duration::ZERO)`: dropping the stream resets the
    /// connection at once (an RST, nothing queued is sent). Otherwise a
    /// dropped stream closes in the background, as a non-blocking kernel
    /// socket's `close` does whatever the linger (the stack goes on sending
    /// what was queued, within [`Builder::fin_timeout`]).
    ///
    /// [`Builder::fin_timeout`]: crate::Builder::fin_timeout
    pub fn set_linger(&self, linger: Option<Duration>) -> Result<()> {
        self.fd.shared.lock().set_linger(self.key, linger)
    }

    /// `SO_LINGER`, as set.
    pub fn linger(&self) -> Result<Option<Duration>> {
        self.fd.shared.lock().linger(self.key)
    }

    /// In non-blocking mode reads and writes that would wait say
    /// [`Error::WouldBlock`] (`io::ErrorKind::WouldBlock` through `Read`
    /// and `Write`).
    pub fn set_nonblocking(&self, nonblocking: bool) {
        self.fd.set_nonblocking(nonblocking);
    }

    /// How long a blocking read waits (`None`: for ever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        self.fd.set_timeout(Want::Read, timeout)
    }

    /// How long a blocking write waits (`None`: for ever).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        self.fd.set_timeout(Want::Write, timeout)
    }

    /// The vpoll backend that shows its readiness.
    pub fn backend(&self) -> Backend {
        self.fd.shown.vpoll.backend()
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let mut engine = self.fd.shared.lock();
        if !engine.stopped {
            engine.release_stream(self.key);
        }
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(TcpStream::read(self, buf)?)
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(TcpStream::read(self, buf)?)
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(TcpStream::write(self, buf)?)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Ok(TcpStream::write_vectored(self, bufs)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(TcpStream::write(self, buf)?)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Ok(TcpStream::write_vectored(self, bufs)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.shown.vpoll.as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.shown.vpoll.as_raw_fd()
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
