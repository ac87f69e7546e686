// SPDX-License-Identifier: MIT OR Apache-2.0

//! The `EFD_VPOLL` eventfd of the test kernel's patch (qemu/patches): the
//! published ABI, the wakeup rules it shares with `/dev/vpoll`, and plain
//! eventfds left as they were.

use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use vpoll::abi::{events::*, *};

fn eventfd(initval: u32, flags: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: eventfd takes two integers.
    let fd = Errno::result(unsafe { libc::eventfd(initval, flags) })?;
    // SAFETY: a new fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn mask(fd: &OwnedFd) -> u64 {
    let mut buf = [0u8; 8];
    assert_eq!(nix::unistd::read(fd, &mut buf), Ok(8));
    u64::from_ne_bytes(buf)
}

fn command(fd: &OwnedFd, cmd: u64) -> Result<usize, Errno> {
    nix::unistd::write(fd, &cmd.to_ne_bytes())
}

fn epoll_et(fd: RawFd, interest: u32) -> nix::sys::epoll::Epoll {
    use nix::sys::epoll::*;
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
    // SAFETY: fd outlives the epoll set in every test.
    let bfd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    ep.add(
        bfd,
        EpollEvent::new(
            EpollFlags::from_bits_retain((interest | libc::EPOLLET as u32) as i32),
            0,
        ),
    )
    .unwrap();
    ep
}

fn ready(ep: &nix::sys::epoll::Epoll) -> u32 {
    let mut out = [nix::sys::epoll::EpollEvent::empty()];
    match ep.wait(&mut out, 0u16).unwrap() {
        0 => 0,
        _ => out[0].events().bits() as u32,
    }
}

#[test]
fn efd_vpoll_combines_only_with_cloexec_and_nonblock() {
    assert!(eventfd(0, EFD_VPOLL).is_ok());
    assert!(eventfd(0, EFD_VPOLL | libc::EFD_CLOEXEC | libc::EFD_NONBLOCK).is_ok());
    assert_eq!(
        eventfd(0, EFD_VPOLL | libc::EFD_SEMAPHORE).err(),
        Some(Errno::EINVAL)
    );
    assert_eq!(
        eventfd(0, 1 << 3).err(),
        Some(Errno::EINVAL),
        "unknown flags stay refused"
    );
}

#[test]
fn the_initial_value_is_the_initial_mask_within_epollallmask() {
    assert_eq!(
        mask(&eventfd(IN | HUP, EFD_VPOLL).unwrap()),
        u64::from(IN | HUP)
    );
    assert_eq!(
        mask(&eventfd(u32::MAX, EFD_VPOLL).unwrap()),
        u64::from(EPOLLALLMASK)
    );
}

#[test]
fn write_ops_and_read() {
    let fd = eventfd(0, EFD_VPOLL).unwrap();
    assert_eq!(
        command(&fd, EFD_VPOLL_ADDEVENTS | u64::from(IN | OUT)),
        Ok(8)
    );
    assert_eq!(command(&fd, EFD_VPOLL_DELEVENTS | u64::from(IN)), Ok(8));
    assert_eq!(mask(&fd), u64::from(OUT));
    assert_eq!(command(&fd, EFD_VPOLL_MODEVENTS | 0xffff_ffff), Ok(8));
    assert_eq!(mask(&fd), u64::from(EPOLLALLMASK));
    for bad in [0, 4 << 32, u64::MAX] {
        assert_eq!(command(&fd, bad), Err(Errno::EINVAL), "{bad:#x}");
    }
    assert_eq!(nix::unistd::write(&fd, &[0u8; 7]), Err(Errno::EINVAL));
    assert_eq!(nix::unistd::read(&fd, &mut [0u8; 7]), Err(Errno::EINVAL));
    assert_eq!(
        nix::unistd::read(&fd, &mut [0u8; 16]),
        Ok(8),
        "read never blocks"
    );
}

#[test]
fn poll_reports_the_mask_and_fdinfo_shows_it() {
    let fd = eventfd(PRI | RDHUP, EFD_VPOLL).unwrap();
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: (PRI | RDHUP) as i16,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    assert_eq!(unsafe { libc::poll(&mut p, 1, 0) }, 1);
    assert_eq!(p.revents as u16 as u32, PRI | RDHUP);
    let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    assert!(
        fdinfo.contains(&format!("eventfd-count: {:16x}", PRI | RDHUP)),
        "{fdinfo}"
    );
    assert!(fdinfo.contains("eventfd-vpoll: 1"), "{fdinfo}");
}

