// SPDX-License-Identifier: MIT OR Apache-2.0

//! TCP connections: what the program does to one (connect, read, write,
//! shut down, drop) and how a reset, a refusal or a timeout is kept until
//! the program hears of it. Every method ends in [`Engine::refresh`].

use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;

use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::IpAddress;
use vpoll::Events;

use super::segment::Tuple;
use super::{socket_addr, Engine, Key, Role};
use crate::config::{Buffers, Keepalive};
use crate::error::{Error, Result};
use crate::readiness::{self, rx_closed, tx_closed, StreamView};
use crate::shown::Shown;

/// Why a connection ended abnormally, until the program takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Refused,
    Reset,
    /// A reset after the peer's FIN: Linux's `EPIPE` (`tcp_reset`).
    ResetAfterFin,
    /// Keepalive or the user timeout gave up on a silent peer.
    TimedOut,
}

impl Failure {
    pub fn error(self) -> Error {
        match self {
            Failure::Refused => Error::ConnectionRefused,
            Failure::Reset => Error::ConnectionReset,
            Failure::ResetAfterFin => Error::BrokenPipe,
            Failure::TimedOut => Error::TimedOut,
        }
    }
}

/// A connection a program holds.
pub(crate) struct Stream {
    pub shown: Arc<Shown>,
    pub failure: Option<Failure>,
    pub shut_rd: bool,
    /// The peer's FIN arrived: reads end with 0 from then on, even after a
    /// reset (Linux checks `SOCK_DONE` before the socket's error).
    pub fin_seen: bool,
    /// Data the program had not read when the connection's socket went
    /// (TIME-WAIT, or closed after both FINs): read before the end.
    pub unread: VecDeque<u8>,
    /// `SO_LINGER`, as set.
    pub linger: Option<std::time::Duration>,
}

impl Stream {
    pub fn new(shown: Arc<Shown>) -> Stream {
        Stream {
            shown,
            failure: None,
            shut_rd: false,
            fin_seen: false,
            unread: VecDeque::new(),
            linger: None,
        }
    }

    /// Notes a change of state: a connection that ends without both FINs
    /// exchanged was reset or refused (smoltcp keeps no error of its own).
    pub fn changed(&mut self, last: tcp::State, state: tcp::State) {
        use tcp::State::*;
        if state == Closed && self.failure.is_none() {
            self.failure = match last {
                SynSent => Some(Failure::Refused),
                SynReceived | Established | FinWait1 | FinWait2 => Some(Failure::Reset),
                CloseWait => Some(Failure::ResetAfterFin),
                _ => None,
            };
        }
        if state != Closed && rx_closed(state) {
            self.fin_seen = true;
        }
    }

    pub fn mask(&self, view: &StreamView) -> Events {
        readiness::stream(view, self.failure.is_some(), self.shut_rd)
    }
}

impl Engine {
    /// Stream `key` and its smoltcp socket (`None` once that is gone).
    fn stream(&mut self, key: Key) -> Result<(&mut Stream, Option<&mut tcp::Socket<'static>>)> {
        self.check_running()?;
        let Some(sock) = self.socks.get_mut(&key) else {
            return Err(Error::NotConnected);
        };
        let Role::Stream(stream) = &mut sock.role else {
            return Err(Error::NotConnected);
        };
        let socket = sock.handle.map(|h| self.sockets.get_mut::<tcp::Socket>(h));
        Ok((stream, socket))
    }

