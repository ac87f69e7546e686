// SPDX-License-Identifier: MIT OR Apache-2.0

//! The stack's state behind its one lock: smoltcp's interface and sockets,
//! the link, and for each socket the vpoll fd that shows its readiness.
//!
//! smoltcp wakes a socket's registered waker whenever something that could
//! change its readiness happens (a segment, an acknowledgement, a state
//! change, a timer). Each waker puts its socket on a dirty list, and
//! [`Core::settle`] brings exactly those sockets' masks up to date: the cost
//! of a packet does not grow with the number of sockets that did not change.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};

use smoltcp::iface::{Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpCidr, IpEndpoint, IpListenEndpoint};
use vpoll::{Backend, Events};

use crate::error::{Error, Result};
use crate::link::Link;
use crate::readiness::{self, DEAD};
use crate::shown::{Counters, Shown};

/// Ephemeral ports, as Linux's default `ip_local_port_range` hands them out.
const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;
/// Packets handled before the stack sends what they caused.
const INGRESS_BURST: usize = 64;

/// Socket buffer sizes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Buffers {
    pub tcp_rx: usize,
    pub tcp_tx: usize,
    pub udp_payload: usize,
    pub udp_packets: usize,
}

/// Why a connection ended abnormally, until the program takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Refused,
    Reset,
    /// A reset after the peer's FIN: Linux's `EPIPE` (`tcp_reset`).
    ResetAfterFin,
}

impl Failure {
    pub fn error(self) -> Error {
        match self {
            Failure::Refused => Error::ConnectionRefused,
            Failure::Reset => Error::ConnectionReset,
            Failure::ResetAfterFin => Error::BrokenPipe,
        }
    }
}

/// A connection a program holds.
pub(crate) struct Stream {
    pub shown: Arc<Shown>,
    /// The state last seen, to tell a reset from a close.
    last: tcp::State,
    pub failure: Option<Failure>,
    pub shut_rd: bool,
    /// The peer's FIN arrived: reads end with 0 from then on, even after a
    /// reset (Linux checks `SOCK_DONE` before the socket's error).
    pub fin_seen: bool,
}

/// A listening socket: smoltcp listens with one socket per connection, so a
/// listener is a set of them, one kept listening while the backlog has room.
pub(crate) struct Listener {
    pub shown: Arc<Shown>,
    endpoint: IpListenEndpoint,
    /// Sockets listening or in the middle of a handshake.
    embryos: Vec<SocketHandle>,
    /// Established connections waiting for `accept`.
    pub queue: VecDeque<SocketHandle>,
    backlog: usize,
}

/// What the stack knows of each smoltcp socket.
enum Slot {
    Stream(Stream),
    /// A stream the program dropped, closing; removed once closed.
    Orphan,
    /// One of a listener's sockets.
    Member(usize),
    Udp(Arc<Shown>),
}

/// Puts its socket on the dirty list when smoltcp wakes it.
struct SocketWaker {
    handle: SocketHandle,
    dirty: Arc<Mutex<Vec<SocketHandle>>>,
}

impl Wake for SocketWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.dirty).push(self.handle);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) struct Core {
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
    pub link: Link,
    slots: HashMap<SocketHandle, (Slot, Waker)>,
    listeners: HashMap<usize, Listener>,
    next_listener: usize,
    dirty: Arc<Mutex<Vec<SocketHandle>>>,
    settling: Vec<SocketHandle>,
    /// Freed slots, each plugged by a closed placeholder ([`Core::add_low`]).
    holes: Vec<SocketHandle>,
    ports: HashSet<u16>,
    next_port: u16,
    gateways: Vec<IpAddress>,
    backend: Option<Backend>,
    buffers: Buffers,
    pub counters: Arc<Counters>,
    pub stopped: bool,
    changes: Changes,
}

/// Mask changes, applied at once or, inside [`Core::poll`], left for the
/// stack's thread to apply once it has let go of the lock.
#[derive(Default)]
struct Changes {
    deferring: bool,
    pending: Vec<Arc<Shown>>,
    /// Some socket's mask changed since the last [`Core::take_pending`].
    changed: bool,
}

impl Changes {
    /// Makes `shown` show `mask`: at once, or after the lock when polling.
    fn show(&mut self, shown: &Arc<Shown>, mask: Events, counters: &Counters) {
        if shown.want(mask) {
            self.changed = true;
            if self.deferring {
                self.pending.push(Arc::clone(shown));
            } else {
                shown.apply(counters);
            }
        }
    }
}

