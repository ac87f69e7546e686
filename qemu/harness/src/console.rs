// SPDX-License-Identifier: MIT OR Apache-2.0

//! Reading a guest's serial console: the program's exit status, libtest's
//! counts, and any kernel report (oops, BUG, WARNING, lockdep, KASAN, …), which
//! fails a run even when every test passed.

/// The line the guest's init prints after the job, with the job's exit status.
pub const EXIT_MARKER: &str = "VPOLL-EXIT:";
/// The line the test job prints first: the names of the suites it will run.
/// A console without it, or without one of them, did not run what it should.
pub const PLAN_MARKER: &str = "VPOLL-PLAN:";
/// The line before each suite: its name and how many tests it lists (with
/// the filters it runs with), which its summary must account for.
pub const SUITE_MARKER: &str = "VPOLL-SUITE:";
/// The line `qemu/vm` appends to a console when its watchdog stopped the
/// guest, with the limit in seconds.
pub const WATCHDOG_MARKER: &str = "VPOLL-WATCHDOG:";
/// The line `qemu/vm` appends to a console when a distribution's kernel
/// panicked before the guest's init ran and was booted once more: why, and
/// where the first console is.
pub const REBOOT_MARKER: &str = "VPOLL-REBOOTED:";
/// The line the guest job's stall guard (qemu/guest/suite.sh) prints before
/// it stops a suite that has been silent too long.
pub const STALL_MARKER: &str = "VPOLL-STALL:";
/// The guard's line for each thread of the stalled suite: pid/tid, name,
/// state and wait channel (its kernel stack follows, indented).
pub const STALL_THREAD_MARKER: &str = "VPOLL-STALL-THREAD:";

/// What the kernel prints as it panics; its reason follows.
const PANIC_MARKER: &str = "Kernel panic - not syncing:";

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
    "kernel BUG at",           // BUG_ON()
    "page allocation failure", // warn_alloc()
    "Call Trace:",             // any stack dump
];

/// The header of a KCSAN report; its body runs to the next line of `=`.
const KCSAN_HEADER: &str = "BUG: KCSAN: data-race in ";

/// KCSAN reports in core-kernel code seen under `qemu/vm test`, one line
/// each: the functions as the report names them, and why it is not ours.
/// Any KCSAN report with no vpoll frame is printed and not a failure (under
/// TCG the interrupt watcher finds new core-kernel pairs in about every
/// other run: timers, clock events, timekeeping); this list says what is
/// known of them. A report with a vpoll frame anywhere fails.
const KNOWN_KCSAN: &[(&str, &str)] = &[
    (
        "timekeeping_update_from_shadow / wakeup_preempt",
        "the timer interrupt copies the shadow timekeeper over tk_core (kernel/time/timekeeping.c) while the task it interrupted on that CPU sits in KCSAN's watch of a seqcount-protected read (ktime_get_ts64 from poll), which the seqcount makes retry; found by the interrupt watcher, cold run at bce3482; no upstream report found (no network here)",
    ),
    (
        "__set_open_fd / timerqueue_linked_add",
        "io_uring_setup's alloc_fd sets a bit of the fd table under file_lock while another thread reads that word in a stack KCSAN could not unwind (timerqueue_linked_add repeated); no vpoll frame, cold run at bce3482; no upstream report found (no network here)",
    ),
    (
        "mas_wr_walk_descend+0x2c3/0x370",
        "a maple tree walk (mm's VMA tree) read a node word by interrupt while it changed, at unknown origin: the writer was not in KCSAN's watch; the task was the netstack's thread (Comm: vpoll-netstack) with no vpoll frame; warm run of 2026-12-06; no upstream report found (no network here)",
    ),
    (
        "_raw_spin_unlock+0x9/0x20",
        "an 8-byte read in _raw_spin_unlock on the way out of an interrupt (irqentry_exit, the stack unwound in a loop) changed under KCSAN's watch, at unknown origin; the task was the memcg test's thread allocating fds, no vpoll frame; cold run at d34234a; no upstream report found (no network here)",
    ),
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

/// One suite a console announced, and what its summaries said.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Suite {
    pub name: String,
    /// The tests it lists, as announced.
    pub expected: u64,
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    /// libtest summary lines seen (none: it crashed or never ran).
    pub summaries: u64,
}

