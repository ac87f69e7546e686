// SPDX-License-Identifier: MIT OR Apache-2.0

//! The guest itself, and clients other than this suite: the CPUs the tests
//! rely on for real concurrency, and a 32-bit C client (compat ioctls).

use std::process::Command;

#[test]
fn every_cpu_given_to_the_guest_is_online() {
    let want: usize = std::env::var("VPOLL_GUEST_CPUS")
        .expect("VPOLL_GUEST_CPUS: run this suite through qemu/vm test")
        .parse()
        .unwrap();
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    assert_eq!(online.trim(), format!("0-{}", want - 1));
    assert_eq!(std::thread::available_parallelism().unwrap().get(), want);
}

#[test]
fn a_32_bit_client_uses_the_same_abi() {
    let client = std::env::var("VPOLL_COMPAT32")
        .expect("VPOLL_COMPAT32: run this suite through qemu/vm test");
    let out = Command::new(&client)
        .output()
        .expect("running the 32-bit client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{client} failed:\n{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("vpoll32: "))
        .unwrap_or_default();
    let counts: Vec<u32> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        matches!(counts[..], [passed, total] if passed == total && total >= 13),
        "want every one of the client's 13+ checks to pass:\n{stdout}"
    );
}
