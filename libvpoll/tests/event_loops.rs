// SPDX-License-Identifier: MIT OR Apache-2.0

//! `Vpoll` in event loops without glue: a mio `Source` (feature `mio`) and
//! tokio's `AsyncFd`, on every backend under test.
#![allow(unsafe_code)] // raw system calls to check what the library made

mod common;

use std::time::Duration;
use vpoll::{Events, Vpoll};

/// Raises `events` on `vp` from another thread after a short while.
fn raise_later(vp: &std::sync::Arc<Vpoll>, events: Events) -> std::thread::JoinHandle<()> {
    let vp = vp.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        vp.add(events).unwrap();
    })
}

#[test]
fn mio_reports_readable_and_priority() {
    use mio::{Events as MioEvents, Interest, Poll, Token};
    for b in common::backends() {
        let mut vp = common::make(b, Events::empty());
        let mut poll = Poll::new().unwrap();
        poll.registry()
            .register(&mut vp, Token(7), Interest::READABLE | Interest::PRIORITY)
            .unwrap();
        let vp = std::sync::Arc::new(vp);
        let raiser = raise_later(&vp, Events::IN | Events::PRI);
        let mut events = MioEvents::with_capacity(4);
        poll.poll(&mut events, Some(Duration::from_secs(20)))
            .unwrap();
        raiser.join().unwrap();
        let ev = events
            .iter()
            .next()
            .unwrap_or_else(|| panic!("{b}: mio saw nothing"));
        assert_eq!(ev.token(), Token(7), "{b}");
        assert!(ev.is_readable(), "{b}");
        assert!(
            ev.is_priority() || !b.deliverable().contains(Events::PRI),
            "{b}"
        );
        let mut vp = std::sync::Arc::into_inner(vp).unwrap();
        poll.registry().deregister(&mut vp).unwrap();
    }
}

#[test]
fn tokio_async_fd_wakes_a_task() {
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for b in common::backends() {
        rt.block_on(async {
            let vp = common::make(b, Events::empty());
            // SAFETY: a Vpoll owns its fd and returns the same one until dropped.
            let afd = unsafe { AsyncFd::register_with_interest(vp, Interest::READABLE) };
            let afd = std::sync::Arc::new(afd.unwrap_or_else(|e| panic!("{b}: {e}")));
            let raiser = {
                let afd = afd.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    afd.get_ref().add(Events::IN).unwrap();
                })
            };
            let mut guard = tokio::time::timeout(Duration::from_secs(20), afd.readable())
                .await
                .unwrap_or_else(|_| panic!("{b}: tokio never saw IN"))
                .unwrap();
            assert!(
                guard.get_inner().events().unwrap().contains(Events::IN),
                "{b}"
            );
            // Clearing readiness is ours to do: the next wait must block until IN again.
            guard.get_inner().del(Events::IN).unwrap();
            guard.clear_ready();
            raiser.await.unwrap();
            let again = tokio::time::timeout(Duration::from_millis(200), afd.readable()).await;
            assert!(again.is_err(), "{b}: readable although IN was cleared");
        });
    }
}
