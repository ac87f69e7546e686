// SPDX-License-Identifier: MIT OR Apache-2.0

//! Existing C clients, unchanged: a C program written against `<vpoll.h>` and
//! linked with Debian's own `libvpoll0` (`tests/clib/vpoll_client.c`, run with
//! its shared libraries) drives our `/dev/vpoll` and the patched eventfd.
//!
//! That library picks `eventfd(EFD_VPOLL)` whenever the kernel has it. To make
//! it take `/dev/vpoll` the way it would on an unpatched kernel, the program
//! runs under a seccomp filter that refuses the flag with `EINVAL`, exactly
//! what an unpatched `eventfd2` answers.

use nix::errno::Errno;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::os::unix::process::CommandExt;
use std::process::Command;
use vpoll::abi::EFD_VPOLL;

/// The C client, with its shared libraries in the guest's /lib.
fn client() -> Command {
    let path = std::env::var("VPOLL_C_CLIENT")
        .expect("VPOLL_C_CLIENT: run this suite through qemu/vm test");
    Command::new(path)
}

/// A seccomp filter: `eventfd2(_, flags)` with `EFD_VPOLL` in `flags` fails
/// with `EINVAL`; every other call, other eventfds included, is allowed.
fn refuse_efd_vpoll() -> BpfProgram {
    let flag = u64::try_from(EFD_VPOLL).unwrap();
    let condition = SeccompCondition::new(
        1,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(flag),
        flag,
    )
    .unwrap();
    let rules = [(
        libc::SYS_eventfd2,
        vec![SeccompRule::new(vec![condition]).unwrap()],
    )];
    SeccompFilter::new(
        rules.into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EINVAL as u32),
        TargetArch::x86_64,
    )
    .unwrap()
    .try_into()
    .unwrap()
}

/// Runs the client (under `filter`, if any) and returns what it printed.
fn transcript(filter: Option<BpfProgram>) -> String {
    let mut command = client();
    if let Some(filter) = filter {
        // SAFETY: the closure runs between fork and exec; apply_filter makes
        // two system calls (prctl, seccomp) on memory prepared before the fork
        // and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                seccompiler::apply_filter(&filter).map_err(std::io::Error::other)
            });
        }
    }
    let out = command.output().expect("running the C client");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "C client failed ({}): {}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// What the client must print on `backend`: the behaviour the Rust suites
/// assert for the same operations.
fn expected(backend: &str) -> String {
    let (initial, unknown_op) = match backend {
        "device" => ("OUT", "ENOTTY"),
        // Debian's libvpoll passes 0 as eventfd's initval: the initial events
        // are lost (REFERENCE §4), and our libvpoll's behaviour differs here.
        "eventfd" => ("-", "EINVAL"),
        _ => unreachable!(),
    };
    let mut lines = vec![
        format!("backend: {backend}"),
        format!("create(OUT, FD_CLOEXEC): fd, cloexec set, events {initial}"),
        "create(-, 0): fd, cloexec clear, events -".into(),
        "close(second): 0".into(),
    ];
    let after_add = if initial == "OUT" { "IN|OUT" } else { "IN" };
    lines.extend([
        format!("ctl(ADD, IN): 0, events {after_add}"),
        "ctl(DEL, OUT): 0, events IN".into(),
        "ctl(SET, PRI|RDHUP): 0, events PRI|RDHUP".into(),
        "ctl(ADD, -): 0, events PRI|RDHUP".into(),
        "ctl(DEL, IN): 0, events PRI|RDHUP".into(),
        "ctl(SET, -): 0, events -".into(),
        "ctl on a closed fd: -1 EBADF".into(),
        format!("ctl(7, IN): -1 {unknown_op}, events -"),
        "poll for IN: slept through ADD OUT, then woke with IN".into(),
        "ppoll for PRI: slept through ADD IN, then woke with PRI".into(),
        "select for IN: slept through ADD OUT, then woke with readable".into(),
        "pselect for PRI: slept through ADD IN, then woke with exceptional".into(),
        "epoll LT for IN: slept through ADD OUT, then woke with IN".into(),
        "epoll ET for OUT: slept through ADD IN, then woke with OUT".into(),
        "epoll ET with IN pending: 1 ready, then 0, then 1 after re-adding IN".into(),
    ]);
    for name in [
        "IN", "PRI", "OUT", "ERR", "HUP", "NVAL", "RDNORM", "RDBAND", "WRNORM", "WRBAND", "MSG",
        "RDHUP",
    ] {
        lines.push(format!("ctl(SET, {name}): 0, epoll {name}, poll {name}"));
    }
    lines.extend([
        "fork: child's ADD HUP returned 0; parent's epoll: HUP".into(),
        "close: 0, then fcntl: -1 EBADF".into(),
    ]);
    lines.join("\n") + "\n"
}

#[test]
fn debian_libvpoll_drives_the_device_when_efd_vpoll_is_refused() {
    assert_eq!(transcript(Some(refuse_efd_vpoll())), expected("device"));
}

/// Unfiltered, the library takes the `EFD_VPOLL` eventfd where the kernel has
/// it, and otherwise (a stock kernel) falls through to our device by itself.
#[test]
fn debian_libvpoll_drives_the_efd_vpoll_eventfd_or_else_the_device() {
    let backend = if vpoll_tests::kernel::has_efd_vpoll() {
        "eventfd"
    } else {
        "device"
    };
    assert_eq!(transcript(None), expected(backend));
}

/// The filter stands in for an unpatched kernel only if it refuses exactly
/// EFD_VPOLL: checked in a child, since a seccomp filter cannot be removed.
#[test]
fn the_filter_refuses_efd_vpoll_and_nothing_else() {
    let filter = refuse_efd_vpoll();
    let probe = |flags: i32| {
        // SAFETY: eventfd takes two integers; a returned fd is closed at once.
        let fd = unsafe { libc::eventfd(0, flags) };
        let result = Errno::result(fd).map(|_| ());
        if fd >= 0 {
            // SAFETY: fd is ours and closed once.
            unsafe { libc::close(fd) };
        }
        result
    };
    // SAFETY: the child only makes system calls and leaves with _exit.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            let ok = seccompiler::apply_filter(&filter).is_ok()
                && probe(EFD_VPOLL) == Err(Errno::EINVAL)
                && probe(EFD_VPOLL | libc::EFD_CLOEXEC) == Err(Errno::EINVAL)
                && probe(libc::EFD_CLOEXEC) == Ok(())
                && probe(0) == Ok(());
            // SAFETY: leaves the child without running the parent's destructors.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        nix::unistd::ForkResult::Parent { child } => {
            let status = nix::sys::wait::waitpid(child, None).unwrap();
            assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
        }
    }
    // Outside the filter, EFD_VPOLL is what the kernel says.
    let unfiltered = if vpoll_tests::kernel::has_efd_vpoll() {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    };
    assert_eq!(probe(EFD_VPOLL), unfiltered);
}
