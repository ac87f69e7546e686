// SPDX-License-Identifier: MIT OR Apache-2.0

//! The stack: its configuration, and the thread that runs it. The thread
//! sleeps in `poll` on the link, a wakeup eventfd and smoltcp's next timer:
//! it never spins.

use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use smoltcp::iface::{Config as IfaceConfig, Interface};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};
use vpoll::Backend;

use crate::config::{Buffers, Config};
use crate::engine::{cidr, Engine};
use crate::error::{Error, Result};
use crate::link::Link;
use crate::shown::{Counters, Shown, Stats};

/// What the stack's thread and the sockets share.
pub(crate) struct Shared {
    engine: Mutex<Engine>,
    /// The vpoll backend of every socket's fd (`None`: the first that works).
    backend: Option<Backend>,
    wake: EventFd,
    /// The link's fd, duplicated: the thread waits on it without the lock
    /// (holding it while asleep would stall every socket).
    link_fd: OwnedFd,
    /// A wakeup is on its way: later kicks need no system call.
    kicked: AtomicBool,
    stop: AtomicBool,
    pub counters: Arc<Counters>,
    /// A new TCP socket's buffers, unless it asks for its own.
    pub buffers: Buffers,
    /// Notified after each round of the stack's thread, while `lingering`.
    cycled: Condvar,
    /// A dropped [`Stack`] waits on `cycled` (set and read under the lock):
    /// only then does a round pay for the notification's system call.
    lingering: AtomicBool,
    /// With [`Builder::activity_fd`]: the design vpoll replaces.
    activity: Option<EventFd>,
}

impl Shared {
    /// The engine, locked. What the work under the lock changed in the
    /// fds' masks is applied when the guard goes, after the lock is free.
    pub fn lock(&self) -> Locked<'_> {
        Locked {
            shared: self,
            engine: Some(self.engine.lock().unwrap_or_else(PoisonError::into_inner)),
        }
    }

    /// A new vpoll fd for a socket (made before taking the lock: it is a
    /// system call, and at `EMFILE` nothing has changed yet).
    pub fn new_fd(&self) -> Result<Arc<Shown>> {
        Ok(Arc::new(self.make_fd()?))
    }

    pub fn make_fd(&self) -> Result<Shown> {
        Shown::new(self.backend)
    }

    /// Makes the stack's thread run a round soon (data to send, a window
    /// to open).
    pub fn kick(&self) {
        if !self.kicked.swap(true, Ordering::AcqRel) {
            // Can only fail if the counter would overflow, and then the
            // thread is woken anyway.
            let _ = self.wake.write(1);
        }
    }
}

thread_local! {
    /// The masks a thread applies after letting go of the lock.
    static MASKS: std::cell::RefCell<Vec<Arc<Shown>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The locked engine. The one rule for when the masks change: right after
/// the lock is released, by the thread that held it (so that a program
/// woken by a mask never finds the lock still held); then, if the work
/// queued something to send, the stack's thread is woken.
pub(crate) struct Locked<'a> {
    shared: &'a Shared,
    engine: Option<MutexGuard<'a, Engine>>,
}

impl std::ops::Deref for Locked<'_> {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        self.engine.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        self.engine.as_mut().expect("held until dropped")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let Some(mut engine) = self.engine.take() else {
            return;
        };
        let kick = std::mem::take(&mut engine.outbox.kick);
        if engine.outbox.masks.is_empty() {
            drop(engine);
        } else {
            // The list goes to this thread's own, which goes back empty: no
            // allocation per call.
            MASKS.with_borrow_mut(|masks| {
                std::mem::swap(masks, &mut engine.outbox.masks);
                drop(engine);
                Shown::apply_all(masks, &self.shared.counters);
            });
        }
        if kick {
            self.shared.kick();
        }
    }
}

/// Builds a [`Stack`].
///
/// ```
/// use vpoll_netstack::{Link, Stack};
/// let (a, _b) = Link::pair()?;
/// let stack = Stack::builder(a)
///     .address("10.0.0.1".parse().unwrap(), 24)
///     .address("fd00::1".parse().unwrap(), 64)
///     .start()?;
/// assert_eq!(stack.addresses().len(), 2);
/// # Ok::<(), vpoll_netstack::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until started"]
pub struct Builder {
    link: Link,
    addresses: Vec<(IpAddr, u8)>,
    gateways: Vec<IpAddr>,
    mac: Option<[u8; 6]>,
    backend: Option<Backend>,
    config: Config,
    activity: bool,
}

