// SPDX-License-Identifier: MIT OR Apache-2.0

//! The stack's state behind its one lock: smoltcp's interface and sockets,
//! the link, and for each socket what the program and the kernel's TCP
//! rules need beyond smoltcp (its role, its timers, its vpoll fd).
//!
//! # One owner for what an fd shows
//! Every change to a socket goes through an `Engine` method, and every such
//! method ends by recomputing that socket's mask ([`Engine::refresh`]),
//! which only *records* the mask wanted ([`Outbox`]). The system calls that
//! make the fds show it run after the lock is released, by whichever thread
//! released it ([`crate::stack::Locked`]): a program woken by a mask never
//! finds the lock still held, and no call site has to remember anything.
//!
//! # What the stack adds around smoltcp
//! smoltcp gives a packet to the first socket, in slot order, that accepts
//! it. The stack looks at each TCP segment first ([`segment`]): it knows
//! every connection by its two ends, so a segment of a known connection goes
//! to that connection's socket, and only a SYN that opens a new connection
//! meets a listening socket, which is in the socket set just for that
//! packet. So slot order never matters, freed slots are reused, and the
//! cost of a packet does not grow with the connections the stack has ever
//! had. The same look lets the stack keep TIME-WAIT without a smoltcp socket
//! (no buffers), bound the SYN queue, drop SYNs while the accept queue is
//! full, and reset an orphan that is sent new data — as Linux does.

mod cookie;
mod listener;
mod ports;
pub(crate) mod segment;
mod stream;
mod udp;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use rustc_hash::FxHashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};

use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr, IpEndpoint, TcpSeqNumber};
use vpoll::Events;

use crate::config::{Buffers, Config, Keepalive};
use crate::error::{Error, Result};
use crate::link::Link;
use crate::readiness::DEAD;
use crate::shown::{Counters, Shown};

use cookie::{Cookies, Shifts};
pub(crate) use listener::Listener;
use ports::Ports;
use segment::{Segment, Tuple};
pub(crate) use stream::{Failure, ReadInto, SliceInto, Stream};

/// Packets handled before the stack sends what they caused.
const INGRESS_BURST: usize = 64;

/// A socket's name inside the stack: never reused, so a stale one finds
/// nothing instead of another socket.
pub(crate) type Key = u64;

/// What a socket is to the program.
pub(crate) enum Role {
    /// A connection a program holds.
    Stream(Stream),
    /// A listener's connection, in its handshake or waiting to be accepted.
    Embryo {
        listener: usize,
        queued: bool,
    },
    /// A connection the program dropped, closing on its own.
    Orphan,
    /// One the stack reset (an orphan past a limit or sent new data): gone
    /// once its reset is out.
    Aborted,
    Udp(Arc<Shown>),
}

/// One socket of the stack.
pub(crate) struct Sock {
    /// Its smoltcp socket; `None` once that is gone (closed, or TIME-WAIT,
    /// which the stack keeps without one).
    handle: Option<SocketHandle>,
    waker: Waker,
    role: Role,
    tuple: Option<Tuple>,
    /// An ephemeral port this socket owns, given back when it is gone.
    port: Option<u16>,
    /// The state last seen, and since when.
    last: tcp::State,
    since: Instant,
    /// When the peer was last heard from.
    heard: Instant,
    /// Just after the newest byte (or SYN/FIN) the peer sent, and the
    /// newest of our bytes it acknowledged: TIME-WAIT's numbers.
    rcv_end: Option<TcpSeqNumber>,
    acked: Option<TcpSeqNumber>,
    /// The peer's Ethernet address, as its last segment came from.
    mac: Option<EthernetAddress>,
    keepalive: Option<Keepalive>,
    probing: bool,
    user_timeout: Option<std::time::Duration>,
    /// The earliest time a timer entry for it waits in the heap.
    scheduled: Option<Instant>,
}

/// A connection in TIME-WAIT: what it takes to answer its peer, no buffers.
struct TimeWait {
    rcv_nxt: TcpSeqNumber,
    snd_nxt: TcpSeqNumber,
    expires: Instant,
    /// The ephemeral port it holds, if its connection was ours.
    port: Option<u16>,
}

/// What a known pair of ends belongs to.
enum Conn {
    Sock(Key),
    TimeWait(TimeWait),
}

