// SPDX-License-Identifier: MIT OR Apache-2.0

//! The conformance matrix: for every named event and every way to wait, on the
//! device and on the `EFD_VPOLL` eventfd, a waiter blocked in another thread
//! stays asleep while an event it did not ask for is raised, then wakes for
//! its own and sees exactly that event. (The emulation delivers only some
//! events, each with others it implies: libvpoll's conformance suite covers it.)
//!
//! Also a ppoll whose signal mask lets a signal in while it waits.

use crate::wakeup::{
    epoll_for, poll_for, ppoll_for, select_for, EXCEPTIONAL, GRACE, LIMIT_MS, READABLE, WRITABLE,
};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;
use vpoll::abi::events::*;
use vpoll::{Backend, Events, Vpoll};
use vpoll_tests::waiter::Waiter;

/// Every named event (what poll(2) can carry, REFERENCE §1).
const EVENTS: [(&str, u32); 12] = [
    ("IN", IN),
    ("PRI", PRI),
    ("OUT", OUT),
    ("ERR", ERR),
    ("HUP", HUP),
    ("NVAL", NVAL),
    ("RDNORM", RDNORM),
    ("RDBAND", RDBAND),
    ("WRNORM", WRNORM),
    ("WRBAND", WRBAND),
    ("MSG", MSG),
    ("RDHUP", RDHUP),
];

/// Long enough for a wrong wakeup to show; the matrix has ~200 cells.
const CELL_GRACE: Duration = Duration::from_millis(50);

/// An event that a waiter for `event` did not ask for and that no poll API
/// reports unasked (ERR and HUP always are).
fn unwanted(event: u32) -> u32 {
    if event == MSG {
        RDBAND
    } else {
        MSG
    }
}

/// One cell: a waiter running `wait` sleeps on a fresh vpoll fd; `unwanted` is
/// raised (it must stay asleep), then `wanted`; returns what the waiter saw.
fn cell<F>(backend: Backend, wait: F, unwanted: u32, wanted: u32) -> u32
where
    F: FnOnce(RawFd) -> u32 + Send + 'static,
{
    let vp = Vpoll::builder().backend(backend).build().unwrap();
    let fd = vp.as_raw_fd();
    let waiter = Waiter::spawn(move || wait(fd));
    if unwanted != 0 {
        vp.add(Events::from_bits_retain(unwanted)).unwrap();
        waiter.assert_still_blocked(CELL_GRACE);
    }
    vp.add(Events::from_bits_retain(wanted)).unwrap();
    let seen = waiter.finish();
    drop(vp); // only now: the waiter used its raw fd until `finish`
    seen
}

/// Runs `wait_for(event)` for every event on every backend and checks each
/// result against `expect(event)`; reports every wrong cell at once.
fn matrix<W, F>(api: &str, wait_for: W, expect: impl Fn(u32) -> u32)
where
    W: Fn(u32) -> F,
    F: FnOnce(RawFd) -> u32 + Send + 'static,
{
    matrix_of(api, &EVENTS, wait_for, expect);
}

