// SPDX-License-Identifier: MIT OR Apache-2.0

//! `VPOLL_IO_BATCH`: many vpoll fds changed in one call, each entry exactly
//! as its own ioctl, a bad entry failing alone and touching nothing, a bad
//! call applying nothing (kmod/batch.rs has the rules), the same wakeups,
//! and files closed under it by another thread.

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use vpoll::abi::ctl::{ADDEVENTS as ADD, DELEVENTS as DEL, SETEVENTS as SET};
use vpoll::abi::events::{HUP, IN, OUT, PRI};
use vpoll::abi::{BatchEntry, BatchHeader, EPOLLALLMASK, VPOLL_BATCH_MAX};
use vpoll_tests::device::{entry, Device};

fn results(entries: &[BatchEntry]) -> Vec<i32> {
    entries.iter().map(|e| e.result).collect()
}

fn header(entries: *mut BatchEntry, count: usize) -> BatchHeader {
    BatchHeader {
        entries: entries as u64,
        count: count as u32,
        flags: 0,
    }
}

#[test]
fn each_entry_acts_as_its_own_ioctl() {
    let (a, b, c) = (
        Device::open().unwrap(),
        Device::open().unwrap(),
        Device::open().unwrap(),
    );
    c.set(OUT);
    let mut e = [
        entry(&a, ADD, IN | PRI),
        entry(&b, SET, OUT | HUP),
        entry(&c, DEL, OUT),
        entry(&a, ADD, u32::MAX),
        entry(&a, DEL, PRI),
    ];
    // Through a fd that is in the batch, and through one that is not.
    assert_eq!(a.batch(&mut e), Ok(5));
    let all = EPOLLALLMASK as i32;
    let want = [
        (IN | PRI) as i32,
        (OUT | HUP) as i32,
        0,
        all,
        all & !(PRI as i32),
    ];
    assert_eq!(results(&e), want);
    assert_eq!(
        (a.mask(), b.mask(), c.mask()),
        (EPOLLALLMASK & !PRI, OUT | HUP, 0)
    );

    let via = Device::open().unwrap();
    let mut e = [entry(&a, SET, 0), entry(&b, DEL, HUP)];
    assert_eq!(via.batch(&mut e), Ok(2));
    assert_eq!(results(&e), [0, OUT as i32]);
    assert_eq!((a.mask(), b.mask(), via.mask()), (0, OUT, 0));
}

#[test]
fn the_same_fd_twice_applies_in_order() {
    let a = Device::open().unwrap();
    let mut e = [
        entry(&a, ADD, IN),
        entry(&a, ADD, OUT),
        entry(&a, DEL, IN),
        entry(&a, SET, 0),
        entry(&a, ADD, HUP),
    ];
    assert_eq!(a.batch(&mut e), Ok(5));
    assert_eq!(results(&e), [IN, IN | OUT, OUT, 0, HUP].map(|m| m as i32));
}

#[test]
fn a_bad_entry_fails_alone_and_touches_nothing() {
    let a = Device::open().unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let efd = EventFd::from_value_and_flags(0, EfdFlags::EFD_NONBLOCK).unwrap();
    // Closed last, so that nothing opened since took its number.
    let closed = Device::open().unwrap().as_raw_fd();
    let mut e = [
        entry(&-1, ADD, IN),
        entry(&closed, ADD, IN),
        entry(&null, ADD, IN),
        entry(&efd.as_fd(), ADD, IN),
        entry(&a, 0, IN),
        entry(&a, 4, IN),
        entry(&a, ADD, OUT),
    ];
    assert_eq!(a.batch(&mut e), Ok(7));
    let (ebadf, einval) = (-libc::EBADF, -libc::EINVAL);
    assert_eq!(
        results(&e),
        [ebadf, ebadf, einval, einval, einval, einval, OUT as i32]
    );
    assert_eq!(a.mask(), OUT);
    // The eventfd's counter was not written.
    assert_eq!(efd.read(), Err(Errno::EAGAIN));
}

