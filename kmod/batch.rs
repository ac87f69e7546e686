// SPDX-License-Identifier: GPL-2.0

//! `VPOLL_IO_BATCH`: many vpoll fds of the calling process changed in one
//! system call, each exactly as its own ioctl would (the same masking, the
//! same wakeups, in the entries' order).
//!
//! The argument points at a `struct vpoll_batch` ([`VpollBatch`]), whose
//! `entries` point at `count` entries `{ __s32 fd; __u32 op; __u32 events;
//! __s32 result; }`. The rules, in the order they are checked:
//!
//! - `flags` other than 0 is `EINVAL`; `count` above [`VPOLL_BATCH_MAX`] is
//!   `E2BIG`; a fault reading the header or any entry is `EFAULT`. In each
//!   case nothing was applied: the whole array is copied in first.
//! - Each entry's `result` becomes the fd's new mask, or a negative errno:
//!   `-EBADF` if no file is open at `fd` in the caller's fd table, `-EINVAL`
//!   if the file there is not a `/dev/vpoll` file (it is not touched) or `op`
//!   is not 1 (add), 2 (delete) or 3 (set). Such an entry changes nothing,
//!   and the others go on.
//! - The results are written back once every entry is applied, each into
//!   its entry's `result` alone (the rest of the entry is not written); a
//!   fault there is `EFAULT`, although every entry took effect (`read(2)` on
//!   each fd tells its mask).
//! - Otherwise the call returns `count`.
//!
//! Only fds the caller could change one by one are reachable: its own fd
//! table, and only files of this device.

use core::mem::MaybeUninit;
use kernel::{
    prelude::*,
    uaccess::{
        UserPtr,
        UserSlice, //
    }, //
};

use crate::{
    abi::*,
    op::Op,
    poll_misc::{
        OwnFiles,
        PollDevice, //
    },
};

/// `VPOLL_IO_BATCH` with the user pointer `arg` (see the module doc), each
/// entry's change made by `apply`, which returns the new mask.
pub(crate) fn batch<T: PollDevice>(
    files: &OwnFiles<T>,
    arg: usize,
    apply: impl Fn(Pin<&T>, Op, u32) -> u32,
) -> Result<isize> {
    let header: VpollBatch = UserSlice::new(UserPtr::from_addr(arg), size_of::<VpollBatch>())
        .reader()
        .read()?;
    if header.flags != 0 {
        return Err(EINVAL);
    }
    if header.count > VPOLL_BATCH_MAX {
        return Err(E2BIG);
    }
    let len = header.count as usize * BATCH_ENTRY_SIZE;
    // A pointer that does not fit this kernel's addresses cannot be the caller's.
    let addr = usize::try_from(header.entries).map_err(|_| EFAULT)?;
    let mut reader = UserSlice::new(UserPtr::from_addr(addr), len).reader();
    // Small batches on the stack, larger ones in a buffer that lives only
    // for this call (so not charged to the caller's memory cgroup).
    let mut stack = [MaybeUninit::<u8>::uninit(); SMALL * BATCH_ENTRY_SIZE];
    let mut heap = KVec::new();
    let entries: &mut [u8] = if len <= stack.len() {
        let raw = &mut stack[..len];
        reader.read_raw(raw)?;
        // SAFETY: `read_raw` succeeded, so it initialised every byte of `raw`.
        unsafe { &mut *(core::ptr::from_mut(raw) as *mut [u8]) }
    } else {
        reader.read_all(&mut heap, GFP_KERNEL)?;
        &mut heap
    };
    for entry in entries.chunks_exact_mut(BATCH_ENTRY_SIZE) {
        let word =
            |i: usize| u32::from_ne_bytes([entry[i], entry[i + 1], entry[i + 2], entry[i + 3]]);
        let result = entry_result(files, &apply, word(0) as i32, word(4), word(8));
        entry[RESULT..].copy_from_slice(&result.to_ne_bytes());
    }
    // Only each entry's `result` is the kernel's to write: the caller's
    // `fd`, `op` and `events` stay as they are (another thread may be
    // filling in the next batch there, or the page may be read-only).
    for (i, entry) in entries.chunks_exact(BATCH_ENTRY_SIZE).enumerate() {
        let at = addr + i * BATCH_ENTRY_SIZE + RESULT;
        UserSlice::new(UserPtr::from_addr(at), size_of::<i32>())
            .writer()
            .write_slice(&entry[RESULT..])?;
    }
    Ok(header.count as isize)
}

/// Where `result` is in an entry: after `fd`, `op` and `events`.
const RESULT: usize = 12;

/// Batches of up to this many entries are copied to the stack (512 bytes).
const SMALL: usize = 32;

/// One entry: the fd's new mask, or a negative errno.
fn entry_result<T: PollDevice>(
    files: &OwnFiles<T>,
    apply: &impl Fn(Pin<&T>, Op, u32) -> u32,
    fd: i32,
    op: u32,
    events: u32,
) -> i32 {
    let Some(op) = Op::from_number(op.into()) else {
        return EINVAL.to_errno();
    };
    let Ok(fd) = u32::try_from(fd) else {
        return EBADF.to_errno();
    };
    match files.get(fd) {
        // A mask is within EPOLLALLMASK, so it is a non-negative i32.
        Ok(file) => apply(file.device(), op, events) as i32,
        Err(e) => e.to_errno(),
    }
}
