// SPDX-License-Identifier: MIT OR Apache-2.0

//! Many threads changing shared vpoll fds while waiters sleep in poll, epoll
//! (level- and edge-triggered) and select: every result is consistent with
//! its operation, no waiter returns for the storm's events, none misses the
//! final one, nothing deadlocks. Then waiters that race the storm, waiting
//! for its own events and re-polling after each wakeup (poll, epoll LT and
//! ET, select, io_uring), round after round. Device and eventfd backends;
//! some changes come in batches (`Vpoll::apply_many`: on the device, one
//! `VPOLL_IO_BATCH` each).

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vpoll::{Backend, Events, Op, Vpoll};
use vpoll_tests::rng::Rng;
use vpoll_tests::waiter::Waiter;

const THREADS: u64 = 8;
const OPS_PER_THREAD: u64 = 100_000;
/// How long every waiter may take to see the final events.
const BOUND: Duration = Duration::from_secs(30);
/// What the storm may set: everything but what the waiters wait for (PRI;
/// HUP and ERR, which poll and epoll always report; NVAL, in select's
/// exceptional set).
const STORM: Events = Events::ALL.difference(
    Events::PRI
        .union(Events::HUP)
        .union(Events::ERR)
        .union(Events::NVAL),
);
const FINAL: Events = Events::PRI.union(Events::HUP);

fn poll_nothing(fd: i32) -> Events {
    let mut p = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let ret = unsafe { libc::poll(&mut p, 1, 120_000) };
    assert_eq!(ret, 1, "poll timed out");
    Events::from_mask(p.revents as u16 as u32)
}

fn select_exceptional(fd: i32) -> Events {
    select_one(fd, false);
    Events::PRI
}

/// Blocks in select until `fd` is readable (or, with `readable` false,
/// exceptional).
fn select_one(fd: i32, readable: bool) {
    // SAFETY: fd_set is plain data; one fd below FD_SETSIZE.
    unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_ZERO(&mut set);
        libc::FD_SET(fd, &mut set);
        let mut t = libc::timeval {
            tv_sec: 120,
            tv_usec: 0,
        };
        let (r, x) = if readable {
            (&raw mut set, std::ptr::null_mut())
        } else {
            (std::ptr::null_mut(), &raw mut set)
        };
        assert_eq!(
            libc::select(fd + 1, r, std::ptr::null_mut(), x, &mut t),
            1,
            "select timed out"
        );
    }
}

fn epoll_pri(fd: i32, et: bool) -> Events {
    use nix::sys::epoll::*;
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
    let mut flags = EpollFlags::EPOLLPRI;
    if et {
        flags |= EpollFlags::EPOLLET;
    }
    // SAFETY: the fd stays open until every waiter has finished.
    ep.add(
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
        EpollEvent::new(flags, 0),
    )
    .unwrap();
    let mut out = [EpollEvent::empty()];
    assert_eq!(
        ep.wait(&mut out, 60_000u16).unwrap(),
        1,
        "epoll_wait timed out"
    );
    Events::from(out[0].events())
}

/// One mutator: random ADD/DEL/SET of storm events, alone or (every other
/// time) in batches of up to 16 changes to random fds, which on the device
/// are one `VPOLL_IO_BATCH`. On the device each result is checked: its ioctl
/// (or its entry of the batch) returns the mask it made, atomically. (The
/// eventfd backend reads the mask back after its write, when other threads
/// may have changed it already.)
fn storm(fds: &[Arc<Vpoll>], mut rng: Rng, ops: u64) {
    let check = |vp: &Vpoll, op: Op, ev: Events, now: Events| {
        if vp.backend() == Backend::Device {
            match op {
                Op::Add => assert!(now.contains(ev), "ADD {ev} gave {now}"),
                Op::Del => assert!(!now.intersects(ev), "DEL {ev} gave {now}"),
                Op::Set => assert_eq!(now, ev, "SET"),
            }
        }
    };
    let mut done = 0;
    while done < ops {
        let batch = if rng.below(2) == 0 {
            1
        } else {
            1 + rng.below(16)
        };
        let changes: Vec<(&Vpoll, Op, Events)> = (0..batch)
            .map(|_| {
                let vp = &*fds[rng.below(fds.len() as u64) as usize];
                let ev = Events::from_mask(rng.next_u64() as u32) & STORM;
                (vp, Op::ALL[rng.below(3) as usize], ev)
            })
            .collect();
        if let [(vp, op, ev)] = changes[..] {
            check(vp, op, ev, vp.apply(op, ev).unwrap());
        } else {
            let results = Vpoll::apply_many(&changes);
            for (&(vp, op, ev), now) in changes.iter().zip(results) {
                check(vp, op, ev, now.unwrap());
            }
        }
        done += batch;
    }
}

