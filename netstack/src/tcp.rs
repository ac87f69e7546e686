// SPDX-License-Identifier: MIT OR Apache-2.0

//! TCP: a listener and a stream, shaped like `std::net`'s.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use vpoll::Backend;

use crate::core::socket_addr;
use crate::error::{Error, Result};
use crate::readiness::{rx_closed, tx_closed};
use crate::socket::{SocketFd, Want};
use crate::stack::Stack;

/// The accept queue of [`TcpListener::bind`], Linux's historical `SOMAXCONN`.
pub const DEFAULT_BACKLOG: usize = 128;

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

    /// [`bind`](TcpListener::bind) with room for `backlog` connections that
    /// are established or in their handshake but not accepted yet. A SYN
    /// beyond that is answered with a reset (smoltcp cannot leave it
    /// unanswered for the client to retry, as Linux does).
    pub fn bind_with_backlog(
        stack: &Stack,
        addr: SocketAddr,
        backlog: usize,
    ) -> Result<TcpListener> {
        let (id, vpoll) = stack.shared.lock().listen(addr, backlog)?;
        stack.shared.kick();
        Ok(TcpListener {
            fd: SocketFd::new(stack.shared.clone(), vpoll),
            id,
            local: addr,
        })
    }

    /// Takes a connection that waits, or waits for one (unless
    /// non-blocking: then [`Error::WouldBlock`]).
    pub fn accept(&self) -> Result<(TcpStream, SocketAddr)> {
        self.fd.blocking(Want::Read, || {
            let accepted = self.fd.shared.lock().accept(self.id)?;
            let (handle, vpoll, peer) = accepted.ok_or(Error::WouldBlock)?;
            // The listener made room in its backlog: SYNs may be answered.
            self.fd.shared.kick();
            let stream = TcpStream {
                fd: SocketFd::new(self.fd.shared.clone(), vpoll),
                handle,
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
        self.fd.shared.kick();
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
    handle: SocketHandle,
}

impl TcpStream {
    /// Connects to `addr` and waits until the connection is established or
    /// fails ([`Error::ConnectionRefused`], …).
    pub fn connect(stack: &Stack, addr: SocketAddr) -> Result<TcpStream> {
        let stream = TcpStream::start_connect(stack, addr)?;
        stream.fd.blocking(Want::Write, || stream.connected())?;
        Ok(stream)
    }

    /// Starts connecting to `addr` and returns at once, as a non-blocking
    /// socket's `connect` does with `EINPROGRESS`: the fd reports `OUT` once
    /// connected, `ERR|HUP` if it fails. The stream is non-blocking.
    pub fn connect_nonblocking(stack: &Stack, addr: SocketAddr) -> Result<TcpStream> {
        let stream = TcpStream::start_connect(stack, addr)?;
        stream.set_nonblocking(true);
        Ok(stream)
    }

    fn start_connect(stack: &Stack, addr: SocketAddr) -> Result<TcpStream> {
        let (handle, vpoll) = stack.shared.lock().connect(addr)?;
        stack.shared.kick();
        Ok(TcpStream {
            fd: SocketFd::new(stack.shared.clone(), vpoll),
            handle,
        })
    }

    /// Whether the handshake is over: `Ok` when connected, the failure if it
    /// failed, [`Error::WouldBlock`] while it goes on.
    pub fn connected(&self) -> Result<()> {
        let mut core = self.fd.shared.lock();
        let (stream, socket) = core.stream(self.handle)?;
        match socket.state() {
            tcp::State::SynSent | tcp::State::SynReceived => Err(Error::WouldBlock),
            tcp::State::Closed => {
                let failure = stream.failure.take();
                core.update_stream(self.handle);
                Err(failure.map_or(Error::NotConnected, |f| f.error()))
            }
            _ => Ok(()),
        }
    }

    /// Reads what has arrived; `Ok(0)` once the peer closed its side and
    /// everything was read.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.fd.blocking(Want::Read, || self.try_read(buf))
    }

    fn try_read(&self, buf: &mut [u8]) -> Result<usize> {
        let mut core = self.fd.shared.lock();
        let (stream, socket) = core.stream(self.handle)?;
        if buf.is_empty() {
            return Ok(0);
        }
        if stream.shut_rd {
            return Ok(0);
        }
        if socket.can_recv() {
            // A window that had shrunk below half grows back: the peer must
            // hear of it, which the stack's thread sends.
            let was_full = socket.recv_queue() * 2 >= socket.recv_capacity();
            let n = socket.recv_slice(buf).unwrap_or(0);
            core.update_stream(self.handle);
            drop(core);
            if was_full {
                self.fd.shared.kick();
            }
            return Ok(n);
        }
        // As Linux: after the peer's FIN, reads end with 0 even if a reset
        // came later (the error stays for the next write or take_error).
        if stream.fin_seen {
            return Ok(0);
        }
        if let Some(failure) = stream.failure.take() {
            core.update_stream(self.handle);
            return Err(failure.error());
        }
        let state = socket.state();
        if rx_closed(state) {
            return Ok(0);
        }
        if state == tcp::State::Listen {
            return Err(Error::NotConnected);
        }
        Err(Error::WouldBlock)
    }

    /// Queues `buf` (or as much of it as fits) for sending.
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        self.fd.blocking(Want::Write, || self.try_write(buf))
    }

    fn try_write(&self, buf: &[u8]) -> Result<usize> {
        let mut core = self.fd.shared.lock();
        let (stream, socket) = core.stream(self.handle)?;
        if let Some(failure) = stream.failure.take() {
            core.update_stream(self.handle);
            return Err(failure.error());
        }
        let state = socket.state();
        if matches!(state, tcp::State::SynSent | tcp::State::SynReceived) {
            return Err(Error::WouldBlock);
        }
        if tx_closed(state) {
            return Err(Error::BrokenPipe);
        }
        if !socket.may_send() {
            return Err(Error::NotConnected);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let n = socket.send_slice(buf).unwrap_or(0);
        if n == 0 {
            return Err(Error::WouldBlock);
        }
        core.update_stream(self.handle);
        drop(core);
        self.fd.shared.kick();
        Ok(n)
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
        let mut core = self.fd.shared.lock();
        let (stream, socket) = core.stream(self.handle)?;
        if matches!(socket.state(), tcp::State::Closed | tcp::State::Listen) {
            return Err(Error::NotConnected);
        }
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            stream.shut_rd = true;
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            socket.close();
        }
        core.update_stream(self.handle);
        drop(core);
        self.fd.shared.kick();
        Ok(())
    }

    /// The pending error (a reset or a refused connect), taken, as
    /// `SO_ERROR`: the fd's `ERR` clears.
    pub fn take_error(&self) -> Result<Option<Error>> {
        let mut core = self.fd.shared.lock();
        let (stream, _) = core.stream(self.handle)?;
        let failure = stream.failure.take();
        core.update_stream(self.handle);
        Ok(failure.map(|f| f.error()))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        let mut core = self.fd.shared.lock();
        let (_, socket) = core.stream(self.handle)?;
        socket
            .remote_endpoint()
            .map(socket_addr)
            .ok_or(Error::NotConnected)
    }

    /// This end's address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        let mut core = self.fd.shared.lock();
        let (_, socket) = core.stream(self.handle)?;
        socket
            .local_endpoint()
            .map(socket_addr)
            .ok_or(Error::NotConnected)
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
        let mut core = self.fd.shared.lock();
        if !core.stopped {
            core.release_stream(self.handle);
            drop(core);
            self.fd.shared.kick();
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

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(TcpStream::write(self, buf)?)
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
