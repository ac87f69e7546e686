// SPDX-License-Identifier: MIT OR Apache-2.0

//! Listeners. smoltcp listens with one socket per connection; here a
//! listener keeps one listening socket *outside* the socket set and puts it
//! in only for a SYN that opens a new connection ([`Engine::syn`]). The
//! handshake it starts is an embryo: in the SYN queue, then, established,
//! in the accept queue. Both are bounded, as in Linux. A SYN that finds the
//! accept queue full is dropped, and the client sends it again. One that
//! finds the SYN queue full is answered with a SYN cookie ([`cookie`]), as
//! Linux does by default; with cookies off it takes the place of the oldest
//! handshake if that one went unanswered for a second (a flood's SYNs come
//! from addresses that never answer), and is dropped otherwise.
//!
//! [`cookie`]: super::cookie

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpEndpoint, IpListenEndpoint};

use std::sync::atomic::Ordering;

use smoltcp::wire::{HardwareAddress, IpAddress, TcpControl};

use super::segment::{self, Segment, Tuple};
use super::{Conn, Engine, Key, Role, Stream};
use crate::config::Buffers;
use crate::error::{Error, Result};
use crate::readiness;
use crate::shown::Shown;

/// How long a handshake is young: TCP's initial retransmission timeout
/// (RFC 6298), after which a client that is there has answered or sent its
/// SYN again.
const STALE: Duration = Duration::from_secs(1);

/// What an ACK to a listener says of a cookie.
enum Returned {
    /// Not one to check (see [`Engine::returned_cookie`]).
    NoCookie,
    /// A cookie this listener did not make, or made too long ago.
    Bad,
    /// A good one, standing for a client with this MSS.
    Good { mss: u16 },
}