impl Core {
    pub fn new(
        iface: Interface,
        link: Link,
        gateways: Vec<IpAddress>,
        backend: Option<Backend>,
        buffers: Buffers,
        seed: u64,
    ) -> Core {
        let span = u64::from(EPHEMERAL.end() - EPHEMERAL.start());
        Core {
            iface,
            sockets: SocketSet::new(Vec::new()),
            link,
            slots: HashMap::new(),
            listeners: HashMap::new(),
            next_listener: 0,
            dirty: Arc::new(Mutex::new(Vec::new())),
            settling: Vec::new(),
            holes: Vec::new(),
            ports: HashSet::new(),
            next_port: EPHEMERAL.start() + (seed % span) as u16,
            gateways,
            backend,
            buffers,
            counters: Arc::new(Counters::default()),
            stopped: false,
            changes: Changes::default(),
        }
    }

    /// Handles what arrived, sends what is due, and brings the masks of the
    /// sockets this touched up to date. Returns how long the stack may sleep
    /// before smoltcp's next timer (zero if packets may still wait: the
    /// burst was used up; `None`: until something happens).
    pub fn poll(&mut self, now: Instant) -> Option<Duration> {
        self.changes.deferring = true;
        self.iface.poll_maintenance(now);
        let mut more = true;
        for _ in 0..INGRESS_BURST {
            match self
                .iface
                .poll_ingress_single(now, &mut self.link, &mut self.sockets)
            {
                PollIngressSingleResult::None => {
                    more = false;
                    break;
                }
                // A listener must have a listening socket again before the
                // next SYN: its sockets settle after every packet.
                _ => self.settle_listeners(),
            }
        }
        while self
            .iface
            .poll_egress(now, &mut self.link, &mut self.sockets)
            == PollResult::SocketStateChanged
        {}
        // smoltcp's look at every socket's timers comes before the masks
        // change; settling comes last, so that a program woken by a mask
        // finds the stack letting go of the lock, not in the middle of its
        // work.
        let delay = if more {
            Some(Duration::ZERO)
        } else {
            self.iface.poll_delay(now, &self.sockets)
        };
        self.settle();
        self.changes.deferring = false;
        delay
    }

    /// The mask changes [`poll`](Core::poll) left for the caller to apply
    /// after releasing the lock, and whether any mask changed.
    pub fn take_pending(&mut self, into: &mut Vec<Arc<Shown>>) -> bool {
        into.append(&mut self.changes.pending);
        std::mem::take(&mut self.changes.changed)
    }