#[test]
fn a_bad_call_applies_nothing() {
    let a = Device::open().unwrap();
    let mut e = [entry(&a, ADD, IN)];
    let bad_flags = BatchHeader {
        flags: 1,
        ..header(e.as_mut_ptr(), 1)
    };
    // SAFETY: valid memory throughout.
    assert_eq!(unsafe { a.batch_raw(&bad_flags) }, Err(Errno::EINVAL));

    let mut many = vec![entry(&a, ADD, IN); VPOLL_BATCH_MAX + 1];
    assert_eq!(a.batch(&mut many), Err(Errno::E2BIG));
    assert_eq!(
        a.batch(&mut many[..VPOLL_BATCH_MAX]),
        Ok(VPOLL_BATCH_MAX as u32)
    );
    a.set(0);

    // No entries: nothing is read, even through a null pointer.
    // SAFETY: a header of valid memory; count 0 reads no entries.
    let ret = unsafe { a.batch_raw(&header(std::ptr::null_mut(), 0)) };
    assert_eq!(ret, Ok(0));
    // SAFETY: unmapped addresses: the kernel answers EFAULT.
    unsafe {
        assert_eq!(a.batch_raw(std::ptr::null()), Err(Errno::EFAULT));
        assert_eq!(
            a.batch_raw(&header(std::ptr::null_mut(), 1)),
            Err(Errno::EFAULT)
        );
        assert_eq!(
            a.batch_raw(&header(usize::MAX as *mut _, 1)),
            Err(Errno::EFAULT)
        );
    }

    // Entries that run into an unmapped page: the first is valid, the
    // second crosses the boundary; nothing at all is applied.
    let page = page_size();
    let map = Mapping::new(2 * page);
    map.unmap_second_page();
    let start = map.addr + page - 24; // the second entry starts 8 bytes before the end
    let first = start as *mut BatchEntry;
    // SAFETY: `first` lies wholly in the first, mapped page (unaligned).
    unsafe { first.write_unaligned(entry(&a, ADD, IN)) };
    // SAFETY: the kernel reads the second entry into the unmapped page: EFAULT.
    let ret = unsafe { a.batch_raw(&header(first, 2)) };
    assert_eq!(ret, Err(Errno::EFAULT));
    assert_eq!(a.mask(), 0, "an entry was applied although the call failed");

    // An unaligned array works like any other.
    // SAFETY: the same single entry, now alone, in mapped memory.
    assert_eq!(unsafe { a.batch_raw(&header(first, 1)) }, Ok(1));
    // SAFETY: mapped memory, written by the kernel.
    assert_eq!(unsafe { first.read_unaligned() }.result, IN as i32);

    // Results that cannot be written back: every entry was applied anyway,
    // as documented, and the call says EFAULT.
    let ro = Mapping::new(page);
    let entries = ro.addr as *mut BatchEntry;
    // SAFETY: the page is mapped and writable until the mprotect below.
    unsafe {
        entries.write(entry(&a, ADD, OUT));
        assert_eq!(libc::mprotect(ro.addr as *mut _, page, libc::PROT_READ), 0);
        assert_eq!(a.batch_raw(&header(entries, 1)), Err(Errno::EFAULT));
    }
    assert_eq!(a.mask(), IN | OUT);
}

#[test]
fn wakeups_are_those_of_the_single_ioctls() {
    let fds = [(); 3].map(|_| Device::open().unwrap());
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
    for (i, d) in fds.iter().enumerate() {
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLOUT | EpollFlags::EPOLLET;
        ep.add(d.as_fd(), EpollEvent::new(flags, i as u64)).unwrap();
    }
    let woken = || vpoll_testkit::epoll::ready_now(&ep);
    let [a, b, c] = &fds;
    let mut e = [entry(a, ADD, IN), entry(b, ADD, IN)];
    assert_eq!(c.batch(&mut e), Ok(2));
    assert_eq!(woken(), [0, 1]);
    // A re-ADD is a new edge, as its own ioctl is.
    assert_eq!(c.batch(&mut e), Ok(2));
    assert_eq!(woken(), [0, 1]);
    // DEL never wakes.
    let mut e = [entry(a, DEL, IN), entry(b, DEL, IN), entry(c, DEL, IN)];
    assert_eq!(c.batch(&mut e), Ok(3));
    assert_eq!(woken(), Vec::<u64>::new());
    let mut e = [entry(c, SET, OUT)];
    assert_eq!(a.batch(&mut e), Ok(1));
    assert_eq!(woken(), [2]);
}

