// SPDX-License-Identifier: MIT OR Apache-2.0

//! One behaviour suite for every backend: each test runs for each backend
//! under test (see `common::backends`) and names it when it fails.
#![allow(unsafe_code)] // raw system calls to check what the library made

mod common;

use common::{backends, make, polled, shown};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;
use vpoll::{Applied, Backend, Error, Events, Op, Vpoll};

const E_IN: Events = Events::IN;

#[test]
fn there_is_a_backend_to_test() {
    assert!(!backends().is_empty());
}

#[test]
fn initial_events_are_pending_from_the_start() {
    for b in backends() {
        for ev in [
            Events::empty(),
            E_IN,
            Events::OUT,
            E_IN | Events::OUT,
            Events::PRI | E_IN,
        ] {
            let vp = make(b, ev);
            assert_eq!(vp.events().unwrap(), shown(b, ev), "{b}: initial {ev}");
            assert_eq!(
                polled(vp.as_raw_fd()),
                shown(b, ev),
                "{b}: poll of initial {ev}"
            );
        }
    }
}

#[test]
fn add_del_set_return_the_resulting_mask() {
    for b in backends() {
        let vp = make(b, Events::empty());
        assert_eq!(vp.add(E_IN).unwrap(), shown(b, E_IN), "{b}");
        assert_eq!(
            vp.add(Events::OUT).unwrap(),
            shown(b, E_IN | Events::OUT),
            "{b}"
        );
        assert_eq!(vp.del(E_IN).unwrap(), shown(b, Events::OUT), "{b}");
        assert_eq!(
            vp.set(E_IN | Events::PRI).unwrap(),
            shown(b, E_IN | Events::PRI),
            "{b}"
        );
        assert_eq!(vp.set(Events::empty()).unwrap(), Events::empty(), "{b}");
        assert_eq!(polled(vp.as_raw_fd()), Events::empty(), "{b}");
    }
}

