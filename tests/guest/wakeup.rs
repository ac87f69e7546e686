// SPDX-License-Identifier: MIT OR Apache-2.0

//! A thread blocked in poll, ppoll, select, pselect or epoll_wait wakes when
//! another thread raises an event it waits for, and not for other events; and
//! the precise edge-triggered rules of keyed wakeups.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;
use vpoll::abi::events::*;
use vpoll_tests::device::Device;
use vpoll_tests::waiter::{Waiter, WAIT_LIMIT};

/// How long a waiter must stay asleep after an event it did not ask for.
pub(crate) const GRACE: Duration = Duration::from_millis(150);
pub(crate) const LIMIT_MS: i32 = WAIT_LIMIT.as_millis() as i32;

/// Blocks a waiter running `wait(fd)`, raises `unwanted` (it must stay
/// blocked), then `wanted`, and returns what the waiter saw.
fn raise_and_observe<F>(wait: F, unwanted: u32, wanted: u32) -> u32
where
    F: FnOnce(RawFd) -> u32 + Send + 'static,
{
    let dev = Device::open().unwrap();
    let fd = dev.as_raw_fd();
    let waiter = Waiter::spawn(move || wait(fd));
    if unwanted != 0 {
        dev.add(unwanted);
        waiter.assert_still_blocked(GRACE);
    }
    dev.add(wanted);
    let seen = waiter.finish();
    drop(dev); // only now: the waiter used its raw fd until `finish`
    seen
}

pub(crate) fn poll_for(events: u32) -> impl FnOnce(RawFd) -> u32 {
    move |fd| {
        let mut p = libc::pollfd {
            fd,
            events: events as i16,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, LIMIT_MS) };
        assert_eq!(n, 1, "poll timed out or failed");
        p.revents as u16 as u32
    }
}

pub(crate) fn ppoll_for(events: u32) -> impl FnOnce(RawFd) -> u32 {
    move |fd| {
        let mut p = libc::pollfd {
            fd,
            events: events as i16,
            revents: 0,
        };
        let limit = libc::timespec {
            tv_sec: WAIT_LIMIT.as_secs() as _,
            tv_nsec: 0,
        };
        // SAFETY: a zeroed sigset is a valid argument for sigaddset.
        let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `mask` is a valid sigset; ppoll gets valid pointers.
        let n = unsafe {
            libc::sigemptyset(&mut mask);
            libc::sigaddset(&mut mask, libc::SIGUSR1);
            libc::ppoll(&mut p, 1, &limit, &mask)
        };
        assert_eq!(n, 1, "ppoll timed out or failed");
        p.revents as u16 as u32
    }
}

pub(crate) const READABLE: u32 = 1;
pub(crate) const WRITABLE: u32 = 2;
pub(crate) const EXCEPTIONAL: u32 = 4;

/// select (or pselect) with `fd` in the sets named by `sets`; returns the sets it is in after.
pub(crate) fn select_for(sets: u32, use_pselect: bool) -> impl FnOnce(RawFd) -> u32 {
    move |fd| {
        // SAFETY: fd_set is plain data; FD_ZERO/FD_SET/FD_ISSET get valid sets and an fd < FD_SETSIZE.
        unsafe {
            let mut all: [libc::fd_set; 3] = std::mem::zeroed();
            for (i, set) in all.iter_mut().enumerate() {
                libc::FD_ZERO(set);
                if sets & (1 << i) != 0 {
                    libc::FD_SET(fd, set);
                }
            }
            let [r, w, x] = &mut all;
            let n = if use_pselect {
                let limit = libc::timespec {
                    tv_sec: WAIT_LIMIT.as_secs() as _,
                    tv_nsec: 0,
                };
                libc::pselect(fd + 1, r, w, x, &limit, std::ptr::null())
            } else {
                let mut limit = libc::timeval {
                    tv_sec: WAIT_LIMIT.as_secs() as _,
                    tv_usec: 0,
                };
                libc::select(fd + 1, r, w, x, &mut limit)
            };
            assert!(n >= 1, "select timed out or failed: {n}");
            (0..3)
                .filter(|&i| libc::FD_ISSET(fd, &all[i]))
                .map(|i| 1 << i)
                .sum()
        }
    }
}

