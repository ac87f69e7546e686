// SPDX-License-Identifier: MIT OR Apache-2.0

//! Listeners. smoltcp listens with one socket per connection; here a
//! listener keeps one listening socket *outside* the socket set and puts it
//! in only for a SYN that opens a new connection ([`Engine::syn`]). The
//! handshake it starts is an embryo: in the SYN queue, then, established,
//! in the accept queue. Both are bounded by the listener's backlog, as in
//! Linux. A SYN that finds the accept queue full is dropped, and the client
//! sends it again. One that finds the SYN queue full takes the place of the
//! oldest handshake if that one went unanswered for a second (a flood's
//! SYNs come from addresses that never answer), and is dropped otherwise.
//! Linux answers a full SYN queue with SYN cookies instead; smoltcp cannot
//! take a connection up from a cookie (it picks its own initial sequence).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpEndpoint, IpListenEndpoint};

use super::segment::{Segment, Tuple};
use super::{Engine, Key, Role, Stream};
use crate::error::{Error, Result};
use crate::readiness;
use crate::shown::Shown;

/// How long a handshake is young: TCP's initial retransmission timeout
/// (RFC 6298), after which a client that is there has answered or sent its
/// SYN again.
const STALE: Duration = Duration::from_secs(1);

pub(crate) struct Listener {
    pub shown: Arc<Shown>,
    endpoint: IpListenEndpoint,
    /// The listening socket, between SYNs.
    spare: Option<tcp::Socket<'static>>,
    /// Handshakes, oldest first (keys that left the SYN queue are skipped).
    syn_queue: VecDeque<Key>,
    /// How many of those are still in their handshake.
    pub handshakes: usize,
    /// Established connections waiting for `accept`.
    queue: VecDeque<Key>,
    backlog: usize,
}

impl Listener {
    /// Embryo `key` finished its handshake.
    pub fn established(&mut self, key: Key) {
        self.handshakes -= 1;
        self.queue.push_back(key);
    }

    fn takes(&self, local: IpEndpoint) -> bool {
        self.endpoint.port == local.port && self.endpoint.addr.is_none_or(|a| a == local.addr)
    }
}

impl Engine {
    /// Listens on `addr` with room for `backlog` connections waiting to be
    /// accepted; its fd is `shown`.
    pub fn listen(&mut self, addr: SocketAddr, backlog: usize, shown: Arc<Shown>) -> Result<usize> {
        self.check_running()?;
        self.check_local(addr)?;
        if addr.port() == 0 {
            return Err(Error::InvalidAddress {
                addr: addr.to_string(),
                why: "a listener needs a port",
            });
        }
        let taken = self.listeners.values().any(|l| {
            l.endpoint.port == addr.port()
                && (l.endpoint.addr.is_none()
                    || addr.ip().is_unspecified()
                    || l.endpoint.addr == Some(addr.ip().into()))
        });
        if taken {
            return Err(Error::AddrInUse { addr });
        }
        let endpoint = IpListenEndpoint {
            addr: (!addr.ip().is_unspecified()).then(|| addr.ip().into()),
            port: addr.port(),
        };
        let id = self.next_listener;
        self.next_listener += 1;
        self.listeners.insert(
            id,
            Listener {
                shown,
                endpoint,
                spare: None,
                syn_queue: VecDeque::new(),
                handshakes: 0,
                queue: VecDeque::new(),
                backlog: backlog.max(1),
            },
        );
        self.ports.tcp.insert(addr.port());
        self.refresh_listener(id);
        Ok(id)
    }

    /// The listener that takes a SYN to `local`.
    pub(super) fn listener_for(&self, local: IpEndpoint) -> Option<usize> {
        self.listeners
            .iter()
            .find(|(_, l)| l.takes(local))
            .map(|(id, _)| *id)
    }