#[test]
fn a_storm_of_changes_loses_no_wakeup() {
    let ops: u64 = std::env::var("VPOLL_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(OPS_PER_THREAD);
    let mut seeds = Rng::from_env("stress");
    for b in vpoll_tests::kernel::backends() {
        let fds: Vec<Arc<Vpoll>> = (0..2)
            .map(|_| Arc::new(Vpoll::builder().backend(b).build().unwrap()))
            .collect();
        let mut waiters = Vec::new();
        for vp in &fds {
            let fd = vp.as_raw_fd();
            waiters.push(Waiter::spawn(move || poll_nothing(fd)));
            waiters.push(Waiter::spawn(move || select_exceptional(fd)));
            waiters.push(Waiter::spawn(move || epoll_pri(fd, false)));
            waiters.push(Waiter::spawn(move || epoll_pri(fd, true)));
        }
        let start = Instant::now();
        let mutators: Vec<_> = (0..THREADS)
            .map(|_| {
                let (fds, rng) = (fds.clone(), Rng::new(seeds.next_u64()));
                std::thread::spawn(move || storm(&fds, rng, ops))
            })
            .collect();
        for m in mutators {
            m.join().expect("a mutator found an inconsistent result");
        }
        let storm_time = start.elapsed();
        for w in &waiters {
            w.assert_still_blocked(Duration::from_millis(10));
        }
        for vp in &fds {
            vp.add(FINAL).unwrap();
        }
        let woken = Instant::now();
        for w in waiters {
            assert!(
                w.finish().intersects(FINAL),
                "{b}: a waiter saw something else"
            );
        }
        assert!(
            woken.elapsed() < BOUND,
            "{b}: waiters took {:?} to see the final events",
            woken.elapsed()
        );
        println!(
            "stress {b}: {THREADS} threads x {ops} ops in {storm_time:?}; 8 waiters woke in {:?}",
            woken.elapsed()
        );
    }
}

/// What the racing waiters wait for: the storm's own IN, and HUP, which only
/// the final raise of a round sets (poll and epoll report HUP regardless).
const RACED: Events = Events::IN.union(Events::HUP);
/// The storm of the racing rounds: IN and companions, never HUP.
const RACING_STORM: Events = Events::IN
    .union(Events::OUT)
    .union(Events::RDNORM)
    .union(Events::PRI);

/// How a racing waiter waits, once, for `RACED` on `fd`: registering anew
/// each time, as a program re-polling after every wakeup does.
#[derive(Clone, Copy, Debug)]
enum Wait {
    Poll,
    EpollLt,
    EpollEt,
    Select,
    IoUring,
}

/// Waits once with `how` (an edge-triggered epoll set persists across
/// waits, in `ep`); returns what was reported, within `RACED`.
fn wait_raced(how: Wait, vp: &Vpoll, ep: &nix::sys::epoll::Epoll) -> Events {
    use nix::sys::epoll::EpollEvent;
    let fd = vp.as_raw_fd();
    match how {
        Wait::Poll => {
            let mut p = libc::pollfd {
                fd,
                events: RACED.bits() as i16,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ret = unsafe { libc::poll(&mut p, 1, 60_000) };
            assert_eq!(ret, 1, "poll timed out");
            Events::from_mask(p.revents as u16 as u32) & RACED
        }
        Wait::EpollLt | Wait::EpollEt => {
            let mut out = [EpollEvent::empty()];
            assert_eq!(
                ep.wait(&mut out, 60_000u16).unwrap(),
                1,
                "epoll_wait timed out"
            );
            Events::from(out[0].events()) & RACED
        }
        Wait::Select => {
            select_one(fd, true);
            // select says "readable" only: the mask says which.
            vp.events().unwrap() & RACED
        }
        Wait::IoUring => {
            use io_uring::{opcode, types, IoUring};
            let mut ring = IoUring::new(2).unwrap();
            let poll = opcode::PollAdd::new(types::Fd(fd), RACED.bits()).build();
            // SAFETY: the fd stays open until the ring is dropped, here.
            unsafe { ring.submission().push(&poll).unwrap() };
            ring.submit_and_wait(1).unwrap();
            let res = ring.completion().next().expect("a completion").result();
            assert!(res > 0, "POLL_ADD: {res}");
            Events::from_mask(res as u32) & RACED
        }
    }
}

/// Waiters that wait for the storm's own events and re-poll after every
/// wakeup, in poll, epoll LT and ET, select and io_uring, while the mask
/// changes under them. Each round ends with a raise of HUP, which the storm
/// never sets: every waiter must see it within the bound, round after round.
#[test]
fn waiters_racing_a_storm_see_every_rounds_final_raise() {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;
    const ROUNDS: usize = 30;
    const OPS: u64 = 2_000;
    const KINDS: [Wait; 5] = [
        Wait::Poll,
        Wait::EpollLt,
        Wait::EpollEt,
        Wait::Select,
        Wait::IoUring,
    ];
    let mut seeds = Rng::from_env("racing");
    for b in vpoll_tests::kernel::backends() {
        let vp = Arc::new(Vpoll::builder().backend(b).build().unwrap());
        let start = Arc::new(Barrier::new(KINDS.len() + 1));
        let done = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = KINDS
            .into_iter()
            .map(|how| {
                let (vp, start, done) = (vp.clone(), start.clone(), done.clone());
                std::thread::spawn(move || {
                    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
                    let mut flags = EpollFlags::from(RACED);
                    if matches!(how, Wait::EpollEt) {
                        flags |= EpollFlags::EPOLLET;
                    }
                    ep.add(vp.as_fd(), EpollEvent::new(flags, 0)).unwrap();
                    let mut wakeups = 0u64;
                    for _ in 0..ROUNDS {
                        start.wait();
                        while !wait_raced(how, &vp, &ep).contains(Events::HUP) {
                            wakeups += 1;
                        }
                        done.fetch_add(1, Ordering::AcqRel);
                    }
                    (how, wakeups)
                })
            })
            .collect();
        let began = Instant::now();
        let mut slowest = Duration::ZERO;
        for round in 0..ROUNDS {
            start.wait();
            // One mutator changes alone, the other in batches of 8 (on the
            // device, one VPOLL_IO_BATCH each).
            let mutators: Vec<_> = [1, 8]
                .into_iter()
                .map(|batch| {
                    let (vp, mut rng) = (vp.clone(), Rng::new(seeds.next_u64()));
                    std::thread::spawn(move || {
                        for _ in 0..OPS / batch {
                            let changes: Vec<_> = (0..batch)
                                .map(|_| {
                                    let ev =
                                        Events::from_mask(rng.next_u64() as u32) & RACING_STORM;
                                    (&*vp, Op::ALL[rng.below(3) as usize], ev)
                                })
                                .collect();
                            for r in Vpoll::apply_many(&changes) {
                                r.unwrap();
                            }
                        }
                    })
                })
                .collect();
            for m in mutators {
                m.join().unwrap();
            }
            let raised = Instant::now();
            // The final raise alone, or as a batch of one, by turns.
            if round % 2 == 0 {
                vp.add(Events::HUP).unwrap();
            } else {
                Vpoll::apply_many(&[(&vp, Op::Add, Events::HUP)])[0]
                    .as_ref()
                    .unwrap();
            }
            while done.load(Ordering::Acquire) < (round + 1) * KINDS.len() {
                assert!(
                    raised.elapsed() < BOUND,
                    "{b}: round {round}: {} of {} waiters saw the final HUP within {BOUND:?}",
                    done.load(Ordering::Acquire) - round * KINDS.len(),
                    KINDS.len()
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            slowest = slowest.max(raised.elapsed());
            // All have seen it: the next round starts clean.
            vp.set(Events::empty()).unwrap();
        }
        let counts: Vec<_> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        println!(
            "racing {b}: {ROUNDS} rounds of 2 x {OPS} ops in {:?}; every waiter saw every final HUP, the slowest after {slowest:?}; storm wakeups seen: {counts:?}",
            began.elapsed()
        );
    }
}
