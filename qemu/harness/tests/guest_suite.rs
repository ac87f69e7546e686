// SPDX-License-Identifier: MIT OR Apache-2.0

//! The guest job's stall guard (qemu/guest/suite.sh), run in busybox's sh
//! as in the guest: a suite that hangs is dumped and stopped with everything
//! it started, the job goes on with the next suite, and the verdict names
//! the test that hung.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vpoll_harness::console::Console;

const BUSYBOX: &str = "/bin/busybox";

fn suite_sh() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../guest/suite.sh")
}

/// A fake libtest binary: lists two tests; runs the first, then starts the
/// second and, with `hang`, leaves a child behind (its pid in `child`) and
/// never finishes.
fn fake_suite(dir: &Path, hang: bool) -> PathBuf {
    let path = dir.join(if hang { "hangs" } else { "passes" });
    let second = if hang {
        format!("sleep 600 & echo $! >{}/child\nwait\n", dir.display())
    } else {
        "echo ok\necho 'test result: ok. 2 passed; 0 failed; 0 ignored'\n".to_owned()
    };
    let text = format!(
        "#!{BUSYBOX} sh\n\
         if [ \"$1\" = --list ]; then echo 'first: test'; echo 'second: test'; exit 0; fi\n\
         echo 'test first ... ok'\nprintf 'test second ... '\n{second}"
    );
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_hung_suite_is_dumped_stopped_whole_and_the_job_goes_on() {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: apt-get install busybox-static (qemu/vm installs it)"
    );
    let dir = std::env::temp_dir().join(format!("vpoll-guest-suite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (hangs, passes) = (fake_suite(&dir, true), fake_suite(&dir, false));
    let job = format!(
        "status=0\n. {}\nsuite stuck {}\nsuite after {}\necho VPOLL-EXIT: $status\n",
        suite_sh().display(),
        hangs.display(),
        passes.display()
    );
    let began = Instant::now();
    // The console is a file, and the job is awaited, not its output's end:
    // a suite the guard failed to stop would hold a pipe open.
    let log = dir.join("console");
    Command::new(BUSYBOX)
        .args(["sh", "-c", &job])
        .env("VPOLL_STALL", "4")
        .env("SUITE_DIR", dir.join("state"))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let console = std::fs::read_to_string(&log).unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "the guard took {:?}:\n{console}",
        began.elapsed()
    );

    // The dump: the stuck suite's threads, the sleeping child among them.
    assert!(
        console.contains("VPOLL-STALL: suite stuck printed nothing for"),
        "{console}"
    );
    assert!(console.contains("VPOLL-STALL-THREAD:"), "{console}");
    assert!(
        console.contains(" sleep "),
        "the child is listed: {console}"
    );
    // Stopped whole: the child it left behind is gone too.
    let child = std::fs::read_to_string(dir.join("child")).unwrap();
    let proc = PathBuf::from(format!("/proc/{}", child.trim()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!proc.exists(), "the suite's child lived on: {console}");
    // The job went on, in order, and failed.
    let after = console.find("VPOLL-SUITE: after 2").expect(&console);
    let result = console.find("test result: ok. 2 passed").expect(&console);
    assert!(after < result, "{console}");
    assert!(console.contains("VPOLL-EXIT: 1"), "{console}");

    // The verdict's view: the stuck suite printed no summary, `second` is
    // the test that hung, and its threads are at hand.
    let parsed = Console::parse(&format!("VPOLL-PLAN: stuck after\n{console}"));
    assert_eq!(parsed.stalls.len(), 1, "{console}");
    assert!(
        parsed.stalls[0].ends_with("the test it ran: second"),
        "{:?}",
        parsed.stalls
    );
    assert!(
        parsed.stalled.iter().any(|t| t.contains("sleep")),
        "{console}"
    );
    assert!(
        parsed
            .missing()
            .iter()
            .any(|m| m.contains("suite stuck printed no test summary")),
        "{:?}",
        parsed.missing()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_suite_that_finishes_is_left_alone() {
    let dir = std::env::temp_dir().join(format!("vpoll-guest-ok-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let passes = fake_suite(&dir, false);
    let job = format!(
        "status=0\n. {}\nsuite one {}\necho VPOLL-EXIT: $status\n",
        suite_sh().display(),
        passes.display()
    );
    let out = Command::new(BUSYBOX)
        .args(["sh", "-c", &job])
        .env("VPOLL_STALL", "4")
        .env("SUITE_DIR", dir.join("state"))
        .output()
        .unwrap();
    let console = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!console.contains("VPOLL-STALL"), "{console}");
    assert!(console.contains("VPOLL-EXIT: 0"), "{console}");
    let parsed = Console::parse(&format!("VPOLL-PLAN: one\n{console}"));
    assert!(parsed.missing().is_empty(), "{:?}", parsed.missing());
    let _ = std::fs::remove_dir_all(&dir);
}
