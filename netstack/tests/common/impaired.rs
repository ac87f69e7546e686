// SPDX-License-Identifier: MIT OR Apache-2.0

//! Two stacks joined through a bad link: a relay thread between two
//! `Link::pair`s that loses, delays (with jitter), reorders, duplicates and
//! corrupts frames, each direction on its own, all from one seed, so that a
//! failure can be replayed (`VPOLL_LINK_SEED`). A blackout drops everything
//! until it is lifted.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use vpoll_netstack::{Builder, Link, Stack};

use super::{seed_from, stacks_on, Rng};

/// What the link does to each frame, per direction.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Chance a frame is lost.
    pub loss: f64,
    /// Chance a frame is held back (by up to `delay` more) and so overtaken.
    pub reorder: f64,
    /// Chance a frame arrives twice.
    pub duplicate: f64,
    /// Chance a byte of a frame's IP packet is changed (its checksum then
    /// fails).
    pub corrupt: f64,
    /// One-way delay, and its jitter (uniform within ±).
    pub delay: Duration,
    pub jitter: Duration,
}

impl Faults {
    pub const NONE: Faults = Faults {
        loss: 0.0,
        reorder: 0.0,
        duplicate: 0.0,
        corrupt: 0.0,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
    };
}

/// What the relay did, both directions together.
#[derive(Default)]
pub struct Counts {
    /// The last frames relayed, as one line each (for a failure's report).
    pub trace: std::sync::Mutex<std::collections::VecDeque<String>>,
    pub relayed: AtomicU64,
    pub lost: AtomicU64,
    pub reordered: AtomicU64,
    pub duplicated: AtomicU64,
    pub corrupted: AtomicU64,
}

impl std::fmt::Debug for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        write!(
            f,
            "{} frames relayed, {} lost, {} reordered, {} duplicated, {} corrupted",
            n(&self.relayed),
            n(&self.lost),
            n(&self.reordered),
            n(&self.duplicated),
            n(&self.corrupted)
        )
    }
}

/// The relay between the two stacks; stops when dropped.
pub struct Impaired {
    stop: Arc<AtomicBool>,
    blackout: Arc<AtomicBool>,
    pub counts: Arc<Counts>,
    pub seed: u64,
    thread: Option<JoinHandle<()>>,
}