#[test]
fn every_deliverable_event_is_seen_by_poll() {
    for b in backends() {
        let reversible = b.deliverable() - Events::HUP - Events::RDHUP;
        for bit in 0..28 {
            let ev = Events::from_mask(1 << bit);
            if !reversible.contains(ev) {
                continue;
            }
            let vp = make(b, Events::empty());
            assert_eq!(vp.add(ev).unwrap(), shown(b, ev), "{b}: add {ev}");
            // poll passes only the named events through; the mask read sees them all.
            if Events::NAMED.contains(ev) {
                assert_eq!(
                    polled(vp.as_raw_fd()),
                    shown(b, ev),
                    "{b}: poll after add {ev}"
                );
            }
            assert_eq!(
                vp.events().unwrap(),
                shown(b, ev),
                "{b}: events after add {ev}"
            );
            if ev != Events::PRI || b != Backend::Emulation {
                assert_eq!(vp.del(ev).unwrap(), Events::empty(), "{b}: del {ev}");
            }
        }
        for hangup in [Events::RDHUP, Events::HUP] {
            let vp = make(b, Events::empty());
            assert_eq!(
                vp.add(hangup).unwrap(),
                shown(b, hangup),
                "{b}: add {hangup}"
            );
            assert_eq!(
                polled(vp.as_raw_fd()),
                shown(b, hangup),
                "{b}: poll after {hangup}"
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(vpoll_kernel_tests),
    ignore = "needs /dev/vpoll or an EFD_VPOLL kernel: qemu/vm test runs it in the guest"
)]
fn device_and_eventfd_deliver_every_bit() {
    for b in common::kernel_backends() {
        assert_eq!(b.deliverable(), Events::ALL);
        let vp = make(b, Events::ALL);
        assert_eq!(vp.events().unwrap(), Events::ALL, "{b}");
        assert_eq!(
            vp.del(Events::HUP | Events::ERR).unwrap(),
            Events::ALL - Events::HUP - Events::ERR,
            "{b}"
        );
        assert_eq!(
            vp.set(Events::HUP).unwrap(),
            Events::HUP,
            "{b}: hang-ups are reversible here"
        );
        assert_eq!(vp.del(Events::HUP).unwrap(), Events::empty(), "{b}");
    }
}

#[test]
fn emulation_refuses_what_a_socket_cannot_show_and_changes_nothing() {
    if !backends().contains(&Backend::Emulation) {
        return;
    }
    let b = Backend::Emulation;
    let vp = make(b, E_IN);
    for ev in [
        Events::ERR,
        Events::NVAL,
        Events::MSG,
        Events::RDBAND,
        Events::from_mask(1 << 20),
    ] {
        match vp.add(ev) {
            Err(Error::Unsupported { backend, events }) => {
                assert_eq!((backend, events), (b, ev));
            }
            other => panic!("add({ev}) on the emulation gave {other:?}"),
        }
        assert_eq!(
            vp.events().unwrap(),
            shown(b, E_IN),
            "nothing changed after refusing {ev}"
        );
    }
    // PRI implies IN on a socket: clearing IN while PRI stays is refused.
    vp.add(Events::PRI).unwrap();
    assert!(matches!(vp.del(E_IN), Err(Error::Inseparable { .. })));
    assert_eq!(
        vp.del(Events::PRI).unwrap(),
        shown(b, E_IN),
        "PRI clears on its own"
    );
}

#[test]
fn emulated_hangups_cannot_be_cleared() {
    if !backends().contains(&Backend::Emulation) {
        return;
    }
    let vp = make(Backend::Emulation, Events::OUT);
    let after = vp.add(Events::HUP).unwrap();
    assert!(
        after.contains(Events::HUP | Events::RDHUP | E_IN),
        "{after}"
    );
    for clear in [Events::HUP, Events::RDHUP] {
        let err = vp.del(clear).unwrap_err();
        assert!(matches!(err, Error::Irreversible { .. }), "{err}");
        assert!(err.to_string().contains("cannot clear"), "{err}");
    }
    assert!(matches!(
        vp.set(Events::empty()),
        Err(Error::Irreversible { .. })
    ));
    assert_eq!(
        vp.events().unwrap(),
        after,
        "a refused change changed nothing"
    );
}

/// Blocks a thread in `wait`, raises `ev`, and returns what the waiter saw.
fn woken_by(b: Backend, ev: Events, wait: fn(i32) -> Events) -> Events {
    let vp = make(b, Events::empty());
    let fd = vp.as_raw_fd();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        tx.send(nix::unistd::gettid().as_raw()).unwrap();
        wait(fd)
    });
    // Asleep in the wait for sure: an event raised before would prove nothing.
    vpoll_testkit::waiter::wait_asleep(rx.recv().unwrap());
    assert!(!waiter.is_finished(), "{b}: woke before {ev} was raised");
    vp.add(ev).unwrap();
    let seen = waiter.join().unwrap();
    drop(vp);
    seen
}

fn poll_in(fd: i32) -> Events {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let ret = unsafe { libc::poll(&mut p, 1, 20_000) };
    assert_eq!(ret, 1, "poll timed out");
    Events::from_mask(p.revents as u16 as u32)
}

fn epoll_in(fd: i32) -> Events {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
    // SAFETY: `fd` stays open until the waiter is joined.
    let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    ep.add(
        bfd,
        EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLPRI, 0),
    )
    .unwrap();
    let mut out = [EpollEvent::empty()];
    assert_eq!(
        ep.wait(&mut out, 20_000u16).unwrap(),
        1,
        "epoll_wait timed out"
    );
    Events::from(out[0].events())
}

#[test]
fn waiters_in_poll_and_epoll_wake_from_another_thread() {
    for b in backends() {
        let want = shown(b, E_IN) & (E_IN | Events::PRI);
        assert_eq!(
            woken_by(b, E_IN, poll_in) & (E_IN | Events::PRI),
            want,
            "{b}: poll"
        );
        assert_eq!(
            woken_by(b, E_IN, epoll_in) & (E_IN | Events::PRI),
            want,
            "{b}: epoll"
        );
        if b.deliverable().contains(Events::PRI) {
            assert!(
                woken_by(b, Events::PRI, poll_in).contains(Events::PRI),
                "{b}: poll for PRI"
            );
        }
    }
}