/// Mask changes and a wakeup for the stack's thread, recorded under the
/// lock and carried out after it ([`crate::stack::Locked`]).
#[derive(Default)]
pub(crate) struct Outbox {
    pub masks: Vec<Arc<Shown>>,
    /// The stack's thread must run a round (data to send, a window to open).
    pub kick: bool,
    /// Some socket's mask changed since the stack's thread last looked.
    pub changed: bool,
}

impl Outbox {
    fn show(&mut self, shown: &Arc<Shown>, mask: Events) {
        if shown.want(mask) {
            self.changed = true;
            self.masks.push(Arc::clone(shown));
        }
    }
}

/// Puts its socket on the dirty list when smoltcp wakes it.
struct SocketWaker {
    key: Key,
    dirty: Arc<Mutex<Vec<Key>>>,
}

impl Wake for SocketWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.dirty).push(self.key);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) struct Engine {
    pub iface: Interface,
    sockets: SocketSet<'static>,
    /// smoltcp sockets in `sockets`, and the most there were since the set
    /// was last compacted: its slots (it grows only when full), which every
    /// packet walks.
    live: usize,
    peak: usize,
    pub link: Link,
    /// By our own keys, which no peer chooses: a fast hash (FxHash) is
    /// safe here, where SipHash cost a tenth of a request's instructions.
    socks: FxHashMap<Key, Sock>,
    next_key: Key,
    /// By what peers send: SipHash with a random key, against collisions
    /// chosen to slow every lookup.
    conns: HashMap<Tuple, Conn>,
    listeners: FxHashMap<usize, Listener>,
    next_listener: usize,
    dirty: Arc<Mutex<Vec<Key>>>,
    settling: Vec<Key>,
    timers: BinaryHeap<Reverse<(Instant, Key)>>,
    /// TIME-WAIT ends, in order (each lasts the same time).
    time_waits: VecDeque<(Instant, Tuple)>,
    /// Orphans, oldest first (keys that are orphans no more are skipped).
    orphans: VecDeque<Key>,
    orphan_count: usize,
    ports: Ports,
    gateways: Vec<IpAddress>,
    config: Config,
    pub counters: Arc<Counters>,
    pub stopped: bool,
    pub outbox: Outbox,
    /// A frame the stack writes itself.
    scratch: Vec<u8>,
    cookies: Cookies,
    /// Connections taken up from a SYN cookie.
    shifts: Shifts,
    /// When the stack's thread last ran a round.
    pub now: Instant,
}

impl Engine {
    pub fn new(
        iface: Interface,
        link: Link,
        gateways: Vec<IpAddress>,
        config: Config,
        counters: Arc<Counters>,
        seed: u64,
    ) -> Engine {
        Engine {
            iface,
            sockets: SocketSet::new(Vec::new()),
            live: 0,
            peak: 0,
            link,
            socks: FxHashMap::default(),
            next_key: 0,
            conns: HashMap::new(),
            listeners: FxHashMap::default(),
            next_listener: 0,
            dirty: Arc::new(Mutex::new(Vec::new())),
            settling: Vec::new(),
            timers: BinaryHeap::new(),
            time_waits: VecDeque::new(),
            orphans: VecDeque::new(),
            orphan_count: 0,
            ports: Ports::new(seed),
            gateways,
            config,
            counters,
            stopped: false,
            outbox: Outbox::default(),
            scratch: Vec::new(),
            cookies: Cookies::new(),
            shifts: Shifts::default(),
            now: Instant::now(),
        }
    }