impl Suite {
    /// Why this suite proves less than it should, if it does.
    pub fn shortfall(&self) -> Option<String> {
        let ran = self.passed + self.failed + self.ignored;
        if self.summaries == 0 {
            Some("printed no test summary (it crashed or never ran)".into())
        } else if self.expected == 0 {
            Some("lists no test (a filter that matches nothing?)".into())
        } else if ran != self.expected {
            Some(format!(
                "accounted for {ran} of the {} tests it lists",
                self.expected
            ))
        } else if self.passed == 0 {
            Some("passed no test".into())
        } else {
            None
        }
    }
}

/// What a console log says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Console {
    /// The suites the job said it would run, if it said.
    pub plan: Option<Vec<String>>,
    /// The suites announced, in order.
    pub suites: Vec<Suite>,
    /// The job's exit status, if the guest got as far as printing it.
    pub exit: Option<i32>,
    /// Tests passed, summed over every libtest summary line.
    pub passed: u64,
    /// Tests failed, summed likewise.
    pub failed: u64,
    /// Lines that belong to kernel reports.
    pub reports: Vec<String>,
    /// KCSAN reports with no vpoll frame (printed, not failures): their
    /// headers, with what [`KNOWN_KCSAN`] says of them.
    pub core_kcsan: Vec<String>,
    /// Stack dumps of OOM reports a test announced (see [`EXPECTED_OOM_BEGIN`]).
    pub expected_oom_dumps: u64,
    /// The watchdog's limit in seconds, if it stopped the guest.
    pub watchdog: Option<u64>,
    /// What `qemu/vm` said of a first boot that panicked before the guest's
    /// init ran, if it booted the kernel again (see [`REBOOT_MARKER`]).
    pub rebooted: Option<String>,
    /// Why the kernel panicked, if it did (its "not syncing" reason: an oops,
    /// or an RCU stall, as qemu/vm boots with panic_on_rcu_stall).
    pub panic: Option<String>,
    /// The test that started last and never gave its result: where a
    /// console that ends early stopped.
    pub unfinished: Option<String>,
    /// What the stall guard said of each suite it stopped, and the test
    /// that had started last.
    pub stalls: Vec<String>,
    /// The stalled suites' threads, one line each (pid/tid, name, state,
    /// wait channel).
    pub stalled: Vec<String>,
}

