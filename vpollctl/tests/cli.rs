// SPDX-License-Identifier: MIT OR Apache-2.0

//! vpollctl end to end on the host: parsing, exit codes, `info`, `exec`
//! driving a child that waits, refusals. Whatever the host has, the vpoll
//! fds here are the emulation's (forced), so a loaded module changes nothing.

use std::os::fd::AsRawFd;
use std::process::Output;

fn vpollctl(args: &[&str], stdin: &str) -> Output {
    vpoll_tests::command::run(env!("CARGO_BIN_EXE_vpollctl"), args, stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn an_unknown_event_is_a_usage_error_listing_the_valid_names() {
    let out = vpollctl(&["add", "in,bogus", "--pid", "1", "--fd", "3"], "");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown event \"bogus\"") && err.contains("rdhup"),
        "{err}"
    );
}

#[test]
fn info_names_the_backend_the_library_would_pick() {
    let out = vpollctl(&["--json", "info"], "");
    assert_eq!(out.status.code(), Some(0));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let picked = vpoll::Vpoll::new().unwrap().backend().to_string();
    assert_eq!(info["choice"]["backend"], picked.as_str(), "{info}");
    assert_eq!(info["emulation"]["available"], true);
    let human = text(&vpollctl(&["info"], "").stdout);
    assert!(human.contains(&format!("choice:    {picked}")), "{human}");
}

#[test]
fn exec_hands_the_child_an_fd_and_applies_stdin_commands() {
    let me = env!("CARGO_BIN_EXE_vpollctl");
    // The child is vpollctl itself, waiting on the fd it inherited as $VPOLL_FD.
    let out = vpollctl(
        &[
            "exec",
            "--backend",
            "emulation",
            "--fd",
            "5",
            "--",
            me,
            "wait",
            "--timeout",
            "20",
            "pri",
        ],
        "add pri\n\n# a comment\nget\nfrobnicate\nadd nosuch\n",
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let pri = vpoll::Events::PRI;
    let shown = |l: &&str| l.parse::<vpoll::Events>().is_ok_and(|e| e.contains(pri));
    assert!(
        lines.iter().filter(|l| shown(l)).count() >= 3,
        "two echoes and the child's report:\n{stdout}"
    );
    assert!(
        stderr.contains("unknown command \"frobnicate\""),
        "{stderr}"
    );
    assert!(stderr.contains("unknown event \"nosuch\""), "{stderr}");
}

#[test]
fn exec_exits_with_the_childs_status_and_passes_vpoll_fd() {
    let out = vpollctl(
        &[
            "exec",
            "--backend",
            "emulation",
            "--fd",
            "9",
            "--",
            "sh",
            "-c",
            "test \"$VPOLL_FD\" = 9 && test -e /proc/self/fd/9 && exit 7",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let out = vpollctl(&["exec", "--fd", "1", "--", "true"], "");
    assert_eq!(out.status.code(), Some(2), "fd 1 is stdout");
}

#[test]
fn a_fd_that_is_not_vpoll_is_refused_and_left_alone() {
    let null = std::fs::File::open("/dev/null").unwrap();
    let pid = std::process::id().to_string();
    let fd = null.as_raw_fd().to_string();
    let out = vpollctl(&["set", "hup", "--pid", &pid, "--fd", &fd], "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("not a vpoll fd, it is /dev/null; left untouched"),
        "{err}"
    );
}

#[test]
fn an_emulated_fd_of_another_process_is_refused_with_the_reason() {
    let vp = vpoll::Vpoll::builder()
        .backend(vpoll::Backend::Emulation)
        .build()
        .unwrap();
    let (pid, fd) = (std::process::id().to_string(), vp.as_raw_fd().to_string());
    let out = vpollctl(&["get", "--pid", &pid, "--fd", &fd], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("only the process that made it can drive"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn missing_processes_and_fds_are_failures() {
    let out = vpollctl(&["get", "--pid", "2147483646", "--fd", "3"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no such process"));
    let pid = std::process::id().to_string();
    let out = vpollctl(&["get", "--pid", &pid, "--fd", "999"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("has no fd 999"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn completions_and_man_page_are_generated() {
    let bash = vpollctl(&["completions", "bash"], "");
    assert!(text(&bash.stdout).contains("_vpollctl"));
    let man = vpollctl(&["man"], "");
    assert!(text(&man.stdout).contains(".TH vpollctl"));
}

#[test]
fn timeouts_that_are_no_durations_are_usage_errors() {
    for bad in ["-1", "inf", "nan", "1e400", "1e30", "soon", ""] {
        for args in [
            vec!["wait", "--timeout", bad, "in"],
            vec!["watch", "--pid", "1", "--fd", "3", "--timeout", bad],
        ] {
            let out = vpollctl(&args, "");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains("--timeout"), "{args:?}: {err}");
        }
    }
}

#[test]
fn a_huge_timeout_is_waited_out_without_overflow() {
    // 1e15 s is a valid Duration but past what Instant and epoll can hold.
    let me = env!("CARGO_BIN_EXE_vpollctl");
    let out = vpollctl(
        &[
            "exec",
            "--backend",
            "emulation",
            "--events",
            "in",
            "--",
            me,
            "wait",
            "--timeout",
            "1e15",
            "in",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("IN"), "{}", text(&out.stdout));
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vpollctl"))
        .args(["completions", "bash"])
        .stdout(write)
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
    assert_eq!(text(&out.stderr), "", "no panic, no message");
}

#[test]
fn an_explicit_backend_wins_over_a_malformed_vpoll_backend() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_vpollctl"))
            .args(args)
            .env("VPOLL_BACKEND", "bogus")
            .output()
            .unwrap()
    };
    let out = run(&["exec", "--backend", "emulation", "--", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(&["exec", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("VPOLL_BACKEND=\"bogus\""),
        "{}",
        text(&out.stderr)
    );
}
