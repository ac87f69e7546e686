// SPDX-License-Identifier: MIT OR Apache-2.0

//! The verdict binary end to end, on console logs written here.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

fn verdict(mode: &str, logs: &[&str]) -> (i32, String) {
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("vpoll-verdict-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<_> = logs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let p = dir.join(format!("log{i}"));
            std::fs::write(&p, text).unwrap();
            p
        })
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpoll-verdict"));
    cmd.arg(mode);
    for (i, p) in paths.iter().enumerate() {
        // By convention here, a second log of a test run is the host's.
        if mode == "test" && i == 1 {
            cmd.arg("--host");
        }
        cmd.arg(p);
    }
    let out = cmd.output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

const GOOD: &str = "VPOLL-PLAN: module\nVPOLL-SUITE: module 30\n\
                    test result: ok. 30 passed; 0 failed; 0 ignored\nVPOLL-EXIT: 0\n";

#[test]
fn a_clean_run_passes_and_sums_host_and_guest() {
    let host = "test result: ok. 5 passed; 0 failed; 0 ignored\n";
    assert_eq!(
        verdict("test", &[GOOD, host]),
        (0, "35 passed, 0 failed\n".into())
    );
}

#[test]
fn a_kernel_warning_fails_a_run_whose_tests_passed() {
    let log = format!("[ 1.0] WARNING: CPU: 0 PID: 1 at fs/x.c:1\n{GOOD}");
    assert_eq!(
        verdict("test", &[&log]),
        (1, "30 passed, 1 failed\n".into())
    );
}

#[test]
fn failed_host_tests_fail_a_clean_guest_run() {
    let host = "test result: FAILED. 4 passed; 1 failed; 0 ignored\n";
    assert_eq!(
        verdict("test", &[GOOD, host]),
        (1, "34 passed, 1 failed\n".into())
    );
}

#[test]
fn failed_tests_fail() {
    let log = "test result: FAILED. 28 passed; 2 failed; 0 ignored\nVPOLL-EXIT: 101\n";
    assert_eq!(verdict("test", &[log]), (1, "28 passed, 2 failed\n".into()));
}

#[test]
fn a_guest_that_never_finished_fails() {
    assert_eq!(verdict("test", &["running 30 tests\n"]).0, 1);
    assert_eq!(
        verdict("test", &["VPOLL-EXIT: 0\n"]),
        (1, "0 passed, 1 failed\n".into())
    );
}

/// Reports of the test kernel's KCSAN and the debug kernel's UBSAN, as
/// the kernel prints them, each fail a run whose tests all passed.
#[test]
fn a_kcsan_or_ubsan_report_fails_a_run_whose_tests_passed() {
    let kcsan = "[   42.101] ==================================================================\n\
                 [   42.102] BUG: KCSAN: data-race in __wake_up_common / add_wait_queue\n\
                 [   42.103] \n\
                 [   42.104] write to 0xffff88800a1b2c30 of 8 bytes by task 88 on cpu 1:\n\
                 [   42.105]  add_wait_queue+0x3c/0x90\n\
                 [   42.106]  _RNvXs_NtCs1_5vpoll9poll_miscNtB4_8PollMisc4poll+0x51/0x80 [vpoll]\n\
                 [   42.107] Reported by Kernel Concurrency Sanitizer on:\n";
    let ubsan = "[   17.5] UBSAN: shift-out-of-bounds in fs/eventfd.c:301:22\n\
                 [   17.6] shift exponent 64 is too large for 64-bit type 'unsigned long'\n";
    for report in [kcsan, ubsan] {
        let log = format!("{report}{GOOD}");
        let (code, out, err) = verdict_args(&["test", &write_log("report", &log)]);
        assert_eq!(
            (code, out.as_str()),
            (1, "30 passed, 1 failed\n"),
            "{report}"
        );
        assert!(err.contains("kernel reports"), "{err}");
    }
}

/// A guest the watchdog stopped: the verdict says so, and names the test
/// that was running.
#[test]
fn a_guest_stopped_by_the_watchdog_names_its_last_test() {
    let log = "VPOLL-PLAN: module\nVPOLL-SUITE: module 30\nrunning 30 tests\n\
               test netstack::fast ... ok\ntest netstack::hangs ... \nVPOLL-WATCHDOG: 600\n";
    let (code, out, err) = verdict_args(&["test", &write_log("watchdog", log)]);
    assert_eq!((code, out.as_str()), (1, "0 passed, 1 failed\n"));
    assert!(
        err.contains("the watchdog stopped the guest after 600 s"),
        "{err}"
    );
    assert!(err.contains("never finished: netstack::hangs"), "{err}");
}

/// `qemu/vm test host` judges the host's log alone.
#[test]
fn a_host_run_alone_is_judged() {
    let host = write_log("host-alone", HOST_OK);
    let (code, out, _) = verdict_args(&["test", "--host", &host, "--host-status", "0"]);
    assert_eq!((code, out.as_str()), (0, "5 passed, 0 failed\n"));
}