    /// A SYN for listener `id` that opens a new connection (the frame the
    /// link read, `len` bytes).
    pub(super) fn syn(&mut self, now: Instant, id: usize, len: usize, seg: &Segment) {
        let Some(l) = self.listeners.get(&id) else {
            return;
        };
        if !seg.valid || l.queue.len() >= l.backlog || !self.room() {
            // Unanswered: the client sends its SYN again (Linux drops it
            // the same way while the accept queue is full).
            self.counters
                .syns_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        let max = l.backlog.min(self.config.syn_backlog).max(1);
        while self.listeners[&id].handshakes >= max {
            if !self.drop_stale_handshake(now, id) {
                // Every handshake is young (a burst of real clients, most
                // likely): this SYN waits for the client's retry instead.
                self.counters
                    .syns_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
        }
        let spare = match self.listeners.get_mut(&id).and_then(|l| l.spare.take()) {
            Some(spare) => spare,
            None => {
                let mut socket = self.new_tcp();
                if socket.listen(self.listeners[&id].endpoint).is_err() {
                    return;
                }
                socket
            }
        };
        // In the set for this one packet (a slot of its own if none is free).
        let handle = self.sockets.add(spare);
        self.peak = self.peak.max(self.live + 1);
        self.feed(now, len);
        let socket = self.sockets.get::<tcp::Socket>(handle);
        let ends = socket.local_endpoint().zip(socket.remote_endpoint());
        match (socket.state(), ends) {
            (tcp::State::SynReceived, Some((local, remote))) => {
                // The socket is the embryo's now: it moves into its entry.
                let smoltcp::socket::Socket::Tcp(embryo) = self.sockets.remove(handle) else {
                    return;
                };
                let key = self.add(
                    now,
                    Some(smoltcp::socket::Socket::Tcp(embryo)),
                    Role::Embryo {
                        listener: id,
                        queued: false,
                    },
                    Some(Tuple { local, remote }),
                );
                if let Some(sock) = self.socks.get_mut(&key) {
                    sock.heard = now;
                    sock.rcv_end = Some(seg.end());
                }
                let Some(l) = self.listeners.get_mut(&id) else {
                    return;
                };
                l.handshakes += 1;
                l.syn_queue.push_back(key);
                // Keys that left the queue stay in it until passed over:
                // clear them out before they outnumber the handshakes.
                if l.syn_queue.len() > 2 * l.handshakes + 16 {
                    let mut queue = std::mem::take(&mut l.syn_queue);
                    queue.retain(|k| self.handshaking(*k));
                    if let Some(l) = self.listeners.get_mut(&id) {
                        l.syn_queue = queue;
                    }
                }
                self.schedule(key);
            }
            _ => {
                // Not taken (smoltcp refused it): listening still.
                if let smoltcp::socket::Socket::Tcp(s) = self.sockets.remove(handle) {
                    if let Some(l) = self.listeners.get_mut(&id) {
                        l.spare = Some(s);
                    }
                }
            }
        }
    }

    /// Makes room in listener `id`'s full SYN queue: its oldest handshake
    /// goes without a word, if its SYN-ACK has gone unanswered for a whole
    /// initial retransmission timeout ([`STALE`]: a flood's SYNs come from
    /// addresses that never answer). Says whether one went.
    fn drop_stale_handshake(&mut self, now: Instant, id: usize) -> bool {
        loop {
            let Some(l) = self.listeners.get_mut(&id) else {
                return false;
            };
            let Some(&key) = l.syn_queue.front() else {
                // Counted but not queued: cannot be; resynchronise.
                l.handshakes = 0;
                return true;
            };
            let since = match self.socks.get(&key) {
                Some(s) if matches!(s.role, Role::Embryo { queued: false, .. }) => s.since,
                _ => {
                    l.syn_queue.pop_front();
                    continue;
                }
            };
            if now < since + STALE {
                return false;
            }
            l.syn_queue.pop_front();
            self.counters
                .handshakes_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.forget(key);
            return true;
        }
    }

    fn handshaking(&self, key: Key) -> bool {
        self.socks
            .get(&key)
            .is_some_and(|s| matches!(s.role, Role::Embryo { queued: false, .. }))
    }

    /// Shows whether listener `id` has a connection to accept.
    pub(super) fn refresh_listener(&mut self, id: usize) {
        if let Some(l) = self.listeners.get(&id) {
            self.outbox
                .show(&l.shown, readiness::listener(l.queue.len()));
        }
    }

    /// Takes the oldest established connection of listener `id`, with its
    /// fd made by `make_fd` (only when there is one: at `EMFILE` the
    /// connection stays in the queue).
    pub fn accept(
        &mut self,
        id: usize,
        make_fd: impl FnOnce() -> Result<Shown>,
    ) -> Result<Option<(Key, Arc<Shown>, SocketAddr)>> {
        self.check_running()?;
        let Some(l) = self.listeners.get_mut(&id) else {
            return Err(Error::NotConnected);
        };
        let Some(&key) = l.queue.front() else {
            return Ok(None);
        };
        let shown = Arc::new(make_fd()?);
        l.queue.pop_front();
        let Some(sock) = self.socks.get_mut(&key) else {
            return Ok(None);
        };
        let mut stream = Stream::new(Arc::clone(&shown));
        // Reset while it waited: the program hears of it first.
        let state = sock
            .handle
            .map(|h| self.sockets.get::<tcp::Socket>(h).state());
        if matches!(state, Some(tcp::State::Closed) | None) {
            stream.failure = Some(super::Failure::Reset);
        } else if let Some(s) = state {
            stream.changed(tcp::State::Established, s);
        }
        sock.role = Role::Stream(stream);
        let peer = sock
            .tuple
            .map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), |t| t.remote.into());
        self.refresh(key);
        self.refresh_listener(id);
        Ok(Some((key, shown, peer)))
    }

    /// The program dropped its listener: its connections are reset.
    pub fn release_listener(&mut self, id: usize) {
        let Some(l) = self.listeners.remove(&id) else {
            return;
        };
        for key in l.syn_queue.into_iter().chain(l.queue) {
            let Some(sock) = self.socks.get_mut(&key) else {
                continue;
            };
            if !matches!(sock.role, Role::Embryo { .. }) {
                continue;
            }
            sock.role = Role::Aborted;
            if let Some(h) = sock.handle {
                self.sockets.get_mut::<tcp::Socket>(h).abort();
            }
            self.rearm(key);
        }
        self.ports.tcp.remove(&l.endpoint.port);
        self.outbox.kick = true;
    }
}
