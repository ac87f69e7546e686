// SPDX-License-Identifier: MIT OR Apache-2.0

//! `TcpSocket` for tokio: [`crate::TcpSocket`], connecting without blocking.

use std::net::SocketAddr;

use super::tcp::{TcpListener, TcpStream};
use crate::error::Result;
use crate::stack::Stack;

/// A TCP socket not yet connected or listening, as `tokio::net::TcpSocket`
/// (its buffers: [`crate::TcpSocket`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use vpoll_netstack::{tokio::TcpSocket, Link, Stack};
/// # let (a, b) = Link::pair()?;
/// # let server = Stack::builder(a).address("10.0.0.1".parse()?, 24).start()?;
/// # let client = Stack::builder(b).address("10.0.0.2".parse()?, 24).start()?;
/// let socket = TcpSocket::new(&server);
/// socket.set_recv_buffer_size(1 << 20)?;
/// socket.bind("10.0.0.1:80".parse()?)?;
/// let listener = socket.listen(1024)?;
/// let socket = TcpSocket::new(&client);
/// socket.set_send_buffer_size(1 << 20)?;
/// let stream = socket.connect("10.0.0.1:80".parse()?).await?;
/// # let _ = (listener, stream);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    inner: crate::TcpSocket,
}

impl TcpSocket {
    /// A socket of `stack`, with the stack's buffer sizes.
    pub fn new(stack: &Stack) -> TcpSocket {
        TcpSocket {
            inner: crate::TcpSocket::new(stack),
        }
    }

    /// [`crate::TcpSocket::set_recv_buffer_size`].
    pub fn set_recv_buffer_size(&self, size: u32) -> Result<()> {
        self.inner.set_recv_buffer_size(size as usize)
    }

    /// The receive buffer's size, in bytes.
    pub fn recv_buffer_size(&self) -> Result<u32> {
        Ok(self.inner.recv_buffer_size() as u32)
    }

    /// [`crate::TcpSocket::set_send_buffer_size`].
    pub fn set_send_buffer_size(&self, size: u32) -> Result<()> {
        self.inner.set_send_buffer_size(size as usize)
    }

    /// The send buffer's size, in bytes.
    pub fn send_buffer_size(&self) -> Result<u32> {
        Ok(self.inner.send_buffer_size() as u32)
    }

    /// The address [`listen`](TcpSocket::listen) listens on.
    pub fn bind(&self, addr: SocketAddr) -> Result<()> {
        self.inner.bind(addr)
    }

    /// Listens on the bound address; must be called within a tokio
    /// runtime.
    pub fn listen(self, backlog: u32) -> Result<TcpListener> {
        TcpListener::from_std(self.inner.listen(backlog)?)
    }

    /// Connects to `addr` with this socket's buffers.
    pub async fn connect(self, addr: SocketAddr) -> Result<TcpStream> {
        TcpStream::connected(self.inner.connect_nonblocking(addr)?).await
    }
}