    /// Settles the listeners' sockets among the dirty ones; the others wait
    /// for [`settle`](Core::settle).
    fn settle_listeners(&mut self) {
        if self.listeners.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut *lock(&self.dirty));
        let mut members = Vec::new();
        dirty.retain(|h| {
            let member = matches!(self.slots.get(h), Some((Slot::Member(_), _)));
            if member {
                members.push(*h);
            }
            !member
        });
        lock(&self.dirty).append(&mut dirty);
        for handle in members {
            self.settle_one(handle);
        }
    }

    /// Recomputes the masks of the sockets smoltcp woke.
    pub fn settle(&mut self) {
        loop {
            std::mem::swap(&mut self.settling, &mut lock(&self.dirty));
            if self.settling.is_empty() {
                return;
            }
            let mut batch = std::mem::take(&mut self.settling);
            batch.sort_unstable();
            batch.dedup();
            for &handle in &batch {
                self.settle_one(handle);
            }
            batch.clear();
            self.settling = batch;
        }
    }

    fn settle_one(&mut self, handle: SocketHandle) {
        self.counters
            .sockets_settled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.slots.get(&handle) {
            Some((Slot::Stream(_), _)) => self.update_stream(handle),
            Some((Slot::Udp(_), _)) => self.update_udp(handle),
            Some((Slot::Member(id), _)) => {
                let id = *id;
                self.update_listener(id);
            }
            Some((Slot::Orphan, _)) => {
                if gone(self.sockets.get::<tcp::Socket>(handle)) {
                    self.remove(handle);
                } else {
                    self.rearm(handle);
                }
            }
            // Removed since it was woken.
            None => {}
        }
    }

    /// Registers the socket's waker again (smoltcp wakes a waker once).
    fn rearm(&mut self, handle: SocketHandle) {
        let Some((slot, waker)) = self.slots.get(&handle) else {
            return;
        };
        if matches!(slot, Slot::Udp(_)) {
            let socket = self.sockets.get_mut::<udp::Socket>(handle);
            socket.register_recv_waker(waker);
            socket.register_send_waker(waker);
        } else {
            let socket = self.sockets.get_mut::<tcp::Socket>(handle);
            socket.register_recv_waker(waker);
            socket.register_send_waker(waker);
        }
    }

    fn insert(&mut self, handle: SocketHandle, slot: Slot) {
        let waker = Waker::from(Arc::new(SocketWaker {
            handle,
            dirty: Arc::clone(&self.dirty),
        }));
        self.slots.insert(handle, (slot, waker));
        self.rearm(handle);
    }

    // smoltcp gives a packet to the first socket, in slot order, that
    // accepts it, and a new socket takes the lowest free slot. A SYN sent
    // again for a handshake in progress must reach that handshake's socket,
    // not a listening socket in a lower slot (which would start a second
    // handshake for the same connection, and reset it). So listening sockets
    // are always added at the end, and every freed slot is plugged with a
    // closed placeholder, which accepts nothing, until a connection or a UDP
    // socket takes it.

    /// Adds a socket that never listens, into a freed slot if there is one.
    fn add_low<S: smoltcp::socket::AnySocket<'static>>(&mut self, socket: S) -> SocketHandle {
        if let Some(hole) = self.holes.pop() {
            self.sockets.remove(hole);
        }
        self.sockets.add(socket)
    }

    /// Adds a listening socket after every other socket.
    fn add_last(&mut self, socket: tcp::Socket<'static>) -> SocketHandle {
        // INVARIANT: every freed slot is plugged, so `add` appends.
        self.sockets.add(socket)
    }

    fn remove(&mut self, handle: SocketHandle) {
        self.slots.remove(&handle);
        if let smoltcp::socket::Socket::Tcp(s) = self.sockets.remove(handle) {
            let port = s.local_endpoint().map(|e| e.port);
            // A listener's connections share its port: it stays taken.
            if let Some(port) =
                port.filter(|p| !self.listeners.values().any(|l| l.endpoint.port == *p))
            {
                self.ports.remove(&port);
            }
        }
        let placeholder = tcp::Socket::new(
            tcp::SocketBuffer::new(Vec::new()),
            tcp::SocketBuffer::new(Vec::new()),
        );
        let hole = self.sockets.add(placeholder);
        self.holes.push(hole);
    }

    // --- streams -----------------------------------------------------------

    pub fn stream(
        &mut self,
        handle: SocketHandle,
    ) -> Result<(&mut Stream, &mut tcp::Socket<'static>)> {
        if self.stopped {
            return Err(Error::StackClosed);
        }
        match self.slots.get_mut(&handle) {
            Some((Slot::Stream(s), _)) => Ok((s, self.sockets.get_mut::<tcp::Socket>(handle))),
            _ => Err(Error::NotConnected),
        }
    }

    /// Brings a stream's mask up to date, noting a reset or refusal.
    pub fn update_stream(&mut self, handle: SocketHandle) {
        let socket = self.sockets.get_mut::<tcp::Socket>(handle);
        let Some((Slot::Stream(stream), waker)) = self.slots.get_mut(&handle) else {
            return;
        };
        socket.register_recv_waker(waker);
        socket.register_send_waker(waker);
        let state = socket.state();
        if state == tcp::State::Closed && stream.last != tcp::State::Closed {
            // A connection that ends without both FINs exchanged was reset
            // (smoltcp keeps no error of its own).
            use tcp::State::*;
            stream.failure = match stream.last {
                SynSent => Some(Failure::Refused),
                SynReceived | Established | FinWait1 | FinWait2 => Some(Failure::Reset),
                CloseWait => Some(Failure::ResetAfterFin),
                _ => stream.failure,
            };
        }
        if state != tcp::State::Closed && readiness::rx_closed(state) {
            stream.fin_seen = true;
        }
        stream.last = state;
        let mask = readiness::stream(socket, stream.failure.is_some(), stream.shut_rd);
        self.changes.show(&stream.shown, mask, &self.counters);
    }

    /// Starts a connection to `remote`.
    pub fn connect(&mut self, remote: SocketAddr) -> Result<(SocketHandle, Arc<Shown>)> {
        if self.stopped {
            return Err(Error::StackClosed);
        }
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
        let port = self
            .ephemeral_port()
            .ok_or(Error::PortsExhausted { addr: remote })?;
        let mut socket = self.new_tcp();
        if socket.connect(self.iface.context(), remote, port).is_err() {
            return Err(Error::Unreachable { addr: remote });
        }
        self.ports.insert(port);
        let shown = Arc::new(Shown::new(self.backend)?);
        let vpoll = Arc::clone(&shown);
        let handle = self.add_low(socket);
        let stream = Stream {
            shown,
            last: tcp::State::SynSent,
            failure: None,
            shut_rd: false,
            fin_seen: false,
        };
        self.insert(handle, Slot::Stream(stream));
        self.update_stream(handle);
        Ok((handle, vpoll))
    }

    /// The program dropped its stream: close it the way the kernel does
    /// (reset if it left data unread, FIN otherwise), then forget it.
    pub fn release_stream(&mut self, handle: SocketHandle) {
        let socket = self.sockets.get_mut::<tcp::Socket>(handle);
        if socket.can_recv() {
            socket.abort();
        } else {
            socket.close();
        }
        if gone(socket) {
            self.remove(handle);
        } else if let Some((slot, _)) = self.slots.get_mut(&handle) {
            *slot = Slot::Orphan;
            self.rearm(handle);
        }
    }

    fn new_tcp(&self) -> tcp::Socket<'static> {
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; self.buffers.tcp_rx]),
            tcp::SocketBuffer::new(vec![0; self.buffers.tcp_tx]),
        );
        // Small writes go out at once, as programs written for kernel
        // sockets with TCP_NODELAY expect of a request/response exchange.
        socket.set_nagle_enabled(false);
        socket
    }

    fn ephemeral_port(&mut self) -> Option<u16> {
        let span = usize::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        for _ in 0..span {
            let port = self.next_port;
            self.next_port = if port == *EPHEMERAL.end() {
                *EPHEMERAL.start()
            } else {
                port + 1
            };
            if !self.ports.contains(&port) {
                return Some(port);
            }
        }
        None
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
    fn check_local(&self, addr: SocketAddr) -> Result<()> {
        if addr.ip().is_unspecified() || self.iface.has_ip_addr(addr.ip()) {
            Ok(())
        } else {
            Err(Error::AddrNotAvailable { addr })
        }
    }

    // --- listeners ---------------------------------------------------------

    pub fn listen(&mut self, addr: SocketAddr, backlog: usize) -> Result<(usize, Arc<Shown>)> {
        if self.stopped {
            return Err(Error::StackClosed);
        }
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
        let shown = Arc::new(Shown::new(self.backend)?);
        let vpoll = Arc::clone(&shown);
        let id = self.next_listener;
        self.next_listener += 1;
        self.listeners.insert(
            id,
            Listener {
                shown,
                endpoint,
                embryos: Vec::new(),
                queue: VecDeque::new(),
                backlog: backlog.max(1),
            },
        );
        self.ports.insert(addr.port());
        self.update_listener(id);
        Ok((id, vpoll))
    }

    /// Moves established connections to the accept queue, keeps one socket
    /// listening while the backlog has room, and shows the result.
    fn update_listener(&mut self, id: usize) {
        let Some(listener) = self.listeners.get_mut(&id) else {
            return;
        };
        let mut listening = false;
        let mut i = 0;
        while i < listener.embryos.len() {
            let handle = listener.embryos[i];
            let socket = self.sockets.get_mut::<tcp::Socket>(handle);
            match socket.state() {
                tcp::State::Listen | tcp::State::SynReceived => {
                    listening |= socket.state() == tcp::State::Listen;
                    if let Some((_, waker)) = self.slots.get(&handle) {
                        socket.register_recv_waker(waker);
                        socket.register_send_waker(waker);
                    }
                    i += 1;
                }
                tcp::State::Closed => {
                    // A handshake that failed: listen again.
                    let _ = socket.listen(listener.endpoint);
                    continue;
                }
                _ => {
                    listener.embryos.swap_remove(i);
                    listener.queue.push_back(handle);
                }
            }
        }
        let room = listener.queue.len() + listener.embryos.len() < listener.backlog;
        let endpoint = listener.endpoint;
        if !listening && room {
            let mut socket = self.new_tcp();
            if socket.listen(endpoint).is_ok() {
                let handle = self.add_last(socket);
                if let Some(listener) = self.listeners.get_mut(&id) {
                    debug_assert!(listener
                        .embryos
                        .iter()
                        .chain(&listener.queue)
                        .all(|h| *h < handle));
                    listener.embryos.push(handle);
                }
                self.insert(handle, Slot::Member(id));
            }
        }
        if let Some(listener) = self.listeners.get_mut(&id) {
            let mask = readiness::listener(listener.queue.len());
            self.changes.show(&listener.shown, mask, &self.counters);
        }
    }

    /// Takes the oldest established connection of listener `id`.
    pub fn accept(&mut self, id: usize) -> Result<Option<(SocketHandle, Arc<Shown>, SocketAddr)>> {
        if self.stopped {
            return Err(Error::StackClosed);
        }
        let Some(listener) = self.listeners.get_mut(&id) else {
            return Err(Error::NotConnected);
        };
        let Some(handle) = listener.queue.pop_front() else {
            return Ok(None);
        };
        let shown = Arc::new(Shown::new(self.backend)?);
        let vpoll = Arc::clone(&shown);
        let socket = self.sockets.get::<tcp::Socket>(handle);
        let peer = socket
            .remote_endpoint()
            .map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), SocketAddr::from);
        let stream = Stream {
            shown,
            // As it was when it entered the queue: a reset since then shows.
            last: tcp::State::Established,
            failure: None,
            shut_rd: false,
            fin_seen: false,
        };
        if let Some((slot, _)) = self.slots.get_mut(&handle) {
            *slot = Slot::Stream(stream);
        }
        self.update_stream(handle);
        self.update_listener(id);
        Ok(Some((handle, vpoll, peer)))
    }

    pub fn release_listener(&mut self, id: usize) {
        let Some(listener) = self.listeners.remove(&id) else {
            return;
        };
        for handle in listener.embryos.into_iter().chain(listener.queue) {
            self.sockets.get_mut::<tcp::Socket>(handle).abort();
            // Sent by the next poll, then removed.
            if let Some((slot, _)) = self.slots.get_mut(&handle) {
                *slot = Slot::Orphan;
            }
            self.rearm(handle);
        }
        self.ports.remove(&listener.endpoint.port);
    }

    // --- UDP ---------------------------------------------------------------

    pub fn bind_udp(&mut self, addr: SocketAddr) -> Result<(SocketHandle, Arc<Shown>, u16)> {
        if self.stopped {
            return Err(Error::StackClosed);
        }
        self.check_local(addr)?;
        let port = match addr.port() {
            0 => self
                .ephemeral_port()
                .ok_or(Error::PortsExhausted { addr })?,
            p if self.udp_port_taken(p) => return Err(Error::AddrInUse { addr }),
            p => p,
        };
        let b = self.buffers;
        let mut socket = udp::Socket::new(
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; b.udp_packets],
                vec![0; b.udp_payload],
            ),
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; b.udp_packets],
                vec![0; b.udp_payload],
            ),
        );
        let endpoint = IpListenEndpoint {
            addr: (!addr.ip().is_unspecified()).then(|| addr.ip().into()),
            port,
        };
        socket.bind(endpoint).map_err(|_| Error::InvalidAddress {
            addr: addr.to_string(),
            why: "smoltcp refused the binding",
        })?;
        let shown = Arc::new(Shown::new(self.backend)?);
        let vpoll = Arc::clone(&shown);
        let handle = self.add_low(socket);
        self.insert(handle, Slot::Udp(shown));
        self.update_udp(handle);
        Ok((handle, vpoll, port))
    }

    fn udp_port_taken(&self, port: u16) -> bool {
        self.slots.iter().any(|(h, (slot, _))| {
            matches!(slot, Slot::Udp(_))
                && self.sockets.get::<udp::Socket>(*h).endpoint().port == port
        })
    }

    pub fn udp(&mut self, handle: SocketHandle) -> Result<&mut udp::Socket<'static>> {
        if self.stopped {
            return Err(Error::StackClosed);
        }
        Ok(self.sockets.get_mut::<udp::Socket>(handle))
    }

    pub fn update_udp(&mut self, handle: SocketHandle) {
        let socket = self.sockets.get_mut::<udp::Socket>(handle);
        let Some((Slot::Udp(shown), waker)) = self.slots.get_mut(&handle) else {
            return;
        };
        socket.register_recv_waker(waker);
        socket.register_send_waker(waker);
        self.changes
            .show(shown, readiness::udp(socket), &self.counters);
    }

    pub fn release_udp(&mut self, handle: SocketHandle) {
        self.remove(handle);
    }

    // --- the end -----------------------------------------------------------

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
        let streams = self.slots.values().filter_map(|(slot, _)| match slot {
            Slot::Stream(Stream { shown, .. }) | Slot::Udp(shown) => Some(shown),
            Slot::Orphan | Slot::Member(_) => None,
        });
        for shown in streams.chain(self.listeners.values().map(|l| &l.shown)) {
            if shown.want(DEAD) {
                shown.apply(&self.counters);
            }
        }
    }
}

/// Whether a closed socket has nothing left to send: an aborted one keeps
/// its connection (and so its remote endpoint) until its RST is out.
fn gone(socket: &tcp::Socket<'_>) -> bool {
    socket.state() == tcp::State::Closed && socket.remote_endpoint().is_none()
}

/// A smoltcp endpoint as a `std` address.
pub(crate) fn socket_addr(endpoint: IpEndpoint) -> SocketAddr {
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
