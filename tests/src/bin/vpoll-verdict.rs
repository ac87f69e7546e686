// SPDX-License-Identifier: MIT OR Apache-2.0

//! Judges guest runs from their console logs (and the host's `cargo test`
//! log): prints any kernel report, then the closing line `N passed, N failed`,
//! and exits non-zero on any failure.
//!
//! ```text
//! vpoll-verdict test CONSOLE_LOG... [--host HOST_LOG]   # test runs: counts from every log
//! vpoll-verdict run CONSOLE_LOG                         # a program run: exits with its status
//! ```

use std::process::ExitCode;
use vpoll_tests::console::Console;

const USAGE: &str = "usage: vpoll-verdict test CONSOLE_LOG... [--host HOST_LOG] | run CONSOLE_LOG";

fn read(path: &str) -> Result<Console, ExitCode> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Console::parse(&String::from_utf8_lossy(&bytes))),
        Err(e) => {
            eprintln!("vpoll-verdict: cannot read {path}: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// Whether one guest console shows a clean run; says why not.
fn clean(path: &str, guest: &Console) -> bool {
    let mut ok = true;
    if !guest.reports.is_empty() {
        ok = false;
        eprintln!("{path}: kernel reports on the console (a failure even if every test passed):");
        for line in &guest.reports {
            eprintln!("  {line}");
        }
    }
    match guest.exit {
        None => {
            ok = false;
            eprintln!(
                "{path}: the guest never reported its job's exit status (crash, hang or watchdog)"
            );
        }
        Some(0) => {}
        Some(code) => {
            ok = false;
            eprintln!("{path}: the guest job exited with status {code}");
        }
    }
    ok
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["run", path] => {
            let guest = match read(path) {
                Ok(c) => c,
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
        ["test", ref rest @ ..] if !rest.is_empty() => {
            let (guests, host) = match rest {
                [guests @ .., "--host", host] => (guests, Some(*host)),
                guests => (guests, None),
            };
            if guests.is_empty() || guests.contains(&"--host") {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
            let mut ok = true;
            let (mut passed, mut failed) = (0, 0);
            for path in guests.iter().chain(host.as_ref()) {
                let console = match read(path) {
                    Ok(c) => c,
                    Err(code) => return code,
                };
                if guests.contains(path) {
                    ok &= clean(path, &console);
                }
                passed += console.passed;
                failed += console.failed;
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
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
