// SPDX-License-Identifier: MIT OR Apache-2.0

//! Judges guest runs from their console logs (and the host's `cargo test`
//! log): prints any kernel report, then the closing line `N passed, N failed`,
//! and exits non-zero on any failure.
//!
//! ```text
//! vpoll-verdict test CONSOLE_LOG... [--host HOST_LOG [--host-status N]]
//! vpoll-verdict run CONSOLE_LOG          # a program run: exits with its status
//! ```

use std::process::ExitCode;
use vpoll_harness::{cargo_log, console::Console};

const USAGE: &str = "usage: vpoll-verdict test CONSOLE_LOG... [--host HOST_LOG [--host-status N]] | run CONSOLE_LOG";

fn read(path: &str) -> Result<String, ExitCode> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) => {
            eprintln!("vpoll-verdict: cannot read {path}: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// Whether one guest console shows a clean run; says why not.
fn clean(path: &str, guest: &Console) -> bool {
    let mut ok = reports_clean(path, guest);
    let ending = ending(path, guest);
    ok &= ending.is_empty();
    for line in ending {
        eprintln!("{line}");
    }
    ok
}

/// Whether one guest console is free of kernel reports; prints them, and
/// what is on it but not a failure.
fn reports_clean(path: &str, guest: &Console) -> bool {
    let mut ok = true;
    if let Some(first) = &guest.rebooted {
        eprintln!("{path}: booted twice (not a failure: nothing of vpoll had run): {first}");
    }
    if guest.expected_oom_dumps > 0 {
        eprintln!(
            "{path}: {} OOM report(s) a test announced and caused on purpose (not a failure)",
            guest.expected_oom_dumps
        );
    }
    if !guest.core_kcsan.is_empty() {
        eprintln!(
            "{path}: core-kernel KCSAN reports, no vpoll frame in them (printed, not failures):"
        );
        for line in &guest.core_kcsan {
            eprintln!("  {line}");
        }
    }
    if !guest.reports.is_empty() {
        ok = false;
        eprintln!("{path}: kernel reports on the console (a failure even if every test passed):");
        for line in &guest.reports {
            eprintln!("  {line}");
        }
    }
    ok
}

/// How a guest run ended, if not well: its exit status or the watchdog, the
/// suites the stall guard stopped (with the test and the threads' states)
/// and the test that never finished. Printed last, beside the summary, where
/// a reader of a long log's tail sees it.
fn ending(path: &str, guest: &Console) -> Vec<String> {
    /// Threads shown per console; the console has them all, with stacks.
    const THREADS: usize = 16;
    let mut lines = Vec::new();
    for stall in &guest.stalls {
        lines.push(format!("{path}: the stall guard stopped a suite: {stall}"));
    }
    for thread in guest.stalled.iter().take(THREADS) {
        lines.push(format!("  {thread}"));
    }
    if guest.stalled.len() > THREADS {
        lines.push(format!(
            "  ... and {} more threads (with their kernel stacks) on the console",
            guest.stalled.len() - THREADS
        ));
    }
    match guest.exit {
        None => {
            let why = match (&guest.panic, guest.watchdog) {
                (Some(reason), _) => format!("the kernel panicked: {reason}"),
                (None, Some(limit)) => format!("the watchdog stopped the guest after {limit} s"),
                (None, None) => "crash or hang".to_owned(),
            };
            lines.push(format!(
                "{path}: the guest never reported its job's exit status ({why})"
            ));
            if let Some(test) = &guest.unfinished {
                lines.push(format!(
                    "{path}: the last test that started never finished: {test}"
                ));
            }
        }
        Some(0) => {}
        Some(code) => lines.push(format!("{path}: the guest job exited with status {code}")),
    }
    lines
}

/// Whether the host's `cargo test` log shows a clean run; says why not.
fn host_clean(path: &str, log: &str, status: Option<i32>) -> bool {
    let mut ok = true;
    for binary in cargo_log::binaries_without_summary(log) {
        ok = false;
        eprintln!("{path}: `{binary}` printed no test summary (it crashed or was killed)");
    }
    if let Some(code) = status.filter(|&c| c != 0) {
        ok = false;
        eprintln!("{path}: cargo test exited with status {code}");
    }
    ok
}

/// The arguments of `test`.
struct TestArgs<'a> {
    guests: Vec<&'a str>,
    host: Option<&'a str>,
    host_status: Option<i32>,
}

fn parse_test_args<'a>(mut args: &[&'a str]) -> Option<TestArgs<'a>> {
    let mut parsed = TestArgs {
        guests: Vec::new(),
        host: None,
        host_status: None,
    };
    while let [first, rest @ ..] = args {
        args = match (*first, rest) {
            ("--host", [path, rest @ ..]) => {
                parsed.host = Some(path);
                rest
            }
            ("--host-status", [n, rest @ ..]) => {
                parsed.host_status = Some(n.parse().ok()?);
                rest
            }
            (flag, _) if flag.starts_with("--") => return None,
            (path, rest) => {
                parsed.guests.push(path);
                rest
            }
        };
    }
    let complete = (!parsed.guests.is_empty() || parsed.host.is_some())
        && (parsed.host.is_some() || parsed.host_status.is_none());
    complete.then_some(parsed)
}

fn test(args: TestArgs) -> ExitCode {
    let mut ok = true;
    let (mut passed, mut failed) = (0, 0);
    let mut endings = Vec::new();
    for path in &args.guests {
        let console = match read(path) {
            Ok(text) => Console::parse(&text),
            Err(code) => return code,
        };
        ok &= reports_clean(path, &console);
        for why in console.missing() {
            ok = false;
            eprintln!("{path}: {why}");
        }
        endings.extend(ending(path, &console));
        passed += console.passed;
        failed += console.failed;
    }
    if let Some(path) = args.host {
        let text = match read(path) {
            Ok(text) => text,
            Err(code) => return code,
        };
        let console = Console::parse(&text);
        ok &= host_clean(path, &text, args.host_status);
        passed += console.passed;
        failed += console.failed;
    }
    ok &= endings.is_empty();
    for line in endings {
        eprintln!("{line}");
    }
    if passed == 0 {
        ok = false;
        eprintln!("no test ran");
    }
    ok &= failed == 0;
    // The logs' own failures already count; a crash or report counts as one more.
    let failed = failed + u64::from(!ok && failed == 0);
    println!("{passed} passed, {failed} failed");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(path: &str) -> ExitCode {
    let guest = match read(path) {
        Ok(text) => Console::parse(&text),
        Err(code) => return code,
    };
    match guest.exit {
        Some(code) if guest.reports.is_empty() => ExitCode::from(code.clamp(0, 255) as u8),
        _ => {
            clean(path, &guest);
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let parsed = match args[..] {
        ["run", path] => return run(path),
        ["test", ref rest @ ..] => parse_test_args(rest),
        _ => None,
    };
    match parsed {
        Some(test_args) => test(test_args),
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
