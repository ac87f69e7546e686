// SPDX-License-Identifier: MIT OR Apache-2.0

//! A vpoll fd behaves like a real fd wherever Linux can wait on one: epoll's
//! one-shot and exclusive modes, nested epoll, epoll inside poll, many epoll
//! sets on one fd, io_uring poll (one-shot and multishot), closing under a
//! waiter, and fork. Every test runs for every backend under test.
#![allow(unsafe_code)] // raw system calls to check what the library made

mod common;

use common::{backends, make};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vpoll::Events;

const IN: Events = Events::IN;

fn epoll_on(fd: impl AsFd, flags: EpollFlags) -> Epoll {
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
    ep.add(fd, EpollEvent::new(flags, 7)).unwrap();
    ep
}

/// The events one `epoll_wait` returns within `ms` (empty if none).
fn ready(ep: &Epoll, ms: u16) -> Events {
    let mut out = [EpollEvent::empty()];
    match ep.wait(&mut out, ms).unwrap() {
        0 => Events::empty(),
        _ => Events::from(out[0].events()),
    }
}

#[test]
fn oneshot_fires_once_until_rearmed_with_mod() {
    for b in backends() {
        let vp = make(b, Events::empty());
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT;
        let ep = epoll_on(&vp, flags);
        vp.add(IN).unwrap();
        assert!(ready(&ep, 0).contains(IN), "{b}");
        vp.add(IN).unwrap();
        assert_eq!(
            ready(&ep, 0),
            Events::empty(),
            "{b}: disarmed after one event"
        );
        ep.modify(&vp, &mut EpollEvent::new(flags, 7)).unwrap();
        assert!(
            ready(&ep, 0).contains(IN),
            "{b}: re-armed, and IN is still pending"
        );
    }
}

#[test]
#[cfg_attr(
    not(vpoll_kernel_tests),
    ignore = "needs /dev/vpoll or an EFD_VPOLL kernel: qemu/vm test runs it in the guest"
)]
fn exclusive_waiters_are_woken_one_at_a_time_for_in() {
    // A socket's wakeup key is IN|PRI|RDNORM|RDBAND, so the emulation may wake more.
    for b in common::kernel_backends() {
        let vp = Arc::new(make(b, Events::empty()));
        let woken = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let (vp, woken) = (vp.clone(), woken.clone());
                let (tx, rx) = std::sync::mpsc::channel();
                let handle = std::thread::spawn(move || {
                    let ep = epoll_on(&*vp, EpollFlags::EPOLLIN | EpollFlags::EPOLLEXCLUSIVE);
                    // SAFETY: gettid has no preconditions.
                    tx.send(unsafe { libc::gettid() }).unwrap();
                    assert!(ready(&ep, 20_000).contains(IN));
                    woken.fetch_add(1, Ordering::SeqCst);
                });
                (rx.recv().unwrap(), handle)
            })
            .collect();
        for (tid, _) in &waiters {
            vpoll_testkit::waiter::wait_asleep(*tid);
        }
        for round in 1..=4 {
            vp.add(IN).unwrap();
            // However slow the machine, this round's waiter wakes; one more
            // would be the failure.
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while woken.load(Ordering::SeqCst) < round && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            assert_eq!(
                woken.load(Ordering::SeqCst),
                round,
                "{b}: one exclusive waiter per IN"
            );
        }
        for (_, h) in waiters {
            h.join().unwrap();
        }
    }
}

#[test]
fn nested_epoll_in_every_trigger_mix() {
    for b in backends() {
        for (inner_et, outer_et) in [(false, false), (false, true), (true, false), (true, true)] {
            let et = |on: bool| {
                if on {
                    EpollFlags::EPOLLET
                } else {
                    EpollFlags::empty()
                }
            };
            let vp = make(b, Events::empty());
            let inner = epoll_on(&vp, EpollFlags::EPOLLIN | et(inner_et));
            let outer = epoll_on(&inner.0, EpollFlags::EPOLLIN | et(outer_et));
            assert_eq!(ready(&outer, 0), Events::empty(), "{b}");
            vp.add(IN).unwrap();
            assert!(
                ready(&outer, 0).contains(IN),
                "{b}: inner ET {inner_et}, outer ET {outer_et}"
            );
            assert!(ready(&inner, 0).contains(IN), "{b}");
        }
    }
}