/// Another thread closes the batch's files and opens others at their
/// numbers (vpoll fds and /dev/null) all the while: every entry answers a
/// mask, EBADF or EINVAL, and the kernel reports nothing (the verdict reads
/// the console; KASAN and lockdep watch on the debug kernel).
#[test]
fn files_closed_and_reopened_under_a_batch() {
    const SLOTS: usize = 16;
    let via = Device::open().unwrap();
    let numbers: Arc<Vec<AtomicI32>> = Arc::new((0..SLOTS).map(|_| AtomicI32::new(-1)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (numbers, stop) = (numbers.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let held: Vec<Box<dyn AsRawFd>> = (0..SLOTS)
                    .map(|i| -> Box<dyn AsRawFd> {
                        if (i as u64 + round) % 3 == 0 {
                            Box::new(std::fs::File::open("/dev/null").unwrap())
                        } else {
                            Box::new(Device::open().unwrap())
                        }
                    })
                    .collect();
                for (slot, fd) in numbers.iter().zip(&held) {
                    slot.store(fd.as_raw_fd(), Ordering::Relaxed);
                }
                drop(held);
                round += 1;
            }
            round
        })
    };
    let (mut masks, mut ebadf, mut einval) = (0u64, 0u64, 0u64);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        let mut e: Vec<BatchEntry> = numbers
            .iter()
            .map(|n| entry(&n.load(Ordering::Relaxed), ADD, IN))
            .collect();
        assert_eq!(via.batch(&mut e), Ok(SLOTS as u32));
        for r in results(&e) {
            match r {
                r if r >= 0 => masks += 1,
                r if r == -libc::EBADF => ebadf += 1,
                r if r == -libc::EINVAL => einval += 1,
                r => panic!("an entry answered {r}"),
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = churn.join().unwrap();
    println!(
        "batch under churn: {rounds} rounds of closes; entries answered {masks} masks, {ebadf} EBADF, {einval} EINVAL"
    );
    assert!(masks > 0, "no entry ever found a vpoll fd open");
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory arguments.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// Anonymous memory, unmapped on drop.
struct Mapping {
    addr: usize,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> Self {
        // SAFETY: a fresh anonymous mapping; no existing memory is touched.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(addr, libc::MAP_FAILED);
        Mapping {
            addr: addr as usize,
            len,
        }
    }

    fn unmap_second_page(&self) {
        let page = page_size();
        // SAFETY: the second page of our own mapping; nothing refers to it.
        let ret = unsafe { libc::munmap((self.addr + page) as *mut _, page) };
        assert_eq!(ret, 0);
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: our mapping (munmap of an already unmapped part is fine).
        unsafe { libc::munmap(self.addr as *mut _, self.len) };
    }
}

/// The kernel writes each entry's `result` and nothing else: an entry whose
/// `fd`, `op` and `events` sit on a read-only page and whose `result` is on
/// the next, writable one is applied and answered (writing the whole entry
/// back, as the module once did, faulted: EFAULT).
#[test]
fn only_each_entrys_result_is_written_back() {
    use nix::sys::mman::{mmap_anonymous, mprotect, MapFlags, ProtFlags};
    let a = Device::open().unwrap();
    let page = 4096;
    let len = std::num::NonZeroUsize::new(2 * page).unwrap();
    // SAFETY: a fresh private mapping, ours alone until unmapped.
    let map = unsafe {
        mmap_anonymous(
            None,
            len,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_PRIVATE,
        )
    }
    .unwrap();
    let base = map.as_ptr() as *mut u8;
    // The entry straddles the pages: 12 bytes before the boundary, `result`
    // after it.
    // SAFETY: within the mapping; BatchEntry is plain data, written unaligned.
    let at = unsafe { base.add(page - 12) } as *mut BatchEntry;
    let want = entry(&a, ADD, IN | PRI);
    // SAFETY: as above.
    unsafe { at.write_unaligned(BatchEntry { result: -1, ..want }) };
    // SAFETY: the first page of the mapping.
    unsafe { mprotect(map, page, ProtFlags::PROT_READ) }.unwrap();
    let h = header(at, 1);
    // SAFETY: the header is ours; the entry is readable, its result writable.
    assert_eq!(unsafe { a.batch_raw(&h) }, Ok(1));
    // SAFETY: as above.
    let got = unsafe { at.read_unaligned() };
    assert_eq!(got.result, (IN | PRI) as i32);
    assert_eq!(
        (got.fd, got.op, got.events),
        (want.fd, want.op, want.events)
    );
    assert_eq!(a.mask(), IN | PRI);
    // SAFETY: the mapping made above, unused from here on.
    unsafe { nix::sys::mman::munmap(map, 2 * page) }.unwrap();
}
