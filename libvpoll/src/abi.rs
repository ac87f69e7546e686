// SPDX-License-Identifier: MIT OR Apache-2.0

//! The numbers user space and the kernel agree on: `/dev/vpoll`'s ioctls, the
//! `EFD_VPOLL` eventfd protocol, and the event bits (x86_64 Linux values,
//! where `EPOLL*` equals `POLL*`). [`Vpoll`](crate::Vpoll) speaks these for
//! you; they are here for code that talks to the kernel directly:
//!
//! ```no_run
//! use std::os::fd::AsRawFd;
//! use vpoll::abi::{events, VPOLL_IO_ADDEVENTS};
//! let dev = std::fs::OpenOptions::new().read(true).write(true).open("/dev/vpoll")?;
//! // The argument is the mask itself; the result is the new mask.
//! let mask = unsafe { libc::ioctl(dev.as_raw_fd(), VPOLL_IO_ADDEVENTS as _, events::IN as libc::c_ulong) };
//! assert_eq!(mask as u32, events::IN);
//! # Ok::<(), std::io::Error>(())
//! ```

/// Every bit a pending mask may hold. Bits 28..=31 are epoll input flags
/// (`EPOLLEXCLUSIVE`, `EPOLLWAKEUP`, `EPOLLONESHOT`, `EPOLLET`), never events.
pub const EPOLLALLMASK: u32 = 0x0fff_ffff;

/// The ioctl type byte of `/dev/vpoll`, `'^'`.
pub const VPOLL_IOC_MAGIC: u8 = b'^';
/// `_IO('^', 1)`: add events; the argument is the mask itself; returns the new mask.
pub const VPOLL_IO_ADDEVENTS: u32 = io(1);
/// `_IO('^', 2)`: delete events; returns the new mask.
pub const VPOLL_IO_DELEVENTS: u32 = io(2);
/// `_IO('^', 3)`: set the mask; returns it.
pub const VPOLL_IO_SETEVENTS: u32 = io(3);

/// `_IOWR('^', 4, struct vpoll_batch)`: many changes to many `/dev/vpoll`
/// fds of the caller in one call (this project's module only; the C module
/// answers `EINVAL`). The argument points at a [`BatchHeader`]; each
/// [`BatchEntry`] gets its result; returns the number of entries.
pub const VPOLL_IO_BATCH: u32 = (3 << 30) | ((size_of::<BatchHeader>() as u32) << 16) | io(4);
/// The most entries one [`VPOLL_IO_BATCH`] takes (`E2BIG` beyond).
pub const VPOLL_BATCH_MAX: usize = 1024;

/// `struct vpoll_batch`, the argument of [`VPOLL_IO_BATCH`]: the same layout
/// for 32- and 64-bit callers.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchHeader {
    /// The address of the first of `count` [`BatchEntry`]s.
    pub entries: u64,
    /// How many entries, at most [`VPOLL_BATCH_MAX`].
    pub count: u32,
    /// None defined: 0.
    pub flags: u32,
}

/// `struct vpoll_batch_entry`: one change of a [`VPOLL_IO_BATCH`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchEntry {
    /// A `/dev/vpoll` fd of the calling process.
    pub fd: i32,
    /// 1 add, 2 delete, 3 set (the [`ctl`] numbers).
    pub op: u32,
    /// The events.
    pub events: u32,
    /// Set by the kernel: the fd's new mask, or a negative errno (`-EBADF`:
    /// no file at `fd`; `-EINVAL`: not a `/dev/vpoll` file, which is left
    /// untouched, or an unknown `op`).
    pub result: i32,
}

/// `_IO(VPOLL_IOC_MAGIC, nr)`: direction none, size 0.
const fn io(nr: u8) -> u32 {
    ((VPOLL_IOC_MAGIC as u32) << 8) | nr as u32
}

/// `eventfd(2)` flag that makes the eventfd a vpoll fd, on a patched kernel.
pub const EFD_VPOLL: i32 = 1 << 1;
/// High half of an 8-byte `write`: add the events in the low half.
pub const EFD_VPOLL_ADDEVENTS: u64 = 1 << 32;
/// High half of an 8-byte `write`: delete the events in the low half.
pub const EFD_VPOLL_DELEVENTS: u64 = 2 << 32;
/// High half of an 8-byte `write`: set the mask to the low half.
pub const EFD_VPOLL_MODEVENTS: u64 = 3 << 32;