#[test]
fn close_on_exec_by_default_and_on_request_off() {
    for b in backends() {
        let flags = |vp: &Vpoll| nix::fcntl::fcntl(vp, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(
            flags(&make(b, Events::empty())) & libc::FD_CLOEXEC,
            0,
            "{b}"
        );
        let inherit = Vpoll::builder().backend(b).cloexec(false).build().unwrap();
        assert_eq!(flags(&inherit) & libc::FD_CLOEXEC, 0, "{b}");
    }
}

#[test]
fn forcing_a_backend_that_is_missing_is_a_clear_error() {
    for b in Backend::ALL {
        if backends().contains(&b) {
            continue;
        }
        let err = Vpoll::builder().backend(b).build().unwrap_err();
        assert!(
            matches!(err, Error::Unavailable { backend, .. } if backend == b),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("the {b} backend is not available")),
            "{err}"
        );
    }
}

#[test]
fn automatic_choice_is_the_first_backend_that_works() {
    if std::env::var_os(vpoll::BACKEND_VAR).is_some() {
        return; // forced: the example suite covers that
    }
    let first = backends()[0];
    let vp = Vpoll::new().unwrap();
    assert_eq!(vp.backend(), first, "device, then eventfd, then emulation");
    common::assert_made_with(vp.as_raw_fd(), first);
}

#[test]
#[cfg_attr(
    not(vpoll_kernel_tests),
    ignore = "needs /dev/vpoll or an EFD_VPOLL kernel: qemu/vm test runs it in the guest"
)]
fn pollfree_bit_in_the_mask_does_not_detach_epoll() {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
    // 0x4000 is POLLFREE when found in a wakeup key; as a mask bit it must be harmless.
    let pollfree = Events::from_mask(0x4000);
    // Only the kernel's backends can show it (a socket cannot).
    for b in common::kernel_backends() {
        assert!(b.deliverable().contains(pollfree), "{b}");
        let vp = make(b, Events::empty());
        let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
        ep.add(
            &vp,
            EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLET, 0),
        )
        .unwrap();
        let mut out = [EpollEvent::empty()];
        vp.add(E_IN | pollfree).unwrap();
        assert_eq!(ep.wait(&mut out, 0u16).unwrap(), 1, "{b}");
        vp.add(E_IN).unwrap();
        assert_eq!(
            ep.wait(&mut out, 0u16).unwrap(),
            1,
            "{b}: epoll lost the fd after a POLLFREE bit"
        );
    }
}

#[test]
fn an_fd_made_elsewhere_is_taken_over_or_given_back() {
    use std::os::fd::OwnedFd;
    for b in backends() {
        let vp = make(b, Events::empty());
        let dup: OwnedFd = nix::unistd::dup(&vp).unwrap();
        match (b, Vpoll::try_from(dup)) {
            (Backend::Emulation, Err(not)) => {
                assert!(not.what.starts_with("socket:"), "{}", not.what);
                assert!(not.to_string().contains("not a vpoll fd"), "{not}");
            }
            (Backend::Emulation, Ok(_)) => panic!("an emulated fd has no control end to take over"),
            (_, Ok(other)) => {
                assert_eq!(other.backend(), b);
                other.add(E_IN).unwrap();
                assert!(vp.events().unwrap().contains(E_IN), "{b}: the same object");
            }
            (_, Err(not)) => panic!("{b}: refused: {not}"),
        }
    }
}

