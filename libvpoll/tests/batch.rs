// SPDX-License-Identifier: MIT OR Apache-2.0

//! `Vpoll::apply_many` and `apply_many_to`: each change's result is what
//! its own `apply` would have given, in order, on every backend and with
//! backends mixed in one call; more changes than one kernel batch takes;
//! the same wakeups; and fds that are no vpoll fd refused and untouched.

mod common;

use common::{backends, make, polled, shown};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use std::os::fd::{AsFd, AsRawFd};
use vpoll::abi::VPOLL_BATCH_MAX;
use vpoll::{Error, Events, Op, Vpoll};

const IN: Events = Events::IN;
const OUT: Events = Events::OUT;

#[test]
fn each_result_is_what_apply_gives_on_every_backend_mixed() {
    let all = backends();
    let fds: Vec<Vpoll> = all.iter().map(|&b| make(b, Events::empty())).collect();
    let mut changes = Vec::new();
    for vp in &fds {
        changes.push((vp, Op::Add, IN));
        changes.push((vp, Op::Add, OUT));
        changes.push((vp, Op::Del, IN));
    }
    let results = Vpoll::apply_many(&changes);
    assert_eq!(results.len(), changes.len());
    for (k, (vp, _, _)) in changes.iter().enumerate() {
        let b = vp.backend();
        let want = match k % 3 {
            0 => shown(b, IN),
            1 => shown(b, IN | OUT),
            _ => shown(b, OUT),
        };
        assert_eq!(*results[k].as_ref().unwrap(), want, "{b}: change {k}");
    }
    for vp in &fds {
        assert_eq!(
            polled(vp.as_raw_fd()),
            shown(vp.backend(), OUT),
            "{}",
            vp.backend()
        );
    }
}

#[test]
fn an_undeliverable_change_fails_alone() {
    for b in backends() {
        let (a, c) = (make(b, Events::empty()), make(b, Events::empty()));
        let results = Vpoll::apply_many(&[
            (&a, Op::Add, IN),
            (&c, Op::Add, Events::ERR),
            (&c, Op::Add, OUT),
        ]);
        assert_eq!(*results[0].as_ref().unwrap(), shown(b, IN), "{b}");
        match (&results[1], b) {
            (Err(Error::Unsupported { events, .. }), vpoll::Backend::Emulation) => {
                assert_eq!(*events, Events::ERR)
            }
            (Ok(now), _) => assert!(now.contains(Events::ERR), "{b}"),
            (other, _) => panic!("{b}: {other:?}"),
        }
        assert!(results[2].as_ref().unwrap().contains(OUT), "{b}");
    }
}

#[test]
fn more_changes_than_one_kernel_batch_takes() {
    for b in backends() {
        let fds: Vec<Vpoll> = (0..8).map(|_| make(b, Events::empty())).collect();
        let n = VPOLL_BATCH_MAX * 2 + 5;
        let changes: Vec<_> = (0..n)
            .map(|k| {
                let op = if k % 2 == 0 { Op::Add } else { Op::Del };
                (&fds[k % fds.len()], op, IN)
            })
            .collect();
        let results = Vpoll::apply_many(&changes);
        for (k, r) in results.iter().enumerate() {
            let want = if k % 2 == 0 {
                shown(b, IN)
            } else {
                Events::empty()
            };
            assert_eq!(*r.as_ref().unwrap(), want, "{b}: change {k}");
        }
    }
}

#[test]
fn a_batch_wakes_as_single_changes_do() {
    for b in backends() {
        let fds: Vec<Vpoll> = (0..3).map(|_| make(b, Events::empty())).collect();
        let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
        for (i, vp) in fds.iter().enumerate() {
            let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLET;
            ep.add(vp.as_fd(), EpollEvent::new(flags, i as u64))
                .unwrap();
        }
        let woken = || vpoll_testkit::epoll::ready_now(&ep);
        let raise = [(&fds[0], Op::Add, IN), (&fds[2], Op::Add, IN)];
        Vpoll::apply_many(&raise).into_iter().for_each(|r| {
            r.unwrap();
        });
        assert_eq!(woken(), [0, 2], "{b}");
        // Raised again: a new edge each, as a re-ADD alone gives.
        Vpoll::apply_many(&raise).into_iter().for_each(|r| {
            r.unwrap();
        });
        assert_eq!(woken(), [0, 2], "{b}: re-ADD");
    }
}

#[test]
fn apply_many_to_refuses_what_is_no_vpoll_fd_and_touches_it_not() {
    for b in backends() {
        let vp = make(b, Events::empty());
        let (reader, writer) = nix::unistd::pipe().unwrap();
        let results = Vpoll::apply_many_to(&[
            (writer.as_fd(), Op::Add, IN),
            (vp.as_fd(), Op::Add, IN),
            (reader.as_fd(), Op::Set, OUT),
        ]);
        assert!(
            matches!(results[0], Err(Error::NotVpoll { .. })),
            "{b}: {:?}",
            results[0]
        );
        assert!(
            matches!(results[2], Err(Error::NotVpoll { .. })),
            "{b}: {:?}",
            results[2]
        );
        match b {
            // A socket pair is no vpoll fd to anyone but its Vpoll.
            vpoll::Backend::Emulation => {
                assert!(matches!(results[1], Err(Error::NotVpoll { .. })), "{b}")
            }
            _ => assert_eq!(*results[1].as_ref().unwrap(), IN, "{b}"),
        }
        // Nothing was written into the pipe.
        assert_eq!(polled(reader.as_raw_fd()), Events::empty(), "{b}");
    }
}
