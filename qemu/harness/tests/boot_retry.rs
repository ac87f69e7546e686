// SPDX-License-Identifier: MIT OR Apache-2.0

//! `vm_boot` (qemu/lib/guest.sh) boots a distribution's kernel once more
//! when it panicked before the guest's init ran, keeps the first console and
//! says so on the second's last line; our own kernels, and a panic after
//! init spoke, get no second boot. QEMU is replaced by a script that plays
//! back one console per boot.

use std::path::{Path, PathBuf};
use std::process::Command;

const EARLY_PANIC: &str = "[    1.1] Oops: int3: 0000 [#1] SMP\n\
                           [    1.2] Kernel panic - not syncing: Fatal exception in interrupt\n";
const GOOD: &str = "vpoll guest: Linux 7.2.12, CPUs online 0-1\n\
                    test result: ok. 3 passed; 0 failed; 0 ignored\n\
                    VPOLL-EXIT: 0\n";
const LATE_PANIC: &str = "vpoll guest: Linux 7.2.12, CPUs online 0-1\n\
                          [   30.0] Kernel panic - not syncing: RCU Stall\n";

/// Boots a kernel (stock or ours) whose boots print `consoles` in turn;
/// returns how many boots there were, the console log and the first
/// boot's kept console, if any.
fn boot(stock: bool, consoles: &[&str]) -> (usize, String, Option<String>) {
    let dir = std::env::temp_dir().join(format!(
        "vpoll-boot-retry-{}-{stock}-{}",
        std::process::id(),
        consoles.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    for (i, console) in consoles.iter().enumerate() {
        std::fs::write(dir.join(format!("console-{}", i + 1)), console).unwrap();
    }
    // The fake QEMU: counts its boots, prints that boot's console.
    let fake = dir.join("bin/qemu-system-x86_64");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nn=$(($(cat {d}/boots 2>/dev/null || echo 0) + 1))\necho $n >{d}/boots\ncat {d}/console-$n\n",
            d = dir.display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../lib");
    let script = format!(
        "source {lib}/common.sh\nsource {lib}/guest.sh\n\
         KERNEL_NAME=kernel KERNEL_STOCK={stock} BZIMAGE=/dev/null\n\
         vm_boot /dev/null {dir}/console.log 60 >/dev/null\n",
        lib = lib.display(),
        stock = if stock { "yes" } else { "no" },
        dir = dir.display()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("VPOLL_CACHE", dir.join("cache"))
        .env("PATH", path_with(&dir.join("bin")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let boots = read(&dir.join("boots")).unwrap().trim().parse().unwrap();
    let console = read(&dir.join("console.log")).unwrap();
    let first = read(&dir.join("console.log.first-boot"));
    let _ = std::fs::remove_dir_all(&dir);
    (boots, console, first)
}

fn path_with(dir: &Path) -> String {
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap())
}

#[test]
fn a_stock_kernel_that_panicked_before_init_boots_once_more() {
    let (boots, console, first) = boot(true, &[EARLY_PANIC, GOOD]);
    assert_eq!(boots, 2);
    assert!(first.unwrap().contains("Fatal exception in interrupt"));
    assert!(console.starts_with(GOOD), "{console}");
    let last = console.lines().last().unwrap();
    assert!(
        last.starts_with("VPOLL-REBOOTED: the first boot panicked before the guest's init ran (Fatal exception in interrupt); its console: ")
            && last.ends_with("console.log.first-boot"),
        "{last}"
    );
}

#[test]
fn a_second_early_panic_is_judged_as_it_is() {
    let (boots, console, _) = boot(true, &[EARLY_PANIC, EARLY_PANIC, GOOD]);
    assert_eq!(boots, 2, "one second boot only");
    assert!(console.contains("Kernel panic"));
}

#[test]
fn our_kernels_and_late_panics_get_no_second_boot() {
    for (stock, consoles) in [(false, [EARLY_PANIC, GOOD]), (true, [LATE_PANIC, GOOD])] {
        let (boots, console, first) = boot(stock, &consoles);
        assert_eq!(boots, 1, "stock {stock}: {console}");
        assert!(first.is_none());
        assert!(!console.contains("VPOLL-REBOOTED"));
    }
}
