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

/// A C program of the guest job's, by the variable that names it.
fn program(var: &str) -> Command {
    let path =
        std::env::var(var).unwrap_or_else(|_| panic!("{var}: run this suite through qemu/vm test"));
    Command::new(path)
}

/// The C client linked with Debian's libvpoll0, with its shared libraries in
/// the guest's /lib.
fn client() -> Command {
    program("VPOLL_C_CLIENT")
}

/// Which libvpoll.so.0 a program is linked with.
#[derive(Clone, Copy, PartialEq)]
enum Library {
    /// Debian's C libvpoll0.
    Debian,
    /// Ours (capi/), from /opt/vpoll/lib.
    Vpoll,
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
    output(client(), filter)
}

fn output(mut command: Command, filter: Option<BpfProgram>) -> String {
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

/// What the client must print on `backend` with `library`: the behaviour the
/// Rust suites assert for the same operations.
fn expected(backend: &str, library: Library) -> String {
    let (initial, unknown_op) = match (backend, library) {
        // Ours checks the op itself.
        (_, Library::Vpoll) => ("OUT", "EINVAL"),
        // Debian's passes any op to the ioctl: ours answers ENOTTY.
        ("device", Library::Debian) => ("OUT", "ENOTTY"),
        // Debian's libvpoll passes 0 as eventfd's initval: the initial events
        // are lost (REFERENCE §4).
        ("eventfd", Library::Debian) => ("-", "EINVAL"),
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
    assert_eq!(
        transcript(Some(refuse_efd_vpoll())),
        expected("device", Library::Debian)
    );
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
    assert_eq!(transcript(None), expected(backend, Library::Debian));
}

/// The same program linked with our libvpoll.so.0 (capi/): on every kernel
/// backend, the transcript the Rust suites assert, initial events included.
#[test]
fn our_libvpoll_runs_the_same_program_on_every_kernel_backend() {
    for backend in vpoll_tests::kernel::backends() {
        let mut command = program("VPOLL_C_CLIENT_VPOLL");
        command.env(vpoll::BACKEND_VAR, backend.to_string());
        assert_eq!(
            output(command, None),
            expected(&backend.to_string(), Library::Vpoll),
            "{backend}"
        );
    }
}

/// Every function, op and error of our C ABI, on every backend of this guest.
#[test]
fn our_c_abi_checks_pass_on_every_backend() {
    let mut backends = vpoll_tests::kernel::backends();
    backends.push(vpoll::Backend::Emulation);
    for backend in backends {
        let mut command = program("VPOLL_CAPI_TEST");
        command.env(vpoll::BACKEND_VAR, backend.to_string());
        let out = output(command, None);
        assert!(
            out.contains(&format!("capi_test {backend}: ")) && out.contains(" 0 failed"),
            "{out}"
        );
    }
}

/// A vpoll fd closed with `close(2)` 2,000 times under a limit of 64 fds,
/// on every backend: what the library keeps for it (the eventfd's copy, the
/// emulation's copy and control end) goes when the number is reused.
#[test]
fn our_c_abi_leaks_nothing_for_fds_closed_with_close_on_every_backend() {
    let mut backends = vpoll_tests::kernel::backends();
    backends.push(vpoll::Backend::Emulation);
    for backend in backends {
        let mut command = program("VPOLL_CLOSE_LEAK");
        command.env(vpoll::BACKEND_VAR, backend.to_string());
        let out = output(command, None);
        assert!(out.contains("2000 rounds"), "{backend}: {out}");
    }
}

/// The fds our C library makes work where `/proc` is not mounted (a
/// container's, a chroot's): vpoll_create, vpoll_ctl, batches and
/// vpoll_close need no fdinfo there. A device fd proves itself by answering
/// the ioctl; an emulated one, and an `EFD_VPOLL` eventfd, by the library's
/// table, which keeps a copy of each to compare with (`F_DUPFD_QUERY`). Only
/// an eventfd the library did not make (a `dup`) still needs its fdinfo.
#[test]
fn our_c_abi_needs_no_proc_for_the_fds_it_made() {
    use vpoll::Backend;
    let mut backends = vec![Backend::Emulation];
    backends.extend(vpoll_tests::kernel::backends());
    for backend in backends {
        let mut command = program("VPOLL_CAPI_TEST");
        command
            .env(vpoll::BACKEND_VAR, backend.to_string())
            .env("VPOLL_NO_PROC", "1");
        without_proc(&mut command);
        let out = output(command, None);
        assert!(
            out.contains(&format!("capi_test {backend}: ")) && out.contains(" 0 failed"),
            "{out}"
        );
        // And /proc really was gone for it.
        let mut probe = Command::new("sh");
        probe.args([
            "-c",
            "test -e /proc/self/fdinfo && echo mounted || echo gone",
        ]);
        without_proc(&mut probe);
        assert_eq!(output(probe, None).trim(), "gone");
    }
}

/// Runs `command` in a mount namespace of its own without `/proc`.
fn without_proc(command: &mut Command) {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    use nix::sched::{unshare, CloneFlags};
    // SAFETY: the closure runs between fork and exec and makes only system
    // calls (unshare, mount, umount2) on static strings.
    unsafe {
        command.pre_exec(|| {
            unshare(CloneFlags::CLONE_NEWNS)?;
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )?;
            umount2("/proc", MntFlags::MNT_DETACH)?;
            Ok(())
        });
    }
}

/// Our vpoll(3)'s example, compiled from the page and linked with ours,
/// prints on every kernel backend exactly the output the page shows (the
/// host's tests run it on the emulation).
#[test]
fn our_man_page_example_prints_the_output_the_page_shows_on_every_backend() {
    let path = std::env::var("VPOLL_MAN_EXAMPLE_OUTPUT")
        .expect("VPOLL_MAN_EXAMPLE_OUTPUT: run this suite through qemu/vm test");
    let want = std::fs::read_to_string(path).unwrap();
    assert!(!want.is_empty(), "the page shows some output");
    for backend in vpoll_tests::kernel::backends() {
        let mut command = program("VPOLL_MAN_EXAMPLE");
        command.env(vpoll::BACKEND_VAR, backend.to_string());
        assert_eq!(output(command, None), want, "{backend}");
    }
}

/// The C library's vpoll_create(3) example, linked with ours, on every
/// kernel backend: that man page's output for a kernel with vpoll support
/// (HUP alone, 0x10).
#[test]
fn the_c_librarys_man_page_example_prints_what_that_man_page_says() {
    for backend in vpoll_tests::kernel::backends() {
        let mut command = program("VPOLL_MANPAGE_EXAMPLE");
        command.env(vpoll::BACKEND_VAR, backend.to_string());
        let out = output(command, None);
        let got: Vec<_> = out
            .lines()
            .filter_map(|l| l.strip_prefix("GOT event "))
            .collect();
        assert_eq!(got, ["1", "1", "4", "10"], "{backend}:\n{out}");
        assert!(
            out.starts_with("timeout\n"),
            "{backend}: it waited first:\n{out}"
        );
    }
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
