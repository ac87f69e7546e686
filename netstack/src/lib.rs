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
//! # A connection's life, as Linux's TCP lives it
//!
//! smoltcp does TCP itself; the stack adds what a server facing a network
//! needs around it (the numbers are [`Builder`] settings, Linux's defaults):
//!
//! | Linux | here |
//! |---|---|
//! | SYN queue apart from the accept queue, both bounded (`somaxconn` 4096) | yes: [`DEFAULT_BACKLOG`] 4096, SYN queue at most [`Builder::syn_backlog`] (256) |
//! | a SYN that finds the accept queue full is dropped (the client retries) | yes ([`Stats::syns_dropped`]) |
//! | SYN cookies when the SYN queue is full (`tcp_syncookies = 1`) | yes ([`Builder::syn_cookies`]): a flood of SYNs delays no real client. smoltcp picks its own initial sequence, so the stack shifts a cookie connection's sequence numbers between smoltcp's and the wire's. As in Linux, such a connection has no window scaling, SACK or timestamps |
//! | a handshake is given up after 5 SYN-ACK retries (~63 s) | yes ([`Builder::synack_timeout`]) |
//! | TIME-WAIT (60 s) as a small object without buffers | yes ([`Builder::time_wait`]; [`Stats::time_wait`]); it answers a retransmitted FIN, a reset ends it |
//! | a new SYN in TIME-WAIT opens a connection if its sequence is newer (RFC 6191) | yes, by sequence (timestamps are not looked at) |
//! | FIN-WAIT-2 of a closed socket ends after `tcp_fin_timeout` (60 s) | yes ([`Builder::fin_timeout`]) |
//! | orphans bounded (`tcp_max_orphans`) | yes ([`Builder::max_orphans`]): beyond it the oldest is reset |
//! | an orphan whose peer goes silent is given up (`tcp_orphan_retries`) | after [`Builder::fin_timeout`] of silence, with a reset |
//! | new data for a closed socket gets a reset | yes |
//! | `SO_KEEPALIVE` with `TCP_KEEPIDLE`/`_KEEPINTVL`/`_KEEPCNT`, `TCP_USER_TIMEOUT` | yes: [`TcpStream::set_keepalive`], [`TcpStream::set_user_timeout`]; the connection fails with [`Error::TimedOut`] and shows `ERR\|HUP` |
//! | the cost of a packet does not grow with connections ever made | yes: each segment goes to its connection by a hash lookup; smoltcp walks the sockets that exist at once ([`Stats::socket_slots`]) |
//! | a FIN then a reset read as the end first | yes |
//! | IP fragmentation | **no**: a UDP datagram larger than the MTU allows is `EMSGSIZE` ([`Error::MessageTooLarge`]) |
//! | out-of-order segments kept for reassembly | yes, up to 32 holes (smoltcp's default, 4, turned reordering into loss) |
//! | recovery from loss: SACK, NewReno partial ACKs, RTO from 200 ms, backoff reset on progress | **no**: smoltcp fast-retransmits on three duplicate ACKs; a window with two losses waits for its retransmission timeout (at least 1 s), which stays backed off until a new RTT sample. Measured over a link with 5 % loss and 20 ± 10 ms each way: 1 MiB took 485 s (1 % loss: 3 s) |
//! | timestamps, window scaling, congestion control | as smoltcp has them |
//!
//! Memory is bounded: each socket with buffers holds
//! [`Builder::tcp_buffers`] (64 + 64 KiB by default) or its own
//! ([`TcpSocket`], as `SO_RCVBUF`/`SO_SNDBUF`; a listener's go to the
//! connections it accepts), and there are at most
//! [`Builder::max_sockets`] (16,384) of them, connections, handshakes and
//! UDP sockets together; TIME-WAIT holds about a hundred bytes. A connect
//! or bind beyond the limit fails with [`Error::SocketLimit`] and a SYN
//! goes unanswered. At the fd limit (`EMFILE`) an accept fails and the
//! connection stays in the queue; a connect fails and holds no port.
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
mod tcp_socket;
#[cfg(feature = "tokio")]
pub mod tokio;
mod udp;

pub use config::Keepalive;
pub use error::{Error, Result};
pub use link::{Link, DEFAULT_MTU};
pub use shown::Stats;
pub use stack::{Builder, Stack, LINGER};
pub use tcp::{TcpListener, TcpStream, DEFAULT_BACKLOG};
pub use tcp_socket::TcpSocket;
pub use udp::UdpSocket;
pub use vpoll::{Backend, Events};