#[test]
fn wakeups_follow_the_devices_rules() {
    let fd = eventfd(0, EFD_VPOLL).unwrap();
    let ep = epoll_et(fd.as_raw_fd(), IN);
    command(&fd, EFD_VPOLL_ADDEVENTS | u64::from(IN)).unwrap();
    assert_eq!(ready(&ep), IN);
    command(&fd, EFD_VPOLL_ADDEVENTS | u64::from(IN)).unwrap();
    assert_eq!(ready(&ep), IN, "a re-ADD is a new edge");
    command(&fd, EFD_VPOLL_ADDEVENTS | u64::from(OUT)).unwrap();
    assert_eq!(ready(&ep), 0, "keyed: not woken for OUT");
    command(&fd, EFD_VPOLL_ADDEVENTS | u64::from(PRI)).unwrap();
    assert_eq!(
        ready(&ep),
        IN,
        "PRI wakes with no key (for io_uring): IN again"
    );
    command(&fd, EFD_VPOLL_DELEVENTS | u64::from(PRI | OUT)).unwrap();
    assert_eq!(ready(&ep), 0, "DEL never wakes");
    command(&fd, EFD_VPOLL_ADDEVENTS | 0x4000 | u64::from(IN)).unwrap();
    assert_eq!(ready(&ep), IN);
    command(&fd, EFD_VPOLL_ADDEVENTS | u64::from(IN)).unwrap();
    assert_eq!(ready(&ep), IN, "POLLFREE in the mask did not detach epoll");
}

#[test]
fn plain_eventfds_still_count() {
    let fd = eventfd(2, 0).unwrap();
    assert_eq!(nix::unistd::write(&fd, &3u64.to_ne_bytes()), Ok(8));
    assert_eq!(mask(&fd), 5, "a counter, read and reset");
    let fdinfo = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    assert!(fdinfo.contains("eventfd-vpoll: 0"), "{fdinfo}");
}

/// `Vpoll::apply_to` proves an eventfd by its fdinfo and then writes a
/// command to it: both through one private duplicate. Another thread that
/// keeps swapping the number between the vpoll eventfd and a memfd (with
/// `dup2`, atomically) never gets a command written into the memfd (proving
/// by number and writing by number once let 8-byte writes land there).
#[test]
fn apply_to_never_writes_into_a_file_that_took_the_number() {
    use std::os::fd::BorrowedFd;
    use std::sync::atomic::{AtomicBool, Ordering};
    let vpoll = eventfd(0, EFD_VPOLL | libc::EFD_CLOEXEC).unwrap();
    // SAFETY: memfd_create takes a string and flags.
    let memfd = unsafe { libc::memfd_create(c"victim".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(memfd >= 0);
    // SAFETY: a new fd that nobody else owns.
    let memfd = unsafe { OwnedFd::from_raw_fd(memfd) };
    // The contested number, a vpoll eventfd to start with.
    let contested = vpoll.try_clone().unwrap();
    let number = contested.as_raw_fd();
    let done = AtomicBool::new(false);
    let (mut applied, mut refused) = (0u32, 0u32);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u32;
            while !done.load(Ordering::Acquire) {
                let from = if i % 2 == 0 { &memfd } else { &vpoll };
                // SAFETY: dup2 onto a number this test owns (`contested`).
                assert!(unsafe { libc::dup2(from.as_raw_fd(), number) } >= 0);
                i = i.wrapping_add(1);
            }
        });
        for _ in 0..5_000 {
            // SAFETY: `contested` keeps the number open for the whole loop.
            let fd = unsafe { BorrowedFd::borrow_raw(number) };
            match vpoll::Vpoll::apply_to(fd, vpoll::Op::Add, vpoll::Events::IN) {
                Ok(_) => applied += 1,
                Err(_) => refused += 1,
            }
        }
        done.store(true, Ordering::Release);
    });
    drop(contested);
    let size = nix::sys::stat::fstat(&memfd).unwrap().st_size;
    eprintln!("{applied} applied, {refused} refused");
    assert_eq!(size, 0, "commands written into the memfd");
    assert!(
        applied > 0 && refused > 0,
        "the race was run: {applied} applied, {refused} refused"
    );
}
