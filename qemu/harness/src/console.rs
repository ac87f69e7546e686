// SPDX-License-Identifier: MIT OR Apache-2.0

//! Reading a guest's serial console: the program's exit status, libtest's
//! counts, and any kernel report (oops, BUG, WARNING, lockdep, KASAN, …), which
//! fails a run even when every test passed.

/// The line the guest's init prints after the job, with the job's exit status.
pub const EXIT_MARKER: &str = "VPOLL-EXIT:";

/// Substrings that start a kernel report. Any of them on the console is a failure.
const REPORT_PATTERNS: &[&str] = &[
    "BUG:",         // BUG(), KASAN, sleeping in atomic, NULL dereference
    "Oops",         // oops header
    "WARNING:",     // WARN(), lockdep's "possible circular locking"
    "INFO:",        // lockdep and RCU stall details, hung tasks
    "Kernel panic", // panic
    "general protection fault",
    "unreferenced object", // kmemleak
    "UBSAN:",
    "Call Trace:", // any stack dump
];

/// What a console log says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Console {
    /// The job's exit status, if the guest got as far as printing it.
    pub exit: Option<i32>,
    /// Tests passed, summed over every libtest summary line.
    pub passed: u64,
    /// Tests failed, summed likewise.
    pub failed: u64,
    /// Lines that belong to kernel reports.
    pub reports: Vec<String>,
}

impl Console {
    /// Parses a whole console log.
    pub fn parse(log: &str) -> Self {
        let mut console = Console::default();
        for raw in log.lines() {
            let line = strip_timestamp(raw.trim_end_matches('\r'));
            if let Some(rest) = line.strip_prefix(EXIT_MARKER) {
                console.exit = rest.trim().parse().ok();
            } else if let Some((passed, failed)) = libtest_counts(line) {
                console.passed += passed;
                console.failed += failed;
            } else if REPORT_PATTERNS.iter().any(|p| line.contains(p)) {
                console.reports.push(line.to_owned());
            }
        }
        console
    }
}

/// Drops the `[   12.345678] ` prefix of a kernel message.
fn strip_timestamp(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('[') {
        if let Some((stamp, tail)) = rest.split_once(']') {
            if stamp.trim().chars().all(|c| c.is_ascii_digit() || c == '.') {
                return tail.trim_start();
            }
        }
    }
    line
}

/// `test result: ok. 12 passed; 0 failed; 0 ignored; …` → (12, 0).
pub fn libtest_counts(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut passed = None;
    let mut failed = None;
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(n), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        match what {
            "passed" => passed = Some(n.parse().ok()?),
            "failed" => failed = Some(n.parse().ok()?),
            _ => {} // ignored, measured, "finished in 0.01s", …
        }
    }
    Some((passed?, failed?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_libtest_summaries() {
        let log = "running 3 tests\n\
                   test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
                   test result: FAILED. 5 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out\n";
        let c = Console::parse(log);
        assert_eq!((c.passed, c.failed), (8, 2));
        assert!(c.reports.is_empty());
    }

    #[test]
    fn exit_marker_with_crlf_and_timestamp() {
        let c = Console::parse("[    3.141592] random: crng init done\r\nVPOLL-EXIT: 101\r\n");
        assert_eq!(c.exit, Some(101));
        assert!(Console::parse("no marker here").exit.is_none());
    }

    #[test]
    fn kernel_reports_are_found_behind_timestamps() {
        let log = "[    1.000000] vpoll: /dev/vpoll ready (mode 0o666)\n\
                   [    2.000000] WARNING: CPU: 1 PID: 80 at kernel/sched/core.c:1 foo+0x1/0x2\n\
                   [    2.100000] ==================================================================\n\
                   [    2.200000] BUG: KASAN: slab-use-after-free in vpoll_read+0x10/0x20\n\
                   [    2.300000] Call Trace:\n\
                   unreferenced object 0xffff888003a1b000 (size 64):\n\
                   [    2.400000] WARNING: possible circular locking dependency detected\n";
        let c = Console::parse(log);
        assert_eq!(c.reports.len(), 5, "{:#?}", c.reports);
        assert!(c.reports[0].starts_with("WARNING: CPU: 1"));
    }

    #[test]
    fn ordinary_boot_and_test_lines_are_not_reports() {
        let log = "[    0.000000] Linux version 7.2.12\n\
                   test wakeup::poll_wakes_for_requested_bit ... ok\n\
                   [    0.5] kasan: KernelAddressSanitizer initialized\n";
        assert!(Console::parse(log).reports.is_empty());
    }

    #[test]
    fn malformed_summaries_are_ignored() {
        assert_eq!(
            libtest_counts("test result: ok. lots passed; 0 failed"),
            None
        );
        assert_eq!(libtest_counts("test result: ok. 1 passed"), None);
        assert_eq!(
            libtest_counts("  test result: ok. 1 passed; 0 failed; 0 ignored"),
            Some((1, 0))
        );
    }
}
