// SPDX-License-Identifier: MIT OR Apache-2.0

//! A seeded, model-checked fuzz loop over the device's and the EFD_VPOLL
//! eventfd's whole user interface: random ioctls (valid and not), reads and
//! writes of every small size and a huge one, through valid, unaligned, NULL
//! and unmapped buffers, and batches (`VPOLL_IO_BATCH`) of valid and invalid
//! entries. Every answer must be exactly the documented one, and
//! the mask must always equal the model's.

use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use vpoll::abi::*;
use vpoll_tests::rng::Rng;

/// Operations per fd kind; `VPOLL_FUZZ_OPS` overrides.
const OPS: u64 = 500_000;

struct Target {
    fd: OwnedFd,
    /// The device has the ioctls; an eventfd answers ENOTTY to all.
    ioctls: bool,
    mask: u32,
}

fn result(ret: isize) -> Result<usize, Errno> {
    Errno::result(ret).map(|n| n as usize)
}

impl Target {
    fn ioctl(&mut self, cmd: u32, arg: u64) -> Result<usize, Errno> {
        // SAFETY: any command and integer argument; the kernel must refuse what it does not know.
        result(unsafe { libc::ioctl(self.fd.as_raw_fd(), cmd as _, arg as libc::c_ulong) } as isize)
    }

    fn apply(&mut self, op: u64, events: u32) -> u32 {
        let ev = events & EPOLLALLMASK;
        self.mask = match op {
            1 => self.mask | ev,
            2 => self.mask & !ev,
            _ => ev,
        };
        self.mask
    }
}

/// A buffer pointer of one of the kinds the loop tries, and whether it is valid.
fn buffer(rng: &mut Rng, buf: &mut [u8; 32], unmapped: *mut u8) -> (*mut u8, bool) {
    match rng.below(8) {
        0 => (std::ptr::null_mut(), false),
        1 => (unmapped, false),
        2 => (buf.as_mut_ptr().wrapping_add(1), true), // unaligned
        _ => (buf.as_mut_ptr(), true),
    }
}

