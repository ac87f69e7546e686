// SPDX-License-Identifier: MIT OR Apache-2.0

//! The `userstack` example runs and its poll loop sees each event the
//! user-level stack raises, in order.

use std::path::PathBuf;
use std::process::Command;

/// `VPOLL_EXAMPLE` (the guest sets it), else the example cargo built beside this test.
fn example() -> PathBuf {
    if let Some(path) = std::env::var_os("VPOLL_EXAMPLE") {
        return path.into();
    }
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    deps.parent().unwrap().join("examples").join("userstack")
}

#[test]
fn userstack_reacts_to_every_event_in_order() {
    let out = Command::new(example())
        .output()
        .expect("running the userstack example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = [
        "app: queued 4 of 6 bytes on A",
        "pipe: IN -> read \"ping\"",
        "socket A: IN -> read \"hello\"",
        "socket B: PRI -> urgent byte '!'",
        "socket B: then 0 bytes of normal data",
        "socket A: OUT -> queued the remaining 2 bytes",
        "socket B: HUP -> the peer closed",
        "userstack: all 5 events handled",
    ];
    let mut lines = stdout.lines();
    for w in want {
        assert!(
            lines.any(|l| l.starts_with(w)),
            "missing or out of order: {w:?} in\n{stdout}"
        );
    }
    if let Ok(backend) = std::env::var("VPOLL_BACKEND") {
        assert!(
            stdout.contains(&format!("userstack: backend {backend}")),
            "{stdout}"
        );
    }
}

#[test]
fn a_bad_vpoll_backend_value_is_a_clear_error() {
    let out = Command::new(example())
        .env("VPOLL_BACKEND", "kqueue")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("VPOLL_BACKEND=\"kqueue\" names no backend"),
        "{stderr}"
    );
}
