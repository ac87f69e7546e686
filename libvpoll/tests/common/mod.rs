// SPDX-License-Identifier: MIT OR Apache-2.0

//! Helpers shared by the behaviour suites: which backends to test, and proof
//! that a `Vpoll` really is made with the backend it claims.

#![allow(dead_code)] // each test binary uses its own subset
#![allow(unsafe_code)] // raw system calls to check what the library made

use std::os::fd::{AsRawFd, RawFd};
use vpoll::{Backend, Events, Vpoll};

/// The backends to test: those `VPOLL_TEST_BACKENDS` lists (the guest
/// names every backend its kernel has, and a missing one then fails), else
/// every backend this host has, naming the ones it lacks.
pub fn backends() -> Vec<Backend> {
    if let Some(list) = vpoll_testkit::backends::listed() {
        return list
            .iter()
            .map(|b| b.parse().expect(vpoll_testkit::backends::VAR))
            .collect();
    }
    Backend::ALL
        .into_iter()
        .filter(|&b| {
            let ok = Vpoll::builder().backend(b).build().is_ok();
            if !ok {
                eprintln!(
                    "note: the {b} backend is not available on this host; the guest suite tests it"
                );
            }
            ok
        })
        .collect()
}

/// The kernel's backends under test (device, EFD_VPOLL eventfd), for the
/// tests that need one. Those are ignored unless built with
/// `--cfg vpoll_kernel_tests` (as `qemu/vm test` builds the guest's suites;
/// on a host with the module: `cargo test -- --include-ignored`), so here
/// an empty list is a failure, never a pass that tested nothing.
pub fn kernel_backends() -> Vec<Backend> {
    let list: Vec<Backend> = backends()
        .into_iter()
        .filter(|&b| b != Backend::Emulation)
        .collect();
    assert!(
        !list.is_empty(),
        "this test needs /dev/vpoll or an EFD_VPOLL kernel (VPOLL_TEST_BACKENDS names the backends)"
    );
    list
}

/// Whether the running kernel is at least `major.minor`.
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

/// A vpoll fd with `events` on `backend`, checked to be made with it.
pub fn make(backend: Backend, events: Events) -> Vpoll {
    let vp = Vpoll::builder()
        .backend(backend)
        .events(events)
        .build()
        .unwrap_or_else(|e| panic!("creating a {backend} vpoll fd: {e}"));
    assert_eq!(vp.backend(), backend);
    assert_made_with(vp.as_raw_fd(), backend);
    vp
}

/// Proof from the kernel that `fd` is what `backend` makes.
pub fn assert_made_with(fd: RawFd, backend: Backend) {
    // SAFETY: `fd` is open for the call.
    let kernel = Backend::of_fd(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) });
    match backend {
        Backend::Device | Backend::EventFd => assert_eq!(kernel, Some(backend), "fd {fd}"),
        Backend::Emulation => {
            assert_eq!(kernel, None, "fd {fd}");
            let meta = std::fs::metadata(format!("/proc/self/fd/{fd}")).unwrap();
            use std::os::unix::fs::FileTypeExt;
            assert!(meta.file_type().is_socket(), "not a socket");
        }
    }
}

/// What `poll` reports for `fd` now, asking for every event.
pub fn polled(fd: RawFd) -> Events {
    let mut p = libc::pollfd {
        fd,
        events: 0x7fff,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    assert!(n >= 0);
    Events::from_mask(p.revents as u16 as u32)
}

/// The events `backend` shows for `events` (the emulation adds companions).
pub fn shown(backend: Backend, events: Events) -> Events {
    match backend {
        Backend::Emulation => {
            let mut e = events;
            if e.intersects(Events::IN | Events::RDNORM | Events::PRI | Events::RDHUP | Events::HUP)
            {
                e |= Events::IN | Events::RDNORM;
            }
            if e.intersects(Events::OUT | Events::WRNORM | Events::WRBAND) {
                e |= Events::OUT | Events::WRNORM | Events::WRBAND;
            }
            if e.contains(Events::HUP) {
                e |= Events::RDHUP;
            }
            e
        }
        _ => events,
    }
}
