// SPDX-License-Identifier: MIT OR Apache-2.0

//! Async sockets for tokio, shaped like `tokio::net`: an `AsyncFd` on each
//! socket's vpoll fd, so the runtime's epoll wakes a task exactly when the
//! kernel would for a kernel socket.
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
//!
//! # Against `tokio::net`
//! The types have `tokio::net`'s methods, with its semantics (readiness
//! cleared by a `try_` call that would block, `poll_shutdown` that succeeds
//! on a connection already reset, an owned write half that shuts its
//! direction down when dropped), and these differences:
//!
//! | `tokio::net` | here | why |
//! |---|---|---|
//! | `bind(impl ToSocketAddrs)`, `connect(impl ToSocketAddrs)` | a [`Stack`] and one `SocketAddr` | a user-level stack has no resolver; resolve first |
//! | errors are `io::Error` | [`Error`], which converts (`?` in an `io::Result` function works) | the stack's errors say more (which limit, which address) |
//! | `TcpListener::bind` backlog 1024 | [`DEFAULT_BACKLOG`](crate::DEFAULT_BACKLOG), Linux's `somaxconn` (4096) | a burst of connects is not refused |
//! | `TcpStream::nodelay` off by default | on | smoltcp's Nagle waits for the last ACK on every request/response |
//! | `set_linger` blocks `drop` for the linger time | only `Some(ZERO)` (reset at once) has an effect | a non-blocking socket's close never waits |
//! | `UdpSocket::connect`, `send`, `recv`, broadcast and multicast options | not there | the stack's UDP is addressed per datagram |
//! | `TcpSocket::new_v4`/`new_v6`, `reuseaddr`, `reuseport`, `bind` before connect | [`TcpSocket::new`], buffers only; `bind` is for listening | no `SO_REUSE*` (one process, one stack); a connection's port is ephemeral |
//! | `set_tos`, `bind_device`, `SO_RCVBUF` after connect | not there | smoltcp has no such setting, and a socket's buffers are fixed once it exists |

#![allow(unsafe_code)]

mod socket;
mod split;
mod tcp;
mod udp;

use std::io;

pub use socket::TcpSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;

use crate::error::Error;
#[cfg(doc)]
use crate::stack::Stack;

fn io_err(source: io::Error) -> Error {
    Error::Io {
        what: "registering with tokio",
        source,
    }
}

/// A `ReadBuf` as the stack's read destination, for the streams and the
/// datagram sockets: `put_slice` writes into the unfilled part (not zeroed
/// first) and marks it initialised and filled.
struct ReadBufInto<'a, 'b>(&'a mut tokio::io::ReadBuf<'b>);

impl crate::engine::ReadInto for ReadBufInto<'_, '_> {
    fn room(&self) -> usize {
        self.0.remaining()
    }

    fn put(&mut self, data: &[u8]) {
        self.0.put_slice(data);
    }
}
