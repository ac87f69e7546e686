// SPDX-License-Identifier: GPL-2.0

//! The user-space ABI of `/dev/vpoll`: the C vpoll module's ioctls and the
//! `EFD_VPOLL` eventfd write protocol, with the same numbers.

/// Every bit a pending mask may hold; the bits above are epoll input flags
/// (`EPOLLEXCLUSIVE`, `EPOLLWAKEUP`, `EPOLLONESHOT`, `EPOLLET`).
pub(crate) const EPOLLALLMASK: u32 = 0x0fff_ffff;

/// `EPOLLPRI`: urgent data. A wakeup that asserts it carries no key (see
/// `object.rs`): io_uring would not match it.
pub(crate) const EPOLLPRI: u32 = 0x002;

/// Bits of a mask that never travel in a wakeup key, because the kernel uses
/// them there as signals rather than events: `POLLFREE` (0x4000) tells epoll,
/// io_uring and aio that the wait queue is going away, so they detach and miss
/// every later wakeup; `EPOLL_URING_WAKE` (bit 27) makes io_uring treat the
/// wakeup as its own and turns a multishot poll into a one-shot. They stay
/// valid in the mask itself, as in the C module.
pub(crate) const WAKE_KEY_RESERVED: u32 = 0x4000 | (1 << 27);

/// The ioctl type byte of the C module, `'^'`.
const VPOLL_IOC_MAGIC: u32 = b'^' as u32;

/// `_IO('^', 1)`: pending |= arg.
pub(crate) const VPOLL_IO_ADDEVENTS: u32 = kernel::ioctl::_IO(VPOLL_IOC_MAGIC, 1);
/// `_IO('^', 2)`: pending &= !arg.
pub(crate) const VPOLL_IO_DELEVENTS: u32 = kernel::ioctl::_IO(VPOLL_IOC_MAGIC, 2);
/// `_IO('^', 3)`: pending = arg.
pub(crate) const VPOLL_IO_SETEVENTS: u32 = kernel::ioctl::_IO(VPOLL_IOC_MAGIC, 3);

/// In an 8-byte `write`, the high 32 bits select the operation, as with
/// `eventfd(…, EFD_VPOLL)`.
pub(crate) const EFD_VPOLL_OP_SHIFT: u32 = 32;
/// `EFD_VPOLL_ADDEVENTS >> 32`.
pub(crate) const EFD_VPOLL_ADDEVENTS: u64 = 1;
/// `EFD_VPOLL_DELEVENTS >> 32`.
pub(crate) const EFD_VPOLL_DELEVENTS: u64 = 2;
/// `EFD_VPOLL_MODEVENTS >> 32`.
pub(crate) const EFD_VPOLL_MODEVENTS: u64 = 3;

/// The size of one `read` or `write` unit: a native-endian `u64`.
pub(crate) const RECORD_SIZE: usize = core::mem::size_of::<u64>();

/// `struct vpoll_batch`, the argument of [`VPOLL_IO_BATCH`]: where the
/// entries are, how many, and flags (none defined: must be 0). Its layout is
/// the same for 32- and 64-bit callers.
#[repr(C)]
pub(crate) struct VpollBatch {
    /// A user pointer to `count` [`BATCH_ENTRY_SIZE`]-byte entries.
    pub(crate) entries: u64,
    pub(crate) count: u32,
    pub(crate) flags: u32,
}

// SAFETY: Plain integers with no padding (8 + 4 + 4 bytes, `repr(C)`): any
// bytes are a valid value.
unsafe impl kernel::transmute::FromBytes for VpollBatch {}

/// `_IOWR('^', 4, struct vpoll_batch)`: apply many entries, each
/// `{ __s32 fd; __u32 op; __u32 events; __s32 result; }` with `op` one of
/// the `EFD_VPOLL_*` numbers (1 add, 2 delete, 3 set); returns `count`.
pub(crate) const VPOLL_IO_BATCH: u32 = kernel::ioctl::_IOWR::<VpollBatch>(VPOLL_IOC_MAGIC, 4);
/// The size of one `struct vpoll_batch_entry`.
pub(crate) const BATCH_ENTRY_SIZE: usize = 16;
/// The most entries one [`VPOLL_IO_BATCH`] takes (`E2BIG` beyond): 16 KiB
/// of entries, copied in whole before any is applied.
pub(crate) const VPOLL_BATCH_MAX: u32 = 1024;
