// SPDX-License-Identifier: MIT OR Apache-2.0

//! A user-level TCP/IP stack whose sockets are real file descriptors.
//!
//! [smoltcp] does TCP, UDP, IPv4 and IPv6 on an Ethernet [`Link`] (a Linux
//! TAP interface, or a socket pair between two stacks of one process); each
//! socket owns a [`vpoll::Vpoll`] fd whose poll mask the stack keeps equal to
//! what a kernel socket in the same state would report. So `poll`, `epoll`,
//! `select`, io_uring, mio and tokio wait on these sockets exactly as on the
//! kernel's, and one event loop serves both.
//!
//! ```
//! use std::io::{Read, Write};
//! use vpoll_netstack::{Link, Stack, TcpListener, TcpStream};
//!
//! let (a, b) = Link::pair()?;
//! let server = Stack::builder(a).address("10.0.0.1".parse().unwrap(), 24).start()?;
//! let client = Stack::builder(b).address("10.0.0.2".parse().unwrap(), 24).start()?;
//!
//! let listener = TcpListener::bind(&server, "10.0.0.1:7".parse().unwrap())?;
//! let mut out = TcpStream::connect(&client, "10.0.0.1:7".parse().unwrap())?;
//! let (mut conn, _) = listener.accept()?;
//! out.write_all(b"ping")?;
//! let mut buf = [0; 4];
//! conn.read_exact(&mut buf)?;
//! assert_eq!(&buf, b"ping");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What a socket's fd reports
//!
//! | socket | mask |
//! |---|---|
//! | listener | `IN` while a connection waits in the accept queue |
//! | stream | `IN` with data; `IN\|RDHUP` after the peer's FIN; `OUT` while it may send and at most two thirds of the send buffer are queued; `HUP` when both directions are closed; `ERR` (with `HUP`) after a reset or a refused connect, until read, written or [`TcpStream::take_error`] |
//! | UDP | `IN` while a datagram waits; `OUT` while the send buffer has room |
//!
//! A mask changes only when the state does: one system call per change,
//! none otherwise ([`Stats::mask_updates`]). On the emulation backend `ERR`
//! cannot be shown ([`Stats::events_not_shown`] counts it); the `HUP` that
//! comes with it can, and [`TcpStream::take_error`] tells the error.
//!
//! [smoltcp]: https://docs.rs/smoltcp

#![deny(missing_docs, unsafe_op_in_unsafe_fn, unsafe_code)]

mod config;
mod engine;
mod error;
mod link;
mod readiness;
mod shown;
mod socket;
mod stack;
mod sys;
mod tcp;
#[cfg(feature = "tokio")]
pub mod tokio;
mod udp;

pub use config::Keepalive;
pub use error::{Error, Result};
pub use link::{Link, DEFAULT_MTU};
pub use shown::Stats;
pub use stack::{Builder, Stack, LINGER};
pub use tcp::{TcpListener, TcpStream, DEFAULT_BACKLOG};
pub use udp::UdpSocket;
pub use vpoll::{Backend, Events};