impl Builder {
    /// Adds an interface address with its prefix length (up to four).
    pub fn address(mut self, addr: IpAddr, prefix: u8) -> Builder {
        self.addresses.push((addr, prefix));
        self
    }

    /// Adds a default route through `gateway` (one per IP version).
    pub fn gateway(mut self, gateway: IpAddr) -> Builder {
        self.gateways.push(gateway);
        self
    }

    /// The Ethernet address (default: a locally administered one, different
    /// for each stack).
    pub fn mac(mut self, mac: [u8; 6]) -> Builder {
        self.mac = Some(mac);
        self
    }

    /// The vpoll backend of every socket's fd (default: the first that works,
    /// or `VPOLL_BACKEND`).
    pub fn backend(mut self, backend: Backend) -> Builder {
        self.backend = Some(backend);
        self
    }

    /// Each TCP socket's receive and send buffer, in bytes (default 64 KiB
    /// each; 2 KiB to 64 MiB), unless it asks for its own
    /// ([`TcpSocket`](crate::TcpSocket)). A connection holds both until it reaches TIME-WAIT (which
    /// holds neither) or is gone.
    pub fn tcp_buffers(mut self, rx: usize, tx: usize) -> Builder {
        use crate::config::{BUFFER_MAX, BUFFER_MIN};
        self.config.tcp_rx = rx.clamp(BUFFER_MIN, BUFFER_MAX);
        self.config.tcp_tx = tx.clamp(BUFFER_MIN, BUFFER_MAX);
        self
    }

    /// At most this many sockets with buffers at once: connections (not
    /// in TIME-WAIT), handshakes in progress and UDP sockets (default
    /// 16,384: 2 GiB with the default buffers, at worst). Beyond it a connect or bind fails with
    /// [`Error::SocketLimit`] and a SYN goes unanswered.
    pub fn max_sockets(mut self, max: usize) -> Builder {
        self.config.max_sockets = max.max(1);
        self
    }

    /// Handshakes in progress per listener at most, as Linux's
    /// `tcp_max_syn_backlog` (default 256; never more than the listener's
    /// backlog). Each holds its buffers: this bounds what a SYN flood costs
    /// (32 MiB with the default buffers).
    pub fn syn_backlog(mut self, max: usize) -> Builder {
        self.config.syn_backlog = max.max(1);
        self
    }

    /// Whether a SYN that finds the SYN queue full is answered with a SYN
    /// cookie (default: yes, as Linux's `tcp_syncookies = 1`): a flood of
    /// SYNs from addresses that never answer then delays no real client.
    /// Off, the oldest handshake makes room once it is a second old, and
    /// the SYN is dropped before that.
    pub fn syn_cookies(mut self, on: bool) -> Builder {
        self.config.syn_cookies = on;
        self
    }

    /// How long a handshake waits for the client's final ACK (default
    /// 63 s, Linux's five SYN-ACK retries).
    pub fn synack_timeout(mut self, timeout: Duration) -> Builder {
        self.config.synack_timeout = timeout;
        self
    }

    /// `tcp_fin_timeout` (default 60 s): how long a dropped connection
    /// waits in FIN-WAIT-2 for the peer's FIN, and how long a dropped
    /// connection still sending may go without hearing from its peer.
    pub fn fin_timeout(mut self, timeout: Duration) -> Builder {
        self.config.fin_timeout = timeout;
        self
    }

    /// How long a connection stays in TIME-WAIT (default 60 s, Linux's).
    pub fn time_wait(mut self, duration: Duration) -> Builder {
        self.config.time_wait = duration;
        self
    }

    /// `tcp_max_orphans` (default 4096): dropped connections still closing
    /// at most; beyond it the oldest is reset.
    pub fn max_orphans(mut self, max: usize) -> Builder {
        self.config.max_orphans = max;
        self
    }

    /// Also keep an [`activity_fd`](Stack::activity_fd).
    pub fn activity_fd(mut self, on: bool) -> Builder {
        self.activity = on;
        self
    }

