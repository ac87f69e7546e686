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

/// The lines a guest test writes to the kernel log around a memory cgroup
/// OOM report it causes on purpose (`tests/guest/memcg.rs`). Between them,
/// and only after the report's own first line, the report's stack dump is
/// expected; every other report there still fails the run.
pub const EXPECTED_OOM_BEGIN: &str = "vpoll-test: an expected memory cgroup OOM report follows";
/// See [`EXPECTED_OOM_BEGIN`].
pub const EXPECTED_OOM_END: &str = "vpoll-test: end of the expected memory cgroup OOM report";
/// The first line of every OOM report (`dump_header` in mm/oom_kill.c).
const OOM_HEADER: &str = "invoked oom-killer:";

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
    /// Stack dumps of OOM reports a test announced (see [`EXPECTED_OOM_BEGIN`]).
    pub expected_oom_dumps: u64,
}

impl Console {
    /// Parses a whole console log.
    pub fn parse(log: &str) -> Self {
        let mut console = Console::default();
        // Inside an announced window: whether its OOM report has begun.
        let mut oom_window: Option<bool> = None;
        for raw in log.lines() {
            let line = strip_timestamp(raw.trim_end_matches('\r'));
            if line.contains(EXPECTED_OOM_BEGIN) {
                oom_window = Some(false);
            } else if line.contains(EXPECTED_OOM_END) {
                oom_window = None;
            } else if line.contains(OOM_HEADER) && oom_window.is_some() {
                oom_window = Some(true);
            }
            if oom_window == Some(true) && line.contains("Call Trace:") {
                console.expected_oom_dumps += 1;
            } else if let Some(rest) = line.strip_prefix(EXIT_MARKER) {
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
    fn an_announced_oom_reports_stack_dump_is_expected_and_nothing_else() {
        let window = |body: &str| {
            format!(
                "[    5.0] {EXPECTED_OOM_BEGIN}\n{body}[    6.0] {EXPECTED_OOM_END}\n[    7.0] Call Trace:\n"
            )
        };
        let oom = "[    5.1] guest invoked oom-killer: gfp_mask=0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO), order=0\n\
                   [    5.2] Call Trace:\n\
                   [    5.3] Out of memory and no killable processes...\n";
        let c = Console::parse(&window(oom));
        assert_eq!(c.expected_oom_dumps, 1);
        // The dump after the window is not expected.
        assert_eq!(c.reports, ["Call Trace:"]);

        // A dump before the OOM report's header, or any other report inside
        // the window, still fails.
        let c = Console::parse(&window(&format!(
            "[    5.0] Call Trace:\n{oom}[    5.4] BUG: KASAN: use-after-free\n"
        )));
        assert_eq!(c.expected_oom_dumps, 1);
        assert_eq!(
            c.reports,
            ["Call Trace:", "BUG: KASAN: use-after-free", "Call Trace:"]
        );
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
