// SPDX-License-Identifier: MIT OR Apache-2.0

//! The ioctl ABI of the C vpoll module, kept.

use nix::errno::Errno;
use vpoll::abi::{self, events::*, EPOLLALLMASK};
use vpoll_tests::device::Device;

#[test]
fn ioctl_numbers_are_io_caret_1_to_3() {
    assert_eq!(
        abi::VPOLL_IO_ADDEVENTS as u64,
        nix::request_code_none!(b'^', 1)
    );
    assert_eq!(
        abi::VPOLL_IO_DELEVENTS as u64,
        nix::request_code_none!(b'^', 2)
    );
    assert_eq!(
        abi::VPOLL_IO_SETEVENTS as u64,
        nix::request_code_none!(b'^', 3)
    );
}

#[test]
fn a_new_fd_has_no_events() {
    let dev = Device::open().unwrap();
    assert_eq!(dev.mask(), 0);
    assert_eq!(dev.del(0), 0);
}

#[test]
fn add_del_set_return_the_resulting_mask() {
    let dev = Device::open().unwrap();
    assert_eq!(dev.add(IN), IN);
    assert_eq!(dev.add(OUT), IN | OUT);
    assert_eq!(dev.add(OUT), IN | OUT);
    assert_eq!(dev.del(IN | HUP), OUT);
    assert_eq!(dev.set(PRI | RDHUP), PRI | RDHUP);
    assert_eq!(dev.set(0), 0);
    assert_eq!(dev.mask(), 0);
}

#[test]
fn every_event_bit_is_stored() {
    let dev = Device::open().unwrap();
    for bit in 0..28 {
        assert_eq!(dev.set(1 << bit), 1 << bit, "bit {bit}");
        assert_eq!(dev.mask(), 1 << bit);
    }
}

#[test]
fn arguments_are_masked_with_epollallmask() {
    let dev = Device::open().unwrap();
    assert_eq!(dev.add(u32::MAX), EPOLLALLMASK);
    assert_eq!(
        dev.set(libc::EPOLLET as u32 | libc::EPOLLONESHOT as u32 | IN),
        IN
    );
    assert_eq!(dev.del(libc::EPOLLEXCLUSIVE as u32), IN);
    // Bits beyond 32 of the ioctl argument are not events either.
    assert_eq!(
        dev.ioctl(abi::VPOLL_IO_SETEVENTS, (1 << 40) | u64::from(OUT)),
        Ok(OUT)
    );
}

#[test]
fn unknown_commands_are_enotty_and_change_nothing() {
    let dev = Device::open().unwrap();
    dev.set(IN | PRI);
    let unknown = [
        0,
        nix::request_code_none!(b'^', 0) as u32,
        nix::request_code_none!(b'^', 4) as u32,
        nix::request_code_write!(b'^', 1, 4) as u32, // _IOW('^', 1, int): not the same command
        nix::request_code_none!(b'x', 1) as u32,
        libc::FIONREAD as u32,
        u32::MAX,
    ];
    for cmd in unknown {
        assert_eq!(
            dev.ioctl(cmd, u64::from(OUT)),
            Err(Errno::ENOTTY),
            "cmd {cmd:#x}"
        );
    }
    assert_eq!(dev.mask(), IN | PRI);
}

#[test]
fn opens_are_independent() {
    let a = Device::open().unwrap();
    let b = Device::open().unwrap();
    a.add(IN | HUP);
    b.add(OUT);
    assert_eq!(a.mask(), IN | HUP);
    assert_eq!(b.mask(), OUT);
    drop(a);
    assert_eq!(b.del(0), OUT);
}

#[test]
fn a_dup_shares_the_object() {
    let a = Device::open().unwrap();
    let dup = std::fs::File::from(nix::unistd::dup(&a).unwrap());
    a.add(PRI);
    let mut buf = [0u8; 8];
    use std::io::Read;
    assert_eq!((&dup).read(&mut buf).unwrap(), 8);
    assert_eq!(u64::from_ne_bytes(buf), u64::from(PRI));
}