    /// Configures the interface and starts the stack's thread.
    pub fn start(self) -> Result<Stack> {
        let Builder {
            mut link,
            addresses,
            gateways,
            mac,
            backend,
            config,
            activity,
        } = self;
        let cidrs = addresses
            .iter()
            .map(|&(a, p)| cidr(a, p))
            .collect::<Result<Vec<IpCidr>>>()?;
        if cidrs.len() > 4 {
            return Err(Error::InvalidAddress {
                addr: format!("{} addresses", cidrs.len()),
                why: "a stack has at most four addresses",
            });
        }
        let seed = seed();
        let mac = mac.unwrap_or_else(|| {
            let b = seed.to_le_bytes();
            [0x02, 0x76, b[0], b[1], b[2], b[3]]
        });
        let hw = EthernetAddress(mac);
        if !hw.is_unicast() {
            return Err(Error::InvalidAddress {
                addr: hw.to_string(),
                why: "an Ethernet address must be unicast",
            });
        }
        let mut iface_config = IfaceConfig::new(HardwareAddress::Ethernet(hw));
        iface_config.random_seed = seed;
        let mut iface = Interface::new(iface_config, &mut link, now());
        iface.update_ip_addrs(|addrs| {
            for c in &cidrs {
                // Cannot fail: at most four, checked above.
                let _ = addrs.push(*c);
            }
        });
        let mut routed = Vec::new();
        for gw in &gateways {
            let on_link = cidrs.iter().any(|c| c.contains_addr(&IpAddress::from(*gw)));
            let added = match gw {
                IpAddr::V4(v4) if on_link => iface.routes_mut().add_default_ipv4_route(*v4).is_ok(),
                IpAddr::V6(v6) if on_link => iface.routes_mut().add_default_ipv6_route(*v6).is_ok(),
                _ => false,
            };
            if !added {
                return Err(Error::InvalidAddress {
                    addr: gw.to_string(),
                    why: "a gateway must be in one of the stack's networks, one per IP version",
                });
            }
            routed.push(IpAddress::from(*gw));
        }
        let wake =
            EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK).map_err(|e| {
                Error::Io {
                    what: "eventfd",
                    source: e.into(),
                }
            })?;
        let link_fd = link
            .as_fd()
            .try_clone_to_owned()
            .map_err(|source| Error::Link {
                what: "dup",
                source,
            })?;
        let counters = Arc::new(Counters::default());
        let buffers = config.buffers();
        let engine = Engine::new(iface, link, routed, config, Arc::clone(&counters), seed);
        let activity = match activity {
            true => Some(eventfd()?),
            false => None,
        };
        let shared = Arc::new(Shared {
            engine: Mutex::new(engine),
            backend,
            counters,
            buffers,
            cycled: Condvar::new(),
            lingering: AtomicBool::new(false),
            activity,
            wake,
            link_fd,
            kicked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let thread = std::thread::Builder::new()
            .name("vpoll-netstack".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run(&shared)
            })
            .map_err(|source| Error::Io {
                what: "spawning the stack's thread",
                source,
            })?;
        Ok(Stack {
            shared,
            thread: Some(thread),
            cidrs,
        })
    }
}

/// A user-level TCP/IP stack on one Ethernet link, run by its own thread.
/// Its sockets ([`TcpListener`](crate::TcpListener),
/// [`TcpStream`](crate::TcpStream), [`UdpSocket`](crate::UdpSocket)) are
/// file descriptors that poll, epoll, mio and tokio wait on as on kernel
/// sockets. Dropping the stack stops it, once what its connections queued
/// is sent and acknowledged (for up to [`LINGER`]): its sockets then report
/// `ERR|HUP` and fail with [`Error::StackClosed`].
pub struct Stack {
    pub(crate) shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    cidrs: Vec<IpCidr>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("addresses", &self.addresses())
            .finish()
    }
}

impl Stack {
    /// A stack on `link`; give it addresses and [`start`](Builder::start) it.
    pub fn builder(link: Link) -> Builder {
        Builder {
            link,
            addresses: Vec::new(),
            gateways: Vec::new(),
            mac: None,
            backend: None,
            activity: false,
            config: Config::default(),
        }
    }

    /// The interface's addresses with their prefix lengths.
    pub fn addresses(&self) -> Vec<(IpAddr, u8)> {
        self.cidrs
            .iter()
            .map(|c| (IpAddr::from(c.address()), c.prefix_len()))
            .collect()
    }