impl Console {
    /// Parses a whole console log. Each line is checked for everything it
    /// may hold: a kernel report glued to a test's output is still found.
    pub fn parse(log: &str) -> Self {
        let mut console = Console::default();
        // Inside an announced window: whether its OOM report has begun.
        let mut oom_window: Option<bool> = None;
        // Inside a KCSAN report: its header, and whether a vpoll frame came.
        let mut kcsan: Option<(String, bool)> = None;
        for raw in log.lines() {
            let line = strip_timestamp(raw.trim_end_matches('\r'));
            if let Some((header, ours)) = &mut kcsan {
                if line.starts_with("====") {
                    console.kcsan_report(header, *ours);
                    kcsan = None;
                } else {
                    *ours |= vpoll_frame(line);
                }
            }
            if let Some(at) = line.find(KCSAN_HEADER) {
                if let Some((header, ours)) = kcsan.take() {
                    console.kcsan_report(&header, ours);
                }
                let header = &line[at..];
                kcsan = Some((header.to_owned(), header.contains("vpoll")));
            }
            if line.contains(EXPECTED_OOM_BEGIN) {
                oom_window = Some(false);
            } else if line.contains(EXPECTED_OOM_END) {
                oom_window = None;
            } else if line.contains(OOM_HEADER) && oom_window.is_some() {
                oom_window = Some(true);
            } else if oom_window == Some(true)
                && REPORT_PATTERNS
                    .iter()
                    .any(|p| *p != "Call Trace:" && line.contains(p))
            {
                // Another report: the OOM's is over, and what follows is
                // this one's.
                oom_window = Some(false);
            }
            if let Some(rest) = line.strip_prefix(EXIT_MARKER) {
                console.exit = rest.trim().parse().ok();
            }
            if let Some(rest) = line.strip_prefix(WATCHDOG_MARKER) {
                console.watchdog = rest.trim().parse().ok();
            }
            if let Some(rest) = line.strip_prefix(REBOOT_MARKER) {
                console.rebooted = Some(rest.trim().to_owned());
            }
            if let Some(at) = line.find(PANIC_MARKER) {
                console.panic = Some(line[at + PANIC_MARKER.len()..].trim().to_owned());
            }
            if let Some(rest) = line.strip_prefix(STALL_MARKER) {
                let test = console.unfinished.as_deref().unwrap_or("none started");
                console
                    .stalls
                    .push(format!("{}; the test it ran: {test}", rest.trim()));
            }
            if let Some(rest) = line.strip_prefix(STALL_THREAD_MARKER) {
                console.stalled.push(rest.trim().to_owned());
            }
            console.unfinished = match started_test(line) {
                Some(name) => Some(name.to_owned()),
                None if ends_a_test(line) => None,
                None => console.unfinished.take(),
            };
            if let Some(rest) = line.strip_prefix(PLAN_MARKER) {
                console.plan = Some(rest.split_whitespace().map(str::to_owned).collect());
            }
            if let Some(rest) = line.strip_prefix(SUITE_MARKER) {
                let mut words = rest.split_whitespace();
                console.suites.push(Suite {
                    name: words.next().unwrap_or_default().to_owned(),
                    expected: words.next().and_then(|n| n.parse().ok()).unwrap_or(0),
                    ..Suite::default()
                });
            }
            if let Some(counts) = libtest_counts(line) {
                console.passed += counts.passed;
                console.failed += counts.failed;
                if let Some(suite) = console.suites.last_mut() {
                    suite.passed += counts.passed;
                    suite.failed += counts.failed;
                    suite.ignored += counts.ignored;
                    suite.summaries += 1;
                }
            }
            if oom_window == Some(true) && line.contains("Call Trace:") {
                console.expected_oom_dumps += 1;
            } else if !line.contains(KCSAN_HEADER)
                && REPORT_PATTERNS.iter().any(|p| line.contains(p))
            {
                // (A KCSAN report is filed whole, when it ends.)
                console.reports.push(line.to_owned());
            }
        }
        // A report the console cut short is judged on what it showed.
        if let Some((header, ours)) = kcsan {
            console.kcsan_report(&header, ours);
        }
        console
    }

    /// Files a whole KCSAN report: a failure if a vpoll frame is in it,
    /// else a core-kernel one, with what [`KNOWN_KCSAN`] says of it.
    fn kcsan_report(&mut self, header: &str, ours: bool) {
        if ours {
            return self.reports.push(header.to_owned());
        }
        let pair = header.trim_start_matches(KCSAN_HEADER).trim();
        let why = KNOWN_KCSAN.iter().find(|(known, _)| *known == pair).map_or(
            "core kernel, no vpoll frame (not yet in KNOWN_KCSAN)",
            |(_, why)| why,
        );
        self.core_kcsan.push(format!("{header}: {why}"));
    }

