// SPDX-License-Identifier: MIT OR Apache-2.0

//! With no descriptor left (RLIMIT_NOFILE), creating a vpoll fd is a typed
//! `Io` error that names EMFILE, automatic selection stops there, and nothing
//! leaks. Alone in its binary: it changes a process-wide limit.
#![allow(unsafe_code)] // raw system calls to check what the library made

mod common;

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use vpoll::{Error, Vpoll};

fn open_fds() -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    // The listing itself used an fd, closed by now: keep only the open ones.
    // SAFETY: F_GETFD only asks whether the number is open.
    fds.retain(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1);
    fds
}

#[test]
fn no_descriptor_left_is_a_typed_error_on_every_backend() {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    for b in common::backends() {
        // 0 free: nothing fits; 1 free: the emulation's socket pair still does not.
        for free in [0u64, 1] {
            let before = open_fds();
            let highest = *before.last().unwrap() as u64;
            // Fill the holes below the highest fd, so that exactly `free` numbers remain.
            let fillers: Vec<_> = (0..highest)
                .filter(|n| !before.contains(&(*n as i32)))
                .map(|_| nix::unistd::dup(std::io::stdin()).unwrap())
                .collect();
            setrlimit(Resource::RLIMIT_NOFILE, highest + 1 + free, hard).unwrap();
            let result = Vpoll::builder().backend(b).build();
            // With nothing free, automatic selection must stop at EMFILE too.
            let auto = (free == 0).then(Vpoll::new);
            setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
            drop(fillers);
            match (free, b, result) {
                // One fd is enough for the kernel's backends.
                (1, vpoll::Backend::Device | vpoll::Backend::EventFd, Ok(vp)) => drop(vp),
                (1, vpoll::Backend::Device | vpoll::Backend::EventFd, Err(e)) => {
                    panic!("{b}: one free descriptor must be enough: {e:?}")
                }
                (_, _, Err(e)) => {
                    assert!(
                        matches!(e, Error::Io { backend, .. } if backend == b),
                        "{b}, {free} free: {e:?}"
                    );
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{b}: {e}");
                }
                (_, _, Ok(_)) => panic!("{b}: created with {free} descriptors free"),
            }
            if let Some(auto) = auto {
                let e = auto.unwrap_err();
                assert!(
                    matches!(e, Error::Io { .. }),
                    "automatic selection stops at EMFILE: {e:?}"
                );
            }
            assert_eq!(open_fds(), before, "{b}, {free} free: descriptors leaked");
        }
    }
}
