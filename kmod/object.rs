// SPDX-License-Identifier: GPL-2.0

//! One vpoll object: the pending event mask of one open `/dev/vpoll` file.
//!
//! # Wakeups
//!
//! - An operation that *asserts* events wakes the waiters interested in them:
//!   ADD with a non-empty argument, SET to a non-empty mask. A re-ADD of an
//!   event already pending wakes again, so edge-triggered epoll sees a new edge,
//!   as with an eventfd write.
//! - The wakeup's poll key is the asserted events (the ADD argument, the whole
//!   SET mask), not the resulting mask: epoll skips items that asked for none of
//!   them, and a key of exactly `IN` or `OUT` wakes one `EPOLLEXCLUSIVE` waiter.
//!   The bits in [`WAKE_KEY_RESERVED`] are left out of the key; if nothing is
//!   left, the key is 0 ("anything may have changed") and every waiter re-polls.
//! - A wakeup that asserts `PRI` has key 0 too: io_uring leaves `EPOLLPRI`
//!   out when it matches a key against a poll request (`io_poll_wake`,
//!   `IO_ASYNC_POLL_COMMON`), so a `POLL_ADD` for `PRI` would never complete.
//!   The price, paid only when `PRI` is raised: every waiter on the fd
//!   re-polls, and an edge-triggered epoll waiter whose events are pending
//!   sees them again.
//! - DEL never wakes: no waiter can be satisfied by events going away.
//! - Each change is one atomic read-modify-write of the mask, and its wakeup
//!   follows it: a waiter is either on the queue by then and woken, or joins
//!   it later and sees the change when it polls (`wq_has_sleeper()`'s
//!   barriers, in [`PollWaitQueue`]). No lock is taken unless someone waits,
//!   and DEL never takes one. With changes racing from several threads, a
//!   waiter may be woken for events that another thread has cleared since; it
//!   re-polls, as with any fd.

use core::sync::atomic::{
    AtomicU32,
    Ordering, //
};
use kernel::{
    fs::File,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    static_lock_class, //
};

use crate::{
    abi::*,
    batch,
    op::Op,
    poll_misc::{
        OwnFiles,
        PollDevice, //
    },
    wait_queue::{
        PollTable,
        PollWaitQueue, //
    },
};

/// The state behind one open `/dev/vpoll` file.
#[pin_data]
pub(crate) struct Vpoll {
    #[pin]
    queue: PollWaitQueue,
    /// The pending events, within [`EPOLLALLMASK`]. Changed by atomic
    /// read-modify-writes; `poll` reads it after registering on `queue`.
    events: AtomicU32,
}

impl Vpoll {
    /// The pending events.
    fn events(&self) -> u32 {
        self.events.load(Ordering::Relaxed)
    }

    /// Applies `op` with `arg` and returns the resulting mask.
    #[inline]
    pub(crate) fn apply(&self, op: Op, arg: u32) -> u32 {
        let arg = arg & EPOLLALLMASK;
        let (new, asserted) = match op {
            Op::Add => (self.events.fetch_or(arg, Ordering::Relaxed) | arg, arg),
            Op::Del => (self.events.fetch_and(!arg, Ordering::Relaxed) & !arg, 0),
            // A swap, not a store: every change is a read-modify-write,
            // which `wake_up` may rely on for its barrier.
            Op::Set => {
                self.events.swap(arg, Ordering::Relaxed);
                (arg, arg)
            }
        };
        if asserted != 0 {
            // Orders itself after the change (see `PollWaitQueue::wake_up`).
            self.queue.wake_up(|| wake_key(asserted));
        }
        new
    }
}

/// `VPOLL_IO_BATCH`, out of line: the single-file ioctls, by far the most
/// frequent, then pay nothing for it (no stack frame, no spilled arguments).
#[cold]
#[inline(never)]
fn batch_ioctl(files: OwnFiles<Vpoll>, arg: usize) -> Result<isize> {
    batch::batch(&files, arg, |vpoll, op, events| vpoll.apply(op, events))
}

/// The poll key of a wakeup for the `asserted` events (see the module doc).
#[inline]
fn wake_key(asserted: u32) -> u32 {
    if asserted & EPOLLPRI != 0 {
        0
    } else {
        asserted & !WAKE_KEY_RESERVED
    }
}

impl PollDevice for Vpoll {
    fn open(_file: &File) -> Result<Pin<KBox<Self>>> {
        // Charged to the opener's memory cgroup: user space decides how many exist.
        KBox::pin_init(
            pin_init!(Self {
                queue <- PollWaitQueue::new(c"vpoll", static_lock_class!()),
                events: AtomicU32::new(0),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// The C module's ioctls, whose argument is the mask itself, an integer,
    /// so 32-bit callers need no translation; and ours, [`VPOLL_IO_BATCH`],
    /// whose structures are laid out alike for both. Unknown commands give
    /// `ENOTTY`, the kernel's convention (the C module answers `EINVAL`).
    #[inline]
    fn ioctl(self: Pin<&Self>, files: OwnFiles<Self>, cmd: u32, arg: usize) -> Result<isize> {
        if cmd == VPOLL_IO_BATCH {
            return batch_ioctl(files, arg);
        }
        let op = Op::from_ioctl(cmd).ok_or(ENOTTY)?;
        // Bits above 31 cannot be events; the mask below drops the rest.
        Ok(self.apply(op, arg as u32) as isize)
    }

    /// The current mask as a native-endian `u64`, like an `EFD_VPOLL` eventfd
    /// (`EINVAL` for less room, `EFAULT` for memory it cannot write); never
    /// blocks.
    fn read(self: Pin<&Self>, dest: &mut IovIterDest<'_>) -> Result<usize> {
        if dest.len() < RECORD_SIZE {
            return Err(EINVAL);
        }
        let record = u64::from(self.events()).to_ne_bytes();
        if dest.copy_to_iter(&record) != RECORD_SIZE {
            return Err(EFAULT);
        }
        Ok(RECORD_SIZE)
    }

    /// An `EFD_VPOLL` command: the operation in the high 32 bits, the events in
    /// the low ones.
    fn write(self: Pin<&Self>, source: &mut IovIterSource<'_>) -> Result<usize> {
        if source.len() < RECORD_SIZE {
            return Err(EINVAL);
        }
        let mut record = [0u8; RECORD_SIZE];
        if source.copy_from_iter(&mut record) != RECORD_SIZE {
            return Err(EFAULT);
        }
        let command = u64::from_ne_bytes(record);
        let op = Op::from_number(command >> EFD_VPOLL_OP_SHIFT).ok_or(EINVAL)?;
        self.apply(op, command as u32);
        Ok(RECORD_SIZE)
    }

    fn poll(self: Pin<&Self>, file: &File, table: PollTable<'_>) -> u32 {
        table.register_wait(file, &self.queue);
        self.events()
    }

    fn show_fdinfo(self: Pin<&Self>, m: &SeqFile) {
        seq_print!(m, "vpoll-events:\t{:#010x}\n", self.events());
    }
}
