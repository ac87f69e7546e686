// SPDX-License-Identifier: MIT OR Apache-2.0

//! vpollctl against real device and eventfd vpoll fds: exec, the --pid/--fd
//! commands on this test process's own fds, ls, watch, and its refusals.

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use vpoll::{Backend, Events, Vpoll};

fn exe() -> String {
    std::env::var("VPOLLCTL").expect("VPOLLCTL: run this suite through qemu/vm test")
}

fn vpollctl(args: &[&str], stdin: &str) -> Output {
    vpoll_tests::command::run(&exe(), args, stdin)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn made(backend: Backend) -> Vpoll {
    Vpoll::builder().backend(backend).build().unwrap()
}

#[test]
fn exec_with_the_device_wakes_a_waiting_child() {
    let exe = exe();
    let out = vpollctl(
        &[
            "exec",
            "--backend",
            "device",
            "--",
            &exe,
            "wait",
            "--timeout",
            "20",
            "pri|err",
        ],
        "add pri\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        ["PRI", "PRI"],
        "echo, then the child's report"
    );
    assert!(
        stderr(&out).contains("(device backend) at fd 3"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn add_del_set_get_act_on_another_processs_fds() {
    let pid = std::process::id().to_string();
    for b in vpoll_tests::kernel::backends() {
        let vp = made(b);
        let fd = vp.as_raw_fd().to_string();
        let run = |args: &[&str]| {
            let mut all = args.to_vec();
            all.extend(["--pid", &pid, "--fd", &fd]);
            let out = vpollctl(&all, "");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{b}: {args:?}: {}",
                stderr(&out)
            );
            stdout(&out).trim().to_owned()
        };
        assert_eq!(run(&["add", "in,rdhup"]), "IN|RDHUP", "{b}");
        assert_eq!(
            vp.events().unwrap(),
            Events::IN | Events::RDHUP,
            "{b}: the same object"
        );
        assert_eq!(run(&["del", "POLLIN"]), "RDHUP", "{b}");
        assert_eq!(run(&["set", "0x18"]), "ERR|HUP", "{b}");
        assert_eq!(run(&["get"]), "ERR|HUP", "{b}");
        let json = vpollctl(&["--json", "get", "--pid", &pid, "--fd", &fd], "");
        assert_eq!(
            stdout(&json).trim(),
            r#"{"names":"ERR|HUP","mask":24}"#,
            "{b}"
        );
    }
}

#[test]
fn ls_lists_device_and_eventfd_vpoll_fds_with_their_masks() {
    let dev = made(Backend::Device);
    let efd = vpoll_tests::kernel::has_efd_vpoll().then(|| made(Backend::EventFd));
    dev.set(Events::IN).unwrap();
    if let Some(efd) = &efd {
        efd.set(Events::OUT | Events::PRI).unwrap();
    }
    let plain = nix::sys::eventfd::EventFd::new().unwrap(); // a counter: not listed
    let pid = std::process::id().to_string();
    let out = vpollctl(&["ls", &pid], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listing = stdout(&out);
    let row = |fd: i32, backend: &str, events: &str| {
        listing.lines().any(|l| {
            l.split_whitespace().collect::<Vec<_>>()
                == [pid.as_str(), &fd.to_string(), backend, "guest", events]
        })
    };
    assert!(row(dev.as_raw_fd(), "device", "IN"), "{listing}");
    if let Some(efd) = &efd {
        assert!(row(efd.as_raw_fd(), "eventfd", "PRI|OUT"), "{listing}");
    }
    assert!(
        !listing.contains(&format!(" {} ", plain.as_raw_fd())),
        "a counter eventfd is no vpoll fd:\n{listing}"
    );
    let all = stdout(&vpollctl(&["ls"], ""));
    let ours = 1 + usize::from(efd.is_some());
    assert!(
        all.lines().count() > ours,
        "listing every process finds ours too:\n{all}"
    );
}

#[test]
fn watch_prints_each_change_with_a_timestamp() {
    let vp = made(Backend::Device);
    let (pid, fd) = (std::process::id().to_string(), vp.as_raw_fd().to_string());
    let mut watch = Command::new(exe())
        .args([
            "watch",
            "--pid",
            &pid,
            "--fd",
            &fd,
            "--count",
            "5",
            "--timeout",
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut next = || lines.next().unwrap().unwrap();
    assert!(next().ends_with(" 0"), "the starting mask first");
    vp.add(Events::IN).unwrap();
    assert!(next().ends_with(" IN (raised IN)"));
    std::thread::sleep(Duration::from_millis(50));
    vp.del(Events::IN).unwrap(); // no wakeup: seen by the periodic re-read
    assert!(next().ends_with(" 0"));
    // A raise undone at once is still seen, by the wakeup it sent; the mask
    // printed with it is read when watch gets there, before or after the DEL.
    vp.add(Events::OUT).unwrap();
    vp.del(Events::OUT).unwrap();
    let raised = next();
    let before_del = raised.ends_with(" OUT (raised OUT)");
    assert!(
        before_del || raised.ends_with(" 0 (raised OUT)"),
        "{raised}"
    );
    if before_del {
        assert!(next().ends_with(" 0"), "then the DEL, by the re-read");
    }
    vp.set(Events::HUP).unwrap();
    let last = next();
    let (time, events) = last.split_once(' ').unwrap();
    assert_eq!(events, "HUP (raised HUP)");
    assert_eq!(
        (time.len(), &time[2..3], &time[8..9]),
        (12, ":", "."),
        "HH:MM:SS.mmm: {time}"
    );
    // The fifth change, where the DEL of OUT was not a line of its own.
    vp.del(Events::HUP).unwrap();
    assert!(
        watch.wait().unwrap().success(),
        "stops by itself after --count changes"
    );
}

#[test]
fn another_users_process_is_refused_with_the_reason() {
    let vp = made(Backend::Device);
    let (pid, fd) = (std::process::id().to_string(), vp.as_raw_fd().to_string());
    let out = Command::new(exe())
        .args(["add", "in", "--pid", &pid, "--fd", &fd])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not permitted: this needs the same rights as ptrace"),
        "{}",
        stderr(&out)
    );
    assert_eq!(vp.events().unwrap(), Events::empty(), "nothing was changed");
}

#[test]
fn a_non_vpoll_fd_is_refused_and_left_alone() {
    let (r, _w) = nix::unistd::pipe().unwrap();
    let (pid, fd) = (std::process::id().to_string(), r.as_raw_fd().to_string());
    let out = vpollctl(&["set", "hup", "--pid", &pid, "--fd", &fd], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a vpoll fd, it is pipe:["),
        "{}",
        stderr(&out)
    );
}

#[test]
fn info_reports_the_loaded_module_and_its_version() {
    let out = vpollctl(&["--json", "info"], "");
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    // One line of JSON, as every command's --json.
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(text.contains("\"module_loaded\":true"), "{text}");
    let version = format!("\"module_version\":\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(text.contains(&version), "{text}");
    assert!(
        text.contains("\"node\":\"/dev/vpoll, character device, mode 0666\""),
        "{text}"
    );
    let human = stdout(&vpollctl(&["info"], ""));
    assert!(
        human.contains("choice:    device (device is the first choice and works)"),
        "{human}"
    );
}

/// A socket that is no vpoll fd is refused from what `/proc` says of it,
/// before anything is taken: `pidfd_getfd` (which would tag the socket with
/// vpollctl's cgroup) is never called. Run under a seccomp filter that
/// fails `pidfd_getfd` with `EPERM`: a take would say "not permitted".
#[test]
fn a_socket_that_is_no_vpoll_fd_is_not_even_taken() {
    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
    let filter: BpfProgram = SeccompFilter::new(
        [(libc::SYS_pidfd_getfd, vec![])].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        TargetArch::x86_64,
    )
    .unwrap()
    .try_into()
    .unwrap();
    let run = |fd: i32| {
        let (pid, fd) = (std::process::id().to_string(), fd.to_string());
        let mut command = Command::new(exe());
        command.args(["set", "hup", "--pid", &pid, "--fd", &fd]);
        let filter = filter.clone();
        // SAFETY: between fork and exec, apply_filter makes two system calls
        // on memory prepared before the fork and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                seccompiler::apply_filter(&filter).map_err(std::io::Error::other)
            });
        }
        command.output().unwrap()
    };
    let (socket, _other) = std::os::unix::net::UnixStream::pair().unwrap();
    let out = run(socket.as_raw_fd());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a vpoll fd, it is socket:["),
        "{}",
        stderr(&out)
    );
    // A vpoll fd is taken (and here refused by the filter).
    let vp = made(Backend::Device);
    let out = run(vp.as_raw_fd());
    assert!(stderr(&out).contains("not permitted"), "{}", stderr(&out));
    assert_eq!(vp.events().unwrap(), Events::empty());
}