#[test]
fn an_epoll_set_inside_poll_becomes_readable() {
    for b in backends() {
        let vp = make(b, Events::empty());
        let ep = epoll_on(&vp, EpollFlags::EPOLLIN);
        let polled = || common::polled(ep.0.as_raw_fd());
        assert_eq!(polled(), Events::empty(), "{b}");
        vp.add(IN).unwrap();
        // An epoll fd reports itself readable as IN|RDNORM.
        assert!(polled().contains(IN), "{b}");
    }
}

#[test]
fn many_epoll_sets_on_one_fd_all_see_it() {
    for b in backends() {
        let vp = make(b, Events::empty());
        let sets: Vec<Epoll> = (0..16)
            .map(|_| epoll_on(&vp, EpollFlags::EPOLLIN | EpollFlags::EPOLLET))
            .collect();
        vp.add(IN).unwrap();
        for (i, ep) in sets.iter().enumerate() {
            assert!(ready(ep, 0).contains(IN), "{b}: set {i}");
        }
    }
}

#[test]
fn io_uring_poll_add_one_shot_and_multishot() {
    use io_uring::{cqueue, opcode, types, IoUring};
    for b in backends() {
        let vp = make(b, Events::empty());
        let mut ring = IoUring::new(8).unwrap();
        let oneshot = opcode::PollAdd::new(types::Fd(vp.as_raw_fd()), IN.bits())
            .build()
            .user_data(1);
        let multi = opcode::PollAdd::new(types::Fd(vp.as_raw_fd()), IN.bits())
            .multi(true)
            .build()
            .user_data(2);
        // SAFETY: the entries refer to an fd that outlives the ring's use of it.
        unsafe {
            ring.submission().push(&oneshot).unwrap();
            ring.submission().push(&multi).unwrap();
        }
        ring.submit().unwrap();
        vp.add(IN).unwrap();
        ring.submit_and_wait(2).unwrap();
        let first: Vec<_> = ring
            .completion()
            .map(|c| (c.user_data(), c.result(), cqueue::more(c.flags())))
            .collect();
        let mut users: Vec<_> = first.iter().map(|c| c.0).collect();
        users.sort_unstable();
        users.dedup();
        assert_eq!(users, [1, 2], "{b}: both polls completed: {first:?}");
        for (user, result, more) in &first {
            assert!(
                Events::from_mask(*result as u32).contains(IN),
                "{b}: {first:?}"
            );
            assert_eq!(
                *more,
                *user == 2,
                "{b}: only the multishot poll stays armed: {first:?}"
            );
        }
        // The multishot poll fires again for a new assertion (a re-ADD on device/eventfd,
        // new data on the emulation).
        vp.del(IN).unwrap();
        vp.add(IN).unwrap();
        ring.submit_and_wait(1).unwrap();
        let again: Vec<_> = ring.completion().map(|c| c.user_data()).collect();
        assert!(again.contains(&2), "{b}: multishot fired again: {again:?}");
    }
}

#[test]
fn closing_the_fd_under_an_epoll_waiter_is_like_any_fd() {
    for b in backends() {
        let vp = make(b, Events::empty());
        let ep = Arc::new(epoll_on(&vp, EpollFlags::EPOLLIN));
        let waiter = {
            let ep = ep.clone();
            std::thread::spawn(move || {
                let mut out = [EpollEvent::empty()];
                ep.wait(&mut out, EpollTimeout::from(500u16)).unwrap()
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        drop(vp); // the last reference: epoll forgets the item, as for any file
        assert_eq!(waiter.join().unwrap(), 0, "{b}: no event from a closed fd");
        assert_eq!(ready(&ep, 0), Events::empty(), "{b}");
    }
}

#[test]
fn a_forked_child_shares_the_object() {
    for b in backends() {
        let vp = make(b, Events::empty());
        // SAFETY: the child only applies one change and exits; nothing else in
        // this process holds the Vpoll's lock while it forks.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let code = if vp.add(IN | Events::OUT).is_ok() {
                    0
                } else {
                    1
                };
                // SAFETY: leave the child without running the parent's destructors.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0), "{b}");
                assert!(
                    vp.events().unwrap().contains(IN | Events::OUT),
                    "{b}: the child's change is ours"
                );
            }
        }
    }
}