    /// Runs `f` on stream `key`, then shows what it changed.
    fn with_stream<T>(
        &mut self,
        key: Key,
        f: impl FnOnce(&mut Stream, Option<&mut tcp::Socket<'static>>) -> Result<T>,
    ) -> Result<T> {
        let (stream, socket) = self.stream(key)?;
        let result = f(stream, socket);
        self.refresh(key);
        result
    }

    /// Starts a connection to `remote`; its fd is `shown`.
    /// Its buffers are `buffers` (the stack's if `None`).
    pub fn connect(
        &mut self,
        remote: SocketAddr,
        buffers: Option<Buffers>,
        shown: Arc<Shown>,
    ) -> Result<Key> {
        self.check_running()?;
        let dst = IpAddress::from(remote.ip());
        if remote.port() == 0 || remote.ip().is_unspecified() || remote.ip().is_multicast() {
            return Err(Error::InvalidAddress {
                addr: remote.to_string(),
                why: "a connection needs a unicast address and a port",
            });
        }
        if !self.routable(&dst) {
            return Err(Error::Unreachable { addr: remote });
        }
        self.check_room()?;
        let port = self
            .ports
            .tcp_ephemeral()
            .ok_or(Error::PortsExhausted { addr: remote })?;
        let mut socket = self.new_tcp(buffers.unwrap_or(self.config.buffers()));
        if socket.connect(self.iface.context(), remote, port).is_err() {
            self.ports.tcp.remove(&port);
            return Err(Error::Unreachable { addr: remote });
        }
        let tuple = match (socket.local_endpoint(), socket.remote_endpoint()) {
            (Some(local), Some(remote)) => Some(Tuple { local, remote }),
            _ => None,
        };
        // The clock, not the last round's time: a connection's timers count
        // from now.
        let key = self.add(
            Instant::now(),
            Some(smoltcp::socket::Socket::Tcp(socket)),
            Role::Stream(Stream::new(shown)),
            tuple,
        );
        if let Some(sock) = self.socks.get_mut(&key) {
            sock.port = Some(port);
        }
        self.outbox.kick = true;
        self.refresh(key);
        Ok(key)
    }

    /// Whether the handshake is over: `Ok` when connected, the failure if it
    /// failed, [`Error::WouldBlock`] while it goes on.
    pub fn connected(&mut self, key: Key) -> Result<()> {
        self.with_stream(key, |stream, socket| {
            match socket.map(|s| s.state()) {
                Some(tcp::State::SynSent | tcp::State::SynReceived) => Err(Error::WouldBlock),
                Some(tcp::State::Closed) | None => {
                    let failure = stream.failure.take();
                    match failure {
                        Some(f) => Err(f.error()),
                        // Connected once, and over since.
                        None if stream.fin_seen => Ok(()),
                        None => Err(Error::NotConnected),
                    }
                }
                Some(_) => Ok(()),
            }
        })
    }

    /// Reads what has arrived into `dest`; `Ok(0)` once the peer closed its
    /// side and everything was read.
    pub fn recv(&mut self, key: Key, dest: &mut dyn ReadInto) -> Result<usize> {
        self.recv_or_peek(key, dest, false)
    }

    /// What [`recv`](Engine::recv) would read, left to be read again.
    pub fn peek(&mut self, key: Key, buf: &mut [u8]) -> Result<usize> {
        self.recv_or_peek(key, &mut SliceInto::new(buf), true)
    }

    fn recv_or_peek(&mut self, key: Key, dest: &mut dyn ReadInto, peek: bool) -> Result<usize> {
        let mut opened = false;
        let result = self.with_stream(key, |stream, socket| {
            if dest.room() == 0 || stream.shut_rd {
                return Ok(0);
            }
            if !stream.unread.is_empty() {
                let (a, b) = stream.unread.as_slices();
                let n = dest.room().min(a.len() + b.len());
                let from_a = n.min(a.len());
                dest.put(&a[..from_a]);
                dest.put(&b[..n - from_a]);
                if !peek {
                    stream.unread.drain(..n);
                }
                return Ok(n);
            }
            if let Some(socket) = socket.as_deref() {
                if socket.can_recv() && !peek {
                    // A window that had shrunk below half grows back: the
                    // peer must hear of it, which the stack's thread sends.
                    opened = socket.recv_queue() * 2 >= socket.recv_capacity();
                }
            }
            let state = socket
                .as_deref()
                .map_or(tcp::State::Closed, tcp::Socket::state);
            if let Some(socket) = socket.filter(|s| s.can_recv()) {
                return Ok(if peek {
                    let mut copy = vec![0; dest.room().min(socket.recv_queue())];
                    let n = socket.peek_slice(&mut copy).unwrap_or(0);
                    dest.put(&copy[..n]);
                    n
                } else {
                    // Straight from the socket's ring (in up to two pieces,
                    // where it wraps) into `dest`, which need not be
                    // initialised first.
                    let mut n = 0;
                    while dest.room() > 0 {
                        let got = socket
                            .recv(|data| {
                                let take = data.len().min(dest.room());
                                dest.put(&data[..take]);
                                (take, take)
                            })
                            .unwrap_or(0);
                        if got == 0 {
                            break;
                        }
                        n += got;
                    }
                    n
                });
            }
            // As Linux: after the peer's FIN, reads end with 0 even if a
            // reset came later (the error stays for the next write or
            // take_error).
            if stream.fin_seen {
                return Ok(0);
            }
            if let Some(failure) = stream.failure.take() {
                return Err(failure.error());
            }
            if rx_closed(state) {
                return Ok(0);
            }
            Err(Error::WouldBlock)
        });
        self.outbox.kick |= opened;
        result
    }

    /// Queues as much of `buf` as fits for sending.
    pub fn send(&mut self, key: Key, buf: &[u8]) -> Result<usize> {
        self.send_vectored(key, &[IoSlice::new(buf)])
    }

    /// Queues as much of `bufs`, in order, as fits: one lock and one copy
    /// for all of them.
    pub fn send_vectored(&mut self, key: Key, bufs: &[IoSlice<'_>]) -> Result<usize> {
        let result = self.with_stream(key, |stream, socket| {
            if let Some(failure) = stream.failure.take() {
                return Err(failure.error());
            }
            let Some(socket) = socket else {
                return Err(Error::BrokenPipe);
            };
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
            if bufs.iter().all(|b| b.is_empty()) {
                return Ok(0);
            }
            let mut sent = 0;
            for buf in bufs {
                let n = socket.send_slice(buf).unwrap_or(0);
                sent += n;
                if n < buf.len() {
                    break;
                }
            }
            match sent {
                0 => Err(Error::WouldBlock),
                n => Ok(n),
            }
        });
        self.outbox.kick |= result.is_ok();
        result
    }

    /// Shuts down one or both directions, as `shutdown(2)`.
    pub fn shutdown(&mut self, key: Key, how: Shutdown) -> Result<()> {
        self.with_stream(key, |stream, socket| {
            let Some(socket) = socket.filter(|s| s.state() != tcp::State::Closed) else {
                return Err(Error::NotConnected);
            };
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                stream.shut_rd = true;
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                socket.close();
            }
            Ok(())
        })?;
        self.outbox.kick = true;
        Ok(())
    }

    /// The pending error, taken, as `SO_ERROR`: the fd's `ERR` clears.
    pub fn take_error(&mut self, key: Key) -> Result<Option<Error>> {
        self.with_stream(key, |stream, _| {
            Ok(stream.failure.take().map(Failure::error))
        })
    }

    /// The connection's two ends (local, peer), as it has them.
    pub fn ends(&mut self, key: Key) -> Result<(Option<SocketAddr>, Option<SocketAddr>)> {
        self.check_running()?;
        let sock = self.socks.get(&key).ok_or(Error::NotConnected)?;
        let ends = sock.tuple.map(|t| (t.local, t.remote)).or_else(|| {
            let s = self.sockets.get::<tcp::Socket>(sock.handle?);
            Some((s.local_endpoint()?, s.remote_endpoint()?))
        });
        Ok(match ends {
            Some((l, r)) => (Some(socket_addr(l)), Some(socket_addr(r))),
            None => (None, None),
        })
    }

    /// `SO_KEEPALIVE` and its three numbers (`None`: off).
    pub fn set_keepalive(&mut self, key: Key, keepalive: Option<Keepalive>) -> Result<()> {
        self.stream(key)?;
        if let Some(sock) = self.socks.get_mut(&key) {
            sock.keepalive = keepalive;
            sock.probing = false;
            if let Some(h) = sock.handle {
                self.sockets.get_mut::<tcp::Socket>(h).set_keep_alive(None);
            }
        }
        self.schedule(key);
        self.outbox.kick = true;
        Ok(())
    }

    /// `TCP_USER_TIMEOUT` (`None`: off).
    /// `TCP_NODELAY`: small writes go out at once (the default here: a
    /// request/response exchange waits on no timer), or wait to be
    /// coalesced (Nagle's algorithm) when off.
    pub fn set_nodelay(&mut self, key: Key, nodelay: bool) -> Result<()> {
        self.with_stream(key, |_, socket| {
            if let Some(socket) = socket {
                socket.set_nagle_enabled(!nodelay);
            }
            Ok(())
        })
    }

    pub fn nodelay(&mut self, key: Key) -> Result<bool> {
        let (_, socket) = self.stream(key)?;
        Ok(socket.is_none_or(|s| !s.nagle_enabled()))
    }

    /// `IP_TTL` / `IPV6_UNICAST_HOPS` of what the connection sends.
    pub fn set_ttl(&mut self, key: Key, ttl: u32) -> Result<()> {
        let ttl = u8::try_from(ttl)
            .ok()
            .filter(|t| *t > 0)
            .ok_or(Error::InvalidInput {
                why: "a TTL is 1 to 255",
            })?;
        self.with_stream(key, |_, socket| {
            if let Some(socket) = socket {
                socket.set_hop_limit(Some(ttl));
            }
            Ok(())
        })
    }

    pub fn ttl(&mut self, key: Key) -> Result<u32> {
        let (_, socket) = self.stream(key)?;
        Ok(socket.and_then(|s| s.hop_limit()).map_or(64, u32::from))
    }

    /// `SO_LINGER`: `Some(ZERO)` resets the connection when it is dropped
    /// instead of closing it.
    pub fn set_linger(&mut self, key: Key, linger: Option<std::time::Duration>) -> Result<()> {
        self.with_stream(key, |stream, _| {
            stream.linger = linger;
            Ok(())
        })
    }

    pub fn linger(&mut self, key: Key) -> Result<Option<std::time::Duration>> {
        let (stream, _) = self.stream(key)?;
        Ok(stream.linger)
    }

    pub fn set_user_timeout(
        &mut self,
        key: Key,
        timeout: Option<std::time::Duration>,
    ) -> Result<()> {
        self.stream(key)?;
        if let Some(sock) = self.socks.get_mut(&key) {
            sock.user_timeout = timeout;
        }
        self.schedule(key);
        self.outbox.kick = true;
        Ok(())
    }

    /// The program dropped its stream: close it the way the kernel does
    /// (reset if it left data unread, FIN otherwise), and let it finish on
    /// its own as an orphan, within the orphan limit.
    pub fn release_stream(&mut self, key: Key) {
        let Some(sock) = self.socks.get_mut(&key) else {
            return;
        };
        let Some(handle) = sock.handle else {
            return self.forget(key);
        };
        let reset =
            matches!(&sock.role, Role::Stream(s) if s.linger == Some(std::time::Duration::ZERO));
        let socket = self.sockets.get_mut::<tcp::Socket>(handle);
        // Unread data, or a zero linger: a reset, as Linux's close.
        if socket.can_recv() || reset {
            socket.abort();
        } else {
            socket.close();
        }
        sock.role = Role::Orphan;
        self.orphan_count += 1;
        self.orphans.push_back(key);
        // Keys that are orphans no more stay until passed over: clear them
        // out before they outnumber the orphans.
        if self.orphans.len() > 2 * self.orphan_count + 64 {
            let socks = &self.socks;
            self.orphans
                .retain(|k| socks.get(k).is_some_and(|s| matches!(s.role, Role::Orphan)));
        }
        self.outbox.kick = true;
        while self.orphan_count > self.config.max_orphans {
            let Some(oldest) = self.orphans.pop_front() else {
                break;
            };
            if self.abort_orphan(oldest) {
                self.counters
                    .orphans_reset
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        self.refresh(key);
    }
}

impl StreamView {
    /// What smoltcp's socket says.
    pub fn of(socket: &tcp::Socket<'_>) -> StreamView {
        StreamView {
            state: socket.state(),
            can_recv: socket.can_recv(),
            may_send: socket.may_send(),
            send_queue: socket.send_queue(),
            send_capacity: socket.send_capacity(),
        }
    }
}

/// Where a read puts what it takes: a byte slice ([`SliceInto`]), or
/// tokio's `ReadBuf`, whose unfilled part is not initialised and need not
/// be (zeroing it first cost a third of a hyper server's instructions).
pub(crate) trait ReadInto {
    /// How many more bytes it takes.
    fn room(&self) -> usize;
    /// Appends `data`, at most [`room`](ReadInto::room) bytes.
    fn put(&mut self, data: &[u8]);
}

/// A byte slice filled from its start.
pub(crate) struct SliceInto<'a> {
    buf: &'a mut [u8],
    filled: usize,
}

impl<'a> SliceInto<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        SliceInto { buf, filled: 0 }
    }
}

impl ReadInto for SliceInto<'_> {
    fn room(&self) -> usize {
        self.buf.len() - self.filled
    }

    fn put(&mut self, data: &[u8]) {
        self.buf[self.filled..self.filled + data.len()].copy_from_slice(data);
        self.filled += data.len();
    }
}
