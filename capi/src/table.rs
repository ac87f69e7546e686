// SPDX-License-Identifier: MIT OR Apache-2.0

//! What this library keeps for emulated vpoll fds, by fd number, read without
//! a lock. Device and eventfd fds need nothing kept: the kernel holds their
//! state.
//!
//! A two-level array of `ArcSwapOption` slots, like the kernel's own fd table:
//! a lookup is two atomic loads and no lock; only the first fd in a block of
//! [`BLOCK`] allocates the block. `arc-swap` keeps an entry alive for a
//! `vpoll_ctl` that loaded it while another thread closes the fd.

use arc_swap::ArcSwapOption;
use std::sync::{Arc, OnceLock};
use vpoll::Vpoll;

const BLOCK: usize = 1024;
const BLOCKS: usize = 1024;
/// fds below this are tracked: the kernel's default `fs.nr_open` (1 << 20).
pub(crate) const LIMIT: usize = BLOCK * BLOCKS;

/// An emulated vpoll fd handed to the program.
///
/// The program owns its fd and may close it behind our back (`close(2)`,
/// `dup2` onto it), so the entry owns none of the program's descriptors: its
/// `Vpoll` holds a private duplicate of the same socket and the control end.
/// `id` names that socket, so a lookup can prove that the program's fd
/// still is it (where `F_DUPFD_QUERY` cannot).
#[derive(Debug)]
pub(crate) struct Entry {
    /// The socket pair, through our own descriptors.
    pub(crate) vp: Vpoll,
    /// The socket's `(st_dev, st_ino)`: unique among live files, and ours
    /// stays alive as long as the entry.
    pub(crate) id: (u64, u64),
}

type Block = [ArcSwapOption<Entry>; BLOCK];

static TABLE: [OnceLock<Box<Block>>; BLOCKS] = [const { OnceLock::new() }; BLOCKS];

fn slot(fd: usize) -> Option<&'static ArcSwapOption<Entry>> {
    (fd < LIMIT).then(|| {
        let block = TABLE[fd / BLOCK]
            .get_or_init(|| Box::new(std::array::from_fn(|_| ArcSwapOption::empty())));
        &block[fd % BLOCK]
    })
}

fn existing_slot(fd: usize) -> Option<&'static ArcSwapOption<Entry>> {
    Some(&TABLE.get(fd / BLOCK)?.get()?[fd % BLOCK])
}

/// Records `entry` under `fd`, dropping a stale entry that was there (whose
/// own descriptors it closes); gives `entry` back if `fd` is beyond the table.
pub(crate) fn insert(fd: usize, entry: Entry) -> Result<(), Entry> {
    match slot(fd) {
        Some(slot) => {
            slot.store(Some(Arc::new(entry)));
            Ok(())
        }
        None => Err(entry),
    }
}

/// The entry recorded under `fd`, if any (it may be stale: check it).
pub(crate) fn get(fd: usize) -> Option<Arc<Entry>> {
    existing_slot(fd)?.load_full()
}

/// Takes `entry` out from under `fd`, unless another thread has already
/// replaced it.
pub(crate) fn remove(fd: usize, entry: &Arc<Entry>) {
    if let Some(slot) = existing_slot(fd) {
        slot.compare_and_swap(entry, None::<Arc<Entry>>);
    }
}

/// Takes whatever is recorded under `fd` out (a new kernel-backed fd got the
/// number: any entry there is stale).
pub(crate) fn clear(fd: usize) {
    if let Some(slot) = existing_slot(fd) {
        slot.store(None);
    }
}
