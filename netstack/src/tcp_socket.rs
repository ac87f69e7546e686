// SPDX-License-Identifier: MIT OR Apache-2.0

//! A TCP socket configured before it connects or listens, as
//! `tokio::net::TcpSocket` (and `socket(2)` with `setsockopt` before
//! `connect` or `listen`): what sets one connection's buffers.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::{Buffers, BUFFER_MAX, BUFFER_MIN};
use crate::error::{Error, Result};
use crate::stack::{Shared, Stack};
use crate::tcp::{TcpListener, TcpStream};

/// A TCP socket not yet connected or listening.
///
/// Its buffers start as the stack's ([`Builder::tcp_buffers`]); a listener
/// gives its own to every connection it accepts, as Linux's accepted
/// sockets inherit `SO_RCVBUF` and `SO_SNDBUF`.
///
/// ```
/// # use vpoll_netstack::{Link, Stack, TcpSocket};
/// # let (link, _peer) = Link::pair()?;
/// # let stack = Stack::builder(link).address("10.0.0.1".parse().unwrap(), 24).start()?;
/// let socket = TcpSocket::new(&stack);
/// socket.set_recv_buffer_size(16 << 10)?;
/// socket.set_send_buffer_size(256 << 10)?;
/// assert_eq!(socket.recv_buffer_size(), 16 << 10);
/// socket.bind("10.0.0.1:80".parse().unwrap())?;
/// let listener = socket.listen(1024)?;
/// # Ok::<(), vpoll_netstack::Error>(())
/// ```
///
/// [`Builder::tcp_buffers`]: crate::Builder::tcp_buffers
pub struct TcpSocket {
    stack: Arc<Shared>,
    rx: Cell<usize>,
    tx: Cell<usize>,
    bound: Cell<Option<SocketAddr>>,
}

impl TcpSocket {
    /// A socket of `stack`, with the stack's buffer sizes.
    pub fn new(stack: &Stack) -> TcpSocket {
        let Buffers { rx, tx } = stack.shared.buffers;
        TcpSocket {
            stack: Arc::clone(&stack.shared),
            rx: Cell::new(rx),
            tx: Cell::new(tx),
            bound: Cell::new(None),
        }
    }

    /// The receive buffer: the most the peer may send ahead of the reads
    /// (`SO_RCVBUF`). From 2 KiB to 64 MiB; beyond that an
    /// [`Error::InvalidInput`].
    pub fn set_recv_buffer_size(&self, size: usize) -> Result<()> {
        self.rx.set(check(size)?);
        Ok(())
    }

    /// The receive buffer's size, in bytes.
    pub fn recv_buffer_size(&self) -> usize {
        self.rx.get()
    }

    /// The send buffer: how much a write may queue (`SO_SNDBUF`). From
    /// 2 KiB to 64 MiB; beyond that an [`Error::InvalidInput`].
    pub fn set_send_buffer_size(&self, size: usize) -> Result<()> {
        self.tx.set(check(size)?);
        Ok(())
    }

    /// The send buffer's size, in bytes.
    pub fn send_buffer_size(&self) -> usize {
        self.tx.get()
    }

    /// The address [`listen`](TcpSocket::listen) listens on. Only
    /// listening binds here: a connection's local port is ephemeral.
    pub fn bind(&self, addr: SocketAddr) -> Result<()> {
        self.bound.set(Some(addr));
        Ok(())
    }

    /// Listens on the bound address with room for `backlog` connections
    /// not accepted yet, each with this socket's buffers.
    pub fn listen(self, backlog: u32) -> Result<TcpListener> {
        let addr = self.bound.get().ok_or(Error::InvalidInput {
            why: "a socket listens on the address it was bound to: bind it first",
        })?;
        TcpListener::listen(&self.stack, addr, backlog as usize, Some(self.buffers()))
    }

    /// Connects to `addr` with this socket's buffers, waiting until the
    /// connection is established or fails.
    pub fn connect(self, addr: SocketAddr) -> Result<TcpStream> {
        self.check_unbound()?;
        TcpStream::connect_with(&self.stack, addr, Some(self.buffers()))
    }

    /// Starts connecting to `addr` with this socket's buffers and returns
    /// at once, as [`TcpStream::connect_nonblocking`].
    pub fn connect_nonblocking(self, addr: SocketAddr) -> Result<TcpStream> {
        self.check_unbound()?;
        TcpStream::connect_nonblocking_with(&self.stack, addr, Some(self.buffers()))
    }

    fn check_unbound(&self) -> Result<()> {
        match self.bound.get() {
            None => Ok(()),
            Some(_) => Err(Error::InvalidInput {
                why: "a connection's local port is ephemeral: bind is for listening",
            }),
        }
    }

    fn buffers(&self) -> Buffers {
        Buffers {
            rx: self.rx.get(),
            tx: self.tx.get(),
        }
    }
}

impl std::fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpSocket")
            .field("recv_buffer_size", &self.rx.get())
            .field("send_buffer_size", &self.tx.get())
            .field("bound", &self.bound.get())
            .finish()
    }
}

fn check(size: usize) -> Result<usize> {
    if (BUFFER_MIN..=BUFFER_MAX).contains(&size) {
        Ok(size)
    } else {
        Err(Error::InvalidInput {
            why: "a socket buffer is 2 KiB to 64 MiB",
        })
    }
}