    /// One round of the stack's thread: fires the timers that are due,
    /// handles what arrived, sends what is due, and brings the masks of the
    /// sockets this touched up to date; reads the link if `link_ready`.
    /// Returns how long the stack may sleep (zero if packets may still wait:
    /// the burst was used up; `None`: until something happens).
    pub fn poll(&mut self, now: Instant, link_ready: bool) -> Option<Duration> {
        self.now = now;
        self.iface.poll_maintenance(now);
        self.expire(now);
        // The link is read only if its poll said so (or the last round
        // left frames): a round a kick or a timer started would find it
        // empty, at the cost of a system call.
        let mut more = link_ready;
        if link_ready {
            for _ in 0..INGRESS_BURST {
                let Some(len) = self.link.recv_frame() else {
                    more = false;
                    break;
                };
                self.ingress(now, len);
            }
        }
        self.egress(now);
        // smoltcp's look at every socket's timers comes before the masks
        // change; settling comes last, so that a program woken by a mask
        // finds the stack letting go of the lock, not in the middle of its
        // work.
        self.settle(now);
        self.compact();
        // This thread sends what the round queued: no need to wake it.
        self.outbox.kick = false;
        if more {
            return Some(Duration::ZERO);
        }
        let smoltcp = self.iface.poll_delay(now, &self.sockets);
        let ours = self.next_timer().map(|t| t - now.min(t));
        match (smoltcp, ours) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sends what smoltcp has to send, then completes the cookie handshakes
    /// whose SYN-ACK that was.
    fn egress(&mut self, now: Instant) {
        while self.iface.poll_egress(
            now,
            &mut self.link.wire(&mut self.shifts),
            &mut self.sockets,
        ) == smoltcp::iface::PollResult::SocketStateChanged
        {}
        if !self.shifts.captured.is_empty() {
            self.replay_handshakes(now);
        }
    }

    /// One frame from the link: a segment of a known connection goes to
    /// its socket (or its TIME-WAIT), a SYN for a listener to a listening
    /// socket, anything else to smoltcp as it is.
    fn ingress(&mut self, now: Instant, len: usize) {
        let Some(seg) = Segment::parse(self.link.frame(len)) else {
            return self.feed(now, len);
        };
        match self.conns.get_mut(&seg.tuple) {
            Some(Conn::Sock(key)) => {
                let key = *key;
                if self.shifts.is_pending(&seg.tuple) {
                    return;
                }
                if self.cookie_over_handshake(now, key, &seg) {
                    // The handshake is gone: the ACK meets the listener.
                    return self.ingress(now, len);
                }
                if self.heard(now, key, &seg) {
                    if seg.valid {
                        self.shifts.incoming(&seg.tuple, self.link.frame_mut(len));
                    }
                    self.feed(now, len);
                }
                self.track(now, key);
                return;
            }
            Some(Conn::TimeWait(_)) => {
                if !self.time_wait_segment(now, seg) {
                    return;
                }
                // A new connection takes the place of the old one.
                self.end_time_wait(seg.tuple);
                self.counters
                    .time_wait_reused
                    .fetch_add(1, Ordering::Relaxed);
            }
            None => {}
        }
        if let Some(id) = self.listener_for(seg.tuple.local) {
            if seg.is_open() {
                return self.syn(now, id, len, &seg);
            }
            if self.cookie_ack(now, id, len, &seg) {
                return;
            }
        }
        self.feed(now, len);
    }

    /// Hands the frame the link read to smoltcp.
    fn feed(&mut self, now: Instant, len: usize) {
        let _ = self.iface.poll_ingress_single(
            now,
            &mut self.link.one_frame(len, &mut self.shifts),
            &mut self.sockets,
        );
    }

    /// Notes a segment of connection `key`; says whether smoltcp should
    /// have it (new data for an orphan resets it instead, as Linux does).
    fn heard(&mut self, now: Instant, key: Key, seg: &Segment) -> bool {
        let Some(sock) = self.socks.get_mut(&key) else {
            return true;
        };
        if !seg.valid {
            return true;
        }
        sock.heard = now;
        sock.mac = Some(seg.mac);
        let newer = |old: Option<TcpSeqNumber>, new: TcpSeqNumber| match old {
            Some(old) if old >= new => Some(old),
            _ => Some(new),
        };
        let new_data = seg.len > 0
            && sock
                .rcv_end
                .is_none_or(|end| seg.end() - usize::from(seg.fin) > end);
        sock.rcv_end = newer(sock.rcv_end, seg.end());
        if let Some(ack) = seg.ack {
            sock.acked = newer(sock.acked, ack);
        }
        let closing = sock.handle.is_some_and(|h| {
            let state = self.sockets.get::<tcp::Socket>(h).state();
            matches!(state, tcp::State::FinWait1 | tcp::State::FinWait2)
        });
        if matches!(sock.role, Role::Orphan) && closing && new_data && !seg.rst {
            // Nobody will read it: Linux's TCPAbortOnData.
            self.abort_orphan(key);
            self.counters.orphans_reset.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Resets orphan `key` (its reset goes out with the next round, then it
    /// is forgotten). Says whether it was an orphan.
    fn abort_orphan(&mut self, key: Key) -> bool {
        let Some(sock) = self.socks.get_mut(&key) else {
            return false;
        };
        if !matches!(sock.role, Role::Orphan) {
            return false;
        }
        sock.role = Role::Aborted;
        self.orphan_count -= 1;
        if let Some(h) = sock.handle {
            self.sockets.get_mut::<tcp::Socket>(h).abort();
        }
        lock(&self.dirty).push(key);
        true
    }

    // --- sockets ------------------------------------------------------------

    /// Adds a smoltcp socket (`None`: a role without one yet) as `role`.
    fn add(
        &mut self,
        now: Instant,
        socket: Option<smoltcp::socket::Socket<'static>>,
        role: Role,
        tuple: Option<Tuple>,
    ) -> Key {
        let key = self.next_key;
        self.next_key += 1;
        let last = match &socket {
            Some(smoltcp::socket::Socket::Tcp(s)) => s.state(),
            _ => tcp::State::Closed,
        };
        let handle = socket.map(|s| {
            self.live += 1;
            self.peak = self.peak.max(self.live);
            self.sockets.add(s)
        });
        let waker = Waker::from(Arc::new(SocketWaker {
            key,
            dirty: Arc::clone(&self.dirty),
        }));
        if let Some(tuple) = tuple {
            self.conns.insert(tuple, Conn::Sock(key));
        }
        self.socks.insert(
            key,
            Sock {
                handle,
                waker,
                role,
                tuple,
                port: None,
                last,
                since: now,
                heard: now,
                rcv_end: None,
                acked: None,
                mac: None,
                keepalive: None,
                probing: false,
                user_timeout: None,
                scheduled: None,
            },
        );
        self.rearm(key);
        key
    }

    /// Moves the sockets into a set of their own size once most of the
    /// slots are empty: smoltcp's set never shrinks, and every packet walks
    /// all its slots, so after a burst the cost would stay at the burst's.
    fn compact(&mut self) {
        if self.peak <= 2 * self.live + 64 {
            return;
        }
        let mut set = SocketSet::new(Vec::with_capacity(self.live));
        for sock in self.socks.values_mut() {
            if let Some(handle) = sock.handle {
                sock.handle = Some(set.add(self.sockets.remove(handle)));
            }
        }
        self.sockets = set;
        self.peak = self.live;
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the stack may add another smoltcp socket.
    fn room(&self) -> bool {
        self.live < self.config.max_sockets
    }

    fn check_room(&self) -> Result<()> {
        if self.room() {
            Ok(())
        } else {
            self.counters
                .socket_limit_hits
                .fetch_add(1, Ordering::Relaxed);
            Err(Error::SocketLimit {
                max: self.config.max_sockets,
            })
        }
    }

    /// Registers the socket's waker again (smoltcp wakes a waker once).
    fn rearm(&mut self, key: Key) {
        let Some(sock) = self.socks.get(&key) else {
            return;
        };
        let Some(handle) = sock.handle else {
            return;
        };
        if matches!(sock.role, Role::Udp(_)) {
            let s = self.sockets.get_mut::<smoltcp::socket::udp::Socket>(handle);
            s.register_recv_waker(&sock.waker);
            s.register_send_waker(&sock.waker);
        } else {
            let s = self.sockets.get_mut::<tcp::Socket>(handle);
            s.register_recv_waker(&sock.waker);
            s.register_send_waker(&sock.waker);
        }
    }

    /// Removes the smoltcp socket of `key`, if it has one, freeing its
    /// buffers and its ends.
    fn drop_socket(&mut self, key: Key) {
        let Some(sock) = self.socks.get_mut(&key) else {
            return;
        };
        if let Some(handle) = sock.handle.take() {
            let smoltcp::socket::Socket::Tcp(mut socket) = self.sockets.remove(handle) else {
                self.live -= 1;
                return self.drop_tuple(key);
            };
            self.live -= 1;
            if let Role::Stream(stream) = &mut sock.role {
                // What arrived before the end is the program's still.
                let mut chunk = [0; 4096];
                while let Ok(n @ 1..) = socket.recv_slice(&mut chunk) {
                    stream.unread.extend(&chunk[..n]);
                }
            }
        }
        self.drop_tuple(key);
    }

    /// Forgets which connection is `key`'s.
    fn drop_tuple(&mut self, key: Key) {
        let Some(sock) = self.socks.get_mut(&key) else {
            return;
        };
        if let Some(tuple) = sock.tuple.take() {
            if matches!(self.conns.get(&tuple), Some(Conn::Sock(k)) if *k == key) {
                self.conns.remove(&tuple);
                self.shifts.remove(&tuple);
            }
        }
    }

    /// Forgets `key` entirely: its socket, its ends, its port.
    fn forget(&mut self, key: Key) {
        self.drop_socket(key);
        if let Some(sock) = self.socks.remove(&key) {
            if let Some(port) = sock.port {
                match sock.role {
                    Role::Udp(_) => self.ports.udp.remove(&port),
                    _ => self.ports.tcp.remove(&port),
                };
            }
            if matches!(sock.role, Role::Orphan) {
                self.orphan_count -= 1;
            }
            if let Role::Embryo {
                listener,
                queued: false,
            } = sock.role
            {
                if let Some(l) = self.listeners.get_mut(&listener) {
                    l.handshakes -= 1;
                }
            }
        }
    }

    // --- settling -----------------------------------------------------------

    /// Recomputes the masks of the sockets smoltcp woke.
    fn settle(&mut self, now: Instant) {
        loop {
            std::mem::swap(&mut self.settling, &mut lock(&self.dirty));
            if self.settling.is_empty() {
                return;
            }
            let mut batch = std::mem::take(&mut self.settling);
            batch.sort_unstable();
            batch.dedup();
            for &key in &batch {
                self.counters
                    .sockets_settled
                    .fetch_add(1, Ordering::Relaxed);
                self.refresh_at(now, key);
            }
            batch.clear();
            self.settling = batch;
        }
    }

    /// Brings what socket `key` shows up to date with its state: the end of
    /// every method that changes a socket. Timers count from the last round
    /// of the stack's thread (reading the clock on every read and write
    /// would cost more than the rest of the call).
    pub fn refresh(&mut self, key: Key) {
        self.refresh_at(self.now, key);
    }

    fn refresh_at(&mut self, now: Instant, key: Key) {
        self.track(now, key);
        self.rearm(key);
        let Some(sock) = self.socks.get(&key) else {
            return;
        };
        let (shown, mask) = match &sock.role {
            Role::Stream(stream) => {
                let view = sock
                    .handle
                    .map_or(crate::readiness::StreamView::CLOSED, |h| {
                        crate::readiness::StreamView::of(self.sockets.get::<tcp::Socket>(h))
                    });
                (&stream.shown, stream.mask(&view))
            }
            Role::Udp(shown) => {
                let Some(h) = sock.handle else { return };
                let socket = self.sockets.get::<smoltcp::socket::udp::Socket>(h);
                (shown, crate::readiness::udp(socket))
            }
            Role::Embryo { .. } | Role::Orphan | Role::Aborted => return,
        };
        self.outbox.show(shown, mask);
    }

    /// Notes a TCP socket's change of state: a stream's reset or FIN, an
    /// embryo's handshake done (into the accept queue) or failed, TIME-WAIT
    /// (kept without the socket), the end of an orphan. Then schedules the
    /// socket's next timer.
    fn track(&mut self, now: Instant, key: Key) {
        let Some(sock) = self.socks.get_mut(&key) else {
            return;
        };
        let Some(handle) = sock.handle else {
            return;
        };
        if matches!(sock.role, Role::Udp(_)) {
            return;
        }
        let socket = self.sockets.get::<tcp::Socket>(handle);
        let state = socket.state();
        let gone = gone(socket);
        if state != sock.last {
            let last = std::mem::replace(&mut sock.last, state);
            sock.since = now;
            match &mut sock.role {
                Role::Stream(stream) => stream.changed(last, state),
                Role::Embryo {
                    listener,
                    queued: queued @ false,
                } if state != tcp::State::SynReceived => {
                    let id = *listener;
                    if state != tcp::State::Closed {
                        *queued = true;
                        if let Some(l) = self.listeners.get_mut(&id) {
                            l.established(key);
                        }
                        self.refresh_listener(id);
                    }
                }
                _ => {}
            }
        }
        let done = match &self.socks[&key].role {
            Role::Embryo { queued, .. } => !queued && state == tcp::State::Closed,
            Role::Orphan | Role::Aborted => gone,
            _ => false,
        };
        if done {
            return self.forget(key);
        }
        if state == tcp::State::TimeWait {
            return self.enter_time_wait(now, key);
        }
        if gone {
            // A stream the program still holds: its socket is done with.
            self.drop_socket(key);
        }
        self.schedule(key);
    }

    // --- TIME-WAIT ------------------------------------------------------------

    /// Keeps a connection that reached TIME-WAIT as a small record and
    /// frees its socket: its fd (if a program still holds it) shows it
    /// closed, as Linux's does.
    fn enter_time_wait(&mut self, now: Instant, key: Key) {
        let Some(sock) = self.socks.get_mut(&key) else {
            return;
        };
        let (Some(tuple), Some(rcv_nxt), Some(snd_nxt)) = (sock.tuple, sock.rcv_end, sock.acked)
        else {
            // Nothing known to answer with: let it go at once.
            return match sock.role {
                Role::Stream(_) => self.drop_socket(key),
                _ => self.forget(key),
            };
        };
        let port = sock.port.take();
        let orphan = matches!(sock.role, Role::Orphan);
        let mac = sock.mac;
        self.drop_socket(key);
        // smoltcp may have delayed its ACK of the peer's FIN, and the socket
        // that would have sent it is gone: TIME-WAIT sends it (a second ACK,
        // if smoltcp's went out, changes nothing).
        if let Some(mac) = mac {
            self.send_ack(mac, tuple, snd_nxt, rcv_nxt);
        }
        if orphan {
            self.forget(key);
        } else {
            lock(&self.dirty).push(key);
        }
        let expires = now + Duration::from(self.config.time_wait);
        self.conns.insert(
            tuple,
            Conn::TimeWait(TimeWait {
                rcv_nxt,
                snd_nxt,
                expires,
                port,
            }),
        );
        self.time_waits.push_back((expires, tuple));
        self.counters.time_wait.fetch_add(1, Ordering::Relaxed);
    }

    /// A segment for a connection in TIME-WAIT. Returns true for a SYN that
    /// may open a new connection in its place (RFC 6191: its sequence is
    /// beyond the old connection's); anything else is answered (an ACK) or
    /// dropped here.
    fn time_wait_segment(&mut self, now: Instant, seg: Segment) -> bool {
        if !seg.valid {
            return false;
        }
        if seg.rst {
            // Linux's default (tcp_rfc1337 = 0): a reset ends TIME-WAIT.
            self.end_time_wait(seg.tuple);
            return false;
        }
        let listening = self.listener_for(seg.tuple.local).is_some();
        let restart = now + Duration::from(self.config.time_wait);
        let Some(Conn::TimeWait(tw)) = self.conns.get_mut(&seg.tuple) else {
            return false;
        };
        if seg.is_open() && seg.seq > tw.rcv_nxt && listening {
            return true;
        }
        if seg.fin {
            // The peer did not hear our last ACK: TIME-WAIT starts again.
            tw.expires = restart;
            self.time_waits.push_back((restart, seg.tuple));
        }
        let (snd_nxt, rcv_nxt) = (tw.snd_nxt, tw.rcv_nxt);
        if seg.syn || seg.fin || seg.len > 0 {
            self.send_ack(seg.mac, seg.tuple, snd_nxt, rcv_nxt);
        }
        false
    }

    /// Sends a bare ACK on `tuple` to the host at `mac`.
    fn send_ack(
        &mut self,
        mac: EthernetAddress,
        tuple: Tuple,
        seq: TcpSeqNumber,
        ack: TcpSeqNumber,
    ) {
        let smoltcp::wire::HardwareAddress::Ethernet(from) = self.iface.hardware_addr();
        let n = segment::ack_frame(&mut self.scratch, from, mac, tuple, seq, ack);
        // Only Ethernet is configured.
        if n > 0 {
            self.link.send_frame(&self.scratch[..n]);
        }
    }

    fn end_time_wait(&mut self, tuple: Tuple) {
        if let Some(Conn::TimeWait(tw)) = self.conns.remove(&tuple) {
            if let Some(port) = tw.port {
                self.ports.tcp.remove(&port);
            }
            self.counters.time_wait.fetch_sub(1, Ordering::Relaxed);
        }
    }

    // --- timers ---------------------------------------------------------------

    /// When socket `key` next needs the stack's attention.
    fn deadline(&self, key: Key) -> Option<Instant> {
        let sock = self.socks.get(&key)?;
        let socket = self.sockets.get::<tcp::Socket>(sock.handle?);
        let c = &self.config;
        let after = |t: Instant, d: std::time::Duration| t + Duration::from(d);
        use tcp::State::*;
        let state = socket.state();
        if matches!(state, Closed | Listen | TimeWait) {
            // Nothing left to time: closed (its reset on the way out), or
            // TIME-WAIT, which the stack times itself.
            return None;
        }
        let mut due: Option<Instant> = None;
        let mut at = |t: Instant| due = Some(due.map_or(t, |d| d.min(t)));
        match (&sock.role, state) {
            (Role::Embryo { queued: false, .. }, SynReceived) => {
                at(after(sock.since, c.synack_timeout))
            }
            (Role::Orphan, FinWait2) => at(after(sock.since, c.fin_timeout)),
            (Role::Orphan, FinWait1 | Closing | LastAck) => at(after(sock.heard, c.fin_timeout)),
            _ => {}
        }
        if matches!(sock.role, Role::Stream(_) | Role::Orphan) {
            if let Some(ut) = sock.user_timeout {
                if socket.send_queue() > 0 || state == SynSent {
                    at(after(sock.heard, ut));
                }
            }
            if let Some(ka) = sock.keepalive {
                if matches!(state, Established | CloseWait) && socket.send_queue() == 0 {
                    let probes = ka.interval.saturating_mul(ka.count);
                    at(match sock.probing {
                        false => after(sock.heard, ka.idle),
                        true => after(sock.heard, ka.idle.saturating_add(probes)),
                    });
                }
            }
        }
        due
    }

    /// Puts socket `key`'s deadline in the timer heap, unless an entry at
    /// or before it is there already.
    fn schedule(&mut self, key: Key) {
        let Some(due) = self.deadline(key) else {
            return;
        };
        let Some(sock) = self.socks.get_mut(&key) else {
            return;
        };
        if sock.scheduled.is_some_and(|s| s <= due) {
            return;
        }
        sock.scheduled = Some(due);
        self.timers.push(Reverse((due, key)));
        // Entries whose socket moved on stay until they are due (a finished
        // handshake's, 63 s): clear them out before they outnumber the
        // sockets, so the heap follows the sockets there are, not the ones
        // there were.
        if self.timers.len() > 2 * self.socks.len() + 64 {
            let socks = &self.socks;
            self.timers
                .retain(|Reverse((t, k))| socks.get(k).is_some_and(|s| s.scheduled == Some(*t)));
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        let tcp = self.timers.peek().map(|Reverse((t, _))| *t);
        let tw = self.time_waits.front().map(|(t, _)| *t);
        match (tcp, tw) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires what is due: TIME-WAITs that end, sockets whose timer passed.
    fn expire(&mut self, now: Instant) {
        while let Some(&(t, tuple)) = self.time_waits.front() {
            if t > now {
                break;
            }
            self.time_waits.pop_front();
            // A restarted TIME-WAIT has a later entry of its own.
            if matches!(self.conns.get(&tuple), Some(Conn::TimeWait(tw)) if tw.expires <= now) {
                self.end_time_wait(tuple);
            }
        }
        // What is due now; what firing schedules waits for the next round.
        let mut due = Vec::new();
        while let Some(&Reverse((t, key))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(sock) = self.socks.get_mut(&key) else {
                continue;
            };
            if sock.scheduled != Some(t) {
                continue;
            }
            sock.scheduled = None;
            due.push(key);
        }
        for key in due {
            self.fire(now, key);
        }
    }

    /// Socket `key`'s timer passed: act if its deadline (recomputed: the
    /// peer may have been heard since) has come, and schedule the next.
    fn fire(&mut self, now: Instant, key: Key) {
        if self.deadline(key).is_some_and(|d| d <= now) {
            self.timed_out(now, key);
        }
        self.schedule(key);
    }

    fn timed_out(&mut self, now: Instant, key: Key) {
        let Some(sock) = self.socks.get_mut(&key) else {
            return;
        };
        let Some(handle) = sock.handle else {
            return;
        };
        let socket = self.sockets.get_mut::<tcp::Socket>(handle);
        use tcp::State::*;
        match (&mut sock.role, socket.state()) {
            // A handshake the peer never finished, or an orphan's peer that
            // never sent its FIN: gone without a word, as in Linux.
            (Role::Embryo { .. }, _) | (Role::Orphan, FinWait2) => {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                self.forget(key);
            }
            (Role::Orphan, _) => {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                self.abort_orphan(key);
            }
            (Role::Aborted, _) => {}
            (Role::Stream(stream), state) => {
                let silent = now.total_micros() - sock.heard.total_micros();
                let silent = std::time::Duration::from_micros(silent.max(0) as u64);
                let ka_dead = sock.keepalive.is_some_and(|ka| {
                    silent >= ka.idle.saturating_add(ka.interval.saturating_mul(ka.count))
                });
                let ut_dead = sock.user_timeout.is_some_and(|ut| {
                    silent >= ut && (socket.send_queue() > 0 || state == SynSent)
                });
                if ka_dead || ut_dead {
                    self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                    stream.failure = Some(Failure::TimedOut);
                    socket.abort();
                    lock(&self.dirty).push(key);
                } else if let Some(ka) = sock.keepalive {
                    // Idle long enough: probe until the peer answers.
                    sock.probing = silent >= ka.idle;
                    socket.set_keep_alive(sock.probing.then(|| {
                        Duration::from(ka.interval.max(std::time::Duration::from_millis(1)))
                    }));
                }
            }
            (Role::Udp(_), _) => {}
        }
    }

    // --- common -----------------------------------------------------------------

    /// A TCP socket with the stack's buffers.
    fn new_tcp(&self, buffers: Buffers) -> tcp::Socket<'static> {
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; buffers.rx]),
            tcp::SocketBuffer::new(vec![0; buffers.tx]),
        );
        // Small writes go out at once, as programs written for kernel
        // sockets with TCP_NODELAY expect of a request/response exchange.
        socket.set_nagle_enabled(false);
        socket
    }

    /// Whether the stack has an address in `dst`'s network or a gateway of
    /// its family.
    fn routable(&self, dst: &IpAddress) -> bool {
        let same_family = |a: &IpAddress| a.version() == dst.version();
        self.iface
            .ip_addrs()
            .iter()
            .any(|cidr| cidr.contains_addr(dst))
            || self.gateways.iter().any(same_family)
    }

    /// Whether `addr` may be bound: unspecified, or one of the stack's.
    fn check_local(&self, addr: std::net::SocketAddr) -> Result<()> {
        if addr.ip().is_unspecified() || self.iface.has_ip_addr(addr.ip()) {
            Ok(())
        } else {
            Err(Error::AddrNotAvailable { addr })
        }
    }

    fn check_running(&self) -> Result<()> {
        match self.stopped {
            true => Err(Error::StackClosed),
            false => Ok(()),
        }
    }

    /// Sockets in smoltcp's set, and its slots, for [`Stats`](crate::Stats).
    pub fn live_sockets(&self) -> (usize, usize) {
        (self.live, self.peak)
    }

    /// Orphans still closing, for [`Stats`](crate::Stats).
    pub fn orphans(&self) -> usize {
        self.orphan_count
    }

    // --- the end ----------------------------------------------------------------

    /// Whether every TCP socket has sent all it queued, FIN included, and
    /// had it acknowledged.
    pub fn quiescent(&self) -> bool {
        use tcp::State::*;
        self.sockets.iter().all(|(_, socket)| match socket {
            smoltcp::socket::Socket::Tcp(s) => {
                s.send_queue() == 0 && !matches!(s.state(), FinWait1 | Closing | LastAck)
            }
            _ => true,
        })
    }

    /// The stack stops: every fd shows a dead socket, so that every waiter
    /// wakes and finds [`Error::StackClosed`].
    pub fn die(&mut self) {
        self.stopped = true;
        let shown = self.socks.values().filter_map(|sock| match &sock.role {
            Role::Stream(Stream { shown, .. }) | Role::Udp(shown) => Some(shown),
            Role::Orphan | Role::Aborted | Role::Embryo { .. } => None,
        });
        for shown in shown.chain(self.listeners.values().map(|l| &l.shown)) {
            self.outbox.show(shown, DEAD);
        }
    }
}

/// Whether a closed socket has nothing left to send: an aborted one keeps
/// its connection (and so its remote endpoint) until its RST is out.
fn gone(socket: &tcp::Socket<'_>) -> bool {
    socket.state() == tcp::State::Closed && socket.remote_endpoint().is_none()
}

/// A smoltcp endpoint as a `std` address.
pub(crate) fn socket_addr(endpoint: IpEndpoint) -> std::net::SocketAddr {
    endpoint.into()
}

/// An address with its prefix, checked.
pub(crate) fn cidr(addr: std::net::IpAddr, prefix: u8) -> Result<IpCidr> {
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bad = |why| Error::InvalidAddress {
        addr: format!("{addr}/{prefix}"),
        why,
    };
    if prefix > max {
        return Err(bad("the prefix is longer than the address"));
    }
    if addr.is_unspecified() || addr.is_multicast() {
        return Err(bad("an interface address must be unicast"));
    }
    Ok(IpCidr::new(addr.into(), prefix))
}
