// SPDX-License-Identifier: MIT OR Apache-2.0

//! Two stacks joined by a link, and ways to look at a socket's fd.

#![allow(dead_code)]
#![allow(unsafe_code)] // raw system calls to check what the stack made

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

pub mod impaired;
pub mod raw;

use vpoll_netstack::{Backend, Events, Link, Stack};

pub const A4: &str = "10.9.0.1";
pub const B4: &str = "10.9.0.2";
pub const A6: &str = "fd09::1";
pub const B6: &str = "fd09::2";

/// The backend under test: `VPOLL_BACKEND`, or the one the library picks.
pub fn backend() -> Backend {
    Backend::from_env()
        .ok()
        .flatten()
        .unwrap_or_else(|| vpoll::Vpoll::new().expect("a vpoll backend").backend())
}

/// Two stacks, `a` (10.9.0.1, fd09::1) and `b` (.2), back to back.
pub fn pair() -> (Stack, Stack) {
    pair_with(|b| b)
}

pub fn pair_with(f: impl Fn(vpoll_netstack::Builder) -> vpoll_netstack::Builder) -> (Stack, Stack) {
    let (la, lb) = Link::pair().unwrap();
    stacks_on(la, lb, f)
}

/// Stacks `a` on `la` and `b` on `lb`, each builder through `f`.
pub fn stacks_on(
    la: Link,
    lb: Link,
    f: impl Fn(vpoll_netstack::Builder) -> vpoll_netstack::Builder,
) -> (Stack, Stack) {
    let start = |link, v4: &str, v6: &str| {
        f(Stack::builder(link)
            .address(v4.parse().unwrap(), 24)
            .address(v6.parse().unwrap(), 64)
            .backend(backend()))
        .start()
        .unwrap()
    };
    (start(la, A4, A6), start(lb, B4, B6))
}

/// A checksum that notices reordering, loss and duplication (FNV-1a).
pub fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// `len` bytes that differ with `seed` and along their length.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add(seed ^ (i >> 13) as u8)
        })
        .collect()
}

/// xorshift64*: small, seedable, good enough for faults and fuzzing.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// Uniform in `0..=d`.
    pub fn within(&mut self, d: Duration) -> Duration {
        match d.as_nanos() as u64 {
            0 => Duration::ZERO,
            n => Duration::from_nanos(self.next() % (n + 1)),
        }
    }
}

/// A seed from `var`, or a new one.
pub fn seed_from(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

pub fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse::<IpAddr>().unwrap(), port)
}

/// The events tests compare: companions (`RDNORM`, `WRBAND`, …) differ by
/// backend as they do between kernel socket families.
pub const MAIN: Events = Events::IN
    .union(Events::PRI)
    .union(Events::OUT)
    .union(Events::ERR)
    .union(Events::HUP)
    .union(Events::RDHUP);

/// What poll(2) on `fd` reports of [`MAIN`] within `timeout_ms`.
pub fn poll_main(fd: &impl AsFd, ask: Events, timeout_ms: i32) -> Events {
    let mut p = libc::pollfd {
        fd: fd.as_fd().as_raw_fd(),
        events: ask.bits() as i16,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the call's duration.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    Events::from_bits_truncate(p.revents as u16 as u32) & MAIN
}

/// What poll(2) reports on `fd` now.
pub fn revents(fd: &impl AsFd) -> Events {
    poll_main(fd, MAIN, 0)
}

/// Waits up to 10 s for poll(2) on `fd` to report all of `want`; returns
/// what it reported last.
pub fn wait_for(fd: &impl AsFd, want: Events) -> Events {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = revents(fd);
        if now.contains(want) || std::time::Instant::now() > deadline {
            return now;
        }
        poll_main(fd, want, 100);
    }
}

/// What the backend can show of `mask` (the emulation has no `ERR`).
pub fn shown(mask: Events) -> Events {
    mask & backend().deliverable() & MAIN
}

/// Open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Two stacks, a listener on the first at `port`, and one connection
/// between them: (first, second, listener, client, server).
pub fn connected(
    port: u16,
) -> (
    Stack,
    Stack,
    vpoll_netstack::TcpListener,
    vpoll_netstack::TcpStream,
    vpoll_netstack::TcpStream,
) {
    let (a, b) = pair();
    let listener = vpoll_netstack::TcpListener::bind(&a, addr(A4, port)).unwrap();
    let client = vpoll_netstack::TcpStream::connect(&b, addr(A4, port)).unwrap();
    let (server, peer) = listener.accept().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (a, b, listener, client, server)
}

/// A stack on one end of a pair (10.9.0.1/24, built by `f`) and a raw
/// peer on the other.
pub fn raw_pair(
    f: impl FnOnce(vpoll_netstack::Builder) -> vpoll_netstack::Builder,
) -> (Stack, raw::RawPeer) {
    let (la, lb) = Link::pair().unwrap();
    let a = f(Stack::builder(la)
        .address(A4.parse().unwrap(), 24)
        .backend(backend()))
    .start()
    .unwrap();
    (a, raw::RawPeer::new(lb))
}

/// Runs `f` on a thread of `scope` and returns once that thread sleeps (in
/// `f`'s blocking call): what happens next really has to wake it.
pub fn spawn_asleep<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = scope.spawn(move || {
        tx.send(nix::unistd::gettid().as_raw()).unwrap();
        f()
    });
    let tid = rx.recv().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if vpoll_testkit::waiter::thread_state(tid) == Some('S') {
            return handle;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "thread {tid} never blocked"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Polls `cond` until it holds or `within` passes; says whether it held.
pub fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
