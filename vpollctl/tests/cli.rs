// SPDX-License-Identifier: MIT OR Apache-2.0

//! vpollctl end to end on the host, where the emulation is the backend:
//! parsing, exit codes, `info`, `exec` driving a child that waits, refusals.

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