/// A clone is the same vpoll fd through another descriptor: a change through
/// one shows through both, and the fd (on the emulation, the pair) hangs up
/// only when the last of them is dropped.
#[test]
fn a_clone_drives_the_same_fd_and_the_last_one_dropped_ends_it() {
    for b in backends() {
        let vp = make(b, Events::empty());
        let watch = vp.as_fd().try_clone_to_owned().unwrap();
        let clone = vp.try_clone().unwrap();
        assert_eq!(clone.backend(), b);
        assert!(
            !vp.held_fds().contains(&clone.as_raw_fd()),
            "{b}: a new descriptor"
        );
        assert!(clone.held_fds().contains(&clone.as_raw_fd()));
        clone.add(E_IN).unwrap();
        assert_eq!(polled(watch.as_raw_fd()), shown(b, E_IN), "{b}");
        vp.add(Events::OUT).unwrap();
        assert_eq!(clone.events().unwrap(), shown(b, E_IN | Events::OUT), "{b}");
        drop(vp);
        assert_eq!(
            polled(watch.as_raw_fd()),
            shown(b, E_IN | Events::OUT),
            "{b}: dropping one of two ends nothing"
        );
        clone.del(E_IN).unwrap();
        assert_eq!(polled(watch.as_raw_fd()), shown(b, Events::OUT), "{b}");
        drop(clone);
        let after = polled(watch.as_raw_fd());
        match b {
            Backend::Emulation => assert!(after.contains(Events::HUP), "{b}: {after:?}"),
            _ => assert_eq!(after, Events::OUT, "{b}: the open file keeps its mask"),
        }
    }
}

#[test]
fn an_implied_event_goes_with_the_event_that_implied_it() {
    for b in backends() {
        let vp = make(b, Events::empty());
        if !b.deliverable().contains(Events::PRI) {
            continue;
        }
        vp.add(Events::PRI).unwrap();
        assert_eq!(
            vp.del(Events::PRI).unwrap(),
            Events::empty(),
            "{b}: IN was never asked for"
        );
        vp.add(E_IN).unwrap();
        vp.add(Events::PRI).unwrap();
        assert_eq!(
            vp.del(Events::PRI).unwrap(),
            shown(b, E_IN),
            "{b}: IN was asked for"
        );
    }
}

/// On the emulation the fd is a socket: a program that reads from it takes
/// the byte that makes IN, and one that writes to it fills the path that
/// makes OUT. The next change starts again from what the socket shows.
#[test]
fn emulation_recovers_when_the_program_reads_or_writes_the_fd() {
    let vp = make(Backend::Emulation, Events::empty());
    let fd = vp.as_raw_fd();
    vp.add(E_IN).unwrap();
    let mut buf = [0u8; 16];
    // SAFETY: a valid buffer on an open, nonblocking socket.
    let ret = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), 16, libc::MSG_DONTWAIT) };
    assert_eq!(ret, 1);
    assert_eq!(polled(fd), Events::empty(), "the program took IN's byte");
    assert_eq!(vp.add(E_IN).unwrap(), shown(Backend::Emulation, E_IN));
    assert_eq!(polled(fd), shown(Backend::Emulation, E_IN));

    vp.set(Events::OUT).unwrap();
    // SAFETY: as above; the socket's send buffer is tiny, so this fills it.
    while unsafe { libc::send(fd, b"x".as_ptr().cast(), 1, libc::MSG_DONTWAIT) } == 1 {}
    assert!(
        !polled(fd).contains(Events::OUT),
        "the program filled OUT's path"
    );
    assert_eq!(
        vp.add(Events::OUT).unwrap(),
        shown(Backend::Emulation, Events::OUT)
    );
    assert_eq!(polled(fd), shown(Backend::Emulation, Events::OUT));
}

/// After fork, parent and child share the emulated socket but not the
/// library's memory: a change one makes must not undo what the other did.
#[test]
fn emulation_shared_by_fork_changes_only_what_each_names() {
    let vp = make(Backend::Emulation, E_IN);
    let fd = vp.as_raw_fd();
    // SAFETY: the child only uses `vp` (no lock is held across the fork) and
    // leaves with _exit.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            // The parent clears IN first; then the child raises OUT.
            std::thread::sleep(Duration::from_millis(200));
            let ok = vp.add(Events::OUT).is_ok();
            // SAFETY: leaves without running the parent's destructors.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        nix::unistd::ForkResult::Parent { child } => {
            vp.del(E_IN).unwrap();
            let status = nix::sys::wait::waitpid(child, None).unwrap();
            assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            assert_eq!(
                polled(fd),
                shown(Backend::Emulation, Events::OUT),
                "the child's ADD OUT brought back the IN the parent cleared"
            );
        }
    }
}

