// SPDX-License-Identifier: MIT OR Apache-2.0

//! Judges a guest run from its console log (and optionally the host's
//! `cargo test` log): prints any kernel report, then the closing line
//! `N passed, N failed`, and exits non-zero on any failure.
//!
//! ```text
//! vpoll-verdict test CONSOLE_LOG [HOST_LOG]   # a test run: counts from both logs
//! vpoll-verdict run CONSOLE_LOG               # a program run: exits with its status
//! ```

use std::process::ExitCode;
use vpoll_tests::console::Console;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, logs) = match args.split_first() {
        Some((mode, logs)) if (mode == "test" || mode == "run") && !logs.is_empty() => (mode, logs),
        _ => {
            eprintln!("usage: vpoll-verdict test CONSOLE_LOG [HOST_LOG] | run CONSOLE_LOG");
            return ExitCode::from(2);
        }
    };
    let mut consoles = Vec::new();
    for path in logs {
        match std::fs::read(path) {
            Ok(bytes) => consoles.push(Console::parse(&String::from_utf8_lossy(&bytes))),
            Err(e) => {
                eprintln!("vpoll-verdict: cannot read {path}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let guest = &consoles[0];
    let mut ok = true;
    if !guest.reports.is_empty() {
        ok = false;
        eprintln!("kernel reports on the guest console (a failure even if every test passed):");
        for line in &guest.reports {
            eprintln!("  {line}");
        }
    }
    match guest.exit {
        None => {
            ok = false;
            eprintln!("the guest never reported its job's exit status (crash, hang or watchdog)");
        }
        Some(0) => {}
        Some(code) if mode == "run" && guest.reports.is_empty() => {
            return ExitCode::from(code.clamp(1, 255) as u8);
        }
        Some(code) => {
            ok = false;
            eprintln!("the guest job exited with status {code}");
        }
    }
    if mode == "test" {
        let passed: u64 = consoles.iter().map(|c| c.passed).sum();
        let failed: u64 = consoles.iter().map(|c| c.failed).sum();
        if passed == 0 {
            ok = false;
            eprintln!("no test ran");
        }
        ok &= failed == 0;
        // The guest's own failures already count; a crash counts as one more.
        let failed = failed + u64::from(!ok && failed == 0);
        println!("{passed} passed, {failed} failed");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