/// How long after its last cookie a listener checks ACKs for one: a
/// cookie's life (Linux checks only after a recent overflow, too).
const COOKIE_LIFE_SECS: u64 = 3 * 64;

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
    /// When the listener last answered with a SYN cookie.
    cookies_sent: Option<Instant>,
    /// Its connections' buffers.
    buffers: Buffers,
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
    /// Each connection it takes has `buffers` (the stack's if `None`).
    pub fn listen(
        &mut self,
        addr: SocketAddr,
        backlog: usize,
        buffers: Option<Buffers>,
        shown: Arc<Shown>,
    ) -> Result<usize> {
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
                cookies_sent: None,
                buffers: buffers.unwrap_or(self.config.buffers()),
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
            self.counters.syns_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let max = l.backlog.min(self.config.syn_backlog).max(1);
        while self.listeners[&id].handshakes >= max {
            if self.config.syn_cookies {
                return self.send_cookie(now, id, seg);
            }
            if !self.drop_stale_handshake(now, id) {
                // Every handshake is young (a burst of real clients, most
                // likely): this SYN waits for the client's retry instead.
                self.counters.syns_dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.open_embryo(now, id, len, seg);
    }

    /// Gives the SYN the link holds (`len` bytes, read as `seg`) to
    /// listener `id`'s listening socket: the connection it starts is an
    /// embryo in the SYN queue. Returns its key, if smoltcp took the SYN.
    fn open_embryo(&mut self, now: Instant, id: usize, len: usize, seg: &Segment) -> Option<Key> {
        let spare = match self.listeners.get_mut(&id)?.spare.take() {
            Some(spare) => spare,
            None => {
                let mut socket = self.new_tcp(self.listeners[&id].buffers);
                socket.listen(self.listeners[&id].endpoint).ok()?;
                socket
            }
        };
        // In the set for this one packet (a slot of its own if none is free).
        let handle = self.sockets.add(spare);
        self.peak = self.peak.max(self.live + 1);
        self.feed(now, len);
        let socket = self.sockets.get::<tcp::Socket>(handle);
        let ends = socket.local_endpoint().zip(socket.remote_endpoint());
        let (tcp::State::SynReceived, Some((local, remote))) = (socket.state(), ends) else {
            // Not taken (smoltcp refused it): listening still.
            if let smoltcp::socket::Socket::Tcp(s) = self.sockets.remove(handle) {
                if let Some(l) = self.listeners.get_mut(&id) {
                    l.spare = Some(s);
                }
            }
            return None;
        };
        // The socket is the embryo's now: it moves into its entry.
        let embryo = self.sockets.remove(handle);
        let key = self.add(
            now,
            Some(embryo),
            Role::Embryo {
                listener: id,
                queued: false,
            },
            Some(Tuple { local, remote }),
        );
        if let Some(sock) = self.socks.get_mut(&key) {
            sock.heard = now;
            sock.rcv_end = Some(seg.end());
            sock.mac = Some(seg.mac);
        }
        let l = self.listeners.get_mut(&id)?;
        l.handshakes += 1;
        l.syn_queue.push_back(key);
        // Keys that left the queue stay in it until passed over: clear them
        // out before they outnumber the handshakes.
        if l.syn_queue.len() > 2 * l.handshakes + 16 {
            let mut queue = std::mem::take(&mut l.syn_queue);
            queue.retain(|k| self.handshaking(*k));
            if let Some(l) = self.listeners.get_mut(&id) {
                l.syn_queue = queue;
            }
        }
        self.schedule(key);
        Some(key)
    }

    /// Answers a SYN that found listener `id`'s SYN queue full with a
    /// SYN-ACK whose sequence is a cookie, keeping nothing.
    fn send_cookie(&mut self, now: Instant, id: usize, seg: &Segment) {
        let cookie = self.cookies.make(now, seg.tuple, seg.seq, seg.mss);
        let header = match seg.tuple.local.addr {
            IpAddress::Ipv4(_) => 40,
            IpAddress::Ipv6(_) => 60,
        };
        let mss = u16::try_from(self.link.mtu() - header).unwrap_or(u16::MAX);
        let window = u16::try_from(self.listeners[&id].buffers.rx).unwrap_or(u16::MAX);
        let ports = (seg.tuple.local.port, seg.tuple.remote.port);
        let synack = segment::bare(
            ports,
            TcpControl::Syn,
            cookie,
            Some(seg.seq + 1),
            window,
            Some(mss),
        );
        let HardwareAddress::Ethernet(ours) = self.iface.hardware_addr();
        let (local, remote) = (seg.tuple.local.addr, seg.tuple.remote.addr);
        let n = segment::tcp_frame(&mut self.scratch, ours, seg.mac, local, remote, &synack);
        self.link.send_frame(&self.scratch[..n]);
        if let Some(l) = self.listeners.get_mut(&id) {
            l.cookies_sent = Some(now);
        }
        self.counters
            .syn_cookies_sent
            .fetch_add(1, Ordering::Relaxed);
    }

    /// A segment to listener `id` on no known connection: if it is the ACK
    /// of a cookie this listener sent lately, the connection it stands for
    /// is taken up and this returns true. It is replayed to smoltcp as a SYN
    /// from the client and then this ACK (once smoltcp's SYN-ACK, kept
    /// back, tells its sequence numbers: [`Shifts`](super::cookie::Shifts)).
    pub(super) fn cookie_ack(
        &mut self,
        now: Instant,
        id: usize,
        len: usize,
        seg: &Segment,
    ) -> bool {
        let mss = match self.returned_cookie(now, id, seg) {
            Returned::NoCookie => return false,
            Returned::Bad => {
                self.counters
                    .syn_cookies_failed
                    .fetch_add(1, Ordering::Relaxed);
                return false;
            }
            Returned::Good { mss } => mss,
        };
        let (Some(l), Some(ack)) = (self.listeners.get(&id), seg.ack) else {
            return false;
        };
        if l.queue.len() >= l.backlog || !self.room() {
            // Dropped, as Linux does when the accept queue is full: the
            // client sends it again, with its data or its next segment.
            self.counters.syns_dropped.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        let original = self.link.frame(len).to_vec();
        let isn = seg.seq - 1;
        let ports = (seg.tuple.remote.port, seg.tuple.local.port);
        let syn = segment::bare(ports, TcpControl::Syn, isn, None, seg.window, Some(mss));
        let HardwareAddress::Ethernet(ours) = self.iface.hardware_addr();
        let (local, remote) = (seg.tuple.local.addr, seg.tuple.remote.addr);
        let n = segment::tcp_frame(&mut self.scratch, seg.mac, ours, remote, local, &syn);
        let n = self.link.load(&self.scratch[..n]);
        let replayed = Segment {
            syn: true,
            ack: None,
            seq: isn,
            len: 0,
            fin: false,
            ..*seg
        };
        self.shifts.expect(seg.tuple, ack - 1, seg.seq, seg.window);
        if self.open_embryo(now, id, n, &replayed).is_none() {
            self.shifts.remove(&seg.tuple);
            return true;
        }
        self.counters
            .syn_cookies_accepted
            .fetch_add(1, Ordering::Relaxed);
        // smoltcp answers the SYN now, unless it must first ask for the
        // client's Ethernet address: then the handshake completes when it
        // does ([`Engine::replay_handshakes`]), and the client sends what
        // this ACK carried again.
        self.egress(now);
        if self.shifts.is_known(&seg.tuple) {
            let len = self.link.load(&original);
            self.ingress(now, len);
        }
        true
    }

    /// A client that sent its SYN again while its cookie was on the way
    /// (a slow server) may have made a handshake with the copy, yet take
    /// the cookie: its ACK for the cookie then meets that handshake, which
    /// smoltcp would reset. If `seg`, for handshake `key`, returns a good
    /// cookie, the handshake goes (without a word) and this says true: the
    /// cookie's connection takes its place.
    pub(super) fn cookie_over_handshake(&mut self, now: Instant, key: Key, seg: &Segment) -> bool {
        // No cookie out: no lookup on this segment's way (the hot path).
        if !self
            .cookies
            .made_lately(now, Duration::from_secs(COOKIE_LIFE_SECS))
        {
            return false;
        }
        let Some(&Role::Embryo {
            listener,
            queued: false,
        }) = self.socks.get(&key).map(|s| &s.role)
        else {
            return false;
        };
        if !matches!(
            self.returned_cookie(now, listener, seg),
            Returned::Good { .. }
        ) {
            return false;
        }
        self.forget(key);
        true
    }

    /// Whether `seg`, to listener `id`, returns a cookie: only an ACK (no
    /// SYN, no RST, a good checksum) within a cookie's life of the
    /// listener's last one is checked at all.
    fn returned_cookie(&self, now: Instant, id: usize, seg: &Segment) -> Returned {
        let (Some(l), Some(ack)) = (self.listeners.get(&id), seg.ack) else {
            return Returned::NoCookie;
        };
        let lately = l
            .cookies_sent
            .is_some_and(|t| now < t + Duration::from_secs(COOKIE_LIFE_SECS));
        if !lately || !seg.valid || seg.syn || seg.rst {
            return Returned::NoCookie;
        }
        match self.cookies.check(now, seg.tuple, seg.seq, ack) {
            Some(mss) => Returned::Good { mss },
            None => Returned::Bad,
        }
    }

    /// Completes the cookie handshakes whose SYN-ACK smoltcp just sent (and
    /// the stack kept back) with the client's ACK, in smoltcp's numbers.
    pub(super) fn replay_handshakes(&mut self, now: Instant) {
        let HardwareAddress::Ethernet(ours) = self.iface.hardware_addr();
        for c in std::mem::take(&mut self.shifts.captured) {
            let Some(Conn::Sock(key)) = self.conns.get(&c.tuple) else {
                continue;
            };
            let key = *key;
            let Some(mac) = self.socks.get(&key).and_then(|s| s.mac) else {
                continue;
            };
            let ports = (c.tuple.remote.port, c.tuple.local.port);
            let ack = segment::bare(ports, TcpControl::None, c.seq, Some(c.ack), c.window, None);
            let (local, remote) = (c.tuple.local.addr, c.tuple.remote.addr);
            let n = segment::tcp_frame(&mut self.scratch, mac, ours, remote, local, &ack);
            let n = self.link.load(&self.scratch[..n]);
            self.feed(now, n);
            self.track(now, key);
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