/// What 78b0218's verdict passed: a console that ran nothing beside a
/// good one, and a suite whose filter matched nothing.
#[test]
fn a_console_that_ran_less_than_it_should_fails() {
    let (code, _) = verdict("test", &[GOOD, "test result: ok. 0 passed; 0 failed\n"]);
    assert_eq!(code, 0, "the second log is the host's");
    let empty = write_log("empty-guest", "VPOLL-EXIT: 0\n");
    let good = write_log("good-guest", GOOD);
    let (code, out, err) = verdict_args(&["test", &good, &empty]);
    assert_eq!((code, out.as_str()), (1, "30 passed, 1 failed\n"));
    assert!(err.contains("no plan"), "{err}");
    let filtered = write_log(
        "filtered-guest",
        &GOOD.replace(
            "30 passed; 0 failed; 0 ignored",
            "0 passed; 0 failed; 0 ignored; 0 measured; 94 filtered out",
        ),
    );
    let (code, _, err) = verdict_args(&["test", &good, &filtered]);
    assert_eq!(code, 1);
    assert!(
        err.contains("suite module accounted for 0 of the 30"),
        "{err}"
    );
    // Tests chosen by exact name, one of them renamed: the suite lists one.
    let renamed = write_log(
        "renamed-guest",
        &GOOD.replace("VPOLL-PLAN: module", "VPOLL-PLAN: module failslab")
            .replace(
                "VPOLL-EXIT: 0",
                "VPOLL-SUITE: failslab 1\ntest result: ok. 1 passed; 0 failed; 0 ignored\nVPOLL-EXIT: 0",
            ),
    );
    assert_eq!(verdict_args(&["test", &good, &renamed]).0, 0, "both found");
    let renamed = write_log(
        "renamed-guest2",
        &GOOD.replace("VPOLL-PLAN: module", "VPOLL-PLAN: module failslab")
            .replace(
                "VPOLL-EXIT: 0",
                "VPOLL-SUITE: failslab 0\ntest result: ok. 0 passed; 0 failed; 0 ignored\nVPOLL-EXIT: 0",
            ),
    );
    let (code, _, err) = verdict_args(&["test", &good, &renamed]);
    assert_eq!(code, 1);
    assert!(err.contains("suite failslab lists no test"), "{err}");
}

#[test]
fn run_mode_exits_with_the_programs_status() {
    assert_eq!(verdict("run", &["hello\nVPOLL-EXIT: 0\n"]).0, 0);
    assert_eq!(verdict("run", &["VPOLL-EXIT: 3\n"]).0, 3);
    assert_eq!(verdict("run", &["BUG: x\nVPOLL-EXIT: 3\n"]).0, 1);
    assert_eq!(verdict("bogus", &["x"]).0, 2);
}

/// Runs the verdict with its arguments as given (paths written here).
fn verdict_args(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vpoll-verdict"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn write_log(name: &str, text: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vpoll-verdict-host-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

const HOST_OK: &str = "     Running unittests src/lib.rs (target/debug/deps/vpoll-1)\n\
                       running 5 tests\n\
                       test result: ok. 5 passed; 0 failed; 0 ignored\n";

#[test]
fn cargo_tests_exit_status_counts() {
    let guest = write_log("status-guest", GOOD);
    let host = write_log("status-host", HOST_OK);
    let (code, out, _) = verdict_args(&["test", &guest, "--host", &host, "--host-status", "0"]);
    assert_eq!((code, out.as_str()), (0, "35 passed, 0 failed\n"));
    // A compile error: cargo fails although every summary it printed was clean.
    let (code, out, err) = verdict_args(&["test", &guest, "--host", &host, "--host-status", "101"]);
    assert_eq!((code, out.as_str()), (1, "35 passed, 1 failed\n"));
    assert!(err.contains("cargo test exited with status 101"), "{err}");
}

#[test]
fn a_host_test_binary_without_summary_fails() {
    let guest = write_log("crash-guest", GOOD);
    let host = write_log(
        "crash-host",
        &format!(
            "{HOST_OK}     Running tests/conformance.rs (target/debug/deps/conformance-2)\n\
             running 12 tests\n\
             error: test failed, to rerun pass `-p vpoll --test conformance`\n"
        ),
    );
    let (code, out, err) = verdict_args(&["test", &guest, "--host", &host]);
    assert_eq!((code, out.as_str()), (1, "35 passed, 1 failed\n"));
    assert!(err.contains("Running tests/conformance.rs"), "{err}");
    assert!(err.contains("printed no test summary"), "{err}");
}

#[test]
fn malformed_arguments_are_usage_errors() {
    let guest = write_log("usage-guest", GOOD);
    assert_eq!(verdict_args(&["test"]).0, 2);
    assert_eq!(verdict_args(&["test", &guest, "--host-status", "0"]).0, 2);
    assert_eq!(
        verdict_args(&["test", &guest, "--host", &guest, "--host-status", "x"]).0,
        2
    );
    assert_eq!(verdict_args(&["test", &guest, "--bogus"]).0, 2);
}

#[test]
fn every_guest_console_must_be_clean() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("vpoll-verdict-multi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let plain = write("plain", GOOD);
    let debug = write(
        "debug",
        &format!("{GOOD}[ 9.0] BUG: KASAN: use-after-free in x\n"),
    );
    let host = write("host", "test result: ok. 5 passed; 0 failed\n");
    let run = |args: &[&std::path::Path]| {
        let out = Command::new(env!("CARGO_BIN_EXE_vpoll-verdict"))
            .arg("test")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        )
    };
    let flag = std::path::Path::new("--host");
    assert_eq!(
        run(&[&plain, &plain, flag, &host]),
        (0, "65 passed, 0 failed\n".into())
    );
    assert_eq!(
        run(&[&plain, &debug, flag, &host]),
        (1, "65 passed, 1 failed\n".into())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_boot_after_an_early_panic_is_judged_on_its_own_console() {
    let log = format!(
        "{GOOD}VPOLL-REBOOTED: the first boot panicked before the guest's init ran (Fatal exception in interrupt); its console: /x.first-boot\n"
    );
    assert_eq!(
        verdict("test", &[&log]),
        (0, "30 passed, 0 failed\n".into())
    );
}