/// epoll_wait on a new epoll set holding `fd` with `interest`.
pub(crate) fn epoll_for(interest: u32) -> impl FnOnce(RawFd) -> u32 {
    move |fd| {
        let epfd = epoll_with(fd, interest);
        let events = epoll_wait(epfd, LIMIT_MS);
        // SAFETY: we own epfd.
        unsafe { libc::close(epfd) };
        assert_eq!(events.len(), 1, "epoll_wait timed out");
        events[0]
    }
}

fn epoll_with(fd: RawFd, interest: u32) -> RawFd {
    // SAFETY: plain syscalls with valid arguments.
    unsafe {
        let epfd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        assert!(epfd >= 0);
        let mut ev = libc::epoll_event {
            events: interest,
            u64: fd as u64,
        };
        assert_eq!(libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev), 0);
        epfd
    }
}

fn epoll_wait(epfd: RawFd, timeout_ms: i32) -> Vec<u32> {
    let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // SAFETY: `out` has room for 4 events.
    let n = unsafe { libc::epoll_wait(epfd, out.as_mut_ptr(), 4, timeout_ms) };
    assert!(n >= 0, "epoll_wait failed");
    out[..n as usize].iter().map(|e| e.events).collect()
}

#[test]
fn poll_wakes_for_its_event_only() {
    assert_eq!(
        raise_and_observe(poll_for(PRI), IN | OUT | RDNORM, PRI),
        PRI
    );
}

#[test]
fn poll_wakes_for_hup_and_err_unasked() {
    assert_eq!(raise_and_observe(poll_for(IN), OUT | PRI, HUP), HUP);
    assert_eq!(raise_and_observe(poll_for(OUT), IN, ERR), ERR);
}

#[test]
fn ppoll_with_a_signal_mask_wakes_for_its_event_only() {
    assert_eq!(
        raise_and_observe(ppoll_for(IN | RDHUP), PRI | OUT, RDHUP),
        RDHUP
    );
}

#[test]
fn select_read_set_wakes_for_readable_events_only() {
    assert_eq!(
        raise_and_observe(select_for(READABLE, false), OUT | PRI, IN),
        READABLE
    );
    assert_eq!(
        raise_and_observe(select_for(READABLE, false), WRBAND, HUP),
        READABLE
    );
}

#[test]
fn select_write_set_wakes_for_writable_events_only() {
    assert_eq!(
        raise_and_observe(select_for(WRITABLE, false), IN | PRI, OUT),
        WRITABLE
    );
}

#[test]
fn select_except_set_wakes_for_pri_only() {
    assert_eq!(
        raise_and_observe(select_for(EXCEPTIONAL, false), IN | OUT | HUP, PRI),
        EXCEPTIONAL
    );
}

#[test]
fn pselect_wakes_for_its_sets_only() {
    let all = READABLE | WRITABLE | EXCEPTIONAL;
    assert_eq!(
        raise_and_observe(select_for(READABLE, true), OUT, RDNORM),
        READABLE
    );
    assert_eq!(
        raise_and_observe(select_for(all, true), MSG, WRNORM),
        WRITABLE
    );
}

#[test]
fn epoll_level_triggered_wakes_for_its_event_only() {
    assert_eq!(raise_and_observe(epoll_for(IN), PRI | OUT, IN), IN);
}

#[test]
fn epoll_edge_triggered_wakes_for_its_event_only() {
    let et = libc::EPOLLET as u32;
    assert_eq!(raise_and_observe(epoll_for(PRI | et), IN | OUT, PRI), PRI);
    assert_eq!(raise_and_observe(epoll_for(RDHUP | et), IN, RDHUP), RDHUP);
}