#[test]
fn set_of_an_event_alone_shows_it_with_what_it_implies() {
    // On the emulation SET means these events and their companions: a hang-up
    // is readable too (the README's first example is `sock.set(Events::HUP)`).
    for b in backends() {
        for ev in [
            Events::HUP,
            Events::RDHUP,
            Events::PRI,
            Events::HUP | Events::OUT,
        ] {
            if !b.deliverable().contains(ev) {
                continue;
            }
            let vp = make(b, E_IN | Events::OUT);
            assert_eq!(vp.set(ev).unwrap(), shown(b, ev), "{b}: set({ev})");
            assert_eq!(
                polled(vp.as_raw_fd()),
                shown(b, ev),
                "{b}: poll after set({ev})"
            );
        }
    }
}

#[test]
fn the_emulation_knows_whether_this_kernel_has_urgent_data() {
    let pri = Backend::Emulation.deliverable().contains(Events::PRI);
    let vp = make(Backend::Emulation, Events::empty());
    match vp.set(Events::PRI) {
        Ok(now) => assert!(pri && now.contains(Events::PRI | E_IN), "{now}"),
        Err(Error::Unsupported { events, .. }) => assert!(!pri && events == Events::PRI),
        Err(e) => panic!("set(PRI): {e}"),
    }
}

/// The calls a user-level TCP/IP stack makes on a closing connection (as
/// picoxnet does), and the vuos lwIP module's SETs: return values ignored,
/// so whatever can be shown must be.
const CLOSING_CONNECTION: [(Op, Events); 4] = [
    (Op::Set, Events::IN.union(Events::RDNORM)),
    (
        Op::Set,
        Events::OUT
            .union(Events::WRNORM)
            .union(Events::ERR)
            .union(Events::HUP),
    ),
    (
        Op::Set,
        Events::IN
            .union(Events::OUT)
            .union(Events::WRNORM)
            .union(Events::ERR)
            .union(Events::HUP)
            .union(Events::RDHUP),
    ),
    (Op::Del, Events::OUT),
];

#[test]
fn a_best_effort_change_never_loses_a_hang_up_it_can_show() {
    for b in backends() {
        let vp = make(b, Events::OUT);
        for (op, ev) in CLOSING_CONNECTION {
            let Applied { events, dropped } = vp.apply_deliverable(op, ev).unwrap();
            assert_eq!(events, vp.events().unwrap(), "{b}: {op} {ev}");
            if ev.contains(Events::HUP) {
                assert!(
                    events.contains(shown(b, Events::HUP)),
                    "{b}: {op} {ev} -> {events}"
                );
            }
            match b {
                Backend::Emulation => {
                    // ERR cannot be shown; a hang-up, once shown, stays.
                    let want = (ev & Events::ERR)
                        | (if op == Op::Del {
                            ev & events
                        } else {
                            Events::empty()
                        });
                    assert_eq!(dropped, want, "{b}: {op} {ev} -> {events}");
                }
                _ => {
                    assert!(dropped.is_empty(), "{b}: {op} {ev}");
                    assert_eq!(events, vp.apply(Op::Add, Events::empty()).unwrap(), "{b}");
                }
            }
        }
        assert_eq!(polled(vp.as_raw_fd()), vp.events().unwrap(), "{b}");
    }
}