impl Impaired {
    /// Drops every frame, both ways, until [`restore`](Impaired::restore).
    pub fn black_out(&self) {
        self.blackout.store(true, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.blackout.store(false, Ordering::SeqCst);
    }
}

impl Drop for Impaired {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One direction: frames read from `from`, written to `to` when due.
struct Direction {
    from: OwnedFd,
    to: OwnedFd,
    rng: Rng,
    /// (due, order, frame): the order keeps equal times first-come.
    queue: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>>,
    order: u64,
}

impl Direction {
    fn take(&mut self, faults: &Faults, blackout: bool, counts: &Counts) {
        let mut buf = vec![0u8; 66_000];
        while let Ok(n) = nix::unistd::read(&self.from, &mut buf) {
            if n == 0 {
                return;
            }
            if blackout || self.rng.chance(faults.loss) {
                counts.lost.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let mut frame = buf[..n].to_vec();
            // Past the Ethernet header: the IP or TCP checksum catches it.
            if n > 14 && self.rng.chance(faults.corrupt) {
                let at = 14 + (self.rng.next() as usize) % (n - 14);
                frame[at] ^= 1 << (self.rng.next() % 8);
                counts.corrupted.fetch_add(1, Ordering::Relaxed);
            }
            let mut delay =
                faults.delay.saturating_sub(faults.jitter) + self.rng.within(2 * faults.jitter);
            if self.rng.chance(faults.reorder) {
                delay += self.rng.within(faults.delay.max(Duration::from_millis(1)));
                counts.reordered.fetch_add(1, Ordering::Relaxed);
            }
            let copies = if self.rng.chance(faults.duplicate) {
                counts.duplicated.fetch_add(1, Ordering::Relaxed);
                2
            } else {
                1
            };
            for _ in 0..copies {
                self.order += 1;
                self.queue
                    .push(Reverse((Instant::now() + delay, self.order, frame.clone())));
            }
        }
    }

    /// Writes what is due; returns when the next frame is.
    fn give(&mut self, counts: &Counts) -> Option<Instant> {
        while let Some(Reverse((due, _, _))) = self.queue.peek() {
            if *due > Instant::now() {
                return Some(*due);
            }
            let Some(Reverse((due, order, frame))) = self.queue.pop() else {
                break;
            };
            match nix::unistd::write(&self.to, &frame) {
                Ok(_) => {}
                // The stack has not read the frames before (an AF_UNIX
                // receiver queues ten): this one waits its turn, not lost —
                // only the faults chosen lose frames.
                Err(Errno::EAGAIN) => {
                    self.queue.push(Reverse((due, order, frame)));
                    return Some(Instant::now() + Duration::from_micros(200));
                }
                Err(_) => return None,
            }
            if let Some(line) = describe(&frame) {
                let mut t = counts.trace.lock().unwrap();
                if t.len() >= 60 {
                    t.pop_front();
                }
                t.push_back(line);
            }
            counts.relayed.fetch_add(1, Ordering::Relaxed);
        }
        None
    }
}

/// Stacks `a` (10.9.0.1, fd09::1) and `b` (.2) through a link with
/// `faults` both ways; each stack's builder goes through `f`.
pub fn impaired_pair(faults: Faults, f: impl Fn(Builder) -> Builder) -> (Stack, Stack, Impaired) {
    let seed = seed_from("VPOLL_LINK_SEED");
    eprintln!("impaired link: {faults:?}, VPOLL_LINK_SEED={seed}");
    let (la, x) = Link::pair().unwrap();
    let (y, lb) = Link::pair().unwrap();
    let fd = |l: &Link| l.as_fd().try_clone_to_owned().unwrap();
    let (x1, x2, y1, y2) = (fd(&x), fd(&x), fd(&y), fd(&y));
    drop((x, y));
    let (a, b) = stacks_on(la, lb, f);
    let stop = Arc::new(AtomicBool::new(false));
    let blackout = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let mut ways = [
        Direction {
            from: x1,
            to: y2,
            rng: Rng(seed),
            queue: BinaryHeap::new(),
            order: 0,
        },
        Direction {
            from: y1,
            to: x2,
            rng: Rng(seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15),
            queue: BinaryHeap::new(),
            order: 0,
        },
    ];
    let thread = std::thread::spawn({
        let (stop, blackout, counts) = (stop.clone(), blackout.clone(), counts.clone());
        move || {
            while !stop.load(Ordering::SeqCst) {
                let dark = blackout.load(Ordering::SeqCst);
                let mut next: Option<Instant> = None;
                for way in &mut ways {
                    way.take(&faults, dark, &counts);
                    if let Some(t) = way.give(&counts) {
                        next = Some(next.map_or(t, |n| n.min(t)));
                    }
                }
                let wait = next.map_or(Duration::from_millis(20), |t| {
                    t.saturating_duration_since(Instant::now())
                        .min(Duration::from_millis(20))
                });
                let ms = wait.as_millis().max(if wait.is_zero() { 0 } else { 1 }) as u16;
                let mut fds = [
                    PollFd::new(ways[0].from.as_fd(), PollFlags::POLLIN),
                    PollFd::new(ways[1].from.as_fd(), PollFlags::POLLIN),
                ];
                let _ = poll(&mut fds, PollTimeout::from(ms));
            }
        }
    });
    (
        a,
        b,
        Impaired {
            stop,
            blackout,
            counts,
            seed,
            thread: Some(thread),
        },
    )
}

/// A TCP frame in one line: ports, flags, numbers, window, length.
fn describe(frame: &[u8]) -> Option<String> {
    use smoltcp::wire::{EthernetFrame, Ipv4Packet, TcpPacket};
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    Some(format!(
        "{:?} {}->{} {}{}{}{} seq {} ack {} win {} len {}",
        std::time::Instant::now(),
        tcp.src_port(),
        tcp.dst_port(),
        if tcp.syn() { "S" } else { "" },
        if tcp.fin() { "F" } else { "" },
        if tcp.rst() { "R" } else { "" },
        if tcp.ack() { "." } else { "" },
        tcp.seq_number().0 as u32,
        tcp.ack_number().0 as u32,
        tcp.window_len(),
        tcp.payload().len()
    ))
}