fn fuzz(target: &mut Target, rng: &mut Rng, ops: u64, unmapped: *mut u8) {
    let mut buf = [0u8; 32];
    for i in 0..ops {
        let fd = target.fd.as_raw_fd();
        match rng.below(4) {
            0 => {
                let nr = rng.below(6) as u32; // 1..=3 are the commands
                let cmd = match rng.below(4) {
                    // Any number but the batch's, whose argument is a pointer (arm 3).
                    0 => Some(rng.next_u64() as u32)
                        .filter(|&c| c != VPOLL_IO_BATCH)
                        .unwrap_or(0),
                    _ => (u32::from(b'^') << 8) | nr,
                };
                let arg = rng.next_u64();
                let got = target.ioctl(cmd, arg);
                let op = match cmd {
                    VPOLL_IO_ADDEVENTS => 1,
                    VPOLL_IO_DELEVENTS => 2,
                    VPOLL_IO_SETEVENTS => 3,
                    _ => 0,
                };
                if target.ioctls && op != 0 {
                    let want = target.apply(op, arg as u32);
                    assert_eq!(got, Ok(want as usize), "op {i}: ioctl {cmd:#x} {arg:#x}");
                } else {
                    assert_eq!(got, Err(Errno::ENOTTY), "op {i}: ioctl {cmd:#x}");
                }
            }
            1 => {
                let len = if rng.below(16) == 0 {
                    1 << 30
                } else {
                    rng.below(17) as usize
                };
                let (ptr, valid) = buffer(rng, &mut buf, unmapped);
                // SAFETY: a valid buffer has room for the 8 bytes the kernel writes,
                // whatever `len` says; an invalid one must be refused.
                let got = result(unsafe { libc::read(fd, ptr.cast(), len) });
                let want = match (len < 8, valid) {
                    (true, _) => Err(Errno::EINVAL),
                    (false, false) => Err(Errno::EFAULT),
                    (false, true) => Ok(8),
                };
                assert_eq!(got, want, "op {i}: read of {len} at {ptr:p}");
                if got.is_ok() {
                    // SAFETY: the kernel wrote 8 bytes at `ptr`.
                    let mask = unsafe { ptr.cast::<u64>().read_unaligned() };
                    assert_eq!(mask, u64::from(target.mask), "op {i}: the mask read");
                }
            }
            2 => {
                let op = if rng.below(5) == 0 {
                    rng.next_u64() >> 32
                } else {
                    1 + rng.below(3)
                };
                let events = rng.next_u64() as u32;
                let len = if rng.below(16) == 0 {
                    1 << 30
                } else {
                    rng.below(17) as usize
                };
                let (ptr, valid) = buffer(rng, &mut buf, unmapped);
                if valid {
                    // SAFETY: `ptr` points into `buf` with at least 8 bytes after it.
                    unsafe {
                        ptr.cast::<u64>()
                            .write_unaligned((op << 32) | u64::from(events))
                    };
                }
                // SAFETY: as for read; the kernel reads at most 8 bytes.
                let got = result(unsafe { libc::write(fd, ptr.cast(), len) });
                let want = match (len < 8, valid, (1..=3).contains(&op)) {
                    (true, ..) => Err(Errno::EINVAL),
                    (false, false, _) => Err(Errno::EFAULT),
                    (false, true, false) => Err(Errno::EINVAL),
                    (false, true, true) => {
                        target.apply(op, events);
                        Ok(8)
                    }
                };
                assert_eq!(got, want, "op {i}: write of {len}, op {op:#x}, at {ptr:p}");
            }
            _ => {
                // A batch of up to 8 entries naming this fd or no open one, with
                // valid and invalid operations; 1 in 8 times a bad pointer.
                let mut entries: Vec<BatchEntry> = (0..rng.below(9))
                    .map(|_| BatchEntry {
                        fd: if rng.below(4) == 0 {
                            -1 - rng.below(1 << 20) as i32
                        } else {
                            fd
                        },
                        op: rng.below(5) as u32,
                        events: rng.next_u64() as u32,
                        result: 0,
                    })
                    .collect();
                let bad = rng.below(8) == 0;
                let header = BatchHeader {
                    entries: if bad {
                        unmapped as u64
                    } else {
                        entries.as_mut_ptr() as u64
                    },
                    count: entries.len() as u32,
                    flags: 0,
                };
                // SAFETY: the header and entries are valid, or `unmapped`, which
                // the kernel must refuse.
                let got = result(unsafe { libc::ioctl(fd, VPOLL_IO_BATCH as _, &header) } as isize);
                if !target.ioctls {
                    assert_eq!(got, Err(Errno::ENOTTY), "op {i}: batch on an eventfd");
                } else if bad && !entries.is_empty() {
                    assert_eq!(
                        got,
                        Err(Errno::EFAULT),
                        "op {i}: batch at an unmapped address"
                    );
                } else {
                    assert_eq!(got, Ok(entries.len()), "op {i}: batch of {}", entries.len());
                    for (k, e) in entries.iter().enumerate() {
                        // The operation is checked before the fd.
                        let want = if !(1..=3).contains(&e.op) {
                            -libc::EINVAL
                        } else if e.fd != fd {
                            -libc::EBADF
                        } else {
                            target.apply(e.op.into(), e.events) as i32
                        };
                        assert_eq!(e.result, want, "op {i}: batch entry {k}: {e:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn random_operations_on_every_fd_kind_answer_as_documented() {
    let ops: u64 = std::env::var("VPOLL_FUZZ_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(OPS);
    let mut rng = Rng::from_env("fuzz");
    // A page that is certainly not mapped: mapped, then unmapped.
    // SAFETY: an anonymous mapping, unmapped at once; only its address is kept.
    let unmapped = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        libc::munmap(p, 4096);
        p.cast::<u8>()
    };
    let device = vpoll_tests::device::Device::open().unwrap();
    let mut targets = vec![Target {
        fd: nix::unistd::dup(&device).unwrap(),
        ioctls: true,
        mask: 0,
    }];
    if vpoll_tests::kernel::has_efd_vpoll() {
        // SAFETY: eventfd takes two integers.
        let fd = unsafe { libc::eventfd(0, EFD_VPOLL | libc::EFD_CLOEXEC) };
        assert!(fd >= 0, "eventfd(EFD_VPOLL)");
        targets.push(Target {
            // SAFETY: a new eventfd nobody else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            ioctls: false,
            mask: 0,
        });
    }
    for t in &mut targets {
        fuzz(t, &mut rng, ops, unmapped);
    }
    println!(
        "fuzz: {} operations, every answer as documented",
        ops * targets.len() as u64
    );
}