#[test]
fn a_best_effort_del_keeps_what_a_kept_event_implies() {
    let b = Backend::Emulation;
    if !b.deliverable().contains(Events::PRI) {
        // AF_UNIX out-of-band data came in 5.15 (CONFIG_AF_UNIX_OOB, on by
        // default): only an older kernel may lack it.
        assert!(
            !common::kernel_at_least(5, 15),
            "the emulation found no AF_UNIX OOB on a kernel that has it"
        );
        eprintln!("note: no AF_UNIX OOB on this kernel (before 5.15): nothing to test");
        return;
    }
    let vp = make(b, Events::PRI | Events::OUT);
    let done = vp.apply_deliverable(Op::Del, E_IN | Events::OUT).unwrap();
    assert_eq!(
        done.events,
        shown(b, Events::PRI),
        "PRI stays, and with it IN"
    );
    assert_eq!(done.dropped, E_IN);
    // The strict call refuses the same change whole.
    let vp = make(b, Events::PRI | Events::OUT);
    assert!(matches!(
        vp.del(E_IN | Events::OUT),
        Err(Error::Inseparable { .. })
    ));
    assert_eq!(vp.events().unwrap(), shown(b, Events::PRI | Events::OUT));
}

#[test]
fn a_best_effort_set_after_a_hang_up_keeps_the_hang_up() {
    let b = Backend::Emulation;
    let vp = make(b, Events::HUP);
    let done = vp.apply_deliverable(Op::Set, Events::OUT).unwrap();
    assert!(
        done.events.contains(Events::HUP | Events::RDHUP),
        "{}",
        done.events
    );
    assert_eq!(
        done.dropped & (Events::HUP | Events::RDHUP),
        Events::HUP | Events::RDHUP
    );
    assert!(matches!(
        vp.set(Events::OUT),
        Err(Error::Irreversible { .. })
    ));
}

/// A re-ADD of a pending event is a new assertion, as an eventfd write is:
/// an edge-triggered epoll waiter sees it again. DEL raises nothing.
#[test]
fn a_re_add_raises_a_new_edge() {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
    for b in backends() {
        for ev in [E_IN, Events::OUT] {
            let vp = make(b, Events::empty());
            let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
            let flags = EpollFlags::from_bits_truncate(ev.bits() as i32) | EpollFlags::EPOLLET;
            ep.add(&vp, EpollEvent::new(flags, 0)).unwrap();
            let mut out = [EpollEvent::empty()];
            for round in 0..3 {
                assert!(vp.add(ev).unwrap().contains(ev));
                assert_eq!(
                    ep.wait(&mut out, 1000u16).unwrap(),
                    1,
                    "{b}: ADD {ev} number {round} raised no edge"
                );
                assert_eq!(ep.wait(&mut out, 0u16).unwrap(), 0, "{b}: one edge per ADD");
            }
            assert!(!vp.del(ev).unwrap().contains(ev));
            assert_eq!(
                ep.wait(&mut out, 0u16).unwrap(),
                0,
                "{b}: DEL {ev} raised one"
            );
            assert!(!polled(vp.as_raw_fd()).contains(ev), "{b}: {ev} after DEL");
        }
    }
}

/// After fork, a hang-up made by one process is news to the other's library:
/// its next change finds it (the system call says so) and reports it, not a
/// mask the socket does not show.
#[test]
fn emulation_change_after_a_hang_up_made_elsewhere_reports_it() {
    let vp = make(Backend::Emulation, Events::empty());
    let fd = vp.as_raw_fd();
    // SAFETY: the child only uses `vp` (no lock is held across the fork) and
    // leaves with _exit.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            let ok = vp.add(Events::HUP).is_ok();
            // SAFETY: leaves without running the parent's destructors.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        nix::unistd::ForkResult::Parent { child } => {
            let status = nix::sys::wait::waitpid(child, None).unwrap();
            assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            let hung_up = shown(Backend::Emulation, Events::HUP);
            assert_eq!(vp.add(E_IN).unwrap(), polled(fd));
            assert!(polled(fd).contains(hung_up), "{}", polled(fd));
            assert!(matches!(vp.del(E_IN), Err(Error::Inseparable { .. })));
            let mask = vp.add(Events::OUT).unwrap();
            assert_eq!(mask, polled(fd));
            assert!(mask.contains(Events::OUT | hung_up));
        }
    }
}