    /// With [`Builder::activity_fd`]: an eventfd the stack's thread makes
    /// readable whenever a packet or a timer changed some socket's
    /// readiness. This is the design a stack without vpoll must use (wake,
    /// then ask every socket); it is here for programs built that way and to
    /// measure what vpoll saves (`N1` in BENCHMARKS.md). Read it to rearm.
    pub fn activity_fd(&self) -> Option<std::os::fd::OwnedFd> {
        let fd = self.shared.activity.as_ref()?;
        fd.as_fd().try_clone_to_owned().ok()
    }

    /// Counters of the stack's work so far, and how many sockets it holds.
    pub fn stats(&self) -> Stats {
        let ((sockets, slots), orphans) = {
            let engine = self.shared.lock();
            (engine.live_sockets(), engine.orphans())
        };
        Stats {
            sockets: sockets as u64,
            socket_slots: slots as u64,
            orphans: orphans as u64,
            ..self.shared.counters.stats()
        }
    }
}

/// How long dropping a [`Stack`] waits for what its connections queued to be
/// sent and acknowledged.
pub const LINGER: std::time::Duration = std::time::Duration::from_secs(1);

impl Drop for Stack {
    fn drop(&mut self) {
        // As a kernel goes on sending after close(): what programs wrote and
        // their FINs leave before the stack does, for up to LINGER.
        let deadline = std::time::Instant::now() + LINGER;
        let mut engine = self
            .shared
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.shared.lingering.store(true, Ordering::Relaxed);
        while !engine.quiescent() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            self.shared.kick();
            engine = self
                .shared
                .cycled
                .wait_timeout(engine, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(engine);
        self.shared.stop.store(true, Ordering::Release);
        let _ = self.shared.wake.write(1);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The stack's thread.
fn run(shared: &Shared) {
    // Whether the link may have frames: its poll said so, or the last wait
    // was cut short (a signal).
    let mut link_ready = true;
    loop {
        let (blocked, link_gone, timeout, changed) = {
            let mut engine = shared.lock();
            if shared.stop.load(Ordering::Acquire) {
                engine.die();
                return;
            }
            shared.kicked.store(false, Ordering::Release);
            let timeout = match engine.poll(now(), link_ready) {
                None => PollTimeout::NONE,
                Some(d) => {
                    // Rounded up: waking a millisecond early would spin.
                    let ms = d.total_micros().div_ceil(1000);
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
            };
            let changed = std::mem::take(&mut engine.outbox.changed);
            if shared.lingering.load(Ordering::Relaxed) {
                shared.cycled.notify_all();
            }
            (
                engine.link.is_blocked(),
                engine.link.is_gone(),
                timeout,
                changed,
            )
            // The masks change as the lock goes (on the device, one system
            // call for them all): a program they wake can take it at once.
        };
        if let (true, Some(activity)) = (changed, &shared.activity) {
            let _ = activity.write(1);
        }
        let mut link_events = PollFlags::POLLIN;
        if blocked {
            link_events |= PollFlags::POLLOUT;
        }
        let mut fds = [
            PollFd::new(shared.wake.as_fd(), PollFlags::POLLIN),
            PollFd::new(shared.link_fd.as_fd(), link_events),
        ];
        // A link whose other end is gone reports it at every poll, at once:
        // the stack goes on like a host whose cable was pulled, with its
        // timers and sockets, and stops watching it.
        let watched = if link_gone { 1 } else { 2 };
        // EINTR and the like: go round and poll again.
        link_ready = match poll(&mut fds[..watched], timeout) {
            Ok(_) => watched == 1 || fds[1].any().unwrap_or(true),
            Err(_) => true,
        };
        if fds[0].any().unwrap_or(false) {
            let _ = shared.wake.read();
        }
    }
}

fn eventfd() -> Result<EventFd> {
    EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK).map_err(|e| Error::Io {
        what: "eventfd",
        source: e.into(),
    })
}

fn now() -> Instant {
    Instant::now()
}

/// A seed different for every stack: TCP's initial sequence numbers and the
/// default MAC come from it.
fn seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    // splitmix64 of the mix: neighbouring stacks get unrelated seeds.
    let mut z = t ^ (u64::from(std::process::id()) << 32) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
