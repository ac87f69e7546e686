// SPDX-License-Identifier: MIT OR Apache-2.0

//! `read(2)`, `write(2)` (the `EFD_VPOLL` commands) and fdinfo on `/dev/vpoll`.

use nix::errno::Errno;
use std::os::fd::AsRawFd;
use vpoll::abi::{events::*, *};
use vpoll_tests::device::Device;

fn raw_read(dev: &Device, buf: *mut u8, len: usize) -> Result<usize, Errno> {
    // SAFETY: tests pass either a valid buffer of `len` bytes or a deliberately
    // bad user pointer, which the kernel must refuse with EFAULT.
    Errno::result(unsafe { libc::read(dev.as_raw_fd(), buf.cast(), len) }).map(|n| n as usize)
}

fn raw_write(dev: &Device, buf: *const u8, len: usize) -> Result<usize, Errno> {
    // SAFETY: as in `raw_read`.
    Errno::result(unsafe { libc::write(dev.as_raw_fd(), buf.cast(), len) }).map(|n| n as usize)
}

#[test]
fn read_gives_the_mask_as_a_native_u64() {
    let dev = Device::open().unwrap();
    dev.set(IN | RDHUP);
    let mut buf = [0xffu8; 16];
    assert_eq!(
        raw_read(&dev, buf.as_mut_ptr(), 16),
        Ok(8),
        "a longer buffer reads one u64"
    );
    assert_eq!(
        u64::from_ne_bytes(buf[..8].try_into().unwrap()),
        u64::from(IN | RDHUP)
    );
    assert_eq!(buf[8..], [0xff; 8], "nothing written past 8 bytes");
}

#[test]
fn read_below_eight_bytes_is_einval() {
    let dev = Device::open().unwrap();
    let mut buf = [0u8; 8];
    for len in 0..8 {
        assert_eq!(
            raw_read(&dev, buf.as_mut_ptr(), len),
            Err(Errno::EINVAL),
            "len {len}"
        );
    }
}

#[test]
fn read_never_blocks_on_an_empty_mask() {
    let dev = Device::open().unwrap();
    assert_eq!(dev.mask(), 0);
}

#[test]
fn bad_user_pointers_are_efault() {
    let dev = Device::open().unwrap();
    dev.set(OUT);
    for bad in [
        std::ptr::null_mut(),
        8 as *mut u8,
        (usize::MAX - 7) as *mut u8,
    ] {
        assert_eq!(
            raw_read(&dev, bad, 8),
            Err(Errno::EFAULT),
            "read to {bad:p}"
        );
        assert_eq!(
            raw_write(&dev, bad, 8),
            Err(Errno::EFAULT),
            "write from {bad:p}"
        );
    }
    assert_eq!(dev.mask(), OUT, "a failed write changes nothing");
}

#[test]
fn write_speaks_efd_vpoll_commands() {
    let dev = Device::open().unwrap();
    assert_eq!(
        dev.command(EFD_VPOLL_ADDEVENTS | u64::from(IN | PRI)),
        Ok(8)
    );
    assert_eq!(dev.mask(), IN | PRI);
    assert_eq!(dev.command(EFD_VPOLL_DELEVENTS | u64::from(IN)), Ok(8));
    assert_eq!(dev.mask(), PRI);
    assert_eq!(
        dev.command(EFD_VPOLL_MODEVENTS | u64::from(HUP | ERR)),
        Ok(8)
    );
    assert_eq!(dev.mask(), HUP | ERR);
    assert_eq!(dev.command(EFD_VPOLL_MODEVENTS | 0xffff_ffff), Ok(8));
    assert_eq!(
        dev.mask(),
        EPOLLALLMASK,
        "events are masked with EPOLLALLMASK"
    );
}

#[test]
fn write_takes_one_command_from_a_longer_buffer() {
    let dev = Device::open().unwrap();
    let mut buf = [0u8; 16];
    buf[..8].copy_from_slice(&(EFD_VPOLL_ADDEVENTS | u64::from(OUT)).to_ne_bytes());
    buf[8..].copy_from_slice(&(EFD_VPOLL_ADDEVENTS | u64::from(IN)).to_ne_bytes());
    assert_eq!(raw_write(&dev, buf.as_ptr(), 16), Ok(8));
    assert_eq!(dev.mask(), OUT);
}

#[test]
fn bad_writes_are_einval_and_change_nothing() {
    let dev = Device::open().unwrap();
    dev.set(IN);
    let cmd = (EFD_VPOLL_ADDEVENTS | u64::from(OUT)).to_ne_bytes();
    for len in 0..8 {
        assert_eq!(
            raw_write(&dev, cmd.as_ptr(), len),
            Err(Errno::EINVAL),
            "len {len}"
        );
    }
    for op in [0u64, 4, 0x1_0001, u64::from(u32::MAX)] {
        assert_eq!(
            dev.command((op << 32) | u64::from(OUT)),
            Err(Errno::EINVAL),
            "op {op:#x}"
        );
    }
    assert_eq!(dev.mask(), IN);
}

#[test]
fn ioctl_and_write_act_on_the_same_mask() {
    let dev = Device::open().unwrap();
    dev.add(IN);
    dev.command(EFD_VPOLL_ADDEVENTS | u64::from(OUT)).unwrap();
    assert_eq!(dev.del(0), IN | OUT);
}

#[test]
fn fdinfo_shows_the_mask() {
    let dev = Device::open().unwrap();
    let fdinfo =
        || std::fs::read_to_string(format!("/proc/self/fdinfo/{}", dev.as_raw_fd())).unwrap();
    assert!(
        fdinfo().lines().any(|l| l == "vpoll-events:\t0x00000000"),
        "{}",
        fdinfo()
    );
    dev.set(IN | OUT | RDHUP);
    let line = format!("{FDINFO_KEY}\t{:#010x}", IN | OUT | RDHUP);
    assert!(
        fdinfo().lines().any(|l| l == line),
        "want {line:?} in:\n{}",
        fdinfo()
    );
}