/// The misc device the vpoll module makes.
pub const DEVICE_PATH: &str = "/dev/vpoll";
/// The module's directory in sysfs, present while it is loaded.
pub const MODULE_SYSFS: &str = "/sys/module/vpoll";

/// The `/proc/<pid>/fdinfo/<fd>` key under which `/dev/vpoll` shows its mask.
pub const FDINFO_KEY: &str = "vpoll-events:";
/// The fdinfo key under which the patched eventfd says whether it is a vpoll
/// fd (`1`) or a counter (`0`); its mask is [`FDINFO_EVENTFD_COUNT`].
pub const FDINFO_EVENTFD_VPOLL: &str = "eventfd-vpoll:";
/// The fdinfo key of an eventfd's counter, in hexadecimal.
pub const FDINFO_EVENTFD_COUNT: &str = "eventfd-count:";

/// The C library's `vpoll_ctl` operations (`vpoll.h`).
pub mod ctl {
    /// `VPOLL_CTL_ADDEVENTS`: the events are added to the pending ones.
    pub const ADDEVENTS: i32 = 1;
    /// `VPOLL_CTL_DELEVENTS`: the events are cleared.
    pub const DELEVENTS: i32 = 2;
    /// `VPOLL_CTL_SETEVENTS`: the events become exactly the pending ones.
    pub const SETEVENTS: i32 = 3;
}

/// Event bits, as in `<poll.h>` and `<sys/epoll.h>`; [`Events`](crate::Events) names the same.
pub mod events {
    /// `POLLIN`.
    pub const IN: u32 = 0x001;
    /// `POLLPRI`.
    pub const PRI: u32 = 0x002;
    /// `POLLOUT`.
    pub const OUT: u32 = 0x004;
    /// `POLLERR`.
    pub const ERR: u32 = 0x008;
    /// `POLLHUP`.
    pub const HUP: u32 = 0x010;
    /// `POLLNVAL`.
    pub const NVAL: u32 = 0x020;
    /// `POLLRDNORM`.
    pub const RDNORM: u32 = 0x040;
    /// `POLLRDBAND`.
    pub const RDBAND: u32 = 0x080;
    /// `POLLWRNORM`.
    pub const WRNORM: u32 = 0x100;
    /// `POLLWRBAND`.
    pub const WRBAND: u32 = 0x200;
    /// `POLLMSG`.
    pub const MSG: u32 = 0x400;
    /// `POLLRDHUP`.
    pub const RDHUP: u32 = 0x2000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_c_module() {
        assert_eq!(VPOLL_IO_ADDEVENTS, 0x5e01);
        assert_eq!(VPOLL_IO_DELEVENTS, 0x5e02);
        assert_eq!(VPOLL_IO_SETEVENTS, 0x5e03);
        // _IOWR('^', 4, 16 bytes), as the module's `kernel::ioctl::_IOWR`.
        assert_eq!(VPOLL_IO_BATCH, 0xc010_5e04);
        assert_eq!(size_of::<BatchEntry>(), 16);
    }

    #[test]
    fn event_bits_match_libc() {
        use events::*;
        let pairs = [
            (IN, libc::EPOLLIN),
            (PRI, libc::EPOLLPRI),
            (OUT, libc::EPOLLOUT),
            (ERR, libc::EPOLLERR),
            (HUP, libc::EPOLLHUP),
            (RDNORM, libc::EPOLLRDNORM),
            (RDBAND, libc::EPOLLRDBAND),
            (WRNORM, libc::EPOLLWRNORM),
            (WRBAND, libc::EPOLLWRBAND),
            (MSG, libc::EPOLLMSG),
            (RDHUP, libc::EPOLLRDHUP),
        ];
        for (ours, theirs) in pairs {
            assert_eq!(ours, theirs as u32);
        }
        assert_eq!(NVAL, libc::POLLNVAL as u32);
        assert_eq!(EPOLLALLMASK & libc::EPOLLET as u32, 0);
        assert_eq!(EPOLLALLMASK & libc::EPOLLEXCLUSIVE as u32, 0);
    }
}
