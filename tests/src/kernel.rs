// SPDX-License-Identifier: MIT OR Apache-2.0

//! Which kernel backends the guest's kernel has. Our test kernel has both the
//! device and the `EFD_VPOLL` eventfd; a stock kernel (Debian's) only the
//! device, from our module. The guest job says which through
//! `VPOLL_TEST_BACKENDS` (with the emulation, for the suites that test every
//! backend), so that a missing backend fails rather than being skipped.

use vpoll::Backend;

/// The kernel backends of this guest: those `VPOLL_TEST_BACKENDS` lists but
/// the emulation, by default the test kernel's device and eventfd.
pub fn backends() -> Vec<Backend> {
    vpoll_testkit::backends::listed()
        .unwrap_or_else(|| vec!["device".into(), "eventfd".into()])
        .iter()
        .map(|b| b.parse().expect(vpoll_testkit::backends::VAR))
        .filter(|&b| b != Backend::Emulation)
        .collect()
}

/// Whether this guest's kernel has the `EFD_VPOLL` eventfd.
pub fn has_efd_vpoll() -> bool {
    backends().contains(&Backend::EventFd)
}

/// Whether this guest's kernel is the debug flavour (KASAN, lockdep,
/// kmemleak), which `qemu/vm` says through `VPOLL_KERNEL_FLAVOUR`. Its job is
/// to watch the module under every kind of use, not to repeat the heaviest
/// loads several times slower: suites scale those down there.
pub fn is_debug() -> bool {
    std::env::var("VPOLL_KERNEL_FLAVOUR").is_ok_and(|f| f == "debug")
}

/// Raises this process's open-file limit as far as it goes (the guest runs
/// its suites as root, which may raise the hard limit too), for tests that
/// hold thousands of fds; children inherit it.
pub fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if setrlimit(Resource::RLIMIT_NOFILE, 65536, 65536.max(hard)).is_err() {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    }
}