/// An edge-triggered epoll set on a fresh vpoll fd, and the fd.
fn edge_triggered(interest: u32) -> (Device, RawFd) {
    let dev = Device::open().unwrap();
    let epfd = epoll_with(dev.as_raw_fd(), interest | libc::EPOLLET as u32);
    (dev, epfd)
}

#[test]
fn edge_triggered_readd_signals_again() {
    let (dev, ep) = edge_triggered(IN);
    dev.add(IN);
    assert_eq!(epoll_wait(ep, 0), [IN]);
    assert_eq!(epoll_wait(ep, 0), [], "one edge, one event");
    dev.add(IN);
    assert_eq!(
        epoll_wait(ep, 0),
        [IN],
        "re-ADD of a pending event is a new edge"
    );
    dev.set(IN | OUT);
    assert_eq!(epoll_wait(ep, 0), [IN], "SET asserts every bit it sets");
    // SAFETY: we own ep.
    unsafe { libc::close(ep) };
}

#[test]
fn edge_triggered_ignores_events_it_did_not_ask_for() {
    let (dev, ep) = edge_triggered(IN);
    dev.add(IN);
    assert_eq!(epoll_wait(ep, 0), [IN]);
    dev.add(OUT | RDHUP);
    assert_eq!(
        epoll_wait(ep, 0),
        [],
        "the wakeup key is the asserted events only"
    );
    dev.set(0);
    dev.set(PRI);
    assert_eq!(epoll_wait(ep, 0), [], "nothing it asked for is pending");
    // SAFETY: we own ep.
    unsafe { libc::close(ep) };
}

/// The price of PRI reaching io_uring: a raise of PRI wakes with no key, so an
/// edge-triggered waiter whose events are pending sees them again.
#[test]
fn a_raise_of_pri_re_signals_pending_events() {
    let (dev, ep) = edge_triggered(IN);
    dev.add(IN);
    assert_eq!(epoll_wait(ep, 0), [IN]);
    dev.add(PRI);
    assert_eq!(epoll_wait(ep, 0), [IN], "key 0: every waiter re-polls");
    dev.add(OUT);
    assert_eq!(epoll_wait(ep, 0), [], "any other raise keeps its key");
    // SAFETY: we own ep.
    unsafe { libc::close(ep) };
}

#[test]
fn del_never_signals() {
    let (dev, ep) = edge_triggered(IN | PRI);
    dev.add(IN | PRI);
    assert_eq!(epoll_wait(ep, 0), [IN | PRI]);
    dev.del(PRI);
    dev.del(0);
    assert_eq!(epoll_wait(ep, 0), [], "DEL cannot satisfy a waiter");
    dev.set(0);
    assert_eq!(epoll_wait(ep, 0), [], "SET to nothing cannot either");
    // SAFETY: we own ep.
    unsafe { libc::close(ep) };
}

/// `POLLFREE` in a wakeup key tells epoll that the wait queue is being freed.
const POLLFREE: u32 = 0x4000;

#[test]
fn pollfree_in_the_mask_does_not_detach_epoll() {
    let (dev, ep) = edge_triggered(IN);
    assert_eq!(
        dev.add(IN | POLLFREE),
        IN | POLLFREE,
        "0x4000 is a valid mask bit"
    );
    assert_eq!(epoll_wait(ep, 0), [IN]);
    dev.add(IN);
    assert_eq!(
        epoll_wait(ep, 0),
        [IN],
        "the epoll item is still on the wait queue"
    );
    dev.set(POLLFREE);
    dev.add(IN);
    assert_eq!(epoll_wait(ep, 0), [IN]);
    // SAFETY: we own ep.
    unsafe { libc::close(ep) };
    // A blocked waiter is woken by a key holding only reserved bits.
    assert_eq!(
        raise_and_observe(epoll_for(POLLFREE), 0, POLLFREE),
        POLLFREE
    );
}