fn matrix_of<W, F>(api: &str, events: &[(&str, u32)], wait_for: W, expect: impl Fn(u32) -> u32)
where
    W: Fn(u32) -> F,
    F: FnOnce(RawFd) -> u32 + Send + 'static,
{
    let mut wrong = Vec::new();
    for backend in vpoll_tests::kernel::backends() {
        for &(name, event) in events {
            println!("{api}: {backend} {name}");
            let seen = cell(backend, wait_for(event), unwanted(event), event);
            if seen != expect(event) {
                wrong.push(format!(
                    "{backend} {name}: saw {:#x}, expected {:#x}",
                    seen,
                    expect(event)
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{api}: {wrong:#?}");
    println!(
        "{api}: {} events x {} backends woke exactly",
        events.len(),
        vpoll_tests::kernel::backends().len()
    );
}

#[test]
fn poll_every_event() {
    matrix("poll", poll_for, |event| event);
}

#[test]
fn ppoll_every_event() {
    matrix("ppoll", ppoll_for, |event| event);
}

/// The select sets an event makes a fd ready in (fs/select.c's POLLIN_SET,
/// POLLOUT_SET and POLLEX_SET).
fn select_sets(event: u32) -> u32 {
    let mut sets = 0;
    if event & (IN | RDNORM | RDBAND | HUP | ERR | NVAL) != 0 {
        sets |= READABLE;
    }
    if event & (OUT | WRNORM | WRBAND | ERR | NVAL) != 0 {
        sets |= WRITABLE;
    }
    if event & (PRI | NVAL) != 0 {
        sets |= EXCEPTIONAL;
    }
    sets
}

/// select and pselect: a waiter in the sets `event` maps to. An event in no
/// set (MSG, RDHUP) must not wake a waiter in all three; IN then does.
fn select_matrix(api: &str, use_pselect: bool) {
    let all = READABLE | WRITABLE | EXCEPTIONAL;
    let mut wrong = Vec::new();
    for backend in vpoll_tests::kernel::backends() {
        for (name, event) in EVENTS {
            let (seen, expected) = match select_sets(event) {
                0 => (
                    cell(backend, select_for(all, use_pselect), event, IN),
                    READABLE,
                ),
                sets => (
                    cell(
                        backend,
                        select_for(sets, use_pselect),
                        unwanted(event),
                        event,
                    ),
                    sets,
                ),
            };
            if seen != expected {
                wrong.push(format!(
                    "{backend} {name}: sets {seen:#b}, expected {expected:#b}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{api}: {wrong:#?}");
}

#[test]
fn select_every_event() {
    select_matrix("select", false);
}

#[test]
fn pselect_every_event() {
    select_matrix("pselect", true);
}

#[test]
fn epoll_level_triggered_every_event() {
    matrix("epoll LT", epoll_for, |event| event);
}

#[test]
fn epoll_edge_triggered_every_event() {
    matrix(
        "epoll ET",
        |event| epoll_for(event | libc::EPOLLET as u32),
        |event| event,
    );
}

#[test]
fn epoll_oneshot_every_event() {
    matrix(
        "epoll ONESHOT",
        |event| epoll_for(event | libc::EPOLLONESHOT as u32),
        |event| event,
    );
}

/// io_uring `POLL_ADD` for `events`: the completion's result is the mask.
fn io_uring_for(events: u32) -> impl FnOnce(RawFd) -> u32 {
    move |fd| {
        use io_uring::{opcode, types, IoUring};
        let mut ring = IoUring::new(4).unwrap();
        let poll = opcode::PollAdd::new(types::Fd(fd), events).build();
        // SAFETY: the entry refers to a fd that stays open until `finish`.
        unsafe { ring.submission().push(&poll).unwrap() };
        ring.submit_and_wait(1).unwrap();
        let cqe = ring.completion().next().expect("a completion");
        assert!(cqe.result() >= 0, "POLL_ADD failed: {}", cqe.result());
        cqe.result() as u32
    }
}

#[test]
fn io_uring_poll_add_every_event() {
    matrix_of("io_uring POLL_ADD", &EVENTS, io_uring_for, |event| event);
}

/// Linux 7.2's io_uring (io_uring/poll.c, `io_poll_wake`) leaves EPOLLPRI out
/// when it matches a wakeup key against a poll request (`~IO_ASYNC_POLL_COMMON`),
/// so a wakeup whose key holds PRI would not complete a `POLL_ADD` for PRI (a
/// socket's urgent data has that problem). A vpoll fd wakes with no key when
/// PRI is raised, so io_uring re-polls and finds it: raised alone or with
/// others, it completes the poll with PRI.
#[test]
fn io_uring_completes_a_poll_for_pri() {
    for backend in vpoll_tests::kernel::backends() {
        assert_eq!(
            cell(backend, io_uring_for(PRI), RDNORM, PRI),
            PRI,
            "{backend}"
        );
        assert_eq!(
            cell(backend, io_uring_for(PRI), OUT, PRI | IN),
            PRI,
            "{backend}"
        );
    }
}

/// A thread in ppoll with SIGUSR1 blocked outside and unblocked by ppoll's own
/// mask: a signal ends the wait with EINTR, and a later event still wakes the
/// next ppoll. With SIGUSR1 blocked in ppoll's mask, the signal stays pending
/// and only the event ends the wait.
#[test]
fn ppoll_signal_mask_lets_a_signal_in_and_the_event_still_arrives() {
    extern "C" fn on_usr1(_: libc::c_int) {}
    // SAFETY: installs a handler that does nothing (async-signal-safe).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_usr1 as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
    for backend in vpoll_tests::kernel::backends() {
        let vp = Vpoll::builder().backend(backend).build().unwrap();
        let fd = vp.as_raw_fd();
        // Waits with SIGUSR1 blocked in the thread, and `unblock` deciding
        // whether ppoll lets it in; returns ppoll's result, errno and revents.
        let ppoll = move |unblock: bool| {
            // SAFETY: sigsets are initialised by sigemptyset before use; ppoll
            // gets one valid pollfd and valid pointers.
            unsafe {
                let mut blocked: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut blocked);
                libc::sigaddset(&mut blocked, libc::SIGUSR1);
                libc::pthread_sigmask(libc::SIG_BLOCK, &blocked, std::ptr::null_mut());
                let mut during: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut during);
                if !unblock {
                    libc::sigaddset(&mut during, libc::SIGUSR1);
                }
                let mut p = libc::pollfd {
                    fd,
                    events: IN as i16,
                    revents: 0,
                };
                let limit = libc::timespec {
                    tv_sec: (LIMIT_MS / 1000) as _,
                    tv_nsec: 0,
                };
                let n = libc::ppoll(&mut p, 1, &limit, &during);
                let errno = *libc::__errno_location();
                (n, errno, p.revents as u32)
            }
        };
        let interrupt = |waiter: &Waiter<_>| {
            // SAFETY: signals a thread of this process that is alive (asleep).
            let sent = unsafe {
                libc::syscall(
                    libc::SYS_tgkill,
                    libc::getpid(),
                    waiter.tid(),
                    libc::SIGUSR1,
                )
            };
            assert_eq!(sent, 0, "tgkill");
        };

        let waiter = Waiter::spawn(move || ppoll(true));
        interrupt(&waiter);
        let (n, errno, _) = waiter.finish();
        assert_eq!(
            (n, errno),
            (-1, libc::EINTR),
            "{backend}: the signal ends the wait"
        );

        let waiter = Waiter::spawn(move || ppoll(false));
        interrupt(&waiter);
        waiter.assert_still_blocked(GRACE);
        vp.add(Events::IN).unwrap();
        let (n, _, revents) = waiter.finish();
        assert_eq!(
            (n, revents),
            (1, IN),
            "{backend}: a blocked signal does not end the wait"
        );
        drop(vp);
    }
}

/// The device's reads and writes never block, and say so (`FMODE_NOWAIT`):
/// io_uring does an `EFD_VPOLL` write to a non-blocking device fd inline,
/// in `io_uring_enter`, rather than handing it to a worker thread
/// (`iou-wrk-<tid>`, a thread of this process) as it does for a file that
/// might block.
#[test]
fn io_uring_writes_to_the_device_inline() {
    use io_uring::{opcode, types, IoUring};
    use vpoll::abi::EFD_VPOLL_ADDEVENTS;
    let dev = vpoll_tests::device::Device::open().unwrap();
    let flags = nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&dev, nix::fcntl::FcntlArg::F_SETFL(flags)).unwrap();
    // A thread of its own: io_uring's workers belong to the submitting task.
    let (tid, result, workers) = std::thread::scope(|s| {
        s.spawn(|| {
            let tid = nix::unistd::gettid();
            let mut ring = IoUring::new(4).unwrap();
            let command = EFD_VPOLL_ADDEVENTS | u64::from(IN);
            let write = opcode::Write::new(
                types::Fd(dev.as_raw_fd()),
                std::ptr::from_ref(&command).cast(),
                8,
            )
            .build();
            // SAFETY: the fd and the command outlive the request, which
            // completes before the ring is dropped below.
            unsafe { ring.submission().push(&write).unwrap() };
            ring.submit_and_wait(1).unwrap();
            let result = ring.completion().next().expect("a completion").result();
            let workers: Vec<String> = std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|c| c.trim().to_owned())
                .filter(|c| *c == format!("iou-wrk-{tid}"))
                .collect();
            (tid, result, workers)
        })
        .join()
        .unwrap()
    });
    assert_eq!(result, 8, "the write's result");
    assert_eq!(dev.mask(), IN);
    assert!(
        workers.is_empty(),
        "thread {tid}'s write went to a worker: {workers:?}"
    );
}

/// One io_uring read or write of 8 bytes on `fd`; its result, or `None` if
/// it has not completed within 5 s (it waits, which it must not).
fn io_uring_rw(fd: RawFd, write: bool, buf: &mut u64) -> Option<i32> {
    use io_uring::{opcode, types, IoUring};
    let mut ring = IoUring::new(4).unwrap();
    let sqe = if write {
        opcode::Write::new(types::Fd(fd), std::ptr::from_mut(buf).cast(), 8).build()
    } else {
        opcode::Read::new(types::Fd(fd), std::ptr::from_mut(buf).cast(), 8).build()
    };
    // SAFETY: the fd and the buffer outlive the request: it completes, or
    // dropping the ring below cancels it and waits for that.
    unsafe { ring.submission().push(&sqe).unwrap() };
    let limit = types::Timespec::new().sec(5);
    let args = types::SubmitArgs::new().timespec(&limit);
    match ring.submitter().submit_with_args(1, &args) {
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::ETIME) => {}
        Err(e) => panic!("io_uring_enter: {e}"),
    }
    let result = ring.completion().next().map(|c| c.result());
    result
}

/// io_uring reads a device fd's mask and writes it `EFD_VPOLL` commands at
/// once, on a blocking fd as on a non-blocking one, whatever the mask: the
/// module has `read_iter`/`write_iter` and says they never block. (With
/// only `read`/`write`, io_uring waited on a blocking fd until the mask
/// showed IN, or OUT for a write.)
#[test]
fn io_uring_reads_and_writes_the_device_at_once_whatever_its_mask() {
    use vpoll::abi::EFD_VPOLL_ADDEVENTS;
    for nonblocking in [false, true] {
        for (name, event) in EVENTS.iter().copied().chain([("none", 0)]) {
            let dev = vpoll_tests::device::Device::open().unwrap();
            if nonblocking {
                let flags = nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NONBLOCK;
                nix::fcntl::fcntl(&dev, nix::fcntl::FcntlArg::F_SETFL(flags)).unwrap();
            }
            dev.set(event);
            let what = format!("{name}, non-blocking {nonblocking}");
            let mut mask = u64::MAX;
            assert_eq!(
                io_uring_rw(dev.as_raw_fd(), false, &mut mask),
                Some(8),
                "read, {what}"
            );
            assert_eq!(mask, u64::from(event), "the mask read, {what}");
            let other = if event == WRBAND { MSG } else { WRBAND };
            let mut command = EFD_VPOLL_ADDEVENTS | u64::from(other);
            assert_eq!(
                io_uring_rw(dev.as_raw_fd(), true, &mut command),
                Some(8),
                "write, {what}"
            );
            assert_eq!(dev.mask(), event | other, "after the write, {what}");
            // Too short a buffer is refused as read(2) refuses it.
            let mut short = 0u64;
            let too_short = {
                use io_uring::{opcode, types, IoUring};
                let mut ring = IoUring::new(2).unwrap();
                let sqe = opcode::Read::new(
                    types::Fd(dev.as_raw_fd()),
                    std::ptr::from_mut(&mut short).cast(),
                    4,
                )
                .build();
                // SAFETY: as in `io_uring_rw`; this one never waits.
                unsafe { ring.submission().push(&sqe).unwrap() };
                ring.submit_and_wait(1).unwrap();
                let result = ring.completion().next().map(|c| c.result());
                result
            };
            assert_eq!(too_short, Some(-libc::EINVAL), "a 4-byte read, {what}");
        }
    }
}
