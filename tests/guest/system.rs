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

/// The kernel has the `EFD_VPOLL` eventfd exactly when `qemu/vm` says so
/// (our test kernel: patched; a stock kernel: refused with EINVAL, as the C
/// library's probe expects).
#[test]
fn efd_vpoll_is_there_exactly_on_a_patched_kernel() {
    // SAFETY: eventfd takes two integers; a returned fd is closed at once.
    let fd = unsafe { libc::eventfd(0, vpoll::abi::EFD_VPOLL | libc::EFD_CLOEXEC) };
    let result = nix::errno::Errno::result(fd).map(|_| ());
    if fd >= 0 {
        // SAFETY: ours, closed once.
        unsafe { libc::close(fd) };
    }
    let want = if vpoll_tests::kernel::has_efd_vpoll() {
        Ok(())
    } else {
        Err(nix::errno::Errno::EINVAL)
    };
    assert_eq!(result, want);
}

/// The library's automatic choice is the device, proven by the kernel's own
/// fdinfo line for a `/dev/vpoll` file.
#[test]
fn the_library_picks_the_device() {
    use std::os::fd::AsRawFd;
    let vp = vpoll::Vpoll::new().unwrap();
    assert_eq!(vp.backend(), vpoll::Backend::Device);
    let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", vp.as_raw_fd())).unwrap();
    assert!(fdinfo.contains(vpoll::abi::FDINFO_KEY), "{fdinfo}");
}