    /// Why this console ran less than its plan, one line each (nothing
    /// when every planned suite ran and accounted for its tests).
    pub fn missing(&self) -> Vec<String> {
        let Some(plan) = &self.plan else {
            return vec!["the job announced no plan of suites (it never started?)".into()];
        };
        let mut why = Vec::new();
        for name in plan {
            match self.suites.iter().find(|s| &s.name == name) {
                None => why.push(format!("suite {name} never started")),
                Some(suite) => {
                    if let Some(short) = suite.shortfall() {
                        why.push(format!("suite {name} {short}"));
                    }
                }
            }
        }
        for suite in &self.suites {
            if !plan.contains(&suite.name) {
                why.push(format!("suite {} ran but was not in the plan", suite.name));
            }
        }
        why
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

/// Whether a line of a report is a stack frame of vpoll's:
/// `FUNCTION+0xOFF/0xLEN [MODULE]` (anywhere on the line: a console may
/// glue lines) with "vpoll" in the function, or the module `[vpoll]`.
/// Other lines that name vpoll (`Comm: vpoll-netstack`, a test's output
/// glued in) are not frames.
fn vpoll_frame(line: &str) -> bool {
    let is_frame = |word: &str| {
        word.split_once("+0x")
            .is_some_and(|(_, offset)| offset.contains("/0x"))
    };
    let words = line.split_whitespace();
    let next = words.clone().skip(1).map(Some).chain([None]);
    words
        .zip(next)
        .any(|(word, next)| is_frame(word) && (word.contains("vpoll") || next == Some("[vpoll]")))
}

/// `test NAME ... ` with no result after it yet (libtest prints the result
/// when the test ends; a kernel message, with or without its timestamp, may
/// come between): NAME.
fn started_test(line: &str) -> Option<&str> {
    let (name, rest) = line.strip_prefix("test ")?.split_once(" ... ")?;
    let has_result = ["ok", "FAILED", "ignored"]
        .iter()
        .any(|r| rest.trim().starts_with(r));
    (!has_result).then_some(name)
}

/// Whether the line ends the test that started last: its result, the
/// next test's line or a summary.
fn ends_a_test(line: &str) -> bool {
    let line = line.trim();
    line.starts_with("test ")
        || line.starts_with("ok")
        || line.starts_with("FAILED")
        || line.starts_with("ignored")
        || line.contains("test result: ")
}

/// A libtest summary's counts.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

/// `test result: ok. 12 passed; 0 failed; 1 ignored; …` → 12, 0, 1. Found
/// anywhere in the line (a kernel message may have come first).
pub fn libtest_counts(line: &str) -> Option<Counts> {
    let (_, rest) = line.split_once("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut passed = None;
    let mut failed = None;
    let mut ignored = 0;
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(n), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        // "failed[ 5.1] BUG: …" when a kernel message was glued on.
        match what.trim_end_matches(|c: char| !c.is_ascii_alphabetic()) {
            "passed" => passed = Some(n.parse().ok()?),
            "failed" => failed = Some(n.parse().ok()?),
            "ignored" => ignored = n.parse().ok()?,
            _ => {} // measured, "finished in 0.01s", …
        }
    }
    Some(Counts {
        passed: passed?,
        failed: failed?,
        ignored,
    })
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
    fn a_console_cut_short_names_its_unfinished_test_and_the_watchdog() {
        let log = "test a::done ... ok\n\
                   test a::slow ... \n\
                   [   12.000000] random: crng init done\n\
                   ok\n\
                   test a::hangs ... [   13.000000] tun: Universal TUN/TAP device driver\n\
                   VPOLL-WATCHDOG: 300\n";
        let c = Console::parse(log);
        assert_eq!(c.unfinished.as_deref(), Some("a::hangs"));
        assert_eq!(c.watchdog, Some(300));
        let done = Console::parse("test a::slow ... \nok\ntest result: ok. 1 passed; 0 failed\n");
        assert_eq!((done.unfinished, done.watchdog), (None, None));
    }

    #[test]
    fn a_kernel_wedged_in_a_test_panics_on_its_rcu_stall() {
        let log = "test stress::racing ... rcu: INFO: rcu_sched detected stalls on CPUs/tasks:\n\
                   NMI backtrace for cpu 1\n\
                   [   52.000000] Kernel panic - not syncing: RCU Stall\n\
                   [   52.100000] Kernel Offset: disabled\n";
        let c = Console::parse(log);
        assert_eq!(c.panic.as_deref(), Some("RCU Stall"));
        assert_eq!(c.unfinished.as_deref(), Some("stress::racing"));
        assert!(c
            .reports
            .iter()
            .any(|r| r.contains("rcu_sched detected stalls")));
        assert!(c.reports.iter().any(|r| r.contains("Kernel panic")));
        assert_eq!(
            Console::parse("test result: ok. 1 passed; 0 failed\n").panic,
            None
        );
    }

    #[test]
    fn a_second_boot_says_why_the_first_was_not_judged() {
        let c = Console::parse(
            "VPOLL-EXIT: 0\nVPOLL-REBOOTED: the first boot panicked (x); its console: y\n",
        );
        assert_eq!(
            c.rebooted.as_deref(),
            Some("the first boot panicked (x); its console: y")
        );
        assert!(c.reports.is_empty());
        assert_eq!(Console::parse("VPOLL-EXIT: 0\n").rebooted, None);
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
            libtest_counts("  test result: ok. 1 passed; 0 failed; 2 ignored"),
            Some(Counts {
                passed: 1,
                failed: 0,
                ignored: 2
            })
        );
    }

    /// A report glued to a summary line (two writers on one console) is
    /// found, and the summary still counts.
    #[test]
    fn a_report_glued_to_a_summary_is_found() {
        let c = Console::parse(
            "test result: ok. 3 passed; 0 failed[   5.1] BUG: KASAN: use-after-free in f\n",
        );
        assert_eq!((c.passed, c.failed), (3, 0));
        assert_eq!(c.reports.len(), 1, "{:?}", c.reports);
        let c = Console::parse(
            "[ 9.0] kernel BUG at mm/slub.c:1!\nguest: page allocation failure: order:0\n",
        );
        assert_eq!(c.reports.len(), 2, "{:?}", c.reports);
    }

    /// An OOM window that never closes does not excuse a later report's
    /// stack dump (a page allocation failure's, say).
    #[test]
    fn a_report_inside_an_oom_window_ends_the_oom_report() {
        let log = format!(
            "{EXPECTED_OOM_BEGIN}\n\
             guest invoked oom-killer: gfp_mask=0x0\n\
             Call Trace:\n\
             vpoll-test: warn_alloc: page allocation failure: order:5\n\
             Call Trace:\n"
        );
        let c = Console::parse(&log);
        assert_eq!(c.expected_oom_dumps, 1);
        assert_eq!(c.reports.len(), 2, "{:?}", c.reports);
    }

    /// The plan and each suite's announcement: a suite is whole when its
    /// summaries account for every test it listed.
    #[test]
    fn every_planned_suite_must_run_what_it_lists() {
        let whole = "VPOLL-PLAN: module lib:behaviour\n\
                     VPOLL-SUITE: module 3\n\
                     test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out\n\
                     VPOLL-SUITE: lib:behaviour 4\n\
                     test result: ok. 4 passed; 0 failed; 0 ignored\n\
                     VPOLL-EXIT: 0\n";
        assert_eq!(Console::parse(whole).missing(), Vec::<String>::new());
        let c = Console::parse("VPOLL-EXIT: 0\n");
        assert_eq!(c.missing().len(), 1, "no plan");
        let c = Console::parse(&whole.replace("VPOLL-SUITE: lib:behaviour 4\n", ""));
        assert!(
            c.missing()
                .iter()
                .any(|m| m.contains("lib:behaviour never started")),
            "{:?}",
            c.missing()
        );
        // A renamed test chosen by exact name: the suite lists nothing.
        let c = Console::parse(&whole.replace(
            "VPOLL-SUITE: module 3\ntest result: ok. 2 passed; 0 failed; 1 ignored",
            "VPOLL-SUITE: module 0\ntest result: ok. 0 passed; 0 failed; 0 ignored",
        ));
        assert!(
            c.missing()[0].contains("lists no test"),
            "{:?}",
            c.missing()
        );
        // A filter that leaves nothing to run.
        let c = Console::parse(&whole.replace(
            "4 passed; 0 failed; 0 ignored",
            "0 passed; 0 failed; 0 ignored; 0 measured; 4 filtered out",
        ));
        assert!(
            c.missing()[0].contains("accounted for 0 of the 4"),
            "{:?}",
            c.missing()
        );
        // A suite that crashed before its summary.
        let c =
            Console::parse(&whole.replace("test result: ok. 4 passed; 0 failed; 0 ignored\n", ""));
        assert!(
            c.missing()[0].contains("no test summary"),
            "{:?}",
            c.missing()
        );
    }
    /// A KCSAN report with no vpoll frame is listed (with what is known of
    /// it); any with a vpoll frame fails, a report the console cut short
    /// included.
    #[test]
    fn kcsan_reports_are_known_only_without_a_vpoll_frame() {
        let report = |pair: &str, frame: &str| {
            format!(
                "[    9.0] ==================================================================\n\
                 [    9.0] BUG: KCSAN: data-race in {pair}\n\
                 [    9.0] \n\
                 [    9.0] write to 0xffffffff81e0af88 of 320 bytes by interrupt on cpu 0:\n\
                 [    9.0]  {frame}+0x351/0x380\n\
                 [    9.0] \n\
                 [    9.0] Reported by Kernel Concurrency Sanitizer on:\n\
                 [    9.0] ==================================================================\n"
            )
        };
        let known = "timekeeping_update_from_shadow / wakeup_preempt";
        let c = Console::parse(&report(known, "timekeeping_update_from_shadow"));
        assert!(c.reports.is_empty(), "{:?}", c.reports);
        assert_eq!(c.core_kcsan.len(), 1);
        assert!(c.core_kcsan[0].contains(known), "{:?}", c.core_kcsan);

        let c = Console::parse(&report(known, "vpoll_write_iter"));
        assert_eq!(c.reports, [format!("BUG: KCSAN: data-race in {known}")]);
        assert!(c.core_kcsan.is_empty());

        let c = Console::parse(&report("vpoll_ctl / vpoll_poll", "vpoll_ctl"));
        assert_eq!(c.reports.len(), 1);

        // A frame of the module, by its module name.
        let c = Console::parse(&report(known, "poll_misc_ioctl+0x10/0x20 [vpoll]\n x"));
        assert_eq!(c.reports.len(), 1, "{:?}", c.core_kcsan);

        // A task named after vpoll, or a test's line glued in, is no frame
        // (a warm run found this core-kernel race in the netstack's thread).
        let maple = "mas_wr_walk_descend+0x2c3/0x370";
        let c = Console::parse(&report(maple, "mas_wr_walk_descend").replace(
            "Reported by Kernel Concurrency Sanitizer on:\n",
            "Reported by Kernel Concurrency Sanitizer on:\n\
                     CPU: 1 UID: 0 PID: 2972 Comm: vpoll-netstack Tainted: G O 7.3.4 #1\n\
                     test netstack::many_kernel_clients_served_by_tokio ... vpoll\n",
        ));
        assert!(c.reports.is_empty(), "{:?}", c.reports);
        assert_eq!(c.core_kcsan.len(), 1, "{:?}", c.core_kcsan);

        let other = "clockevents_program_event+0x1eb/0x200";
        let c = Console::parse(&report(other, "clockevents_program_event"));
        assert!(c.reports.is_empty(), "{:?}", c.reports);
        assert!(
            c.core_kcsan[0].contains("not yet in KNOWN_KCSAN"),
            "{:?}",
            c.core_kcsan
        );

        let cut = report(known, "timekeeping_update_from_shadow");
        let cut = &cut[..cut.find("Reported").unwrap()];
        let c = Console::parse(&format!("{cut}[    9.1]  vpoll_poll+0x10/0x20\n"));
        assert_eq!(
            c.reports.len(),
            1,
            "a cut-short report with a vpoll frame fails"
        );
    }
}
